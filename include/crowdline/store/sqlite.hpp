#pragma once
/// `stores::sqlite`: the embedded default. One file, WAL, foreign keys on, Mephisto's indexes, statements
/// prepared once per connection, a migrations table, and a busy timeout so two processes on one file wait
/// for each other instead of failing. One object is one connection, and it is thread-safe like
/// `stores::memory`: one lock, held by each call and for the whole of a `transaction`, so threads sharing
/// one object take turns (several objects on one file, e.g. one per thread or process, wait for each other
/// through SQLite's own locks instead). Claims (`new_agent`) are compare-and-set inside an IMMEDIATE
/// transaction, so exactly one of two racing callers wins, on one object or on two.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sqlite3.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <nlohmann/json.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/reflect.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/detail/checkpointer.hpp>
#include <crowdline/store/detail/messages.hpp>
#include <crowdline/store/detail/sqlite_file_check.hpp>
#include <crowdline/store/detail/sqlite_rows.hpp>
#include <crowdline/store/detail/sqlite_schema.hpp>
#include <crowdline/store/detail/sqlite_sql.hpp>
#include <crowdline/store/detail/sqlite_statement_cache.hpp>
#include <crowdline/store/detail/wal_vfs.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline::stores {

/// Connection settings. The defaults are crowdline's: WAL with synchronous=NORMAL (a commit survives a
/// process crash; an OS crash may lose the last commits but never corrupts), and a 5 s busy wait.
/// Reflected like any args struct (JSON, `key=value`, `--help`, `validate()`), except `busy_timeout` and
/// `schema_version`, which only code sets.
struct sqlite_options {
    std::string journal_mode = "WAL";    ///< WAL, DELETE, TRUNCATE, PERSIST or MEMORY
    std::string synchronous = "NORMAL";  ///< OFF, NORMAL, FULL or EXTRA
    std::chrono::milliseconds busy_timeout{5000};
    /// Hand each transaction's log frames to the OS in one write (see store/detail/wal_vfs.hpp); false opens
    /// the file through SQLite's default VFS, as any other program would.
    bool gather_log_writes = true;
    /// In WAL mode, checkpoints (copying the log into the database file, with two fsyncs) run on a thread
    /// with its own connection instead of inside the commit that crossed the threshold (see
    /// store/detail/checkpointer.hpp); false leaves them to SQLite's automatic checkpoint.
    bool background_checkpoint = true;
    /// Log frames not yet copied that start a checkpoint (SQLite's default, 1000 pages ≈ 4 MiB). With the
    /// background checkpoint the log starts again from its beginning once it holds 4× as many.
    int checkpoint_frames = 1000;
    /// Bytes per database page, for a file this call creates (a file's page size is fixed when its first
    /// table is written; an existing file keeps its own). A power of two from 512 to 65536. Every page a
    /// commit changes is written whole to the log and again at the checkpoint, and a unit's status change
    /// touches about four (its row and three indexes). Against SQLite's 4 KiB, 2 KiB made one-commit-per-
    /// call lifecycles ~25% faster and batched ones ~15%, and left the HTTP server (group commit, more
    /// reads) as it was; 1 KiB gained more per call but cost the server (docs/store.md has the figures).
    int page_size = 2048;
    /// Most memory, in KiB, the connection's page cache may hold (SQLite's own default is 2,000 KiB). Pages
    /// it lacks are read from the OS with a syscall each; a server's working set (every open unit, agent
    /// and worker row, and their indexes) outgrows 2 MiB at a few thousand units. At least 64.
    std::int64_t cache_kib = 65536;
    /// Apply only the first N migrations (tests build older files with it); nullopt = all.
    std::optional<std::size_t> schema_version{};

    static constexpr std::array<config::description, 7> descriptions{{
        {"journal_mode", "WAL (the default), DELETE, TRUNCATE, PERSIST or MEMORY"},
        {"synchronous", "NORMAL (the default: an OS crash may lose the last commits, never corrupts), FULL, EXTRA or OFF"},
        {"gather_log_writes", "hand each transaction's log pages to the OS in one write"},
        {"background_checkpoint", "copy the log into the database file on a thread, not inside a commit"},
        {"checkpoint_frames", "log pages that start a checkpoint"},
        {"page_size", "bytes per page of a new database file (a power of two, 512 to 65536)"},
        {"cache_kib", "most memory the page cache may hold, KiB"},
    }};

