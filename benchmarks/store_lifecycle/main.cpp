// store_lifecycle: one crowdsourcing campaign's unit lifecycle through crowdline's stores, next to the
// same SQL issued through the bare sqlite3 C API in the same run.
//
// Workload (the issue's): one project, requester, task and run; N assignments × 2 units; W workers.
//   1. unit creation      new_assignment + 2 × new_unit per assignment                      → units/s
//   2. unit lifecycle     update_unit(launched), new_agent (workers cycled: unit k goes to worker k mod W, so
//                         the two units of an assignment never share a worker), update_agent(in_task),
//                         update_agent(completed, {"outputs":{"label":"x"}}), update_unit(completed) → lifecycles/s
//   3. find_units({.task_run, .status = launched})                                            → queries/s
//   4. find_units({.worker})                                                                  → queries/s
//   5. one qualification granted to every worker, then get_granted_qualification            → reads/s
//
// Phase 3's state. Once every lifecycle is done no unit is launched, so the query is an empty index probe.
// To make it a real query, the lifecycle runs in two halves: the first half of the units go through their
// whole lifecycle, then the second half are launched, then phase 3 runs (exactly half the units — N rows —
// match), then the second half are claimed and completed. The lifecycle figure is the sum of those three
// timed pieces over all units (the same statements as one pass, in a different order). The query is also
// timed once more after the lifecycle (0 rows): that is the state the workload text literally leaves, and
// probably the one behind Mephisto's 1,463/s (a Python ORM returning 2,000 Unit objects per call could not
// reach that rate). Every configuration and the baseline go through exactly the same states.
//
// Configurations: stores::memory; stores::sqlite with Mephisto's settings (journal DELETE, synchronous
// FULL, one commit per call); crowdline's default (WAL, synchronous NORMAL, one commit per call); the
// default with each phase's writes batched in `transaction` (--batch units per transaction); and, for
// each of the three SQLite settings, the baseline: the bare sqlite3 C API (each statement prepared once,
// then bind/step/reset) issuing the same SQL text on a file crowdline created, with the same pragmas
// (foreign_keys, journal_mode, synchronous, temp_store) and the same BEGIN IMMEDIATE/SAVEPOINT sequences.
//
// Before each read phase that follows writes (3, 3' and 5), every configuration pauses for --settle-ms
// (300), untimed, so a checkpoint round that the writes started on stores::sqlite's thread is not billed
// to the queries that happen to run beside it.
//
// Each phase prints ops/s (wall clock), the process CPU time per op (the gap to wall time is waiting: on
// the disk, or on the other processes of a shared machine), and for the writing phases the fsync and
// pwrite calls per op, counted by interposing libc (below). Run with --repeat N for medians.
//
// The JSON a worker sent is built before the timed phase and moved in (the caller owns it); the store
// serialises it, and so does the baseline (nlohmann::json::dump) — storing JSON means serialising it.

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <crowdline/store/memory.hpp>
#include <crowdline/store/sqlite.hpp>

#include "../common/measure.hpp"

namespace {

namespace fs = std::filesystem;
using namespace crowdline;
using namespace bench;
namespace sql = crowdline::stores::detail::sqlite_sql;

/// Mephisto's own SQLite layer (Python, its defaults) on this workload on this kind of machine (the issue).
struct mephisto {
    static constexpr double creation = 749;      // units/s
    static constexpr double lifecycle = 239;     // lifecycles/s
    // (without fsync Mephisto reached 1,925 lifecycles/s; not compared: crowdline's stores always sync)
    static constexpr double find_run = 1463;     // find_units(run, launched) /s
    static constexpr double find_worker = 1353;  // find_units(worker) /s
    static constexpr double granted = 78000;     // get_granted_qualification /s
};

struct params {
    int assignments = 2000;
    int workers = 200;
    int queries = 1000;
    int reads = 2000;
    int batch = 500;  // units per transaction in the batched configurations
    int page_size = stores::sqlite_options{}.page_size;  // for every SQLite file (the C API uses crowdline's)
    int settle_ms = 300;  // untimed pause before each read phase that follows writes (see settle below)
    int repeat = 1;   // runs per configuration; the median of each phase is reported
    double fsync_seconds = 1.0;
    bool smoke = false;
    std::optional<fs::path> dir;
};

[[noreturn]] void fail(std::string const& what) { throw std::runtime_error(what); }

// --- the bare sqlite3 C API baseline ---------------------------------------------------------------------

// SQL that crowdline builds inside private methods of stores::sqlite, replicated here character for
// character (the rest comes from crowdline::stores::detail::sqlite_sql itself):
//   stores::sqlite::new_assignment
constexpr char new_assignment_sql[] =
    "INSERT INTO assignments (task_id, task_run_id, requester_id, task_type, provider_type, sandbox) "
    "SELECT task_id, task_run_id, requester_id, task_type, provider_type, sandbox FROM task_runs "
    "WHERE task_run_id = ?1";
//   stores::sqlite::grant_qualification
constexpr char grant_sql[] =
    "INSERT INTO granted_qualifications (qualification_id, worker_id, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (qualification_id, worker_id) DO UPDATE SET value = excluded.value, "
    "update_date = strftime('%Y-%m-%d %H:%M:%f','now')";
//   stores::sqlite::query + run: "SELECT <columns> FROM <table>" + " WHERE c = ?" + " AND c = ?" + " ORDER BY <id>"
std::string const find_units_by_run_status_sql =
    std::string("SELECT ") + sql::unit_columns + " FROM units WHERE task_run_id = ? AND status = ? ORDER BY unit_id";
std::string const find_units_by_worker_sql =
    std::string("SELECT ") + sql::unit_columns + " FROM units WHERE worker_id = ? ORDER BY unit_id";
//   stores::sqlite::scope (BEGIN IMMEDIATE at depth 0, a savepoint named after the depth when nested)
constexpr char begin_sql[] = "BEGIN IMMEDIATE";
constexpr char commit_sql[] = "COMMIT";
constexpr char savepoint_sql[] = "SAVEPOINT crowdline_1";
constexpr char release_sql[] = "RELEASE crowdline_1";

class raw_sqlite {
public:
    raw_sqlite(std::string const& path, stores::sqlite_options const& o, bool batched) : batched_(batched) {
        // the same VFS as stores::sqlite (log frames handed to the OS once per transaction), so both sides
        // issue the same system calls and the comparison is of the layers above
        char const* vfs = o.gather_log_writes ? stores::detail::wal_vfs::ensure_registered() : nullptr;
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            fail(path + ": " + msg);
        }
        sqlite3_busy_timeout(db_, static_cast<int>(o.busy_timeout.count()));
        exec("PRAGMA foreign_keys = ON");
        exec("PRAGMA journal_mode = " + o.journal_mode);
        exec("PRAGMA synchronous = " + o.synchronous);
        exec("PRAGMA temp_store = MEMORY");  // stores::sqlite's constructor issues these four pragmas
        new_assignment_ = prepare(new_assignment_sql);
        insert_unit_ = prepare(sql::insert_unit);
        for (std::size_t s = 0; s < update_unit_.size(); ++s)
            update_unit_[s] = prepare(sql::update_unit(static_cast<unit_status>(s)));
        for (std::size_t s = 0; s < update_agent_.size(); ++s)
            for (int with_state = 0; with_state < 2; ++with_state)
                update_agent_[s][with_state] =
                    prepare(sql::update_agent("agents", "agent_id", static_cast<agent_status>(s), with_state == 1));
        claim_insert_ = prepare(sql::claim_insert_agent);
        claim_update_ = prepare(sql::claim_update_unit);
        begin_ = prepare(begin_sql);
        commit_ = prepare(commit_sql);
        savepoint_ = prepare(savepoint_sql);
        release_ = prepare(release_sql);
        find_by_run_status_ = prepare(find_units_by_run_status_sql);
        find_by_worker_ = prepare(find_units_by_worker_sql);
        grant_ = prepare(grant_sql);
        get_granted_ = prepare(sql::get_granted);
    }
    ~raw_sqlite() {
        statements_.clear();
        sqlite3_close(db_);
    }
    raw_sqlite(raw_sqlite const&) = delete;
    raw_sqlite& operator=(raw_sqlite const&) = delete;

