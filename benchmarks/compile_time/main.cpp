// compile_time: what including crowdline costs a user's build (issue 19, ARCHITECTURE §14).
//
// For every public header (include/crowdline/**.hpp outside detail/), one TU that includes only that
// header, next to its baseline: a TU of the same header's dependencies alone — every non-crowdline header
// it pulls in, directly or through other crowdline headers, #included in one TU. Both are compiled in the
// same run, one after the other, with the same compiler and flags (g++ -std=c++20 -O0 -c, as a user's debug
// build), and timed with the compiler's peak memory (the child's maximum RSS, from wait4). The seconds are
// the compiler's CPU time (user + system, from wait4), which another process on the machine (a fuzzer, a
// build) barely moves, unlike wall time; the wall time of each umbrella compile is printed beside it.
// The difference is what crowdline itself adds. Then the umbrella `crowdline/crowdline.hpp` alone (core),
// with CROWDLINE_WITH_HTTP and with CROWDLINE_WITH_SQLITE, and the `crowdline` program's TUs at -O2 (main.cpp
// and serve_sqlite.cpp, what the default build compiles; serve_postgres.cpp, built with crowdline::postgres,
// is measured beside them when libpqxx's headers are there, and not counted against the target).
//
// Targets (the issue's, this 2-core machine): umbrella (core) ≤ 4 s, umbrella with HTTP ≤ 10 s, every public
// header ≤ 1.5 s more than its dependencies alone, the program ≤ 40 s at -O2 (its TUs' CPU seconds summed:
// what one core spends; the largest TU, what a parallel build waits for, is printed too). Printed PASS/MISS, never
// asserted; a header over its target is measured a second time (both TUs) and the faster of each kept.
// Compiles run one at a time (a loaded machine makes every figure slower; the differences and ratios
// against the same-run baselines are what to compare).
//
//   compile_time_benchmark [--smoke] [--only NAME] [--no-program] [--cxx PATH] [--source DIR]
//     --smoke       three headers and the core umbrella, no program: checks the benchmark works
//     --only NAME   only the headers whose path contains NAME (e.g. routing/, store/sqlite)
//     --no-program  skip the program's TUs at -O2 (a minute or two)
//     --cxx PATH    the compiler (default: the one that built this benchmark)
//     --source DIR  the project's root (default: the one this benchmark was built from)

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

#ifndef CROWDLINE_CXX
#define CROWDLINE_CXX "g++"
#endif
#ifndef CROWDLINE_SOURCE_DIR
#define CROWDLINE_SOURCE_DIR "."
#endif

constexpr double target_umbrella_core_s = 4.0;
constexpr double target_umbrella_http_s = 10.0;
constexpr double target_header_over_deps_s = 1.5;
constexpr double target_program_s = 40.0;

struct params {
    bool smoke = false;
    bool program = true;
    std::string only;
    std::string cxx = CROWDLINE_CXX;
    fs::path source = CROWDLINE_SOURCE_DIR;
};

[[noreturn]] void fail(std::string const& why) {
    std::cerr << "compile_time_benchmark: " << why << "\n";
    std::exit(2);
}

/// One compile: the compiler's CPU seconds (and wall), its peak RSS, and whether it succeeded (with its messages).
struct compile_result {
    double seconds = 0;  ///< CPU: user + system
    double wall = 0;
    double peak_mb = 0;
    bool ok = false;
    std::string messages;
};

/// Runs `argv` as a child, its stderr into `log`; times it and reads its peak RSS from wait4.
compile_result run_compiler(std::vector<std::string> const& argv, fs::path const& log) {
    std::vector<char*> args;
    for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    auto const started = std::chrono::steady_clock::now();
    pid_t const pid = fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
        if (!std::freopen(log.c_str(), "w", stderr)) _exit(126);
        execvp(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    if (wait4(pid, &status, 0, &usage) < 0) fail("wait4 failed");
    compile_result r;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto const seconds_of = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    r.seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
    r.peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // kB on Linux
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!r.ok) {
        std::ifstream in(log);
        std::ostringstream text;
        text << in.rdbuf();
        r.messages = text.str().substr(0, 2000);
    }
    return r;
}

