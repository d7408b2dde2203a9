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
// until `no_work` (reason no_available_units or run_not_active: every task done, and `serve` exits by itself
// once the run is complete) or the time budget (--seconds, default 20; an annotator holding a unit when it
// runs out stops without submitting). With --think-ms an annotator reads for a while (uniform in [½, 1½] ×
// the value) before each submit; without it (the default) the loop is closed: every annotator always has a
// request at the server, so latency is mostly queueing (≈ annotators ÷ requests/s, printed). A submit's
// latency is send → reply, as the annotator sees it (client queueing included: the client's CPU use, and
// how long both sides waited for a CPU other processes had, are printed). Every other reply — an error
// packet, a status other than 200, a transport failure or a timeout (--timeout, default 30 s) — is an
// error: counted, the first 5 printed, and that annotator stops. One exception, counted and shown apart:
// once every task has been acknowledged, `serve` winds its server down, so registers still arriving get
// HTTP 503 "unavailable" (or a closed connection as it exits) instead of no_work run_not_active; a server
// that is down acknowledges nothing, so when every task ended up acknowledged these can only have come
// after the last submit.
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
};

/// 1,234 for counts (with_commas shows one decimal below 100).
std::string count(double n) { return n < 100 ? std::to_string(static_cast<long long>(n)) : with_commas(n); }

// --- the workload's files ----------------------------------------------------------------------------------

std::string annotator_name(std::size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "annotator-%04zu", i + 1);
    return buf;
}

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