    [[nodiscard]] bool batched() const noexcept { return batched_; }
    template <class F>
    void batch(F&& f) {
        begin();
        try {
            f();
        } catch (...) {
            rollback();
            throw;
        }
        commit();
    }

    assignment_id new_assignment(task_run_id run) {
        sqlite3_bind_int64(new_assignment_, 1, run.value());
        if (write(new_assignment_) != 1) fail("new_assignment: no such run");
        return assignment_id{sqlite3_last_insert_rowid(db_)};
    }
    unit_id new_unit(assignment_id a, int index, double pay) {
        sqlite3_bind_int64(insert_unit_, 1, a.value());
        sqlite3_bind_int(insert_unit_, 2, index);
        sqlite3_bind_double(insert_unit_, 3, pay);
        if (write(insert_unit_) != 1) fail("new_unit: no such assignment");
        return unit_id{sqlite3_last_insert_rowid(db_)};
    }
    void update_unit(unit_id u, unit_status s) {
        sqlite3_stmt* st = update_unit_[static_cast<std::size_t>(s)];
        bind_text(st, 1, to_string(s));
        sqlite3_bind_int64(st, 2, u.value());
        if (write(st) != 1) fail("update_unit: refused");
    }
    /// The claim, as crowdline issues it: BEGIN IMMEDIATE (or a savepoint inside a batch), INSERT … SELECT,
    /// UPDATE, COMMIT (or RELEASE).
    agent_id new_agent(worker_id w, unit_id u) {
        begin();
        try {
            sqlite3_bind_int64(claim_insert_, 1, w.value());
            sqlite3_bind_int64(claim_insert_, 2, u.value());
            if (write(claim_insert_) != 1) fail("new_agent: unit not launched");
            std::int64_t id = sqlite3_last_insert_rowid(db_);
            sqlite3_bind_int64(claim_update_, 1, id);
            sqlite3_bind_int64(claim_update_, 2, w.value());
            sqlite3_bind_int64(claim_update_, 3, u.value());
            write(claim_update_);
            commit();
            return agent_id{id};
        } catch (...) {
            rollback();
            throw;
        }
    }
    void update_agent(agent_id a, agent_status s) {
        sqlite3_stmt* st = update_agent_[static_cast<std::size_t>(s)][0];
        bind_text(st, 1, to_string(s));
        sqlite3_bind_int64(st, 2, a.value());
        if (write(st) != 1) fail("update_agent: refused");
    }
    void update_agent(agent_id a, agent_status s, nlohmann::json state) {
        sqlite3_stmt* st = update_agent_[static_cast<std::size_t>(s)][1];
        std::string const text = state.dump();
        bind_text(st, 1, to_string(s));
        sqlite3_bind_int64(st, 2, a.value());
        bind_text(st, 3, text);
        if (write(st) != 1) fail("update_agent: refused");
    }
    std::size_t find_units_by_run_status(task_run_id run, unit_status s) {
        sqlite3_bind_int64(find_by_run_status_, 1, run.value());
        bind_text(find_by_run_status_, 2, to_string(s));
        return read_units(find_by_run_status_).size();
    }
    std::size_t find_units_by_worker(worker_id w) {
        sqlite3_bind_int64(find_by_worker_, 1, w.value());
        return read_units(find_by_worker_).size();
    }
    void grant(qualification_id q, worker_id w) {
        sqlite3_bind_int64(grant_, 1, q.value());
        sqlite3_bind_int64(grant_, 2, w.value());
        sqlite3_bind_int(grant_, 3, 1);
        write(grant_);
    }
    int granted(qualification_id q, worker_id w) {
        sqlite3_bind_int64(get_granted_, 1, q.value());
        sqlite3_bind_int64(get_granted_, 2, w.value());
        int const rc = sqlite3_step(get_granted_);
        if (rc != SQLITE_ROW) {
            sqlite3_reset(get_granted_);
            fail("get_granted_qualification: none");
        }
        granted_qualification g{q, w, sqlite3_column_int(get_granted_, 0)};
        sqlite3_reset(get_granted_);
        return g.value;
    }

private:
    struct finalizer {
        void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
    };

