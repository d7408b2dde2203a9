// Quality benchmark: Dawid–Skene and Krippendorff's alpha over 1,000,000 annotations (200,000 items x 5
// annotations, 1,000 workers, 5 labels; string keys, input shuffled). Compared in one run with a plain
// implementation of the same mathematics (same start, pseudo-counts and number of rounds) keyed by strings
// in std::map (per item, per worker, per label), written below as the baseline. Figures:
//   - make_dataset: interning the annotations once (hashing the keys, sorting, grouping by item);
//   - 10 EM rounds on the interned dataset, and dawid_skene(annotations) end to end (interning + 10 rounds);
//   - memory beyond the input: the peak of live heap bytes during dawid_skene(annotations) (its result kept)
//     minus the live bytes before, per annotation, counted through a global operator new/delete replacement;
//     the peak RSS growth (VmHWM) over the same call is printed too;
//   - krippendorff_alpha(annotations) end to end, and on the interned dataset;
//   - quality::running_alpha fed every annotation once (what /metrics keeps), which must equal the batch alpha.
// The run checks the two implementations agree (posteriors, alpha) and exits 1 if they do not. Timings are
// medians of --repeat runs (5 unless said; the baseline runs once: it is slow).
//
// Usage: quality_benchmark [--smoke] [--repeat R]

#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/quality/running_alpha.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../common/measure.hpp"

#include "../common/counting_new.hpp"

using bench::live_bytes;
using bench::peak_bytes;

namespace {

namespace quality = crowdline::quality;
using bench::bench_clock;
using bench::seconds_since;

/// Peak live heap bytes above the level at construction, while this lives.
struct heap_peak {
    std::int64_t start = live_bytes.load();
    heap_peak() { peak_bytes.store(live_bytes.load()); }
    [[nodiscard]] std::int64_t bytes() const { return peak_bytes.load() - start; }
};

/// A line of /proc/self/status, in kB (0 where there is no /proc).
long status_kb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
    return 0;
}

// --- the workload ----------------------------------------------------------------------------------------

struct workload {
    std::vector<quality::annotation> annotations;
    std::vector<std::string> truth;  // by item number
};

std::string numbered(const char* prefix, std::size_t n, int width) {
    std::string digits = std::to_string(n);
    return prefix + std::string(digits.size() < static_cast<std::size_t>(width) ? width - digits.size() : 0, '0') + digits;
}

/// Workers: 60% good (right 0.85), 25% careless (half the time any label), 5% spammers (always label 0),
/// 10% adversarial (the next label 0.7 of the time). True labels skewed 0.35 / 0.25 / 0.2 / 0.12 / 0.08.
workload make_workload(std::size_t items, std::size_t workers, std::size_t per_item, std::uint64_t seed) {
    constexpr std::size_t K = 5;
    const double priors[K] = {0.35, 0.25, 0.2, 0.12, 0.08};
    std::mt19937_64 rng(seed);
    auto const below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    auto const uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    std::vector<int> kind(workers);
    for (auto& k : kind) {
        double const u = uniform();
        k = u < 0.60 ? 0 : u < 0.85 ? 1 : u < 0.90 ? 2 : 3;
    }
    std::vector<std::string> label_names, worker_names;
    for (std::size_t k = 0; k < K; ++k) label_names.push_back("label" + std::to_string(k));
    for (std::size_t w = 0; w < workers; ++w) worker_names.push_back(numbered("w", w, 4));
    workload out;
    out.annotations.reserve(items * per_item);
    std::vector<std::size_t> chosen;
    for (std::size_t i = 0; i < items; ++i) {
        double u = uniform();
        std::size_t truth = 0;
        while (truth + 1 < K && u >= priors[truth]) u -= priors[truth++];
        out.truth.push_back(label_names[truth]);
        chosen.clear();
        while (chosen.size() < per_item) {
            std::size_t const w = below(workers);
            if (std::find(chosen.begin(), chosen.end(), w) == chosen.end()) chosen.push_back(w);
        }
        auto const item = numbered("item", i, 6);
        for (std::size_t w : chosen) {
            std::size_t answer = truth;
            switch (kind[w]) {
                case 0: answer = uniform() < 0.85 ? truth : (truth + 1 + below(K - 1)) % K; break;
                case 1: answer = uniform() < 0.5 ? truth : below(K); break;
                case 2: answer = 0; break;
                default: answer = uniform() < 0.7 ? (truth + 1) % K : below(K); break;
            }
            out.annotations.push_back({item, worker_names[w], label_names[answer]});
        }
    }
    for (std::size_t i = out.annotations.size(); i > 1; --i) std::swap(out.annotations[i - 1], out.annotations[below(i)]);
    return out;
}

