#pragma once
/// The SQL text `stores::sqlite` runs that is written or built once, not per call: the column lists of the
/// records, the compare-and-set status updates, and the claim. The benchmarks replay it against the bare C API.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <crowdline/model/status.hpp>
#include <crowdline/store/detail/sql_text.hpp>

namespace crowdline::stores {

namespace detail::sqlite_sql {

/// The column lists and `predecessors`, shared with the other SQL store.
using namespace sql_text;

/// The status updates with this store's parameter mark (`?1`).
inline std::string const& update_unit(unit_status to) { return sql_text::update_unit<'?'>(to); }
inline std::string update_agent(std::string_view table, std::string_view id_column, agent_status to, bool with_state) {
    return sql_text::update_agent('?', table, id_column, to, with_state);
}

inline constexpr char claim_insert_agent[] =
    "INSERT INTO agents (worker_id, unit_id, task_id, task_run_id, assignment_id, task_type, provider_type, status) "
    "SELECT ?1, unit_id, task_id, task_run_id, assignment_id, task_type, provider_type, 'none' FROM units "
    "WHERE unit_id = ?2 AND status = 'launched'";
inline constexpr char claim_update_unit[] =
    "UPDATE units SET status = 'assigned', agent_id = ?1, worker_id = ?2 WHERE unit_id = ?3 AND status = 'launched'";
inline constexpr char insert_unit[] =
    "INSERT INTO units (assignment_id, unit_index, pay_amount, provider_type, status, task_type, task_id, task_run_id, "
    "sandbox, requester_id) SELECT assignment_id, ?2, ?3, provider_type, 'created', task_type, task_id, task_run_id, "
    "sandbox, requester_id FROM assignments WHERE assignment_id = ?1";
inline constexpr char get_granted[] =
    "SELECT value FROM granted_qualifications WHERE qualification_id = ?1 AND worker_id = ?2";

}  // namespace detail::sqlite_sql

}  // namespace crowdline::stores