    sqlite3_stmt* prepare(std::string const& text) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, text.c_str(), static_cast<int>(text.size()) + 1, &st, nullptr) != SQLITE_OK)
            fail(std::string("prepare: ") + sqlite3_errmsg(db_) + " in: " + text);
        statements_.emplace_back(st);
        return st;
    }
    void exec(std::string const& text) {
        char* err = nullptr;
        if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "?";
            sqlite3_free(err);
            fail(text + ": " + msg);
        }
    }
    static void bind_text(sqlite3_stmt* st, int i, std::string_view text) {
        sqlite3_bind_text(st, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    }
    /// Steps a write to completion; returns the rows it changed.
    int write(sqlite3_stmt* st) {
        int const rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) fail(std::string("step: ") + sqlite3_errmsg(db_) + " in: " + sqlite3_sql(st));
        return sqlite3_changes(db_);
    }
    void begin() {
        if (depth_ > 1) fail("raw baseline: nesting deeper than crowdline_1 is not modelled");
        write(depth_ == 0 ? begin_ : savepoint_);
        ++depth_;
    }
    void commit() {
        --depth_;
        write(depth_ == 0 ? commit_ : release_);
    }
    void rollback() noexcept {
        --depth_;
        if (depth_ == 0) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        } else {
            sqlite3_exec(db_, "ROLLBACK TO crowdline_1", nullptr, nullptr, nullptr);
            sqlite3_exec(db_, "RELEASE crowdline_1", nullptr, nullptr, nullptr);
        }
    }
    static std::string_view column_view(sqlite3_stmt* st, int i) {
        auto const* p = reinterpret_cast<char const*>(sqlite3_column_text(st, i));
        return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i))) : std::string_view();
    }
    template <class Id>
    static std::optional<Id> column_id(sqlite3_stmt* st, int i) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
        return Id{sqlite3_column_int64(st, i)};
    }
    /// Reads the rows into the same records crowdline returns (columns in sql::unit_columns order).
    std::vector<unit> read_units(sqlite3_stmt* st) {
        std::vector<unit> out;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            unit u;
            u.id = unit_id{sqlite3_column_int64(st, 0)};
            u.assignment = assignment_id{sqlite3_column_int64(st, 1)};
            u.unit_index = sqlite3_column_int(st, 2);
            u.pay_amount = sqlite3_column_double(st, 3);
            u.provider_type = std::string(column_view(st, 4));
            u.status = parse<unit_status>(column_view(st, 5));
            u.agent = column_id<agent_id>(st, 6);
            u.worker = column_id<worker_id>(st, 7);
            u.task_type = std::string(column_view(st, 8));
            u.task = task_id{sqlite3_column_int64(st, 9)};
            u.task_run = task_run_id{sqlite3_column_int64(st, 10)};
            u.sandbox = sqlite3_column_int(st, 11) != 0;
            u.requester = requester_id{sqlite3_column_int64(st, 12)};
            out.push_back(std::move(u));
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) fail(std::string("query: ") + sqlite3_errmsg(db_));
        return out;
    }

    sqlite3* db_ = nullptr;
    bool batched_;
    int depth_ = 0;
    std::vector<std::unique_ptr<sqlite3_stmt, finalizer>> statements_;
    sqlite3_stmt* new_assignment_ = nullptr;
    sqlite3_stmt* insert_unit_ = nullptr;
    std::array<sqlite3_stmt*, 8> update_unit_{};
    std::array<std::array<sqlite3_stmt*, 2>, 14> update_agent_{};
    sqlite3_stmt* claim_insert_ = nullptr;
    sqlite3_stmt* claim_update_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    sqlite3_stmt* savepoint_ = nullptr;
    sqlite3_stmt* release_ = nullptr;
    sqlite3_stmt* find_by_run_status_ = nullptr;
    sqlite3_stmt* find_by_worker_ = nullptr;
    sqlite3_stmt* grant_ = nullptr;
    sqlite3_stmt* get_granted_ = nullptr;
};

// --- crowdline's stores, behind the same small interface ---------------------------------------------------

template <class Store>
class crowdline_backend {
public:
    crowdline_backend(Store& db, bool batched) : db_(db), batched_(batched) {}
    [[nodiscard]] bool batched() const noexcept { return batched_; }
    template <class F>
    void batch(F&& f) { db_.transaction(std::forward<F>(f)); }

    assignment_id new_assignment(task_run_id run) { return db_.new_assignment(run); }
    unit_id new_unit(assignment_id a, int index, double pay) { return db_.new_unit(a, index, pay); }
    void update_unit(unit_id u, unit_status s) { db_.update_unit(u, s); }
    agent_id new_agent(worker_id w, unit_id u) { return db_.new_agent(w, u); }
    void update_agent(agent_id a, agent_status s) { db_.update_agent(a, s); }
    void update_agent(agent_id a, agent_status s, nlohmann::json state) { db_.update_agent(a, s, std::move(state)); }
    std::size_t find_units_by_run_status(task_run_id run, unit_status s) {
        return db_.find_units({.task_run = run, .status = s}).size();
    }
    std::size_t find_units_by_worker(worker_id w) { return db_.find_units({.worker = w}).size(); }
    void grant(qualification_id q, worker_id w) { db_.grant_qualification(q, w, 1); }
    int granted(qualification_id q, worker_id w) { return db_.get_granted_qualification(q, w).value; }

private:
    Store& db_;
    bool batched_;
};

// --- the workload ------------------------------------------------------------------------------------------

/// The ids a run creates, kept to drive the phases and to check the result.
struct fixture {
    task_run_id run;
    qualification_id qualification;
    std::vector<worker_id> workers;
    std::vector<assignment_id> assignments;
    std::vector<unit_id> units;
    std::vector<agent_id> agents;
};

/// One phase: operations per wall-clock second, and process CPU time per operation (what the call costs
/// this process; the gap to the wall time is waiting — for the disk, or for the other processes on the box).
struct phase {
    double rate = 0;
    double cpu_us = 0;
};

/// A phase's rate and CPU cost per operation, from its meter.
phase per(meter const& m, double ops) { return {m.rate(ops), m.cpu_us_per(ops)}; }

/// Every phase of one run, and the disk syncs each unit cost.
struct figures {
    phase creation;             // units/s
    phase lifecycle;            // lifecycles/s
    phase find_launched_half;   // queries/s, half the units launched
    phase find_launched_empty;  // queries/s, after the lifecycle (0 rows)
    phase find_worker;          // queries/s
    phase grant;                // grants/s (informational)
    phase granted;              // reads/s
    double syncs_per_created_unit = 0;
    double syncs_per_lifecycle = 0;
    double writes_per_created_unit = 0;
    double writes_per_lifecycle = 0;
    double fsync_rate = 0;  // the disk's, measured just before and after a synchronous=FULL run (mean)
};

nlohmann::json const& worker_state() {
    static nlohmann::json const state = {{"outputs", {{"label", "x"}}}};
    return state;
}

/// Untimed: the project, requester, task, run, workers and qualification.
template <class Store>
fixture set_up(Store& db, params const& p) {
    auto project = db.new_project("store_lifecycle");
    auto requester = db.new_requester("store_lifecycle-requester", "mock");
    auto task = db.new_task("store_lifecycle-task", "mock", project);
    fixture fx;
    fx.run = db.new_task_run(task, requester, nlohmann::json{{"benchmark", "store_lifecycle"}}, "mock", "mock", true);
    for (int w = 0; w < p.workers; ++w) fx.workers.push_back(db.new_worker("worker-" + std::to_string(w), "mock"));
    fx.qualification = db.make_qualification("store_lifecycle-qualification", "granted to every worker");
    return fx;
}

