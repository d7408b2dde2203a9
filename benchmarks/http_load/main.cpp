// http_load: acknowledged durable submits per second, and their latency, when N annotators work at once over
// loopback HTTP against the real `crowdline serve` program on SQLite — next to the same workload through the
// same pipeline in process (no HTTP) in the same run. Then the SQLite file is read back: nothing acknowledged
// may be lost, nothing done twice.
//
// The server: `crowdline serve` (path: --crowdline; CMake builds it with this program and passes it) started
// as a child process in a fresh folder holding tasks.jsonl (T tasks `{"lang": "en", "text": …}`, default
// 20,000) and workers.json (N annotators, default 1,000, each reading "en"), with `--port 0`, `overlap=1`,
// `task.allowed_concurrent=1`, `server.threads=2`, `server.max_connections=4096`,
// `server.max_connections_per_address=4096` (plus any --server-arg).
// Its stdout and stderr go to files in the folder; the URL and every invite link are read from its stdout.
//
// The load: one asio io_context on one thread in this process (the server has the other core), N
// simulated annotators, each on its own keep-alive HTTP/1.1 connection (all connected before the clock
// starts), each looping
//     POST /api/register {"data": {"invite": …}}                     → agent_details (a unit, its token)
//     POST /api/submit   {"agent", "data": {"token", "submission": {"sentiment": "positive"}}}
//                                                                     → submitted: one acknowledged submit
// until `no_work` (reason no_available_units or run_not_active: every task done; `serve` then keeps
// serving, its review page up, until it is stopped) or the time budget (--seconds, default 20; an annotator
// holding a unit when it runs out stops without submitting). With --think-ms an annotator reads for a while
// (uniform in [½, 1½] × the value) before each submit; without it (the default) the loop is closed: every
// annotator always has a request at the server, so latency is mostly queueing (≈ annotators ÷ requests/s,
// printed). A submit's latency is send → reply, as the annotator sees it (client queueing included: the
// client's CPU use, and how long both sides waited for a CPU other processes had, are printed). Every
// other reply — an error packet, a status other than 200, a transport failure or a timeout (--timeout,
// default 30 s) — is an error: counted, the first 5 printed, and that annotator stops. One exception,
// counted and shown apart: should `serve` wind its server down once every task of a run has been
// acknowledged, registers still arriving get HTTP 503 "unavailable" (or a closed connection as it exits)
// instead of no_work run_not_active; a server that is down acknowledges nothing, so when every task of that
// run ended up acknowledged these can only have come after its last submit.
//
// Afterwards the server is stopped (SIGTERM unless it already exited; its exit is reported) and the SQLite
// file is opened with stores::sqlite, only read: every unit a `submitted` reply named must be completed,
// with exactly one completed agent holding the submission (otherwise LOST); no unit acknowledged twice or
// completed by two agents (DUPLICATED); completed units == acknowledged submits (a completed unit nobody
// was told about is reported, and fails the run unless a submit whose reply never came explains it).
//
// The baseline, measured in the same run: the same pipeline as `serve` builds (static_form with the same
// form and tasks, providers::in_house with the same roster, the same dispatcher, stores::sqlite with
// default options on a fresh file in the folder) behind architects::in_process, driven by
// `channel().request(packet)` from this thread in waves (every annotator registers, then every one
// submits), up to the number of submits the HTTP run acknowledged. Printed: its submits/s and the ratio
// HTTP / in-process; its file is checked the same way. The per-call time of its register and submit is
// what the pipeline itself costs per request, without sockets, HTTP parsing or JSON text.
//
// The targets (the issue's): ≥ 5,000 acknowledged durable submits/s, p99 submit latency < 50 ms, zero lost
// or duplicated; printed PASS/MISS, never asserted. Lost, duplicated or any error fails the program (exit 1).
// --smoke: 50 annotators, 500 tasks, 3 s: checks the data, does not judge the speed.
//
// --runs N (2 to 26; the default, 1, is everything above, unchanged): N task runs "a", "b", … served at once
// by one `crowdline serve --campaign campaign.json` (one operator, one HTTP server, one SQLite file), the
// annotators and the tasks split evenly between them (the first runs take what does not divide). Each run
// has its own <run>.jsonl and <run>_workers.json and, in the campaign file, routing {route_by "lang",
// profile_key "languages", overlap 1} and task {allowed_concurrent 1}; server.threads and the connection
// limits stay on the command line. Each annotator belongs to one run, is named <run>-annotator-0001 …, and
// names its run in every packet: register {"data": {"invite", "run"}}, submit {"agent", "data": {"run",
// "token", "submission"}}. The annotators of all runs share the one client thread, interleaved (the first of
// every run, then the second …) so no run starts ahead. Three phases, each in a fresh folder with a fresh
// server, each with the same time budget:
//   1. run "a" alone, the baseline: a campaign file of run "a" only, with run "a"'s annotators and tasks, the
//      same settings and the same packets. A one-run campaign rather than the N-run campaign with only run
//      "a" driven, because it is the stricter, fairer baseline for "splitting costs nothing": a server that
//      has never heard of the other runs, so the ratios charge the split with all it costs (the other runs'
//      units in the same SQLite file, their pipelines and dispatchers, their share of the operator's ticks),
//      not only with their load.
//   2. all runs loaded: the N-run campaign, every annotator working.
//   3. the same load as one run: a one-run campaign with every annotator and every task. Against phase 1 the
//      offered load doubles (N× the annotators), so phase 3 is the baseline at equal load: what splitting one
//      campaign into N runs costs, with nothing else changed. Both comparisons are printed and judged.
// Per run: acknowledged submits/s, submit and register latency (p50 … p99), and the data check above, run by
// run (the units of that run's task run in the file). Per phase: the client's CPU and the server process's.
// The server's CPU per submit cycle is its CPU during the phase ÷ the acknowledged submits of every run:
// one process serves them all, so its CPU cannot be split by run; each run is charged CPU × (its submits ÷
// all submits), which per submit is the same figure for every run, printed per run and labelled shared.
// Then: all runs' submits/s ÷ run "a"'s alone (the issue's target: ≥ 1.0, splitting costs nothing) and each
// run's p99 loaded ÷ run "a"'s p99 alone (target: ≤ 1.5), PASS/MISS, never asserted (not judged in --smoke).
// In a closed loop (no --think-ms) phase 2 keeps N× the requests at the server, so at a saturated server
// latency grows ≈ N× by queueing alone; with --think-ms phase 2 offers N× the load, so unless the server is
// saturated in both phases the submits/s ratio measures the offered load (both said next to the ratios).
// No in-process baseline with --runs.
// `serve` does not end by itself when its runs are complete (nor with one run); it is stopped with SIGTERM
// after each phase. Lost, duplicated or any error, in any phase and any run, fails the program (exit 1).
// `--smoke --runs 2` (25 annotators and 250 tasks per run) is a ctest next to `--smoke`.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <crowdline/crowdline.hpp>
#include <crowdline/architect/in_process.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/store/sqlite.hpp>

#include "../common/measure.hpp"
#include "../../apps/crowdline/campaign.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace crowdline;
using namespace bench;

constexpr double target_rate = 5000;  // acknowledged durable submits/s
constexpr double target_p99_ms = 50;  // p99 submit latency
constexpr double target_runs_rate_ratio = 1.0;  // --runs N: all runs' submits/s ÷ one run's alone, at least
constexpr double target_runs_p99_ratio = 1.5;   // --runs N: each run's p99 loaded ÷ run "a"'s alone, at most
constexpr std::size_t max_runs = 26;            // runs are named "a" … "z"
constexpr std::size_t errors_shown = 5;
constexpr std::size_t slowest_kept = 3;

[[noreturn]] void fail(std::string const& what) { throw std::runtime_error(what); }

struct params {
    std::size_t annotators = 1000;
    std::size_t tasks = 20000;
    double seconds = 20;
    std::size_t think_ms = 0;  // an annotator's reading time between agent_details and its submit
    std::size_t timeout_seconds = 30;
    std::size_t server_threads = 2;
    std::vector<std::string> server_args;  // more key=value for `serve`
    std::string crowdline;                  // the program
    std::optional<fs::path> dir;
    bool keep = false;
    bool smoke = false;
    std::size_t runs = 1;  // --runs: task runs served by one `crowdline serve --campaign`, annotators split
};

/// 1,234 for counts (with_commas shows one decimal below 100).
std::string count(double n) { return n < 100 ? std::to_string(static_cast<long long>(n)) : with_commas(n); }

// --- the workload's files ----------------------------------------------------------------------------------

/// "annotator-0001"; in run "a" of a campaign, "a-annotator-0001" (names unique across the runs too).
std::string annotator_name(std::size_t i, std::string const& run = {}) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "annotator-%04zu", i + 1);
    return run.empty() ? std::string(buf) : run + "-" + buf;
}

/// Run r of a campaign: "a", "b", …
std::string run_name(std::size_t r) { return std::string(1, static_cast<char>('a' + r)); }

std::vector<json> make_tasks(std::size_t n) {
    static constexpr char const* texts[] = {
        "the delivery arrived a day early and everything was intact",
        "the support line kept me on hold for an hour",
        "the meeting was moved to Thursday afternoon",
        "what a wonderful performance, the whole hall stood up",
        "the app crashes every time I open the settings",
        "the library is open until eight on weekdays",
        "I loved the new menu, especially the soups",
        "the room was noisy and the heating did not work",
    };
    std::vector<json> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back({{"lang", "en"}, {"text", "Text " + std::to_string(i + 1) + ": " + texts[i % std::size(texts)] + "."}});
    return out;
}

json make_workers(std::size_t n, std::string const& run = {}) {
    json list = json::array();
    for (std::size_t i = 0; i < n; ++i) list.push_back({{"name", annotator_name(i, run)}, {"languages", {"en"}}});
    return list;
}

json const& submission() {
    static json const s = {{"sentiment", "positive"}};
    return s;
}

void write_file(fs::path const& path, std::string const& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail(path.string() + ": cannot write");
    out << text;
    if (!out) fail(path.string() + ": write failed");
}

