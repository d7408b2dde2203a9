#pragma once
/// The records of a campaign, one per table of Mephisto's schema. Plain aggregates; each is adapted as a
/// Boost.Hana Struct so one definition gives JSON in both directions (see `model/json.hpp`).

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/reflect.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline {

/// A named group of tasks.
struct project {
    project_id id{};
    std::string name{};
};

/// A kind of work with a stable name; runs of the same task share limits (`maximum_units_per_worker`).
struct task {
    task_id id{};
    std::string name{};
    std::string task_type{};
    std::optional<project_id> project{};
    std::optional<task_id> parent_task{};
};

/// Who pays for the work, on one provider.
struct requester {
    requester_id id{};
    std::string name{};
    std::string provider_type{};
};

/// One launch of a task with its full configuration.
struct task_run {
    task_run_id id{};
    task_id task{};
    requester_id requester{};
    nlohmann::json init_params{};
    bool is_completed = false;
    std::string provider_type{};
    std::string task_type{};
    bool sandbox = true;
};

/// One item of input data; split into units that different workers do.
struct assignment {
    assignment_id id{};
    task_id task{};
    task_run_id task_run{};
    requester_id requester{};
    std::string task_type{};
    std::string provider_type{};
    bool sandbox = true;
};

/// The smallest piece of work one worker does once (a seat of an assignment).
struct unit {
    unit_id id{};
    assignment_id assignment{};
    int unit_index = 0;
    double pay_amount = 0;
    std::string provider_type{};
    unit_status status = unit_status::created;
    std::optional<agent_id> agent{};
    std::optional<worker_id> worker{};
    std::string task_type{};
    task_id task{};
    task_run_id task_run{};
    bool sandbox = true;
    requester_id requester{};
};

/// A person known to a provider.
struct worker {
    worker_id id{};
    std::string name{};
    std::string provider_type{};
};

/// One worker's attempt at one unit, with what they sent (`state`, Mephisto's AgentState).
struct agent {
    agent_id id{};
    worker_id worker{};
    unit_id unit{};
    task_id task{};
    task_run_id task_run{};
    assignment_id assignment{};
    std::string task_type{};
    std::string provider_type{};
    agent_status status = agent_status::none;
    nlohmann::json state{};
};

/// One worker's attempt at a run's onboarding.
struct onboarding_agent {
    onboarding_agent_id id{};
    worker_id worker{};
    task_id task{};
    task_run_id task_run{};
    std::string task_type{};
    agent_status status = agent_status::none;
    nlohmann::json state{};
};

/// A named property a worker may hold (passed onboarding, reads French, accuracy …).
struct qualification {
    qualification_id id{};
    std::string name{};
    std::string description{};
};

/// A qualification held by a worker, with its value.
struct granted_qualification {
    qualification_id qualification{};
    worker_id worker{};
    int value = 1;
};

/// A requester's judgement of a worker's unit (approve/reject/bonus/block/qualification change).
struct worker_review {
    worker_review_id id{};
    std::optional<unit_id> unit{};
    worker_id worker{};
    std::optional<task_id> task{};
    std::optional<std::string> status{};
    std::optional<std::string> review_note{};
    std::optional<double> bonus{};
    bool blocked_worker = false;
    std::optional<qualification_id> updated_qualification{};
    std::optional<int> updated_qualification_value{};
    std::optional<qualification_id> revoked_qualification{};
};

}  // namespace crowdline

CROWDLINE_REFLECT(crowdline::project, id, name);
CROWDLINE_REFLECT(crowdline::task, id, name, task_type, project, parent_task);
CROWDLINE_REFLECT(crowdline::requester, id, name, provider_type);
CROWDLINE_REFLECT(crowdline::task_run, id, task, requester, init_params, is_completed, provider_type, task_type,
                  sandbox);
CROWDLINE_REFLECT(crowdline::assignment, id, task, task_run, requester, task_type, provider_type, sandbox);
CROWDLINE_REFLECT(crowdline::unit, id, assignment, unit_index, pay_amount, provider_type, status, agent, worker,
                  task_type, task, task_run, sandbox, requester);
CROWDLINE_REFLECT(crowdline::worker, id, name, provider_type);
CROWDLINE_REFLECT(crowdline::agent, id, worker, unit, task, task_run, assignment, task_type, provider_type, status,
                  state);
CROWDLINE_REFLECT(crowdline::onboarding_agent, id, worker, task, task_run, task_type, status, state);
CROWDLINE_REFLECT(crowdline::qualification, id, name, description);
CROWDLINE_REFLECT(crowdline::granted_qualification, qualification, worker, value);
CROWDLINE_REFLECT(crowdline::worker_review, id, unit, worker, task, status, review_note, bonus, blocked_worker,
                  updated_qualification, updated_qualification_value, revoked_qualification);