template <class Backend>
figures run_workload(Backend& b, fixture& fx, params const& p) {
    std::size_t const n_assignments = static_cast<std::size_t>(p.assignments);
    std::size_t const n_units = 2 * n_assignments;
    std::size_t const n_workers = fx.workers.size();
    std::size_t const half = n_units / 2;
    std::size_t const per_batch = static_cast<std::size_t>(std::max(1, p.batch));

    // What the workers send, built before the clock starts and moved in.
    std::vector<nlohmann::json> states(n_units, worker_state());
    fx.assignments.reserve(n_assignments);
    fx.units.reserve(n_units);
    fx.agents.assign(n_units, agent_id{});

    // Runs body(k) for k in [begin, end): one call per store call, or `per` at a time inside `transaction`.
    auto each = [&](std::size_t begin, std::size_t end, std::size_t per, auto&& body) {
        if (!b.batched()) {
            for (std::size_t k = begin; k < end; ++k) body(k);
            return;
        }
        for (std::size_t s = begin; s < end; s += per)
            b.batch([&] {
                for (std::size_t k = s, e = std::min(end, s + per); k < e; ++k) body(k);
            });
    };
    auto worker_of = [&](std::size_t k) { return fx.workers[k % n_workers]; };
    auto launch = [&](std::size_t k) { b.update_unit(fx.units[k], unit_status::launched); };
    auto claim_and_complete = [&](std::size_t k) {
        agent_id a = b.new_agent(worker_of(k), fx.units[k]);
        fx.agents[k] = a;
        b.update_agent(a, agent_status::in_task);
        b.update_agent(a, agent_status::completed, std::move(states[k]));
        b.update_unit(fx.units[k], unit_status::completed);
    };
    auto expect_rows = [](char const* what, std::size_t got, std::size_t want) {
        if (got != want)
            fail(std::string(what) + ": " + std::to_string(got) + " rows, expected " + std::to_string(want));
    };

    figures out;
    double const units_d = static_cast<double>(n_units);

    // 1. unit creation
    meter creation;
    creation.time([&] {
        each(0, n_assignments, std::max<std::size_t>(1, per_batch / 2), [&](std::size_t) {
            assignment_id a = b.new_assignment(fx.run);
            fx.assignments.push_back(a);
            fx.units.push_back(b.new_unit(a, 0, 0.5));
            fx.units.push_back(b.new_unit(a, 1, 0.5));
        });
    });
    out.creation = per(creation, units_d);
    out.syncs_per_created_unit = creation.syncs_per(units_d);
    out.writes_per_created_unit = creation.writes_per(units_d);

    // 2. lifecycle: the first half whole, then the second half launched ...
    meter lifecycle;
    lifecycle.time([&] {
        each(0, half, per_batch, [&](std::size_t k) {
            launch(k);
            claim_and_complete(k);
        });
        each(half, n_units, per_batch, launch);
    });

    // Before a read phase that follows writes, every configuration pauses, untimed: a checkpoint round the
    // writes started on stores::sqlite's thread would otherwise run during the few milliseconds of queries
    // and bill them its CPU (an empty find_units measured 1.41x the C API's CPU that way, 1.18x after a
    // pause). The writes' own figures include the rounds that ran while they did; the last one is in none.
    auto settle = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(p.settle_ms)); };

    // 3. find_units(run, launched) with half the units launched
    settle();
    meter find_half;
    find_half.time([&] {
        for (int q = 0; q < p.queries; ++q)
            expect_rows("find_units(run, launched), half launched",
                        b.find_units_by_run_status(fx.run, unit_status::launched), n_units - half);
    });
    out.find_launched_half = per(find_half, p.queries);

    // ... 2. (continued) and the second half claimed and completed
    lifecycle.time([&] { each(half, n_units, per_batch, claim_and_complete); });
    out.lifecycle = per(lifecycle, units_d);
    out.syncs_per_lifecycle = lifecycle.syncs_per(units_d);
    out.writes_per_lifecycle = lifecycle.writes_per(units_d);

    // 3'. the same query after the lifecycle: nothing is launched any more
    settle();
    meter find_empty;
    find_empty.time([&] {
        for (int q = 0; q < p.queries; ++q)
            expect_rows("find_units(run, launched), after the lifecycle",
                        b.find_units_by_run_status(fx.run, unit_status::launched), 0);
    });
    out.find_launched_empty = per(find_empty, p.queries);

    // 4. find_units(worker): worker w holds the units k with k mod W == w
    meter find_worker;
    find_worker.time([&] {
        for (int q = 0; q < p.queries; ++q) {
            std::size_t const w = static_cast<std::size_t>(q) % n_workers;
            std::size_t const want = n_units / n_workers + (w < n_units % n_workers ? 1 : 0);
            expect_rows("find_units(worker)", b.find_units_by_worker(fx.workers[w]), want);
        }
    });
    out.find_worker = per(find_worker, p.queries);

    // 5. one qualification granted to every worker (timed, informational), then read back
    meter grant;
    grant.time([&] { each(0, n_workers, per_batch, [&](std::size_t w) { b.grant(fx.qualification, fx.workers[w]); }); });
    out.grant = per(grant, static_cast<double>(n_workers));
    settle();
    meter granted;
    granted.time([&] {
        for (int r = 0; r < p.reads; ++r)
            if (b.granted(fx.qualification, fx.workers[static_cast<std::size_t>(r) % n_workers]) != 1)
                fail("get_granted_qualification: wrong value");
    });
    out.granted = per(granted, p.reads);
    return out;
}