std::string read_text(fs::path const& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// --- the server process ------------------------------------------------------------------------------------

/// The server's pid while it runs, for the signal handler below.
std::atomic<pid_t> g_server_pid{0};
static_assert(std::atomic<pid_t>::is_always_lock_free);

/// This program killed (Ctrl-C, a closed pipe on stdout, a crash): take the server down with it, so no
/// `crowdline serve` is left behind holding a port and a deleted folder, then die of the same signal.
extern "C" void on_fatal_signal(int sig) {
    if (pid_t const pid = g_server_pid.load(); pid > 0) ::kill(pid, SIGKILL);
    std::signal(sig, SIG_DFL);
    ::raise(sig);
}

/// `crowdline serve` as a child process; killed (SIGKILL) and reaped if still running when destroyed.
class server_process {
public:
    server_process() = default;
    server_process(server_process const&) = delete;
    server_process& operator=(server_process const&) = delete;
    ~server_process() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
        g_server_pid = 0;
    }

    void start(std::vector<std::string> const& argv, fs::path const& out, fs::path const& err) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        std::vector<char*> args;
        for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int const rc = ::posix_spawn(&pid_, argv.front().c_str(), &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) fail(argv.front() + ": cannot start (" + std::strerror(rc) + ")");
        g_server_pid = pid_;
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGABRT, SIGSEGV}) std::signal(sig, on_fatal_signal);
    }

    /// True once the process has exited (reaps it).
    bool exited() {
        if (reaped_) return true;
        if (::wait4(pid_, &status_, WNOHANG, &usage_) == pid_) reaped_ = true;
        if (reaped_) g_server_pid = 0;  // the pid may be reused from now on
        return reaped_;
    }

    /// SIGTERM (unless it already exited), then up to `patience` for it to exit; SIGKILL after that.
    void stop(std::chrono::seconds patience) {
        if (exited()) {
            exited_on_its_own_ = true;
            return;
        }
        ::kill(pid_, SIGTERM);
        auto const until = bench_clock::now() + patience;
        while (!exited() && bench_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!exited()) {
            killed_ = true;
            ::kill(pid_, SIGKILL);
            if (::wait4(pid_, &status_, 0, &usage_) == pid_) reaped_ = true;
            g_server_pid = 0;
        }
    }

    /// User + system CPU seconds so far, from /proc (nullopt once it has exited).
    std::optional<double> cpu_now() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
        std::string text;
        if (!std::getline(in, text)) return std::nullopt;
        auto const close = text.rfind(')');
        if (close == std::string::npos) return std::nullopt;
        std::istringstream fields(text.substr(close + 2));
        std::string f;
        unsigned long long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && fields >> f; ++i) {  // field 3 is the state
            if (i == 14) utime = std::stoull(f);
            if (i == 15) stime = std::stoull(f);
        }
        return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
    /// User + system CPU seconds of its whole life (after it was reaped).
    double cpu_total() const {
        auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
        return s(usage_.ru_utime) + s(usage_.ru_stime);
    }
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool exited_on_its_own() const { return exited_on_its_own_; }
    [[nodiscard]] bool clean_exit() const { return reaped_ && !killed_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }
    [[nodiscard]] std::string how_it_ended() const {
        if (!reaped_) return "still running";
        std::string how = exited_on_its_own_ ? "exited by itself (it does once the run is complete)" : killed_ ? "did not stop within the grace period; SIGKILL" : "stopped by SIGTERM";
        if (WIFEXITED(status_)) return how + ", exit code " + std::to_string(WEXITSTATUS(status_));
        if (WIFSIGNALED(status_)) return how + ", killed by signal " + std::to_string(WTERMSIG(status_)) + " (" + strsignal(WTERMSIG(status_)) + ")";
        return how;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    bool killed_ = false;
    bool exited_on_its_own_ = false;
    int status_ = 0;
    rusage usage_{};
};

/// Seconds the threads of process `pid` (or this one, 0) have spent on a CPU and waiting for one (in the run
/// queue: other processes on this machine had it), from /proc/<pid>/task/*/schedstat; nullopt when gone.
struct sched_times {
    double on_cpu = 0;
    double waiting = 0;
};
std::optional<sched_times> sched_of(pid_t pid) {
    fs::path const tasks = pid ? fs::path("/proc/" + std::to_string(pid) + "/task") : fs::path("/proc/self/task");
    std::error_code ec;
    sched_times t;
    bool any = false;
    for (auto const& e : fs::directory_iterator(tasks, ec)) {
        std::ifstream in(e.path() / "schedstat");
        unsigned long long run = 0, wait = 0;
        if (in >> run >> wait) {
            t.on_cpu += 1e-9 * static_cast<double>(run);
            t.waiting += 1e-9 * static_cast<double>(wait);
            any = true;
        }
    }
    if (ec || !any) return std::nullopt;
    return t;
}

/// What `serve` printed once ready: its URL and each annotator's invite token.
struct served {
    std::string url;
    std::string host;
    std::uint16_t port = 0;
    std::map<std::string, std::string> invites;    // name → token
    std::map<std::string, std::string> run_of;     // name → the run its link names (`&run=`), if any
    double startup_seconds = 0;
};