    /// Each problem names its key (`stores::sqlite` refuses the same as `invalid_argument`, before it
    /// creates anything).
    void validate() const {
        auto one_of = [](std::string_view key, std::string const& value, std::initializer_list<std::string_view> allowed) {
            for (auto a : allowed)
                if (a == value) return;
            throw config_error(std::string(key) + ": unsupported value \"" + value + '"');
        };
        one_of("journal_mode", journal_mode, {"WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY"});
        one_of("synchronous", synchronous, {"OFF", "NORMAL", "FULL", "EXTRA"});
        if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0)
            throw config_error("page_size: must be a power of two from 512 to 65536, not " + std::to_string(page_size));
        if (cache_kib < 64) throw config_error("cache_kib: must be at least 64, not " + std::to_string(cache_kib));
        if (checkpoint_frames < 1)
            throw config_error("checkpoint_frames: must be at least 1, not " + std::to_string(checkpoint_frames));
    }
};

class sqlite {
public:
    /// Opens (or creates) the campaign database at `path` (":memory:" for a private in-memory one). Any
    /// thread may call any method: the connection is opened without SQLite's per-connection mutex (it
    /// cost ~20% of a large `find_units`), and one `std::recursive_mutex` of this object is taken once per
    /// call instead (see `guard()`). A file that is not a crowdline database is refused with `db_error` and
    /// left as it was; a file made by an older crowdline is migrated.
    explicit sqlite(std::string path, sqlite_options options = {}) : path_(std::move(path)), options_(std::move(options)) {
        try {
            options_.validate();
        } catch (config_error const& e) {
            throw invalid_argument(std::string("sqlite option ") + e.what());
        }
        bool const creating = !detail::refuse_foreign_file_read_only(path_, options_.busy_timeout);
        try {
            db_ = std::make_unique<SQLite::Database>(
                path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
                static_cast<int>(options_.busy_timeout.count()),
                options_.gather_log_writes ? std::string(detail::wal_vfs::ensure_registered()) : std::string());
        } catch (SQLite::Exception const& e) {
            throw db_error(path_ + ": cannot open: " + e.what());
        }
        detail::refuse_foreign_file(*db_, path_);
        exec("PRAGMA foreign_keys = ON");
        // Before journal_mode: switching a new file to WAL writes its first page, which fixes the page size.
        exec("PRAGMA page_size = " + std::to_string(options_.page_size));
        // The file's first write marks it as crowdline's: a start interrupted before the tables exist leaves
        // a file the next start still knows as its own.
        if (creating) exec("PRAGMA application_id = " + std::to_string(sqlite_application_id));
        exec("PRAGMA journal_mode = " + options_.journal_mode);
        exec("PRAGMA synchronous = " + options_.synchronous);
        exec("PRAGMA cache_size = -" + std::to_string(options_.cache_kib));  // negative: KiB, not pages
        // Statement journals (what lets one statement, or a savepoint, inside a transaction roll back) in
        // memory: on disk they spill past 64 KiB to a temp file that then takes a write() per page per
        // statement, which made batched transactions 3-4x slower. They never serve crash recovery.
        exec("PRAGMA temp_store = MEMORY");
        migrate();
        start_checkpoints();
    }

    // --- transactions -----------------------------------------------------------------------------
    /// Runs `f` atomically (BEGIN IMMEDIATE, or a savepoint when nested); rolls back if `f` throws. The
    /// calling thread holds this object's lock until the commit or rollback, so `f` may call any method
    /// (and nest transactions) while other threads' calls wait: none lands inside another's transaction.
    /// So `f` must not wait for another thread that uses this object (it would wait forever).
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

    sqlite(sqlite const&) = delete;
    sqlite& operator=(sqlite const&) = delete;

    [[nodiscard]] std::string const& path() const noexcept { return path_; }
    [[nodiscard]] sqlite_options const& options() const noexcept { return options_; }
    /// What the background checkpointer has done (all zero when it is off, or the file is not in WAL mode).
    /// Needs no lock (path(), options() neither): the checkpointer has its own, the rest never changes.
    [[nodiscard]] checkpoint_stats checkpoints() const { return checkpointer_ ? checkpointer_->stats() : checkpoint_stats{}; }
    /// Number of migrations applied to the open file.
    [[nodiscard]] std::size_t schema_version() {
        auto const lock = guard();
        auto& st = prepare("SELECT COUNT(*) FROM crowdline_migrations");
        reset_guard g{st};
        st.executeStep();
        return static_cast<std::size_t>(st.getColumn(0).getInt64());
    }

