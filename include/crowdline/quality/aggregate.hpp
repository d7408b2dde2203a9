#pragma once
/// One label per item from many annotators' answers: the majority vote (ties reported, not hidden) and
/// Dawid–Skene (EM over a confusion matrix per worker: a posterior over labels per item, an estimated
/// accuracy per worker). Each takes a range of annotations (see quality/dataset.hpp) or a
/// `quality::dataset`. Single-threaded; nothing prints.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/quality/dataset.hpp>

namespace crowdline::quality {

// --- majority vote ---------------------------------------------------------------------------------------

/// The majority label of one item. On a tie `label` is the smallest of the tied labels and `tie` is set.
template <class Item, class Label>
struct item_majority {
    Item item;
    Label label;
    std::size_t votes = 0;        ///< annotations giving `label`
    std::size_t annotations = 0;  ///< annotations of the item
    double share = 0;             ///< votes / annotations
    bool tie = false;             ///< another label has as many votes

    friend bool operator==(const item_majority&, const item_majority&) = default;
};

template <class Item, class Label>
void to_json(nlohmann::json& j, const item_majority<Item, Label>& m) {
    j = nlohmann::json{{"item", m.item},   {"label", m.label}, {"votes", m.votes}, {"annotations", m.annotations},
                       {"share", m.share}, {"tie", m.tie}};
}

/// Majority vote per item: the label with the most annotations, `share` = its votes / the item's
/// annotations. Ties are reported (`tie = true`) and resolved to the smallest tied label, so the result
/// does not depend on input order. Items in ascending key order. O(N + items × labels).
template <class Source, class Proj = std::identity>
auto majority_vote(Source&& annotations, Proj proj = {}) {
    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    using data_t = std::remove_cvref_t<decltype(data)>;
    using result_t = item_majority<typename data_t::item_type, typename data_t::label_type>;
    std::vector<result_t> out;
    out.reserve(data.items().size());
    std::vector<std::size_t> votes(data.labels().size(), 0);
    for (std::size_t i = 0; i < data.items().size(); ++i) {
        auto const entries = data.annotations_of(i);
        for (const auto& e : entries) ++votes[e.label];
        std::size_t top = 0;
        for (const auto& e : entries) top = std::max(top, votes[e.label]);
        std::size_t best = data.labels().size(), at_top = 0;  // smallest label with `top` votes; how many have it
        for (const auto& e : entries) {
            auto& v = votes[e.label];
            if (v == top) {
                ++at_top;
                best = std::min<std::size_t>(best, e.label);
            }
            v = 0;
        }
        bool const tie = at_top > 1;
        out.push_back({data.items()[i], data.labels()[best], top, entries.size(),
                       static_cast<double>(top) / static_cast<double>(entries.size()), tie});
    }
    return out;
}

// --- Dawid–Skene -----------------------------------------------------------------------------------------

/// How Dawid–Skene runs. Both pseudo-counts must be > 0: they keep every probability above zero, so a
/// worker with one answer or a label nobody used gives no NaN.
struct dawid_skene_options {
    std::size_t max_iterations = 100;  ///< cap on EM rounds (each an M-step then an E-step); at least 1
    double tolerance = 1e-7;           ///< stop when |ΔL| ≤ tolerance · |L|, L the log posterior below
    double smoothing = 1.0;            ///< pseudo-count added to every confusion-matrix cell (Laplace)
    double prior_smoothing = 1.0;      ///< pseudo-count added to every class prior
};

inline void to_json(nlohmann::json& j, const dawid_skene_options& o) {
    j = nlohmann::json{{"max_iterations", o.max_iterations}, {"tolerance", o.tolerance}, {"smoothing", o.smoothing},
                       {"prior_smoothing", o.prior_smoothing}};
}

/// One item's estimate: the label of highest posterior (the smallest such label on a tie) and that
/// posterior. The full posterior is `dawid_skene_result::posterior(i)`.
template <class Item, class Label>
struct item_estimate {
    Item item;
    Label label;
    double confidence = 0;  ///< posterior probability of `label`

    friend bool operator==(const item_estimate&, const item_estimate&) = default;
};

/// One worker's estimate: `confusion[k][l]` = P(answers label l | true label k), each row summing to 1;
/// `accuracy` = Σ_k π_k · confusion[k][k], the chance of a right answer on an item drawn from the priors.
template <class Worker>
struct worker_estimate {
    Worker worker;
    std::size_t annotations = 0;
    double accuracy = 0;
    std::vector<std::vector<double>> confusion;