served wait_until_ready(server_process& proc, fs::path const& out, fs::path const& err, std::size_t annotators) {
    auto const t0 = bench_clock::now();
    constexpr std::string_view ready = "Stop with Ctrl-C";
    for (;;) {
        std::string const text = read_text(out);
        if (text.find(ready) != std::string::npos) {
            served s;
            s.startup_seconds = seconds_since(t0);
            std::istringstream lines(text);
            std::string line;
            while (std::getline(lines, line)) {
                // "Serving task run 1 at URL" (one run) or "Serving 2 task runs at URL" (a campaign of several)
                if (line.starts_with("Serving ") && line.find("task run") != std::string::npos) {
                    auto at = line.find(" at ");
                    if (at != std::string::npos) s.url = line.substr(at + 4);
                } else if (auto inv = line.find("/?invite="); inv != std::string::npos) {
                    auto first = line.find_first_not_of(' ');
                    auto name = line.substr(first, line.find(' ', first) - first);
                    auto token = line.substr(inv + 9);  // <hex token>, then "&run=<name>" in a campaign
                    if (auto amp = token.find('&'); amp != std::string::npos) {
                        if (auto run = token.find("run=", amp); run != std::string::npos) s.run_of[name] = token.substr(run + 4);
                        token.resize(amp);
                    }
                    s.invites[name] = token;
                }
            }
            constexpr std::string_view scheme = "http://";
            if (!s.url.starts_with(scheme)) fail("serve printed no http:// URL:\n" + text.substr(0, 500));
            auto const hostport = s.url.substr(scheme.size());
            auto const colon = hostport.rfind(':');
            if (colon == std::string::npos) fail("serve's URL has no port: " + s.url);
            s.host = hostport.substr(0, colon);
            s.port = static_cast<std::uint16_t>(std::stoul(hostport.substr(colon + 1)));
            if (s.invites.size() != annotators)
                fail("serve printed " + std::to_string(s.invites.size()) + " invite links, expected " + std::to_string(annotators));
            return s;
        }
        if (proc.exited())
            fail("crowdline serve exited before it was ready (" + proc.how_it_ended() + "); its stderr:\n" + read_text(err));
        if (seconds_since(t0) > 600) fail("crowdline serve was not ready after 600 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// --- the load generator ------------------------------------------------------------------------------------

/// One simulated annotator: its name, its invite token, the run it works in ("": the one-run short form,
/// whose packets name no run) and that run's place in the load generator's outcomes.
struct annotator_spec {
    std::string name;
    std::string invite;
    std::string run;
    std::size_t group = 0;
};

/// What the annotators of one run did.
struct outcome {
    std::size_t annotators = 0;
    std::size_t acked = 0;
    std::vector<std::int64_t> acked_units;  // unit_id of every `submitted` reply
    std::set<std::int64_t> in_doubt;        // units whose submit got no `submitted` reply (error or transport)
    std::vector<double> submit_ms, register_ms;
    std::size_t registers = 0;
    std::size_t errors = 0;
    std::vector<std::string> first_errors;
    std::map<std::string, std::size_t> stopped_by;  // why annotators stopped
    // Registers refused because the run had just completed (an HTTP 503 "unavailable" once `serve` wound its
    // server down, or the connection closed as it exited): not errors when every task was acknowledged.
    std::size_t end_of_run = 0;
    std::vector<std::string> end_of_run_examples;
    std::vector<std::size_t> per_second;            // submits acknowledged in each second of the run
    std::vector<std::pair<double, std::string>> slowest;  // the slowest replies, slowest first
    double connect_seconds = 0;
    double wall = 0;   // first request sent → last reply (of this run's annotators)
    double cpu = 0;    // this process's CPU during the run (with several runs: all of them, shared)
};

/// The annotators of one or more runs (groups), all on this thread; one outcome per group.
class load_generator {
public:
    /// `tasks[g]`: the tasks of group g's run (an outcome's capacity, and how the end of that run is told).
    load_generator(params const& p, served const& s, std::vector<annotator_spec> const& specs, std::vector<std::size_t> tasks)
        : p_(p), timeout_(std::chrono::seconds(p.timeout_seconds)), progress_timer_(io_), guard_timer_(io_),
          tasks_(std::move(tasks)), outs_(tasks_.size()), acked_at_last_tick_(tasks_.size(), 0) {
        endpoint_ = tcp::endpoint(asio::ip::make_address(s.host), s.port);
        host_ = s.host + ":" + std::to_string(s.port);
        for (auto const& spec : specs) {
            if (spec.group >= outs_.size()) fail("annotator " + spec.name + ": no such group");
            auto a = std::make_unique<annotator>(io_);
            a->name = spec.name;
            a->run = spec.run;
            a->group = spec.group;
            a->register_body = spec.run.empty() ? R"({"data":{"invite":")" + spec.invite + R"("}})"
                                                 : R"({"data":{"invite":")" + spec.invite + R"(","run":")" + spec.run + R"("}})";
            a->req.version(11);
            a->req.method(bhttp::verb::post);
            a->req.set(bhttp::field::host, host_);
            a->req.set(bhttp::field::content_type, "application/json");
            a->req.keep_alive(true);
            ++outs_[spec.group].annotators;
            annotators_.push_back(std::move(a));
        }
        for (std::size_t g = 0; g < outs_.size(); ++g) {
            outs_[g].submit_ms.reserve(tasks_[g]);
            outs_[g].register_ms.reserve(tasks_[g] + outs_[g].annotators);
            outs_[g].acked_units.reserve(tasks_[g]);
        }
    }

    /// Connects every annotator, then runs the workload on this thread until every annotator stopped.
    std::vector<outcome> run(std::function<void()> on_start) {
        on_start_ = std::move(on_start);
        connect_started_ = bench_clock::now();
        pending_connects_ = annotators_.size();
        for (auto& a : annotators_) connect(*a);
        double const c0 = cpu_seconds();
        io_.run();
        for (auto& o : outs_) o.cpu = cpu_seconds() - c0;
        return std::move(outs_);
    }

private:
    struct annotator {
        explicit annotator(asio::io_context& io) : stream(io), think(io) {}
        std::string name;
        std::string run;  // named in every packet ("": the short form, no run named)
        std::size_t group = 0;
        std::string register_body;
        beast::tcp_stream stream;
        asio::steady_timer think;
        beast::flat_buffer buffer;
        bhttp::request<bhttp::string_body> req;
        bhttp::response<bhttp::string_body> res;
        bool submitting = false;
        bool stopped = false;
        std::size_t cycles = 0;  // replies received
        std::int64_t agent = 0, unit = 0;
        std::string token;
        bench_clock::time_point sent;
    };

    void connect(annotator& a) {
        a.stream.expires_after(timeout_);
        a.stream.async_connect(endpoint_, [this, &a](beast::error_code ec) {
            if (ec) {
                drop(a, "connect: " + ec.message());
            } else {
                beast::error_code ignored;
                a.stream.socket().set_option(tcp::no_delay(true), ignored);
            }
            if (--pending_connects_ == 0) start();
        });
    }

    /// A reading time: uniform in [0.5, 1.5] × --think-ms, so the annotators do not act in lockstep.
    std::chrono::microseconds think_time() {
        std::uniform_real_distribution<double> d(0.5, 1.5);
        return std::chrono::microseconds(static_cast<std::int64_t>(1e3 * static_cast<double>(p_.think_ms) * d(rng_)));
    }

    outcome& out(annotator const& a) { return outs_[a.group]; }
    std::size_t acked_all() const {
        std::size_t n = 0;
        for (auto const& o : outs_) n += o.acked;
        return n;
    }

    void start() {
        for (auto& o : outs_) o.connect_seconds = seconds_since(connect_started_);
        if (on_start_) on_start_();
        t0_ = bench_clock::now();
        last_reply_.assign(outs_.size(), t0_);
        deadline_ = t0_ + std::chrono::duration_cast<bench_clock::duration>(std::chrono::duration<double>(p_.seconds));
        for (auto& a : annotators_) {
            if (a->stopped) continue;
            ++active_;
            if (p_.think_ms == 0) {
                send(*a, "/api/register", a->register_body);
                continue;
            }
            // With reading time, the annotators arrive spread over one reading time instead of all at once.
            std::uniform_real_distribution<double> d(0, 1);
            a->think.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(1e3 * static_cast<double>(p_.think_ms) * d(rng_))));
            a->think.async_wait([this, &a = *a](beast::error_code ec) {
                if (!ec && !a.stopped) send(a, "/api/register", a.register_body);
            });
        }
        if (active_ == 0) return finish();
        tick();
        // Past the budget, every reply in flight has the timeout to arrive; a wedged run is cut off after that.
        guard_timer_.expires_at(deadline_ + timeout_ + std::chrono::seconds(30));
        guard_timer_.async_wait([this](beast::error_code ec) {
            if (ec) return;
            for (auto& a : annotators_)
                if (!a->stopped) fail_annotator(*a, "the run went on past the time budget + timeout + 30 s");
        });
    }

    void tick() {
        progress_timer_.expires_after(std::chrono::seconds(1));
        progress_timer_.async_wait([this](beast::error_code ec) {
            if (ec || active_ == 0) return;
            std::size_t last_second = 0;
            for (std::size_t g = 0; g < outs_.size(); ++g) {
                outs_[g].per_second.push_back(outs_[g].acked - acked_at_last_tick_[g]);
                acked_at_last_tick_[g] = outs_[g].acked;
                last_second += outs_[g].per_second.back();
            }
            if (!p_.smoke)
                std::cerr << "  [" << outs_.front().per_second.size() << " s] " << count(static_cast<double>(acked_all()))
                          << " submits acknowledged, " << count(static_cast<double>(last_second))
                          << " in the last second, " << active_ << " annotators working\n";
            tick();
        });
    }

    void send(annotator& a, char const* target, std::string body) {
        a.req.target(target);
        a.req.body() = std::move(body);
        a.req.prepare_payload();
        a.stream.expires_after(timeout_);
        a.sent = bench_clock::now();
        bhttp::async_write(a.stream, a.req, [this, &a](beast::error_code ec, std::size_t) {
            if (a.stopped) return;  // cut off by the guard timer
            if (ec) return transport_failure(a, "write", ec);
            a.res = {};
            bhttp::async_read(a.stream, a.buffer, a.res, [this, &a](beast::error_code ec2, std::size_t) { on_reply(a, ec2); });
        });
    }

    static std::string submit_body(annotator const& a) {
        return R"({"agent":)" + std::to_string(a.agent) + R"(,"data":{)" +
               (a.run.empty() ? std::string() : R"("run":")" + a.run + R"(",)") + R"("token":")" + a.token +
               R"(","submission":{"sentiment":"positive"}}})";
    }

    void on_reply(annotator& a, beast::error_code ec) {
        if (a.stopped) return;  // cut off by the guard timer
        try {
            handle_reply(a, ec);
        } catch (std::exception const& e) {  // a reply of an unexpected shape
            if (a.submitting) out(a).in_doubt.insert(a.unit);
            fail_annotator(a, std::string(a.submitting ? "submit" : "register") + ": unexpected reply (" + e.what() +
                                  "): " + a.res.body().substr(0, 300));
        }
    }

    void handle_reply(annotator& a, beast::error_code ec) {
        auto const now = bench_clock::now();
        double const ms = 1e3 * std::chrono::duration<double>(now - a.sent).count();
        if (ec) return transport_failure(a, "read", ec);
        last_reply_[a.group] = now;
        outcome& o = out(a);
        unsigned const status = a.res.result_int();
        json j = json::parse(a.res.body(), nullptr, /*allow_exceptions=*/false);
        std::string const type = j.is_object() ? j.value("type", std::string{}) : std::string{};
        auto describe = [&] {
            std::string body = a.res.body();
            if (body.size() > 300) body = body.substr(0, 300) + "…";
            return std::string(a.submitting ? "submit" : "register") + " → HTTP " + std::to_string(status) + " " + body;
        };
        if (a.res.need_eof() && status == 200) {
            // The server will close this connection: not an error by itself, but every annotator keeps its one.
            fail_annotator(a, describe() + " (with Connection: close)");
            return;
        }
        note_slow(a, ms, status);
        ++a.cycles;
        if (!a.submitting) {
            o.register_ms.push_back(ms);
            ++o.registers;
            if (status == 200 && type == "agent_details") {
                auto const& d = j["data"];
                if (!d.is_object() || !d.contains("agent_id") || !d.contains("unit_id") || !d.contains("token"))
                    return fail_annotator(a, describe() + " (agent_details without agent_id, unit_id or token)");
                a.agent = d["agent_id"].get<std::int64_t>();
                a.unit = d["unit_id"].get<std::int64_t>();
                a.token = d["token"].get<std::string>();
                if (now >= deadline_) return stop(a, "time budget (holding a unit, not submitted)");
                a.submitting = true;
                if (p_.think_ms == 0) return send(a, "/api/submit", submit_body(a));
                a.think.expires_after(think_time());
                return a.think.async_wait([this, &a](beast::error_code tec) {
                    if (tec || a.stopped) return;
                    if (bench_clock::now() >= deadline_) return stop(a, "time budget (holding a unit, not submitted)");
                    send(a, "/api/submit", submit_body(a));
                });
            }
            if (status == 200 && type == "no_work") {
                auto const reason = j["data"].is_object() ? j["data"].value("reason", std::string{}) : std::string{};
                if (reason == "no_available_units" || reason == "run_not_active") return stop(a, "no_work " + reason);
            }
            if (status == 503 && type == "error" && j["data"].is_object() && j["data"].value("reason", "") == "unavailable") {
                // The channel is down. If every task ends up acknowledged, this came after the last submit (a
                // server that is down acknowledges nothing): the end of the run. Decided in finish().
                unavailable_.emplace_back(a.group, a.name + " at " + decimals(seconds_since(t0_)) + " s: " + describe());
                return stop(a, "register → HTTP 503 unavailable");
            }
            return fail_annotator(a, describe());
        }
        if (status == 200 && type == "submitted") {
            auto const& d = j["data"];
            std::int64_t const acked_unit = d.is_object() && d.contains("unit_id") ? d["unit_id"].get<std::int64_t>() : -1;
            ++o.acked;
            o.submit_ms.push_back(ms);
            o.acked_units.push_back(acked_unit);
            if (acked_unit != a.unit) return fail_annotator(a, describe() + " (for unit " + std::to_string(a.unit) + ")");
            a.submitting = false;
            if (now >= deadline_) return stop(a, "time budget");
            return send(a, "/api/register", a.register_body);
        }
        o.in_doubt.insert(a.unit);  // refused, or something failed after the commit: either way, no ack
        return fail_annotator(a, describe());
    }

    /// Keeps the slowest replies (what, when sent, how long) to show where a tail comes from.
    void note_slow(annotator const& a, double ms, unsigned status) {
        auto& slow = out(a).slowest;
        if (slow.size() == slowest_kept && ms <= slow.back().first) return;
        std::string what = a.name + (a.submitting ? " submit" : " register") + " sent at " +
                           decimals(std::chrono::duration<double>(a.sent - t0_).count()) + " s: " + decimals(ms) +
                           " ms, HTTP " + std::to_string(status) + (a.cycles == 0 ? " (its first request)" : "");
        slow.emplace_back(ms, std::move(what));
        std::sort(slow.begin(), slow.end(), [](auto const& x, auto const& y) { return x.first > y.first; });
        if (slow.size() > slowest_kept) slow.pop_back();
    }

    void transport_failure(annotator& a, char const* what, beast::error_code ec) {
        outcome& o = out(a);
        if (!a.submitting && o.acked == tasks_[a.group] && ec != beast::error::timeout) {
            // Every task of its run is done, so `serve` may be exiting: a register cut off now is the end of the run.
            if (o.end_of_run_examples.size() < errors_shown)
                o.end_of_run_examples.push_back(a.name + " at " + decimals(seconds_since(t0_)) + " s: register: " + what +
                                                ": " + ec.message());
            ++o.end_of_run;
            return stop(a, "register: connection closed after the last task (" + ec.message() + ")");
        }
        if (a.submitting) o.in_doubt.insert(a.unit);  // it may have been committed
        fail_annotator(a, std::string(a.submitting ? "submit" : "register") + ": " + what + ": " + ec.message() +
                              (ec == beast::error::timeout ? " (no reply within " + std::to_string(p_.timeout_seconds) + " s)" : ""));
    }

    void fail_annotator(annotator& a, std::string const& what) {
        outcome& o = out(a);
        ++o.errors;
        if (o.first_errors.size() < errors_shown)
            o.first_errors.push_back(a.name + " at " + decimals(seconds_since(t0_)) + " s: " + what);
        stop(a, "error");
    }

    void stop(annotator& a, std::string const& why) {
        if (a.stopped) return;
        a.stopped = true;
        ++out(a).stopped_by[why];
        beast::error_code ignored;
        a.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        a.stream.close();
        if (active_ > 0 && --active_ == 0) finish();
    }
    /// An annotator that could not connect: an error, and it never starts.
    void drop(annotator& a, std::string const& what) {
        outcome& o = out(a);
        ++o.errors;
        if (o.first_errors.size() < errors_shown) o.first_errors.push_back(a.name + ": " + what);
        a.stopped = true;
        ++o.stopped_by["error"];
    }

    void finish() {
        for (auto& [g, u] : unavailable_) {
            outcome& o = outs_[g];
            if (o.acked == tasks_[g]) {
                ++o.end_of_run;
                if (o.end_of_run_examples.size() < errors_shown) o.end_of_run_examples.push_back(std::move(u));
            } else {
                ++o.errors;
                if (o.first_errors.size() < errors_shown) o.first_errors.push_back(std::move(u));
            }
        }
        for (std::size_t g = 0; g < outs_.size(); ++g) {
            outcome& o = outs_[g];
            o.wall = std::chrono::duration<double>(last_reply_[g] - t0_).count();
            if (o.acked > acked_at_last_tick_[g]) o.per_second.push_back(o.acked - acked_at_last_tick_[g]);
        }
        progress_timer_.cancel();
        guard_timer_.cancel();
    }

    params const& p_;
    std::chrono::seconds timeout_;
    asio::io_context io_{1};
    tcp::endpoint endpoint_;
    std::string host_;
    std::vector<std::unique_ptr<annotator>> annotators_;
    asio::steady_timer progress_timer_;
    asio::steady_timer guard_timer_;
    std::vector<std::size_t> tasks_;  // per group
    std::vector<outcome> outs_;       // per group
    std::function<void()> on_start_;
    std::mt19937_64 rng_{20240601};
    std::vector<std::pair<std::size_t, std::string>> unavailable_;  // 503 "unavailable" replies to registers (group,
                                                                    // what), judged in finish()
    std::size_t pending_connects_ = 0;
    std::size_t active_ = 0;
    std::vector<std::size_t> acked_at_last_tick_;      // per group
    std::vector<bench_clock::time_point> last_reply_;  // per group
    bench_clock::time_point connect_started_, t0_, deadline_;
};

