#pragma once
/// The SQL text `stores::postgres` runs that is written or built once, not per call: the column lists of the
/// records (the same as SQLite's, in the records' member order), the compare-and-set status updates and the
/// claim. PostgreSQL numbers its parameters `$1`, `$2`, … and can return the new id from the INSERT itself.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <crowdline/model/status.hpp>

namespace crowdline::stores {

namespace detail::postgres_sql {

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

/// The unit statuses in which a unit is a worker's: being done, or done. The partial unique index of the
/// schema (migration 001) and the claim's own check both use this list; they must agree.
inline constexpr char live_statuses[] = "'assigned','completed','accepted','rejected','soft_rejected'";

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

/// One statement that changes a unit's status only if the machine allows it (a fresh seat drops its agent).
inline std::string const& update_unit(unit_status to) {
    static auto const texts = [] {
        std::array<std::string, 8> t;
        for (std::size_t i = 0; i < t.size(); ++i) {
            auto s = static_cast<unit_status>(i);
            bool fresh = s == unit_status::launched || s == unit_status::created;
            t[i] = std::string("UPDATE units SET status = $1") + (fresh ? ", agent_id = NULL, worker_id = NULL" : "") +
                   " WHERE unit_id = $2 AND status IN (" +
                   predecessors(s, crowdline::detail::status_traits<unit_status>::names) + ")";
        }
        return t;
    }();
    return texts[static_cast<std::size_t>(to)];
}

/// Same for agents (and onboarding agents), optionally storing the worker's data in the same statement.
inline std::string update_agent(std::string_view table, std::string_view id_column, agent_status to, bool with_state) {
    return "UPDATE " + std::string(table) + " SET status = $1" + (with_state ? ", state = $3" : "") + " WHERE " +
           std::string(id_column) + " = $2 AND status IN (" +
           predecessors(to, crowdline::detail::status_traits<agent_status>::names) + ")";
}

/// The claim, one statement: the UPDATE is the compare-and-set (`status = 'launched'`; a second connection
/// racing for the row waits for the first to commit, then finds it assigned and changes nothing), and the
/// agent row is made from what it returns, with the id the unit now names. A missing worker, or a worker who
/// already holds a unit of the assignment (the unique index would refuse it), changes nothing either;
/// the caller tells the cases apart. $1 worker, $2 unit.
inline std::string const& claim() {
    static std::string const text =
        std::string("WITH claimed AS (UPDATE units SET status = 'assigned', worker_id = $1, "
                    "agent_id = nextval(pg_get_serial_sequence('agents', 'agent_id')) "
                    "WHERE unit_id = $2 AND status = 'launched' AND EXISTS (SELECT 1 FROM workers WHERE worker_id = $1) "
                    "AND NOT EXISTS (SELECT 1 FROM units held WHERE held.assignment_id = units.assignment_id "
                    "AND held.worker_id = $1 AND held.status IN (") +
        live_statuses +
        ")) RETURNING agent_id, unit_id, task_id, task_run_id, assignment_id, task_type, provider_type) "
        "INSERT INTO agents (agent_id, worker_id, unit_id, task_id, task_run_id, assignment_id, task_type, "
        "provider_type, status) SELECT agent_id, $1, unit_id, task_id, task_run_id, assignment_id, task_type, "
        "provider_type, 'none' FROM claimed RETURNING agent_id";
    return text;
}

/// $1 assignment, $2 index, $3 pay. No row back: the assignment is missing or the index taken.
inline constexpr char insert_unit[] =
    "INSERT INTO units (assignment_id, unit_index, pay_amount, provider_type, status, task_type, task_id, task_run_id, "
    "sandbox, requester_id) SELECT assignment_id, $2, $3, provider_type, 'created', task_type, "
    "task_id, task_run_id, sandbox, requester_id FROM assignments WHERE assignment_id = $1 "
    "ON CONFLICT DO NOTHING RETURNING unit_id";
inline constexpr char get_granted[] =
    "SELECT value FROM granted_qualifications WHERE qualification_id = $1 AND worker_id = $2";

}  // namespace detail::postgres_sql

}  // namespace crowdline::stores
