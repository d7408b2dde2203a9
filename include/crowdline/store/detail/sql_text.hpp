#pragma once
/// SQL that both SQL stores run, written once: the records' column lists (in the records' member order) and
/// the compare-and-set status updates, whose parameters each store marks its own way (`?1` in SQLite, `$1`
/// in PostgreSQL). `detail::sqlite_sql` and `detail::postgres_sql` add what differs.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <crowdline/model/status.hpp>

namespace crowdline::stores::detail::sql_text {

inline constexpr char project_columns[] = "project_id, project_name";
inline constexpr char task_columns[] = "task_id, task_name, task_type, project_id, parent_task_id";
inline constexpr char requester_columns[] = "requester_id, requester_name, provider_type";
inline constexpr char task_run_columns[] =
    "task_run_id, task_id, requester_id, init_params, is_completed, provider_type, task_type, sandbox";
inline constexpr char assignment_columns[] =
    "assignment_id, task_id, task_run_id, requester_id, task_type, provider_type, sandbox";
inline constexpr char unit_columns[] =
    "unit_id, assignment_id, unit_index, pay_amount, provider_type, status, agent_id, worker_id, task_type, task_id, "
    "task_run_id, sandbox, requester_id";
inline constexpr char worker_columns[] = "worker_id, worker_name, provider_type";
inline constexpr char agent_columns[] =
    "agent_id, worker_id, unit_id, task_id, task_run_id, assignment_id, task_type, provider_type, status, state";
inline constexpr char onboarding_agent_columns[] =
    "onboarding_agent_id, worker_id, task_id, task_run_id, task_type, status, state";
inline constexpr char qualification_columns[] = "qualification_id, qualification_name, description";
inline constexpr char worker_review_columns[] =
    "worker_review_id, unit_id, worker_id, task_id, status, review_note, bonus, blocked_worker, "
    "updated_qualification_id, updated_qualification_value, revoked_qualification_id";

/// `'a','b'` — the statuses from which `to` may be reached, for a compare-and-set WHERE clause.
template <class Status, std::size_t N>
std::string predecessors(Status to, std::array<std::string_view, N> const& names) {
    std::string out;
    for (std::size_t i = 0; i < N; ++i)
        if (can_transition(static_cast<Status>(i), to)) {
            if (!out.empty()) out += ',';
            out += '\'';
            out += names[i];
            out += '\'';
        }
    return out.empty() ? "NULL" : out;
}

/// One statement that changes a unit's status only if the machine allows it (a fresh seat drops its agent);
/// `Mark` is the store's parameter mark.
template <char Mark>
std::string const& update_unit(unit_status to) {
    static auto const texts = [] {
        std::array<std::string, crowdline::detail::status_traits<unit_status>::names.size()> t;
        for (std::size_t i = 0; i < t.size(); ++i) {
            auto s = static_cast<unit_status>(i);
            bool fresh = s == unit_status::launched || s == unit_status::created;
            t[i] = std::string("UPDATE units SET status = ") + Mark + "1" +
                   (fresh ? ", agent_id = NULL, worker_id = NULL" : "") + " WHERE unit_id = " + Mark +
                   "2 AND status IN (" + predecessors(s, crowdline::detail::status_traits<unit_status>::names) + ")";
        }
        return t;
    }();
    return texts[static_cast<std::size_t>(to)];
}

/// Same for agents (and onboarding agents), optionally storing the worker's data in the same statement.
inline std::string update_agent(char mark, std::string_view table, std::string_view id_column, agent_status to,
                                bool with_state) {
    return "UPDATE " + std::string(table) + " SET status = " + mark + "1" +
           (with_state ? std::string(", state = ") + mark + "3" : std::string()) + " WHERE " + std::string(id_column) +
           " = " + mark + "2 AND status IN (" +
           predecessors(to, crowdline::detail::status_traits<agent_status>::names) + ")";
}

}  // namespace crowdline::stores::detail::sql_text