// --- the in-process baseline -------------------------------------------------------------------------------

struct baseline_outcome {
    outcome run;
    meter m;
    double launch_seconds = 0;
    std::vector<double> register_call_us, submit_call_us;  // time inside channel().request
};

baseline_outcome run_in_process(std::vector<json> const& tasks, std::size_t annotators, fs::path const& db_path,
                                std::size_t target) {
    baseline_outcome b;
    b.run.annotators = annotators;
    json form_spec = crowdline_serve::default_form();
    form_spec["items"] = tasks;
    auto form = blueprints::static_form::from_json(form_spec);
    providers::in_house crowd{crowdline_serve::roster_from_json(make_workers(annotators), "workers", "languages", {})};
    std::vector<std::string> invites;
    for (auto const& w : crowd.roster()) invites.push_back(w.token);

    remove_db_files(db_path);
    stores::sqlite db{db_path.string()};
    architects::in_process server;
    task_run_args args = crowdline_serve::default_task_args();
    args.task_name = "tasks";  // the stem of tasks.jsonl, as `serve` names it
    auto dispatcher = crowdline_serve::make_routing(1.0, std::chrono::seconds(args.assignment_duration_in_seconds));
    pipeline run{std::move(form), server, crowd, std::move(dispatcher), db, args, {}, crowdline_serve::item_by{"lang"}};
    {
        auto const t0 = bench_clock::now();
        run.launch();
        b.launch_seconds = seconds_since(t0);
    }
    auto& ch = server.channel();
    auto note_error = [&](std::string what) {
        ++b.run.errors;
        if (b.run.first_errors.size() < errors_shown) b.run.first_errors.push_back(std::move(what));
    };
    struct held {
        agent_id agent;
        std::int64_t unit;
        std::string token;
    };
    std::vector<held> holding;
    holding.reserve(annotators);
    b.register_call_us.reserve(target + annotators);
    b.submit_call_us.reserve(target);
    b.m.time([&] {
        bool more = true;
        while (more && b.run.acked < target && b.run.errors == 0) {
            holding.clear();
            std::size_t const want = std::min(annotators, target - b.run.acked);
            for (std::size_t i = 0; i < want; ++i) {  // every annotator registers …
                auto const c0 = bench_clock::now();
                packet reply = ch.request(packet{"register", std::nullopt, {{"invite", invites[i]}}});
                b.register_call_us.push_back(1e6 * seconds_since(c0));
                ++b.run.registers;
                if (reply.type == "agent_details") {
                    holding.push_back({*reply.agent, reply.data["unit_id"].get<std::int64_t>(), reply.data["token"].get<std::string>()});
                } else if (reply.type == "no_work") {
                    more = false;
                    break;
                } else {
                    note_error("in-process register of " + annotator_name(i) + " → " + reply.type + " " + reply.data.dump());
                    more = false;
                    break;
                }
            }
            for (auto const& h : holding) {  // … then every one submits
                auto const c0 = bench_clock::now();
                packet ack = ch.request(packet{"submit", h.agent, {{"token", h.token}, {"submission", submission()}}});
                b.submit_call_us.push_back(1e6 * seconds_since(c0));
                if (ack.type != "submitted") {
                    b.run.in_doubt.insert(h.unit);
                    note_error("in-process submit for unit " + std::to_string(h.unit) + " → " + ack.type + " " + ack.data.dump());
                    continue;
                }
                ++b.run.acked;
                b.run.acked_units.push_back(ack.data["unit_id"].get<std::int64_t>());
            }
            if (holding.empty()) more = false;
        }
    });
    b.run.wall = b.m.wall;
    b.run.cpu = b.m.cpu;
    run.shutdown();
    server.shutdown();
    return b;
}

// --- the data check ----------------------------------------------------------------------------------------

struct data_check {
    std::size_t acked = 0;           // `submitted` replies
    std::size_t acked_distinct = 0;  // distinct units they named
    std::size_t completed_units = 0;
    std::size_t lost = 0;            // acknowledged, not completed by exactly one completed agent holding it
    std::size_t duplicated = 0;      // acknowledged twice, or completed by more than one agent
    std::size_t unacked_completed = 0;   // completed, never acknowledged …
    std::size_t explained_by_doubt = 0;  // … of which a submit without a reply explains this many
    std::vector<std::string> problems;
    [[nodiscard]] bool ok() const {
        return lost == 0 && duplicated == 0 && unacked_completed == explained_by_doubt &&
               completed_units == acked_distinct + explained_by_doubt;
    }
};

/// `task_name`: the run of a campaign to check (its task's latest run); empty: the file's latest task run.
data_check check_data(stores::sqlite& db, std::vector<std::int64_t> const& acked, std::set<std::int64_t> const& in_doubt,
                      std::string const& task_name = {}) {
    data_check c;
    auto problem = [&](std::string what) {
        if (c.problems.size() < errors_shown) c.problems.push_back(std::move(what));
    };
    std::optional<task_run_id> run;
    for (auto const& t : task_name.empty() ? db.find_tasks({}) : db.find_tasks({.name = task_name}))
        for (auto const& r : db.find_task_runs({.task = t.id}))
            if (!run || r.id.value() > run->value()) run = r.id;
    if (!run) fail(task_name.empty() ? "the database holds no task run" : "the database holds no task run of \"" + task_name + "\"");
    std::unordered_map<std::int64_t, unit> units;
    for (auto& u : db.find_units({.task_run = *run})) units.emplace(u.id.value(), std::move(u));
    std::unordered_map<std::int64_t, std::vector<agent>> completed_agents;  // unit → its completed agents
    for (auto& a : db.find_agents({.task_run = *run}))
        if (a.status == agent_status::completed) completed_agents[a.unit.value()].push_back(std::move(a));

    std::unordered_map<std::int64_t, std::size_t> times_acked;
    for (auto u : acked) ++times_acked[u];
    c.acked = acked.size();
    c.acked_distinct = times_acked.size();
    for (auto const& [u, n] : times_acked)
        if (n > 1) {
            c.duplicated += n - 1;
            problem("unit " + std::to_string(u) + " acknowledged " + std::to_string(n) + " times");
        }
    for (auto const& [id, u] : units) {
        auto const n = completed_agents.contains(id) ? completed_agents[id].size() : 0;
        if (n > 1) {
            ++c.duplicated;
            problem("unit " + std::to_string(id) + " has " + std::to_string(n) + " completed agents");
        }
        if (u.status != unit_status::completed) continue;
        ++c.completed_units;
        if (!times_acked.contains(id)) {
            ++c.unacked_completed;
            if (in_doubt.contains(id)) ++c.explained_by_doubt;
            else problem("unit " + std::to_string(id) + " is completed but no submit for it was acknowledged");
        }
    }
    for (auto const& [id, n] : times_acked) {
        auto it = units.find(id);
        std::string const name = "acknowledged unit " + std::to_string(id);
        if (it == units.end()) {
            ++c.lost;
            problem(name + ": not in the run");
            continue;
        }
        unit const& u = it->second;
        auto const& done = completed_agents[id];
        std::string why;
        if (u.status != unit_status::completed) why = "status " + std::string(to_string(u.status));
        else if (done.size() != 1) why = std::to_string(done.size()) + " completed agents";
        else if (!u.agent || *u.agent != done.front().id) why = "its agent link does not name its completed agent";
        else if (!done.front().state.is_object() || done.front().state.value("outputs", json()) != submission())
            why = "its agent's state does not hold the submission: " + done.front().state.dump().substr(0, 200);
        if (!why.empty()) {
            ++c.lost;
            problem(name + ": " + why);
        }
    }
    return c;
}

// --- output ------------------------------------------------------------------------------------------------

