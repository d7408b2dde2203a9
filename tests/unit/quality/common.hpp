#pragma once
// Shared test vocabulary for the quality measures: a seeded generator (no std distributions, whose output
// differs between standard libraries) and a crowd with planted confusion matrices.

#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/dataset.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace quality_test {

namespace quality = crowdline::quality;

/// mt19937_64's sequence is fixed by the standard; the mappings below are ours, so every platform draws the same.
struct rng {
    std::mt19937_64 engine;
    explicit rng(std::uint64_t seed) : engine(seed) {}
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(engine() % n); }
    double uniform() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }
};

/// How a planted worker answers, given the true label index k of K.
enum class behaviour {
    good,         ///< right with probability 0.9, else one of the other labels uniformly
    careless,     ///< half the time the truth, half the time any label uniformly (right 0.5 + 0.5 / K)
    spammer,      ///< always label 0
    adversarial,  ///< with probability 0.8 the next label ((k + 1) mod K), else any label uniformly
};

inline std::size_t answer(behaviour b, std::size_t truth, std::size_t labels, rng& r) {
    switch (b) {
        case behaviour::good:
            if (r.uniform() < 0.9) return truth;
            return (truth + 1 + r.below(labels - 1)) % labels;
        case behaviour::careless:
            if (r.uniform() < 0.5) return truth;
            return r.below(labels);
        case behaviour::spammer: return 0;
        case behaviour::adversarial:
            if (r.uniform() < 0.8) return (truth + 1) % labels;
            return r.below(labels);
    }
    return truth;
}

/// P(right answer) of a planted worker when true labels follow `priors`.
inline double planted_accuracy(behaviour b, const std::vector<double>& priors) {
    auto const K = static_cast<double>(priors.size());
    switch (b) {
        case behaviour::good: return 0.9;
        case behaviour::careless: return 0.5 + 0.5 / K;
        case behaviour::spammer: return priors[0];
        case behaviour::adversarial: return 0.2 / K;
    }
    return 0;
}

inline std::string label_name(std::size_t k) { return std::string(1, static_cast<char>('a' + k)); }

inline std::string numbered(const char* prefix, std::size_t n) {
    std::string digits = std::to_string(n);
    return prefix + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

/// A crowd: items with true labels drawn from `priors`, each answered by `per_item` distinct workers drawn
/// uniformly from the population.
struct planted_crowd {
    std::vector<double> priors;
    std::vector<behaviour> workers;           // worker w is numbered("w", w)
    std::vector<std::size_t> truth;           // item i is numbered("item", i)
    std::vector<quality::annotation> annotations;

    planted_crowd(std::vector<double> label_priors, std::vector<behaviour> population, std::size_t items,
                  std::size_t per_item, std::uint64_t seed)
        : priors(std::move(label_priors)), workers(std::move(population)) {
        rng r(seed);
        std::size_t const K = priors.size();
        truth.reserve(items);
        for (std::size_t i = 0; i < items; ++i) {
            double u = r.uniform();
            std::size_t k = 0;
            while (k + 1 < K && u >= priors[k]) u -= priors[k++];
            truth.push_back(k);
            std::vector<std::size_t> chosen;
            while (chosen.size() < per_item) {
                std::size_t const w = r.below(workers.size());
                if (std::find(chosen.begin(), chosen.end(), w) == chosen.end()) chosen.push_back(w);
            }
            for (std::size_t w : chosen)
                annotations.push_back({numbered("item", i), numbered("w", w), label_name(answer(workers[w], k, K, r))});
        }
    }

    /// Share of items whose estimated label (a range of {item, label} in ascending item order) is the truth.
    template <class Estimates>
    double accuracy(const Estimates& estimates) const {
        std::size_t right = 0;
        for (std::size_t i = 0; i < estimates.size(); ++i) {
            REQUIRE(estimates[i].item == numbered("item", i));
            if (estimates[i].label == label_name(truth[i])) ++right;
        }
        return static_cast<double>(right) / static_cast<double>(truth.size());
    }
};

/// The standard population of the recovery tests: 10 good, 10 careless, 5 spammers, 10 adversarial.
inline std::vector<behaviour> mixed_population() {
    std::vector<behaviour> out;
    for (int i = 0; i < 10; ++i) out.push_back(behaviour::good);
    for (int i = 0; i < 10; ++i) out.push_back(behaviour::careless);
    for (int i = 0; i < 5; ++i) out.push_back(behaviour::spammer);
    for (int i = 0; i < 10; ++i) out.push_back(behaviour::adversarial);
    return out;
}

/// Every probability of a Dawid–Skene result is finite, in [0, 1], and each distribution sums to 1.
template <class Result>
void require_well_formed(const Result& r) {
    std::size_t const K = r.labels.size();
    double prior_sum = 0;
    for (double p : r.class_priors) {
        REQUIRE(std::isfinite(p));
        REQUIRE(p > 0.0);
        prior_sum += p;
    }
    REQUIRE(prior_sum == Approx(1.0).margin(1e-12));
    REQUIRE(r.posteriors.size() == r.items.size() * K);
    for (std::size_t i = 0; i < r.items.size(); ++i) {
        double sum = 0;
        for (double p : r.posterior(i)) {
            REQUIRE(std::isfinite(p));
            REQUIRE(p >= 0.0);
            sum += p;
        }
        REQUIRE(sum == Approx(1.0).margin(1e-9));
        REQUIRE(std::isfinite(r.items[i].confidence));
    }
    for (const auto& w : r.workers) {
        REQUIRE(std::isfinite(w.accuracy));
        REQUIRE(w.accuracy > 0.0);
        REQUIRE(w.accuracy < 1.0 + 1e-12);
        REQUIRE(w.confusion.size() == K);
        for (const auto& row : w.confusion) {
            double sum = 0;
            for (double p : row) {
                REQUIRE(std::isfinite(p));
                REQUIRE(p > 0.0);
                sum += p;
            }
            REQUIRE(sum == Approx(1.0).margin(1e-12));
        }
    }
    REQUIRE(std::isfinite(r.log_likelihood));
    REQUIRE(std::isfinite(r.log_posterior));
}

}  // namespace quality_test
