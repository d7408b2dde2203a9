// pipeline: units per second through the whole crowdline::pipeline on stores::sqlite, next to the same store
// calls issued directly on a stores::sqlite in the same run.
//
// Workload (the issue's): one task run of U units (default 20,000) from blueprints::mock{U} routed with
// average_per_task{1} — one unit per item, so U items, U assignments, U units — and W simulated workers
// (default 200), each a name on the in-process channel. Workers take turns round-robin: unit k is done by
// worker k mod W, who sends a "register" packet (→ provider name → worker row → dispatcher join + grant →
// the store's claim `new_agent` → agent in_task → the page's reply), then a "submit" packet with its answer
// (→ token check → blueprint check → agent state + unit status saved in one transaction → dispatcher
// complete → "submitted" ack), before the next worker's turn. With --waves, each round instead has all W
// workers register (W units held at once), then all W submit, in the same worker order.
//
// Timed: from the first register to the last ack. launch() (task and run rows, every assignment and unit
// created and launched, the architect deployed) is timed on its own and printed next to it, not counted.
// The clock the pipeline reads is a manual one that never moves (as in tests/unit/ops), so no lease
// expires and no tick() is needed; the measurement is the packets alone.
//
// The store-only baseline: a second fresh file of the same kind (stores::sqlite, default sqlite_options,
// same folder), the same rows set up, then exactly the store calls the pipeline makes, in the same order,
// as read from include/crowdline/ops/pipeline.hpp:
//   creation (pipeline: launch() → launch_units → fill_assignment; timed apart, like
//             launch), per item:
//               transaction { up to 256 × { new_assignment(run); new_unit(a, 0, task_reward);
//                                           update_unit(u, launched) } }   (launch_units' batches)
//   per unit (pipeline: register_worker, then submit):
//               the first time a worker is seen: find_workers({.name}) + new_worker(name, "mock")
//                                                                    (find_or_create_worker; 200 of 20,000)
//               transaction { new_agent(worker, unit)                (the claim, a savepoint inside)
//                             update_agent(agent, in_task) }
//               transaction { update_agent(agent, completed, {"inputs", "outputs", "updates"});
//                             update_unit(unit, completed) }
//               with --cap N (max_num_concurrent_units; default 0 = no cap, everything launched by launch()):
//               after each submission while items are left, one more creation as above (submit → launch_units)
//   at the end: update_task_run(run, true)                           (finish_if_done)
// So two commits per unit (three when --cap moves creation into the run: one batch of one per submission).
// The pipeline also calls first_unmet(db, w, {}) on each registration, which issues no query without
// qualification requirements, and nothing else on the store per unit. The agent state the baseline saves
// is the one the pipeline builds (inputs = the mock item, outputs = the submission, updates = []), built
// before the clock starts: the baseline is what the store alone costs; everything else the pipeline does
// per unit (packets, dispatcher, tokens, the page, JSON) is the difference.
//
// Printed: units/s (wall clock), process CPU µs per unit, and SQLite's positioned writes (pwrite) and
// syncs per unit, counted by interposing libc as benchmarks/store_lifecycle does — equal writes per unit
// on both sides say the two issued the same store work. Run with --repeat N (default 3) for medians;
// the runs alternate pipeline / store-only so a noisy moment on a shared machine hits both.
// Every run's final data is checked (every unit completed by exactly one completed agent that holds the
// submission, every item done once, the workers' shares, the counts); a wrong result fails the program.
// The speed target (pipeline ≥ 0.50 × store-only) is printed, never asserted; --smoke does not judge it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/sqlite.hpp>

#include "../common/measure.hpp"