double percentile(std::vector<double> const& sorted, double q) {
    if (sorted.empty()) return std::nan("");
    auto const rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string latency_line(std::vector<double> v, double scale = 1) {  // v in ms (scale 1) or µs (scale 1e-3)
    if (v.empty()) return "—";
    for (auto& x : v) x *= scale;
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (double x : v) sum += x;
    return "p50 " + decimals(percentile(v, 0.50)) + "  p90 " + decimals(percentile(v, 0.90)) + "  p99 " +
           decimals(percentile(v, 0.99)) + "  max " + decimals(v.back()) + "  mean " + decimals(sum / static_cast<double>(v.size())) +
           "  (" + count(static_cast<double>(v.size())) + " samples)";
}

void print_errors(outcome const& o, std::string const& indent) {
    for (auto const& e : o.first_errors) std::cout << indent << e << "\n";
    if (o.errors > o.first_errors.size()) std::cout << indent << "… and " << o.errors - o.first_errors.size() << " more\n";
}

void print_check(data_check const& c, std::string const& indent) {
    std::cout << indent << "acknowledged submits " << count(static_cast<double>(c.acked)) << " naming "
              << count(static_cast<double>(c.acked_distinct)) << " distinct units; completed units in the run "
              << count(static_cast<double>(c.completed_units)) << "\n";
    std::cout << indent << "LOST " << c.lost << "   DUPLICATED " << c.duplicated << "   completed without acknowledgement "
              << c.unacked_completed;
    if (c.unacked_completed) std::cout << " (" << c.explained_by_doubt << " of them a submit whose reply never came)";
    std::cout << "   → " << (c.ok() ? "data verified" : "DATA WRONG") << "\n";
    for (auto const& p : c.problems) std::cout << indent << "  " << p << "\n";
}

/// The server's stderr, without its start line and periodic [progress] lines.
std::vector<std::string> unusual_stderr(fs::path const& err) {
    std::istringstream in(read_text(err));
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        bool const start = line.starts_with("crowdline: ") && line.find(" tasks, ") != std::string::npos;
        if (!start && !line.starts_with("[progress]")) out.push_back(line);
    }
    return out;
}

// --- one phase: the files, the server, the load, the data check --------------------------------------------

/// One run a phase serves: its name ("": the one-run short form, `--tasks/--workers`, whose packets name no
/// run), its annotators and its tasks.
struct run_plan {
    std::string name;
    std::size_t annotators = 0;
    std::size_t tasks = 0;
};

/// Writes a phase's files into `folder` and returns the `crowdline serve` command line: the short form for
/// one unnamed run (tasks.jsonl, workers.json), else a campaign file of `plans` (campaign.json; each run's
/// tasks in <run>.jsonl, its roster in <run>_workers.json; overlap 1, allowed_concurrent 1 in every run).
std::vector<std::string> prepare_server(params const& p, fs::path const& folder, std::vector<run_plan> const& plans) {
    auto tasks_text = [](std::size_t n) {
        std::string text;
        for (auto const& t : make_tasks(n)) text += t.dump() + "\n";
        return text;
    };
    std::vector<std::string> argv{p.crowdline, "serve"};
    if (plans.size() == 1 && plans.front().name.empty()) {
        write_file(folder / "tasks.jsonl", tasks_text(plans.front().tasks));
        write_file(folder / "workers.json", make_workers(plans.front().annotators).dump() + "\n");
        argv.insert(argv.end(), {"--tasks", (folder / "tasks.jsonl").string(), "--workers", (folder / "workers.json").string(),
                                 "--db", (folder / "crowdline.db").string(), "--port", "0", "overlap=1",
                                 "task.allowed_concurrent=1"});
    } else {
        json runs = json::array();
        for (auto const& r : plans) {
            write_file(folder / (r.name + ".jsonl"), tasks_text(r.tasks));
            write_file(folder / (r.name + "_workers.json"), make_workers(r.annotators, r.name).dump() + "\n");
            runs.push_back({{"name", r.name},
                            {"tasks", r.name + ".jsonl"},
                            {"workers", r.name + "_workers.json"},
                            {"routing", {{"route_by", "lang"}, {"profile_key", "languages"}, {"overlap", 1}}},
                            {"task", {{"allowed_concurrent", 1}}}});
        }
        write_file(folder / "campaign.json", json{{"db", "crowdline.db"}, {"runs", std::move(runs)}}.dump(2) + "\n");
        argv.insert(argv.end(), {"--campaign", (folder / "campaign.json").string(), "--port", "0"});
    }
    argv.insert(argv.end(), {"server.threads=" + std::to_string(p.server_threads), "server.max_connections=4096",
                             "server.max_connections_per_address=4096"});  // every annotator is on 127.0.0.1
    for (auto const& a : p.server_args) argv.push_back(a);
    return argv;
}

void print_server_line(params const& p, std::vector<std::string> const& argv, fs::path const& folder) {
    std::string shown;
    for (std::size_t i = 1; i < argv.size(); ++i) {
        auto const& a = argv[i];
        shown += " " + (a.starts_with(folder.string()) ? fs::path(a).filename().string() : a);
    }
    std::cout << "server: " << p.crowdline << shown << "\n";
}

/// What one phase measured: each run's outcome and data check (in the order of its plans), and the server's side.
struct phase_result {
    std::vector<outcome> runs;
    std::vector<data_check> checks;
    std::optional<double> server_cpu_load;  // the server's CPU seconds during the load
    bool server_cpu_from_exit = false;      // … read from its exit rusage (it had exited)
    double server_cpu_total = 0;            // its whole life
    std::optional<double> server_waiting, client_waiting;  // seconds runnable but not on a CPU, during the load
    bool server_alive_after_load = false;
    std::string server_ended;
    std::vector<std::string> server_stderr;  // beyond its start and [progress] lines
    [[nodiscard]] std::size_t acked() const {
        std::size_t n = 0;
        for (auto const& o : runs) n += o.acked;
        return n;
    }
    [[nodiscard]] double wall() const {  // first request sent → last reply of any run
        double w = 0;
        for (auto const& o : runs) w = std::max(w, o.wall);
        return w;
    }
};

/// Starts `crowdline serve` (argv) in `folder`, runs every annotator of `plans` against it for the time
/// budget (the i-th annotator of each run, then the (i+1)-th …, so no run starts ahead), stops the server
/// (SIGTERM unless it already exited) and reads the SQLite file back, run by run.
phase_result run_phase(params const& p, fs::path const& folder, std::vector<std::string> const& argv,
                       std::vector<run_plan> const& plans) {
    phase_result r;
    fs::path const out_file = folder / "serve.stdout", err_file = folder / "serve.stderr";
    std::size_t annotators = 0, most = 0;
    for (auto const& plan : plans) annotators += plan.annotators, most = std::max(most, plan.annotators);
    server_process server;
    server.start(argv, out_file, err_file);
    std::cout << "starting crowdline serve ..." << std::flush;
    served const s = wait_until_ready(server, out_file, err_file, annotators);
    std::cout << " ready in " << decimals(s.startup_seconds) << " s at " << s.url << " (pid " << server.pid() << ")\n";
    std::vector<annotator_spec> specs;
    std::vector<std::size_t> tasks;
    for (auto const& plan : plans) tasks.push_back(plan.tasks);
    for (std::size_t i = 0; i < most; ++i)
        for (std::size_t g = 0; g < plans.size(); ++g) {
            if (i >= plans[g].annotators) continue;
            auto const name = annotator_name(i, plans[g].name);
            auto it = s.invites.find(name);
            if (it == s.invites.end()) fail("serve printed no invite link for " + name);
            if (!plans[g].name.empty() && (!s.run_of.contains(name) || s.run_of.at(name) != plans[g].name))
                fail("serve printed " + name + "'s invite link for run \"" + (s.run_of.contains(name) ? s.run_of.at(name) : "") +
                     "\", expected \"" + plans[g].name + "\"");
            specs.push_back({name, it->second, plans[g].name, g});
        }

    std::cout << "running the HTTP load ..." << (p.smoke ? "" : "\n") << std::flush;
    std::optional<double> server_cpu_at_start, server_cpu_at_end;
    std::optional<sched_times> server_sched_at_start, server_sched_at_end, client_sched_at_start, client_sched_at_end;
    load_generator gen(p, s, specs, std::move(tasks));
    r.runs = gen.run([&] {
        server_cpu_at_start = server.cpu_now();
        server_sched_at_start = sched_of(server.pid());
        client_sched_at_start = sched_of(0);
    });
    server_cpu_at_end = server.cpu_now();  // before it is stopped
    server_sched_at_end = sched_of(server.pid());
    client_sched_at_end = sched_of(0);
    r.server_alive_after_load = !server.exited();
    server.stop(std::chrono::seconds(30));
    r.server_cpu_total = server.cpu_total();
    if (server_cpu_at_start)
        r.server_cpu_load = (server_cpu_at_end ? *server_cpu_at_end : r.server_cpu_total) - *server_cpu_at_start;
    r.server_cpu_from_exit = !server_cpu_at_end;
    if (server_sched_at_start && server_sched_at_end && client_sched_at_start && client_sched_at_end) {
        r.server_waiting = server_sched_at_end->waiting - server_sched_at_start->waiting;
        r.client_waiting = client_sched_at_end->waiting - client_sched_at_start->waiting;
    }
    r.server_ended = server.how_it_ended();
    r.server_stderr = unusual_stderr(err_file);
    std::cout << (p.smoke ? " " : "  ") << "done: " << count(static_cast<double>(r.acked())) << " submits in "
              << decimals(r.wall()) << " s\n";

    stores::sqlite db{(folder / "crowdline.db").string()};
    for (std::size_t g = 0; g < plans.size(); ++g)
        r.checks.push_back(check_data(db, r.runs[g].acked_units, r.runs[g].in_doubt, plans[g].name));
    return r;
}