/// The `#include` lines of a file: crowdline ones (as paths under include/) and the others (as written).
struct includes {
    std::vector<std::string> crowdline;
    std::vector<std::string> external;
};

includes read_includes(fs::path const& file) {
    includes out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        auto const start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line.compare(start, 8, "#include") != 0) continue;
        auto const open = line.find_first_of("<\"", start + 8);
        if (open == std::string::npos) continue;
        auto const close = line.find(line[open] == '<' ? '>' : '"', open + 1);
        if (close == std::string::npos) continue;
        auto const name = line.substr(open + 1, close - open - 1);
        if (name.starts_with("crowdline/")) out.crowdline.push_back(name);
        else if (line[open] == '<') out.external.push_back(name);
    }
    return out;
}

/// Every non-crowdline header `header` pulls in, directly or through crowdline headers, in first-seen
/// order. Includes under `#if` are counted as if enabled (the opt-in parts of the umbrella are measured
/// through their own headers).
std::vector<std::string> external_dependencies(fs::path const& include_dir, std::string const& header) {
    std::vector<std::string> order;
    std::set<std::string> seen_external, seen_crowdline;
    std::vector<std::string> todo{header};
    while (!todo.empty()) {
        auto const h = todo.back();
        todo.pop_back();
        if (!seen_crowdline.insert(h).second) continue;
        auto const inc = read_includes(include_dir / h);
        for (auto const& e : inc.external)
            if (seen_external.insert(e).second) order.push_back(e);
        for (auto const& c : inc.crowdline) todo.push_back(c);
    }
    return order;
}

/// The crowdline headers the umbrella includes when `defines` are set: those outside any `#if`, and those
/// inside an `#if` that names one of `defines` (`#if defined(CROWDLINE_WITH_HTTP)`).
std::vector<std::string> umbrella_headers(fs::path const& umbrella, std::vector<std::string> const& defines) {
    std::vector<std::string> out;
    std::ifstream in(umbrella);
    std::string line;
    int depth = 0;
    bool enabled = true;
    while (std::getline(in, line)) {
        if (line.starts_with("#if")) {
            ++depth;
            enabled = std::ranges::any_of(defines, [&](std::string const& d) {
                auto const name = d.find("CROWDLINE");  // "-DCROWDLINE_WITH_HTTP" names CROWDLINE_WITH_HTTP
                return name != std::string::npos && line.find(d.substr(name)) != std::string::npos;
            });
            continue;
        }
        if (line.starts_with("#endif")) {
            if (--depth == 0) enabled = true;
            continue;
        }
        if (!enabled || !line.starts_with("#include <crowdline/")) continue;
        auto const close = line.find('>');
        out.push_back(line.substr(10, close - 10));
    }
    return out;
}

std::string fixed(double v, int decimals = 2) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(decimals) << v;
    return o.str();
}

std::string pad(std::string s, std::size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
}

struct measured {
    std::string name;
    compile_result own;
    std::optional<compile_result> deps;
};

}  // namespace

