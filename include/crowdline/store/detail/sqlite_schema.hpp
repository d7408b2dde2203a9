#pragma once
/// The schema of a crowdline SQLite file: the migrations that build it, oldest first, the `application_id`
/// that marks the file as crowdline's, and applying the migrations a file lacks. `sqlite_migration`,
/// `sqlite_migrations()` and `sqlite_application_id` are public names, reached through store/sqlite.hpp.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <crowdline/errors.hpp>
#include <crowdline/store/detail/sqlite_statement_cache.hpp>

namespace crowdline::stores {

/// A named schema step; applied once, in order, recorded in `crowdline_migrations`.
struct sqlite_migration {
    std::string_view name;
    std::string_view sql;
};

/// Every schema step this build knows, oldest first. A file is at version N when the first N are applied.
inline std::span<sqlite_migration const> sqlite_migrations() noexcept {
    static constexpr std::array<sqlite_migration, 4> steps{{
        {"001_initial", R"sql(
CREATE TABLE projects (
  project_id INTEGER PRIMARY KEY, project_name TEXT NOT NULL UNIQUE,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE tasks (
  task_id INTEGER PRIMARY KEY, task_name TEXT NOT NULL UNIQUE, task_type TEXT NOT NULL,
  project_id INTEGER REFERENCES projects(project_id), parent_task_id INTEGER REFERENCES tasks(task_id),
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE requesters (
  requester_id INTEGER PRIMARY KEY, requester_name TEXT NOT NULL UNIQUE, provider_type TEXT NOT NULL,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE task_runs (
  task_run_id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL REFERENCES tasks(task_id),
  requester_id INTEGER NOT NULL REFERENCES requesters(requester_id), init_params TEXT NOT NULL,
  is_completed INTEGER NOT NULL DEFAULT 0, provider_type TEXT NOT NULL, task_type TEXT NOT NULL,
  sandbox INTEGER NOT NULL, creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE assignments (
  assignment_id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL REFERENCES tasks(task_id),
  task_run_id INTEGER NOT NULL REFERENCES task_runs(task_run_id),
  requester_id INTEGER NOT NULL REFERENCES requesters(requester_id), task_type TEXT NOT NULL,
  provider_type TEXT NOT NULL, sandbox INTEGER NOT NULL,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE workers (
  worker_id INTEGER PRIMARY KEY, worker_name TEXT NOT NULL UNIQUE, provider_type TEXT NOT NULL,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE units (
  unit_id INTEGER PRIMARY KEY, assignment_id INTEGER NOT NULL REFERENCES assignments(assignment_id),
  unit_index INTEGER NOT NULL, pay_amount REAL NOT NULL, provider_type TEXT NOT NULL, status TEXT NOT NULL,
  agent_id INTEGER REFERENCES agents(agent_id), worker_id INTEGER REFERENCES workers(worker_id),
  task_type TEXT NOT NULL, task_id INTEGER NOT NULL REFERENCES tasks(task_id),
  task_run_id INTEGER NOT NULL REFERENCES task_runs(task_run_id), sandbox INTEGER NOT NULL,
  requester_id INTEGER NOT NULL REFERENCES requesters(requester_id),
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
  UNIQUE (assignment_id, unit_index));
CREATE TABLE agents (
  agent_id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers(worker_id),
  unit_id INTEGER NOT NULL REFERENCES units(unit_id), task_id INTEGER NOT NULL REFERENCES tasks(task_id),
  task_run_id INTEGER NOT NULL REFERENCES task_runs(task_run_id),
  assignment_id INTEGER NOT NULL REFERENCES assignments(assignment_id), task_type TEXT NOT NULL,
  provider_type TEXT NOT NULL, status TEXT NOT NULL,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE onboarding_agents (
  onboarding_agent_id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers(worker_id),
  task_id INTEGER NOT NULL REFERENCES tasks(task_id), task_run_id INTEGER NOT NULL REFERENCES task_runs(task_run_id),
  task_type TEXT NOT NULL, status TEXT NOT NULL,
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE qualifications (
  qualification_id INTEGER PRIMARY KEY AUTOINCREMENT, qualification_name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE TABLE granted_qualifications (
  granted_qualification_id INTEGER PRIMARY KEY, worker_id INTEGER NOT NULL REFERENCES workers(worker_id),
  qualification_id INTEGER NOT NULL REFERENCES qualifications(qualification_id), value INTEGER NOT NULL,
  update_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
  UNIQUE (qualification_id, worker_id));
CREATE TABLE worker_reviews (
  worker_review_id INTEGER PRIMARY KEY, unit_id INTEGER REFERENCES units(unit_id),
  worker_id INTEGER NOT NULL REFERENCES workers(worker_id), task_id INTEGER REFERENCES tasks(task_id),
  status TEXT, review_note TEXT, bonus REAL, blocked_worker INTEGER NOT NULL DEFAULT 0,
  updated_qualification_id INTEGER REFERENCES qualifications(qualification_id), updated_qualification_value INTEGER,
  revoked_qualification_id INTEGER REFERENCES qualifications(qualification_id),
  creation_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')));
CREATE INDEX units_by_status ON units(status);
CREATE INDEX units_by_assignment ON units(assignment_id);
CREATE INDEX units_by_run ON units(task_run_id);
CREATE INDEX units_by_run_worker_status ON units(task_run_id, worker_id, status);
CREATE INDEX units_by_task_worker ON units(task_id, worker_id);
CREATE INDEX agents_by_worker_status ON agents(worker_id, status);
CREATE INDEX agents_by_run ON agents(task_run_id);
CREATE INDEX assignments_by_run ON assignments(task_run_id);
CREATE INDEX task_runs_by_requester ON task_runs(requester_id);
CREATE INDEX task_runs_by_task ON task_runs(task_id);
CREATE INDEX requesters_by_provider ON requesters(provider_type);
CREATE INDEX worker_reviews_by_unit ON worker_reviews(unit_id);
)sql"},
        // What a worker sent lives in the database, beside the status that accepted it (not in loose files);
        // the launcher's and a worker's own queries get covering indexes.
        {"002_agent_state", R"sql(
ALTER TABLE agents ADD COLUMN state TEXT;
ALTER TABLE onboarding_agents ADD COLUMN state TEXT;
CREATE INDEX units_by_run_status ON units(task_run_id, status);
CREATE INDEX units_by_worker ON units(worker_id);
CREATE INDEX agents_by_unit ON agents(unit_id);
CREATE INDEX onboarding_agents_by_worker ON onboarding_agents(worker_id);
CREATE INDEX granted_by_worker ON granted_qualifications(worker_id);
CREATE INDEX worker_reviews_by_worker ON worker_reviews(worker_id);
)sql"},
        // Every index on units costs a page write in the commits that touch its columns. Two are prefixes of
        // others (of the unique (assignment_id, unit_index) key, and of (task_run_id, status)); the one on
        // status alone serves no query crowdline makes (all name the run, task, assignment or worker) and
        // was written by every status change. A status-only find_units now scans the table.
        {"003_fewer_unit_indexes", R"sql(
DROP INDEX units_by_assignment;
DROP INDEX units_by_run;
DROP INDEX units_by_status;
)sql"},
        // `keyed_store`: small records a component keeps for itself (a provider's study ids and payment
        // ledger). A new table only: a file made by an older crowdline gains it and loses nothing.
        {"004_keyed_values", R"sql(
CREATE TABLE keyed_values (
  value_id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  update_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
  UNIQUE (scope, key));
)sql"},
    }};
    return steps;
}

/// The `application_id` in a crowdline database's header ("CRLD"): set when crowdline creates the file, so a
/// file is known as a campaign before any table is in it.
inline constexpr std::int32_t sqlite_application_id = 0x43524C44;

namespace detail {

/// Applies the steps the open file lacks, up to `schema_version` (nullopt = all), inside the caller's
/// transaction; refuses a file that records a step this build does not know (a newer crowdline made it).
inline void apply_sqlite_migrations(SQLite::Database& db, std::string const& path,
                                    std::optional<std::size_t> schema_version) {
    auto steps = sqlite_migrations();
    std::size_t const want = schema_version ? std::min(*schema_version, steps.size()) : steps.size();
    sqlite_exec(db, path,
                "CREATE TABLE IF NOT EXISTS crowdline_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')))");
    std::vector<std::string> applied;
    {
        SQLite::Statement st(db, "SELECT name FROM crowdline_migrations ORDER BY id");
        while (st.executeStep()) applied.push_back(st.getColumn(0).getString());
    }
    for (std::size_t i = 0; i < applied.size(); ++i)
        if (i >= steps.size() || applied[i] != steps[i].name)
            throw db_error(path + ": schema step \"" + applied[i] +
                           "\" is unknown to this crowdline (a newer version made this file); the file was left unchanged");
    for (std::size_t i = applied.size(); i < want; ++i) {
        sqlite_exec(db, path, std::string(steps[i].sql));
        SQLite::Statement st(db, "INSERT INTO crowdline_migrations (name) VALUES (?1)");
        st.bind(1, std::string(steps[i].name));
        st.exec();
    }
    sqlite_exec(db, path, "PRAGMA user_version = " + std::to_string(std::max(want, applied.size())));
    if (db.execAndGet("PRAGMA application_id").getInt64() != sqlite_application_id)  // a file from before it
        sqlite_exec(db, path, "PRAGMA application_id = " + std::to_string(sqlite_application_id));
}

}  // namespace detail

}  // namespace crowdline::stores
