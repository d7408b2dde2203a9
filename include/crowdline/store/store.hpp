#pragma once
/// The `crowdline::store` concept: everything a campaign keeps. Split into one concept per group of
/// tables so that a backend missing a method is told which group (and, through the entry-point
/// static_asserts, which method) it lacks.
///
/// One model: `crowdline::stores::memory` (store/memory.hpp). One non-model: any type without
/// `new_unit`, e.g. `struct not_a_store {};` — see tests/static/store_concepts.cpp.

#include <concepts>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline {

/// Projects, tasks and requesters.
template <class S>
concept project_store = requires(S& s, std::string_view name, project_id p, task_id t, requester_id r) {
    { s.new_project(name) } -> std::same_as<project_id>;
    { s.get_project(p) } -> std::same_as<project>;
    { s.find_projects(project_filter{}) } -> std::same_as<std::vector<project>>;
    { s.new_task(name, name, p) } -> std::same_as<task_id>;
    { s.get_task(t) } -> std::same_as<task>;
    { s.find_tasks(task_filter{}) } -> std::same_as<std::vector<task>>;
    s.update_task(t, std::optional<std::string>{}, std::optional<project_id>{});
    { s.new_requester(name, name) } -> std::same_as<requester_id>;
    { s.get_requester(r) } -> std::same_as<requester>;
    { s.find_requesters(requester_filter{}) } -> std::same_as<std::vector<requester>>;
};

/// Task runs and assignments.
template <class S>
concept run_store = requires(S& s, task_id t, requester_id r, task_run_id run, assignment_id a, std::string_view sv) {
    { s.new_task_run(t, r, nlohmann::json{}, sv, sv, true) } -> std::same_as<task_run_id>;
    { s.get_task_run(run) } -> std::same_as<task_run>;
    { s.find_task_runs(task_run_filter{}) } -> std::same_as<std::vector<task_run>>;
    s.update_task_run(run, true);
    { s.new_assignment(run) } -> std::same_as<assignment_id>;
    { s.get_assignment(a) } -> std::same_as<assignment>;
    { s.find_assignments(assignment_filter{}) } -> std::same_as<std::vector<assignment>>;
};

/// Units and the agents that claim them.
template <class S>
concept unit_store = requires(S& s, assignment_id a, unit_id u, worker_id w, agent_id ag, task_run_id run) {
    { s.new_unit(a, 0, 0.0) } -> std::same_as<unit_id>;
    { s.get_unit(u) } -> std::same_as<unit>;
    { s.find_units(unit_filter{}) } -> std::same_as<std::vector<unit>>;
    s.update_unit(u, unit_status::launched);
    s.clear_unit_agent_assignment(u);
    { s.new_agent(w, u) } -> std::same_as<agent_id>;
    { s.get_agent(ag) } -> std::same_as<agent>;
    { s.find_agents(agent_filter{}) } -> std::same_as<std::vector<agent>>;
    s.update_agent(ag, agent_status::in_task);
    s.update_agent(ag, agent_status::completed, nlohmann::json{});
    { s.new_onboarding_agent(w, run) } -> std::same_as<onboarding_agent_id>;
};

/// Workers, onboarding agents and reviews.
template <class S>
concept worker_store = requires(S& s, std::string_view sv, worker_id w, onboarding_agent_id o) {
    { s.new_worker(sv, sv) } -> std::same_as<worker_id>;
    { s.get_worker(w) } -> std::same_as<worker>;
    { s.find_workers(worker_filter{}) } -> std::same_as<std::vector<worker>>;
    { s.get_onboarding_agent(o) } -> std::same_as<onboarding_agent>;
    { s.find_onboarding_agents(onboarding_agent_filter{}) } -> std::same_as<std::vector<onboarding_agent>>;
    s.update_onboarding_agent(o, agent_status::onboarding);
    s.new_worker_review(worker_review{});
    { s.find_worker_reviews(worker_review_filter{}) } -> std::same_as<std::vector<worker_review>>;
};

/// Qualifications and their grants.
template <class S>
concept qualification_store = requires(S& s, std::string_view sv, qualification_id q, worker_id w) {
    { s.make_qualification(sv, sv) } -> std::same_as<qualification_id>;
    { s.get_qualification(q) } -> std::same_as<qualification>;
    { s.find_qualifications(qualification_filter{}) } -> std::same_as<std::vector<qualification>>;
    s.delete_qualification(sv);
    s.grant_qualification(q, w, 1);
    s.revoke_qualification(q, w);
    { s.get_granted_qualification(q, w) } -> std::same_as<granted_qualification>;
    { s.find_granted_qualifications(granted_qualification_filter{}) } -> std::same_as<std::vector<granted_qualification>>;
};

/// Runs a callable atomically.
template <class S>
concept transactional_store = requires(S& s) {
    { s.transaction([] { return 1; }) } -> std::same_as<int>;
};

/// Everything a campaign keeps: the whole of ARCHITECTURE §4.
template <class S>
concept store = project_store<S> && run_store<S> && unit_store<S> && worker_store<S> && qualification_store<S> &&
                transactional_store<S>;

namespace detail {
/// Names the first missing piece of `store` for the entry-point message.
template <class S>
constexpr void check_store() {
    static_assert(requires(S& s, assignment_id a) { s.new_unit(a, 0, 0.0); },
                  "crowdline::store: the type lacks new_unit(assignment_id, int unit_index, double pay_amount) -> unit_id");
    static_assert(project_store<S>, "crowdline::store: the type does not model crowdline::project_store "
                                    "(new_project/get_project/find_projects/new_task/…/find_requesters)");
    static_assert(run_store<S>, "crowdline::store: the type does not model crowdline::run_store "
                                "(new_task_run/get_task_run/find_task_runs/update_task_run/new_assignment/…)");
    static_assert(unit_store<S>, "crowdline::store: the type does not model crowdline::unit_store "
                                 "(new_unit/get_unit/find_units/update_unit/clear_unit_agent_assignment/new_agent/…)");
    static_assert(worker_store<S>, "crowdline::store: the type does not model crowdline::worker_store "
                                   "(new_worker/get_worker/find_workers/onboarding agents/worker reviews)");
    static_assert(qualification_store<S>, "crowdline::store: the type does not model crowdline::qualification_store "
                                          "(make_qualification/…/get_granted_qualification)");
    static_assert(transactional_store<S>, "crowdline::store: the type lacks transaction(F) -> invoke_result_t<F>");
}
}  // namespace detail

/// Entry-point check: `static_assert`s with a message naming what `S` lacks, then true.
template <class S>
constexpr bool assert_store() {
    detail::check_store<S>();
    return store<S>;
}

}  // namespace crowdline
