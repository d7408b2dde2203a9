// dashboard: the cost of the counts `/metrics` and the review dashboard show, on one task run of U units
// (default 20,000; stores::sqlite on a real file, blueprints::mock{U}, one unit per item), with a fifth of
// the units done by 50 workers over the in-process channel so every status count is non-trivial.
//
// Compared in the same run:
//   running counts — `pipeline::summary()`: the counts kept as the run changes (what `/metrics` reads now);
//   full scan      — `summarize_run(db, run)` inside `pipeline::locked` (what `/metrics` did before: every
//                    unit, agent and assignment read under the pipeline's lock).
// Printed: µs per call of each (median of --repeat batches) and their ratio; then a worker's register +
// submit latency (median and 99th percentile over --submits pairs) with no reader, with 4 threads
// looping on the running counts, and with 4 threads looping on the full scan. Both sides are checked to
// give the same counts; a difference fails the program. Speed is printed, never judged.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <unistd.h>

#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/sqlite.hpp>
#include <crowdline/store/summary.hpp>

#include "../common/measure.hpp"

namespace {

namespace fs = std::filesystem;
using namespace crowdline;
using bench::bench_clock;

struct params {
    std::size_t units = 20000;
    std::size_t submits = 200;
    int repeat = 5;
    std::optional<fs::path> dir;
};

double micros_since(bench_clock::time_point t0) { return 1e6 * bench::seconds_since(t0); }

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0;
    auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[at];
}

/// A worker's page on the in-process channel: register, then submit.
struct page {
    architects::in_process& arch;
    std::string name;
    bool work() {
        auto reply = arch.channel().request({"register", std::nullopt, {{"worker_name", name}}});
        if (reply.type != "agent_details") return false;
        auto agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
        auto ack = arch.channel().request(
            {"submit", agent, {{"token", reply.data["token"]}, {"submission", {{"label", "x"}}}}});
        if (ack.type != "submitted") throw std::runtime_error("submit refused: " + ack.data.dump());
        return true;
    }
};

