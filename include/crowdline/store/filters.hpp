#pragma once
/// Typed query filters, one per entity. Every member is optional and unset means "any"; members are
/// declared in ARCHITECTURE §4 order so designated initializers read naturally:
/// `db.find_units({.task_run = run, .status = unit_status::launched})`.

#include <optional>
#include <string>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline {

struct project_filter {
    std::optional<std::string> name{};
};
struct task_filter {
    std::optional<std::string> name{};
    std::optional<project_id> project{};
};
struct requester_filter {
    std::optional<std::string> name{};
    std::optional<std::string> provider_type{};
};
struct task_run_filter {
    std::optional<task_id> task{};
    std::optional<requester_id> requester{};
    std::optional<bool> is_completed{};
};
struct assignment_filter {
    std::optional<task_run_id> task_run{};
    std::optional<task_id> task{};
    std::optional<requester_id> requester{};
};
struct unit_filter {
    std::optional<task_run_id> task_run{};
    std::optional<assignment_id> assignment{};
    std::optional<worker_id> worker{};
    std::optional<agent_id> agent{};
    std::optional<unit_status> status{};
    std::optional<task_id> task{};
};
struct worker_filter {
    std::optional<std::string> name{};
    std::optional<std::string> provider_type{};
};
struct agent_filter {
    std::optional<worker_id> worker{};
    std::optional<unit_id> unit{};
    std::optional<task_run_id> task_run{};
    std::optional<assignment_id> assignment{};
    std::optional<agent_status> status{};
};
struct onboarding_agent_filter {
    std::optional<worker_id> worker{};
    std::optional<task_run_id> task_run{};
    std::optional<agent_status> status{};
};
struct qualification_filter {
    std::optional<std::string> name{};
};
struct granted_qualification_filter {
    std::optional<worker_id> worker{};
    std::optional<qualification_id> qualification{};
};
struct worker_review_filter {
    std::optional<worker_id> worker{};
    std::optional<unit_id> unit{};
};

}  // namespace crowdline
