// Kill and resume: a run stopped mid-way (the process killed with SIGKILL, or the pipeline dropped without
// a shutdown) is finished by a new pipeline on the same database (an SQLite file, a PostgreSQL schema) —
// every earlier submission intact, the unit held at the time of death handed out again, no unit done twice,
// no worker doing two units of one assignment, and the blueprint's items neither skipped nor repeated.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

#include <crowdline/provider/in_house.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_resume {

using namespace crowdline;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t items = 6;

crowdline::task_run_args resume_args() {
    auto a = test::run_args("resume");
    a.max_num_concurrent_units = 4;  // two assignments of two units at a time: the range is only part read
    return a;
}

/// What the first process does before it dies: three submissions, then alice takes a unit and holds it.
/// Returns false (instead of throwing: this may run in a forked child) when anything is not as expected.
template <class Backend>
bool first_half(Backend& backend, bool* held_out = nullptr) {
    auto store = backend.reopen();
    auto& db = *store;
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{items}, arch, prov, test::make_test_dispatcher(2), db, resume_args()};
    p.set_clock(clock);
    p.launch();
    test::page alice{arch, "alice"}, bob{arch, "bob"}, carol{arch, "carol"};
    for (test::page* w : {&alice, &bob, &carol}) {
        if (w->register_().type != "agent_details") return false;
        if (w->submit({{"by", w->name}}).type != "submitted") return false;
    }
    if (alice.register_().type != "agent_details") return false;
    if (held_out) *held_out = true;
    return true;  // no shutdown: the pipeline just goes away
}

struct agent_snapshot {
    unit_id unit;
    worker_id worker;
    agent_status status;
    nlohmann::json state;
};

template <class Store>
std::map<agent_id, agent_snapshot> snapshot(Store& db) {
    std::map<agent_id, agent_snapshot> out;
    for (auto const& a : db.find_agents({})) out.emplace(a.id, agent_snapshot{a.unit, a.worker, a.status, a.state});
    return out;
}

/// Resumes on the database, checks what the first half left, and finishes the run with four workers.
template <class Backend>
void second_half(Backend& backend) {
    auto store = backend.reopen();
    auto& db = *store;
    auto const before = snapshot(db);
    std::size_t completed_before = 0, held_before = 0;
    for (auto const& [id, a] : before) {
        completed_before += a.status == agent_status::completed ? 1 : 0;
        held_before += a.status == agent_status::in_task ? 1 : 0;
    }
    REQUIRE(completed_before == 3);
    REQUIRE(held_before == 1);
    auto const run_before = db.find_task_runs({}).at(0).id;

    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{items}, arch, prov, test::make_test_dispatcher(2), db, resume_args()};
    p.set_clock(clock);
    auto const run = p.launch();
    CHECK(run == run_before);
    CHECK(db.find_task_runs({}).size() == 1);

    // The unit held when the process died is open again; its agent expired; nothing else changed.
    for (auto const& [id, a] : before) {
        auto now = db.get_agent(id);
        if (a.status == agent_status::in_task) {
            CHECK(now.status == agent_status::expired);
            CHECK(db.get_unit(a.unit).status == unit_status::launched);
            CHECK(prov.launched().count(a.unit) == 1);  // relaunched at the new address
        } else {
            CHECK(now.status == a.status);
            CHECK(now.state == a.state);
        }
    }

    test::page alice{arch, "alice"}, bob{arch, "bob"}, carol{arch, "carol"}, dave{arch, "dave"};
    for (int round = 0; round < 20 && !p.is_complete(); ++round)
        for (test::page* w : {&alice, &bob, &carol, &dave})
            if (!p.is_complete() && w->register_().type == "agent_details")
                REQUIRE(w->submit({{"by", w->name}}).type == "submitted");
    REQUIRE(p.is_complete());

    // Everything done once: 6 assignments × 2 units, each unit with exactly one completed agent.
    auto const assignments = db.find_assignments({.task_run = run});
    CHECK(assignments.size() == items);
    std::set<std::string> texts;
    for (auto const& a : assignments) {
        auto const units = db.find_units({.assignment = a.id});
        CHECK(units.size() == 2);
        std::set<std::int64_t> workers;
        for (auto const& u : units) {
            CHECK(u.status == unit_status::completed);
            auto const agents = db.find_agents({.unit = u.id, .status = agent_status::completed});
            REQUIRE(agents.size() == 1);
            CHECK(agents[0].worker == *u.worker);
            workers.insert(u.worker->value());
            texts.insert(agents[0].state["inputs"]["text"].template get<std::string>());
        }
        CHECK(workers.size() == 2);  // never two units of one assignment for one worker, across the restart
    }
    CHECK(texts.size() == items);  // every blueprint item once: none skipped, none repeated
    // The earlier submissions are still there, word for word.
    for (auto const& [id, a] : before)
        if (a.status == agent_status::completed) CHECK(db.get_agent(id).state == a.state);
}

}  // namespace

