#pragma once
/// `stores::postgres`: a campaign in PostgreSQL, for several processes (or machines) sharing one campaign
/// (ARCHITECTURE §4, §9). The same tables, semantics and errors as `stores::sqlite`, in a schema of their
/// own (`postgres_options::schema`, so several campaigns or tests share one database), migrated on open and
/// recorded in that schema's `schema_version` table. Statements are prepared once per connection. A claim
/// (`new_agent`) is one compare-and-set statement, so of two connections racing for a unit exactly one
/// wins; a partial unique index refuses a worker a second live unit of one assignment, whatever any
/// process believes. One object is one connection, thread-safe like `stores::sqlite`: one lock, held by
/// each call and for the whole of a `transaction`.
///
/// Opt-in: needs libpqxx (libpqxx-dev), the CMake target `crowdline::postgres` (CROWDLINE_WITH_POSTGRES).

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>
#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/detail/messages.hpp>
#include <crowdline/store/detail/postgres_rows.hpp>
#include <crowdline/store/detail/postgres_schema.hpp>
#include <crowdline/store/detail/postgres_sql.hpp>
#include <crowdline/store/detail/postgres_statements.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline::stores {

/// Where the campaign lives: `postgres_options{.url = "postgresql://user@host:5432/db", .schema = "crowdline"}`.
struct postgres_options {
    /// A libpq connection string or URI; empty takes libpq's defaults (PGHOST, PGDATABASE, …).
    std::string url;
    /// The schema that holds crowdline's tables; created when missing (unless `create` is false).
    std::string schema = "crowdline";
    /// false: a schema that does not exist is refused with `entry_does_not_exist` and nothing is made —
    /// what a tool that only reads or reviews a campaign wants (a mistyped name must not become an empty one).
    bool create = true;
    /// Apply only the first N migrations (tests build older schemas with it); nullopt = all.
    std::optional<std::size_t> schema_version{};
};

class postgres {
public:
    /// Connects, creates the schema when missing and applies the migrations it lacks. A schema holding
    /// tables but no `schema_version` is refused with `db_error` and left as it was, as is one a newer
    /// crowdline made.
    explicit postgres(postgres_options options)
        : options_(std::move(options)), where_("postgresql schema \"" + options_.schema + "\"") {
        if (options_.schema.empty()) throw invalid_argument("postgres option schema: must not be empty");
        // PostgreSQL cuts a longer name to its first 63 bytes: two campaigns would silently share a schema.
        if (options_.schema.size() > 63)
            throw invalid_argument("postgres option schema: at most 63 bytes (PostgreSQL's limit for a name), got " +
                                   std::to_string(options_.schema.size()));
        try {
            conn_ = std::make_unique<pqxx::connection>(options_.url);
            // Library code prints nothing: the server's notices ("schema exists, skipping") are dropped.
            quiet_ = std::make_unique<pqxx::quiet_errorhandler>(*conn_);
            // Through set_variable, not SET: libpqxx restores both when it reconnects.
            conn_->set_variable("client_min_messages", "warning");
            conn_->set_variable("search_path", conn_->quote_name(options_.schema));
        } catch (pqxx::failure const& e) {
            throw db_error(where_ + ": cannot connect: " + trimmed(e.what()));
        }
        migrate();
    }

    postgres(postgres const&) = delete;
    postgres& operator=(postgres const&) = delete;
    ~postgres() {
        work_.reset();  // a transaction left open (none, unless a call was interrupted) ends before its connection
        quiet_.reset();
    }