int run(params const& prm) {
    fs::path const dir = prm.dir ? *prm.dir : fs::temp_directory_path();
    fs::path const file = dir / ("dashboard-bench-" + std::to_string(::getpid()) + ".db");
    struct cleanup {
        fs::path f;
        ~cleanup() { bench::remove_db_files(f); }
    } remove_file{file};

    stores::sqlite db{file.string()};
    architects::in_process arch;
    providers::mock prov;
    task_run_args args;
    args.task_name = "bench_dashboard";
    args.task_title = "Label it";
    args.task_description = "Say what the text is about";
    args.assignment_duration_in_seconds = 600;
    args.no_submission_patience = 1'000'000;
    auto dispatcher = routing::make_dispatcher<initialization_data, nlohmann::json>(
        routing::average_per_task{1}, routing::options{.lease = std::chrono::seconds(600)});
    pipeline p{blueprints::mock{prm.units}, arch, prov, std::move(dispatcher), db, args};
    auto const t_launch = bench_clock::now();
    auto const run_id = p.launch();
    std::cout << "launched " << prm.units << " units in " << micros_since(t_launch) / 1e6 << " s\n";

    std::vector<page> pages;
    for (int i = 0; i < 50; ++i) pages.push_back(page{arch, "w" + std::to_string(i)});
    std::size_t done = 0;
    for (std::size_t i = 0; done < prm.units / 5; ++i)
        if (pages[i % pages.size()].work()) ++done;

    auto const full_scan = [&] {
        return p.locked([&](auto& store, auto&, auto const&) { return summarize_run(store, run_id); });
    };
    auto const running = [&] { return p.summary(); };
    if (!(full_scan() == running()))
        throw std::runtime_error("the running counts differ from the full scan: " + running().to_json().dump() +
                                 " vs " + full_scan().to_json().dump());

    // µs per call, median of `repeat` batches.
    auto per_call = [&](auto f, int calls) {
        std::vector<double> batches;
        for (int r = 0; r < prm.repeat; ++r) {
            auto const t0 = bench_clock::now();
            for (int i = 0; i < calls; ++i) {
                auto s = f();
                if (s.units() != prm.units) throw std::runtime_error("a count is wrong");
            }
            batches.push_back(micros_since(t0) / calls);
        }
        return bench::median(batches);
    };
    double const scan_us = per_call(full_scan, 5);
    double const running_us = per_call(running, 100000);
    std::printf("\n%-44s %14s\n", ("one /metrics count at " + std::to_string(prm.units) + " units").c_str(), "µs per call");
    std::printf("%-44s %14.3f\n", "full scan (summarize_run under the lock)", scan_us);
    std::printf("%-44s %14.3f\n", "running counts (pipeline::summary)", running_us);
    std::printf("%-44s %13.0fx\n", "full scan / running counts", scan_us / running_us);

    // A worker's register + submit while 4 readers loop.
    // Sampling starts once every reader has finished a call, and stops after --submits pairs or 20 s.
    auto latency = [&](auto reader, bool readers) {
        std::atomic<bool> stop{false};
        std::atomic<int> warm{0};
        std::vector<std::thread> threads;
        if (readers)
            for (int i = 0; i < 4; ++i)
                threads.emplace_back([&] {
                    bool first = true;
                    while (!stop.load(std::memory_order_relaxed)) {
                        (void)reader();
                        if (std::exchange(first, false)) ++warm;
                    }
                });
        while (warm.load() < static_cast<int>(threads.size())) std::this_thread::yield();
        std::vector<double> samples;
        auto const started = bench_clock::now();
        for (std::size_t i = 0; samples.size() < prm.submits && micros_since(started) < 20e6; ++i) {
            auto const t0 = bench_clock::now();
            if (pages[i % pages.size()].work()) samples.push_back(micros_since(t0));
        }
        stop = true;
        for (auto& t : threads) t.join();
        double total = 0;
        for (double s : samples) total += s;
        return std::tuple{samples.empty() ? 0.0 : bench::median(samples), percentile(samples, 0.99),
                          total / static_cast<double>(samples.size())};
    };
    auto const quiet = latency(running, false);
    auto const with_running = latency(running, true);
    auto const with_scan = latency(full_scan, true);
    std::printf("\n%-44s %12s %12s %12s\n", "register + submit latency", "median µs", "p99 µs", "mean µs");
    auto row = [](char const* label, auto const& l) {
        std::printf("%-44s %12.0f %12.0f %12.0f\n", label, std::get<0>(l), std::get<1>(l), std::get<2>(l));
    };
    row("no reader", quiet);
    row("4 readers looping on the running counts", with_running);
    row("4 readers looping on the full scan", with_scan);
    std::printf("%-44s %11.1fx %11.1fx %11.1fx\n", "full-scan readers / running-count readers",
                std::get<0>(with_scan) / std::get<0>(with_running), std::get<1>(with_scan) / std::get<1>(with_running),
                std::get<2>(with_scan) / std::get<2>(with_running));
    if (!(full_scan() == running())) throw std::runtime_error("the running counts drifted from the store");
    p.shutdown();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    params prm;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + ": needs a value");
            return argv[++i];
        };
        if (a == "--units") prm.units = std::stoul(next());
        else if (a == "--submits") prm.submits = std::stoul(next());
        else if (a == "--repeat") prm.repeat = std::stoi(next());
        else if (a == "--dir") prm.dir = fs::path(next());
        else if (a == "--smoke") prm.units = 500, prm.submits = 20, prm.repeat = 1;
        else {
            std::cerr << "usage: dashboard_benchmark [--units N] [--submits N] [--repeat N] [--dir D] [--smoke]\n";
            return 2;
        }
    }
    try {
        return run(prm);
    } catch (std::exception const& e) {
        std::cerr << "dashboard_benchmark: " << e.what() << '\n';
        return 1;
    }
}
