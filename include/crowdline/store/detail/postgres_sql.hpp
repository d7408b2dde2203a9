#pragma once
/// The SQL text `stores::postgres` runs that is written or built once, not per call: the column lists of the
/// records (the same as SQLite's, in the records' member order), the compare-and-set status updates and the
/// claim. PostgreSQL numbers its parameters `$1`, `$2`, … and can return the new id from the INSERT itself.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <crowdline/model/status.hpp>
#include <crowdline/store/detail/sql_text.hpp>

namespace crowdline::stores {

namespace detail::postgres_sql {

/// The unit statuses in which a unit is a worker's: being done, or done. The partial unique index of the
/// schema (migration 001) and the claim's own check both use this list; they must agree.
inline constexpr char live_statuses[] = "'assigned','completed','accepted','rejected','soft_rejected'";

/// The column lists and `predecessors`, shared with the other SQL store.
using namespace sql_text;

/// The status updates with this store's parameter mark (`$1`).
inline std::string const& update_unit(unit_status to) { return sql_text::update_unit<'$'>(to); }
inline std::string update_agent(std::string_view table, std::string_view id_column, agent_status to, bool with_state) {
    return sql_text::update_agent('$', table, id_column, to, with_state);
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