/// The final data, read back through crowdline's API: every unit completed by the expected worker's agent,
/// every agent completed with its state, the counts right.
template <class Store>
void verify(Store& db, fixture const& fx, params const& p) {
    std::size_t const n_units = 2 * static_cast<std::size_t>(p.assignments);
    auto check = [](bool ok, std::string const& what) {
        if (!ok) fail("verification: " + what);
    };
    check(fx.units.size() == n_units && fx.agents.size() == n_units, "the fixture holds every unit and agent");
    check(db.find_assignments({.task_run = fx.run}).size() == static_cast<std::size_t>(p.assignments),
          "assignment count");
    auto units = db.find_units({.task_run = fx.run});
    check(units.size() == n_units, "unit count " + std::to_string(units.size()));
    auto agents = db.find_agents({.task_run = fx.run});
    check(agents.size() == n_units, "agent count " + std::to_string(agents.size()));
    for (std::size_t k = 0; k < n_units; ++k) {
        unit const& u = units[k];
        worker_id const w = fx.workers[k % fx.workers.size()];
        std::string const name = "unit #" + std::to_string(k);
        check(u.id == fx.units[k], name + ": id");
        check(u.assignment == fx.assignments[k / 2] && u.unit_index == static_cast<int>(k % 2), name + ": slot");
        check(u.status == unit_status::completed, name + ": status " + std::string(to_string(u.status)));
        check(u.agent == fx.agents[k] && u.worker == w, name + ": agent/worker");
        agent const& a = agents[k];
        check(a.id == fx.agents[k] && a.unit == u.id && a.worker == w && a.assignment == u.assignment,
              name + ": its agent");
        check(a.status == agent_status::completed, name + ": agent status " + std::string(to_string(a.status)));
        check(a.state == worker_state(), name + ": agent state " + a.state.dump());
    }
    check(db.find_units({.task_run = fx.run, .status = unit_status::launched}).empty(), "no unit left launched");
    auto grants = db.find_granted_qualifications({.qualification = fx.qualification});
    check(grants.size() == fx.workers.size(), "grant count");
    for (auto const& g : grants) check(g.value == 1, "grant value");
    // Two units of one assignment never went to the same worker.
    for (std::size_t k = 0; k + 1 < n_units; k += 2) check(units[k].worker != units[k + 1].worker, "worker cycling");
}

// --- configurations ----------------------------------------------------------------------------------------

enum class kind { memory, store, c_api };

struct configuration {
    std::string name;
    kind k;
    std::string journal;  // empty for memory
    std::string synchronous;
    bool batched = false;
    bool gather = true;  ///< stores::sqlite's VFS (a transaction's log frames in one write); false: SQLite's own
    bool background = true;  ///< stores::sqlite's checkpoints on a thread; false: inside the commit, as SQLite does

    [[nodiscard]] std::string settings(params const& p) const {
        if (k == kind::memory) return "in-process maps, no durability";
        return "journal=" + journal + " sync=" + synchronous + " page=" + std::to_string(p.page_size) + " commit=" +
               (batched ? "per " + std::to_string(p.batch) + " units" : std::string("per call")) +
               (gather ? "" : " SQLite's VFS") + (background || k != kind::store ? "" : " checkpoint in commit");
    }
    [[nodiscard]] std::string file_stem() const {
        std::string s = "store_lifecycle-";
        s += k == kind::c_api ? "capi-" : "store-";
        s += journal + "-" + synchronous + (batched ? "-batched" : "") + (gather ? "" : "-plainvfs") + (background ? "" : "-inline");
        return s;
    }
    [[nodiscard]] stores::sqlite_options options(params const& p) const {
        stores::sqlite_options o;
        o.page_size = p.page_size;
        o.journal_mode = journal;
        o.synchronous = synchronous;
        o.gather_log_writes = gather;
        o.background_checkpoint = background;
        return o;
    }
};

double measure_fsync_rate(fs::path const& dir, double seconds);

figures run_once(configuration const& c, params const& p, fs::path const& dir) {
    if (c.k == kind::memory) {
        stores::memory db;
        fixture fx = set_up(db, p);
        crowdline_backend b{db, false};
        figures f = run_workload(b, fx, p);
        verify(db, fx, p);
        return f;
    }
    fs::path const file = dir / (c.file_stem() + ".db");
    remove_db_files(file);
    struct cleanup {
        fs::path f;
        ~cleanup() { remove_db_files(f); }
    } cleanup_guard{file};
    figures f;
    // The disk changes speed with what else runs on the machine: a fsync-bound run gets its own measure.
    bool const fsync_bound = c.synchronous == "FULL";
    double const fsync_before = fsync_bound ? measure_fsync_rate(dir, p.fsync_seconds) : 0;
    if (c.k == kind::store) {
        stores::sqlite db(file.string(), c.options(p));
        fixture fx = set_up(db, p);
        crowdline_backend b{db, c.batched};
        f = run_workload(b, fx, p);
        verify(db, fx, p);
    } else {
        fixture fx;
        {  // crowdline creates the file, its schema and the untimed rows, then closes it
            stores::sqlite db(file.string(), c.options(p));
            fx = set_up(db, p);
        }
        {
            raw_sqlite b(file.string(), c.options(p), c.batched);
            f = run_workload(b, fx, p);
        }
        stores::sqlite db(file.string(), c.options(p));  // what the bare API wrote, read back by crowdline
        verify(db, fx, p);
    }
    if (fsync_bound) f.fsync_rate = (fsync_before + measure_fsync_rate(dir, p.fsync_seconds)) / 2;
    return f;
}

figures median_of(std::vector<figures> const& runs) {
    auto m = [&](auto field) {
        std::vector<double> v;
        for (auto const& r : runs) v.push_back(field(r));
        return median(std::move(v));
    };
    figures f;
    for (auto field : {&figures::creation, &figures::lifecycle, &figures::find_launched_half, &figures::find_launched_empty,
                       &figures::find_worker, &figures::grant, &figures::granted}) {
        (f.*field).rate = m([&](figures const& r) { return (r.*field).rate; });
        (f.*field).cpu_us = m([&](figures const& r) { return (r.*field).cpu_us; });
    }
    f.syncs_per_created_unit = m([](figures const& r) { return r.syncs_per_created_unit; });
    f.syncs_per_lifecycle = m([](figures const& r) { return r.syncs_per_lifecycle; });
    f.writes_per_created_unit = m([](figures const& r) { return r.writes_per_created_unit; });
    f.writes_per_lifecycle = m([](figures const& r) { return r.writes_per_lifecycle; });
    f.fsync_rate = m([](figures const& r) { return r.fsync_rate; });
    return f;
}

// --- the disk ----------------------------------------------------------------------------------------------

/// 4 KiB overwrite + fsync, in a loop, in the benchmark's directory.
double measure_fsync_rate(fs::path const& dir, double seconds) {
    fs::path const probe = dir / "store_lifecycle-fsync-probe.bin";
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail(probe.string() + ": " + std::strerror(errno));
    std::vector<char> block(4096, 'x');
    long n = 0;
    auto t0 = bench_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
        if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) || ::fsync(fd) != 0) {
            ::close(fd);
            fs::remove(probe);
            fail(probe.string() + ": write/fsync failed");
        }
        ++n;
        elapsed = seconds_since(t0);
    }
    ::close(fd);
    fs::remove(probe);
    return static_cast<double>(n) / elapsed;
}

// --- output ------------------------------------------------------------------------------------------------

std::string times(double ratio) {
    if (!std::isfinite(ratio) || ratio <= 0) return "—";
    char buf[32];
    std::snprintf(buf, sizeof buf, ratio < 10 ? "%.2f×" : ratio < 100 ? "%.1f×" : "%.0f×", ratio);
    return buf;
}

