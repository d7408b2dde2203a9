// worker_pool alone: wired by hand to a task_launcher, the mock provider, a memory store and a dispatcher
// (no pipeline, no architect, no protocol table): each request type, each gate, the ways a unit goes back.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/protocol.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/ops/worker_pool.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/fixtures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_worker_pool {

using namespace crowdline;
using namespace std::chrono_literals;

namespace worker_pool_test {

inline auto make_disp() {
    return routing::make_dispatcher<initialization_data, nlohmann::json>(routing::no_overlap,
                                                                         routing::options{.lease = 600s});
}
using dispatcher_t = decltype(make_disp());
using launcher_t = task_launcher<blueprints::mock, dispatcher_t, stores::memory>;
using pool_t = worker_pool<blueprints::mock, providers::mock, dispatcher_t, stores::memory, launcher_t>;

task_run_args pool_args() {
    task_run_args a;
    a.task_name = "pool";
    a.task_title = "Label it";
    a.task_description = "Say what it is";
    a.task_reward = 0.5;
    a.assignment_duration_in_seconds = 600;
    return a;
}

constexpr auto key_a = "pool-key-0123456789-A";

/// What a page knows after register: its agent and token.
struct held {
    std::optional<agent_id> agent;
    std::string token;
};

/// The pool and everything it is wired to, a run launched and the pool opened on it.
struct rig {
    blueprints::mock bp;
    providers::mock prov;
    dispatcher_t disp = make_disp();
    stores::memory db;
    detail::run_counts counts;
    task_run_args args;
    std::vector<qualification_requirement> requirements;
    launcher_t launcher;
    pool_t pool;
    task_id task;
    task_run_id run;
    time_point now = time_point{} + 1000h;

    explicit rig(std::size_t items, task_run_args a = pool_args())
        : bp{items},
          args(std::move(a)),
          launcher{bp, disp, db, counts},
          pool{bp, prov, disp, db, launcher, counts, args, requirements} {
        task = db.new_task(args.task_name, "mock");
        auto const requester = db.new_requester("mock-requester", "mock");
        run = db.new_task_run(task, requester, nlohmann::json::object(), "mock", "mock", true);
        launcher.start(run, args);
        for (auto u : launcher.launch_more(now)) prov.launch(u, "http://pool.test");
        pool.open(task, run, now);
    }

    packet register_(std::string const& name, held* out = nullptr) {
        packet const p{"register", std::nullopt, {{"worker_name", name}}};
        auto reply = pool.handle(protocol::register_request::decode(p), now);
        if (out && reply.type == "agent_details") {
            out->agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
            out->token = reply.data["token"].get<std::string>();
        }
        return reply;
    }
    packet submit(held const& h, nlohmann::json submission, std::string const& key = "", std::string const* token = nullptr) {
        nlohmann::json data{{"token", token ? *token : h.token}, {"submission", std::move(submission)}};
        if (!key.empty()) data["key"] = key;
        packet const p{"submit", h.agent, std::move(data)};
        return pool.handle(protocol::submit_request::decode(p), now);
    }
    template <class Request>
    packet send(std::string type, held const& h, nlohmann::json data = nlohmann::json::object()) {
        data["token"] = h.token;
        packet const p{std::move(type), h.agent, std::move(data)};
        return pool.handle(Request::decode(p), now);
    }
    worker_id worker(std::string const& name) { return db.find_workers({.name = name + "_sandbox"}).at(0).id; }
    unit_id unit_of(held const& h) { return db.get_agent(*h.agent).unit; }
    std::size_t units(unit_status s) { return db.find_units({.task_run = run, .status = s}).size(); }
};

std::string reason(packet const& p) { return p.data.value("reason", std::string{}); }

}  // namespace worker_pool_test

using namespace worker_pool_test;

TEST_CASE("worker_pool handles every request of the protocol table", "[worker_pool]") {
    STATIC_REQUIRE(protocol::worker_request_handler<pool_t>);
}

