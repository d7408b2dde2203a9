// campaign_scale: `crowdline serve` with T tasks (one JSON line each, as `benchmarks/http_load` writes them,
// ~61 bytes a line) and overlap 1 — how long until it is ready (its invite links printed: it answers
// workers from then on), how long until every unit is launched (it launches a little per tick after it
// is ready; its progress line, printed every second, counts the units launched), and the most memory it
// held over all of it (peak RSS, /proc/<pid>/status VmHWM, read once every unit is launched), next to the
// tasks file's own size, at 100,000 and 1,000,000 tasks (--tasks N[,N…]).
//
// Baselines, in the same run: the tasks file's size (peak RSS ÷ file size: how many times the file the
// server holds), and the smaller run (bytes per task at each size: memory that grows with the tasks
// launched keeps that figure flat). Targets (issue 14) at 1,000,000 tasks: ready ≤ 10 s, peak RSS ≤ 400 MB;
// printed PASS/MISS, never asserted. --smoke: 20,000 tasks, checks the program gets ready (exit 1 if not).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void fail(std::string const& why) {
    std::cerr << "campaign_scale: " << why << "\n";
    std::exit(1);
}

std::string read_text(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string with_commas(std::uint64_t n) {
    auto s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

/// A field of /proc/<pid>/status in kB ("VmHWM", "VmRSS"); nothing when the process is gone.
std::optional<std::uint64_t> status_kb(pid_t pid, std::string const& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1));
    return std::nullopt;
}

/// The tasks file: `{"lang": "en", "text": "…"}` per line, texts of varied length, as http_load's.
std::uint64_t write_tasks(fs::path const& file, std::size_t n) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    static constexpr char const* words[] = {"river", "lamp", "quiet", "market", "orange", "seven", "window", "cloud"};
    for (std::size_t i = 0; i < n; ++i) {
        out << R"({"lang": "en", "text": "Task )" << i;
        for (std::size_t w = 0; w < 3 + i % 4; ++w) out << ' ' << words[(i + w) % 8];
        out << "\"}\n";
    }
    out.close();
    return fs::file_size(file);
}

struct measured {
    std::size_t tasks = 0;
    std::uint64_t file_bytes = 0;
    double ready_seconds = 0;
    double launched_seconds = 0;
    std::uint64_t peak_kb = 0;
    std::uint64_t ready_rss_kb = 0;
};

measured run_once(fs::path const& program, fs::path const& dir, std::size_t tasks) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    measured m;
    m.tasks = tasks;
    m.file_bytes = write_tasks(dir / "tasks.jsonl", tasks);
    std::ofstream(dir / "workers.json") << R"([{"name": "ann", "languages": ["en"]}, {"name": "bo", "languages": ["en"]}])";
    auto const out_path = dir / "serve.out", err_path = dir / "serve.err";
    std::vector<std::string> args{program.string(), "serve", "--tasks", "tasks.jsonl", "--workers", "workers.json",
                                  "--db", "scale.db", "--port", "0", "overlap=1", "status_every_seconds=1"};
    auto const t0 = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
        if (::chdir(dir.c_str()) != 0) ::_exit(126);
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) ::_exit(126);
        ::dup2(out, 1);
        ::dup2(err, 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    for (;;) {
        if (read_text(out_path).find("Stop with Ctrl-C") != std::string::npos) break;
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid)
            fail("crowdline serve ended before it was ready; its stderr:\n" + read_text(err_path));
        if (std::chrono::steady_clock::now() - t0 > 600s) {
            ::kill(pid, SIGKILL);
            fail("crowdline serve was not ready after 600 s");
        }
        std::this_thread::sleep_for(5ms);
    }
    m.ready_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.ready_rss_kb = status_kb(pid, "VmRSS").value_or(0);
    // Every unit launched: the last progress line ("[progress] 0/N units done, …") counts N of them.
    auto const all = "/" + std::to_string(tasks) + " units done";
    for (;;) {
        auto const err = read_text(err_path);
        if (err.find(all) != std::string::npos) break;
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid) fail("crowdline serve ended while launching; its stderr:\n" + err);
        if (std::chrono::steady_clock::now() - t0 > 900s) {
            ::kill(pid, SIGKILL);
            fail("crowdline serve had not launched every unit after 900 s");
        }
        std::this_thread::sleep_for(20ms);
    }
    m.launched_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.peak_kb = status_kb(pid, "VmHWM").value_or(0);
    ::kill(pid, SIGTERM);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    fs::path program;
#ifdef CROWDLINE_PROGRAM_PATH
    program = CROWDLINE_PROGRAM_PATH;
#endif
    fs::path dir = fs::temp_directory_path() / ("crowdline-campaign-scale-" + std::to_string(::getpid()));
    std::vector<std::size_t> sizes{100'000, 1'000'000};
    bool smoke = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) fail(a + ": expected a value");
            return std::string(argv[++i]);
        };
        if (a == "--smoke") smoke = true, sizes = {20'000};
        else if (a == "--crowdline") program = value();
        else if (a == "--dir") dir = fs::path(value()) / "campaign_scale";
        else if (a == "--tasks") {
            sizes.clear();
            std::stringstream list(value());
            for (std::string n; std::getline(list, n, ',');) sizes.push_back(std::stoull(n));
        } else {
            std::cout << "usage: campaign_scale_benchmark [--smoke] [--tasks 100000,1000000] [--crowdline PATH] [--dir D]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    if (program.empty() || !fs::exists(program)) fail("no crowdline program (--crowdline PATH)");

    std::vector<measured> runs;
    for (auto n : sizes) {
        std::cout << "serving " << with_commas(n) << " tasks…" << std::flush;
        runs.push_back(run_once(program, dir, n));
        auto const& m = runs.back();
        std::cout << "\r" << with_commas(n) << " tasks: tasks file " << with_commas(m.file_bytes / 1024) << " kB; ready in "
                  << m.ready_seconds << " s; every unit launched in " << m.launched_seconds << " s; peak RSS " << with_commas(m.peak_kb) << " kB ("
                  << with_commas(m.peak_kb * 1024 / n) << " bytes per task, " << static_cast<double>(m.peak_kb * 1024) / static_cast<double>(m.file_bytes)
                  << "x the tasks file); RSS when ready " << with_commas(m.ready_rss_kb) << " kB\n";
    }
    if (runs.size() >= 2) {
        auto const& a = runs.front();
        auto const& b = runs.back();
        std::cout << "bytes per task, " << with_commas(b.tasks) << " vs " << with_commas(a.tasks) << " tasks: "
                  << static_cast<double>(b.peak_kb) / static_cast<double>(b.tasks) / (static_cast<double>(a.peak_kb) / static_cast<double>(a.tasks))
                  << "x (1.0: memory grows with the tasks; below: a fixed part shared)\n";
    }
    for (auto const& m : runs)
        if (m.tasks == 1'000'000 && !smoke) {
            std::cout << "target ready <= 10 s: " << (m.ready_seconds <= 10 ? "PASS" : "MISS") << " (" << m.ready_seconds
                      << " s)\ntarget peak RSS <= 400 MB: " << (m.peak_kb <= 400 * 1024 ? "PASS" : "MISS") << " ("
                      << m.peak_kb / 1024 << " MB)\n";
        }
    fs::remove_all(dir);
    return 0;
}
