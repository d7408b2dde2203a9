// The pipeline end to end: in-process architect, mock provider, both stores.
#include <catch2/catch.hpp>

#include <ranges>
#include <set>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_basic {

using namespace crowdline;
using namespace std::chrono_literals;

TEMPLATE_TEST_CASE("a one-worker task runs to completion", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{3}, arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    auto run = p.launch();
    CHECK(db->find_units({.task_run = run, .status = unit_status::launched}).size() == 3);
    CHECK(prov.launched().size() == 3);

    test::page alice{arch, "alice"};
    for (int i = 0; i < 3; ++i) {
        auto reply = alice.register_();
        REQUIRE(reply.type == "agent_details");
        CHECK(reply.data["page"].get<std::string>().find("mock item") != std::string::npos);
        auto ack = alice.submit({{"label", "ok"}});
        REQUIRE(ack.type == "submitted");
    }
    CHECK(p.is_complete());
    CHECK(alice.register_().is_error());  // a finished run shuts its server down
    CHECK(db->get_task_run(run).is_completed);
    auto s = summarize_run(*db, run);
    CHECK(s.units(unit_status::completed) == 3);
    for (auto const& a : db->find_agents({.task_run = run})) {
        CHECK(a.status == agent_status::completed);
        CHECK(a.state["outputs"] == nlohmann::json{{"label", "ok"}});
        CHECK(a.state["inputs"]["text"].template get<std::string>().rfind("mock item", 0) == 0);
    }
    CHECK(prov.done().size() == 3);
    CHECK(prov.cleaned().count(run) == 1);
    CHECK_FALSE(arch.channel().is_alive());
}

TEMPLATE_TEST_CASE("a two-unit assignment goes to two different workers", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(2), *db, test::run_args()};
    p.set_clock(clock);
    auto run = launch(p);  // the free form of ARCHITECTURE §7
    test::page alice{arch, "alice"}, bob{arch, "bob"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(alice.submit({{"x", 1}}).type == "submitted");
    CHECK(alice.register_().type == "no_work");  // never the second unit of the same assignment
    REQUIRE(bob.register_().type == "agent_details");
    REQUIRE(bob.submit({{"x", 2}}).type == "submitted");
    std::set<std::int64_t> workers;
    for (auto const& u : db->find_units({.task_run = run})) workers.insert(u.worker->value());
    CHECK(workers.size() == 2);
    CHECK(p.is_complete());
}

TEMPLATE_TEST_CASE("a disconnected worker's unit is relaunched and done by another", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    auto run = p.launch();
    test::page alice{arch, "alice"}, bob{arch, "bob"};
    REQUIRE(alice.register_().type == "agent_details");
    CHECK(bob.register_().type == "no_work");
    auto const alice_agent = *alice.agent;
    auto const alice_id = db->get_agent(alice_agent).worker;
    CHECK(p.dispatcher_ref().is_joined(alice_id));
    arch.channel().disconnect(alice_agent);
    CHECK(db->get_agent(alice_agent).status == agent_status::disconnect);
    CHECK_FALSE(p.dispatcher_ref().is_joined(alice_id));  // she holds nothing else: her reservations are up for takeover
    CHECK(db->find_units({.task_run = run, .status = unit_status::launched}).size() == 1);
    // Alice's token is dead: her late submission is refused and changes nothing.
    auto before = test::snapshot(*db);
    CHECK(alice.submit({{"late", true}}).data["reason"] == "unknown_agent");
    CHECK(test::snapshot(*db) == before);
    REQUIRE(bob.register_().type == "agent_details");
    CHECK(alice.register_().type == "no_work");  // she may come back (she never gets the unit she dropped)
    CHECK(p.dispatcher_ref().is_joined(alice_id));
    REQUIRE(bob.submit({{"x", 1}}).type == "submitted");
    CHECK(p.is_complete());
    CHECK(db->get_unit(db->find_units({.task_run = run})[0].id).worker == db->find_workers({.name = "bob_sandbox"})[0].id);
}

TEMPLATE_TEST_CASE("a lease past assignment_duration returns the unit to the pool", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(1, 600s), *db, test::run_args()};
    p.set_clock(clock);
    auto run = p.launch();
    test::page slow{arch, "slow"}, quick{arch, "quick"};
    REQUIRE(slow.register_().type == "agent_details");
    clock.now += 599s;
    p.tick();
    CHECK(db->find_units({.task_run = run, .status = unit_status::assigned}).size() == 1);
    clock.now += 2s;
    p.tick();
    CHECK(db->get_agent(*slow.agent).status == agent_status::timeout);
    CHECK(db->find_units({.task_run = run, .status = unit_status::launched}).size() == 1);
    CHECK(p.dispatcher_ref().counts().leased == 0);
    REQUIRE(quick.register_().type == "agent_details");
    REQUIRE(quick.submit({{"x", 1}}).type == "submitted");
    CHECK(slow.submit({{"x", 2}}).is_error());
    CHECK(p.is_complete());
}