TEST_CASE("worker_pool: register hands out a launched unit with a token", "[worker_pool]") {
    rig r{2};
    held alice;
    auto const reply = r.register_("alice", &alice);
    REQUIRE(reply.type == "agent_details");
    REQUIRE(alice.agent);
    CHECK(reply.agent == alice.agent);
    CHECK(alice.token.size() >= 16);
    CHECK(reply.data["worker_name"] == "alice_sandbox");
    CHECK(reply.data["kind"] == "work");
    CHECK(reply.data["done"] == 0);
    CHECK(reply.data["init_data"]["unit_data"]["text"].get<std::string>().rfind("mock item", 0) == 0);
    CHECK(reply.data["page"].get<std::string>().find("mock item") != std::string::npos);
    auto const ag = r.db.get_agent(*alice.agent);
    CHECK(ag.status == agent_status::in_task);
    CHECK(ag.worker == r.worker("alice"));
    auto const u = r.db.get_unit(ag.unit);
    CHECK(reply.data["unit_id"] == u.id.value());
    CHECK(u.status == unit_status::assigned);
    CHECK(u.agent == alice.agent);
    CHECK(r.units(unit_status::launched) == 1);
    CHECK(r.counts.of(r.worker("alice")).held == 1);
    CHECK(r.counts.summary().units(unit_status::assigned) == 1);
    CHECK_FALSE(r.pool.idle());
    auto const rows = r.pool.workers();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].name == "alice_sandbox");
    CHECK(rows[0].held == 1);
    CHECK(rows[0].joined);

    // init: the same unit and token again, nothing new claimed; heartbeat: ok.
    auto const before = test::snapshot(r.db);
    auto const again = r.send<protocol::init_request>("init", alice);
    CHECK(again.type == "agent_details");
    CHECK(again.data["token"] == alice.token);
    CHECK(again.data["unit_id"] == u.id.value());
    CHECK(r.send<protocol::heartbeat_request>("heartbeat", alice).type == "ok");
    CHECK(test::snapshot(r.db) == before);
    // The mock blueprint takes no live updates.
    CHECK(reason(r.send<protocol::live_update_request>("live_update", alice, {{"update", 1}})) == "unsupported");
}

TEST_CASE("worker_pool gates a registration", "[worker_pool]") {
    SECTION("allowed_concurrent = 1: a second register while holding one is too_many_concurrent") {
        auto a = pool_args();
        a.allowed_concurrent = 1;
        rig r{3, a};
        held alice;
        REQUIRE(r.register_("alice", &alice).type == "agent_details");
        auto const before = test::snapshot(r.db);
        auto const second = r.register_("alice");
        CHECK(second.type == "no_work");
        CHECK(reason(second) == "too_many_concurrent");
        CHECK(test::snapshot(r.db) == before);
        CHECK(r.counts.of(r.worker("alice")).held == 1);
        // Once it is submitted, she may take another.
        REQUIRE(r.submit(alice, {{"x", 1}}).type == "submitted");
        CHECK(r.register_("alice").type == "agent_details");
    }
    SECTION("a blocked worker gets no work, and nothing is claimed") {
        rig r{2};
        auto const w = r.db.new_worker("mallory_sandbox", "mock");
        r.prov.block(w, "spam");
        auto const reply = r.register_("mallory");
        CHECK(reply.type == "no_work");
        CHECK(reason(reply) == "blocked");
        CHECK(r.db.find_agents({}).empty());
        CHECK(r.units(unit_status::launched) == 2);
        CHECK(r.register_("bob").type == "agent_details");  // others still do
    }
    SECTION("a qualification requirement not met: not_qualified") {
        rig r{2};
        auto const q = r.db.make_qualification("skill");
        r.requirements.push_back({"skill", comparator::greater_than_or_equal, 5});
        auto const bob = r.db.new_worker("bob_sandbox", "mock");
        r.db.grant_qualification(q, bob, 7);
        auto const reply = r.register_("alice");
        CHECK(reply.type == "no_work");
        CHECK(reason(reply) == "not_qualified");
        CHECK(r.register_("bob").type == "agent_details");
    }
    SECTION("maximum_units_per_worker: max_for_task once reached") {
        auto a = pool_args();
        a.maximum_units_per_worker = 1;
        rig r{3, a};
        held alice;
        REQUIRE(r.register_("alice", &alice).type == "agent_details");
        REQUIRE(r.submit(alice, {{"x", 1}}).type == "submitted");
        auto const reply = r.register_("alice");
        CHECK(reason(reply) == "max_for_task");
    }
    SECTION("a closed pool: run_not_active") {
        rig r{2};
        r.pool.close();
        auto const reply = r.register_("alice");
        CHECK(reason(reply) == "run_not_active");
        CHECK(r.db.find_workers({}).empty());
    }
    SECTION("no unit left: no_available_units") {
        rig r{1};
        REQUIRE(r.register_("alice").type == "agent_details");
        CHECK(reason(r.register_("bob")) == "no_available_units");
    }
}