namespace {

namespace fs = std::filesystem;
using namespace crowdline;
using namespace bench;

constexpr double target_ratio = 0.50;  // pipeline units/s ÷ store-only units/s
constexpr char task_name[] = "bench_pipeline";
constexpr double reward = 0.5;

struct params {
    std::size_t units = 20000;
    std::size_t workers = 200;
    std::size_t cap = 0;  // max_num_concurrent_units (0: launch() creates every unit)
    int repeat = 3;
    bool waves = false;
    bool smoke = false;
    std::optional<fs::path> dir;
};

[[noreturn]] void fail(std::string const& what) { throw std::runtime_error(what); }

/// One side's figures for one run.
struct figures {
    double rate = 0;           // units/s, first register → last ack
    double cpu_us = 0;         // process CPU µs per unit
    double writes = 0;         // pwrite calls per unit
    double syncs = 0;          // fsync/fdatasync calls per unit
    double setup_seconds = 0;  // launch() (pipeline) or the same creation calls (store-only)
    std::size_t setup_units = 0;
};

figures figures_of(meter const& m, std::size_t units, meter const& setup, std::size_t setup_units) {
    double const n = static_cast<double>(units);
    return {m.rate(n), m.cpu_us_per(n), m.writes_per(n), m.syncs_per(n), setup.wall, setup_units};
}

// --- progress on stderr ------------------------------------------------------------------------------------

/// "label: 37%" rewritten in place on a terminal; "label: 10% 20% …" otherwise. Silent when disabled.
class progress {
public:
    progress(bool enabled, std::string label, std::size_t total)
        : enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0), label_(std::move(label)), total_(std::max<std::size_t>(1, total)) {
        if (!enabled_) return;
        std::cerr << (tty_ ? "\r" : "") << label_ << ":" << std::flush;
    }
    void update(std::size_t done) {
        if (!enabled_) return;
        int const pct = static_cast<int>(done * 100 / total_);
        if (tty_ ? pct == shown_ : pct / 10 == shown_ / 10) return;
        shown_ = pct;
        if (tty_)
            std::cerr << "\r" << label_ << ": " << pct << "%" << std::flush;
        else
            std::cerr << " " << pct / 10 * 10 << "%" << std::flush;
    }
    ~progress() {
        if (!enabled_) return;
        if (tty_)
            std::cerr << "\r" << std::string(label_.size() + 8, ' ') << "\r" << std::flush;
        else
            std::cerr << "\n" << std::flush;
    }
    progress(progress const&) = delete;
    progress& operator=(progress const&) = delete;

private:
    bool enabled_;
    bool tty_;
    std::string label_;
    std::size_t total_;
    int shown_ = -1;
};

// --- the order in which workers act ------------------------------------------------------------------------

/// Calls claim(k, w) and submit(k) for every unit k in the order the workers act: in turns (unit k: worker
/// k mod W registers then submits), or in waves (W registrations, then the W submissions).
template <class Claim, class Submit>
void drive(params const& p, progress& bar, Claim&& claim, Submit&& submit) {
    std::size_t const n = p.units, w = p.workers;
    if (!p.waves) {
        for (std::size_t k = 0; k < n; ++k) {
            claim(k, k % w);
            submit(k);
            bar.update(k + 1);
        }
        return;
    }
    for (std::size_t first = 0; first < n; first += w) {
        std::size_t const last = std::min(n, first + w);
        for (std::size_t k = first; k < last; ++k) claim(k, k - first);
        for (std::size_t k = first; k < last; ++k) submit(k);
        bar.update(last);
    }
}

std::string worker_name(std::size_t w) { return "worker-" + std::to_string(w); }

nlohmann::json const& submission() {
    static nlohmann::json const s = {{"label", "x"}};
    return s;
}

task_run_args run_args(params const& p) {
    task_run_args a;
    a.task_name = task_name;
    a.task_title = "Label it";
    a.task_description = "Say what the text is about";
    a.task_reward = reward;
    a.max_num_concurrent_units = static_cast<std::int64_t>(p.cap);
    return a;  // assignment_duration 30 min = the dispatcher's default lease
}

// --- the checks --------------------------------------------------------------------------------------------