/// One run's outcome, "annotators" to "annotators stopped by" (`in`: the indent of the lines).
void print_outcome(outcome const& o, params const& p, std::string const& in) {
    double const rate = o.wall > 0 ? static_cast<double>(o.acked) / o.wall : 0;
    std::cout << in << "annotators              " << count(static_cast<double>(o.annotators)) << " (connected in "
              << decimals(o.connect_seconds) << " s, not timed)\n";
    std::cout << in << "submits acknowledged    " << count(static_cast<double>(o.acked)) << " (and "
              << count(static_cast<double>(o.registers)) << " registers)\n";
    std::cout << in << "wall seconds            " << decimals(o.wall) << " (first request sent → last reply)\n";
    std::cout << in << "submits/s               " << with_commas(rate) << "\n";
    std::cout << in << "submit latency, ms      " << latency_line(o.submit_ms) << "\n";
    std::cout << in << "register latency, ms    " << latency_line(o.register_ms) << "\n";
    for (auto const& [ms, what] : o.slowest) std::cout << in << "  slowest: " << what << "\n";
    if (o.wall > 0 && p.think_ms == 0) {
        double const requests_per_s = static_cast<double>(o.registers + o.acked) / o.wall;
        std::cout << in << "closed loop             every annotator always has one request at the server, so mean latency ≈ "
                           "annotators ÷ requests/s = "
                  << count(static_cast<double>(o.annotators)) << " ÷ " << count(requests_per_s) << " = "
                  << decimals(1e3 * static_cast<double>(o.annotators) / requests_per_s)
                  << " ms: queueing. p99 < 50 ms with " << count(static_cast<double>(o.annotators))
                  << " annotators and no think time needs > " << count(static_cast<double>(o.annotators) / 0.05)
                  << " requests/s (see --think-ms)\n";
    }
    std::cout << in << "errors                  " << o.errors << "\n";
    print_errors(o, in + "  ");
    if (o.end_of_run) {
        std::cout << in << "after the last task     " << o.end_of_run
                  << " register(s) refused with HTTP 503 \"unavailable\" or a closed connection instead of no_work "
                     "run_not_active (serve winds its server down as the run completes); not counted as errors:\n";
        for (auto const& e : o.end_of_run_examples) std::cout << in << "  " << e << "\n";
    }
    std::cout << in << "per second              ";
    for (std::size_t i = 0; i < o.per_second.size(); ++i)
        std::cout << (i ? " " : "") << count(static_cast<double>(o.per_second[i]));
    std::cout << "\n" << in << "annotators stopped by   ";
    {
        bool first = true;
        for (auto const& [why, n] : o.stopped_by) std::cout << (first ? "" : "; ") << why << ": " << n, first = false;
    }
    std::cout << "\n";
}

/// The client's and the server's CPU in a phase, `acked` submits over `wall` seconds, and how the server ended.
void print_server_side(phase_result const& r, double client_cpu, double wall, std::size_t acked, std::string const& in) {
    std::cout << in << "client CPU              " << decimals(client_cpu) << " s = " << decimals(100 * client_cpu / std::max(1e-9, wall))
              << "% of one core; " << decimals(acked ? 1e6 * client_cpu / static_cast<double>(acked) : 0) << " µs per submit cycle\n";
    std::cout << in << "server CPU              ";
    if (r.server_cpu_load)
        std::cout << decimals(*r.server_cpu_load) << " s during the run = " << decimals(100 * *r.server_cpu_load / std::max(1e-9, wall))
                  << "% of one core; " << decimals(acked ? 1e6 * *r.server_cpu_load / static_cast<double>(acked) : 0)
                  << " µs per submit cycle (register + submit)" << (r.server_cpu_from_exit ? " [from its exit rusage]" : "") << "; ";
    std::cout << decimals(r.server_cpu_total) << " s in its whole life\n";
    if (r.server_waiting && r.client_waiting) {
        double const w = std::max(1e-9, wall);
        std::cout << in << "waiting for a CPU       server threads " << decimals(*r.server_waiting) << " s ("
                  << decimals(100 * *r.server_waiting / w) << "% of the run), client " << decimals(*r.client_waiting) << " s ("
                  << decimals(100 * *r.client_waiting / w)
                  << "%): runnable, but the CPU was elsewhere (other processes on this machine)\n";
    }
    if (r.server_cpu_load && *r.server_cpu_load > 0 && acked)
        std::cout << in << "one dedicated core      would give the server ≈ "
                  << count(static_cast<double>(acked) / *r.server_cpu_load)
                  << " submits/s at its measured CPU per submit cycle (a CPU-bound ceiling; disk waits not counted)\n";
    std::cout << in << "server                  " << r.server_ended
              << (r.server_alive_after_load ? "" : "; it had exited before the last annotator stopped") << "\n";
    if (!r.server_stderr.empty()) {
        std::cout << in << "server stderr           " << r.server_stderr.size() << " line(s) beyond the start and [progress] lines:\n";
        for (std::size_t i = 0; i < r.server_stderr.size() && i < 10; ++i) std::cout << in << "  " << r.server_stderr[i] << "\n";
    }
}

double p99_of(outcome const& o) {
    std::vector<double> v = o.submit_ms;
    std::sort(v.begin(), v.end());
    return percentile(v, 0.99);
}
double p50_of(outcome const& o) {
    std::vector<double> v = o.submit_ms;
    std::sort(v.begin(), v.end());
    return percentile(v, 0.50);
}
double rate_of(std::size_t acked, double wall) { return wall > 0 ? static_cast<double>(acked) / wall : 0; }

std::string verdict(bool pass, bool judged) { return !judged ? "n/a " : pass ? "PASS" : "MISS"; }

// --- --runs N: run "a" alone, then every run loaded --------------------------------------------------------