// --- the baseline: the same mathematics over std::map keyed by strings -----------------------------------

namespace baseline {

using label_map = std::map<std::string, double>;

struct result {
    std::map<std::string, label_map> posterior;  // item → label → T
    label_map prior;
};

/// Dawid–Skene as one writes it first: group the answers by item in a map, keep T, the priors and each
/// worker's (log) confusion matrix in maps keyed by the strings themselves.
result dawid_skene(const std::vector<quality::annotation>& annotations, std::size_t rounds, double s, double a) {
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_item;  // item → (worker, label)
    std::set<std::string> labels;
    for (const auto& x : annotations) {
        by_item[x.item].emplace_back(x.worker, x.label);
        labels.insert(x.label);
    }
    auto const K = static_cast<double>(labels.size());
    result r;
    for (const auto& [item, answers] : by_item) {
        auto& t = r.posterior[item];
        for (const auto& l : labels) t[l] = 0;
        for (const auto& [worker, label] : answers) t[label] += 1.0 / static_cast<double>(answers.size());
    }
    std::map<std::string, std::map<std::string, label_map>> log_theta;  // worker → true → given → log θ
    for (std::size_t round = 0; round < rounds; ++round) {
        // M-step.
        label_map mass;
        std::map<std::string, std::map<std::string, label_map>> counts;  // worker → true → given → Σ T
        for (const auto& [item, answers] : by_item) {
            const auto& t = r.posterior[item];
            for (const auto& [k, p] : t) mass[k] += p;
            for (const auto& [worker, label] : answers) {
                auto& c = counts[worker];
                for (const auto& [k, p] : t) c[k][label] += p;
            }
        }
        for (const auto& k : labels) r.prior[k] = (mass[k] + a) / (static_cast<double>(by_item.size()) + K * a);
        log_theta.clear();
        for (auto& [worker, rows] : counts)
            for (const auto& k : labels) {
                auto& row = rows[k];
                double total = K * s;
                for (const auto& l : labels) total += row[l];
                for (const auto& l : labels) log_theta[worker][k][l] = std::log((row[l] + s) / total);
            }
        // E-step.
        for (const auto& [item, answers] : by_item) {
            label_map acc;
            for (const auto& k : labels) {
                double v = std::log(r.prior[k]);
                for (const auto& [worker, label] : answers) v += log_theta[worker][k][label];
                acc[k] = v;
            }
            double top = -INFINITY;
            for (const auto& [k, v] : acc) top = std::max(top, v);
            double sum = 0;
            for (const auto& [k, v] : acc) sum += std::exp(v - top);
            double const log_sum = top + std::log(sum);
            auto& t = r.posterior[item];
            for (const auto& [k, v] : acc) t[k] = std::exp(v - log_sum);
        }
    }
    return r;
}

/// Nominal alpha from per-item label counts in maps.
double krippendorff_alpha(const std::vector<quality::annotation>& annotations) {
    std::map<std::string, std::map<std::string, long>> counts;  // item → label → n_uc
    for (const auto& x : annotations) ++counts[x.item][x.label];
    std::map<std::string, double> n_c;
    double n = 0, agreeing = 0;
    for (const auto& [item, by_label] : counts) {
        long m = 0;
        for (const auto& [label, c] : by_label) m += c;
        if (m < 2) continue;
        for (const auto& [label, c] : by_label) {
            agreeing += static_cast<double>(c * (c - 1)) / static_cast<double>(m - 1);
            n_c[label] += static_cast<double>(c);
        }
        n += static_cast<double>(m);
    }
    double squares = 0;
    for (const auto& [label, c] : n_c) squares += c * c;
    return 1.0 - (n - 1.0) * (n - agreeing) / (n * n - squares);
}

}  // namespace baseline