/// The final data, read back: every unit completed by exactly one agent, itself completed with the
/// submission and its item, every item done once, each worker's share right, the run completed.
void verify(stores::sqlite& db, task_run_id run, params const& p) {
    auto check = [](bool ok, std::string const& what) {
        if (!ok) fail("verification: " + what);
    };
    std::size_t const n = p.units;
    check(db.get_task_run(run).is_completed, "the task run is marked completed");
    check(db.find_assignments({.task_run = run}).size() == n, "assignment count");
    auto const units = db.find_units({.task_run = run});
    check(units.size() == n, "unit count " + std::to_string(units.size()) + ", expected " + std::to_string(n));
    auto const agents = db.find_agents({.task_run = run});
    check(agents.size() == n, "agent count " + std::to_string(agents.size()) + ", expected " + std::to_string(n));
    std::map<std::int64_t, agent const*> agent_by_id;
    std::map<std::int64_t, std::size_t> agents_per_unit;
    for (auto const& a : agents) {
        agent_by_id.emplace(a.id.value(), &a);
        ++agents_per_unit[a.unit.value()];
    }
    std::set<std::int64_t> items;
    std::map<std::int64_t, std::size_t> per_worker;
    for (auto const& u : units) {
        std::string const name = "unit " + std::to_string(u.id.value());
        check(u.status == unit_status::completed, name + ": status " + std::string(to_string(u.status)));
        check(u.agent && u.worker, name + ": no agent/worker");
        check(agents_per_unit[u.id.value()] == 1, name + ": " + std::to_string(agents_per_unit[u.id.value()]) + " agents");
        auto it = agent_by_id.find(u.agent->value());
        check(it != agent_by_id.end(), name + ": its agent is not in the run");
        agent const& a = *it->second;
        check(a.unit == u.id && a.worker == *u.worker && a.assignment == u.assignment, name + ": its agent's links");
        check(a.status == agent_status::completed, name + ": agent status " + std::string(to_string(a.status)));
        check(a.state.is_object() && a.state.value("outputs", nlohmann::json()) == submission(),
              name + ": agent state " + a.state.dump());
        auto const& inputs = a.state.at("inputs");
        auto const index = inputs.at("index").get<std::int64_t>();
        check(inputs.at("text") == "mock item " + std::to_string(index), name + ": inputs " + inputs.dump());
        check(items.insert(index).second, name + ": item " + std::to_string(index) + " done twice");
        ++per_worker[u.worker->value()];
    }
    check(items.size() == n && *items.begin() == 0 && *items.rbegin() == static_cast<std::int64_t>(n) - 1,
          "every item done exactly once");
    std::size_t const active = std::min(p.workers, n);
    check(per_worker.size() == active, std::to_string(per_worker.size()) + " workers did units, expected " + std::to_string(active));
    for (auto const& [w, count] : per_worker) {  // round-robin: every worker's share is ⌊n/W⌋ or ⌈n/W⌉
        std::size_t const lo = n / p.workers, hi = lo + (n % p.workers ? 1 : 0);
        check(count >= lo && count <= hi, "worker " + std::to_string(w) + " did " + std::to_string(count) + " units");
    }
}

// --- the two sides -----------------------------------------------------------------------------------------

struct db_file {
    fs::path path;
    explicit db_file(fs::path p) : path(std::move(p)) { remove_db_files(path); }
    ~db_file() { remove_db_files(path); }
    db_file(db_file const&) = delete;
    db_file& operator=(db_file const&) = delete;
};

/// The whole pipeline: in-process architect (this program is every worker's page), mock provider,
/// a dispatcher with average_per_task{1}, stores::sqlite with default options.
figures run_pipeline(params const& p, fs::path const& dir, std::string const& label) {
    db_file file{dir / "bench_pipeline-pipeline.db"};
    stores::sqlite db(file.path.string());
    architects::in_process arch;
    providers::mock prov;
    time_point const now = time_point{} + std::chrono::hours{1000};
    auto dispatcher = routing::make_dispatcher<initialization_data, nlohmann::json>(routing::average_per_task{1},
                                                                                    routing::options{});
    pipeline pl{blueprints::mock{p.units}, arch, prov, std::move(dispatcher), db, run_args(p)};
    auto const read_now = [now] { return now; };
    pl.set_clock(read_now);

    meter setup;
    task_run_id run;
    setup.time([&] { run = pl.launch(); });
    std::size_t const launched = p.cap == 0 ? p.units : std::min(p.cap, p.units);

    // What each page sends to register, built once (a page keeps its registration).
    std::vector<packet> registrations;
    for (std::size_t w = 0; w < p.workers; ++w)
        registrations.push_back({"register", std::nullopt, {{"worker_name", worker_name(w)}, {"profile", nlohmann::json::object()}}});
    struct held {
        std::optional<agent_id> agent;
        std::string token;
    };
    std::vector<held> pages(p.units);  // unit k's page: its agent and token
    auto& ch = arch.channel();

    meter m;
    {
        progress bar(!p.smoke, label, p.units);
        m.time([&] {
            drive(
                p, bar,
                [&](std::size_t k, std::size_t w) {
                    packet reply = ch.request(registrations[w]);
                    if (reply.type != "agent_details")
                        fail("unit #" + std::to_string(k) + ": register of " + worker_name(w) + " answered " + reply.type +
                             " " + reply.data.dump());
                    pages[k].agent = reply.agent;
                    pages[k].token = std::move(reply.data["token"].get_ref<std::string&>());
                },
                [&](std::size_t k) {
                    packet ack = ch.request({"submit", pages[k].agent, {{"token", std::move(pages[k].token)}, {"submission", submission()}}});
                    if (ack.type != "submitted")
                        fail("unit #" + std::to_string(k) + ": submit answered " + ack.type + " " + ack.data.dump());
                });
        });
    }
    if (!pl.is_complete()) fail("the pipeline did not mark the run complete after the last submission");
    verify(db, run, p);
    return figures_of(m, p.units, setup, launched);
}