    // --- projects, tasks, requesters ---------------------------------------------------------------
    project_id new_project(std::string_view name) {
        auto const lock = guard();
        crowdline::detail::require_name("project", name);
        return project_id{insert("INSERT INTO projects (project_name) VALUES (?1)", [&](auto& st) { st.bind(1, std::string(name)); },
                                 [&] { crowdline::detail::throw_duplicate_name("project", name); })};
    }
    project get_project(project_id id) {
        auto const lock = guard();
        return get_one<project>(id, "projects", "project_id", detail::sqlite_sql::project_columns);
    }
    std::vector<project> find_projects(project_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::project_columns, "projects", "project_id"};
        q.where("project_name", f.name);
        return run<project>(q);
    }

    task_id new_task(std::string_view name, std::string_view task_type, std::optional<project_id> project = {}) {
        auto const lock = guard();
        crowdline::detail::require_name("task", name);
        if (project) require_exists(*project, "projects", "project_id");
        return task_id{insert("INSERT INTO tasks (task_name, task_type, project_id) VALUES (?1, ?2, ?3)",
                              [&](auto& st) {
                                  st.bind(1, std::string(name));
                                  st.bind(2, std::string(task_type));
                                  detail::bind_optional(st, 3, project);
                              },
                              [&] { crowdline::detail::throw_duplicate_name("task", name); })};
    }
    task get_task(task_id id) {
        auto const lock = guard();
        return get_one<task>(id, "tasks", "task_id", detail::sqlite_sql::task_columns);
    }
    std::vector<task> find_tasks(task_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::task_columns, "tasks", "task_id"};
        q.where("task_name", f.name);
        q.where("project_id", f.project);
        return run<task>(q);
    }
    void update_task(task_id id, std::optional<std::string> name, std::optional<project_id> project) {
        transaction([&] {
            require_exists(id, "tasks", "task_id");
            if (exists("SELECT 1 FROM task_runs WHERE task_id = ?1", id.value())) crowdline::detail::throw_task_has_run(id);
            if (name) crowdline::detail::require_name("task", *name);
            if (project) require_exists(*project, "projects", "project_id");
            if (name)
                insert("UPDATE tasks SET task_name = ?1 WHERE task_id = ?2",
                       [&](auto& st) { st.bind(1, *name); st.bind(2, id.value()); },
                       [&] { crowdline::detail::throw_duplicate_name("task", *name); });
            if (project) exec_bound("UPDATE tasks SET project_id = ?1 WHERE task_id = ?2", project->value(), id.value());
        });
    }

    requester_id new_requester(std::string_view name, std::string_view provider_type) {
        auto const lock = guard();
        crowdline::detail::require_name("requester", name);
        return requester_id{insert("INSERT INTO requesters (requester_name, provider_type) VALUES (?1, ?2)",
                                   [&](auto& st) { st.bind(1, std::string(name)); st.bind(2, std::string(provider_type)); },
                                   [&] { crowdline::detail::throw_duplicate_name("requester", name); })};
    }
    requester get_requester(requester_id id) {
        auto const lock = guard();
        return get_one<requester>(id, "requesters", "requester_id", detail::sqlite_sql::requester_columns);
    }
    std::vector<requester> find_requesters(requester_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::requester_columns, "requesters", "requester_id"};
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
        return task_run_id{insert(
            "INSERT INTO task_runs (task_id, requester_id, init_params, provider_type, task_type, sandbox) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            [&](auto& st) {
                st.bind(1, task.value());
                st.bind(2, requester.value());
                st.bind(3, init_params.dump());
                st.bind(4, std::string(provider_type));
                st.bind(5, std::string(task_type));
                st.bind(6, sandbox ? 1 : 0);
            },
            [] {})};
    }
    task_run get_task_run(task_run_id id) {
        auto const lock = guard();
        return get_one<task_run>(id, "task_runs", "task_run_id", detail::sqlite_sql::task_run_columns);
    }
    std::vector<task_run> find_task_runs(task_run_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::task_run_columns, "task_runs", "task_run_id"};
        q.where("task_id", f.task);
        q.where("requester_id", f.requester);
        q.where("is_completed", f.is_completed);
        return run<task_run>(q);
    }
    void update_task_run(task_run_id id, bool is_completed) {
        auto const lock = guard();
        if (exec_bound("UPDATE task_runs SET is_completed = ?1 WHERE task_run_id = ?2", is_completed ? 1 : 0, id.value()) == 0)
            crowdline::detail::throw_missing(id);
    }

    assignment_id new_assignment(task_run_id run) {
        auto const lock = guard();
        auto& st = prepare(
            "INSERT INTO assignments (task_id, task_run_id, requester_id, task_type, provider_type, sandbox) "
            "SELECT task_id, task_run_id, requester_id, task_type, provider_type, sandbox FROM task_runs "
            "WHERE task_run_id = ?1");
        reset_guard g{st};
        st.bind(1, run.value());
        if (step_changes(st) == 0) crowdline::detail::throw_missing(run);
        return assignment_id{db_->getLastInsertRowid()};
    }
    assignment get_assignment(assignment_id id) {
        auto const lock = guard();
        return get_one<assignment>(id, "assignments", "assignment_id", detail::sqlite_sql::assignment_columns);
    }
    std::vector<assignment> find_assignments(assignment_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::assignment_columns, "assignments", "assignment_id"};
        q.where("task_run_id", f.task_run);
        q.where("task_id", f.task);
        q.where("requester_id", f.requester);
        return run<assignment>(q);
    }

    // --- units, agents ----------------------------------------------------------------------------
    unit_id new_unit(assignment_id assignment, int unit_index, double pay_amount) {
        auto const lock = guard();
        auto id = insert(detail::sqlite_sql::insert_unit,
                         [&](auto& st) { st.bind(1, assignment.value()); st.bind(2, unit_index); st.bind(3, pay_amount); },
                         [&] {
                             throw entry_already_exists(crowdline::detail::describe(assignment) +
                                                        " already has a unit with index " + std::to_string(unit_index));
                         });
        if (id == 0) crowdline::detail::throw_missing(assignment);
        return unit_id{id};
    }
    unit get_unit(unit_id id) {
        auto const lock = guard();
        return get_one<unit>(id, "units", "unit_id", detail::sqlite_sql::unit_columns);
    }
    std::vector<unit> find_units(unit_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::unit_columns, "units", "unit_id"};
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
        if (exec_bound(detail::sqlite_sql::update_unit(status), std::string(to_string(status)), id.value()) == 1) return;
        crowdline::detail::throw_transition(id, current_status<unit_status>("units", "unit_id", id), status);
    }
    void clear_unit_agent_assignment(unit_id id) {
        auto const lock = guard();
        unit_status now = current_status<unit_status>("units", "unit_id", id);
        if (now == unit_status::launched) {
            exec_bound("UPDATE units SET agent_id = NULL, worker_id = NULL WHERE unit_id = ?1", id.value());
            return;
        }
        if (now != unit_status::assigned) crowdline::detail::throw_transition(id, now, unit_status::launched);
        update_unit(id, unit_status::launched);
    }

    /// The claim: creates the agent and assigns the unit to it in one transaction, only if the unit is
    /// still launched. A lost race is `invalid_transition`, and nothing is written.
    agent_id new_agent(worker_id worker, unit_id unit) {
        return transaction([&] {
            auto& insert_agent = prepare(detail::sqlite_sql::claim_insert_agent);
            reset_guard g{insert_agent};
            insert_agent.bind(1, worker.value());
            insert_agent.bind(2, unit.value());
            int inserted = 0;
            try {
                inserted = step_changes(insert_agent);
            } catch (SQLite::Exception const& e) {
                if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY) crowdline::detail::throw_missing(worker);
                throw;
            }
            if (inserted == 0) crowdline::detail::throw_claim(unit, current_status<unit_status>("units", "unit_id", unit));
            agent_id id{db_->getLastInsertRowid()};
            exec_bound(detail::sqlite_sql::claim_update_unit, id.value(), worker.value(), unit.value());
            return id;
        });
    }
    agent get_agent(agent_id id) {
        auto const lock = guard();
        return get_one<agent>(id, "agents", "agent_id", detail::sqlite_sql::agent_columns);
    }
    std::vector<agent> find_agents(agent_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::agent_columns, "agents", "agent_id"};
        q.where("worker_id", f.worker);
        q.where("unit_id", f.unit);
        q.where("task_run_id", f.task_run);
        q.where("assignment_id", f.assignment);
        q.where("status", f.status);
        return run<agent>(q);
    }
    void update_agent(agent_id id, agent_status status) {
        auto const lock = guard();
        change_agent("agents", "agent_id", id, status, nullptr);
    }
    /// Changes the status and stores what the worker sent, in one statement.
    void update_agent(agent_id id, agent_status status, nlohmann::json state) {
        auto const lock = guard();
        change_agent("agents", "agent_id", id, status, &state);
    }

    onboarding_agent_id new_onboarding_agent(worker_id worker, task_run_id run) {
        auto const lock = guard();
        require_exists(worker, "workers", "worker_id");
        auto& st = prepare(
            "INSERT INTO onboarding_agents (worker_id, task_id, task_run_id, task_type, status) "
            "SELECT ?1, task_id, task_run_id, task_type, 'none' FROM task_runs WHERE task_run_id = ?2");
        reset_guard g{st};
        st.bind(1, worker.value());
        st.bind(2, run.value());
        if (step_changes(st) == 0) crowdline::detail::throw_missing(run);
        return onboarding_agent_id{db_->getLastInsertRowid()};
    }
    onboarding_agent get_onboarding_agent(onboarding_agent_id id) {
        auto const lock = guard();
        return get_one<onboarding_agent>(id, "onboarding_agents", "onboarding_agent_id", detail::sqlite_sql::onboarding_agent_columns);
    }
    std::vector<onboarding_agent> find_onboarding_agents(onboarding_agent_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::onboarding_agent_columns, "onboarding_agents", "onboarding_agent_id"};
        q.where("worker_id", f.worker);
        q.where("task_run_id", f.task_run);
        q.where("status", f.status);
        return run<onboarding_agent>(q);
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status) {
        auto const lock = guard();
        change_agent("onboarding_agents", "onboarding_agent_id", id, status, nullptr);
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status, nlohmann::json state) {
        auto const lock = guard();
        change_agent("onboarding_agents", "onboarding_agent_id", id, status, &state);
    }

    // --- workers, reviews --------------------------------------------------------------------------
    worker_id new_worker(std::string_view name, std::string_view provider_type) {
        auto const lock = guard();
        crowdline::detail::require_name("worker", name);
        return worker_id{insert("INSERT INTO workers (worker_name, provider_type) VALUES (?1, ?2)",
                                [&](auto& st) { st.bind(1, std::string(name)); st.bind(2, std::string(provider_type)); },
                                [&] { crowdline::detail::throw_duplicate_name("worker", name); })};
    }
    worker get_worker(worker_id id) {
        auto const lock = guard();
        return get_one<worker>(id, "workers", "worker_id", detail::sqlite_sql::worker_columns);
    }
    std::vector<worker> find_workers(worker_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::worker_columns, "workers", "worker_id"};
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
        insert("INSERT INTO worker_reviews (unit_id, worker_id, task_id, status, review_note, bonus, blocked_worker, "
               "updated_qualification_id, updated_qualification_value, revoked_qualification_id) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
               [&](auto& st) {
                   detail::bind_optional(st, 1, r.unit);
                   st.bind(2, r.worker.value());
                   detail::bind_optional(st, 3, r.task);
                   detail::bind_optional(st, 4, r.status);
                   detail::bind_optional(st, 5, r.review_note);
                   detail::bind_optional(st, 6, r.bonus);
                   st.bind(7, r.blocked_worker ? 1 : 0);
                   detail::bind_optional(st, 8, r.updated_qualification);
                   detail::bind_optional(st, 9, r.updated_qualification_value);
                   detail::bind_optional(st, 10, r.revoked_qualification);
               },
               [] {});
    }
    std::vector<worker_review> find_worker_reviews(worker_review_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::worker_review_columns, "worker_reviews", "worker_review_id"};
        q.where("worker_id", f.worker);
        q.where("unit_id", f.unit);
        return run<worker_review>(q);
    }

    // --- qualifications ---------------------------------------------------------------------------
    qualification_id make_qualification(std::string_view name, std::string_view description = "") {
        auto const lock = guard();
        crowdline::detail::require_name("qualification", name);
        return qualification_id{insert("INSERT INTO qualifications (qualification_name, description) VALUES (?1, ?2)",
                                       [&](auto& st) { st.bind(1, std::string(name)); st.bind(2, std::string(description)); },
                                       [&] { crowdline::detail::throw_duplicate_name("qualification", name); })};
    }
    qualification get_qualification(qualification_id id) {
        auto const lock = guard();
        return get_one<qualification>(id, "qualifications", "qualification_id", detail::sqlite_sql::qualification_columns);
    }
    std::vector<qualification> find_qualifications(qualification_filter f = {}) {
        auto const lock = guard();
        query q{detail::sqlite_sql::qualification_columns, "qualifications", "qualification_id"};
        q.where("qualification_name", f.name);
        return run<qualification>(q);
    }
    /// Removes the qualification and every grant of it.
    void delete_qualification(std::string_view name) {
        transaction([&] {
            query q{detail::sqlite_sql::qualification_columns, "qualifications", "qualification_id"};
            q.where("qualification_name", std::optional<std::string>(name));
            auto found = run<qualification>(q);
            if (found.empty()) throw entry_does_not_exist("qualification \"" + std::string(name) + "\": does not exist");
            auto id = found.front().id.value();
            exec_bound("DELETE FROM granted_qualifications WHERE qualification_id = ?1", id);
            exec_bound("UPDATE worker_reviews SET updated_qualification_id = NULL WHERE updated_qualification_id = ?1", id);
            exec_bound("UPDATE worker_reviews SET revoked_qualification_id = NULL WHERE revoked_qualification_id = ?1", id);
            exec_bound("DELETE FROM qualifications WHERE qualification_id = ?1", id);
        });
    }
    /// Upsert: granting again replaces the value.
    void grant_qualification(qualification_id q, worker_id w, int value = 1) {
        auto const lock = guard();
        auto& st = prepare(
            "INSERT INTO granted_qualifications (qualification_id, worker_id, value) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (qualification_id, worker_id) DO UPDATE SET value = excluded.value, "
            "update_date = strftime('%Y-%m-%d %H:%M:%f','now')");
        reset_guard g{st};
        st.bind(1, q.value());
        st.bind(2, w.value());
        st.bind(3, value);
        try {
            step_changes(st);
        } catch (SQLite::Exception const& e) {
            if (e.getExtendedErrorCode() != SQLITE_CONSTRAINT_FOREIGNKEY) throw db_error(e.what());
            st.tryReset();
            require_exists(q, "qualifications", "qualification_id");
            crowdline::detail::throw_missing(w);
        }
    }
    void revoke_qualification(qualification_id q, worker_id w) {
        auto const lock = guard();
        if (exec_bound("DELETE FROM granted_qualifications WHERE qualification_id = ?1 AND worker_id = ?2", q.value(),
                       w.value()) == 0)
            crowdline::detail::throw_missing_grant(q, w);
    }
    granted_qualification get_granted_qualification(qualification_id q, worker_id w) {
        auto const lock = guard();
        auto& st = prepare(detail::sqlite_sql::get_granted);
        reset_guard g{st};
        st.bind(1, q.value());
        st.bind(2, w.value());
        if (!st.executeStep()) crowdline::detail::throw_missing_grant(q, w);
        return {q, w, st.getColumn(0).getInt()};
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
        auto& st = prepare("SELECT value FROM keyed_values WHERE scope = ?1 AND key = ?2");
        reset_guard g{st};
        st.bind(1, std::string(scope_name));
        st.bind(2, std::string(key));
        if (!st.executeStep()) return std::nullopt;
        return st.getColumn(0).getString();
    }
    /// Inserts or replaces (the row keeps its place in `find_values`). An empty scope or key →
    /// `invalid_argument`.
    void put_value(std::string_view scope_name, std::string_view key, std::string_view value) {
        auto const lock = guard();
        crowdline::detail::require_value_key(scope_name, key);
        exec_bound("INSERT INTO keyed_values (scope, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (scope, key) DO "
                   "UPDATE SET value = excluded.value, update_date = strftime('%Y-%m-%d %H:%M:%f','now')",
                   std::string(scope_name), std::string(key), std::string(value));
    }
    /// Every key and value in `scope_name`, in the order the keys were first put.
    std::vector<std::pair<std::string, std::string>> find_values(std::string_view scope_name) {
        auto const lock = guard();
        auto& st = prepare("SELECT key, value FROM keyed_values WHERE scope = ?1 ORDER BY value_id");
        reset_guard g{st};
        st.bind(1, std::string(scope_name));
        std::vector<std::pair<std::string, std::string>> out;
        while (st.executeStep()) out.emplace_back(st.getColumn(0).getString(), st.getColumn(1).getString());
        return out;
    }

