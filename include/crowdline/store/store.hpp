#pragma once
/// The `crowdline::store` concept: everything a campaign keeps. Each method is one small concept
/// (`store_finds_agents` …), grouped into one concept per group of tables (`unit_store` …);
/// `detail::check_store` asserts each small concept, so a backend missing a method is told which.
///
/// One model: `crowdline::stores::memory` (store/memory.hpp). One non-model: any type without
/// `new_unit`, e.g. `struct not_a_store {};` — see tests/static/store_concepts.cpp.

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline {

// ---- one concept per method (the two update_agent forms together); `detail::check_store` names the method
// of each that fails ------------------------------------------------------------------------------------

template <class S>
concept store_creates_projects = requires(S& s, std::string_view name) {
    { s.new_project(name) } -> std::same_as<project_id>;
};
template <class S>
concept store_gets_projects = requires(S& s, project_id p) {
    { s.get_project(p) } -> std::same_as<project>;
};
template <class S>
concept store_finds_projects = requires(S& s) {
    { s.find_projects(project_filter{}) } -> std::same_as<std::vector<project>>;
};
/// `new_task(name, task_type, project)`.
template <class S>
concept store_creates_tasks = requires(S& s, std::string_view name, project_id p) {
    { s.new_task(name, name, p) } -> std::same_as<task_id>;
};
template <class S>
concept store_gets_tasks = requires(S& s, task_id t) {
    { s.get_task(t) } -> std::same_as<task>;
};
template <class S>
concept store_finds_tasks = requires(S& s) {
    { s.find_tasks(task_filter{}) } -> std::same_as<std::vector<task>>;
};
/// `update_task(task, new name, new project)`: an empty optional leaves that column as it is.
template <class S>
concept store_updates_tasks = requires(S& s, task_id t) {
    s.update_task(t, std::optional<std::string>{}, std::optional<project_id>{});
};
/// `new_requester(name, provider_type)`.
template <class S>
concept store_creates_requesters = requires(S& s, std::string_view name) {
    { s.new_requester(name, name) } -> std::same_as<requester_id>;
};
template <class S>
concept store_gets_requesters = requires(S& s, requester_id r) {
    { s.get_requester(r) } -> std::same_as<requester>;
};
template <class S>
concept store_finds_requesters = requires(S& s) {
    { s.find_requesters(requester_filter{}) } -> std::same_as<std::vector<requester>>;
};

/// `new_task_run(task, requester, init_params, provider_type, task_type, sandbox)`.
template <class S>
concept store_creates_task_runs = requires(S& s, task_id t, requester_id r, std::string_view sv) {
    { s.new_task_run(t, r, nlohmann::json{}, sv, sv, true) } -> std::same_as<task_run_id>;
};
template <class S>
concept store_gets_task_runs = requires(S& s, task_run_id run) {
    { s.get_task_run(run) } -> std::same_as<task_run>;
};
template <class S>
concept store_finds_task_runs = requires(S& s) {
    { s.find_task_runs(task_run_filter{}) } -> std::same_as<std::vector<task_run>>;
};
/// `update_task_run(run, is_completed)`.
template <class S>
concept store_updates_task_runs = requires(S& s, task_run_id run) { s.update_task_run(run, true); };
template <class S>
concept store_creates_assignments = requires(S& s, task_run_id run) {
    { s.new_assignment(run) } -> std::same_as<assignment_id>;
};
template <class S>
concept store_gets_assignments = requires(S& s, assignment_id a) {
    { s.get_assignment(a) } -> std::same_as<assignment>;
};
template <class S>
concept store_finds_assignments = requires(S& s) {
    { s.find_assignments(assignment_filter{}) } -> std::same_as<std::vector<assignment>>;
};

/// `new_unit(assignment, unit_index, pay_amount)`.
template <class S>
concept store_creates_units = requires(S& s, assignment_id a) {
    { s.new_unit(a, 0, 0.0) } -> std::same_as<unit_id>;
};
template <class S>
concept store_gets_units = requires(S& s, unit_id u) {
    { s.get_unit(u) } -> std::same_as<unit>;
};
template <class S>
concept store_finds_units = requires(S& s) {
    { s.find_units(unit_filter{}) } -> std::same_as<std::vector<unit>>;
};
template <class S>
concept store_updates_units = requires(S& s, unit_id u) { s.update_unit(u, unit_status::launched); };
template <class S>
concept store_clears_unit_agents = requires(S& s, unit_id u) { s.clear_unit_agent_assignment(u); };
template <class S>
concept store_creates_agents = requires(S& s, worker_id w, unit_id u) {
    { s.new_agent(w, u) } -> std::same_as<agent_id>;
};
template <class S>
concept store_gets_agents = requires(S& s, agent_id ag) {
    { s.get_agent(ag) } -> std::same_as<agent>;
};
template <class S>
concept store_finds_agents = requires(S& s) {
    { s.find_agents(agent_filter{}) } -> std::same_as<std::vector<agent>>;
};
/// Both forms: the status alone, and the status with the agent's saved state.
template <class S>
concept store_updates_agents = requires(S& s, agent_id ag) {
    s.update_agent(ag, agent_status::in_task);
    s.update_agent(ag, agent_status::completed, nlohmann::json{});
};
template <class S>
concept store_creates_onboarding_agents = requires(S& s, worker_id w, task_run_id run) {
    { s.new_onboarding_agent(w, run) } -> std::same_as<onboarding_agent_id>;
};

/// `new_worker(name, provider_type)`.
template <class S>
concept store_creates_workers = requires(S& s, std::string_view sv) {
    { s.new_worker(sv, sv) } -> std::same_as<worker_id>;
};
template <class S>
concept store_gets_workers = requires(S& s, worker_id w) {
    { s.get_worker(w) } -> std::same_as<worker>;
};
template <class S>
concept store_finds_workers = requires(S& s) {
    { s.find_workers(worker_filter{}) } -> std::same_as<std::vector<worker>>;
};
template <class S>
concept store_gets_onboarding_agents = requires(S& s, onboarding_agent_id o) {
    { s.get_onboarding_agent(o) } -> std::same_as<onboarding_agent>;
};
template <class S>
concept store_finds_onboarding_agents = requires(S& s) {
    { s.find_onboarding_agents(onboarding_agent_filter{}) } -> std::same_as<std::vector<onboarding_agent>>;
};
template <class S>
concept store_updates_onboarding_agents = requires(S& s, onboarding_agent_id o) {
    s.update_onboarding_agent(o, agent_status::onboarding);
};
template <class S>
concept store_creates_worker_reviews = requires(S& s) { s.new_worker_review(worker_review{}); };
template <class S>
concept store_finds_worker_reviews = requires(S& s) {
    { s.find_worker_reviews(worker_review_filter{}) } -> std::same_as<std::vector<worker_review>>;
};

/// `make_qualification(name, description)`.
template <class S>
concept store_makes_qualifications = requires(S& s, std::string_view sv) {
    { s.make_qualification(sv, sv) } -> std::same_as<qualification_id>;
};
template <class S>
concept store_gets_qualifications = requires(S& s, qualification_id q) {
    { s.get_qualification(q) } -> std::same_as<qualification>;
};
template <class S>
concept store_finds_qualifications = requires(S& s) {
    { s.find_qualifications(qualification_filter{}) } -> std::same_as<std::vector<qualification>>;
};
/// `delete_qualification(name)`.
template <class S>
concept store_deletes_qualifications = requires(S& s, std::string_view sv) { s.delete_qualification(sv); };
/// `grant_qualification(qualification, worker, value)`.
template <class S>
concept store_grants_qualifications = requires(S& s, qualification_id q, worker_id w) {
    s.grant_qualification(q, w, 1);
};
template <class S>
concept store_revokes_qualifications = requires(S& s, qualification_id q, worker_id w) {
    s.revoke_qualification(q, w);
};
template <class S>
concept store_gets_granted_qualifications = requires(S& s, qualification_id q, worker_id w) {
    { s.get_granted_qualification(q, w) } -> std::same_as<granted_qualification>;
};
template <class S>
concept store_finds_granted_qualifications = requires(S& s) {
    { s.find_granted_qualifications(granted_qualification_filter{}) } -> std::same_as<std::vector<granted_qualification>>;
};

/// Runs a callable atomically.
template <class S>
concept transactional_store = requires(S& s) {
    { s.transaction([] { return 1; }) } -> std::same_as<int>;
};

// ---- the groups: one per group of tables --------------------------------------------------------------

/// Projects, tasks and requesters.
template <class S>
concept project_store = store_creates_projects<S> && store_gets_projects<S> && store_finds_projects<S> &&
                        store_creates_tasks<S> && store_gets_tasks<S> && store_finds_tasks<S> &&
                        store_updates_tasks<S> && store_creates_requesters<S> && store_gets_requesters<S> &&
                        store_finds_requesters<S>;

/// Task runs and assignments.
template <class S>
concept run_store = store_creates_task_runs<S> && store_gets_task_runs<S> && store_finds_task_runs<S> &&
                    store_updates_task_runs<S> && store_creates_assignments<S> && store_gets_assignments<S> &&
                    store_finds_assignments<S>;

/// Units and the agents that claim them.
template <class S>
concept unit_store = store_creates_units<S> && store_gets_units<S> && store_finds_units<S> && store_updates_units<S> &&
                     store_clears_unit_agents<S> && store_creates_agents<S> && store_gets_agents<S> &&
                     store_finds_agents<S> && store_updates_agents<S> && store_creates_onboarding_agents<S>;

/// Workers, onboarding agents and reviews.
template <class S>
concept worker_store = store_creates_workers<S> && store_gets_workers<S> && store_finds_workers<S> &&
                       store_gets_onboarding_agents<S> && store_finds_onboarding_agents<S> &&
                       store_updates_onboarding_agents<S> && store_creates_worker_reviews<S> &&
                       store_finds_worker_reviews<S>;

/// Qualifications and their grants.
template <class S>
concept qualification_store = store_makes_qualifications<S> && store_gets_qualifications<S> &&
                              store_finds_qualifications<S> && store_deletes_qualifications<S> &&
                              store_grants_qualifications<S> && store_revokes_qualifications<S> &&
                              store_gets_granted_qualifications<S> && store_finds_granted_qualifications<S>;

/// Everything a campaign keeps: the whole of ARCHITECTURE §4.
template <class S>
concept store = project_store<S> && run_store<S> && unit_store<S> && worker_store<S> && qualification_store<S> &&
                transactional_store<S>;

/// Optional, beyond `store`: small records a component keeps for itself (a provider's study ids, its
/// payment ledger), as text values under a key within a scope. `put_value` inserts or replaces;
/// `find_values(scope)` answers in the order keys were first put. Inside `transaction` these roll back
/// with everything else, which is what lets a provider record a step and its effect atomically.
template <class S>
concept keyed_store = requires(S& s, std::string_view sv) {
    { s.get_value(sv, sv) } -> std::same_as<std::optional<std::string>>;
    s.put_value(sv, sv, sv);
    { s.find_values(sv) } -> std::same_as<std::vector<std::pair<std::string, std::string>>>;
};

namespace detail {
/// Names each missing method of `store` for the entry-point message.
template <class S>
constexpr void check_store() {
    // projects, tasks, requesters
    static_assert(store_creates_projects<S>,
                  "crowdline::store: the type lacks new_project(std::string_view name) -> project_id");
    static_assert(store_gets_projects<S>, "crowdline::store: the type lacks get_project(project_id) -> project");
    static_assert(store_finds_projects<S>,
                  "crowdline::store: the type lacks find_projects(project_filter) -> std::vector<project>");
    static_assert(store_creates_tasks<S>, "crowdline::store: the type lacks new_task(std::string_view name, "
                                          "std::string_view task_type, project_id) -> task_id");
    static_assert(store_gets_tasks<S>, "crowdline::store: the type lacks get_task(task_id) -> task");
    static_assert(store_finds_tasks<S>,
                  "crowdline::store: the type lacks find_tasks(task_filter) -> std::vector<task>");
    static_assert(store_updates_tasks<S>, "crowdline::store: the type lacks update_task(task_id, "
                                          "std::optional<std::string> name, std::optional<project_id>)");
    static_assert(store_creates_requesters<S>, "crowdline::store: the type lacks new_requester(std::string_view name, "
                                               "std::string_view provider_type) -> requester_id");
    static_assert(store_gets_requesters<S>,
                  "crowdline::store: the type lacks get_requester(requester_id) -> requester");
    static_assert(store_finds_requesters<S>,
                  "crowdline::store: the type lacks find_requesters(requester_filter) -> std::vector<requester>");
    // task runs, assignments
    static_assert(store_creates_task_runs<S>,
                  "crowdline::store: the type lacks new_task_run(task_id, requester_id, nlohmann::json init_params, "
                  "std::string_view provider_type, std::string_view task_type, bool sandbox) -> task_run_id");
    static_assert(store_gets_task_runs<S>, "crowdline::store: the type lacks get_task_run(task_run_id) -> task_run");
    static_assert(store_finds_task_runs<S>,
                  "crowdline::store: the type lacks find_task_runs(task_run_filter) -> std::vector<task_run>");
    static_assert(store_updates_task_runs<S>,
                  "crowdline::store: the type lacks update_task_run(task_run_id, bool is_completed)");
    static_assert(store_creates_assignments<S>,
                  "crowdline::store: the type lacks new_assignment(task_run_id) -> assignment_id");
    static_assert(store_gets_assignments<S>,
                  "crowdline::store: the type lacks get_assignment(assignment_id) -> assignment");
    static_assert(store_finds_assignments<S>,
                  "crowdline::store: the type lacks find_assignments(assignment_filter) -> std::vector<assignment>");
    // units, agents
    static_assert(store_creates_units<S>,
                  "crowdline::store: the type lacks new_unit(assignment_id, int unit_index, double pay_amount) -> unit_id");
    static_assert(store_gets_units<S>, "crowdline::store: the type lacks get_unit(unit_id) -> unit");
    static_assert(store_finds_units<S>,
                  "crowdline::store: the type lacks find_units(unit_filter) -> std::vector<unit>");
    static_assert(store_updates_units<S>, "crowdline::store: the type lacks update_unit(unit_id, unit_status)");
    static_assert(store_clears_unit_agents<S>, "crowdline::store: the type lacks clear_unit_agent_assignment(unit_id)");
    static_assert(store_creates_agents<S>,
                  "crowdline::store: the type lacks new_agent(worker_id, unit_id) -> agent_id");
    static_assert(store_gets_agents<S>, "crowdline::store: the type lacks get_agent(agent_id) -> agent");
    static_assert(store_finds_agents<S>,
                  "crowdline::store: the type lacks find_agents(agent_filter) -> std::vector<agent>");
    static_assert(store_updates_agents<S>, "crowdline::store: the type lacks update_agent(agent_id, agent_status) or "
                                           "update_agent(agent_id, agent_status, nlohmann::json state)");
    static_assert(store_creates_onboarding_agents<S>,
                  "crowdline::store: the type lacks new_onboarding_agent(worker_id, task_run_id) -> onboarding_agent_id");
    // workers, onboarding agents, reviews
    static_assert(store_creates_workers<S>, "crowdline::store: the type lacks new_worker(std::string_view name, "
                                            "std::string_view provider_type) -> worker_id");
    static_assert(store_gets_workers<S>, "crowdline::store: the type lacks get_worker(worker_id) -> worker");
    static_assert(store_finds_workers<S>,
                  "crowdline::store: the type lacks find_workers(worker_filter) -> std::vector<worker>");
    static_assert(store_gets_onboarding_agents<S>,
                  "crowdline::store: the type lacks get_onboarding_agent(onboarding_agent_id) -> onboarding_agent");
    static_assert(store_finds_onboarding_agents<S>,
                  "crowdline::store: the type lacks find_onboarding_agents(onboarding_agent_filter) -> "
                  "std::vector<onboarding_agent>");
    static_assert(store_updates_onboarding_agents<S>,
                  "crowdline::store: the type lacks update_onboarding_agent(onboarding_agent_id, agent_status)");
    static_assert(store_creates_worker_reviews<S>, "crowdline::store: the type lacks new_worker_review(worker_review)");
    static_assert(store_finds_worker_reviews<S>,
                  "crowdline::store: the type lacks find_worker_reviews(worker_review_filter) -> "
                  "std::vector<worker_review>");
    // qualifications
    static_assert(store_makes_qualifications<S>, "crowdline::store: the type lacks make_qualification(std::string_view "
                                                 "name, std::string_view description) -> qualification_id");
    static_assert(store_gets_qualifications<S>,
                  "crowdline::store: the type lacks get_qualification(qualification_id) -> qualification");
    static_assert(store_finds_qualifications<S>,
                  "crowdline::store: the type lacks find_qualifications(qualification_filter) -> "
                  "std::vector<qualification>");
    static_assert(store_deletes_qualifications<S>,
                  "crowdline::store: the type lacks delete_qualification(std::string_view name)");
    static_assert(store_grants_qualifications<S>,
                  "crowdline::store: the type lacks grant_qualification(qualification_id, worker_id, int value)");
    static_assert(store_revokes_qualifications<S>,
                  "crowdline::store: the type lacks revoke_qualification(qualification_id, worker_id)");
    static_assert(store_gets_granted_qualifications<S>,
                  "crowdline::store: the type lacks get_granted_qualification(qualification_id, worker_id) -> "
                  "granted_qualification");
    static_assert(store_finds_granted_qualifications<S>,
                  "crowdline::store: the type lacks find_granted_qualifications(granted_qualification_filter) -> "
                  "std::vector<granted_qualification>");
    // transactions
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