/// The same store calls, straight on a stores::sqlite (see the comment at the top for the sequence).
figures run_store_only(params const& p, fs::path const& dir, std::string const& label) {
    db_file file{dir / "bench_pipeline-store.db"};
    stores::sqlite db(file.path.string());
    task_run_args const args = run_args(p);

    // Untimed, as the part of launch() that is not unit creation: requester, task, run.
    auto requester = db.new_requester(std::string(providers::mock::provider_type) + "-requester", providers::mock::provider_type);
    auto task = db.new_task(task_name, blueprints::mock::blueprint_type);
    task_run_id const run = db.new_task_run(task, requester, config::dump(args), providers::mock::provider_type,
                                            blueprints::mock::blueprint_type, true);

    // What the mock blueprint yields and what the pipeline saves as each agent's state, built beforehand.
    std::vector<nlohmann::json> states;
    states.reserve(p.units);
    for (std::size_t i = 0; i < p.units; ++i) {
        nlohmann::json item = {{"index", i}, {"text", "mock item " + std::to_string(i)}};
        states.push_back({{"inputs", std::move(item)}, {"outputs", submission()}, {"updates", nlohmann::json::array()}});
    }
    std::vector<std::string> names;
    for (std::size_t w = 0; w < p.workers; ++w) names.push_back(worker_name(w) + std::string(providers::mock::sandbox_suffix));

    std::vector<unit_id> units(p.units);
    std::vector<agent_id> agents(p.units);
    std::vector<std::optional<worker_id>> workers(p.workers);
    std::size_t created = 0;
    auto create = [&](std::size_t up_to) {  // launch_units: batches of 256 assignments, one transaction each
        while (created < up_to) {
            db.transaction([&] {
                for (std::size_t n = 0; n < 256 && created < up_to; ++n) {
                    assignment_id a = db.new_assignment(run);  // fill_assignment
                    unit_id u = db.new_unit(a, 0, args.task_reward);
                    db.update_unit(u, unit_status::launched);
                    units[created++] = u;
                }
            });
        }
    };

    meter setup;
    std::size_t const launched = p.cap == 0 ? p.units : std::min(p.cap, p.units);
    setup.time([&] { create(launched); });

    meter m;
    {
        progress bar(!p.smoke, label, p.units);
        m.time([&] {
            drive(
                p, bar,
                [&](std::size_t k, std::size_t w) {  // register_worker
                    if (!workers[w]) {                 // find_or_create_worker, once per worker
                        auto found = db.find_workers({.name = names[w]});
                        workers[w] = found.empty() ? db.new_worker(names[w], providers::mock::provider_type) : found.front().id;
                    }
                    agents[k] = db.transaction([&] {  // the claim and the agent's start, one commit
                        auto claimed = db.new_agent(*workers[w], units[k]);
                        db.update_agent(claimed, agent_status::in_task);
                        return claimed;
                    });
                },
                [&](std::size_t k) {  // submit
                    db.transaction([&] {
                        db.update_agent(agents[k], agent_status::completed, std::move(states[k]));
                        db.update_unit(units[k], unit_status::completed);
                    });
                    if (created < p.units) create(created + 1);  // launch_units under max_num_concurrent_units
                });
            db.update_task_run(run, true);  // finish_if_done
        });
    }
    verify(db, run, p);
    return figures_of(m, p.units, setup, launched);
}

// --- output ------------------------------------------------------------------------------------------------