TEMPLATE_TEST_CASE("a run killed mid-way is finished by a new process on the same database", "[pipeline][resume]",
                   PERSISTENT_BACKENDS) {
    TestType backend;
    pid_t const child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        bool ok = false;
        try {
            ok = first_half(backend);
        } catch (...) {
        }
        if (!ok) ::_exit(3);
        ::raise(SIGKILL);  // die with a unit held and the database open: no destructor, no shutdown
        ::_exit(4);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    second_half(backend);
}

TEMPLATE_TEST_CASE("a run whose pipeline was dropped without shutdown is resumed in the same process", "[pipeline][resume]",
                   PERSISTENT_BACKENDS) {
    TestType backend;
    bool held = false;
    REQUIRE(first_half(backend, &held));
    REQUIRE(held);
    second_half(backend);
}

TEMPLATE_TEST_CASE("a resumed run refuses a blueprint with fewer items than its assignments", "[pipeline][resume]",
                   PERSISTENT_BACKENDS) {
    TestType backend;
    REQUIRE(first_half(backend));
    auto store = backend.reopen();
    auto& db = *store;
    auto const before = snapshot(db);
    architects::in_process arch;
    providers::mock prov;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(2), db, resume_args()};
    CHECK_THROWS_WITH(p.launch(), Catch::Contains("fewer items than the run's"));
    auto const after = snapshot(db);  // nothing written: the held unit's agent did not even expire
    REQUIRE(after.size() == before.size());
    for (auto const& [id, a] : before) {
        CHECK(after.at(id).status == a.status);
        CHECK(after.at(id).state == a.state);
    }
    CHECK(prov.launched().empty());
}

TEMPLATE_TEST_CASE("a run that handed out screening units resumes: they close, the work pairs with its items",
                   "[pipeline][resume]", PERSISTENT_BACKENDS) {
    TestType backend;
    auto answers_four = [](nlohmann::json const& a) { return a.at("sum").get<int>() == 4; };
    auto make = [&] { return with_mixins(blueprints::mock{3}, mixins::screening{"screened", 2, {{"q", "2+2"}}, answers_four}); };
    auto args = resume_args();
    args.allowed_concurrent = 1;
    args.max_num_concurrent_units = 0;
    std::int64_t first_text_unit = 0;
    {
        auto store = backend.reopen();
        auto& db = *store;
        architects::in_process arch;
        providers::mock prov;
        pipeline p{make(), arch, prov, test::make_test_dispatcher(), db, args};
        p.launch();
        test::page a{arch, "a"}, b{arch, "b"};
        REQUIRE(a.register_().data["kind"] == "screening");
        REQUIRE(a.submit({{"sum", 4}}).type == "submitted");  // passed: a may now do work
        auto work = a.register_();
        REQUIRE(work.data["kind"] == "work");
        first_text_unit = work.data["unit_id"].get<std::int64_t>();
        REQUIRE(a.submit({{"label", "x"}}).type == "submitted");
        REQUIRE(b.register_().data["kind"] == "screening");  // b holds a screening unit when the process stops
    }
    auto store = backend.reopen();
    auto& db = *store;
    architects::in_process arch;
    providers::mock prov;
    pipeline p{make(), arch, prov, test::make_test_dispatcher(), db, args};
    auto const run = p.launch();
    // b's screening unit closed; the three work items are the blueprint's three, in order.
    for (auto const& u : db.find_units({.task_run = run}))
        if (u.unit_index < 0) CHECK((u.status == unit_status::completed || u.status == unit_status::expired));
    test::page a{arch, "a"}, c{arch, "c"};
    for (int i = 0; i < 2; ++i) {
        auto r = a.register_();
        REQUIRE(r.data["kind"] == "work");
        CHECK(r.data["unit_id"].get<std::int64_t>() != first_text_unit);
        REQUIRE(a.submit({{"label", "y"}}).type == "submitted");
    }
    CHECK(p.is_complete());
    std::set<std::string> texts;
    for (auto const& ag : db.find_agents({.task_run = run, .status = agent_status::completed}))
        if (ag.state["inputs"].contains("text")) texts.insert(ag.state["inputs"]["text"].template get<std::string>());
    CHECK(texts == std::set<std::string>{"mock item 0", "mock item 1", "mock item 2"});
}