struct row {
    configuration const* c;
    figures f;
    std::optional<figures> c_api;  // the baseline with the same settings, for crowdline's SQLite rows
    std::string error;
};

void print_phase(std::vector<row> const& rows, params const& p, std::string const& title, std::string const& unit_name,
                 phase figures::*field, double mephisto_figure, double figures::*syncs_field = nullptr,
                 double figures::*writes_field = nullptr) {
    std::cout << "\n" << title << "\n";
    std::cout << pad("configuration", 18) << pad("settings", 62) << pad(unit_name, 14, true)
              << pad("vs Mephisto", 13, true) << pad("time vs C API", 15, true) << pad("CPU µs/op", 11, true)
              << (syncs_field ? pad("fsyncs/op", 11, true) : "") << (writes_field ? pad("writes/op", 11, true) : "")
              << "\n";
    for (auto const& r : rows) {
        std::cout << pad(r.c->name, 18) << pad(r.c->settings(p), 62);
        if (!r.error.empty()) {
            std::cout << "  FAILED\n";
            continue;
        }
        phase const& v = r.f.*field;
        std::cout << pad(with_commas(v.rate), 14, true)
                  << pad(mephisto_figure > 0 ? times(v.rate / mephisto_figure) : "—", 13, true)
                  << pad(r.c_api ? times(((*r.c_api).*field).rate / v.rate) : "—", 15, true)
                  << pad(decimals(v.cpu_us), 11, true);
        if (syncs_field) std::cout << pad(r.c->k == kind::memory ? "—" : decimals(r.f.*syncs_field), 11, true);
        if (writes_field) std::cout << pad(r.c->k == kind::memory ? "—" : decimals(r.f.*writes_field), 11, true);
        std::cout << "\n";
    }
}

int to_int(std::string const& flag, char const* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (!end || *end || v < 0 || v > 100'000'000) fail(flag + ": not a count: " + text);
    return static_cast<int>(v);
}

void usage() {
    std::cout << "store_lifecycle [--smoke] [--dir PATH] [--assignments N] [--workers N] [--queries N] [--reads N]\n"
                 "                [--batch UNITS] [--repeat N] [--only NAME[,NAME…]] [--page-size BYTES] [--settle-ms N]\n"
                 "  --smoke        a tiny run (50 assignments, 20 workers, 50 queries) that checks the final data\n"
                 "  --dir PATH     where the .db files go (default: a fresh folder under the temp dir); removed after\n"
                 "  --repeat N     run each configuration N times and report the median of each phase\n"
                 "  --only NAMES   run only the configurations whose name contains one of these (e.g. memory,default)\n"
                 "  --page-size N  bytes per page of every SQLite file (default: stores::sqlite_options' page_size)\n"
                 "  --settle-ms N  untimed pause before each read phase that follows writes (default 300)\n";
}

}  // namespace

int main(int argc, char** argv) try {
    params p;
    std::optional<int> assignments, workers, queries, reads, batch;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto value = [&]() -> char const* {
            if (i + 1 >= argc) fail(a + ": needs a value");
            return argv[++i];
        };
        if (a == "--smoke") p.smoke = true;
        else if (a == "--dir") p.dir = fs::path(value());
        else if (a == "--assignments") assignments = to_int(a, value());
        else if (a == "--workers") workers = to_int(a, value());
        else if (a == "--queries") queries = to_int(a, value());
        else if (a == "--reads") reads = to_int(a, value());
        else if (a == "--batch") batch = to_int(a, value());
        else if (a == "--page-size") p.page_size = to_int(a, value());
        else if (a == "--settle-ms") p.settle_ms = to_int(a, value());
        else if (a == "--repeat") p.repeat = std::max(1, to_int(a, value()));
        else if (a == "--only") only = value();
        else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            usage();
            fail("unknown argument " + a);
        }
    }
    if (p.smoke) {
        p.assignments = 50;
        p.workers = 20;
        p.queries = 50;
        p.reads = 50;
        p.batch = 20;  // several batches, so savepoints and commits between batches are exercised
        p.fsync_seconds = 0.1;
        p.settle_ms = 10;
    }
    if (assignments) p.assignments = *assignments;
    if (workers) p.workers = *workers;
    if (queries) p.queries = *queries;
    if (reads) p.reads = *reads;
    if (batch) p.batch = *batch;
    if (p.assignments < 1) fail("--assignments must be at least 1");
    if (p.workers < 2) fail("--workers must be at least 2 (the two units of an assignment need two workers)");

    // Where the files go.
    bool const own_dir = !p.dir;
    fs::path dir;
    if (own_dir) {
        dir = fs::temp_directory_path() / ("crowdline-store_lifecycle-" + std::to_string(::getpid()));
        fs::create_directories(dir);
    } else {
        dir = *p.dir;
        fs::create_directories(dir);
    }
    struct remove_dir {
        fs::path d;
        bool own;
        ~remove_dir() {
            std::error_code ec;
            if (own) fs::remove_all(d, ec);
        }
    } dir_guard{dir, own_dir};

    std::size_t const n_units = 2 * static_cast<std::size_t>(p.assignments);
    std::cout << "crowdline store_lifecycle benchmark" << (p.smoke ? " (--smoke)" : "") << "\n";
#ifdef NDEBUG
    std::cout << "build: optimised (NDEBUG defined)\n";
#else
    std::cout << "build: *** NOT AN OPTIMISED BUILD (NDEBUG undefined): these figures say nothing about release "
                 "speed; configure with -DCMAKE_BUILD_TYPE=Release ***\n";
