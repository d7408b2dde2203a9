// The store suite: every backend must pass every case here (ARCHITECTURE §4).
#include <catch2/catch.hpp>

#include <deque>
#include <map>

#include "backends.hpp"
#include "fixtures.hpp"

using namespace crowdline;
using Catch::Matchers::Contains;

TEMPLATE_TEST_CASE("every find_* is empty on a new store", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto s = test::snapshot(*db);
    for (auto const& [table, rows] : s.items()) {
        INFO(table);
        CHECK(rows.empty());
    }
}

TEMPLATE_TEST_CASE("projects: create, get, find and refuse bad input", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto p = db->new_project("alpha");
    CHECK(db->get_project(p).name == "alpha");
    CHECK(db->find_projects().size() == 1);
    CHECK(db->find_projects({.name = "alpha"}).size() == 1);
    CHECK(db->find_projects({.name = "fake_name"}).empty());

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->get_project(project_id{p.value() + 999}), entry_does_not_exist);
    CHECK_THROWS_WITH(db->get_project(project_id{p.value() + 999}), Contains("project " + std::to_string(p.value() + 999)));
    CHECK_THROWS_AS(db->new_project("alpha"), entry_already_exists);
    CHECK_THROWS_WITH(db->new_project("alpha"), Contains("\"alpha\""));
    CHECK_THROWS_AS(db->new_project(""), crowdline::invalid_argument);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("tasks: create, get, find and refuse bad input", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto p = db->new_project("alpha");
    auto t = db->new_task("label", "static_form", p);
    auto t2 = db->new_task("free", "mock");
    auto got = db->get_task(t);
    CHECK(got.name == "label");
    CHECK(got.task_type == "static_form");
    CHECK(got.project == p);
    CHECK_FALSE(got.parent_task);
    CHECK_FALSE(db->get_task(t2).project);
    CHECK(db->find_tasks().size() == 2);
    CHECK(db->find_tasks({.name = "label"}).size() == 1);
    CHECK(db->find_tasks({.project = p}).size() == 1);
    CHECK(db->find_tasks({.name = "free", .project = p}).empty());

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->get_task(task_id{77}), entry_does_not_exist);
    CHECK_THROWS_AS(db->new_task("label", "mock"), entry_already_exists);
    CHECK_THROWS_AS(db->new_task("other", "mock", project_id{99}), entry_does_not_exist);
    CHECK_THROWS_WITH(db->new_task("other", "mock", project_id{99}), Contains("project 99"));
    CHECK_THROWS_AS(db->new_task("", "mock"), crowdline::invalid_argument);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("update_task renames and moves a task, and is refused once a run exists", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto p1 = db->new_project("one");
    auto p2 = db->new_project("two");
    auto t = db->new_task("label", "static_form", p1);
    db->new_task("taken", "static_form");

    db->update_task(t, "relabel", p2);
    CHECK(db->find_tasks({.name = "relabel", .project = p2}).size() == 1);
    CHECK(db->find_tasks({.name = "label"}).empty());

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->update_task(t, std::string("taken"), std::nullopt), entry_already_exists);
    CHECK_THROWS_AS(db->update_task(t, std::string(""), std::nullopt), crowdline::invalid_argument);
    CHECK_THROWS_AS(db->update_task(t, std::nullopt, project_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->update_task(task_id{99}, std::string("x"), std::nullopt), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);

    db->update_task(t, std::string("plain"), std::nullopt);
    CHECK(db->get_task(t).name == "plain");
    CHECK(db->get_task(t).project == p2);

    auto r = db->new_requester("req", "mock");
    db->new_task_run(t, r, nlohmann::json::object(), "mock", "static_form", true);
    before = test::snapshot(*db);
    CHECK_THROWS_AS(db->update_task(t, std::string("late"), std::nullopt), db_error);
    CHECK_THROWS_WITH(db->update_task(t, std::string("late"), std::nullopt), Contains("task " + std::to_string(t.value())));
    CHECK_THROWS_AS(db->update_task(t, std::nullopt, p1), db_error);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("requesters and workers: create, get, find and refuse bad input", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto r = db->new_requester("req", "mock");
    auto w = db->new_worker("ann", "in_house");
    CHECK(db->get_requester(r).provider_type == "mock");
    CHECK(db->get_worker(w).name == "ann");
    CHECK(db->find_requesters({.provider_type = "mock"}).size() == 1);
    CHECK(db->find_requesters({.name = "req", .provider_type = "other"}).empty());
    CHECK(db->find_workers({.name = "ann"}).size() == 1);
    CHECK(db->find_workers({.name = "ann", .provider_type = "mock"}).empty());
    CHECK(db->find_workers({.provider_type = "in_house"}).size() == 1);

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->get_requester(requester_id{5}), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_worker(worker_id{5}), entry_does_not_exist);
    CHECK_THROWS_WITH(db->get_worker(worker_id{5}), Contains("worker 5"));
    CHECK_THROWS_AS(db->new_requester("req", "mock"), entry_already_exists);
    CHECK_THROWS_AS(db->new_worker("ann", "mock"), entry_already_exists);
    CHECK_THROWS_AS(db->new_requester("", "mock"), crowdline::invalid_argument);
    CHECK_THROWS_AS(db->new_worker("", "mock"), crowdline::invalid_argument);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("task runs keep their parameters and completion flag", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto t = db->new_task("label", "static_form");
    auto r = db->new_requester("req", "mock");
    nlohmann::json params{{"task", {{"task_reward", 0.25}, {"task_tags", {"a", "b"}}}}, {"unicode", "é€"}};
    auto run = db->new_task_run(t, r, params, "mock", "static_form", false);
    auto got = db->get_task_run(run);
    CHECK(got.init_params == params);
    CHECK(got.task == t);
    CHECK(got.requester == r);
    CHECK_FALSE(got.sandbox);
    CHECK_FALSE(got.is_completed);
    CHECK(db->find_task_runs({.task = t}).size() == 1);
    CHECK(db->find_task_runs({.requester = r}).size() == 1);
    CHECK(db->find_task_runs({.is_completed = true}).empty());
    db->update_task_run(run, true);
    CHECK(db->find_task_runs({.is_completed = true}).size() == 1);
    CHECK(db->find_task_runs({.task = t, .is_completed = false}).empty());

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_task_run(task_id{99}, r, {}, "mock", "x", true), entry_does_not_exist);
    CHECK_THROWS_AS(db->new_task_run(t, requester_id{99}, {}, "mock", "x", true), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_task_run(task_run_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->update_task_run(task_run_id{99}, true), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("assignments copy their run's task, requester and types", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto a = db->get_assignment(c.assignment);
    CHECK(a.task == c.task);
    CHECK(a.task_run == c.run);
    CHECK(a.requester == c.requester);
    CHECK(a.task_type == "static_form");
    CHECK(a.provider_type == "mock");
    CHECK(a.sandbox);
    db->new_assignment(c.run);
    CHECK(db->find_assignments({.task_run = c.run}).size() == 2);
    CHECK(db->find_assignments({.task = c.task, .requester = c.requester}).size() == 2);
    CHECK(db->find_assignments({.task_run = task_run_id{99}}).empty());
    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_assignment(task_run_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_assignment(assignment_id{99}), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("units start created, keep their pay and refuse a duplicate index", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u0 = db->new_unit(c.assignment, 0, 15.0);
    auto u1 = db->new_unit(c.assignment, 1, 0.5);
    auto got = db->get_unit(u0);
    CHECK(got.status == unit_status::created);
    CHECK(got.pay_amount == 15.0);
    CHECK(got.unit_index == 0);
    CHECK(got.task_run == c.run);
    CHECK(got.task == c.task);
    CHECK(got.requester == c.requester);
    CHECK_FALSE(got.agent);
    CHECK_FALSE(got.worker);
    auto all = db->find_units();
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == u0);  // creation order
    CHECK(all[1].id == u1);
    CHECK(db->find_units({.assignment = c.assignment}).size() == 2);
    CHECK(db->find_units({.task_run = c.run, .status = unit_status::created}).size() == 2);
    CHECK(db->find_units({.status = unit_status::launched, .task = c.task}).empty());

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_unit(c.assignment, 1, 2.0), entry_already_exists);
    CHECK_THROWS_WITH(db->new_unit(c.assignment, 1, 2.0), Contains("index 1"));
    CHECK_THROWS_AS(db->new_unit(assignment_id{99}, 0, 1.0), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_unit(unit_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->update_unit(unit_id{99}, unit_status::launched), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

namespace {
/// Moves a fresh unit to `target` along legal steps (claiming it when the path passes `assigned`).
template <class Store>
void drive_unit(Store& db, unit_id u, worker_id w, unit_status target) {
    using s = unit_status;
    std::map<s, std::vector<s>> path{
        {s::created, {}},
        {s::launched, {s::launched}},
        {s::assigned, {s::launched, s::assigned}},
        {s::completed, {s::launched, s::assigned, s::completed}},
        {s::accepted, {s::launched, s::assigned, s::completed, s::accepted}},
        {s::rejected, {s::launched, s::assigned, s::completed, s::rejected}},
        {s::soft_rejected, {s::launched, s::assigned, s::completed, s::soft_rejected}},
        {s::expired, {s::expired}},
    };
    for (auto step : path.at(target)) {
        if (step == s::assigned)
            db.new_agent(w, u);
        else
            db.update_unit(u, step);
    }
    REQUIRE(db.get_unit(u).status == target);
}

std::vector<unit_status> all_unit_statuses() {
    std::vector<unit_status> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<unit_status>(i));
    return out;
}
std::vector<agent_status> all_agent_statuses() {
    std::vector<agent_status> out;
    for (int i = 0; i < 14; ++i) out.push_back(static_cast<agent_status>(i));
    return out;
}
}  // namespace

TEMPLATE_TEST_CASE("the unit state machine is enforced for every pair of statuses", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    int index = 0;
    int allowed = 0, refused = 0;
    for (auto from : all_unit_statuses()) {
        for (auto to : all_unit_statuses()) {
            if (to == unit_status::assigned) continue;  // reached only through new_agent (tested below)
            auto w = db->new_worker("w" + std::to_string(index), "mock");
            auto u = db->new_unit(c.assignment, index++, 1.0);
            drive_unit(*db, u, w, from);
            INFO(to_string(from) << " -> " << to_string(to));
            auto before = db->get_unit(u);
            if (can_transition(from, to)) {
                db->update_unit(u, to);
                CHECK(db->get_unit(u).status == to);
                ++allowed;
            } else {
                CHECK_THROWS_AS(db->update_unit(u, to), invalid_transition);
                CHECK(nlohmann::json(db->get_unit(u)) == nlohmann::json(before));
                ++refused;
            }
        }
    }
    CHECK(allowed == 12);  // the 13 edges of ARCHITECTURE §3, less launched → assigned
    CHECK(refused == 8 * 7 - 12);
}

TEMPLATE_TEST_CASE("an illegal unit change says which unit and which statuses", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = db->new_unit(c.assignment, 0, 1.0);
    drive_unit(*db, u, c.worker, unit_status::completed);
    CHECK_THROWS_WITH(db->update_unit(u, unit_status::launched),
                      "unit " + std::to_string(u.value()) + ": cannot go from completed to launched");
}

TEMPLATE_TEST_CASE("new_agent claims a launched unit in one step", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = test::launched_unit(*db, c.assignment, 0);
    auto ag = db->new_agent(c.worker, u);
    auto unit = db->get_unit(u);
    CHECK(unit.status == unit_status::assigned);
    CHECK(unit.agent == ag);
    CHECK(unit.worker == c.worker);
    auto agent = db->get_agent(ag);
    CHECK(agent.status == agent_status::none);
    CHECK(agent.worker == c.worker);
    CHECK(agent.unit == u);
    CHECK(agent.assignment == c.assignment);
    CHECK(agent.task_run == c.run);
    CHECK(agent.task == c.task);
    CHECK(db->find_units({.status = unit_status::assigned}).size() == 1);
    CHECK(db->find_units({.worker = c.worker}).size() == 1);
    CHECK(db->find_units({.agent = ag}).size() == 1);
    CHECK(db->find_agents({.worker = c.worker}).size() == 1);
    CHECK(db->find_agents({.unit = u, .status = agent_status::none}).size() == 1);
    CHECK(db->find_agents({.worker = worker_id{99}}).empty());
}

TEMPLATE_TEST_CASE("new_agent refuses a unit that is not launched and writes nothing", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto created = db->new_unit(c.assignment, 0, 1.0);
    auto taken = test::launched_unit(*db, c.assignment, 1);
    auto other = db->new_worker("other", "mock");
    db->new_agent(other, taken);

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_agent(c.worker, created), invalid_transition);
    CHECK_THROWS_WITH(db->new_agent(c.worker, created), Contains("it is created, not launched"));
    CHECK_THROWS_AS(db->new_agent(c.worker, taken), invalid_transition);
    CHECK_THROWS_AS(db->new_agent(worker_id{99}, test::launched_unit(*db, c.assignment, 2)), entry_does_not_exist);
    before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_agent(c.worker, unit_id{99}), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
    CHECK(db->find_agents().size() == 1);
}

TEMPLATE_TEST_CASE("clear_unit_agent_assignment puts the unit back in the pool", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = test::launched_unit(*db, c.assignment, 0);
    auto first = db->new_agent(c.worker, u);
    db->update_agent(first, agent_status::disconnect);
    db->clear_unit_agent_assignment(u);
    auto unit = db->get_unit(u);
    CHECK(unit.status == unit_status::launched);
    CHECK_FALSE(unit.agent);
    CHECK_FALSE(unit.worker);
    CHECK(db->get_agent(first).status == agent_status::disconnect);  // history stays

    auto second_worker = db->new_worker("second", "mock");
    auto second = db->new_agent(second_worker, u);
    CHECK(db->get_unit(u).agent == second);
    CHECK(db->find_agents({.unit = u}).size() == 2);

    db->update_unit(u, unit_status::completed);
    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->clear_unit_agent_assignment(u), invalid_transition);
    CHECK_THROWS_AS(db->clear_unit_agent_assignment(unit_id{99}), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("the agent state machine is enforced for every pair of statuses", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    // Shortest legal path from `none` to each status, found over the machine itself.
    std::map<agent_status, std::vector<agent_status>> path{{agent_status::none, {}}};
    std::deque<agent_status> frontier{agent_status::none};
    while (!frontier.empty()) {
        auto from = frontier.front();
        frontier.pop_front();
        for (auto to : all_agent_statuses())
            if (can_transition(from, to) && !path.contains(to)) {
                path[to] = path[from];
                path[to].push_back(to);
                frontier.push_back(to);
            }
    }
    REQUIRE(path.size() == 14);  // every status is reachable

    int index = 0, allowed = 0;
    for (auto from : all_agent_statuses()) {
        for (auto to : all_agent_statuses()) {
            // A worker per unit: the subject is the agent's machine, and a worker holds one unit per assignment
            // (stores::postgres refuses a second in the database).
            auto const worker = db->new_worker("machine-" + std::to_string(index), "mock");
            auto u = test::launched_unit(*db, c.assignment, index++);
            auto ag = db->new_agent(worker, u);
            for (auto step : path[from]) db->update_agent(ag, step);
            INFO(to_string(from) << " -> " << to_string(to));
            if (can_transition(from, to)) {
                db->update_agent(ag, to);
                CHECK(db->get_agent(ag).status == to);
                ++allowed;
            } else {
                CHECK_THROWS_AS(db->update_agent(ag, to), invalid_transition);
                CHECK(db->get_agent(ag).status == from);
            }
        }
    }
    CHECK(allowed > 0);
    CHECK(db->find_agents({.status = agent_status::approved}).size() >= 1);
}

TEMPLATE_TEST_CASE("update_agent stores the worker's data with the status", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = test::launched_unit(*db, c.assignment, 0);
    auto ag = db->new_agent(c.worker, u);
    db->update_agent(ag, agent_status::in_task);
    nlohmann::json data{{"inputs", {{"text", "Bonjour"}}}, {"outputs", {{"label", "positive"}}}};
    db->update_agent(ag, agent_status::completed, data);
    auto got = db->get_agent(ag);
    CHECK(got.status == agent_status::completed);
    CHECK(got.state == data);
    // A refused change keeps the data that was there.
    CHECK_THROWS_AS(db->update_agent(ag, agent_status::in_task, nlohmann::json{{"x", 1}}), invalid_transition);
    CHECK(db->get_agent(ag).state == data);
    CHECK_THROWS_AS(db->update_agent(agent_id{99}, agent_status::in_task), entry_does_not_exist);
}

TEMPLATE_TEST_CASE("onboarding agents", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto o = db->new_onboarding_agent(c.worker, c.run);
    auto got = db->get_onboarding_agent(o);
    CHECK(got.status == agent_status::none);
    CHECK(got.task == c.task);
    CHECK(got.task_run == c.run);
    CHECK(db->find_onboarding_agents({.worker = c.worker}).size() == 1);
    db->update_onboarding_agent(o, agent_status::onboarding);
    db->update_onboarding_agent(o, agent_status::waiting, nlohmann::json{{"answer", 4}});
    db->update_onboarding_agent(o, agent_status::approved);
    CHECK(db->get_onboarding_agent(o).state == nlohmann::json{{"answer", 4}});
    CHECK(db->find_onboarding_agents({.task_run = c.run, .status = agent_status::approved}).size() == 1);
    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->update_onboarding_agent(o, agent_status::onboarding), invalid_transition);
    CHECK_THROWS_AS(db->new_onboarding_agent(worker_id{99}, c.run), entry_does_not_exist);
    CHECK_THROWS_AS(db->new_onboarding_agent(c.worker, task_run_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_onboarding_agent(onboarding_agent_id{99}), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("qualifications: grant is an upsert, revoke and delete remove grants", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto q = db->make_qualification("reads_fr", "can read French");
    CHECK(db->get_qualification(q).description == "can read French");
    CHECK_THROWS_AS(db->make_qualification("reads_fr"), entry_already_exists);
    CHECK_THROWS_AS(db->make_qualification(""), crowdline::invalid_argument);

    db->grant_qualification(q, c.worker);
    auto grants = db->find_granted_qualifications();
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].value == 1);
    db->grant_qualification(q, c.worker, 3);
    grants = db->find_granted_qualifications({.worker = c.worker});
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].value == 3);
    CHECK(db->get_granted_qualification(q, c.worker).value == 3);

    db->revoke_qualification(q, c.worker);
    CHECK(db->find_granted_qualifications().empty());
    CHECK_THROWS_AS(db->get_granted_qualification(q, c.worker), entry_does_not_exist);
    CHECK_THROWS_AS(db->revoke_qualification(q, c.worker), entry_does_not_exist);

    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->grant_qualification(q, worker_id{99}), entry_does_not_exist);
    CHECK_THROWS_AS(db->grant_qualification(qualification_id{99}, c.worker), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);

    auto other = db->make_qualification("reads_de");
    db->grant_qualification(q, c.worker, 2);
    db->grant_qualification(other, c.worker, 5);
    CHECK(db->find_granted_qualifications({.qualification = other}).size() == 1);
    db->delete_qualification("reads_fr");
    CHECK(db->find_qualifications({.name = "reads_fr"}).empty());
    CHECK_THROWS_AS(db->get_qualification(q), entry_does_not_exist);
    CHECK_THROWS_AS(db->get_granted_qualification(q, c.worker), entry_does_not_exist);
    CHECK(db->get_granted_qualification(other, c.worker).value == 5);
    CHECK_THROWS_AS(db->delete_qualification("reads_fr"), entry_does_not_exist);
    // A new qualification never reuses a deleted id.
    auto again = db->make_qualification("reads_fr");
    CHECK(again != q);
}

TEMPLATE_TEST_CASE("worker reviews are recorded", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = test::launched_unit(*db, c.assignment, 0);
    db->new_agent(c.worker, u);
    db->new_worker_review({.unit = u, .worker = c.worker, .task = c.task, .status = "approved", .bonus = 0.25});
    db->new_worker_review({.worker = c.worker, .review_note = "blocked for spam", .blocked_worker = true});
    auto reviews = db->find_worker_reviews({.worker = c.worker});
    REQUIRE(reviews.size() == 2);
    CHECK(reviews[0].status == "approved");
    CHECK(reviews[0].bonus == 0.25);
    CHECK(reviews[1].blocked_worker);
    CHECK(reviews[1].review_note == "blocked for spam");
    CHECK(db->find_worker_reviews({.unit = u}).size() == 1);
    auto before = test::snapshot(*db);
    CHECK_THROWS_AS(db->new_worker_review({.worker = worker_id{99}}), entry_does_not_exist);
    CHECK_THROWS_AS(db->new_worker_review({.unit = unit_id{99}, .worker = c.worker}), entry_does_not_exist);
    CHECK(test::snapshot(*db) == before);
}

TEMPLATE_TEST_CASE("transaction commits, returns, and rolls back everything on an exception", "[store]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u = test::launched_unit(*db, c.assignment, 0);
    auto q = db->make_qualification("q");
    db->grant_qualification(q, c.worker, 1);

    auto id = db->transaction([&] { return db->new_project("committed"); });
    CHECK(db->get_project(id).name == "committed");

    auto before = test::snapshot(*db);
    struct boom {};
    CHECK_THROWS_AS(db->transaction([&] {
        db->new_project("rolled back");
        auto t = db->new_task("rolled back task", "x");
        db->update_task(t, std::string("renamed"), std::nullopt);
        auto ag = db->new_agent(c.worker, u);
        db->update_agent(ag, agent_status::in_task);
        db->update_agent(ag, agent_status::completed, nlohmann::json{{"a", 1}});
        db->update_unit(u, unit_status::completed);
        db->new_unit(c.assignment, 5, 1.0);
        db->grant_qualification(q, c.worker, 9);
        db->make_qualification("temp");
        db->delete_qualification("q");
        db->update_task_run(c.run, true);
        db->new_worker_review({.worker = c.worker, .status = "approved"});
        throw boom{};
    }), boom);
    CHECK(test::snapshot(*db) == before);

    // A failed inner block is undone while the outer one goes on.
    db->transaction([&] {
        db->new_project("outer");
        CHECK_THROWS_AS(db->transaction([&] {
            db->new_project("inner");
            db->new_project("outer");  // duplicate: throws
        }), entry_already_exists);
        CHECK(db->find_projects({.name = "inner"}).empty());
    });
    CHECK(db->find_projects({.name = "outer"}).size() == 1);
    CHECK(db->find_projects({.name = "inner"}).empty());

    // The store is fully usable after a rollback.
    auto ag = db->new_agent(c.worker, u);
    CHECK(db->get_unit(u).agent == ag);
}

#ifndef CROWDLINE_TEST_SINGLE_HEADER
static_assert(keyed_store<stores::memory> && keyed_store<stores::sqlite>, "both backends keep keyed values");
#endif

TEMPLATE_TEST_CASE("keyed values: put, replace, find in first-put order, scopes apart", "[store][keyed]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    CHECK_FALSE(db->get_value("ledger", "a").has_value());
    CHECK(db->find_values("ledger").empty());
    db->put_value("ledger", "b", "1");
    db->put_value("ledger", "a", "2");
    db->put_value("other", "b", "x");
    db->put_value("ledger", "b", "3");  // replaced, keeps its place
    CHECK(db->get_value("ledger", "b") == std::optional<std::string>("3"));
    CHECK(db->get_value("other", "b") == std::optional<std::string>("x"));
    using rows = std::vector<std::pair<std::string, std::string>>;
    CHECK(db->find_values("ledger") == rows{{"b", "3"}, {"a", "2"}});
    CHECK(db->find_values("other") == rows{{"b", "x"}});
    CHECK_THROWS_AS(db->put_value("", "k", "v"), crowdline::invalid_argument);
    CHECK_THROWS_AS(db->put_value("ledger", "", "v"), crowdline::invalid_argument);
    CHECK(db->find_values("ledger") == rows{{"b", "3"}, {"a", "2"}});
}

TEMPLATE_TEST_CASE("keyed values roll back with the transaction that put them", "[store][keyed]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    db->put_value("s", "kept", "1");
    CHECK_THROWS_AS(db->transaction([&] {
        db->put_value("s", "kept", "changed");
        db->put_value("s", "new", "2");
        db->put_value("fresh scope", "k", "3");
        throw std::runtime_error("boom");
    }), std::runtime_error);
    using rows = std::vector<std::pair<std::string, std::string>>;
    CHECK(db->find_values("s") == rows{{"kept", "1"}});
    CHECK(db->find_values("fresh scope").empty());
    db->transaction([&] { db->put_value("s", "new", "2"); });
    CHECK(db->get_value("s", "new") == std::optional<std::string>("2"));
}