private:
    using reset_guard = detail::reset_guard;
    using query = detail::sqlite_query;

    /// The one lock: every public method that touches the connection starts with `auto const lock =
    /// guard();` (or goes through `transaction`, which holds it until it commits or rolls back), and the
    /// private helpers below assume it is held. So each call is atomic to other threads, including the
    /// multi-statement ones (a check then a write, an INSERT then its row id). Recursive, because `f` in
    /// `transaction(f)` calls public methods and nested transactions are savepoints. One uncontended lock
    /// and unlock per call, not one per SQLite API call as SQLite's own per-connection mutex would be.
    [[nodiscard]] std::unique_lock<std::recursive_mutex> guard() const { return std::unique_lock{mutex_}; }

    class scope {
    public:
        explicit scope(sqlite& db) : db_(db) {
            if (db_.depth_ == 0)
                db_.control("BEGIN IMMEDIATE");
            else
                db_.control("SAVEPOINT crowdline_" + std::to_string(db_.depth_));
            ++db_.depth_;
        }
        void commit() {
            --db_.depth_;
            try {
                db_.control(db_.depth_ == 0 ? std::string("COMMIT") : "RELEASE crowdline_" + std::to_string(db_.depth_));
            } catch (...) {
                ++db_.depth_;
                throw;
            }
            done_ = true;
        }
        ~scope() {
            if (done_) return;
            --db_.depth_;
            if (db_.depth_ == 0) {
                db_.db_->tryExec("ROLLBACK");
            } else {
                auto name = "crowdline_" + std::to_string(db_.depth_);
                db_.db_->tryExec(("ROLLBACK TO " + name).c_str());
                db_.db_->tryExec(("RELEASE " + name).c_str());
            }
        }
        scope(scope const&) = delete;
        scope& operator=(scope const&) = delete;

    private:
        sqlite& db_;
        bool done_ = false;
    };

    void migrate() {
        transaction([&] { detail::apply_sqlite_migrations(*db_, path_, options_.schema_version); });
    }

    void start_checkpoints() {
        sqlite3* handle = db_->getHandle();
        if (options_.journal_mode != "WAL") return;
        if (!options_.background_checkpoint) {
            sqlite3_wal_autocheckpoint(handle, options_.checkpoint_frames);
            return;
        }
        std::string mode;
        {
            SQLite::Statement st(*db_, "PRAGMA journal_mode");
            if (st.executeStep()) mode = st.getColumn(0).getString();
        }
        if (mode != "wal") return;  // e.g. ":memory:", which has no log
        char const* file = sqlite3_db_filename(handle, "main");  // absolute: immune to a later chdir
        checkpointer_ = std::make_unique<detail::wal_checkpointer>(detail::wal_checkpointer::settings{
            .path = file != nullptr ? file : path_,
            .vfs = options_.gather_log_writes ? std::string(detail::wal_vfs::name) : std::string(),
            .synchronous = options_.synchronous,
            .wake_frames = options_.checkpoint_frames,
            .restart_frames = 4 * options_.checkpoint_frames,
            .busy_timeout = options_.busy_timeout,
        });
        checkpointer_->attach(handle);
    }

    void exec(std::string const& text) { detail::sqlite_exec(*db_, path_, text); }

    /// BEGIN, COMMIT, SAVEPOINT, RELEASE: prepared once like any statement (sqlite3_exec would parse the
    /// text again on every transaction).
    void control(std::string const& text) {
        auto& st = prepare(text);
        reset_guard g{st};
        try {
            st.executeStep();
        } catch (SQLite::Exception const& e) {
            throw db_error(path_ + ": " + e.what() + " (in: " + text + ")");
        }
    }

    SQLite::Statement& prepare(std::string const& text) { return cache_.prepare(*db_, path_, text); }

    /// Runs a write statement to completion; returns the rows it changed.
    static int step_changes(SQLite::Statement& st) {
        st.executeStep();
        return st.getChanges();
    }

    template <class... Args>
    int exec_bound(std::string const& text, Args const&... args) {
        auto& st = prepare(text);
        reset_guard g{st};
        int i = 0;
        (detail::bind_value(st, ++i, args), ...);
        try {
            return step_changes(st);
        } catch (SQLite::Exception const& e) {
            throw db_error(path_ + ": " + e.what());
        }
    }

    /// Runs an INSERT; a UNIQUE violation calls `on_duplicate` (which throws). Returns the new row id, or
    /// 0 when an INSERT … SELECT found no source row.
    template <class Bind, class OnDuplicate>
    std::int64_t insert(std::string const& text, Bind&& bind, OnDuplicate&& on_duplicate) {
        auto& st = prepare(text);
        reset_guard g{st};
        bind(st);
        try {
            if (step_changes(st) == 0) return 0;
        } catch (SQLite::Exception const& e) {
            int const code = e.getExtendedErrorCode();
            if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) on_duplicate();
            throw db_error(path_ + ": " + e.what());
        }
        return db_->getLastInsertRowid();
    }

    bool exists(std::string const& text, std::int64_t id) {
        auto& st = prepare(text);
        reset_guard g{st};
        st.bind(1, id);
        return st.executeStep();
    }

    template <class Id>
    void require_exists(Id id, std::string_view table, std::string_view column) {
        if (!exists("SELECT 1 FROM " + std::string(table) + " WHERE " + std::string(column) + " = ?1", id.value()))
            crowdline::detail::throw_missing(id);
    }

    template <class Status, class Id>
    Status current_status(std::string_view table, std::string_view column, Id id) {
        auto& st = prepare("SELECT status FROM " + std::string(table) + " WHERE " + std::string(column) + " = ?1");
        reset_guard g{st};
        st.bind(1, id.value());
        if (!st.executeStep()) crowdline::detail::throw_missing(id);
        return parse<Status>(st.getColumn(0).getText());
    }

    template <class Id>
    void change_agent(std::string_view table, std::string_view column, Id id, agent_status status, nlohmann::json const* state) {
        auto& text = agent_sql_[table == "agents" ? 0 : 1][static_cast<std::size_t>(status) * 2 + (state ? 1 : 0)];
        if (text.empty()) text = detail::sqlite_sql::update_agent(table, column, status, state != nullptr);
        int changed = state ? exec_bound(text, std::string(to_string(status)), id.value(), state->dump())
                            : exec_bound(text, std::string(to_string(status)), id.value());
        if (changed == 1) return;
        crowdline::detail::throw_transition(id, current_status<agent_status>(table, column, id), status);
    }

    template <class Row>
    std::vector<Row> run(query& q) {
        auto& st = prepare(q.sql + " ORDER BY " + q.order_by);
        reset_guard g{st};
        for (std::size_t i = 0; i < q.binds.size(); ++i) q.binds[i](st, static_cast<int>(i) + 1);
        std::vector<Row> out;
        while (st.executeStep()) out.push_back(detail::read_row<Row>(st));
        return out;
    }

    template <class Row, class Id>
    Row get_one(Id id, std::string_view table, std::string_view column, std::string_view columns) {
        auto& st = prepare("SELECT " + std::string(columns) + " FROM " + std::string(table) + " WHERE " +
                           std::string(column) + " = ?1");
        reset_guard g{st};
        st.bind(1, id.value());
        if (!st.executeStep()) crowdline::detail::throw_missing(id);
        return detail::read_row<Row>(st);
    }

    std::string path_;
    sqlite_options options_;
    std::unique_ptr<SQLite::Database> db_;
    detail::sqlite_statement_cache cache_;  ///< after db_: its statements are finalised before the connection closes
    std::unique_ptr<detail::wal_checkpointer> checkpointer_;  ///< after db_: stops before the connection closes
    std::array<std::array<std::string, 28>, 2> agent_sql_;  // [agents, onboarding][status * 2 + with_state]
    int depth_ = 0;                        ///< open transaction and savepoints (with mutex_ held)
    mutable std::recursive_mutex mutex_;  ///< see guard()
};

}  // namespace crowdline::stores

CROWDLINE_REFLECT(crowdline::stores::sqlite_options, journal_mode, synchronous, gather_log_writes,
                  background_checkpoint, checkpoint_frames, page_size, cache_kib);