figures median_of(std::vector<figures> const& runs) {
    auto m = [&](double figures::*field) {
        std::vector<double> v;
        for (auto const& r : runs) v.push_back(r.*field);
        return median(std::move(v));
    };
    figures f;
    for (auto field : {&figures::rate, &figures::cpu_us, &figures::writes, &figures::syncs, &figures::setup_seconds})
        f.*field = m(field);
    f.setup_units = runs.empty() ? 0 : runs.front().setup_units;
    return f;
}

std::size_t to_count(std::string const& flag, char const* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (!end || *end || v < 0 || v > 100'000'000) fail(flag + ": not a count: " + text);
    return static_cast<std::size_t>(v);
}

void usage() {
    std::cout << "pipeline_benchmark [--smoke] [--units N] [--workers N] [--repeat N] [--dir PATH] [--waves] [--cap N]\n"
                 "  --smoke        a tiny run (200 units, 20 workers, 1 repeat) that checks the final data; no verdict\n"
                 "  --units N      units in the run (default 20,000: blueprints::mock{N}, one unit per item)\n"
                 "  --workers N    simulated workers taking turns round-robin (default 200)\n"
                 "  --repeat N     runs of each side; medians reported (default 3)\n"
                 "  --dir PATH     where the .db files go (default: a fresh folder under the temp dir); files removed after\n"
                 "  --waves        each round: all workers register (each holds a unit), then all submit\n"
                 "                 (default: each worker registers and submits before the next one's turn)\n"
                 "  --cap N        max_num_concurrent_units (default 0: launch() creates every unit; N > 0 creates the\n"
                 "                 rest during the run, one per submission, timed on both sides)\n";
}

}  // namespace

int main(int argc, char** argv) try {
    params p;
    std::optional<std::size_t> units, workers;
    std::optional<int> repeat;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto value = [&]() -> char const* {
            if (i + 1 >= argc) fail(a + ": needs a value");
            return argv[++i];
        };
        if (a == "--smoke") p.smoke = true;
        else if (a == "--dir") p.dir = fs::path(value());
        else if (a == "--units") units = to_count(a, value());
        else if (a == "--workers") workers = to_count(a, value());
        else if (a == "--repeat") repeat = std::max<int>(1, static_cast<int>(to_count(a, value())));
        else if (a == "--waves") p.waves = true;
        else if (a == "--cap") p.cap = to_count(a, value());
        else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            usage();
            fail("unknown argument " + a);
        }
    }
    if (p.smoke) {
        p.units = 200;
        p.workers = 20;
        p.repeat = 1;
    }
    if (units) p.units = *units;
    if (workers) p.workers = *workers;
    if (repeat) p.repeat = *repeat;
    if (p.units < 1) fail("--units must be at least 1");
    if (p.workers < 1) fail("--workers must be at least 1");
    if (p.waves && p.cap != 0 && p.cap < p.workers)
        fail("--waves needs --cap 0 or at least --workers (every worker of a round holds a unit at once)");

    bool const own_dir = !p.dir;
    fs::path const dir = own_dir ? fs::temp_directory_path() / ("crowdline-bench_pipeline-" + std::to_string(::getpid())) : *p.dir;
    fs::create_directories(dir);
    struct remove_dir {
        fs::path d;
        bool own;
        ~remove_dir() {
            std::error_code ec;
            if (own) fs::remove_all(d, ec);
        }
    } dir_guard{dir, own_dir};

    std::cout << "crowdline pipeline benchmark" << (p.smoke ? " (--smoke)" : "") << "\n";
#ifdef NDEBUG
    std::cout << "build: optimised (NDEBUG defined)\n";
#else
    std::cout << "build: *** NOT AN OPTIMISED BUILD (NDEBUG undefined): these figures say nothing about release "
                 "speed; configure with -DCMAKE_BUILD_TYPE=Release ***\n";