    friend bool operator==(const worker_estimate&, const worker_estimate&) = default;
};

/// What Dawid–Skene found. Label index k everywhere is a position in `labels` (sorted ascending).
template <class Item, class Worker, class Label>
struct dawid_skene_result {
    std::vector<Label> labels;
    std::vector<double> class_priors;                  ///< π_k
    std::vector<item_estimate<Item, Label>> items;     ///< ascending item keys
    std::vector<worker_estimate<Worker>> workers;      ///< ascending worker keys
    std::vector<double> posteriors;                    ///< items.size() × labels.size(), row i = item i
    std::size_t iterations = 0;                        ///< EM rounds run
    bool converged = false;                            ///< true: stopped on tolerance; false: hit max_iterations
    double log_likelihood = 0;                         ///< Σ_i log P(answers of item i), at the final parameters
    double log_posterior = 0;                          ///< log_likelihood + log prior of the pseudo-counts (what EM raises)

    /// The posterior over `labels` of item i.
    [[nodiscard]] std::span<const double> posterior(std::size_t i) const {
        return {posteriors.data() + i * labels.size(), labels.size()};
    }
};

template <class Item, class Label>
void to_json(nlohmann::json& j, const item_estimate<Item, Label>& e) {
    j = nlohmann::json{{"item", e.item}, {"label", e.label}, {"confidence", e.confidence}};
}

template <class Worker>
void to_json(nlohmann::json& j, const worker_estimate<Worker>& w) {
    j = nlohmann::json{{"worker", w.worker}, {"annotations", w.annotations}, {"estimated_accuracy", w.accuracy},
                       {"confusion", w.confusion}};
}

/// The result as one object: labels, class_priors, iterations, converged, log_likelihood, log_posterior,
/// items (each with its posterior), workers.
template <class Item, class Worker, class Label>
void to_json(nlohmann::json& j, const dawid_skene_result<Item, Worker, Label>& r) {
    auto items = nlohmann::json::array();
    for (std::size_t i = 0; i < r.items.size(); ++i) {
        nlohmann::json item = r.items[i];
        auto const p = r.posterior(i);
        item["posterior"] = std::vector<double>(p.begin(), p.end());
        items.push_back(std::move(item));
    }
    j = nlohmann::json{{"labels", r.labels},
                       {"class_priors", r.class_priors},
                       {"iterations", r.iterations},
                       {"converged", r.converged},
                       {"log_likelihood", r.log_likelihood},
                       {"log_posterior", r.log_posterior},
                       {"items", std::move(items)},
                       {"workers", r.workers}};
}

/// Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM algorithm",
/// Applied Statistics 28(1). Each worker w has a confusion matrix θ_w[k][l] = P(w answers l | true label k);
/// labels have priors π_k. Starts from the soft majority vote (T_ik = share of item i's annotations giving
/// k), then repeats:
///   M-step  π_k = (Σ_i T_ik + a) / (I + K a);
///           θ_w[k][l] = (Σ_{i: w answered l} T_ik + s) / (Σ_{i answered by w} T_ik + K s)
///   E-step  T_ik ∝ π_k Π_{(w, l) on i} θ_w[k][l]   (in logs, normalised with log-sum-exp)
/// with s = `smoothing`, a = `prior_smoothing` (Dirichlet pseudo-counts: MAP rather than ML, which keeps a
/// one-answer worker's matrix near uniform and every probability finite). A worker who labels an item
/// twice counts twice, as in the paper. Stops when the log posterior
/// L = Σ_i log Σ_k π_k Π θ_w[k][l] + s Σ log θ + a Σ log π changes by at most tolerance · |L| between two
/// rounds (`converged`), or after max_iterations rounds. Each round is O(N K + W K²). Throws
/// crowdline::invalid_argument on options out of range.
template <class Source, class Proj = std::identity>
auto dawid_skene(Source&& annotations, const dawid_skene_options& options = {}, Proj proj = {}) {
    if (options.max_iterations == 0)
        throw invalid_argument("crowdline::quality::dawid_skene: max_iterations is 0; expected at least 1");
    if (!(options.smoothing > 0) || !std::isfinite(options.smoothing))
        throw invalid_argument("crowdline::quality::dawid_skene: smoothing is " + std::to_string(options.smoothing) +
                               "; expected a finite value > 0");
    if (!(options.prior_smoothing > 0) || !std::isfinite(options.prior_smoothing))
        throw invalid_argument("crowdline::quality::dawid_skene: prior_smoothing is " +
                               std::to_string(options.prior_smoothing) + "; expected a finite value > 0");
    if (!(options.tolerance >= 0) || !std::isfinite(options.tolerance))
        throw invalid_argument("crowdline::quality::dawid_skene: tolerance is " + std::to_string(options.tolerance) +
                               "; expected a finite value >= 0");

    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    using data_t = std::remove_cvref_t<decltype(data)>;
    dawid_skene_result<typename data_t::item_type, typename data_t::worker_type, typename data_t::label_type> out;

    std::size_t const K = data.labels().size();
    std::size_t const I = data.items().size();
    std::size_t const W = data.workers().size();
    out.labels = data.labels();
    if (I == 0) {
        out.class_priors.assign(K, K == 0 ? 0.0 : 1.0 / static_cast<double>(K));
        out.converged = true;
        return out;
    }

    // T: the posteriors, soft majority vote to start.
    std::vector<double>& T = out.posteriors;
    T.assign(I * K, 0.0);
    for (std::size_t i = 0; i < I; ++i) {
        auto const entries = data.annotations_of(i);
        double const share = 1.0 / static_cast<double>(entries.size());
        for (const auto& e : entries) T[i * K + e.label] += share;
    }

    double const s = options.smoothing;
    double const a = options.prior_smoothing;
    std::vector<double> log_prior(K);
    std::vector<double> counts(W * K * K);     // [w][l][k]: Σ T_ik over w's answers l
    std::vector<double> log_theta(W * K * K);  // [w][l][k]: log θ_w[k][l]
    std::vector<double> row_total(W * K);      // [w][k]: Σ_l counts + K s
    std::vector<double> acc(K);
    double previous = 0;

    for (std::size_t round = 1; round <= options.max_iterations; ++round) {
        // M-step.
        std::fill(counts.begin(), counts.end(), 0.0);
        std::vector<double> mass(K, 0.0);
        for (std::size_t i = 0; i < I; ++i) {
            double const* t = T.data() + i * K;
            for (std::size_t k = 0; k < K; ++k) mass[k] += t[k];
            for (const auto& e : data.annotations_of(i)) {
                double* c = counts.data() + (std::size_t{e.worker} * K + e.label) * K;
                for (std::size_t k = 0; k < K; ++k) c[k] += t[k];
            }
        }
        double penalty = 0;
        double const prior_total = static_cast<double>(I) + static_cast<double>(K) * a;
        for (std::size_t k = 0; k < K; ++k) {
            log_prior[k] = std::log((mass[k] + a) / prior_total);
            penalty += a * log_prior[k];
        }
        for (std::size_t w = 0; w < W; ++w) {
            double* total = row_total.data() + w * K;
            std::fill(total, total + K, static_cast<double>(K) * s);
            for (std::size_t l = 0; l < K; ++l) {
                double const* c = counts.data() + (w * K + l) * K;
                for (std::size_t k = 0; k < K; ++k) total[k] += c[k];
            }
            for (std::size_t l = 0; l < K; ++l) {
                double const* c = counts.data() + (w * K + l) * K;
                double* lt = log_theta.data() + (w * K + l) * K;
                for (std::size_t k = 0; k < K; ++k) {
                    lt[k] = std::log((c[k] + s) / total[k]);
                    penalty += s * lt[k];
                }
            }
        }

        // E-step.
        double log_likelihood = 0;
        for (std::size_t i = 0; i < I; ++i) {
            std::copy(log_prior.begin(), log_prior.end(), acc.begin());
            for (const auto& e : data.annotations_of(i)) {
                double const* lt = log_theta.data() + (std::size_t{e.worker} * K + e.label) * K;
                for (std::size_t k = 0; k < K; ++k) acc[k] += lt[k];
            }
            double const top = *std::max_element(acc.begin(), acc.end());
            double sum = 0;
            for (std::size_t k = 0; k < K; ++k) sum += std::exp(acc[k] - top);
            double const log_sum = top + std::log(sum);
            log_likelihood += log_sum;
            double* t = T.data() + i * K;
            for (std::size_t k = 0; k < K; ++k) t[k] = std::exp(acc[k] - log_sum);
        }

        double const objective = log_likelihood + penalty;
        out.iterations = round;
        out.log_likelihood = log_likelihood;
        out.log_posterior = objective;
        if (round > 1 && std::abs(objective - previous) <= options.tolerance * std::abs(objective)) {
            out.converged = true;
            break;
        }
        previous = objective;
    }

    // The parameters of the last M-step (the ones the final posteriors come from).
    out.class_priors.resize(K);
    for (std::size_t k = 0; k < K; ++k) out.class_priors[k] = std::exp(log_prior[k]);
    out.items.reserve(I);
    for (std::size_t i = 0; i < I; ++i) {
        double const* t = T.data() + i * K;
        std::size_t best = 0;
        for (std::size_t k = 1; k < K; ++k)
            if (t[k] > t[best]) best = k;
        out.items.push_back({data.items()[i], data.labels()[best], t[best]});
    }
    std::vector<std::size_t> answered(W, 0);
    for (std::size_t i = 0; i < I; ++i)
        for (const auto& e : data.annotations_of(i)) ++answered[e.worker];
    out.workers.reserve(W);
    for (std::size_t w = 0; w < W; ++w) {
        worker_estimate<typename data_t::worker_type> est{data.workers()[w], answered[w], 0.0,
                                                          std::vector<std::vector<double>>(K, std::vector<double>(K))};
        for (std::size_t k = 0; k < K; ++k) {
            for (std::size_t l = 0; l < K; ++l)
                est.confusion[k][l] = std::exp(log_theta[(w * K + l) * K + k]);
            est.accuracy += out.class_priors[k] * est.confusion[k][k];
        }
        out.workers.push_back(std::move(est));
    }
    return out;
}

}  // namespace crowdline::quality
