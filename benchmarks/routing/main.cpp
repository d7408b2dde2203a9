// Routing benchmark: W workers, each reading 1-2 of 10 languages; N items with a random language;
// average_per_task{2}. After routing, half of the workers leave and the rest drain everything with
// next(w, 10) + complete. Compared in one run:
//   steal_by_key  - the indexed takeover (per-language buckets, oldest first);
//   steal_when    - the same language rule as a predicate: one pool, scanned;
//   baseline      - what Prodigy's steal_work does (for each other session, walk its open items, keep those
//                   the stealer has not seen, order by timestamp, take n), with the language filter its
//                   maintainers suggested, written plainly below.
// Memory is counted through a global operator new/delete replacement.
// Each dispatcher run is repeated (5 times unless --repeat says otherwise) and every figure is the median of
// the runs, so that one preempted run on a shared machine does not decide a ratio; the per-run steal figures
// are printed too, with the number of times the process was preempted during the drain (a preemption inside
// a timed call adds the other process's time slice to it). For information only, one more steal_by_key run
// per size checks every `next` call for a preemption (outside the timed interval) and reports the steal
// figure over the calls that were not preempted; it is not among the medians nor used for any verdict.
//
// Usage: routing_benchmark [--smoke] [--repeat R]

#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/routers.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#if __has_include(<sys/resource.h>)
#include <sys/resource.h>
#define CROWDLINE_BENCH_RUSAGE 1
#endif

#include "../common/counting_new.hpp"

using bench::live_bytes;
using bench::peak_bytes;

namespace {

namespace routing = crowdline::routing;
using crowdline::worker_id;
using routing::item_key;
using steady = std::chrono::steady_clock;

constexpr int languages = 10;

struct doc {
    std::uint8_t lang;
};
struct annotator {
    std::uint8_t langs[2];
    std::uint8_t count;
};

bool reads(const annotator& a, std::uint8_t lang) { return a.langs[0] == lang || (a.count > 1 && a.langs[1] == lang); }

struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

struct workload {
    std::vector<annotator> workers;
    std::vector<doc> items;
};

workload make_workload(std::size_t w, std::size_t n, std::uint64_t seed) {
    rng r{seed};
    workload out;
    for (std::size_t i = 0; i < w; ++i) {
        annotator a{};
        a.langs[0] = static_cast<std::uint8_t>(r.next() % languages);
        a.count = 1;
        if (r.next() % 2 == 0) {
            a.langs[1] = static_cast<std::uint8_t>((a.langs[0] + 1 + r.next() % (languages - 1)) % languages);
            a.count = 2;
        }
        out.workers.push_back(a);
    }
    for (std::size_t k = 0; k < n; ++k) out.items.push_back(doc{static_cast<std::uint8_t>(r.next() % languages)});
    return out;
}

struct figures {
    double add_ns_per_item = 0;
    double own_ns_per_grant = 0;
    double own_ns_per_call = 0;
    std::size_t own_grants = 0;
    double steal_ns_per_unit = 0;
    std::size_t stolen = 0;
    double bytes_per_open_unit = 0;
    std::size_t open_units = 0;
    std::size_t left_over = 0;
    double drain_ms = 0;
    long preempted = -1;  ///< involuntary context switches during the drain (-1: unknown)
    // only when every call is checked for a preemption:
    double clean_steal_ns_per_unit = 0;  ///< over the steal calls not preempted
    std::size_t steal_calls = 0;
    std::size_t dropped_steal_calls = 0;  ///< steal calls during which the process was preempted
};

long involuntary_switches() {
#ifdef CROWDLINE_BENCH_RUSAGE
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) == 0) return ru.ru_nivcsw;
#endif
    return -1;
}

double ns(steady::duration d) { return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); }