    // --- transactions -----------------------------------------------------------------------------
    /// Runs `f` atomically (BEGIN, or a savepoint when nested); rolls back if `f` throws. The calling thread
    /// holds this object's lock until the commit or rollback, so `f` may call any method (and nest
    /// transactions) while other threads' calls wait; `f` must not wait for another thread that uses this
    /// object.
    template <class F>
    decltype(auto) transaction(F&& f) {
        auto const lock = guard();  // before `s`: released after its commit or rollback
        scope s{*this};
        if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
            std::invoke(std::forward<F>(f));
            s.commit();
        } else {
            decltype(auto) result = std::invoke(std::forward<F>(f));
            s.commit();
            return result;
        }
    }

    [[nodiscard]] postgres_options const& options() const noexcept { return options_; }
    /// Number of migrations applied to the schema.
    [[nodiscard]] std::size_t schema_version() {
        auto const lock = guard();
        return static_cast<std::size_t>(exec("SELECT COUNT(*) FROM schema_version", {})[0][0].as<long>());
    }

    // --- projects, tasks, requesters ---------------------------------------------------------------
    project_id new_project(std::string_view name) {
        auto const lock = guard();
        crowdline::detail::require_name("project", name);
        auto id = insert("INSERT INTO projects (project_name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING project_id",
                         params(name));
        if (!id) crowdline::detail::throw_duplicate_name("project", name);
        return project_id{*id};
    }
    project get_project(project_id id) {
        auto const lock = guard();
        return get_one<project>(id, "projects", "project_id", detail::postgres_sql::project_columns);
    }
    std::vector<project> find_projects(project_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::project_columns, "projects", "project_id"};
        q.where("project_name", f.name);
        return run<project>(q);
    }

    task_id new_task(std::string_view name, std::string_view task_type, std::optional<project_id> project = {}) {
        auto const lock = guard();
        crowdline::detail::require_name("task", name);
        if (project) require_exists(*project, "projects", "project_id");
        auto id = insert("INSERT INTO tasks (task_name, task_type, project_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
                         "RETURNING task_id",
                         params(name, task_type, project));
        if (!id) crowdline::detail::throw_duplicate_name("task", name);
        return task_id{*id};
    }
    task get_task(task_id id) {
        auto const lock = guard();
        return get_one<task>(id, "tasks", "task_id", detail::postgres_sql::task_columns);
    }
    std::vector<task> find_tasks(task_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::task_columns, "tasks", "task_id"};
        q.where("task_name", f.name);
        q.where("project_id", f.project);
        return run<task>(q);
    }
    void update_task(task_id id, std::optional<std::string> name, std::optional<project_id> project) {
        transaction([&] {
            require_exists(id, "tasks", "task_id");
            if (exists("SELECT 1 FROM task_runs WHERE task_id = $1 LIMIT 1", id)) crowdline::detail::throw_task_has_run(id);
            if (name) crowdline::detail::require_name("task", *name);
            if (project) require_exists(*project, "projects", "project_id");
            if (name) {
                try {
                    exec_raw("UPDATE tasks SET task_name = $1 WHERE task_id = $2", params(*name, id));
                } catch (pqxx::unique_violation const&) {  // this transaction (or savepoint) is rolled back
                    crowdline::detail::throw_duplicate_name("task", *name);
                } catch (pqxx::failure const& e) {
                    fail(e);
                }
            }
            if (project) exec("UPDATE tasks SET project_id = $1 WHERE task_id = $2", params(*project, id));
        });
    }

    requester_id new_requester(std::string_view name, std::string_view provider_type) {
        auto const lock = guard();
        crowdline::detail::require_name("requester", name);
        auto id = insert("INSERT INTO requesters (requester_name, provider_type) VALUES ($1, $2) ON CONFLICT DO NOTHING "
                         "RETURNING requester_id",
                         params(name, provider_type));
        if (!id) crowdline::detail::throw_duplicate_name("requester", name);
        return requester_id{*id};
    }
    requester get_requester(requester_id id) {
        auto const lock = guard();
        return get_one<requester>(id, "requesters", "requester_id", detail::postgres_sql::requester_columns);
    }
    std::vector<requester> find_requesters(requester_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::requester_columns, "requesters", "requester_id"};
        q.where("requester_name", f.name);
        q.where("provider_type", f.provider_type);
        return run<requester>(q);
    }

    // --- task runs, assignments --------------------------------------------------------------------
    task_run_id new_task_run(task_id task, requester_id requester, nlohmann::json init_params,
                             std::string_view provider_type, std::string_view task_type, bool sandbox) {
        auto const lock = guard();
        require_exists(task, "tasks", "task_id");
        require_exists(requester, "requesters", "requester_id");
        auto id = insert("INSERT INTO task_runs (task_id, requester_id, init_params, provider_type, task_type, sandbox) "
                         "VALUES ($1, $2, $3, $4, $5, $6) RETURNING task_run_id",
                         params(task, requester, init_params.dump(), provider_type, task_type, sandbox));
        if (!id) throw db_error(where_ + ": a task run was not inserted");
        return task_run_id{*id};
    }
    task_run get_task_run(task_run_id id) {
        auto const lock = guard();
        return get_one<task_run>(id, "task_runs", "task_run_id", detail::postgres_sql::task_run_columns);
    }
    std::vector<task_run> find_task_runs(task_run_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::task_run_columns, "task_runs", "task_run_id"};
        q.where("task_id", f.task);
        q.where("requester_id", f.requester);
        q.where("is_completed", f.is_completed);
        return run<task_run>(q);
    }
    void update_task_run(task_run_id id, bool is_completed) {
        auto const lock = guard();
        if (exec("UPDATE task_runs SET is_completed = $1 WHERE task_run_id = $2", params(is_completed, id)).affected_rows() == 0)
            crowdline::detail::throw_missing(id);
    }

    assignment_id new_assignment(task_run_id run) {
        auto const lock = guard();
        auto id = insert("INSERT INTO assignments (task_id, task_run_id, requester_id, task_type, provider_type, sandbox) "
                         "SELECT task_id, task_run_id, requester_id, task_type, provider_type, sandbox FROM task_runs "
                         "WHERE task_run_id = $1 RETURNING assignment_id",
                         params(run));
        if (!id) crowdline::detail::throw_missing(run);
        return assignment_id{*id};
    }
    assignment get_assignment(assignment_id id) {
        auto const lock = guard();
        return get_one<assignment>(id, "assignments", "assignment_id", detail::postgres_sql::assignment_columns);
    }
    std::vector<assignment> find_assignments(assignment_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::assignment_columns, "assignments", "assignment_id"};
        q.where("task_run_id", f.task_run);
        q.where("task_id", f.task);
        q.where("requester_id", f.requester);
        return run<assignment>(q);
    }

    // --- units, agents ----------------------------------------------------------------------------
    unit_id new_unit(assignment_id assignment, int unit_index, double pay_amount) {
        auto const lock = guard();
        auto id = insert(detail::postgres_sql::insert_unit, params(assignment, unit_index, pay_amount));
        if (id) return unit_id{*id};
        require_exists(assignment, "assignments", "assignment_id");
        throw entry_already_exists(crowdline::detail::describe(assignment) + " already has a unit with index " +
                                   std::to_string(unit_index));
    }
    unit get_unit(unit_id id) {
        auto const lock = guard();
        return get_one<unit>(id, "units", "unit_id", detail::postgres_sql::unit_columns);
    }
    std::vector<unit> find_units(unit_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::unit_columns, "units", "unit_id"};
        q.where("task_run_id", f.task_run);
        q.where("assignment_id", f.assignment);
        q.where("worker_id", f.worker);
        q.where("agent_id", f.agent);
        q.where("status", f.status);
        q.where("task_id", f.task);
        return run<unit>(q);
    }
    void update_unit(unit_id id, unit_status status) {
        auto const lock = guard();
        if (exec(detail::postgres_sql::update_unit(status), params(status, id)).affected_rows() == 1) return;
        crowdline::detail::throw_transition(id, current_status<unit_status>("units", "unit_id", id), status);
    }
    void clear_unit_agent_assignment(unit_id id) {
        auto const lock = guard();
        unit_status now = current_status<unit_status>("units", "unit_id", id);
        if (now == unit_status::launched) {
            exec("UPDATE units SET agent_id = NULL, worker_id = NULL WHERE unit_id = $1 AND status = 'launched'", params(id));
            return;
        }
        if (now != unit_status::assigned) crowdline::detail::throw_transition(id, now, unit_status::launched);
        update_unit(id, unit_status::launched);
    }

    /// The claim: one statement assigns the unit and creates its agent, only if the unit is still launched
    /// (detail::postgres_sql::claim). A lost race is `invalid_transition`, and nothing is written; so is a
    /// worker who already holds a live unit of the assignment.
    agent_id new_agent(worker_id worker, unit_id unit) {
        auto const lock = guard();
        auto claim = [&] {
            auto r = exec_raw(detail::postgres_sql::claim(), params(worker, unit));
            return r.empty() ? std::optional<std::int64_t>() : std::optional<std::int64_t>(r[0][0].as<long>());
        };
        std::optional<std::int64_t> id;
        try {
            // Alone, the statement commits by itself; inside a transaction it gets a savepoint, so a refusal
            // by the unique index (a PostgreSQL error) leaves the caller's transaction usable, as on SQLite.
            id = work_ ? transaction(claim) : claim();
        } catch (pqxx::unique_violation const&) {
            throw_already_holds(worker, unit);
        } catch (pqxx::failure const& e) {
            fail(e);
        }
        if (id) return agent_id{*id};
        auto const now = current_status<unit_status>("units", "unit_id", unit);
        if (now != unit_status::launched) crowdline::detail::throw_claim(unit, now);
        require_exists(worker, "workers", "worker_id");
        throw_already_holds(worker, unit);
    }
    agent get_agent(agent_id id) {
        auto const lock = guard();
        return get_one<agent>(id, "agents", "agent_id", detail::postgres_sql::agent_columns);
    }
    std::vector<agent> find_agents(agent_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::agent_columns, "agents", "agent_id"};
        q.where("worker_id", f.worker);
        q.where("unit_id", f.unit);
        q.where("task_run_id", f.task_run);
        q.where("assignment_id", f.assignment);
        q.where("status", f.status);
        return run<agent>(q);
    }
    void update_agent(agent_id id, agent_status status) {
        auto const lock = guard();
        change_agent(id, status, nullptr);
    }
    /// Changes the status and stores what the worker sent, in one statement.
    void update_agent(agent_id id, agent_status status, nlohmann::json state) {
        auto const lock = guard();
        change_agent(id, status, &state);
    }

    onboarding_agent_id new_onboarding_agent(worker_id worker, task_run_id run) {
        auto const lock = guard();
        require_exists(worker, "workers", "worker_id");
        auto id = insert("INSERT INTO onboarding_agents (worker_id, task_id, task_run_id, task_type, status) "
                         "SELECT $1::bigint, task_id, task_run_id, task_type, 'none' FROM task_runs WHERE task_run_id = $2 "
                         "RETURNING onboarding_agent_id",
                         params(worker, run));
        if (!id) crowdline::detail::throw_missing(run);
        return onboarding_agent_id{*id};
    }
    onboarding_agent get_onboarding_agent(onboarding_agent_id id) {
        auto const lock = guard();
        return get_one<onboarding_agent>(id, "onboarding_agents", "onboarding_agent_id",
                                         detail::postgres_sql::onboarding_agent_columns);
    }
    std::vector<onboarding_agent> find_onboarding_agents(onboarding_agent_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::onboarding_agent_columns, "onboarding_agents", "onboarding_agent_id"};
        q.where("worker_id", f.worker);
        q.where("task_run_id", f.task_run);
        q.where("status", f.status);
        return run<onboarding_agent>(q);
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status) {
        auto const lock = guard();
        change_agent(id, status, nullptr);
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status, nlohmann::json state) {
        auto const lock = guard();
        change_agent(id, status, &state);
    }

    // --- workers, reviews --------------------------------------------------------------------------
    worker_id new_worker(std::string_view name, std::string_view provider_type) {
        auto const lock = guard();
        crowdline::detail::require_name("worker", name);
        auto id = insert("INSERT INTO workers (worker_name, provider_type) VALUES ($1, $2) ON CONFLICT DO NOTHING "
                         "RETURNING worker_id",
                         params(name, provider_type));
        if (!id) crowdline::detail::throw_duplicate_name("worker", name);
        return worker_id{*id};
    }
    worker get_worker(worker_id id) {
        auto const lock = guard();
        return get_one<worker>(id, "workers", "worker_id", detail::postgres_sql::worker_columns);
    }
    std::vector<worker> find_workers(worker_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::worker_columns, "workers", "worker_id"};
        q.where("worker_name", f.name);
        q.where("provider_type", f.provider_type);
        return run<worker>(q);
    }

    void new_worker_review(worker_review const& r) {
        auto const lock = guard();
        require_exists(r.worker, "workers", "worker_id");
        if (r.unit) require_exists(*r.unit, "units", "unit_id");
        if (r.task) require_exists(*r.task, "tasks", "task_id");
        if (r.updated_qualification) require_exists(*r.updated_qualification, "qualifications", "qualification_id");
        if (r.revoked_qualification) require_exists(*r.revoked_qualification, "qualifications", "qualification_id");
        exec("INSERT INTO worker_reviews (unit_id, worker_id, task_id, status, review_note, bonus, blocked_worker, "
             "updated_qualification_id, updated_qualification_value, revoked_qualification_id) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
             params(r.unit, r.worker, r.task, r.status, r.review_note, r.bonus, r.blocked_worker, r.updated_qualification,
                    r.updated_qualification_value, r.revoked_qualification));
    }
    std::vector<worker_review> find_worker_reviews(worker_review_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::worker_review_columns, "worker_reviews", "worker_review_id"};
        q.where("worker_id", f.worker);
        q.where("unit_id", f.unit);
        return run<worker_review>(q);
    }

    // --- qualifications ---------------------------------------------------------------------------
    qualification_id make_qualification(std::string_view name, std::string_view description = "") {
        auto const lock = guard();
        crowdline::detail::require_name("qualification", name);
        auto id = insert("INSERT INTO qualifications (qualification_name, description) VALUES ($1, $2) ON CONFLICT DO "
                         "NOTHING RETURNING qualification_id",
                         params(name, description));
        if (!id) crowdline::detail::throw_duplicate_name("qualification", name);
        return qualification_id{*id};
    }
    qualification get_qualification(qualification_id id) {
        auto const lock = guard();
        return get_one<qualification>(id, "qualifications", "qualification_id", detail::postgres_sql::qualification_columns);
    }
    std::vector<qualification> find_qualifications(qualification_filter f = {}) {
        auto const lock = guard();
        query q{detail::postgres_sql::qualification_columns, "qualifications", "qualification_id"};
        q.where("qualification_name", f.name);
        return run<qualification>(q);
    }
    /// Removes the qualification and every grant of it.
    void delete_qualification(std::string_view name) {
        transaction([&] {
            query q{detail::postgres_sql::qualification_columns, "qualifications", "qualification_id"};
            q.where("qualification_name", std::optional<std::string>(name));
            auto found = run<qualification>(q);
            if (found.empty()) throw entry_does_not_exist("qualification \"" + std::string(name) + "\": does not exist");
            auto id = found.front().id;
            exec("DELETE FROM granted_qualifications WHERE qualification_id = $1", params(id));
            exec("UPDATE worker_reviews SET updated_qualification_id = NULL WHERE updated_qualification_id = $1", params(id));
            exec("UPDATE worker_reviews SET revoked_qualification_id = NULL WHERE revoked_qualification_id = $1", params(id));
            exec("DELETE FROM qualifications WHERE qualification_id = $1", params(id));
        });
    }
    /// Upsert: granting again replaces the value. Written only when both rows exist, so a missing one is
    /// told apart after, without a foreign-key error (which would end the caller's transaction).
    void grant_qualification(qualification_id q, worker_id w, int value = 1) {
        auto const lock = guard();
        auto r = exec("INSERT INTO granted_qualifications (qualification_id, worker_id, value) "
                      "SELECT $1::bigint, $2::bigint, $3::integer "
                      "WHERE EXISTS (SELECT 1 FROM qualifications WHERE qualification_id = $1::bigint) "
                      "AND EXISTS (SELECT 1 FROM workers WHERE worker_id = $2::bigint) "
                      "ON CONFLICT (qualification_id, worker_id) DO UPDATE SET value = excluded.value, update_date = now()",
                      params(q, w, value));
        if (r.affected_rows() == 1) return;
        require_exists(q, "qualifications", "qualification_id");
        crowdline::detail::throw_missing(w);
    }
    void revoke_qualification(qualification_id q, worker_id w) {
        auto const lock = guard();
        if (exec("DELETE FROM granted_qualifications WHERE qualification_id = $1 AND worker_id = $2", params(q, w))
                .affected_rows() == 0)
            crowdline::detail::throw_missing_grant(q, w);
    }
    granted_qualification get_granted_qualification(qualification_id q, worker_id w) {
        auto const lock = guard();
        auto r = exec(detail::postgres_sql::get_granted, params(q, w));
        if (r.empty()) crowdline::detail::throw_missing_grant(q, w);
        return {q, w, r[0][0].as<int>()};
    }
    std::vector<granted_qualification> find_granted_qualifications(granted_qualification_filter f = {}) {
        auto const lock = guard();
        query q{"qualification_id, worker_id, value", "granted_qualifications", "granted_qualification_id"};
        q.where("worker_id", f.worker);
        q.where("qualification_id", f.qualification);
        return run<granted_qualification>(q);
    }

    // --- keyed values (`keyed_store`) -------------------------------------------------------------
    /// The value under `key` in `scope_name`, or nothing.
    std::optional<std::string> get_value(std::string_view scope_name, std::string_view key) {
        auto const lock = guard();
        auto r = exec("SELECT value FROM keyed_values WHERE scope = $1 AND key = $2", params(scope_name, key));
        if (r.empty()) return std::nullopt;
        return std::string(r[0][0].c_str());
    }
    /// Inserts or replaces (the row keeps its place in `find_values`). An empty scope or key →
    /// `invalid_argument`.
    void put_value(std::string_view scope_name, std::string_view key, std::string_view value) {
        auto const lock = guard();
        crowdline::detail::require_value_key(scope_name, key);
        exec("INSERT INTO keyed_values (scope, key, value) VALUES ($1, $2, $3) ON CONFLICT (scope, key) DO "
             "UPDATE SET value = excluded.value, update_date = now()",
             params(scope_name, key, value));
    }
    /// Every key and value in `scope_name`, in the order the keys were first put.
    std::vector<std::pair<std::string, std::string>> find_values(std::string_view scope_name) {
        auto const lock = guard();
        std::vector<std::pair<std::string, std::string>> out;
        for (auto const& row : exec("SELECT key, value FROM keyed_values WHERE scope = $1 ORDER BY value_id", params(scope_name)))
            out.emplace_back(row[0].c_str(), row[1].c_str());
        return out;
    }