int several_runs(params const& p, fs::path const& dir) {
    std::size_t const n = p.runs;
    std::vector<run_plan> plans;  // split evenly; the first runs take what does not divide
    for (std::size_t r = 0; r < n; ++r)
        plans.push_back({run_name(r), p.annotators / n + (r < p.annotators % n), p.tasks / n + (r < p.tasks % n)});
    run_plan const& a = plans.front();
    std::string names;
    for (auto const& r : plans) names += (names.empty() ? "\"" : ", \"") + r.name + "\"";

    std::cout << "workload: " << n << " task runs (" << names << ") served at once by one `crowdline serve --campaign` "
              << "(one operator, one HTTP server, one SQLite file); " << count(static_cast<double>(p.annotators))
              << " annotators (all read \"en\") split evenly, " << count(static_cast<double>(a.annotators))
              << " in run \"a\": each belongs to one run and names it (data.run) in every packet; "
              << count(static_cast<double>(p.tasks)) << " tasks {\"lang\": \"en\", \"text\": …} split evenly, "
              << count(static_cast<double>(a.tasks)) << " in run \"a\"; overlap=1, task.allowed_concurrent=1 in every run; "
              << "each annotator: register → " << (p.think_ms ? "wait " + std::to_string(p.think_ms) + " ms → " : std::string())
              << "submit → register … until no_work or " << decimals(p.seconds) << " s\n";
    std::cout << "phases: (1) run \"a\" alone, the baseline: a campaign of run \"a\" only, its "
              << count(static_cast<double>(a.annotators)) << " annotators on its " << count(static_cast<double>(a.tasks))
              << " tasks; (2) all " << n << " runs loaded: a fresh folder and server, the campaign of every run, every "
                 "annotator working; (3) the same load as one run: a campaign of one run with every annotator and "
                 "every task. The same time budget each\n";
    std::cout << "client: one asio io_context on one thread in this process, one keep-alive HTTP/1.1 connection per "
                 "annotator (Boost.Beast), all connected before the clock starts\n";
    std::cout << "directory: " << dir.string() << (p.keep ? " (kept)" : " (removed afterwards)") << "\n";

    fs::path const alone_dir = dir / "alone", loaded_dir = dir / "loaded", whole_dir = dir / "whole";
    fs::create_directories(alone_dir);
    fs::create_directories(loaded_dir);
    fs::create_directories(whole_dir);
    std::cout << "\nPhase 1: run \"a\" alone\n";
    std::vector<run_plan> const alone_plans{a};
    auto const alone_argv = prepare_server(p, alone_dir, alone_plans);
    print_server_line(p, alone_argv, alone_dir);
    phase_result const alone = run_phase(p, alone_dir, alone_argv, alone_plans);
    std::cout << "\nPhase 2: all " << n << " runs loaded\n";
    auto const loaded_argv = prepare_server(p, loaded_dir, plans);
    print_server_line(p, loaded_argv, loaded_dir);
    phase_result const loaded = run_phase(p, loaded_dir, loaded_argv, plans);
    std::cout << "\nPhase 3: the same load as one run\n";
    std::vector<run_plan> const whole_plans{{run_name(0), p.annotators, p.tasks}};
    auto const whole_argv = prepare_server(p, whole_dir, whole_plans);
    print_server_line(p, whole_argv, whole_dir);
    phase_result const whole = run_phase(p, whole_dir, whole_argv, whole_plans);

    // --- the report --------------------------------------------------------------------------------------
    outcome const& base = alone.runs.front();
    double const base_rate = rate_of(base.acked, base.wall), base_p99 = p99_of(base), base_p50 = p50_of(base);
    std::optional<double> base_cpu_us;
    if (alone.server_cpu_load && base.acked) base_cpu_us = 1e6 * *alone.server_cpu_load / static_cast<double>(base.acked);
    std::cout << "\nRun \"a\" alone: a campaign of that run only, over loopback\n";
    print_outcome(base, p, "  ");
    print_server_side(alone, base.cpu, base.wall, base.acked, "  ");
    std::cout << "  data check (SQLite file read after the server stopped)\n";
    print_check(alone.checks.front(), "    ");

    std::size_t const all_acked = loaded.acked();
    double const all_wall = loaded.wall(), all_rate = rate_of(all_acked, all_wall);
    std::optional<double> loaded_cpu_us;
    if (loaded.server_cpu_load && all_acked) loaded_cpu_us = 1e6 * *loaded.server_cpu_load / static_cast<double>(all_acked);
    std::cout << "\nAll " << n << " runs loaded: one campaign, one server process\n";
    std::cout << "  submits acknowledged    " << count(static_cast<double>(all_acked)) << " (";
    for (std::size_t g = 0; g < n; ++g)
        std::cout << (g ? ", " : "") << "\"" << plans[g].name << "\" " << count(static_cast<double>(loaded.runs[g].acked));
    std::cout << ")\n";
    std::cout << "  wall seconds            " << decimals(all_wall) << " (first request sent → last reply, every run)\n";
    std::cout << "  submits/s, all runs     " << with_commas(all_rate) << "\n";
    print_server_side(loaded, loaded.runs.front().cpu, all_wall, all_acked, "  ");
    for (std::size_t g = 0; g < n; ++g) {
        outcome const& o = loaded.runs[g];
        std::cout << "  Run \"" << plans[g].name << "\" (" << count(static_cast<double>(plans[g].annotators)) << " annotators, "
                  << count(static_cast<double>(plans[g].tasks)) << " tasks)\n";
        print_outcome(o, p, "    ");
        // One process serves every run, so its CPU cannot be told apart by run: each run is charged its share
        // by submits, total CPU × (its submits ÷ all submits), which per submit is the same for every run.
        std::cout << "    server CPU per submit   ";
        if (loaded.server_cpu_load && o.acked) {
            double const share = *loaded.server_cpu_load * static_cast<double>(o.acked) / static_cast<double>(all_acked);
            std::cout << decimals(1e6 * share / static_cast<double>(o.acked)) << " µs per submit cycle — shared: the server's "
                      << decimals(*loaded.server_cpu_load) << " s CPU during the phase × (this run's "
                      << count(static_cast<double>(o.acked)) << " ÷ all " << count(static_cast<double>(all_acked))
                      << " submits) ÷ this run's submits; one process serves every run, so per-run CPU cannot be separated\n";
        } else {
            std::cout << "—\n";
        }
        std::cout << "    data check (SQLite file read after the server stopped)\n";
        print_check(loaded.checks[g], "      ");
    }

    std::cout << "\nAll " << n << " runs loaded vs run \"a\" alone\n";
    double const rate_ratio = all_rate / base_rate;
    std::cout << "  submits/s               all runs " << with_commas(all_rate) << " vs run \"a\" alone " << with_commas(base_rate)
              << ": ratio " << decimals(rate_ratio) << "\n";
    std::vector<double> p99_ratios;
    for (std::size_t g = 0; g < n; ++g) {
        outcome const& o = loaded.runs[g];
        p99_ratios.push_back(p99_of(o) / base_p99);
        std::cout << "  run \"" << plans[g].name << "\" loaded          submits/s " << with_commas(rate_of(o.acked, o.wall))
                  << "; submit p50 " << decimals(p50_of(o)) << " ms vs " << decimals(base_p50) << " alone; p99 "
                  << decimals(p99_of(o)) << " ms vs " << decimals(base_p99) << " alone: ratio " << decimals(p99_ratios.back()) << "\n";
    }
    std::cout << "  server CPU per submit   loaded " << (loaded_cpu_us ? decimals(*loaded_cpu_us) + " µs" : std::string("—"))
              << " (shared by every run) vs alone " << (base_cpu_us ? decimals(*base_cpu_us) + " µs" : std::string("—"))
              << (loaded_cpu_us && base_cpu_us ? ": ratio " + decimals(*loaded_cpu_us / *base_cpu_us) : std::string()) << "\n";
    if (p.think_ms == 0)
        std::cout << "  closed loop             loaded, " << n << "× the annotators of run \"a\" alone each keep a request at "
                     "the server: if it is saturated in both phases (submits/s ratio ≈ 1), latency ≈ annotators ÷ "
                     "requests/s makes every request wait ≈ "
                  << n << "× as long, so a p99 ratio near " << n
                  << " is queueing for the one server, not one run slowing the other (see --think-ms)\n";
    else
        std::cout << "  think time              each annotator offers about one submit per (think time + its latencies), so "
                     "loaded the annotators offer "
                  << n << "× what run \"a\" alone offers: unless the server is saturated in both phases, the submits/s "
                          "ratio measures that offered load, not the server\n";

    // The same annotators and tasks as one run: what splitting them into runs costs at the same offered load.
    outcome const& one = whole.runs.front();
    double const one_rate = rate_of(one.acked, one.wall), one_p99 = p99_of(one);
    std::optional<double> one_cpu_us;
    if (whole.server_cpu_load && one.acked) one_cpu_us = 1e6 * *whole.server_cpu_load / static_cast<double>(one.acked);
    std::cout << "\nThe same load as one run: a campaign of one run with every annotator and every task\n";
    print_outcome(one, p, "  ");
    print_server_side(whole, one.cpu, one.wall, one.acked, "  ");
    std::cout << "  data check (SQLite file read after the server stopped)\n";
    print_check(whole.checks.front(), "    ");
    std::cout << "\nAll " << n << " runs loaded vs the same load as one run\n";
    double const split_ratio = all_rate / one_rate;
    std::cout << "  submits/s               all runs " << with_commas(all_rate) << " vs one run " << with_commas(one_rate)
              << ": ratio " << decimals(split_ratio) << "\n";
    std::vector<double> split_p99_ratios;
    for (std::size_t g = 0; g < n; ++g) {
        outcome const& o = loaded.runs[g];
        split_p99_ratios.push_back(p99_of(o) / one_p99);
        std::cout << "  run \"" << plans[g].name << "\" loaded          submit p99 " << decimals(p99_of(o)) << " ms vs "
                  << decimals(one_p99) << " as one run: ratio " << decimals(split_p99_ratios.back()) << "\n";
    }
    std::cout << "  server CPU per submit   loaded " << (loaded_cpu_us ? decimals(*loaded_cpu_us) + " µs" : std::string("—"))
              << " vs one run " << (one_cpu_us ? decimals(*one_cpu_us) + " µs" : std::string("—"))
              << (loaded_cpu_us && one_cpu_us ? ": ratio " + decimals(*loaded_cpu_us / *one_cpu_us) : std::string()) << "\n";

    bool data_ok = true;
    std::size_t lost = 0, duplicated = 0, errors = 0;
    for (auto const* ph : {&alone, &loaded, &whole}) {
        for (auto const& c : ph->checks) data_ok = data_ok && c.ok(), lost += c.lost, duplicated += c.duplicated;
        for (auto const& o : ph->runs) errors += o.errors;
    }
    bool const judge_speed = !p.smoke;
    std::string const smoke_note = judge_speed ? "" : "  — not judged in --smoke";
    std::cout << "\nTargets (the issue's, --runs " << n << ": all runs together ≥ " << decimals(target_runs_rate_ratio)
              << "× one run's submits/s alone, each run's p99 loaded ≤ " << decimals(target_runs_p99_ratio)
              << "× run \"a\"'s p99 alone, zero lost or duplicated)\n";
    std::cout << "  [" << verdict(rate_ratio >= target_runs_rate_ratio, judge_speed) << "] "
              << pad("submits/s all runs ÷ \"a\" alone", 34) << " goal ≥ " << pad(decimals(target_runs_rate_ratio), 6, true)
              << "   measured " << decimals(rate_ratio) << smoke_note << "\n";
    for (std::size_t g = 0; g < n; ++g)
        std::cout << "  [" << verdict(p99_ratios[g] <= target_runs_p99_ratio, judge_speed) << "] "
                  << pad("p99 \"" + plans[g].name + "\" loaded ÷ \"a\" alone", 34) << " goal ≤ "
                  << pad(decimals(target_runs_p99_ratio), 6, true) << "   measured " << decimals(p99_ratios[g]) << smoke_note << "\n";
    std::cout << "  [" << verdict(lost + duplicated == 0 && data_ok, true) << "] " << pad("lost or duplicated submits", 34)
              << " goal = " << pad("0", 6, true) << "   measured LOST " << lost << ", DUPLICATED " << duplicated
              << " (every phase, every run)\n";
    std::cout << "Splitting at the same offered load (the runs together ÷ the same annotators and tasks as one run; "
                 "against run \"a\" alone the load doubles, see above)\n";
    std::cout << "  [" << verdict(split_ratio >= target_runs_rate_ratio, judge_speed) << "] "
              << pad("submits/s all runs ÷ one run", 34) << " goal ≥ " << pad(decimals(target_runs_rate_ratio), 6, true)
              << "   measured " << decimals(split_ratio) << smoke_note << "\n";
    for (std::size_t g = 0; g < n; ++g)
        std::cout << "  [" << verdict(split_p99_ratios[g] <= target_runs_p99_ratio, judge_speed) << "] "
                  << pad("p99 \"" + plans[g].name + "\" loaded ÷ one run", 34) << " goal ≤ "
                  << pad(decimals(target_runs_p99_ratio), 6, true) << "   measured " << decimals(split_p99_ratios[g])
                  << smoke_note << "\n";

    if (!data_ok || errors) {
        std::cerr << "\nhttp_load_benchmark: " << (!data_ok ? "the data check failed" : "")
                  << (!data_ok && errors ? "; " : "") << (errors ? "errors during the run" : "") << "\n";
        return 1;
    }
    return 0;
}

std::size_t to_count(std::string const& flag, char const* text, std::size_t max = 100'000'000) {
    char* end = nullptr;
    long long v = std::strtoll(text, &end, 10);
    if (!end || *end || v < 0 || static_cast<unsigned long long>(v) > max) fail(flag + ": not a count: " + text);
    return static_cast<std::size_t>(v);
}

void usage() {
    std::cout << "http_load_benchmark [--crowdline PATH] [--smoke] [--annotators N] [--tasks N] [--seconds S]\n"
                 "                    [--think-ms N] [--timeout S] [--server-threads N] [--server-arg key=value]... [--runs N]\n"
                 "                    [--dir PATH] [--keep]\n"
                 "  --crowdline PATH    the `crowdline` program to start as the server"
#ifdef CROWDLINE_PROGRAM_PATH
                 " (default: the one built with this benchmark)"
#endif
                 "\n"
                 "  --smoke             a small run (50 annotators, 500 tasks, 3 s) that checks the data; speed not judged\n"
                 "  --annotators N      simulated annotators, one keep-alive connection each (default 1,000)\n"
                 "  --tasks N           tasks in tasks.jsonl, overlap 1: one unit each (default 20,000)\n"
                 "  --seconds S         time budget of the HTTP run (default 20); it ends sooner when the tasks run out\n"
                 "  --think-ms N        an annotator's reading time between receiving a unit and submitting it, uniform in\n"
                 "                      [N/2, 3N/2] ms, first registers spread over N ms (default 0: a closed loop,\n"
                 "                      each annotator always has a request at the server)\n"
                 "  --timeout S         longest wait for one reply before it counts as an error (default 30)\n"
                 "  --server-threads N  serve's server.threads (default 2)\n"
                 "  --server-arg K=V    one more setting for `crowdline serve` (repeatable), e.g. status_every_seconds=3600\n"
                 "  --runs N            N task runs (\"a\", \"b\", …; at most 26) served at once by one `crowdline serve\n"
                 "                      --campaign`, annotators and tasks split evenly between them: first run \"a\" alone\n"
                 "                      (a one-run campaign, its share of annotators and tasks), then every run loaded; no\n"
                 "                      in-process baseline (default 1: one run, the short form --tasks/--workers)\n"
                 "  --dir PATH          where the run's folder is made (default: the temp dir); removed afterwards\n"
                 "  --keep              keep the run's folder (tasks, workers, databases, the server's output)\n";
}

}  // namespace