template <class Dispatcher>
figures run_dispatcher(Dispatcher& d, const workload& wl, std::int64_t bytes_before, bool check_each_call = false) {
    figures f;
    const crowdline::time_point t{};
    const std::size_t w = wl.workers.size();
    for (std::size_t i = 0; i < w; ++i) d.join(worker_id{static_cast<std::int64_t>(i + 1)}, wl.workers[i], t);
    auto start = steady::now();
    for (std::size_t k = 0; k < wl.items.size(); ++k) d.add(item_key{k + 1}, wl.items[k], t);
    f.add_ns_per_item = ns(steady::now() - start) / static_cast<double>(wl.items.size());
    f.open_units = d.counts().open + d.counts().reserved;
    f.bytes_per_open_unit = static_cast<double>(live_bytes.load() - bytes_before) / static_cast<double>(f.open_units);

    for (std::size_t i = 1; i < w; i += 2) d.leave(worker_id{static_cast<std::int64_t>(i + 1)}, t);
    std::vector<std::int64_t> active;
    for (std::size_t i = 0; i < w; i += 2) active.push_back(static_cast<std::int64_t>(i + 1));
    steady::duration own_time{}, steal_time{}, clean_steal_time{};
    std::size_t own_calls = 0, clean_stolen = 0;
    const long switches_before = involuntary_switches();
    const auto drain_start = steady::now();
    while (!active.empty()) {
        std::vector<std::int64_t> still;
        for (const auto id : active) {
            const long c0 = check_each_call ? involuntary_switches() : 0;
            const auto s = steady::now();
            const auto grants = d.next(worker_id{id}, 10, t);
            const auto e = steady::now();
            const bool preempted = check_each_call && involuntary_switches() != c0;
            if (grants.empty()) continue;  // nothing it may take is left, and nothing new will come
            still.push_back(id);
            const auto stolen = static_cast<std::size_t>(
                std::count_if(grants.begin(), grants.end(), [](const routing::grant& g) { return g.stolen_from.has_value(); }));
            if (stolen == 0) {
                own_time += e - s;
                f.own_grants += grants.size();
                ++own_calls;
            } else {
                steal_time += e - s;
                f.stolen += stolen;
                ++f.steal_calls;
                if (preempted) {
                    ++f.dropped_steal_calls;
                } else {
                    clean_steal_time += e - s;
                    clean_stolen += stolen;
                }
            }
            for (const auto& g : grants) d.complete(worker_id{id}, g.item, t);
        }
        active.swap(still);
    }
    f.drain_ms = ns(steady::now() - drain_start) / 1e6;
    if (const long after = involuntary_switches(); after >= 0 && switches_before >= 0) f.preempted = after - switches_before;
    f.own_ns_per_grant = f.own_grants ? ns(own_time) / static_cast<double>(f.own_grants) : 0;
    f.own_ns_per_call = own_calls ? ns(own_time) / static_cast<double>(own_calls) : 0;
    f.steal_ns_per_unit = f.stolen ? ns(steal_time) / static_cast<double>(f.stolen) : 0;
    f.clean_steal_ns_per_unit = clean_stolen ? ns(clean_steal_time) / static_cast<double>(clean_stolen) : 0;
    f.left_over = d.counts().open + d.counts().reserved;
    return f;
}

// --- the baseline: Prodigy's steal_work, plainly --------------------------------------------------

struct baseline_figures {
    double steal_ns_per_unit = 0;
    std::size_t stolen = 0;
    std::size_t calls = 0;
};