#endif
    std::cout << "compiler: " << __VERSION__ << "; SQLite " << sqlite3_libversion() << "; "
              << std::thread::hardware_concurrency() << " hardware threads\n";
    std::cout << "workload: " << with_commas(static_cast<double>(p.units)) << " units (blueprints::mock{" << p.units
              << "}, average_per_task{1}: one unit per item), " << p.workers << " workers taking turns round-robin "
              << (p.waves ? "in waves (all register, then all submit)" : "(each registers and submits before the next)")
              << "; max_num_concurrent_units " << p.cap
              << (p.cap == 0 ? " (launch() creates every unit)" : " (creation continues during the run)") << "; " << p.repeat
              << " run(s) per side" << (p.repeat > 1 ? " (median shown)" : "") << "\n";
    std::cout << "store: stores::sqlite, default sqlite_options (journal_mode WAL, synchronous NORMAL, one commit per "
                 "call), a fresh file per run\n";
    std::cout << "directory: " << dir.string() << (own_dir ? " (temporary)" : "") << "\n";
    std::cout << "per unit, both sides: transaction {new_agent (claim) + update_agent(in_task)} + transaction {"
                 "update_agent(completed, state) + update_unit(completed)}"
              << (p.cap ? " + transaction {new_assignment + new_unit + update_unit(launched)}" : "") << "\n";

    std::vector<figures> pipe_runs, store_runs;
    for (int rep = 0; rep < p.repeat; ++rep) {
        for (int side = 0; side < 2; ++side) {
            std::string const name = side == 0 ? "pipeline" : "store-only";
            std::string const label = name + (p.repeat > 1 ? " (run " + std::to_string(rep + 1) + "/" + std::to_string(p.repeat) + ")" : "");
            std::cout << "running " << pad(label, 24) << " ..." << std::flush;
            auto const t0 = bench_clock::now();
            figures f = side == 0 ? run_pipeline(p, dir, label) : run_store_only(p, dir, label);
            std::cout << " " << decimals(seconds_since(t0)) << " s, data verified: " << with_commas(f.rate) << " units/s, "
                      << decimals(f.cpu_us) << " CPU µs/unit";
            if (side == 1 && !pipe_runs.empty()) std::cout << "; ratio this run " << decimals(pipe_runs.back().rate / f.rate);
            std::cout << "\n";
            (side == 0 ? pipe_runs : store_runs).push_back(f);
        }
    }
    figures const pipe = median_of(pipe_runs), store = median_of(store_runs);

    std::cout << "\nRun (first register → last ack), " << with_commas(static_cast<double>(p.units)) << " units"
              << (p.repeat > 1 ? ", median of " + std::to_string(p.repeat) + " runs" : "") << "\n";
    std::cout << pad("side", 13) << pad("units/s", 12, true) << pad("CPU µs/unit", 14, true) << pad("writes/unit", 14, true)
              << pad("syncs/unit", 13, true) << "   " << "not timed in the run: unit creation\n";
    auto line = [&](std::string const& name, figures const& f, std::string const& setup_what) {
        std::cout << pad(name, 13) << pad(with_commas(f.rate), 12, true) << pad(decimals(f.cpu_us), 14, true)
                  << pad(decimals(f.writes), 14, true) << pad(decimals(f.syncs), 13, true) << "   " << setup_what << " "
                  << with_commas(static_cast<double>(f.setup_units)) << " units in " << decimals(f.setup_seconds) << " s ("
                  << with_commas(static_cast<double>(f.setup_units) / f.setup_seconds) << " units/s)\n";
    };
    line("pipeline", pipe, "launch():");
    line("store-only", store, "the same creation calls:");
    double const ratio = pipe.rate / store.rate;
    std::cout << "pipeline CPU per unit beyond the store calls: " << decimals(pipe.cpu_us - store.cpu_us) << " µs ("
              << decimals(100 * (pipe.cpu_us - store.cpu_us) / pipe.cpu_us) << "% of the pipeline's)\n";

    std::cout << "\nTargets\n";
    std::string const status = p.smoke ? "n/a " : ratio >= target_ratio ? "PASS" : "MISS";
    std::cout << "  [" << status << "] " << pad("pipeline / store-only, units/s (same store calls per unit, same run)", 72)
              << " goal ≥ " << pad(decimals(target_ratio), 6, true) << "  measured " << pad(decimals(ratio), 6, true) << "  ("
              << with_commas(pipe.rate) << " vs " << with_commas(store.rate) << " units/s)"
              << (p.smoke ? "  — not judged in --smoke" : "") << "\n";

    std::cout << "\nBoth sides verified: every unit completed by exactly one completed agent holding the submission, "
                 "every item done once, each worker's share right, counts right.\n";
    return 0;
} catch (std::exception const& e) {
    std::cerr << "\npipeline_benchmark: " << e.what() << "\n";
    return 1;
}