int main(int argc, char** argv) try {
    params p;
#ifdef CROWDLINE_PROGRAM_PATH
    p.crowdline = CROWDLINE_PROGRAM_PATH;
#endif
    std::optional<std::size_t> annotators, tasks, threads;
    std::optional<double> seconds;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto value = [&]() -> char const* {
            if (i + 1 >= argc) fail(a + ": needs a value");
            return argv[++i];
        };
        if (a == "--smoke") p.smoke = true;
        else if (a == "--crowdline") p.crowdline = value();
        else if (a == "--annotators") annotators = to_count(a, value());
        else if (a == "--tasks") tasks = to_count(a, value());
        else if (a == "--seconds") {
            char const* v = value();
            char* end = nullptr;
            seconds = std::strtod(v, &end);
            if (!end || *end || !(*seconds > 0)) fail(a + ": not a positive number of seconds: " + v);
        } else if (a == "--think-ms") p.think_ms = to_count(a, value(), 600'000);
        else if (a == "--timeout") p.timeout_seconds = std::max<std::size_t>(1, to_count(a, value(), 3600));
        else if (a == "--server-threads") threads = to_count(a, value(), 64);
        else if (a == "--server-arg") p.server_args.push_back(value());
        else if (a == "--dir") p.dir = fs::path(value());
        else if (a == "--keep") p.keep = true;
        else if (a == "--runs") p.runs = to_count(a, value());
        else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            usage();
            fail("unknown argument " + a);
        }
    }
    if (p.smoke) {
        p.annotators = 50;
        p.tasks = 500;
        p.seconds = 3;
    }
    if (annotators) p.annotators = *annotators;
    if (tasks) p.tasks = *tasks;
    if (seconds) p.seconds = *seconds;
    if (threads) p.server_threads = *threads;
    if (p.crowdline.empty()) fail("--crowdline PATH is required (the `crowdline` program to serve)");
    if (!fs::exists(p.crowdline)) fail("--crowdline: " + p.crowdline + ": no such file");
    if (p.annotators < 1 || p.tasks < 1) fail("--annotators and --tasks must be at least 1");
    if (p.runs < 1 || p.runs > max_runs) fail("--runs: from 1 to " + std::to_string(max_runs) + " (runs \"a\" … \"z\")");
    if (p.annotators < p.runs || p.tasks < p.runs)
        fail("--runs " + std::to_string(p.runs) + ": every run needs an annotator and a task (--annotators " +
             std::to_string(p.annotators) + ", --tasks " + std::to_string(p.tasks) + ")");

    // One descriptor per connection on each side, inherited by the server.
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    rlim_t const need = p.annotators + 256;
    if (lim.rlim_cur < need) {
        lim.rlim_cur = std::min(lim.rlim_max, std::max<rlim_t>(need, 4096));
        ::setrlimit(RLIMIT_NOFILE, &lim);
        ::getrlimit(RLIMIT_NOFILE, &lim);
        if (lim.rlim_cur < need)
            fail(std::to_string(p.annotators) + " annotators need " + std::to_string(need) + " open files; the limit is " +
                 std::to_string(lim.rlim_cur) + " (ulimit -n)");
    }

    fs::path const parent = p.dir ? *p.dir : fs::temp_directory_path();
    fs::path const dir = parent / ("crowdline-bench_http_load-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    struct remove_dir {
        fs::path d;
        bool keep;
        ~remove_dir() {
            std::error_code ec;
            if (!keep) fs::remove_all(d, ec);
        }
    } dir_guard{dir, p.keep};

    std::cout << "crowdline http_load benchmark"
              << (p.smoke && p.runs > 1 ? " (--smoke --runs " + std::to_string(p.runs) + ")"
                  : p.smoke            ? std::string(" (--smoke)")
                  : p.runs > 1         ? " (--runs " + std::to_string(p.runs) + ")"
                                       : std::string())
              << "\n";
#ifdef NDEBUG
    std::cout << "build: optimised (NDEBUG defined)\n";
#else
    std::cout << "build: *** NOT AN OPTIMISED BUILD (NDEBUG undefined): these figures say nothing about release "
                 "speed; configure with -DCMAKE_BUILD_TYPE=Release ***\n";
#endif
    {
        std::string load = read_text("/proc/loadavg");
        if (!load.empty() && load.back() == '\n') load.pop_back();
        std::cout << "compiler: " << __VERSION__ << "; SQLite " << sqlite3_libversion() << "; "
                  << std::thread::hardware_concurrency() << " hardware threads; load average " << load << "\n";
    }
    if (p.runs > 1) return several_runs(p, dir);

    std::cout << "workload: " << count(static_cast<double>(p.annotators)) << " annotators (all read \"en\"), "
              << count(static_cast<double>(p.tasks)) << " tasks {\"lang\": \"en\", \"text\": …}, overlap=1 (one unit per "
              << "task), task.allowed_concurrent=1; each annotator: register → "
              << (p.think_ms ? "wait " + std::to_string(p.think_ms) + " ms → " : std::string()) << "submit → register … until no_work or "
              << decimals(p.seconds) << " s\n";

    // --- the files, the server, the HTTP run ---------------------------------------------------------------
    std::vector<run_plan> const plans{{"", p.annotators, p.tasks}};  // the short form: --tasks/--workers
    auto const argv_serve = prepare_server(p, dir, plans);
    print_server_line(p, argv_serve, dir);
    std::cout << "client: one asio io_context on one thread in this process, one keep-alive HTTP/1.1 connection per "
                 "annotator (Boost.Beast), all connected before the clock starts\n";
    std::cout << "directory: " << dir.string() << (p.keep ? " (kept)" : " (removed afterwards)") << "\n\n";
    phase_result const phase = run_phase(p, dir, argv_serve, plans);
    outcome const& http = phase.runs.front();
    data_check const& http_check = phase.checks.front();

    // --- the in-process baseline -------------------------------------------------------------------------
    std::optional<baseline_outcome> base;
    data_check base_check;
    if (http.acked > 0) {
        std::cout << "running the in-process baseline (" << count(static_cast<double>(http.acked)) << " submits) ..." << std::flush;
        base = run_in_process(make_tasks(p.tasks), p.annotators, dir / "baseline.db", http.acked);
        {
            stores::sqlite db{(dir / "baseline.db").string()};
            base_check = check_data(db, base->run.acked_units, base->run.in_doubt);
        }
        std::cout << " done: " << count(static_cast<double>(base->run.acked)) << " submits in " << decimals(base->run.wall) << " s\n";
    }

    // --- the report --------------------------------------------------------------------------------------
    double const http_rate = http.wall > 0 ? static_cast<double>(http.acked) / http.wall : 0;
    std::vector<double> sorted_submit = http.submit_ms;
    std::sort(sorted_submit.begin(), sorted_submit.end());
    double const p99 = percentile(sorted_submit, 0.99);

    std::cout << "\nHTTP: crowdline serve over loopback\n";
    print_outcome(http, p, "  ");
    print_server_side(phase, http.cpu, http.wall, http.acked, "  ");
    std::cout << "  data check (SQLite file read after the server stopped)\n";
    print_check(http_check, "    ");

    double ratio = std::nan("");
    if (base) {
        double const base_rate = base->run.wall > 0 ? static_cast<double>(base->run.acked) / base->run.wall : 0;
        ratio = http_rate / base_rate;
        std::cout << "\nBaseline: the same pipeline in process (architects::in_process, no HTTP), same annotators, tasks "
                     "and store, in waves (all register, then all submit)\n";
        std::cout << "  submits acknowledged    " << count(static_cast<double>(base->run.acked)) << " (launch() of "
                  << count(static_cast<double>(p.tasks)) << " tasks took " << decimals(base->launch_seconds) << " s, not timed)\n";
        std::cout << "  wall seconds            " << decimals(base->run.wall) << "\n";
        std::cout << "  submits/s               " << with_commas(base_rate) << "\n";
        std::cout << "  CPU per submit cycle    " << decimals(base->m.cpu_us_per(static_cast<double>(base->run.acked)))
                  << " µs; SQLite writes/submit " << decimals(base->m.writes_per(static_cast<double>(base->run.acked)))
                  << ", syncs/submit " << decimals(base->m.syncs_per(static_cast<double>(base->run.acked))) << "\n";
        std::cout << "  one dedicated core      ≈ " << count(1e6 / base->m.cpu_us_per(static_cast<double>(base->run.acked)))
                  << " submits/s at that CPU per submit cycle\n";
        std::cout << "  register call, µs       " << latency_line(base->register_call_us) << "\n";
        std::cout << "  submit call, µs         " << latency_line(base->submit_call_us) << "\n";
        std::cout << "  errors                  " << base->run.errors << "\n";
        print_errors(base->run, "    ");
        std::cout << "  data check\n";
        print_check(base_check, "    ");
        std::cout << "\nRatio HTTP / in-process, submits/s: " << decimals(ratio) << " (" << with_commas(http_rate) << " vs "
                  << with_commas(base_rate) << ")\n";
    } else {
        std::cout << "\nBaseline: not run (the HTTP run acknowledged nothing)\n";
    }

    bool const data_ok = http_check.ok() && (!base || base_check.ok());
    std::size_t const lost_dup = http_check.lost + http_check.duplicated;
    std::cout << "\nTargets (the issue's: ≥ 5,000 acknowledged durable submits/s, p99 < 50 ms, zero lost or duplicated)\n";
    bool const judge_speed = !p.smoke;
    std::cout << "  [" << verdict(http_rate >= target_rate, judge_speed) << "] "
              << pad("acknowledged durable submits/s", 34) << " goal ≥ " << pad(with_commas(target_rate), 6, true)
              << "   measured " << with_commas(http_rate) << (judge_speed ? "" : "  — not judged in --smoke") << "\n";
    std::cout << "  [" << verdict(p99 < target_p99_ms, judge_speed) << "] " << pad("p99 submit latency, ms", 34) << " goal < "
              << pad(decimals(target_p99_ms), 6, true) << "   measured " << decimals(p99)
              << (judge_speed ? "" : "  — not judged in --smoke") << "\n";
    std::cout << "  [" << verdict(lost_dup == 0 && data_ok, true) << "] " << pad("lost or duplicated submits", 34)
              << " goal = " << pad("0", 6, true) << "   measured LOST " << http_check.lost << ", DUPLICATED "
              << http_check.duplicated << "\n";

    bool const clean = http.errors == 0 && (!base || base->run.errors == 0);
    if (!data_ok || !clean) {
        std::cerr << "\nhttp_load_benchmark: " << (!data_ok ? "the data check failed" : "")
                  << (!data_ok && !clean ? "; " : "") << (!clean ? "errors during the run" : "") << "\n";
        return 1;
    }
    return 0;
} catch (std::exception const& e) {
    std::cerr << "\nhttp_load_benchmark: " << e.what() << "\n";
    return 1;
}