#endif
    std::cout << "compiler: " << __VERSION__ << "; SQLite " << sqlite3_libversion() << "; "
              << std::thread::hardware_concurrency() << " hardware threads\n";
    std::cout << "workload: " << p.assignments << " assignments × 2 = " << n_units << " units, " << p.workers
              << " workers, " << p.queries << " queries per find_units phase, " << p.reads
              << " get_granted_qualification reads; " << p.repeat << " run(s) per configuration"
              << (p.repeat > 1 ? " (median shown)" : "") << "\n";
    std::cout << "directory: " << dir.string() << (own_dir ? " (temporary)" : "") << "\n";
    std::cout << "between phases: " << p.settle_ms
              << " ms untimed pause before each read phase that follows writes (background checkpoints finish)\n";
    std::cout << "phase 3 state: half the units (" << n_units - n_units / 2
              << ") launched while the other half are completed; also timed after the lifecycle (0 rows)\n";

    // The disk.
    bench::syncs = 0;
    double const fsync_rate = measure_fsync_rate(dir, p.fsync_seconds);
    bool const syncs_counted = bench::syncs.load() > 0;
    std::cout << "disk (at start): 4 KiB write + fsync in that directory: " << with_commas(fsync_rate) << "/s ("
              << with_commas(1e6 / fsync_rate) << " µs each)"
              << (syncs_counted ? "" : "; counting SQLite's syncs is unavailable on this platform") << "\n";

    std::vector<configuration> const configs{
        {"memory", kind::memory, "", "", false},
        {"sqlite/Mephisto", kind::store, "DELETE", "FULL", false},
        {"C API/Mephisto", kind::c_api, "DELETE", "FULL", false},
        {"sqlite/default", kind::store, "WAL", "NORMAL", false},
        {"C API/default", kind::c_api, "WAL", "NORMAL", false},
        // for information: the default through SQLite's own VFS (two write() calls per log frame)
        {"sqlite/plainvfs", kind::store, "WAL", "NORMAL", false, false},
        // for information: the default with SQLite's own checkpoints, inside the commit that crosses 1,000 frames
        {"sqlite/inlinecp", kind::store, "WAL", "NORMAL", false, true, false},
        {"sqlite/batched", kind::store, "WAL", "NORMAL", true},
        {"C API/batched", kind::c_api, "WAL", "NORMAL", true},
    };

    std::vector<configuration const*> chosen;
    for (auto const& c : configs) {
        if (!only.empty()) {  // comma-separated parts of configuration names
            bool wanted = false;
            for (std::size_t b = 0; b <= only.size();) {
                std::size_t e = std::min(only.find(',', b), only.size());
                if (e > b && c.name.find(only.substr(b, e - b)) != std::string::npos) wanted = true;
                b = e + 1;
            }
            if (!wanted) continue;
        }
        chosen.push_back(&c);
    }
    // Repetitions go round every configuration in turn, so a noisy moment on the machine hits them alike.
    std::vector<std::vector<figures>> runs(chosen.size());
    std::vector<std::string> errors(chosen.size());
    for (int rep = 0; rep < p.repeat; ++rep)
        for (std::size_t i = 0; i < chosen.size(); ++i) {
            configuration const& c = *chosen[i];
            if (!errors[i].empty()) continue;
            std::cout << "running " << pad(c.name, 18) << pad(c.settings(p), 62);
            if (p.repeat > 1) std::cout << " (run " << rep + 1 << "/" << p.repeat << ")";
            std::cout << " ..." << std::flush;
            auto t0 = bench_clock::now();
            try {
                // A memory run lasts milliseconds: five of them per round steady its median.
                for (int inner = c.k == kind::memory ? 5 : 1; inner > 0; --inner) runs[i].push_back(run_once(c, p, dir));
                std::cout << " " << with_commas(seconds_since(t0)) << " s, data verified\n";
            } catch (std::exception const& e) {
                errors[i] = e.what();
                std::cout << " FAILED: " << e.what() << "\n";
            }
        }
    std::vector<row> rows;
    bool any_error = false;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        row r{chosen[i], {}, std::nullopt, errors[i]};
        if (errors[i].empty()) r.f = median_of(runs[i]);
        else any_error = true;
        rows.push_back(std::move(r));
    }
    // Pair every crowdline SQLite row with the baseline of the same settings.
    for (auto& r : rows) {
        if (r.c->k != kind::store) continue;
        for (auto const& b : rows)
            if (b.c->k == kind::c_api && b.error.empty() && b.c->journal == r.c->journal &&
                b.c->synchronous == r.c->synchronous && b.c->batched == r.c->batched && b.c->gather == r.c->gather)
                r.c_api = b.f;
    }

    std::cout << "\n'vs Mephisto' = this rate ÷ Mephisto's on the same phase; 'time vs C API' = the bare C API's rate ÷"
                 " this rate\n(how much longer crowdline takes than the same SQL issued by hand; 1.00× = no overhead)\n";
    print_phase(rows, p, "Phase 1 — unit creation (new_assignment + 2 × new_unit), " + std::to_string(n_units) + " units",
                "units/s", &figures::creation, mephisto::creation, &figures::syncs_per_created_unit,
                &figures::writes_per_created_unit);
    print_phase(rows, p,
                "Phase 2 — unit lifecycle (launched → new_agent → agent in_task → agent completed + state → unit "
                "completed), " + std::to_string(n_units) + " units",
                "lifecycles/s", &figures::lifecycle, mephisto::lifecycle, &figures::syncs_per_lifecycle,
                &figures::writes_per_lifecycle);
    print_phase(rows, p,
                "Phase 3 — find_units({.task_run, .status = launched}) with half the units launched (" +
                    std::to_string(n_units - n_units / 2) + " rows per query)",
                "queries/s", &figures::find_launched_half, mephisto::find_run);
    print_phase(rows, p, "Phase 3' — the same query after the lifecycle (0 rows per query)", "queries/s",
                &figures::find_launched_empty, mephisto::find_run);
    print_phase(rows, p,
                "Phase 4 — find_units({.worker}) (" + std::to_string(n_units / static_cast<std::size_t>(p.workers)) +
                    " rows per query)",
                "queries/s", &figures::find_worker, mephisto::find_worker);
    print_phase(rows, p, "Phase 5a — grant_qualification to every worker (informational; no Mephisto figure)",
                "grants/s", &figures::grant, 0);
    print_phase(rows, p, "Phase 5 — get_granted_qualification", "reads/s", &figures::granted, mephisto::granted);

    auto find = [&](std::string_view name) -> row const* {
        for (auto const& r : rows)
            if (r.c->name == name && r.error.empty()) return &r;
        return nullptr;
    };

    // The disk bound at Mephisto's settings.
    if (syncs_counted && (find("sqlite/Mephisto") || find("C API/Mephisto"))) {
        std::cout << "\nDisk bound at Mephisto's settings (journal DELETE, synchronous FULL, one commit per call),"
                     " with the fsync rate measured around each run:\n";
        for (char const* name : {"sqlite/Mephisto", "C API/Mephisto"}) {
            row const* m = find(name);
            if (!m) continue;
            auto line = [&](char const* what, double rate, double syncs_per_op) {
                double const bound = m->f.fsync_rate / syncs_per_op;
                std::cout << "  " << pad(name, 17) << pad(what, 11) << decimals(syncs_per_op) << " fsyncs/op × "
                          << with_commas(1e6 / m->f.fsync_rate) << " µs per fsync → the disk allows ≤ "
                          << with_commas(bound) << "/s; measured " << with_commas(rate) << "/s ("
                          << with_commas(100 * rate / bound) << "% of it)\n";
            };
            line("creation", m->f.creation.rate, m->f.syncs_per_created_unit);
            line("lifecycle", m->f.lifecycle.rate, m->f.syncs_per_lifecycle);
        }
        if (row const* m = find("sqlite/Mephisto"); m && m->f.syncs_per_lifecycle > 0) {
            double const per_unit = m->f.syncs_per_created_unit, per_life = m->f.syncs_per_lifecycle;
            std::cout << "  at these fsyncs/op the targets (1.5× Mephisto: " << with_commas(1.5 * mephisto::creation)
                      << " units/s, " << with_commas(1.5 * mephisto::lifecycle) << " lifecycles/s) need a disk doing ≥ "
                      << with_commas(1.5 * mephisto::creation * per_unit) << " and ≥ "
                      << with_commas(1.5 * mephisto::lifecycle * per_life)
                      << " fsyncs/s; Mephisto's own figures, if it syncs as often, imply ≥ "
                      << with_commas(mephisto::creation * per_unit) << " and ≥ "
                      << with_commas(mephisto::lifecycle * per_life) << " fsyncs/s on its disk\n";
        }
    }

    // Targets.
    std::cout << "\nTargets\n";
    auto target = [&](std::string const& what, std::optional<double> measured, double goal, std::string const& note = "") {
        std::string status = !measured ? "n/a " : *measured >= goal ? "PASS" : "MISS";
        std::cout << "  [" << status << "] " << pad(what, 76) << " goal ≥ " << pad(with_commas(goal), 9, true)
                  << "  measured " << pad(measured ? with_commas(*measured) : "—", 11, true) << note << "\n";
    };
    auto rate = [&](std::string_view name, phase figures::*field) -> std::optional<double> {
        if (row const* r = find(name)) return (r->f.*field).rate;
        return std::nullopt;
    };
    // What the same SQL reaches through the bare C API with the same settings: the ceiling for crowdline.
    auto ceiling = [&](std::string_view capi_name, phase figures::*field) -> std::string {
        auto r = rate(capi_name, field);
        return r ? "  (C API, same SQL: " + with_commas(*r) + ")" : "";
    };
    auto disk_bound = [&](double figures::*syncs_field) -> std::string {
        row const* m = find("sqlite/Mephisto");
        if (!m || !syncs_counted || m->f.*syncs_field <= 0) return "";
        return "; the disk allows ≤ " + with_commas(m->f.fsync_rate / (m->f.*syncs_field));
    };
    target("Mephisto's settings: unit creation ≥ 1.5× Mephisto (749/s), units/s",
           rate("sqlite/Mephisto", &figures::creation), 1.5 * mephisto::creation,
           ceiling("C API/Mephisto", &figures::creation) + disk_bound(&figures::syncs_per_created_unit));
    target("Mephisto's settings: unit lifecycle ≥ 1.5× Mephisto (239/s), lifecycles/s",
           rate("sqlite/Mephisto", &figures::lifecycle), 1.5 * mephisto::lifecycle,
           ceiling("C API/Mephisto", &figures::lifecycle) + disk_bound(&figures::syncs_per_lifecycle));
    target("default (WAL, NORMAL, commit per call): lifecycles/s", rate("sqlite/default", &figures::lifecycle), 12000,
           ceiling("C API/default", &figures::lifecycle));
    target("batched in transaction: lifecycles/s", rate("sqlite/batched", &figures::lifecycle), 50000,
           ceiling("C API/batched", &figures::lifecycle));
    for (char const* name : {"sqlite/default", "memory"}) {
        std::string const n = name;
        bool const sqlite_row = n != "memory";
        target(n + ": find_units(run, launched), half launched (" + std::to_string(n_units - n_units / 2) +
                   " rows) ≥ 50× 1,463/s",
               rate(name, &figures::find_launched_half), 50 * mephisto::find_run,
               sqlite_row ? ceiling("C API/default", &figures::find_launched_half) : "");
        target(n + ": find_units(run, launched), after the lifecycle (0 rows) ≥ 50× 1,463/s",
               rate(name, &figures::find_launched_empty), 50 * mephisto::find_run,
               sqlite_row ? ceiling("C API/default", &figures::find_launched_empty) : "");
        target(n + ": find_units(worker) ≥ 50× 1,353/s", rate(name, &figures::find_worker), 50 * mephisto::find_worker,
               sqlite_row ? ceiling("C API/default", &figures::find_worker) : "");
    }
    // Within 1.5× of the bare C API on the same statements: judged on CPU time per operation (crowdline's
    // overhead is CPU work; wall time on a shared machine swings by 2× between back-to-back runs, and at
    // Mephisto's settings it is the disk's). The wall-clock ratio is shown next to it.
    struct phase_field {
        char const* name;
        phase figures::*field;
    };
    for (char const* name : {"sqlite/default", "sqlite/Mephisto", "sqlite/batched"}) {
        row const* r = find(name);
        if (!r || !r->c_api) continue;
        for (auto [what, field] : {phase_field{"creation", &figures::creation}, phase_field{"lifecycle", &figures::lifecycle},
                                    phase_field{"find(run, launched), half", &figures::find_launched_half},
                                    phase_field{"find(run, launched), empty", &figures::find_launched_empty},
                                    phase_field{"find(worker)", &figures::find_worker},
                                    phase_field{"get_granted", &figures::granted}}) {
            phase const& base = (*r->c_api).*field;
            phase const& mine = r->f.*field;
            double const cpu_ratio = mine.cpu_us / base.cpu_us;
            std::cout << "  [" << (cpu_ratio <= 1.5 ? "PASS" : "MISS") << "] "
                      << pad(std::string(name) + " within 1.5× of the C API, " + what + ": CPU/op", 76) << " ratio ≤ "
                      << pad("1.5×", 9, true) << "  measured " << pad(times(cpu_ratio), 11, true) << "  ("
                      << decimals(mine.cpu_us) << " vs " << decimals(base.cpu_us) << " µs; wall: " << with_commas(mine.rate)
                      << " vs " << with_commas(base.rate) << "/s = " << times(base.rate / mine.rate) << ")\n";
        }
    }
    target("memory: unit lifecycles/s", rate("memory", &figures::lifecycle), 1'000'000);

    if (any_error) {
        std::cout << "\nFAILED: at least one configuration threw or wrote wrong data (see above)\n";
        for (auto const& r : rows)
            if (!r.error.empty()) std::cout << "  " << r.c->name << ": " << r.error << "\n";
        return 1;
    }
    std::cout << "\nAll configurations verified: every unit completed by its agent, every agent completed with its "
                 "state, counts right.\n";
    return 0;
} catch (std::exception const& e) {
    std::cerr << "store_lifecycle: " << e.what() << "\n";
    return 2;
}
