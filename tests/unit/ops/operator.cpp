// crowdline::operator_: several task runs over one architect and one store, each packet to the run it
// names, runs of different types side by side, one run stopped while the others serve.

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <crowdline/blueprint/live.hpp>
#include <crowdline/ops/operator.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/failing_store.hpp"
#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_operator {

namespace operator_test {

using namespace crowdline;
using json = nlohmann::json;

/// A page of one run: every packet names the run.
struct run_page {
    architects::in_process& arch;
    std::string run;
    std::string name;
    std::optional<agent_id> agent{};
    std::string token{};

    packet register_() {
        auto reply = arch.channel().request({"register", std::nullopt, {{"worker_name", name}, {"run", run}}});
        if (reply.type == "agent_details") {
            agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
            token = reply.data["token"].get<std::string>();
        }
        return reply;
    }
    packet submit(json submission, std::optional<std::string> to_run = std::nullopt) {
        return arch.channel().request(
            {"submit", agent, {{"token", token}, {"submission", std::move(submission)}, {"run", to_run.value_or(run)}}});
    }
};

auto live_blueprint() {
    std::vector<json> topics{{{"topic", "rain"}}, {{"topic", "sun"}}};
    return blueprints::live{std::move(topics), blueprints::live_args{.title = "Chat", .max_turns = 3, .min_turns = 0},
                            blueprints::handler{"echo", [](blueprints::live_call const& c) { return c.args; }}};
}

TEST_CASE("operator_: two runs of different types share one architect and one store", "[operator]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    pipeline labels{blueprints::mock{3}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("labels")};
    pipeline chats{live_blueprint(), arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("chats")};
    auto op = make_operator<decltype(labels), decltype(chats)>(arch, db);
    // The architect holds the operator (and a lone pipeline) as a handler of known type, groups included.
    STATIC_REQUIRE(group_packet_handler<decltype(op)>);
    STATIC_REQUIRE(group_packet_handler<decltype(labels)>);

    auto const a = op.launch(labels);
    auto const b = op.launch(chats);
    REQUIRE(a != b);
    auto const runs = op.runs();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].name == "labels");
    CHECK(runs[1].name == "chats");
    CHECK(runs[0].active);
    CHECK(db.find_units({.task_run = a}).size() == 3);
    CHECK(db.find_units({.task_run = b}).size() == 2);

    run_page ana{arch, "labels", "ana"};
    auto got = ana.register_();
    REQUIRE(got.type == "agent_details");
    CHECK(db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).task_run == a);

    run_page bo{arch, "chats", "bo"};
    got = bo.register_();
    REQUIRE(got.type == "agent_details");
    CHECK(db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).task_run == b);

    SECTION("a packet names its run by task name or task run id") {
        auto reply = arch.channel().request({"submit", ana.agent, {{"token", ana.token}, {"submission", {{"x", 1}}},
                                                                   {"run", a.value()}}});
        CHECK(reply.type == "submitted");
    }
    SECTION("a worker of one run cannot submit, release or touch a unit of another") {
        auto const statuses = [&] {
            std::vector<unit_status> out;
            for (auto const& u : db.find_units({.task_run = b})) out.push_back(u.status);
            return out;
        };
        auto const before = statuses();
        auto reply = ana.submit({{"x", 1}}, "chats");  // ana's agent and token, sent to the other run
        REQUIRE(reply.is_error());
        CHECK(reply.data["reason"] == "unknown_agent");
        // bo's own agent id with ana's token: refused too
        reply = arch.channel().request({"release", bo.agent, {{"token", ana.token}, {"run", "chats"}}});
        REQUIRE(reply.is_error());
        CHECK(reply.data["reason"] == "not_your_unit");
        CHECK(statuses() == before);
        CHECK(ana.submit({{"x", 1}}).type == "submitted");  // in its own run it works
    }
    SECTION("a packet that names no run, an unknown run or a bad one is refused") {
        auto reply = arch.channel().request({"register", std::nullopt, {{"worker_name", "cy"}}});
        CHECK(reply.data["reason"] == "bad_request");
        reply = arch.channel().request({"register", std::nullopt, {{"worker_name", "cy"}, {"run", "nope"}}});
        CHECK(reply.data["reason"] == "not_found");
        reply = arch.channel().request({"register", std::nullopt, {{"worker_name", "cy"}, {"run", json::array()}}});
        CHECK(reply.data["reason"] == "bad_request");
        CHECK(db.find_workers({.name = "cy"}).empty());
    }
    SECTION("stopping one run leaves the other serving") {
        op.shutdown(a);
        CHECK_FALSE(labels.is_active());
        CHECK(chats.is_active());
        CHECK(arch.channel().is_alive());
        run_page cy{arch, "labels", "cy"};
        auto reply = cy.register_();
        CHECK(reply.type == "no_work");
        CHECK(reply.data["reason"] == "run_not_active");
        run_page di{arch, "chats", "di"};
        CHECK(di.register_().type == "agent_details");
        CHECK_THROWS_AS(op.shutdown(task_run_id{999}), entry_does_not_exist);
        op.shutdown();
        CHECK_FALSE(arch.channel().is_alive());
    }
}