TEMPLATE_TEST_CASE("no_submission_patience shuts a dead run down", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto args = test::run_args();
    args.no_submission_patience = 60;
    pipeline p{blueprints::mock{2}, arch, prov, test::make_test_dispatcher(), *db, args};
    p.set_clock(clock);
    auto run = p.launch();
    test::page idle{arch, "idle"};
    REQUIRE(idle.register_().type == "agent_details");
    clock.now += 30s;
    p.tick();
    CHECK(p.is_active());
    clock.now += 31s;
    p.tick();
    CHECK_FALSE(p.is_active());
    CHECK_FALSE(p.is_complete());
    CHECK(db->find_units({.task_run = run, .status = unit_status::expired}).size() == 2);
    CHECK(db->get_agent(*idle.agent).status == agent_status::expired);
    CHECK(db->get_task_run(run).is_completed);
    CHECK(prov.expired().size() >= 1);
    CHECK(idle.register_().is_error());  // the architect is shut down
}

TEMPLATE_TEST_CASE("the blueprint refuses a bad submission per field and nothing is saved", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    test::page alice{arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto before = test::snapshot(*db);
    auto refused = alice.submit({{"fail", true}});
    CHECK(refused.type == "submit_refused");
    CHECK(refused.data.dump().find("fail") != std::string::npos);
    CHECK(test::snapshot(*db) == before);
    CHECK(alice.submit({{"fail", false}}).type == "submitted");  // the same agent may try again
}

TEMPLATE_TEST_CASE("hostile packets get errors and change nothing", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{2}, arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.set_max_submission_bytes(4096);
    p.launch();
    test::page alice{arch, "alice"}, mallory{arch, "mallory"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(mallory.register_().type == "agent_details");
    auto before = test::snapshot(*db);

    auto& ch = arch.channel();
    // Unknown agent.
    CHECK(ch.request({"submit", agent_id{9999}, {{"token", "x"}, {"submission", {}}}}).data["reason"] == "unknown_agent");
    // Another worker's unit: Mallory names Alice's agent with her own token.
    CHECK(ch.request({"submit", alice.agent, {{"token", mallory.token}, {"submission", {{"x", 1}}}}}).data["reason"] ==
          "not_your_unit");
    CHECK(ch.request({"submit", alice.agent, {{"submission", {{"x", 1}}}}}).data["reason"] == "not_your_unit");
    // No agent at all, an unknown type, a submit without a submission.
    CHECK(ch.request({"submit", std::nullopt, {{"token", alice.token}}}).is_error());
    CHECK(ch.request({"launch_missiles", alice.agent, {{"token", alice.token}}}).data["reason"] == "unknown_packet");
    CHECK(alice.send("submit").is_error());
    // Oversized data.
    CHECK(alice.submit({{"blob", std::string(10000, 'x')}}).data["reason"] == "too_large");
    // Invalid JSON and other garbage on the wire never reach the pipeline.
    CHECK(ch.request_text("{\"type\": \"submit\", ").is_error());
    CHECK(ch.request_text("[1,2,3]").is_error());
    CHECK(ch.request_text(std::string(2 << 20, '[')).is_error());
    // A registration without a name.
    CHECK(ch.request({"register", std::nullopt, {{"profile", {}}}}).data["reason"] == "bad_request");
    CHECK(test::snapshot(*db) == before);

    REQUIRE(alice.submit({{"x", 1}}).type == "submitted");  // the real owner still can
}

TEMPLATE_TEST_CASE("allowed_concurrent and maximum_units_per_worker limit a worker", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    test::manual_clock clock;
    auto args = test::run_args("capped");
    args.allowed_concurrent = 1;
    args.maximum_units_per_worker = 3;
    {
        architects::in_process arch;
        providers::mock prov;
        pipeline p{blueprints::mock{2}, arch, prov, test::make_test_dispatcher(), *db, args};
        p.set_clock(clock);
        p.launch();
        test::page alice{arch, "alice"};
        REQUIRE(alice.register_().type == "agent_details");
        test::page alice_tab2{arch, "alice"};
        CHECK(alice_tab2.register_().data["reason"] == "too_many_concurrent");
        REQUIRE(alice.submit({{"x", 1}}).type == "submitted");
        REQUIRE(alice.register_().type == "agent_details");
        REQUIRE(alice.submit({{"x", 1}}).type == "submitted");
        CHECK(p.is_complete());
    }
    // A second run of the same task: Alice has done 2 of her 3.
    architects::in_process arch;
    providers::mock prov;
    pipeline p{blueprints::mock{5}, arch, prov, test::make_test_dispatcher(), *db, args};
    p.set_clock(clock);
    auto run2 = p.launch();
    test::page alice{arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(alice.submit({{"x", 1}}).type == "submitted");
    CHECK(alice.register_().data["reason"] == "max_for_task");
    CHECK(db->find_units({.task_run = run2, .status = unit_status::completed}).size() == 1);
}

TEMPLATE_TEST_CASE("qualification requirements and blocked workers are refused", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto skilled = db->new_worker("skilled_sandbox", "mock");
    auto novice = db->new_worker("novice_sandbox", "mock");
    auto banned = db->new_worker("banned_sandbox", "mock");
    auto q = db->make_qualification("accuracy");
    db->grant_qualification(q, skilled, 90);
    db->grant_qualification(q, novice, 40);
    db->grant_qualification(q, banned, 95);
    prov.block(banned, "spam");
    pipeline p{blueprints::mock{3}, arch, prov, test::make_test_dispatcher(), *db, test::run_args(),
               {{"accuracy", comparator::greater_than_or_equal, 80}, {"unknown_qualification", comparator::exists, {}}}};
    p.set_clock(clock);
    p.launch();
    test::page s{arch, "skilled"}, n{arch, "novice"}, b{arch, "banned"}, fresh{arch, "fresh"};
    CHECK(s.register_().type == "agent_details");
    CHECK(n.register_().data["reason"] == "not_qualified");
    CHECK(b.register_().data["reason"] == "blocked");
    CHECK(fresh.register_().data["reason"] == "not_qualified");  // no grant fails every comparator but does_not_exist
}

TEST_CASE("comparators follow Mephisto's rules", "[pipeline]") {
    auto r = [](comparator op, nlohmann::json v) { return qualification_requirement{"q", op, std::move(v)}; };
    CHECK(satisfies(5, r(comparator::greater_than, 4)));
    CHECK_FALSE(satisfies(4, r(comparator::greater_than, 4)));
    CHECK(satisfies(4, r(comparator::greater_than_or_equal, 4)));
    CHECK(satisfies(3, r(comparator::less_than, 4)));
    CHECK(satisfies(4, r(comparator::less_than_or_equal, 4)));
    CHECK(satisfies(4, r(comparator::equal, 4)));
    CHECK(satisfies(5, r(comparator::not_equal, 4)));
    CHECK(satisfies(0, r(comparator::exists, {})));
    CHECK_FALSE(satisfies(std::nullopt, r(comparator::exists, {})));
    CHECK(satisfies(std::nullopt, r(comparator::does_not_exist, {})));
    CHECK_FALSE(satisfies(1, r(comparator::does_not_exist, {})));
    CHECK(satisfies(2, r(comparator::in, {1, 2})));
    CHECK(satisfies(3, r(comparator::not_in, {1, 2})));
    for (auto op : {comparator::greater_than, comparator::equal, comparator::in, comparator::not_in, comparator::not_equal})
        CHECK_FALSE(satisfies(std::nullopt, r(op, op == comparator::in || op == comparator::not_in ? nlohmann::json{1} : nlohmann::json(1))));
    CHECK(parse_comparator(">=") == comparator::greater_than_or_equal);
    CHECK_THROWS_AS(parse_comparator("~"), config_error);
    CHECK_THROWS_AS(r(comparator::in, 3).validate(), config_error);
    CHECK_THROWS_AS(r(comparator::greater_than, "x").validate(), config_error);
}

TEMPLATE_TEST_CASE("an infinite blueprint is consumed lazily under max_num_concurrent_units", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto args = test::run_args();
    args.max_num_concurrent_units = 4;
    pipeline p{blueprints::mock{}, arch, prov, test::make_test_dispatcher(), *db, args};
    p.set_clock(clock);
    auto run = p.launch();
    CHECK(db->find_units({.task_run = run}).size() == 4);
    test::page w{arch, "w"};
    for (int i = 0; i < 10; ++i) {
        REQUIRE(w.register_().type == "agent_details");
        REQUIRE(w.submit({{"i", i}}).type == "submitted");
        auto live = db->find_units({.task_run = run, .status = unit_status::launched}).size() +
                    db->find_units({.task_run = run, .status = unit_status::assigned}).size();
        CHECK(live == 4);  // the submission's room was filled at once, and never past the cap
        p.tick();
        CHECK(db->find_units({.task_run = run}).size() == 4 + static_cast<std::size_t>(i) + 1);
    }
    CHECK(db->find_units({.task_run = run, .status = unit_status::completed}).size() == 10);
    CHECK_FALSE(p.is_complete());
}

TEMPLATE_TEST_CASE("launch validates its configuration and names the bad key", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    auto args = test::run_args();
    args.task_title = "";
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), *db, args};
    CHECK_THROWS_WITH(p.launch(), Catch::Matchers::Contains("task_title"));
    CHECK(db->find_task_runs().empty());

    auto args2 = test::run_args();
    args2.assignment_duration_in_seconds = 60;  // the dispatcher's lease is 600 s
    architects::in_process arch2;
    pipeline p2{blueprints::mock{1}, arch2, prov, test::make_test_dispatcher(1, 600s), *db, args2};
    CHECK_THROWS_WITH(p2.launch(), Catch::Matchers::Contains("assignment_duration_in_seconds"));

    blueprints::mock bad_bp{1, {.units_per_assignment = 0}};
    architects::in_process arch3;
    pipeline p3{bad_bp, arch3, prov, test::make_test_dispatcher(), *db, test::run_args()};
    CHECK_THROWS_WITH(p3.launch(), Catch::Matchers::Contains("units_per_assignment"));
    CHECK(db->find_task_runs().empty());
}

namespace {
/// Items whose third one carries three unit_data entries: with a two-unit router it does not fit.
struct misfit_items : blueprints::mock {
    misfit_items() : blueprints::mock{5} {}
    auto initialization_data() const {
        return std::views::iota(0, 5) | std::views::transform([](int i) {
                   nlohmann::json d{{"i", i}};
                   return crowdline::initialization_data{nlohmann::json::object(),
                                                         std::vector<nlohmann::json>(i == 2 ? 3 : 1, d)};
               });
    }
};
}  // namespace

TEMPLATE_TEST_CASE("a launch batch that fails writes nothing and stops the pipeline", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{misfit_items{}, arch, prov, test::make_test_dispatcher(2), *db, test::run_args()};
    p.set_clock(clock);
    CHECK_THROWS_WITH(p.launch(), Catch::Contains("3 unit_data entries, but the router asked for 2 units"));
    auto const runs = db->find_task_runs({});
    REQUIRE(runs.size() == 1);
    CHECK(db->find_assignments({.task_run = runs[0].id}).empty());  // the batch (items 0..4) rolled back whole
    CHECK(db->find_units({.task_run = runs[0].id}).empty());
    CHECK(prov.launched().empty());
    CHECK_FALSE(p.is_active());
    test::page alice{arch, "alice"};
    CHECK(alice.register_().is_error());  // the server is down, not serving a half-launched run
}

TEMPLATE_TEST_CASE("a refill that fails after a submission still acknowledges it and stops the run", "[pipeline]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto args = test::run_args();
    args.max_num_concurrent_units = 2;  // item 0 (2 units) first; item 2 does not fit and comes in a refill
    pipeline p{misfit_items{}, arch, prov, test::make_test_dispatcher(2), *db, args};
    p.set_clock(clock);
    auto const run = p.launch();
    test::page a{arch, "a"}, b{arch, "b"};
    REQUIRE(a.register_().type == "agent_details");
    REQUIRE(a.submit({{"label", 1}}).type == "submitted");  // refill: item 1
    REQUIRE(b.register_().type == "agent_details");
    REQUIRE(b.submit({{"label", 2}}).type == "submitted");
    REQUIRE(a.register_().type == "agent_details");
    auto const last = *a.agent;
    CHECK(a.submit({{"label", 3}}).type == "submitted");  // refill: item 2 fails, the submission stands
    REQUIRE(p.failure());
    CHECK(p.failure()->find("3 unit_data entries") != std::string::npos);
    CHECK_FALSE(p.is_active());
    CHECK(db->get_agent(last).status == agent_status::completed);
    CHECK(db->find_assignments({.task_run = run}).size() == 2);  // the failed batch wrote nothing
}

TEMPLATE_TEST_CASE("init gives a reloaded page the unit it holds, and claims nothing", "[pipeline][errors]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{2}, arch, prov, test::make_test_dispatcher(2), *db, test::run_args()};
    p.set_clock(clock);
    auto run = p.launch();
    test::page alice{arch, "alice"}, bob{arch, "bob"};
    auto handed = alice.register_();
    REQUIRE(handed.type == "agent_details");
    REQUIRE(bob.register_().type == "agent_details");
    auto const agents_before = db->find_agents({.task_run = run}).size();

    auto again = alice.send("init");
    REQUIRE(again.type == "agent_details");
    CHECK(again.data == handed.data);  // same unit, same token, same page
    CHECK(db->find_agents({.task_run = run}).size() == agents_before);

    auto stranger = arch.request({"init", alice.agent, {{"token", bob.token}}});
    CHECK(stranger.data["reason"] == "not_your_unit");
    REQUIRE(alice.submit({{"label", "ok"}}).type == "submitted");
    auto after = alice.send("init");
    CHECK(after.data["reason"] == "unknown_agent");  // submitted: nothing to pick up again, register anew
}

}  // namespace tu_pipeline_basic