baseline_figures run_baseline(const workload& wl, std::size_t max_calls, double max_seconds) {
    const std::size_t w = wl.workers.size();
    const std::size_t n_items = wl.items.size();
    struct session {
        std::vector<std::pair<std::uint64_t, std::uint32_t>> open;  // (timestamp, unit): served, not answered
        std::unordered_set<std::uint32_t> seen;                     // seen_task_hashes
    };
    std::vector<session> sessions(w);
    std::vector<std::uint32_t> unit_item;
    std::vector<std::uint8_t> unit_done;
    // route: two readers of the item's language per item, chosen by the dispatcher's own router
    std::vector<std::vector<routing::candidate>> readers(languages);
    for (std::uint32_t s = 0; s < w; ++s)
        for (int l = 0; l < languages; ++l)
            if (reads(wl.workers[s], static_cast<std::uint8_t>(l)))
                readers[l].push_back({worker_id{static_cast<std::int64_t>(s + 1)}, 0});
    const routing::average_per_task router{2};
    std::vector<worker_id> chosen;
    for (std::uint32_t k = 0; k < n_items; ++k) {
        chosen.clear();
        router.route(item_key{k + 1}, wl.items[k], readers[wl.items[k].lang], chosen);
        for (const auto id : chosen) {
            const auto s = static_cast<std::size_t>(id.value() - 1);
            sessions[s].open.emplace_back(k, static_cast<std::uint32_t>(unit_item.size()));
            unit_item.push_back(k);
            unit_done.push_back(0);
        }
    }
    // the staying half answers its own queue first
    for (std::size_t s = 0; s < w; s += 2)
        for (const auto& [ts, u] : sessions[s].open) {
            unit_done[u] = 1;
            sessions[s].seen.insert(unit_item[u]);
        }
    for (std::size_t s = 0; s < w; s += 2) sessions[s].open.clear();

    baseline_figures f;
    steady::duration spent{};
    bool progress = true;
    while (progress && f.calls < max_calls && ns(spent) < max_seconds * 1e9) {
        progress = false;
        for (std::size_t s = 0; s < w && f.calls < max_calls; s += 2) {
            const auto start = steady::now();
            // steal_work(n = 10)
            std::vector<std::tuple<std::uint64_t, std::size_t, std::uint32_t>> stealable;
            std::unordered_set<std::uint32_t> unstealable;
            for (std::size_t other = 0; other < w; ++other) {
                if (other == s) continue;
                for (const auto& [ts, u] : sessions[other].open) {
                    if (unit_done[u]) continue;
                    const std::uint32_t item = unit_item[u];
                    if (sessions[s].seen.count(item)) continue;
                    if (!reads(wl.workers[s], wl.items[item].lang)) continue;  // the suggested language filter
                    if (!unstealable.insert(item).second) continue;
                    stealable.emplace_back(ts, other, u);
                }
            }
            std::sort(stealable.begin(), stealable.end());
            const std::size_t take = std::min<std::size_t>(10, stealable.size());
            for (std::size_t i = 0; i < take; ++i) {
                const auto u = std::get<2>(stealable[i]);
                unit_done[u] = 1;  // taken and answered
                sessions[s].seen.insert(unit_item[u]);
            }
            spent += steady::now() - start;
            ++f.calls;
            f.stolen += take;
            progress |= take > 0;
        }
    }
    f.steal_ns_per_unit = f.stolen ? ns(spent) / static_cast<double>(f.stolen) : 0;
    return f;
}

// --- driver --------------------------------------------------------------------------------------

struct row {
    std::size_t w, n;
    figures by_key, when;
    std::vector<figures> by_key_runs, when_runs;
    figures by_key_checked;  ///< the informational run, every call checked for a preemption
    baseline_figures base;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/// Every figure the median of the runs (counts are the same in every run: the workload is deterministic).
figures median_of(const std::vector<figures>& runs) {
    const auto med = [&](double figures::*field) {
        std::vector<double> v;
        for (const auto& f : runs) v.push_back(f.*field);
        return median(std::move(v));
    };
    figures out = runs.front();
    out.add_ns_per_item = med(&figures::add_ns_per_item);
    out.own_ns_per_grant = med(&figures::own_ns_per_grant);
    out.own_ns_per_call = med(&figures::own_ns_per_call);
    out.steal_ns_per_unit = med(&figures::steal_ns_per_unit);
    out.bytes_per_open_unit = med(&figures::bytes_per_open_unit);
    out.drain_ms = med(&figures::drain_ms);
    return out;
}

void print_runs(const char* name, const std::vector<figures>& runs) {
    std::printf("  %-13s steal ns/unit per run (preemptions during the drain):", name);
    for (const auto& f : runs) std::printf(" %.1f (%ld)", f.steal_ns_per_unit, f.preempted);
    std::printf("\n");
}

auto language_of = [](const doc& d) { return d.lang; };
auto languages_of = [](const annotator& a) { return std::span<const std::uint8_t>(a.langs, a.count); };
auto reads_language = [](const annotator& a, const doc& d) { return reads(a, d.lang); };

void print_figures(const char* name, const figures& f) {
    std::printf("  %-13s %9.1f %11.1f %11.2fM %13.1f %9zu %11.1f %9zu %9.0f\n", name, f.add_ns_per_item, f.own_ns_per_grant,
                f.own_ns_per_grant > 0 ? 1e3 / f.own_ns_per_grant : 0.0, f.steal_ns_per_unit, f.stolen,
                f.bytes_per_open_unit, f.left_over, f.drain_ms);
}

const char* verdict(bool ok) { return ok ? "PASS" : "MISS"; }

}  // namespace