TEST_CASE("operator_: a second run of the same task name is refused before anything is written", "[operator]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    pipeline one{blueprints::mock{2}, arch, crowd, test::make_test_dispatcher(), db, test::run_args("same")};
    pipeline two{blueprints::mock{2}, arch, crowd, test::make_test_dispatcher(), db, test::run_args("same")};
    auto op = make_operator<decltype(one)>(arch, db);
    op.launch(one);
    auto const units = db.find_units({}).size();
    CHECK_THROWS_AS(op.launch(two), config_error);
    CHECK(db.find_units({}).size() == units);
    CHECK(op.runs().size() == 1);
    CHECK_FALSE(two.is_active());
}

TEST_CASE("operator_: a run keeping its data in another store is refused", "[operator]") {
    stores::memory db, other;
    architects::in_process arch;
    providers::mock crowd;
    pipeline run{blueprints::mock{2}, arch, crowd, test::make_test_dispatcher(), other, test::run_args("elsewhere")};
    auto op = make_operator<decltype(run)>(arch, db);
    CHECK_THROWS_AS(op.launch(run), config_error);
    CHECK(other.find_units({}).empty());
}

TEST_CASE("operator_: several runs of one type, ticked at one time; with one run a packet need not name it",
          "[operator]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    auto args_a = test::run_args("first");
    args_a.assignment_duration_in_seconds = 60;
    auto args_b = test::run_args("second");
    args_b.assignment_duration_in_seconds = 60;
    pipeline first{blueprints::mock{1}, arch, crowd_a, test::make_test_dispatcher(1, std::chrono::seconds(60)), db, args_a};
    pipeline second{blueprints::mock{1}, arch, crowd_b, test::make_test_dispatcher(1, std::chrono::seconds(60)), db, args_b};
    test::manual_clock clock;
    first.set_clock(clock);
    second.set_clock(clock);
    auto op = make_operator<decltype(first)>(arch, db);
    op.launch(first);

    // One run: the page of a single-run server names none.
    test::page solo{arch, "ana"};
    REQUIRE(solo.register_().type == "agent_details");

    op.launch(second);
    run_page bo{arch, "second", "bo"};
    REQUIRE(bo.register_().type == "agent_details");
    clock.now += std::chrono::seconds(61);
    op.tick(clock.now);  // both leases lapse at one time
    auto const timed_out = [&](task_run_id r) {
        for (auto const& ag : db.find_agents({.task_run = r}))
            if (ag.status != agent_status::timeout) return false;
        return !db.find_agents({.task_run = r}).empty();
    };
    CHECK(timed_out(*first.run()));
    CHECK(timed_out(*second.run()));
}

TEST_CASE("operator_: make_operator(architect, store, runs...) deduces the run types, each once, and launches the runs",
          "[operator]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b, crowd_c;
    pipeline labels{blueprints::mock{2}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("labels")};
    pipeline chats{live_blueprint(), arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("chats")};
    pipeline more{blueprints::mock{1}, arch, crowd_c, test::make_test_dispatcher(), db, test::run_args("more")};
    auto op = make_operator(arch, db, labels, chats, more);
    STATIC_REQUIRE(std::is_same_v<decltype(op), operator_<architects::in_process, stores::memory, decltype(labels),
                                                           decltype(chats)>>);  // labels and more: one type
    auto const runs = op.runs();
    REQUIRE(runs.size() == 3);
    CHECK(runs[0].name == "labels");
    CHECK(runs[1].name == "chats");
    CHECK(runs[2].name == "more");
    for (auto const& r : runs) CHECK(r.active);
    run_page cy{arch, "more", "cy"};
    auto const got = cy.register_();
    REQUIRE(got.type == "agent_details");
    CHECK(db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).task_run == *more.run());

    SECTION("a run refused while the operator is made: the error comes out, and the architect keeps no handler") {
        stores::memory db2;
        architects::in_process arch2;
        providers::mock crowd_d, crowd_e;
        pipeline one{blueprints::mock{1}, arch2, crowd_d, test::make_test_dispatcher(), db2, test::run_args("dup")};
        pipeline two{blueprints::mock{1}, arch2, crowd_e, test::make_test_dispatcher(), db2, test::run_args("dup")};
        CHECK_THROWS_AS(make_operator(arch2, db2, one, two), config_error);  // two runs of task "dup"
        auto const reply = arch2.channel().request({"register", std::nullopt, {{"worker_name", "dee"}}});
        CHECK(reply.data["reason"] == std::string(packet_errors::no_handler));
    }
}

}  // namespace operator_test

