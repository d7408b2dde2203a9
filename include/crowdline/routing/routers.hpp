#pragma once
/// The built-in routers: `average_per_task{x}` (with `pick::hash` or `pick::least_loaded`), `no_overlap`,
/// `full_overlap{}` (the workers joined when an item is added) and `full_overlap_of{population, eligible}`
/// (a roster known in advance, those who join later included).

#include <crowdline/errors.hpp>
#include <crowdline/routing/detail/hash.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/types.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace crowdline::routing {

/// How `average_per_task` chooses among candidates: stable by hash of (item, worker), or least loaded.
enum class pick : std::uint8_t { hash, least_loaded };

namespace detail {
[[noreturn]] inline void throw_bad_average(double x) {
    throw crowdline::invalid_argument("crowdline::routing::average_per_task: x must be a number >= 1 and <= 65536 (got " +
                                      std::to_string(x) + ")");
}

/// Appends to `reserve` the `count` candidates with the smallest rank (rank(i) gives a totally ordered value).
template <class Rank>
void append_best(std::span<const candidate> candidates, std::size_t count, Rank rank, std::vector<worker_id>& reserve) {
    if (count >= candidates.size()) {
        for (const auto& c : candidates) reserve.push_back(c.worker);
        return;
    }
    using key = decltype(rank(std::size_t{}));
    constexpr std::size_t small = 8;
    if (count <= small) {  // the usual case: a few units, no allocation
        std::pair<key, std::size_t> best[small];
        std::size_t kept = 0;
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            const std::pair<key, std::size_t> entry{rank(i), i};
            if (kept == count && !(entry < best[kept - 1])) continue;
            std::size_t at = kept < count ? kept++ : count - 1;
            while (at > 0 && entry < best[at - 1]) {
                best[at] = best[at - 1];
                --at;
            }
            best[at] = entry;
        }
        for (std::size_t i = 0; i < kept; ++i) reserve.push_back(candidates[best[i].second].worker);
        return;
    }
    std::vector<std::pair<key, std::size_t>> ranked;
    ranked.reserve(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) ranked.emplace_back(rank(i), i);
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(count), ranked.end());
    for (std::size_t i = 0; i < count; ++i) reserve.push_back(candidates[ranked[i].second].worker);
}
}  // namespace detail

/// x units per item on average: floor(x) on every item, one more on a share frac(x) of items chosen by a
/// stable hash of the item key. Reservations go to the top candidates by rendezvous hash (`pick::hash`:
/// the same key and candidates always give the same workers) or to the least loaded (`pick::least_loaded`).
class average_per_task {
public:
    using policy_kind = kinds::router;

    constexpr average_per_task(double per_task, pick how = pick::hash) : per_task_{per_task}, how_{how} {
        if (!(per_task >= 1.0 && per_task <= 65536.0)) detail::throw_bad_average(per_task);
    }
    template <std::integral I>
    constexpr average_per_task(I per_task, pick how = pick::hash) : average_per_task(static_cast<double>(per_task), how) {}

    /// The average asked for.
    [[nodiscard]] constexpr double per_task() const noexcept { return per_task_; }
    /// The candidate choice.
    [[nodiscard]] constexpr pick how() const noexcept { return how_; }

    /// The unit count of an item: a function of its key alone, so it is the same on every run.
    [[nodiscard]] constexpr std::uint32_t units_for(item_key key) const noexcept {
        const double whole = static_cast<double>(static_cast<std::uint32_t>(per_task_));
        const double fraction = per_task_ - whole;
        const bool extra = detail::unit_interval(detail::mix64(key.value() ^ 0x5851f42d4c957f2dULL)) < fraction;
        return static_cast<std::uint32_t>(whole) + (extra ? 1U : 0U);
    }

    template <class Item>
    std::uint32_t route(item_key key, const Item&, std::span<const candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        const std::uint32_t units = units_for(key);
        if (how_ == pick::hash) {
            detail::append_best(candidates, units, [&](std::size_t i) {
                return ~detail::rendezvous_score(key.value(), static_cast<std::uint64_t>(candidates[i].worker.value()));
            }, reserve);
        } else {
            detail::append_best(candidates, units, [&](std::size_t i) {
                return std::pair{candidates[i].load,
                                 detail::rendezvous_score(key.value(), static_cast<std::uint64_t>(candidates[i].worker.value()))};
            }, reserve);
        }
        return units;
    }

private:
    double per_task_;
    pick how_;
};

/// Whether a router wants a unit added to each of its items for every eligible worker who joins after
/// the item was added (in a pipeline, `task_launcher::unit_for_late_worker` adds them through
/// `dispatcher::grow`). `full_overlap{}` does.
template <class Router>
concept grows_for_late_workers = requires {
    requires Router::grows_for_late_workers;
};