private:
    using query = detail::pg_query;
    using pg_params = detail::pg_params;

    /// The one lock, as in `stores::sqlite`: every public method starts with `auto const lock = guard();` (or
    /// goes through `transaction`), and the private helpers assume it is held. Recursive, because `f` in
    /// `transaction(f)` calls public methods and nested transactions are savepoints.
    [[nodiscard]] std::unique_lock<std::recursive_mutex> guard() const { return std::unique_lock{mutex_}; }

    /// One level of `transaction`: the `pqxx::work` at the top, a savepoint inside it (named by depth, as
    /// in `stores::sqlite`). Issued here rather than through `pqxx::subtransaction`, which in libpqxx 6.4
    /// sends its SAVEPOINT only before a plain `exec`, not before `exec_prepared`, so prepared statements
    /// inside it escaped its rollback.
    class scope {
    public:
        explicit scope(postgres& db) : db_(db) {
            try {
                if (db_.depth_ == 0)
                    db_.work_ = std::make_unique<pqxx::work>(*db_.conn_);
                else
                    db_.work_->exec("SAVEPOINT " + name());
            } catch (pqxx::failure const& e) {
                if (db_.depth_ == 0) db_.work_.reset();
                db_.fail(e);
            }
            ++db_.depth_;
        }
        void commit() {
            done_ = true;
            --db_.depth_;
            if (db_.aborted_) {
                // A statement of this level failed and its error was caught: PostgreSQL has refused every
                // statement since and would answer COMMIT with a silent ROLLBACK. Undo this level and say so.
                db_.aborted_ = false;
                if (db_.depth_ == 0) {
                    db_.work_.reset();
                } else {
                    try {
                        db_.work_->exec("ROLLBACK TO SAVEPOINT " + name());
                        db_.work_->exec("RELEASE SAVEPOINT " + name());
                    } catch (pqxx::failure const&) {
                        db_.aborted_ = true;  // the outer level cannot go on either
                    }
                }
                throw db_error(db_.where_ + ": a statement of this transaction failed (its error was caught), so "
                                            "PostgreSQL kept nothing of it; nothing was committed");
            }
            try {
                if (db_.depth_ == 0) {
                    auto work = std::move(db_.work_);  // gone whether the commit succeeds or not
                    work->commit();
                } else {
                    db_.work_->exec("RELEASE SAVEPOINT " + name());
                }
            } catch (pqxx::failure const& e) {
                db_.fail(e);
            }
        }
        ~scope() {
            if (done_) return;
            --db_.depth_;
            if (db_.depth_ == 0) {
                db_.work_.reset();  // libpqxx rolls back a transaction it did not commit
                db_.aborted_ = false;
                return;
            }
            try {
                db_.work_->exec("ROLLBACK TO SAVEPOINT " + name());
                db_.work_->exec("RELEASE SAVEPOINT " + name());
                db_.aborted_ = false;  // the savepoint's rollback makes the transaction usable again
            } catch (pqxx::failure const&) {
                // The connection is gone or the transaction is over: the outer level's own call fails.
            }
        }
        scope(scope const&) = delete;
        scope& operator=(scope const&) = delete;

    private:
        [[nodiscard]] std::string name() const { return "crowdline_" + std::to_string(db_.depth_); }
        postgres& db_;
        bool done_ = false;
    };

    void migrate() {
        try {
            transaction([&] { detail::apply_postgres_migrations(*work_, options_.schema, options_.schema_version, options_.create); });
        } catch (pqxx::failure const& e) {
            fail(e);
        }
    }

    template <class... Args>
    static pg_params params(Args const&... args) {
        pg_params p;
        (p.add(args), ...);
        return p;
    }

    /// Runs a statement, prepared once, on the open transaction, or alone (it commits by itself) when
    /// none is open; libpqxx's exceptions pass through.
    pqxx::result exec_raw(std::string const& text, pg_params const& p) {
        auto const& name = cache_.name(*conn_, text);
        if (work_) {
            try {
                return work_->exec_prepared(name, p.dynamic());
            } catch (pqxx::failure const&) {
                aborted_ = true;  // PostgreSQL refuses the rest of the transaction until a rollback
                throw;
            }
        }
        pqxx::nontransaction alone(*conn_);
        auto r = alone.exec_prepared(name, p.dynamic());
        alone.commit();
        return r;
    }
    /// The same, a failure reported as `db_error` naming the schema.
    pqxx::result exec(std::string const& text, pg_params const& p) {
        try {
            return exec_raw(text, p);
        } catch (pqxx::failure const& e) {
            fail(e);
        }
    }

    [[noreturn]] void fail(pqxx::failure const& e) const { throw db_error(where_ + ": " + trimmed(e.what())); }
    static std::string trimmed(std::string text) {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    }

    /// Runs an INSERT … RETURNING id; nothing when it inserted no row (ON CONFLICT DO NOTHING, or an
    /// INSERT … SELECT that found no source row).
    std::optional<std::int64_t> insert(std::string const& text, pg_params const& p) {
        auto r = exec(text, p);
        if (r.empty()) return std::nullopt;
        return r[0][0].as<long>();
    }

    template <class Id>
    bool exists(std::string const& text, Id id) {
        return !exec(text, params(id)).empty();
    }

    template <class Id>
    void require_exists(Id id, std::string_view table, std::string_view column) {
        if (!exists("SELECT 1 FROM " + std::string(table) + " WHERE " + std::string(column) + " = $1", id))
            crowdline::detail::throw_missing(id);
    }

    template <class Status, class Id>
    Status current_status(std::string_view table, std::string_view column, Id id) {
        auto r = exec("SELECT status FROM " + std::string(table) + " WHERE " + std::string(column) + " = $1", params(id));
        if (r.empty()) crowdline::detail::throw_missing(id);
        return parse<Status>(r[0][0].c_str());
    }

    [[noreturn]] void throw_already_holds(worker_id worker, unit_id unit) {
        auto r = exec("SELECT assignment_id FROM units WHERE unit_id = $1", params(unit));
        std::string assignment = r.empty() ? std::string("its assignment")
                                           : crowdline::detail::describe(assignment_id{r[0][0].as<long>()});
        throw invalid_transition(crowdline::detail::describe(unit) + ": cannot be claimed by " +
                                 crowdline::detail::describe(worker) + ", who already holds a unit of " + assignment);
    }

    /// An agent's or an onboarding agent's status change (the id's type says which table), by compare-and-set.
    template <class Id>
    void change_agent(Id id, agent_status status, nlohmann::json const* state) {
        constexpr bool onboarding = std::same_as<Id, onboarding_agent_id>;
        constexpr std::string_view table = onboarding ? "onboarding_agents" : "agents";
        constexpr std::string_view column = onboarding ? "onboarding_agent_id" : "agent_id";
        auto& text = agent_sql_[onboarding ? 1 : 0][static_cast<std::size_t>(status) * 2 + (state ? 1 : 0)];
        if (text.empty()) text = detail::postgres_sql::update_agent(table, column, status, state != nullptr);
        auto r = state ? exec(text, params(status, id, state->dump())) : exec(text, params(status, id));
        if (r.affected_rows() == 1) return;
        crowdline::detail::throw_transition(id, current_status<agent_status>(table, column, id), status);
    }

    template <class Row>
    std::vector<Row> run(query& q) {
        auto r = exec(q.sql + " ORDER BY " + q.order_by, q.params);
        std::vector<Row> out;
        out.reserve(r.size());
        for (auto const& row : r) out.push_back(detail::read_row<Row>(row));
        return out;
    }

    template <class Row, class Id>
    Row get_one(Id id, std::string_view table, std::string_view column, std::string_view columns) {
        auto r = exec("SELECT " + std::string(columns) + " FROM " + std::string(table) + " WHERE " + std::string(column) +
                          " = $1",
                      params(id));
        if (r.empty()) crowdline::detail::throw_missing(id);
        return detail::read_row<Row>(r[0]);
    }

    postgres_options options_;
    std::string where_;  ///< "postgresql schema \"…\"", the start of every db_error
    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<pqxx::quiet_errorhandler> quiet_;  ///< after conn_: unregisters before the connection closes
    detail::pg_statement_cache cache_;
    std::unique_ptr<pqxx::work> work_;  ///< the open transaction, if any (with mutex_ held)
    int depth_ = 0;                     ///< open transaction and savepoints (with mutex_ held)
    bool aborted_ = false;              ///< a statement failed in the open transaction (with mutex_ held)
    /// [agents, onboarding_agents][status * 2 + with_state]: each statement's text made once.
    std::array<std::array<std::string, crowdline::detail::status_traits<agent_status>::names.size() * 2>, 2> agent_sql_;
    mutable std::recursive_mutex mutex_;                    ///< see guard()
};

}  // namespace crowdline::stores