template <class F>
double median_seconds(std::size_t repeat, F&& f) {
    std::vector<double> runs;
    for (std::size_t r = 0; r < repeat; ++r) {
        auto const t0 = bench_clock::now();
        f();
        runs.push_back(seconds_since(t0));
    }
    return bench::median(runs);
}

/// Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs); harmless where unsupported.
void reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    if (out) out << "5";
}

const char* verdict(bool ok) { return ok ? "PASS" : "MISS"; }

}  // namespace

int main(int argc, char** argv) {
    bool smoke = false;
    std::size_t repeat = 5;
    for (int i = 1; i < argc; ++i) {
        std::string const arg = argv[i];
        if (arg == "--smoke") {
            smoke = true;
        } else if (arg == "--repeat" && i + 1 < argc) {
            repeat = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
        } else {
            std::fprintf(stderr, "usage: quality_benchmark [--smoke] [--repeat R]\n");
            return 2;
        }
    }
    std::size_t const items = smoke ? 4'000 : 200'000, workers = smoke ? 100 : 1'000, per_item = 5;
    if (smoke) repeat = 1;
    constexpr std::size_t rounds = 10;
    quality::dawid_skene_options const ten_rounds{.max_iterations = rounds, .tolerance = 0};

    auto const data = make_workload(items, workers, per_item, 20261122);
    auto const n = static_cast<double>(data.annotations.size());
    std::printf("crowdline quality benchmark%s: %s annotations (%zu items x %zu, %zu workers, 5 labels, string keys,\n"
                "input shuffled); baseline = the same Dawid-Skene / alpha over std::map keyed by strings.\n"
                "Timings: medians of %zu run%s (baseline: 1 run).\n\n",
                smoke ? " (smoke sizes)" : "", bench::with_commas(n).c_str(), items, per_item, workers, repeat,
                repeat == 1 ? "" : "s");

    // End to end first, with memory: the peak of live heap bytes beyond the input while
    // dawid_skene(annotations) runs (its result kept), and the peak RSS growth (VmHWM reset first).
    reset_peak_rss();
    long const rss_before = status_kb("VmRSS:");
    std::int64_t ds_peak = 0;
    double t_ds_total = 0;
    quality::dawid_skene_result<std::string, std::string, std::string> ours;
    {
        std::vector<double> runs;
        for (std::size_t r = 0; r < repeat; ++r) {
            ours = {};
            heap_peak const peak;
            auto const t0 = bench_clock::now();
            ours = quality::dawid_skene(data.annotations, ten_rounds);
            runs.push_back(seconds_since(t0));
            ds_peak = std::max(ds_peak, peak.bytes());
        }
        t_ds_total = bench::median(runs);
    }
    long const hwm_after = status_kb("VmHWM:");

    // Interning alone, then 10 EM rounds on the interned dataset.
    double const t_intern = median_seconds(repeat, [&] { auto d = quality::make_dataset(data.annotations); });
    auto const dataset = quality::make_dataset(data.annotations);
    double const t_em = median_seconds(repeat, [&] { auto r = quality::dawid_skene(dataset, ten_rounds); });

    // Alpha.
    std::optional<double> alpha_ours;
    double const t_alpha_total = median_seconds(repeat, [&] { alpha_ours = quality::krippendorff_alpha(data.annotations); });
    double const t_alpha_dataset = median_seconds(repeat, [&] { alpha_ours = quality::krippendorff_alpha(dataset); });
    // Alpha kept answer by answer (what /metrics reads): every annotation added once, then read once.
    std::optional<double> alpha_running;
    double const t_alpha_running = median_seconds(repeat, [&] {
        quality::running_alpha<std::string, std::string> running;
        for (auto const& a : data.annotations) running.add(a.item, a.label);
        alpha_running = running.value();
    });

    // Accuracy against the planted truth (information).
    auto const votes = quality::majority_vote(dataset);
    std::size_t right_ds = 0, right_mv = 0;
    for (std::size_t i = 0; i < items; ++i) {
        right_ds += ours.items[i].label == data.truth[i];
        right_mv += votes[i].label == data.truth[i];
    }

    // Baseline.
    baseline::result base;
    std::int64_t base_peak = 0;
    double t_base_ds = 0;
    {
        heap_peak const peak;
        auto const t0 = bench_clock::now();
        base = baseline::dawid_skene(data.annotations, rounds, 1.0, 1.0);
        t_base_ds = seconds_since(t0);
        base_peak = peak.bytes();
    }
    double alpha_base = 0;
    double const t_base_alpha = median_seconds(1, [&] { alpha_base = baseline::krippendorff_alpha(data.annotations); });

    // Agreement of the two implementations.
    double max_diff = 0;
    for (std::size_t i = 0; i < ours.items.size(); ++i) {
        const auto& t = base.posterior.at(ours.items[i].item);
        for (std::size_t k = 0; k < ours.labels.size(); ++k)
            max_diff = std::max(max_diff, std::abs(t.at(ours.labels[k]) - ours.posterior(i)[k]));
    }

    std::printf("%-44s %12s %12s %8s\n", "", "crowdline", "baseline", "ratio");
    std::printf("%-44s %11.3fs %12s\n", "make_dataset (intern + group by item)", t_intern, "-");
    std::printf("%-44s %11.3fs %12s\n", "Dawid-Skene, 10 rounds on the dataset", t_em, "-");
    std::printf("%-44s %11.3fs %11.3fs %7.1fx\n", "Dawid-Skene, 10 rounds from the annotations", t_ds_total, t_base_ds,
                t_base_ds / t_ds_total);
    std::printf("%-44s %12.1f %12.1f %7.1fx\n", "  heap beyond the input, bytes/annotation", static_cast<double>(ds_peak) / n,
                static_cast<double>(base_peak) / n, static_cast<double>(base_peak) / static_cast<double>(ds_peak));
    std::printf("%-44s %11.3fs %11.3fs %7.1fx\n", "Krippendorff's alpha from the annotations", t_alpha_total, t_base_alpha,
                t_base_alpha / t_alpha_total);
    std::printf("%-44s %11.3fs %12s\n", "Krippendorff's alpha on the dataset", t_alpha_dataset, "-");
    std::printf("%-44s %11.3fs %12s   (%.0f ns per answer)\n", "Krippendorff's alpha kept answer by answer", t_alpha_running,
                "-", 1e9 * t_alpha_running / n);
    std::printf("\n(information) peak RSS growth over the end-to-end crowdline Dawid-Skene runs: %.1f bytes/annotation "
                "(VmRSS before %ld kB, VmHWM after %ld kB)\n",
                1024.0 * static_cast<double>(std::max(0L, hwm_after - rss_before)) / n, rss_before, hwm_after);
    std::printf("(information) accuracy against the planted labels: Dawid-Skene %.4f, majority vote %.4f; alpha %.4f\n",
                static_cast<double>(right_ds) / static_cast<double>(items), static_cast<double>(right_mv) / static_cast<double>(items),
                alpha_ours.value_or(NAN));
    std::printf("(check) max |posterior difference| crowdline vs baseline: %.3g; alpha %.12f vs %.12f\n\n", max_diff,
                alpha_ours.value_or(NAN), alpha_base);

    if (!smoke) {
        bool const em_ok = t_em <= 2.0, mem_ok = static_cast<double>(ds_peak) / n <= 64.0, alpha_ok = t_alpha_total <= 0.2;
        std::printf("targets (1,000,000 annotations, this machine, Release):\n");
        std::printf("  10 EM rounds <= 2 s: %.3f s on the dataset, %.3f s from the annotations %s\n", t_em, t_ds_total,
                    verdict(em_ok && t_ds_total <= 2.0));
        std::printf("  memory beyond the input <= 64 bytes/annotation: %.1f %s\n", static_cast<double>(ds_peak) / n, verdict(mem_ok));
        std::printf("  alpha <= 0.2 s: %.3f s from the annotations, %.3f s on the dataset %s\n", t_alpha_total, t_alpha_dataset,
                    verdict(alpha_ok));
        std::printf("%s\n", em_ok && mem_ok && alpha_ok && t_ds_total <= 2.0 ? "all targets met" : "some targets missed (see MISS above)");
    }
    if (!(max_diff < 1e-9) || !alpha_ours || std::abs(*alpha_ours - alpha_base) > 1e-12 || alpha_running != alpha_ours) {
        std::printf("error: crowdline and the baseline disagree\n");
        return 1;
    }
    return 0;
}
