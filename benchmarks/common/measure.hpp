#pragma once
// What every benchmark program here shares: timing a piece (wall, CPU, and the disk syncs and writes the
// io_counters interposition sees), medians, number formatting for the tables, and removing a SQLite file
// with its journals. Include it in exactly one translation unit of a program (it brings io_counters.hpp).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "io_counters.hpp"

namespace bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

/// CPU time of the whole process, in seconds.
inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Accumulates wall time, CPU time, disk syncs and writes over one or more timed pieces.
struct meter {
    double wall = 0;
    double cpu = 0;
    long syncs = 0;
    long writes = 0;
    template <class F>
    void time(F&& f) {
        long const s0 = bench::syncs.load();
        long const p0 = bench::writes.load();
        double const c0 = cpu_seconds();
        auto const w0 = bench_clock::now();
        f();
        wall += seconds_since(w0);
        cpu += cpu_seconds() - c0;
        this->syncs += bench::syncs.load() - s0;
        this->writes += bench::writes.load() - p0;
    }
    [[nodiscard]] double rate(double ops) const { return ops / wall; }
    [[nodiscard]] double cpu_us_per(double ops) const { return 1e6 * cpu / ops; }
    [[nodiscard]] double syncs_per(double ops) const { return static_cast<double>(syncs) / ops; }
    [[nodiscard]] double writes_per(double ops) const { return static_cast<double>(writes) / ops; }
};

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t const n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// 12,345 for large values, 12.3 below 100, "—" for infinities and NaN.
inline std::string with_commas(double value) {
    if (!std::isfinite(value)) return "—";
    if (value < 100) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", value);
        return buf;
    }
    auto n = static_cast<long long>(std::llround(value));
    std::string digits = std::to_string(n), out;
    int count = 0;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        if (count && count % 3 == 0) out.insert(out.begin(), ',');
        out.insert(out.begin(), *it);
        ++count;
    }
    return out;
}

/// Two decimals below 10, one below 1000, none above.
inline std::string decimals(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f" : v < 1000 ? "%.1f" : "%.0f", v);
    return buf;
}

/// Pads to a width counted in code points, so "—", "×" and "µ" line up.
inline std::string pad(std::string const& s, std::size_t width, bool right = false) {
    std::size_t cps = 0;
    for (unsigned char c : s) cps += (c & 0xC0) != 0x80;
    if (cps >= width) return s;
    std::string fill(width - cps, ' ');
    return right ? fill + s : s + fill;
}

/// Removes a SQLite database file and its journals, if there.
inline void remove_db_files(std::filesystem::path const& db) {
    for (char const* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::error_code ec;
        std::filesystem::remove(std::filesystem::path(db.string() + suffix), ec);
    }
}

}  // namespace bench