TEMPLATE_TEST_CASE("a worker who returned a unit does not get it again after a resume", "[pipeline][resume]",
                   PERSISTENT_BACKENDS) {
    TestType backend;
    auto args = resume_args();
    args.max_num_concurrent_units = 0;
    {
        auto store = backend.reopen();
        auto& db = *store;
        architects::in_process arch;
        providers::mock prov;
        pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), db, args};
        p.launch();
        test::page a{arch, "a"};
        REQUIRE(a.register_().type == "agent_details");
        REQUIRE(a.send("release").type == "released");
        CHECK(a.register_().type == "no_work");  // before the restart
    }
    auto store = backend.reopen();
    auto& db = *store;
    architects::in_process arch;
    providers::mock prov;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), db, args};
    p.launch();
    test::page a{arch, "a"}, b{arch, "b"};
    CHECK(a.register_().type == "no_work");  // and after it
    REQUIRE(b.register_().type == "agent_details");
}

TEMPLATE_TEST_CASE("in_house blocks survive a restart on the same database, and so does an unblock",
                   "[pipeline][resume][in_house]", PERSISTENT_BACKENDS) {
    TestType backend;
    // The links are kept across restarts (as `crowdline serve` keeps them beside the database).
    std::string const ann_token(32, 'a'), ben_token(32, 'b');
    /// One process: open the file, launch (resuming the run), let `body` act, stop.
    auto serve = [&](auto body) {
        auto store = backend.reopen();
        auto& db = *store;
        architects::in_process arch;
        providers::in_house crowd{{{"ann", nlohmann::json::object(), ann_token}, {"ben", nlohmann::json::object(), ben_token}}};
        pipeline p{blueprints::mock{items}, arch, crowd, test::make_test_dispatcher(1), db, test::run_args("blocks")};
        p.launch();
        body(db, arch, crowd);
        p.shutdown();
    };
    auto register_ = [](architects::in_process& arch, std::string const& token) {
        return arch.channel().request({"register", std::nullopt, {{"invite", token}}});
    };
    worker_id ann{};
    serve([&](auto& db, architects::in_process& arch, providers::in_house& crowd) {
        auto r = register_(arch, ann_token);
        REQUIRE(r.type == "agent_details");
        ann = worker_id{r.data["worker_id"].template get<std::int64_t>()};
        review::block(db, crowd, ann, "copied answers");
        auto refused = register_(arch, ann_token);
        CHECK(refused.type == "no_work");
        CHECK(refused.data["reason"] == "blocked");
    });
    serve([&](auto& db, architects::in_process& arch, providers::in_house& crowd) {
        CHECK(crowd.is_blocked(ann));  // restored from the store at launch
        CHECK(crowd.blocked() == std::map<worker_id, std::string>{{ann, "copied answers"}});
        auto refused = register_(arch, ann_token);
        CHECK(refused.type == "no_work");
        CHECK(refused.data["reason"] == "blocked");
        CHECK(register_(arch, ben_token).type == "agent_details");  // nobody else is
        review::unblock(db, crowd, ann, "appeal accepted");
    });
    serve([&](auto&, architects::in_process& arch, providers::in_house& crowd) {
        CHECK_FALSE(crowd.is_blocked(ann));
        auto served = register_(arch, ann_token);
        REQUIRE(served.type == "agent_details");
        CHECK(served.data["worker_id"] == ann.value());
    });
}

}  // namespace tu_pipeline_resume