namespace operator_test {

TEST_CASE("operator_: a group naming several runs is one transaction, replies in order", "[operator]") {
    test::failing_store db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    pipeline labels{blueprints::mock{4}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("labels")};
    pipeline other{blueprints::mock{4}, arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("other")};
    auto op = make_operator<decltype(labels)>(arch, db);
    op.launch(labels);
    op.launch(other);

    // Interleaved: labels, other, a packet naming no run, labels, an unknown run, other.
    std::vector<packet> const group{
        {"register", std::nullopt, {{"worker_name", "ana"}, {"run", "labels"}}},
        {"register", std::nullopt, {{"worker_name", "ben"}, {"run", "other"}}},
        {"register", std::nullopt, {{"worker_name", "cy"}}},
        {"register", std::nullopt, {{"worker_name", "dee"}, {"run", "labels"}}},
        {"register", std::nullopt, {{"worker_name", "eve"}, {"run", "nowhere"}}},
        {"register", std::nullopt, {{"worker_name", "fay"}, {"run", "other"}}},
    };
    std::vector<packet> replies(group.size());
    auto const commits_before = db.commits;
    op.handle_group(group, replies);
    CHECK(db.commits == commits_before + 1);  // one commit for both runs' packets

    CHECK(replies[2].data["reason"] == "bad_request");
    CHECK(replies[4].data["reason"] == "not_found");
    // Each accepted registration got a unit of the run it named, in the order sent.
    std::map<std::size_t, std::string> run_of{{0, "labels"}, {1, "other"}, {3, "labels"}, {5, "other"}};
    std::set<std::int64_t> units;
    for (auto const& [i, run] : run_of) {
        REQUIRE(replies[i].type == "agent_details");
        auto const agent = db.get_agent(agent_id{replies[i].data["agent_id"].get<std::int64_t>()});
        CHECK(agent.task_run == *(run == "labels" ? labels.run() : other.run()));
        CHECK(units.insert(agent.unit.value()).second);
        CHECK(db.get_worker(agent.worker).name.starts_with(group[i].data["worker_name"].get<std::string>()));
    }

    SECTION("fewer replies than requests is refused before anything is handled") {
        std::vector<packet> short_replies(1);
        auto const agents_before = db.find_agents({}).size();
        CHECK_THROWS_AS(op.handle_group(group, short_replies), invalid_argument);
        CHECK(db.find_agents({}).size() == agents_before);
    }
}

TEST_CASE("operator_: a group over two runs whose commit fails keeps nothing of either and stops both",
          "[operator][errors]") {
    test::failing_store db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    pipeline labels{blueprints::mock{2}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("labels")};
    pipeline other{blueprints::mock{2}, arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("other")};
    auto op = make_operator<decltype(labels)>(arch, db);
    op.launch(labels);
    op.launch(other);
    run_page ana{arch, "labels", "ana"}, ben{arch, "other", "ben"};
    REQUIRE(ana.register_().type == "agent_details");
    REQUIRE(ben.register_().type == "agent_details");

    std::vector<packet> const group{
        {"submit", ana.agent, {{"token", ana.token}, {"submission", {{"x", 1}}}, {"run", "labels"}}},
        {"submit", ben.agent, {{"token", ben.token}, {"submission", {{"x", 2}}}, {"run", "other"}}},
        {"register", std::nullopt, {{"worker_name", "cy"}}},  // names no run: refused before the transaction
    };
    std::vector<packet> replies(group.size());
    db.fail_commit = true;
    op.handle_group(group, replies);
    db.fail_commit = false;

    for (std::size_t i : {0u, 1u}) {
        CHECK(replies[i].data["reason"] == "unavailable");
        CHECK_THAT(replies[i].data["message"].get<std::string>(), Catch::Matchers::Contains("nothing of it was kept"));
    }
    CHECK(replies[2].data["reason"] == "bad_request");
    for (auto const& a : db.find_agents({})) CHECK(a.status != agent_status::completed);
    REQUIRE(labels.failure().has_value());
    REQUIRE(other.failure().has_value());
    CHECK_THAT(*labels.failure(), Catch::Matchers::Contains("disk I/O error"));
    CHECK_FALSE(labels.is_active());
    CHECK_FALSE(other.is_active());
}

TEST_CASE("pipeline: the group calls refuse a lock that is not the run's", "[operator][errors]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    pipeline a{blueprints::mock{1}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("a")};
    pipeline b{blueprints::mock{1}, arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("b")};
    auto const held_b = b.lock_for_group();
    packet const p{"register", std::nullopt, {{"worker_name", "ana"}}};
    CHECK_THROWS_AS(a.handle_in_group(held_b, p), invalid_argument);
    CHECK_THROWS_AS(a.group_not_saved(run_lock{}, "why"), invalid_argument);
    CHECK_FALSE(a.failure().has_value());
}

}  // namespace operator_test

}  // namespace tu_operator