TEST_CASE("worker_pool: a submit with the wrong token is not_your_unit and writes nothing", "[worker_pool]") {
    rig r{2};
    held alice, bob;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    REQUIRE(r.register_("bob", &bob).type == "agent_details");
    auto const before = test::snapshot(r.db);

    std::string const wrong = "not-the-token";
    auto reply = r.submit(alice, {{"x", 1}}, "", &wrong);
    CHECK(reply.is_error());
    CHECK(reason(reply) == "not_your_unit");
    reply = r.submit(alice, {{"x", 1}}, "", &bob.token);  // another worker's token
    CHECK(reason(reply) == "not_your_unit");
    reply = r.submit(held{agent_id{9999}, alice.token}, {{"x", 1}});
    CHECK(reason(reply) == "unknown_agent");
    reply = r.submit(held{std::nullopt, alice.token}, {{"x", 1}});
    CHECK(reason(reply) == "bad_request");
    reply = r.send<protocol::submit_request>("submit", alice);  // no submission
    CHECK(reason(reply) == "bad_request");
    CHECK(r.submit(alice, {{"fail", true}}).type == "submit_refused");  // the blueprint says no

    CHECK(test::snapshot(r.db) == before);
    CHECK(r.pool.take_finished() == 0);
    CHECK(r.prov.done().empty());
}

TEST_CASE("worker_pool: submit completes the unit, counts it once, and a resend writes nothing", "[worker_pool]") {
    rig r{1};
    held alice;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    auto const unit = r.unit_of(alice);
    auto const assignment = r.db.get_unit(unit).assignment;

    auto const first = r.submit(alice, {{"label", "cat"}}, key_a);
    REQUIRE(first.type == "submitted");
    CHECK(first.agent == alice.agent);
    CHECK(first.data["unit_id"] == unit.value());
    CHECK(first.data["done"] == 1);
    CHECK(r.db.get_unit(unit).status == unit_status::completed);
    auto const ag = r.db.get_agent(*alice.agent);
    CHECK(ag.status == agent_status::completed);
    CHECK(ag.state["outputs"] == nlohmann::json{{"label", "cat"}});
    CHECK(ag.state["receipt"]["key"] == key_a);
    CHECK(r.pool.take_finished() == 1);
    CHECK(r.pool.take_finished() == 0);
    CHECK(r.prov.done().count(*alice.agent) == 1);
    CHECK(r.launcher.assignment(assignment).completed == 1);
    CHECK(r.launcher.all_done());
    CHECK(r.pool.idle());
    CHECK(r.counts.of(r.worker("alice")).done == 1);
    CHECK(r.counts.of(r.worker("alice")).held == 0);
    CHECK(r.counts.summary().units(unit_status::completed) == 1);
    CHECK(r.disp.counts().completed == 1);

    auto const before = test::snapshot(r.db);
    SECTION("the same key again: the first reply, nothing written, nothing counted") {
        auto const again = r.submit(alice, {{"label", "cat"}}, key_a);
        CHECK(again == first);
        CHECK(test::snapshot(r.db) == before);
        CHECK(r.pool.take_finished() == 0);
        CHECK(r.counts.of(r.worker("alice")).done == 1);
        CHECK(r.db.find_agents({.unit = unit, .status = agent_status::completed}).size() == 1);
    }
    SECTION("another key: conflict; another token: not_your_unit; no key: unknown_agent") {
        CHECK(reason(r.submit(alice, {{"label", "dog"}}, "pool-key-0123456789-B")) == "conflict");
        std::string const wrong = "nope";
        CHECK(reason(r.submit(alice, {{"label", "cat"}}, key_a, &wrong)) == "not_your_unit");
        CHECK(reason(r.submit(alice, {{"label", "cat"}})) == "unknown_agent");
        CHECK(test::snapshot(r.db) == before);
        CHECK(r.pool.take_finished() == 0);
    }
}

TEST_CASE("worker_pool: release gives the unit back and the next register gets it", "[worker_pool]") {
    rig r{1};
    held alice, bob;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    auto const unit = r.unit_of(alice);
    auto const reply = r.send<protocol::release_request>("release", alice);
    CHECK(reply.type == "released");
    CHECK(r.db.get_agent(*alice.agent).status == agent_status::returned);
    CHECK(r.db.get_unit(unit).status == unit_status::launched);
    CHECK_FALSE(r.db.get_unit(unit).agent);
    CHECK(r.counts.of(r.worker("alice")).held == 0);
    CHECK(r.disp.counts().leased == 0);
    CHECK(r.pool.idle());
    CHECK(reason(r.send<protocol::heartbeat_request>("heartbeat", alice)) == "unknown_agent");  // her agent is over

    CHECK(reason(r.register_("alice")) == "no_available_units");  // she gave it back: not hers again
    REQUIRE(r.register_("bob", &bob).type == "agent_details");
    CHECK(r.unit_of(bob) == unit);
    REQUIRE(r.submit(bob, {{"x", 1}}).type == "submitted");
    CHECK(r.db.get_unit(unit).worker == r.worker("bob"));
}

