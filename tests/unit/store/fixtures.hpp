#pragma once
// Builds the usual chain (project → task → requester → run → assignment → unit) and snapshots a whole
// store as JSON, so a test can say "nothing changed" in one comparison.

#include <string>

#include <nlohmann/json.hpp>

#ifdef CROWDLINE_TEST_SINGLE_HEADER
#include <crowdline/crowdline.hpp>
#else
#include <crowdline/model/json.hpp>
#include <crowdline/store/filters.hpp>
#endif

namespace test {

struct chain {
    crowdline::project_id project;
    crowdline::task_id task;
    crowdline::requester_id requester;
    crowdline::task_run_id run;
    crowdline::assignment_id assignment;
    crowdline::worker_id worker;
};

template <class Store>
chain make_chain(Store& db, std::string const& suffix = "") {
    chain c;
    c.project = db.new_project("project" + suffix);
    c.task = db.new_task("task" + suffix, "static_form", c.project);
    c.requester = db.new_requester("requester" + suffix, "mock");
    c.run = db.new_task_run(c.task, c.requester, nlohmann::json{{"task_reward", 0.5}}, "mock", "static_form", true);
    c.assignment = db.new_assignment(c.run);
    c.worker = db.new_worker("worker" + suffix, "mock");
    return c;
}

/// A unit moved to `launched`, ready to be claimed.
template <class Store>
crowdline::unit_id launched_unit(Store& db, crowdline::assignment_id a, int index) {
    auto u = db.new_unit(a, index, 1.0);
    db.update_unit(u, crowdline::unit_status::launched);
    return u;
}

/// Every row of every table, as JSON: equal snapshots mean equal stores.
template <class Store>
nlohmann::json snapshot(Store& db) {
    return nlohmann::json{
        {"projects", db.find_projects()},
        {"tasks", db.find_tasks()},
        {"requesters", db.find_requesters()},
        {"task_runs", db.find_task_runs()},
        {"assignments", db.find_assignments()},
        {"units", db.find_units()},
        {"workers", db.find_workers()},
        {"agents", db.find_agents()},
        {"onboarding_agents", db.find_onboarding_agents()},
        {"qualifications", db.find_qualifications()},
        {"grants", db.find_granted_qualifications()},
        {"reviews", db.find_worker_reviews()},
    };
}

}  // namespace test