/// One unit per item, reserved by hash: `average_per_task{1}`.
inline constexpr average_per_task no_overlap{1.0};

/// Every eligible worker gets every item once: the unit count is the number of eligible joined workers
/// when the item is added (at least one, left open when nobody is eligible yet), one reserved for each.
/// Workers who join later get theirs too when the dispatcher runs inside a pipeline: its launcher adds one
/// unit reserved for a late worker to each item it lacks (`grows_for_late_workers`, `dispatcher::grow`).
struct full_overlap {
    using policy_kind = kinds::router;
    static constexpr bool grows_for_late_workers = true;

    template <class Item>
    std::uint32_t route(item_key, const Item&, std::span<const candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        for (const auto& c : candidates) reserve.push_back(c.worker);
        return static_cast<std::uint32_t>(std::max<std::size_t>(1, candidates.size()));
    }
};

/// Adaptive overlap (what Toloka sells as "dynamic overlap", here under eligibility): an item starts with
/// `min` units; once each of its units is answered, if the most common answer has a share below
/// `agreement`, one more unit is added, up to `max`. An added unit is open to every worker eligible for the
/// item and routed and stolen like any other (a French item's tie-breaker reads French; nobody gets two
/// units of one item). In a pipeline the launcher tells the dispatcher each answer of the field `field` of
/// a submission (`dispatcher::record_answer`) and adds the unit the dispatcher asks for (`wants_unit`,
/// `grow`): `task_launcher::answered`. Reservations of the first `min` go to the least loaded candidates.
struct adaptive_overlap {
    using policy_kind = kinds::router;
    std::uint32_t min = 2;
    std::uint32_t max = 5;
    double agreement = 0.8;    ///< in (0, 1]: the share of the most common answer that settles an item
    std::string field = "label";  ///< the submission's key whose value is the answer compared

    /// Refuses settings that cannot work, naming the key.
    void validate() const {
        if (min < 1) throw crowdline::invalid_argument("adaptive_overlap.min: must be at least 1");
        if (max < min) throw crowdline::invalid_argument("adaptive_overlap.max: must be at least min");
        if (max > 65536) throw crowdline::invalid_argument("adaptive_overlap.max: at most 65536");
        if (!(agreement > 0.0 && agreement <= 1.0))
            throw crowdline::invalid_argument("adaptive_overlap.agreement: must be in (0, 1]");
        if (field.empty()) throw crowdline::invalid_argument("adaptive_overlap.field: must not be empty");
    }

    template <class Item>
    std::uint32_t route(item_key, const Item&, std::span<const candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        detail::append_best(candidates, min, [&](std::size_t i) {
            return std::pair{candidates[i].load, candidates[i].worker.value()};
        }, reserve);
        return min;
    }

    /// Whether an item of `units` units, `answers` of them answered, the most common answer given `top`
    /// times, wants one more unit: every unit answered, fewer than `max`, and top / answers < agreement.
    [[nodiscard]] bool wants_more(std::uint32_t units, std::uint32_t answers, std::uint32_t top) const noexcept {
        if (units >= max || answers < units || answers == 0) return false;
        return static_cast<double>(top) < agreement * static_cast<double>(answers);
    }
};

/// Whether a router adds units as answers come in (`adaptive_overlap`): the dispatcher keeps each item's
/// answers for it, and the launcher reports them (`task_launcher::answered`).
template <class Router>
concept grows_on_answers = requires(const Router& r, std::uint32_t n) {
    { r.wants_more(n, n, n) } -> std::same_as<bool>;
    { r.field } -> std::convertible_to<std::string const&>;
};

/// Full overlap over a population known in advance (a roster): each item gets one unit per worker of
/// `population` that `eligible(profile, item)` accepts (at least one), whether or not they have joined
/// when the item is added — so those who join later get their unit too (the dispatcher never gives one
/// worker two units of an item). Joined eligible workers reserve theirs. Use the dispatcher's own
/// eligibility rule as `eligible`, or units are made for workers who may never take them.
template <class Profile, class Eligible>
struct full_overlap_of {
    using policy_kind = kinds::router;
    std::vector<Profile> population;
    Eligible eligible;

    template <class Item>
    std::uint32_t route(item_key, const Item& item, std::span<const candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        std::size_t units = 0;
        for (const auto& p : population)
            if (eligible(p, item)) ++units;
        units = std::max<std::size_t>(1, units);
        for (const auto& c : candidates) {
            if (reserve.size() == units) break;
            reserve.push_back(c.worker);
        }
        return static_cast<std::uint32_t>(units);
    }
};
template <class Profile, class Eligible>
full_overlap_of(std::vector<Profile>, Eligible) -> full_overlap_of<Profile, Eligible>;

}  // namespace crowdline::routing