int main(int argc, char** argv) {
    bool smoke = false;
    std::size_t repeat = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--smoke") {
            smoke = true;
        } else if (arg == "--repeat" && i + 1 < argc) {
            repeat = std::max<std::size_t>(1, std::strtoul(argv[++i], nullptr, 10));
        } else {
            std::fprintf(stderr, "usage: routing_benchmark [--smoke] [--repeat R]\n");
            return 2;
        }
    }
    const std::vector<std::size_t> worker_counts = smoke ? std::vector<std::size_t>{20, 60} : std::vector<std::size_t>{100, 1000};
    const std::vector<std::size_t> item_counts =
        smoke ? std::vector<std::size_t>{1'000, 4'000} : std::vector<std::size_t>{10'000, 100'000, 1'000'000};
    const std::size_t baseline_calls = smoke ? 20 : 200;
    const double baseline_seconds = smoke ? 0.5 : 5.0;

    std::printf("crowdline routing benchmark%s: average_per_task{2}, 10 languages, each worker reads 1-2;\n"
                "after routing half of the workers leave, the rest drain everything with next(w, 10) + complete.\n",
                smoke ? " (smoke sizes)" : "");
    std::printf("baseline = Prodigy's steal_work (walk every other session's open items, drop seen, sort by timestamp,\n"
                "take n) with the language filter; timed on its first %zu steal calls (at most %.1f s).\n", baseline_calls,
                baseline_seconds);
    std::printf("each dispatcher run %zu time%s; figures are the medians of the runs.\n\n", repeat, repeat == 1 ? "" : "s");

    std::vector<row> rows;
    for (const auto w : worker_counts) {
        for (const auto n : item_counts) {
            const workload wl = make_workload(w, n, 20261122 + w * 31 + n);
            row r{w, n, {}, {}, {}, {}, {}, {}};
            for (std::size_t run = 0; run < repeat; ++run) {
                {
                    const auto before = live_bytes.load();
                    auto d = routing::make_dispatcher<doc, annotator>(routing::average_per_task{2},
                                                                     routing::steal_by_key{language_of, languages_of});
                    r.by_key_runs.push_back(run_dispatcher(d, wl, before));
                }
                {
                    const auto before = live_bytes.load();
                    auto d = routing::make_dispatcher<doc, annotator>(routing::average_per_task{2},
                                                                     routing::eligible_when{reads_language},
                                                                     routing::steal_when{reads_language});
                    r.when_runs.push_back(run_dispatcher(d, wl, before));
                }
            }
            {
                const auto before = live_bytes.load();
                auto d = routing::make_dispatcher<doc, annotator>(routing::average_per_task{2},
                                                                 routing::steal_by_key{language_of, languages_of});
                r.by_key_checked = run_dispatcher(d, wl, before, true);
            }
            r.by_key = median_of(r.by_key_runs);
            r.when = median_of(r.when_runs);
            r.base = run_baseline(wl, baseline_calls, baseline_seconds);
            std::printf("W=%zu N=%zu (%zu open units after routing)\n", w, n, r.by_key.open_units);
            std::printf("  %-13s %9s %11s %12s %13s %9s %11s %9s %9s\n", "policy", "add ns/it", "own ns/gr", "own gr/s",
                        "steal ns/unit", "stolen", "B/open unit", "left", "drain ms");
            print_figures("steal_by_key", r.by_key);
            print_figures("steal_when", r.when);
            std::printf("  %-13s %9s %11s %12s %13.1f %9zu   (%zu steal calls sampled)\n", "baseline", "-", "-", "-",
                        r.base.steal_ns_per_unit, r.base.stolen, r.base.calls);
            if (repeat > 1) {
                print_runs("steal_by_key", r.by_key_runs);
                print_runs("steal_when", r.when_runs);
            }
            if (r.by_key_checked.preempted >= 0)
                std::printf("  (information) steal_by_key, one more run, steal calls not preempted: %.1f ns/unit "
                            "(%zu of %zu steal calls preempted, left out)\n",
                            r.by_key_checked.clean_steal_ns_per_unit, r.by_key_checked.dropped_steal_calls,
                            r.by_key_checked.steal_calls);
            std::printf("  baseline / steal_by_key per stolen unit: x%.1f; steal_when / steal_by_key: x%.1f\n\n",
                        r.base.steal_ns_per_unit / r.by_key.steal_ns_per_unit, r.when.steal_ns_per_unit / r.by_key.steal_ns_per_unit);
            std::fflush(stdout);
            rows.push_back(r);
        }
    }

    std::printf("summary (smallest N -> largest N)\n");
    bool all = true;
    for (const auto w : worker_counts) {
        const row* lo = nullptr;
        const row* hi = nullptr;
        for (const auto& r : rows)
            if (r.w == w) {
                if (!lo) lo = &r;
                hi = &r;
            }
        const double key_growth = hi->by_key.steal_ns_per_unit / lo->by_key.steal_ns_per_unit;
        const double when_growth = hi->when.steal_ns_per_unit / lo->when.steal_ns_per_unit;
        const double own_growth = hi->by_key.own_ns_per_grant / lo->by_key.own_ns_per_grant;
        const double base_growth = hi->base.steal_ns_per_unit / lo->base.steal_ns_per_unit;
        const double ratio = hi->base.steal_ns_per_unit / hi->by_key.steal_ns_per_unit;
        const double grants_per_s = 1e9 / hi->by_key.own_ns_per_grant;
        std::printf("W=%zu, N %zu -> %zu:\n", w, lo->n, hi->n);
        std::printf("  steal_by_key ns per stolen unit: %.1f -> %.1f (x%.2f; target <= x2) %s\n", lo->by_key.steal_ns_per_unit,
                    hi->by_key.steal_ns_per_unit, key_growth, verdict(key_growth <= 2.0));
        if (lo->by_key_checked.preempted >= 0) {
            const double clean_growth = hi->by_key_checked.clean_steal_ns_per_unit / lo->by_key_checked.clean_steal_ns_per_unit;
            std::printf("  (information, not a verdict) steal_by_key over steal calls not preempted: %.1f -> %.1f (x%.2f)\n",
                        lo->by_key_checked.clean_steal_ns_per_unit, hi->by_key_checked.clean_steal_ns_per_unit, clean_growth);
        }
        std::printf("  steal_when   ns per stolen unit: %.1f -> %.1f (x%.2f)\n", lo->when.steal_ns_per_unit,
                    hi->when.steal_ns_per_unit, when_growth);
        std::printf("  baseline     ns per stolen unit: %.1f -> %.1f (x%.2f)\n", lo->base.steal_ns_per_unit,
                    hi->base.steal_ns_per_unit, base_growth);
        std::printf("  own-queue next, ns per grant (steal_by_key): %.1f -> %.1f (x%.2f); steal_when: %.1f -> %.1f\n",
                    lo->by_key.own_ns_per_grant, hi->by_key.own_ns_per_grant, own_growth, lo->when.own_ns_per_grant,
                    hi->when.own_ns_per_grant);
        std::printf("  at N=%zu: baseline %.1f ns vs steal_by_key %.1f ns per stolen unit: x%.1f cheaper (target >= x100) %s\n",
                    hi->n, hi->base.steal_ns_per_unit, hi->by_key.steal_ns_per_unit, ratio, verdict(ratio >= 100.0));
        std::printf("  at N=%zu: own-queue next %.2fM grants/s (target >= 5M) %s\n", hi->n, grants_per_s / 1e6,
                    verdict(grants_per_s >= 5e6));
        std::printf("  at N=%zu: %.1f bytes per open unit (steal_by_key), %.1f (steal_when) (target <= 200) %s\n", hi->n,
                    hi->by_key.bytes_per_open_unit, hi->when.bytes_per_open_unit,
                    verdict(hi->by_key.bytes_per_open_unit <= 200.0 && hi->when.bytes_per_open_unit <= 200.0));
        all = all && key_growth <= 2.0 && ratio >= 100.0 && grants_per_s >= 5e6 && hi->by_key.bytes_per_open_unit <= 200.0;
    }
    std::printf("%s\n", all ? "all targets met" : "some targets missed (see MISS above)");
    // Correctness of the run itself: every unit a remaining worker may take was taken.
    for (const auto& r : rows) {
        for (const auto& runs : {r.by_key_runs, r.when_runs})
            for (const auto& f : runs)
                if (f.left_over != r.by_key.left_over || f.stolen != runs.front().stolen) {
                    std::printf("error: runs of the same workload differ (left %zu vs %zu)\n", f.left_over, r.by_key.left_over);
                    return 1;
                }
        if (r.by_key.left_over != r.when.left_over) {
            std::printf("error: steal_by_key and steal_when left different work undone (%zu vs %zu)\n", r.by_key.left_over,
                        r.when.left_over);
            return 1;
        }
    }
    return 0;
}
