#pragma once
/// Chance-corrected agreement between annotators on one single-choice field: Krippendorff's alpha (any
/// number of annotations per item, missing ones allowed), Fleiss' kappa (the same number of annotations on
/// every item) and Cohen's kappa (two named annotators, the items both did). Each takes a range of
/// annotations (see quality/dataset.hpp) or a `quality::dataset`, and returns std::nullopt where the
/// coefficient is not defined instead of a NaN.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/quality/dataset.hpp>

namespace crowdline::quality {

/// Krippendorff's coincidence matrix over the pairable values (items with at least two annotations):
/// `counts[c][k]` = Σ_u n_uc·(n_uk − [c = k]) / (m_u − 1), where n_uc counts label c on item u and m_u is
/// u's number of annotations. `totals[c]` = n_c (row sums), `pairable` = n.. (all pairable values).
template <class Label>
struct coincidence_matrix {
    std::vector<Label> labels;                ///< the dataset's labels, sorted; index c above
    std::vector<std::vector<double>> counts;  ///< labels.size() × labels.size(), symmetric
    std::vector<std::size_t> totals;          ///< n_c
    std::size_t pairable = 0;                 ///< n.. = Σ n_c
    std::size_t items = 0;                    ///< items with at least two annotations
};

template <class Label>
void to_json(nlohmann::json& j, const coincidence_matrix<Label>& m) {
    j = nlohmann::json{{"labels", m.labels}, {"counts", m.counts}, {"totals", m.totals},
                       {"pairable", m.pairable}, {"items", m.items}};
}

/// The coincidence matrix of Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C;
/// items with fewer than two annotations contribute nothing.
template <class Source, class Proj = std::identity>
auto coincidences(Source&& annotations, Proj proj = {}) {
    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    using label_t = typename std::remove_cvref_t<decltype(data)>::label_type;
    const std::size_t labels = data.labels().size();
    coincidence_matrix<label_t> out;
    out.labels = data.labels();
    out.counts.assign(labels, std::vector<double>(labels, 0.0));
    out.totals.assign(labels, 0);
    std::vector<std::size_t> n(labels, 0);
    std::vector<std::size_t> used;
    for (std::size_t i = 0; i < data.items().size(); ++i) {
        auto const entries = data.annotations_of(i);
        if (entries.size() < 2) continue;
        used.clear();
        for (const auto& e : entries)
            if (n[e.label]++ == 0) used.push_back(e.label);
        auto const pairs = static_cast<double>(entries.size() - 1);
        for (std::size_t c : used) {
            for (std::size_t k : used) {
                auto const same = c == k ? std::size_t{1} : std::size_t{0};
                out.counts[c][k] += static_cast<double>(n[c] * (n[k] - same)) / pairs;
            }
            out.totals[c] += n[c];
        }
        for (std::size_t c : used) n[c] = 0;
        out.pairable += entries.size();
        ++out.items;
    }
    return out;
}

/// Krippendorff's alpha, nominal metric: α = 1 − D_o / D_e = 1 − (n − 1) · (n − Σ_c o_cc) / (n² − Σ_c n_c²),
/// from the coincidences o_ck of the pairable values (Krippendorff 2011, "Computing Krippendorff's
/// Alpha-Reliability", section C; any number of annotations per item, items with fewer than two left out).
/// std::nullopt when alpha is not defined: fewer than two pairable values (no item has two annotations), or
/// D_e = 0 (every pairable value is the same label). O(N).
template <class Source, class Proj = std::identity>
std::optional<double> krippendorff_alpha(Source&& annotations, Proj proj = {}) {
    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    const std::size_t labels = data.labels().size();
    std::vector<std::uint64_t> n_c(labels, 0);
    std::vector<std::uint32_t> n(labels, 0);
    std::uint64_t pairable = 0;
    double agreeing = 0;  // Σ_c o_cc
    for (std::size_t i = 0; i < data.items().size(); ++i) {
        auto const entries = data.annotations_of(i);
        if (entries.size() < 2) continue;
        for (const auto& e : entries) ++n[e.label];
        std::uint64_t same_pairs = 0;  // Σ_c n_uc (n_uc − 1)
        for (const auto& e : entries) {
            if (auto& count = n[e.label]; count != 0) {
                same_pairs += std::uint64_t{count} * (count - 1);
                n_c[e.label] += count;
                count = 0;
            }
        }
        agreeing += static_cast<double>(same_pairs) / static_cast<double>(entries.size() - 1);
        pairable += entries.size();
    }
    if (pairable < 2) return std::nullopt;
    std::uint64_t sum_squares = 0;
    for (auto c : n_c) sum_squares += c * c;
    std::uint64_t const expected = pairable * pairable - sum_squares;  // n(n − 1) D_e
    if (expected == 0) return std::nullopt;
    auto const n_values = static_cast<double>(pairable);
    return 1.0 - (n_values - 1.0) * (n_values - agreeing) / static_cast<double>(expected);
}

/// Fleiss' kappa: κ = (P̄ − P̄_e) / (1 − P̄_e), with P_i = (Σ_j n_ij² − n) / (n(n − 1)), P̄ their mean over
/// the N items, p_j = Σ_i n_ij / (N n) and P̄_e = Σ_j p_j² (Fleiss 1971, "Measuring nominal scale agreement
/// among many raters", Psychological Bulletin 76(5)). Every item must carry the same number n of
/// annotations; who gave them does not matter. std::nullopt when kappa is not defined: no items, items with
/// differing numbers of annotations, n < 2, or P̄_e = 1 (every annotation is the same label).
template <class Source, class Proj = std::identity>
std::optional<double> fleiss_kappa(Source&& annotations, Proj proj = {}) {
    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    std::size_t const items = data.items().size();
    if (items == 0) return std::nullopt;
    std::size_t const raters = data.annotations_of(0).size();
    if (raters < 2) return std::nullopt;
    std::vector<std::uint64_t> totals(data.labels().size(), 0);
    std::vector<std::uint32_t> n(data.labels().size(), 0);
    std::uint64_t squares = 0;  // Σ_i Σ_j n_ij²
    for (std::size_t i = 0; i < items; ++i) {
        auto const entries = data.annotations_of(i);
        if (entries.size() != raters) return std::nullopt;
        for (const auto& e : entries) ++n[e.label];
        for (const auto& e : entries) {
            if (auto& count = n[e.label]; count != 0) {
                squares += std::uint64_t{count} * count;
                totals[e.label] += count;
                count = 0;
            }
        }
    }
    std::uint64_t const all = std::uint64_t{items} * raters;
    std::uint64_t totals_squared = 0;
    for (auto t : totals) totals_squared += t * t;
    if (totals_squared == all * all) return std::nullopt;  // P̄_e = 1
    auto const r = static_cast<double>(raters);
    double const p_bar = (static_cast<double>(squares) - static_cast<double>(all)) / (static_cast<double>(items) * r * (r - 1.0));
    double const p_e = static_cast<double>(totals_squared) / (static_cast<double>(all) * static_cast<double>(all));
    return (p_bar - p_e) / (1.0 - p_e);
}

/// Cohen's kappa between workers `a` and `b` over the items both annotated: κ = (p_o − p_e) / (1 − p_e), with
/// p_o the share of those items where they gave the same label and p_e = Σ_k p_a(k) p_b(k) from each
/// one's own label shares (Cohen 1960, "A coefficient of agreement for nominal scales", Educational and
/// Psychological Measurement 20(1)). std::nullopt when kappa is not defined: no item done by both (also when
/// either worker is absent), or p_e = 1 (both gave one and the same label on every shared item). Throws
/// crowdline::invalid_argument when a = b, or when either gave an item more than one label.
template <class Source, class WorkerA, class WorkerB, class Proj = std::identity>
std::optional<double> cohen_kappa(Source&& annotations, const WorkerA& a, const WorkerB& b, Proj proj = {}) {
    auto&& data = detail::as_dataset(std::forward<Source>(annotations), std::move(proj));
    using worker_t = typename std::remove_cvref_t<decltype(data)>::worker_type;
    static_assert(std::is_convertible_v<const WorkerA&, worker_t> && std::is_convertible_v<const WorkerB&, worker_t>,
                  "crowdline::quality::cohen_kappa: the two workers must convert to the annotations' worker type");
    worker_t const first(a), second(b);
    if (first == second)
        throw invalid_argument("crowdline::quality::cohen_kappa: both workers are " + detail::describe(first) +
                               "; expected two different workers");
    auto const wa = data.find_worker(first);
    auto const wb = data.find_worker(second);
    if (!wa || !wb) return std::nullopt;
    std::size_t const labels = data.labels().size();
    std::vector<std::uint64_t> count_a(labels, 0), count_b(labels, 0);
    std::uint64_t shared = 0, agree = 0;
    auto const twice = [&](std::size_t item, const worker_t& w) {
        return invalid_argument("crowdline::quality::cohen_kappa: worker " + detail::describe(w) +
                                " gave item " + detail::describe(data.items()[item]) +
                                " more than one label; expected one label per worker and item");
    };
    for (std::size_t i = 0; i < data.items().size(); ++i) {
        std::optional<std::size_t> la, lb;
        for (const auto& e : data.annotations_of(i)) {
            if (e.worker == *wa) {
                if (la) throw twice(i, first);
                la = e.label;
            } else if (e.worker == *wb) {
                if (lb) throw twice(i, second);
                lb = e.label;
            }
        }
        if (!la || !lb) continue;
        ++shared;
        ++count_a[*la];
        ++count_b[*lb];
        if (*la == *lb) ++agree;
    }
    if (shared == 0) return std::nullopt;
    std::uint64_t chance = 0;  // N² p_e
    for (std::size_t k = 0; k < labels; ++k) chance += count_a[k] * count_b[k];
    if (chance == shared * shared) return std::nullopt;  // p_e = 1
    auto const total = static_cast<double>(shared);
    double const p_o = static_cast<double>(agree) / total;
    double const p_e = static_cast<double>(chance) / (total * total);
    return (p_o - p_e) / (1.0 - p_e);
}

}  // namespace crowdline::quality