TEST_CASE("worker_pool: expire_leases times out a lease past its end", "[worker_pool]") {
    rig r{1};
    held slow;
    REQUIRE(r.register_("slow", &slow).type == "agent_details");
    auto const unit = r.unit_of(slow);
    r.pool.expire_leases(r.now + 599s);
    CHECK(r.db.get_agent(*slow.agent).status == agent_status::in_task);
    CHECK(r.db.get_unit(unit).status == unit_status::assigned);
    r.now += 601s;
    r.pool.expire_leases(r.now);
    CHECK(r.db.get_agent(*slow.agent).status == agent_status::timeout);
    CHECK(r.db.get_unit(unit).status == unit_status::launched);
    CHECK(r.disp.counts().leased == 0);
    CHECK(r.pool.idle());
    CHECK(r.counts.summary().units(unit_status::launched) == 1);
    CHECK(reason(r.submit(slow, {{"x", 1}})) == "unknown_agent");
    held quick;
    REQUIRE(r.register_("quick", &quick).type == "agent_details");
    CHECK(r.unit_of(quick) == unit);
}

TEST_CASE("worker_pool: disconnect returns the unit and the worker leaves the dispatcher", "[worker_pool]") {
    rig r{2};
    held alice;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    auto const unit = r.unit_of(alice);
    auto const w = r.worker("alice");
    CHECK(r.disp.is_joined(w));
    r.pool.disconnect(*alice.agent, r.now);
    CHECK(r.db.get_agent(*alice.agent).status == agent_status::disconnect);
    CHECK(r.db.get_unit(unit).status == unit_status::launched);
    CHECK_FALSE(r.disp.is_joined(w));
    CHECK(r.counts.of(w).held == 0);
    CHECK(r.pool.idle());
    auto const before = test::snapshot(r.db);
    r.pool.disconnect(*alice.agent, r.now);  // twice: nothing more
    r.pool.disconnect(agent_id{4242}, r.now);
    CHECK(test::snapshot(r.db) == before);
}

TEST_CASE("worker_pool: end_all ends every agent in hand", "[worker_pool]") {
    rig r{3};
    held alice, bob;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    REQUIRE(r.register_("bob", &bob).type == "agent_details");
    auto const ua = r.unit_of(alice), ub = r.unit_of(bob);

    SECTION("a dead run: the held units expire, the others stay launched") {
        r.pool.end_all(r.now, true);
        CHECK(r.db.get_unit(ua).status == unit_status::expired);
        CHECK(r.db.get_unit(ub).status == unit_status::expired);
        CHECK(r.units(unit_status::launched) == 1);
        CHECK(r.counts.summary().units(unit_status::expired) == 2);
    }
    SECTION("a shutdown: the held units are launched again for a later process") {
        r.pool.end_all(r.now, false);
        CHECK(r.db.get_unit(ua).status == unit_status::launched);
        CHECK(r.db.get_unit(ub).status == unit_status::launched);
        CHECK(r.units(unit_status::launched) == 3);
    }
    CHECK(r.db.get_agent(*alice.agent).status == agent_status::expired);
    CHECK(r.db.get_agent(*bob.agent).status == agent_status::expired);
    CHECK(r.pool.idle());
    CHECK(r.counts.of(r.worker("alice")).held == 0);
    CHECK(r.disp.counts().leased == 0);
    CHECK(reason(r.submit(alice, {{"x", 1}})) == "unknown_agent");
}

TEST_CASE("worker_pool limits: an oversized submission is too_large and writes nothing", "[worker_pool]") {
    rig r{1};
    r.pool.limits.max_submission_bytes = 64;
    held alice;
    REQUIRE(r.register_("alice", &alice).type == "agent_details");
    auto const before = test::snapshot(r.db);
    CHECK(reason(r.submit(alice, {{"blob", std::string(100, 'x')}})) == "too_large");
    CHECK(test::snapshot(r.db) == before);
    CHECK(r.submit(alice, {{"x", 1}}).type == "submitted");
}

}  // namespace tu_worker_pool
