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
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
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

namespace detail {

/// The label indices of each item's annotations, from a dataset.
template <class Data>
struct dataset_labels {
    const Data& data;
    [[nodiscard]] std::size_t items() const { return data.items().size(); }
    [[nodiscard]] std::size_t labels() const { return data.labels().size(); }
    [[nodiscard]] auto of(std::size_t i) const {
        return data.annotations_of(i) | std::views::transform(&Data::entry::label);
    }
};

/// The label indices of each item's annotations, from label_groups.
struct grouped_labels {
    const label_groups& groups;
    [[nodiscard]] std::size_t items() const { return groups.items(); }
    [[nodiscard]] std::size_t labels() const { return groups.labels; }
    [[nodiscard]] std::span<const std::uint32_t> of(std::size_t i) const { return groups.of(i); }
};

/// Calls `f` with the labels grouped by item: the dataset's own, or grouped from the range (items and
/// labels only: no worker keys, no sorting).
template <class Source, class Proj, class F>
auto with_labels_by_item(Source&& source, Proj proj, F f) {
    using source_t = std::remove_cvref_t<Source>;
    if constexpr (is_dataset_v<source_t>) {
        return f(dataset_labels<source_t>{source});
    } else if constexpr (check_annotation_range<Source, Proj>()) {
        auto const groups = group_labels(std::forward<Source>(source), std::move(proj));
        return f(grouped_labels{groups});
    } else {
        return std::optional<double>{};  // not reached: the static_assert above has failed
    }
}

/// Nominal alpha from its integer sums: `pairable` = n (annotations on items with at least two),
/// `sum_squares` = Σ_c n_c², `same_by_size[m]` = Σ_c n_uc (n_uc − 1) over the items u with m annotations.
/// Shared by the batch `krippendorff_alpha` and `running_alpha`, so both give the same double.
inline std::optional<double> alpha_of_counts(std::uint64_t pairable, std::uint64_t sum_squares,
                                             std::span<std::uint64_t const> same_by_size) {
    if (pairable < 2) return std::nullopt;
    std::uint64_t const expected = pairable * pairable - sum_squares;  // n(n − 1) D_e
    if (expected == 0) return std::nullopt;
    double agreeing = 0;  // Σ_c o_cc, summed by item size: the same whatever the order of the items
    for (std::size_t m = 2; m < same_by_size.size(); ++m)
        agreeing += static_cast<double>(same_by_size[m]) / static_cast<double>(m - 1);
    auto const n_values = static_cast<double>(pairable);
    return 1.0 - (n_values - 1.0) * (n_values - agreeing) / static_cast<double>(expected);
}

template <class Labels>
std::optional<double> krippendorff_alpha_of(const Labels& by_item) {
    std::vector<std::uint64_t> n_c(by_item.labels(), 0);
    std::vector<std::uint32_t> n(by_item.labels(), 0);
    std::vector<std::uint64_t> same_by_size;  // [m]: Σ_c n_uc (n_uc − 1) over the items u with m annotations
    std::uint64_t pairable = 0;
    for (std::size_t i = 0; i < by_item.items(); ++i) {
        auto const labels = by_item.of(i);
        auto const m = static_cast<std::size_t>(std::ranges::size(labels));
        if (m < 2) continue;
        for (auto l : labels) ++n[l];
        std::uint64_t same = 0;
        for (auto l : labels) {
            if (auto& count = n[l]; count != 0) {
                same += std::uint64_t{count} * (count - 1);
                n_c[l] += count;
                count = 0;
            }
        }
        if (same_by_size.size() <= m) same_by_size.resize(m + 1, 0);
        same_by_size[m] += same;
        pairable += m;
    }
    std::uint64_t sum_squares = 0;
    for (auto c : n_c) sum_squares += c * c;
    return alpha_of_counts(pairable, sum_squares, same_by_size);
}

template <class Labels>
std::optional<double> fleiss_kappa_of(const Labels& by_item) {
    std::size_t const items = by_item.items();
    if (items == 0) return std::nullopt;
    auto const raters = static_cast<std::size_t>(std::ranges::size(by_item.of(0)));
    if (raters < 2) return std::nullopt;
    std::vector<std::uint64_t> totals(by_item.labels(), 0);
    std::vector<std::uint32_t> n(by_item.labels(), 0);
    std::uint64_t squares = 0;  // Σ_i Σ_j n_ij²
    for (std::size_t i = 0; i < items; ++i) {
        auto const labels = by_item.of(i);
        if (static_cast<std::size_t>(std::ranges::size(labels)) != raters) return std::nullopt;
        for (auto l : labels) ++n[l];
        for (auto l : labels) {
            if (auto& count = n[l]; count != 0) {
                squares += std::uint64_t{count} * count;
                totals[l] += count;
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

}  // namespace detail

/// Krippendorff's alpha, nominal metric: α = 1 − D_o / D_e = 1 − (n − 1) · (n − Σ_c o_cc) / (n² − Σ_c n_c²),
/// from the coincidences o_ck of the pairable values (Krippendorff 2011, "Computing Krippendorff's
/// Alpha-Reliability", section C; any number of annotations per item, items with fewer than two left out).
/// std::nullopt when alpha is not defined: fewer than two pairable values (no item has two annotations), or
/// D_e = 0 (every pairable value is the same label). O(N); from a range it interns only items and labels.
template <class Source, class Proj = std::identity>
std::optional<double> krippendorff_alpha(Source&& annotations, Proj proj = {}) {
    return detail::with_labels_by_item(std::forward<Source>(annotations), std::move(proj),
                                       [](const auto& by_item) { return detail::krippendorff_alpha_of(by_item); });
}

/// Fleiss' kappa: κ = (P̄ − P̄_e) / (1 − P̄_e), with P_i = (Σ_j n_ij² − n) / (n(n − 1)), P̄ their mean over
/// the N items, p_j = Σ_i n_ij / (N n) and P̄_e = Σ_j p_j² (Fleiss 1971, "Measuring nominal scale agreement
/// among many raters", Psychological Bulletin 76(5)). Every item must carry the same number n of
/// annotations; who gave them does not matter. std::nullopt when kappa is not defined: no items, items with
/// differing numbers of annotations, n < 2, or P̄_e = 1 (every annotation is the same label).
template <class Source, class Proj = std::identity>
std::optional<double> fleiss_kappa(Source&& annotations, Proj proj = {}) {
    return detail::with_labels_by_item(std::forward<Source>(annotations), std::move(proj),
                                       [](const auto& by_item) { return detail::fleiss_kappa_of(by_item); });
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