int main(int argc, char** argv) {
    params p;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail(a + ": needs a value");
            return argv[++i];
        };
        if (a == "--smoke") p.smoke = true, p.program = false;
        else if (a == "--no-program") p.program = false;
        else if (a == "--only") p.only = value();
        else if (a == "--cxx") p.cxx = value();
        else if (a == "--source") p.source = value();
        else if (a == "-h" || a == "--help") {
            std::cout << "compile_time_benchmark [--smoke] [--only NAME] [--no-program] [--cxx PATH] [--source DIR]\n";
            return 0;
        } else {
            fail("unknown option " + a + " (see --help)");
        }
    }
    fs::path const include_dir = p.source / "include";
    if (!fs::exists(include_dir / "crowdline/crowdline.hpp")) fail(include_dir.string() + ": no crowdline headers there");

    std::vector<std::string> headers;
    for (auto const& e : fs::recursive_directory_iterator(include_dir / "crowdline")) {
        if (!e.is_regular_file() || e.path().extension() != ".hpp") continue;
        auto const rel = fs::relative(e.path(), include_dir).generic_string();
        if (rel.find("/detail/") != std::string::npos || rel == "crowdline/crowdline.hpp") continue;
        if (!p.only.empty() && rel.find(p.only) == std::string::npos) continue;
        headers.push_back(rel);
    }
    std::ranges::sort(headers);
    if (p.smoke) {
        std::vector<std::string> few;
        for (auto const* h : {"crowdline/model/ids.hpp", "crowdline/routing/dispatcher.hpp", "crowdline/quality/agreement.hpp"})
            if (std::ranges::find(headers, h) != headers.end()) few.push_back(h);
        headers = few;
    }

    auto const dir = fs::temp_directory_path() / ("crowdline_compile_time_" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::vector<std::string> const common{p.cxx, "-std=c++20", "-I" + include_dir.string(), "-DBOOST_ALL_NO_LIB",
                                          "-DSQLITE_ENABLE_COLUMN_METADATA", "-c", "-o", "/dev/null"};
    std::size_t n = 0;
    auto compile = [&](std::string const& text, std::vector<std::string> extra, char const* opt = "-O0") {
        auto const file = dir / ("tu" + std::to_string(n++) + ".cpp");
        std::ofstream(file) << text;
        auto args = common;
        args.insert(args.begin() + 1, opt);
        args.insert(args.end() - 3, extra.begin(), extra.end());
        args.push_back(file.string());
        return run_compiler(args, dir / "log.txt");
    };

    std::cout << "compiler: " << p.cxx << " -std=c++20 -O0 -c (one compile at a time); source: " << p.source.string()
              << "\nper public header: the header alone vs its dependencies alone (every non-crowdline header it "
                 "pulls in, in one TU)\n\n";
    std::cout << pad("header", 44) << pad("alone s", 10) << pad("deps s", 10) << pad("+ s", 9) << pad("peak MB", 10)
              << pad("deps MB", 10) << "verdict\n";
    std::vector<measured> rows;
    bool failed = false;
    for (auto const& h : headers) {
        measured m{h, compile("#include <" + h + ">\n", {}), std::nullopt};
        std::string deps_tu;
        for (auto const& d : external_dependencies(include_dir, h)) deps_tu += "#include <" + d + ">\n";
        m.deps = compile(deps_tu, {});
        // Over the target: both compiles once more, keeping the faster of each (one slow run of a shared
        // machine should not make a MISS; a real one stays over).
        if (m.own.seconds - m.deps->seconds > target_header_over_deps_s) {
            auto const again = compile("#include <" + h + ">\n", {});
            auto const deps_again = compile(deps_tu, {});
            if (again.ok && again.seconds < m.own.seconds) m.own = again;
            if (deps_again.ok && deps_again.seconds < m.deps->seconds) m.deps = deps_again;
        }
        double const extra = m.own.seconds - m.deps->seconds;
        bool const ok = m.own.ok && m.deps->ok;
        failed = failed || !ok;
        std::cout << pad(h, 44) << pad(fixed(m.own.seconds), 10) << pad(fixed(m.deps->seconds), 10)
                  << pad(fixed(extra), 9) << pad(fixed(m.own.peak_mb, 0), 10) << pad(fixed(m.deps->peak_mb, 0), 10)
                  << (!ok ? "FAILED TO COMPILE" : extra <= target_header_over_deps_s ? "PASS" : "MISS") << "\n";
        if (!m.own.ok) std::cout << m.own.messages << "\n";
        if (!m.deps->ok) std::cout << "(dependencies TU) " << m.deps->messages << "\n";
        rows.push_back(std::move(m));
    }

    std::cout << "\numbrella crowdline/crowdline.hpp\n";
    struct umbrella_case {
        std::string name;
        std::vector<std::string> defines;
        std::optional<double> target;
    };
    std::vector<umbrella_case> cases{{"core", {}, target_umbrella_core_s}};
    if (!p.smoke) {
        cases.push_back({"with HTTP", {"-DCROWDLINE_WITH_HTTP"}, target_umbrella_http_s});
        cases.push_back({"with SQLite", {"-DCROWDLINE_WITH_SQLITE"}, std::nullopt});
        cases.push_back({"with HTTP and SQLite", {"-DCROWDLINE_WITH_HTTP", "-DCROWDLINE_WITH_SQLITE"}, std::nullopt});
    }
    struct verdict_line {
        std::string what;
        double goal;
        double measured;
        bool ok;
    };
    std::vector<verdict_line> verdicts;
    for (auto const& c : cases) {
        auto const r = compile("#include <crowdline/crowdline.hpp>\n", c.defines);
        // Its baseline: every non-crowdline header the same configuration pulls in, alone.
        std::vector<std::string> deps;
        for (auto const& h : umbrella_headers(include_dir / "crowdline/crowdline.hpp", c.defines))
            for (auto const& d : external_dependencies(include_dir, h))
                if (std::ranges::find(deps, d) == deps.end()) deps.push_back(d);
        std::string deps_tu;
        for (auto const& d : deps) deps_tu += "#include <" + d + ">\n";
        auto const base = compile(deps_tu, c.defines);
        failed = failed || !r.ok || !base.ok;
        std::cout << "  " << pad(c.name, 24) << fixed(r.seconds) << " s (wall " << fixed(r.wall) << "), peak "
                  << fixed(r.peak_mb, 0) << " MB; its dependencies alone " << fixed(base.seconds) << " s, "
                  << fixed(base.peak_mb, 0) << " MB: crowdline adds " << fixed(r.seconds - base.seconds) << " s"
                  << (r.ok ? "" : "  FAILED TO COMPILE\n" + r.messages)
                  << (base.ok ? "" : "  (dependencies TU) FAILED TO COMPILE\n" + base.messages) << "\n";
        if (c.target) verdicts.push_back({"umbrella " + c.name + " seconds", *c.target, r.seconds, r.ok && r.seconds <= *c.target});
    }

    if (p.program) {
        std::cout << "\nprogram apps/crowdline at -O2, one TU at a time:\n";
        double total = 0, largest = 0;
        auto const program_tu = [&](std::string const& name, std::vector<std::string> extra) {
            auto args = common;
            args.insert(args.begin() + 1, "-O2");
            args.insert(args.end(), extra.begin(), extra.end());
            args.push_back((p.source / "apps/crowdline" / name).string());
            auto const r = run_compiler(args, dir / "log.txt");
            std::cout << "  " << pad(name, 24) << fixed(r.seconds) << " s (wall " << fixed(r.wall) << "), peak "
                      << fixed(r.peak_mb, 0) << " MB" << (r.ok ? "" : "  FAILED TO COMPILE\n" + r.messages) << "\n";
            return r;
        };
        for (auto const* name : {"main.cpp", "serve_sqlite.cpp"}) {
            auto const r = program_tu(name, {});
            failed = failed || !r.ok;
            total += r.seconds;
            largest = std::max(largest, r.seconds);
        }
        std::cout << "  the default program: " << fixed(total) << " s of CPU in all, its largest TU " << fixed(largest) << " s\n";
        if (fs::exists("/usr/include/pqxx/pqxx")) {  // crowdline::postgres's TU, opt-in: shown, not counted
            auto const r = program_tu("serve_postgres.cpp", {"-DCROWDLINE_WITH_POSTGRES", "-isystem", "/usr/include/postgresql"});
            failed = failed || !r.ok;
        }
        verdicts.push_back({"program -O2 seconds", target_program_s, total, !failed && total <= target_program_s});
    }

    std::size_t over = 0;
    double worst = 0;
    std::string worst_name;
    for (auto const& m : rows) {
        double const extra = m.own.seconds - m.deps->seconds;
        if (extra > target_header_over_deps_s) ++over;
        if (extra > worst) worst = extra, worst_name = m.name;
    }
    std::cout << "\nTargets (the issue's; g++ -O0 unless said)\n";
    for (auto const& v : verdicts)
        std::cout << "  [" << (p.smoke ? "n/a " : v.ok ? "PASS" : "MISS") << "] " << pad(v.what, 34) << " goal ≤ "
                  << pad(fixed(v.goal, 1), 6) << " measured " << fixed(v.measured) << "\n";
    if (!rows.empty())
        std::cout << "  [" << (p.smoke ? "n/a " : over == 0 ? "PASS" : "MISS") << "] "
                  << pad("headers over deps by > 1.5 s", 34) << " goal = 0      measured " << over << " of " << rows.size()
                  << " (most: " << worst_name << " +" << fixed(worst) << " s)\n";
    fs::remove_all(dir);
    if (failed) {
        std::cerr << "compile_time_benchmark: a TU failed to compile (see above)\n";
        return 1;
    }
    return 0;
}