json make_workers(std::size_t n) {
    json list = json::array();
    for (std::size_t i = 0; i < n; ++i) list.push_back({{"name", annotator_name(i)}, {"languages", {"en"}}});
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
    std::map<std::string, std::string> invites;  // name → token
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
                if (line.starts_with("Serving task run ")) {
                    auto at = line.find(" at ");
                    if (at != std::string::npos) s.url = line.substr(at + 4);
                } else if (auto inv = line.find("/?invite="); inv != std::string::npos) {
                    auto first = line.find_first_not_of(' ');
                    auto name = line.substr(first, line.find(' ', first) - first);
                    s.invites[name] = line.substr(inv + 9);
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

/// What one run of annotators did.
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
    double wall = 0;   // first request sent → last reply
    double cpu = 0;    // this process's CPU during the run
};

class load_generator {
public:
    load_generator(params const& p, served const& s, std::vector<std::string> invites)
        : p_(p), timeout_(std::chrono::seconds(p.timeout_seconds)), progress_timer_(io_), guard_timer_(io_) {
        endpoint_ = tcp::endpoint(asio::ip::make_address(s.host), s.port);
        host_ = s.host + ":" + std::to_string(s.port);
        for (std::size_t i = 0; i < invites.size(); ++i) {
            auto a = std::make_unique<annotator>(io_);
            a->index = i;
            a->register_body = R"({"data":{"invite":")" + invites[i] + R"("}})";
            a->req.version(11);
            a->req.method(bhttp::verb::post);
            a->req.set(bhttp::field::host, host_);
            a->req.set(bhttp::field::content_type, "application/json");
            a->req.keep_alive(true);
            annotators_.push_back(std::move(a));
        }
        out_.annotators = annotators_.size();
        out_.submit_ms.reserve(p.tasks);
        out_.register_ms.reserve(p.tasks + annotators_.size());
        out_.acked_units.reserve(p.tasks);
    }

    /// Connects every annotator, then runs the workload on this thread until every annotator stopped.
    outcome run(std::function<void()> on_start) {
        on_start_ = std::move(on_start);
        connect_started_ = bench_clock::now();
        pending_connects_ = annotators_.size();
        for (auto& a : annotators_) connect(*a);
        double const c0 = cpu_seconds();
        io_.run();
        out_.cpu = cpu_seconds() - c0;
        return std::move(out_);
    }

private:
    struct annotator {
        explicit annotator(asio::io_context& io) : stream(io), think(io) {}
        std::size_t index = 0;
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

    void start() {
        out_.connect_seconds = seconds_since(connect_started_);
        if (on_start_) on_start_();
        t0_ = last_reply_ = bench_clock::now();
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
            out_.per_second.push_back(out_.acked - acked_at_last_tick_);
            acked_at_last_tick_ = out_.acked;
            if (!p_.smoke)
                std::cerr << "  [" << out_.per_second.size() << " s] " << count(static_cast<double>(out_.acked))
                          << " submits acknowledged, " << count(static_cast<double>(out_.per_second.back()))
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
        return R"({"agent":)" + std::to_string(a.agent) + R"(,"data":{"token":")" + a.token +
               R"(","submission":{"sentiment":"positive"}}})";
    }

    void on_reply(annotator& a, beast::error_code ec) {
        if (a.stopped) return;  // cut off by the guard timer
        try {
            handle_reply(a, ec);
        } catch (std::exception const& e) {  // a reply of an unexpected shape
            if (a.submitting) out_.in_doubt.insert(a.unit);
            fail_annotator(a, std::string(a.submitting ? "submit" : "register") + ": unexpected reply (" + e.what() +
                                  "): " + a.res.body().substr(0, 300));
        }
    }

    void handle_reply(annotator& a, beast::error_code ec) {
        auto const now = bench_clock::now();
        double const ms = 1e3 * std::chrono::duration<double>(now - a.sent).count();
        if (ec) return transport_failure(a, "read", ec);
        last_reply_ = now;
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
            out_.register_ms.push_back(ms);
            ++out_.registers;
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
                unavailable_.push_back(annotator_name(a.index) + " at " + decimals(seconds_since(t0_)) + " s: " + describe());
                return stop(a, "register → HTTP 503 unavailable");
            }
            return fail_annotator(a, describe());
        }
        if (status == 200 && type == "submitted") {
            auto const& d = j["data"];
            std::int64_t const acked_unit = d.is_object() && d.contains("unit_id") ? d["unit_id"].get<std::int64_t>() : -1;
            ++out_.acked;
            out_.submit_ms.push_back(ms);
            out_.acked_units.push_back(acked_unit);
            if (acked_unit != a.unit) return fail_annotator(a, describe() + " (for unit " + std::to_string(a.unit) + ")");
            a.submitting = false;
            if (now >= deadline_) return stop(a, "time budget");
            return send(a, "/api/register", a.register_body);
        }
        out_.in_doubt.insert(a.unit);  // refused, or something failed after the commit: either way, no ack
        return fail_annotator(a, describe());
    }

    /// Keeps the slowest replies (what, when sent, how long) to show where a tail comes from.
    void note_slow(annotator const& a, double ms, unsigned status) {
        auto& slow = out_.slowest;
        if (slow.size() == slowest_kept && ms <= slow.back().first) return;
        std::string what = annotator_name(a.index) + (a.submitting ? " submit" : " register") + " sent at " +
                           decimals(std::chrono::duration<double>(a.sent - t0_).count()) + " s: " + decimals(ms) +
                           " ms, HTTP " + std::to_string(status) + (a.cycles == 0 ? " (its first request)" : "");
        slow.emplace_back(ms, std::move(what));
        std::sort(slow.begin(), slow.end(), [](auto const& x, auto const& y) { return x.first > y.first; });
        if (slow.size() > slowest_kept) slow.pop_back();
    }

    void transport_failure(annotator& a, char const* what, beast::error_code ec) {
        if (!a.submitting && out_.acked == p_.tasks && ec != beast::error::timeout) {
            // Every task is done, so `serve` is exiting: a register cut off now is the end of the run.
            if (out_.end_of_run_examples.size() < errors_shown)
                out_.end_of_run_examples.push_back(annotator_name(a.index) + " at " + decimals(seconds_since(t0_)) +
                                                   " s: register: " + what + ": " + ec.message());
            ++out_.end_of_run;
            return stop(a, "register: connection closed after the last task (" + ec.message() + ")");
        }
        if (a.submitting) out_.in_doubt.insert(a.unit);  // it may have been committed
        fail_annotator(a, std::string(a.submitting ? "submit" : "register") + ": " + what + ": " + ec.message() +
                              (ec == beast::error::timeout ? " (no reply within " + std::to_string(p_.timeout_seconds) + " s)" : ""));
    }

    void fail_annotator(annotator& a, std::string const& what) {
        ++out_.errors;
        if (out_.first_errors.size() < errors_shown)
            out_.first_errors.push_back(annotator_name(a.index) + " at " + decimals(seconds_since(t0_)) + " s: " + what);
        stop(a, "error");
    }

    void stop(annotator& a, std::string const& why) {
        if (a.stopped) return;
        a.stopped = true;
        ++out_.stopped_by[why];
        beast::error_code ignored;
        a.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        a.stream.close();
        if (active_ > 0 && --active_ == 0) finish();
    }
    /// An annotator that could not connect: an error, and it never starts.
    void drop(annotator& a, std::string const& what) {
        ++out_.errors;
        if (out_.first_errors.size() < errors_shown) out_.first_errors.push_back(annotator_name(a.index) + ": " + what);
        a.stopped = true;
        ++out_.stopped_by["error"];
    }

    void finish() {
        for (auto& u : unavailable_) {
            if (out_.acked == p_.tasks) {
                ++out_.end_of_run;
                if (out_.end_of_run_examples.size() < errors_shown) out_.end_of_run_examples.push_back(std::move(u));
            } else {
                ++out_.errors;
                if (out_.first_errors.size() < errors_shown) out_.first_errors.push_back(std::move(u));
            }
        }
        out_.wall = std::chrono::duration<double>(last_reply_ - t0_).count();
        if (out_.acked > acked_at_last_tick_) out_.per_second.push_back(out_.acked - acked_at_last_tick_);
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
    std::function<void()> on_start_;
    std::mt19937_64 rng_{20240601};
    std::vector<std::string> unavailable_;  // 503 "unavailable" replies to registers, judged in finish()
    std::size_t pending_connects_ = 0;
    std::size_t active_ = 0;
    std::size_t acked_at_last_tick_ = 0;
    bench_clock::time_point connect_started_, t0_, last_reply_, deadline_;
    outcome out_;
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

data_check check_data(stores::sqlite& db, std::vector<std::int64_t> const& acked, std::set<std::int64_t> const& in_doubt) {
    data_check c;
    auto problem = [&](std::string what) {
        if (c.problems.size() < errors_shown) c.problems.push_back(std::move(what));
    };
    std::optional<task_run_id> run;
    for (auto const& t : db.find_tasks({}))
        for (auto const& r : db.find_task_runs({.task = t.id}))
            if (!run || r.id.value() > run->value()) run = r.id;
    if (!run) fail("the database holds no task run");
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

std::size_t to_count(std::string const& flag, char const* text, std::size_t max = 100'000'000) {
    char* end = nullptr;
    long long v = std::strtoll(text, &end, 10);
    if (!end || *end || v < 0 || static_cast<unsigned long long>(v) > max) fail(flag + ": not a count: " + text);
    return static_cast<std::size_t>(v);
}

void usage() {
    std::cout << "http_load_benchmark [--crowdline PATH] [--smoke] [--annotators N] [--tasks N] [--seconds S]\n"
                 "                    [--think-ms N] [--timeout S] [--server-threads N] [--server-arg key=value]... [--dir PATH] [--keep]\n"
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

    std::cout << "crowdline http_load benchmark" << (p.smoke ? " (--smoke)" : "") << "\n";
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
    std::cout << "workload: " << count(static_cast<double>(p.annotators)) << " annotators (all read \"en\"), "
              << count(static_cast<double>(p.tasks)) << " tasks {\"lang\": \"en\", \"text\": …}, overlap=1 (one unit per "
              << "task), task.allowed_concurrent=1; each annotator: register → "
              << (p.think_ms ? "wait " + std::to_string(p.think_ms) + " ms → " : std::string()) << "submit → register … until no_work or "
              << decimals(p.seconds) << " s\n";

    // --- the files, the server ---------------------------------------------------------------------------
    auto const task_list = make_tasks(p.tasks);
    {
        std::string text;
        for (auto const& t : task_list) text += t.dump() + "\n";
        write_file(dir / "tasks.jsonl", text);
        write_file(dir / "workers.json", make_workers(p.annotators).dump() + "\n");
    }
    std::vector<std::string> argv_serve{p.crowdline,
                                        "serve",
                                        "--tasks",
                                        (dir / "tasks.jsonl").string(),
                                        "--workers",
                                        (dir / "workers.json").string(),
                                        "--db",
                                        (dir / "crowdline.db").string(),
                                        "--port",
                                        "0",
                                        "overlap=1",
                                        "task.allowed_concurrent=1",
                                        "server.threads=" + std::to_string(p.server_threads),
                                        "server.max_connections=4096",
                                        "server.max_connections_per_address=4096"};  // every annotator is on 127.0.0.1
    for (auto const& a : p.server_args) argv_serve.push_back(a);
    {
        std::string shown;
        for (std::size_t i = 1; i < argv_serve.size(); ++i) {
            auto const& a = argv_serve[i];
            shown += " " + (a.starts_with(dir.string()) ? fs::path(a).filename().string() : a);
        }
        std::cout << "server: " << p.crowdline << shown << "\n";
    }
    std::cout << "client: one asio io_context on one thread in this process, one keep-alive HTTP/1.1 connection per "
                 "annotator (Boost.Beast), all connected before the clock starts\n";
    std::cout << "directory: " << dir.string() << (p.keep ? " (kept)" : " (removed afterwards)") << "\n\n";

    fs::path const out_file = dir / "serve.stdout", err_file = dir / "serve.stderr";
    server_process server;
    server.start(argv_serve, out_file, err_file);
    std::cout << "starting crowdline serve ..." << std::flush;
    served const s = wait_until_ready(server, out_file, err_file, p.annotators);
    std::cout << " ready in " << decimals(s.startup_seconds) << " s at " << s.url << " (pid " << server.pid() << ")\n";
    std::vector<std::string> invites;
    for (std::size_t i = 0; i < p.annotators; ++i) {
        auto it = s.invites.find(annotator_name(i));
        if (it == s.invites.end()) fail("serve printed no invite link for " + annotator_name(i));
        invites.push_back(it->second);
    }

    // --- the HTTP run ------------------------------------------------------------------------------------
    std::cout << "running the HTTP load ..." << (p.smoke ? "" : "\n") << std::flush;
    std::optional<double> server_cpu_at_start, server_cpu_at_end;
    std::optional<sched_times> server_sched_at_start, server_sched_at_end, client_sched_at_start, client_sched_at_end;
    load_generator gen(p, s, invites);
    outcome http = gen.run([&] {
        server_cpu_at_start = server.cpu_now();
        server_sched_at_start = sched_of(server.pid());
        client_sched_at_start = sched_of(0);
    });
    server_cpu_at_end = server.cpu_now();  // before it exits on its own (it polls every 250 ms)
    server_sched_at_end = sched_of(server.pid());
    client_sched_at_end = sched_of(0);
    bool const server_alive_after_load = !server.exited();
    server.stop(std::chrono::seconds(30));
    double const server_cpu_total = server.cpu_total();
    std::optional<double> server_cpu_load;
    if (server_cpu_at_start)
        server_cpu_load = (server_cpu_at_end ? *server_cpu_at_end : server_cpu_total) - *server_cpu_at_start;
    std::cout << (p.smoke ? " " : "  ") << "done: " << count(static_cast<double>(http.acked)) << " submits in "
              << decimals(http.wall) << " s\n";

    data_check http_check;
    {
        stores::sqlite db{(dir / "crowdline.db").string()};
        http_check = check_data(db, http.acked_units, http.in_doubt);
    }

    // --- the in-process baseline -------------------------------------------------------------------------
    std::optional<baseline_outcome> base;
    data_check base_check;
    if (http.acked > 0) {
        std::cout << "running the in-process baseline (" << count(static_cast<double>(http.acked)) << " submits) ..." << std::flush;
        base = run_in_process(task_list, p.annotators, dir / "baseline.db", http.acked);
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
    std::cout << "  annotators              " << count(static_cast<double>(http.annotators)) << " (connected in "
              << decimals(http.connect_seconds) << " s, not timed)\n";
    std::cout << "  submits acknowledged    " << count(static_cast<double>(http.acked)) << " (and "
              << count(static_cast<double>(http.registers)) << " registers)\n";
    std::cout << "  wall seconds            " << decimals(http.wall) << " (first request sent → last reply)\n";
    std::cout << "  submits/s               " << with_commas(http_rate) << "\n";
    std::cout << "  submit latency, ms      " << latency_line(http.submit_ms) << "\n";
    std::cout << "  register latency, ms    " << latency_line(http.register_ms) << "\n";
    for (auto const& [ms, what] : http.slowest) std::cout << "    slowest: " << what << "\n";
    if (http.wall > 0 && p.think_ms == 0) {
        double const requests_per_s = static_cast<double>(http.registers + http.acked) / http.wall;
        std::cout << "  closed loop             every annotator always has one request at the server, so mean latency ≈ "
                     "annotators ÷ requests/s = "
                  << count(static_cast<double>(http.annotators)) << " ÷ " << count(requests_per_s) << " = "
                  << decimals(1e3 * static_cast<double>(http.annotators) / requests_per_s)
                  << " ms: queueing. p99 < 50 ms with " << count(static_cast<double>(http.annotators))
                  << " annotators and no think time needs > " << count(static_cast<double>(http.annotators) / 0.05)
                  << " requests/s (see --think-ms)\n";
    }
    std::cout << "  errors                  " << http.errors << "\n";
    print_errors(http, "    ");
    if (http.end_of_run) {
        std::cout << "  after the last task     " << http.end_of_run
                  << " register(s) refused with HTTP 503 \"unavailable\" or a closed connection instead of no_work "
                     "run_not_active (serve winds its server down as the run completes); not counted as errors:\n";
        for (auto const& e : http.end_of_run_examples) std::cout << "    " << e << "\n";
    }
    std::cout << "  per second              ";
    for (std::size_t i = 0; i < http.per_second.size(); ++i)
        std::cout << (i ? " " : "") << count(static_cast<double>(http.per_second[i]));
    std::cout << "\n  annotators stopped by   ";
    {
        bool first = true;
        for (auto const& [why, n] : http.stopped_by) std::cout << (first ? "" : "; ") << why << ": " << n, first = false;
    }
    std::cout << "\n  client CPU              " << decimals(http.cpu) << " s = " << decimals(100 * http.cpu / std::max(1e-9, http.wall))
              << "% of one core; " << decimals(http.acked ? 1e6 * http.cpu / static_cast<double>(http.acked) : 0) << " µs per submit cycle\n";
    std::cout << "  server CPU              ";
    if (server_cpu_load)
        std::cout << decimals(*server_cpu_load) << " s during the run = " << decimals(100 * *server_cpu_load / std::max(1e-9, http.wall))
                  << "% of one core; " << decimals(http.acked ? 1e6 * *server_cpu_load / static_cast<double>(http.acked) : 0)
                  << " µs per submit cycle (register + submit)" << (server_cpu_at_end ? "" : " [from its exit rusage]") << "; ";
    std::cout << decimals(server_cpu_total) << " s in its whole life\n";
    if (server_sched_at_start && server_sched_at_end && client_sched_at_start && client_sched_at_end) {
        double const w = std::max(1e-9, http.wall);
        std::cout << "  waiting for a CPU       server threads " << decimals(server_sched_at_end->waiting - server_sched_at_start->waiting)
                  << " s (" << decimals(100 * (server_sched_at_end->waiting - server_sched_at_start->waiting) / w)
                  << "% of the run), client " << decimals(client_sched_at_end->waiting - client_sched_at_start->waiting) << " s ("
                  << decimals(100 * (client_sched_at_end->waiting - client_sched_at_start->waiting) / w)
                  << "%): runnable, but the CPU was elsewhere (other processes on this machine)\n";
    }
    if (server_cpu_load && *server_cpu_load > 0 && http.acked)
        std::cout << "  one dedicated core      would give the server ≈ "
                  << count(static_cast<double>(http.acked) / *server_cpu_load)
                  << " submits/s at its measured CPU per submit cycle (a CPU-bound ceiling; disk waits not counted)\n";
    std::cout << "  server                  " << server.how_it_ended()
              << (server_alive_after_load ? "" : "; it had exited before the last annotator stopped") << "\n";
    auto const extra = unusual_stderr(err_file);
    if (!extra.empty()) {
        std::cout << "  server stderr           " << extra.size() << " line(s) beyond the start and [progress] lines:\n";
        for (std::size_t i = 0; i < extra.size() && i < 10; ++i) std::cout << "    " << extra[i] << "\n";
    }
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
    auto verdict = [&](bool pass, bool judged) { return !judged ? std::string("n/a ") : pass ? std::string("PASS") : std::string("MISS"); };
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
