#pragma once
/// The routing policy kinds and the eligibility, stealing and option policies passed to `make_dispatcher`.

#include <crowdline/model/time.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <limits>
#include <ranges>
#include <string_view>
#include <type_traits>
#include <utility>

namespace crowdline::routing {

/// The four kinds of policy; `make_dispatcher` takes at most one of each.
namespace kinds {
/// Chooses an item's unit count and initial reservations.
struct router {
    static constexpr std::string_view name = "router";
};
/// Says which worker may ever take which item.
struct eligibility {
    static constexpr std::string_view name = "eligibility";
};
/// Says who may take over a unit reserved for someone else.
struct stealing {
    static constexpr std::string_view name = "stealing";
};
/// Leases, idleness and per-worker limits.
struct options {
    static constexpr std::string_view name = "options";
};
}  // namespace kinds

/// A routing policy declares which kind it is, as `using policy_kind = kinds::<kind>;`.
template <class P>
concept policy = requires { typename std::remove_cvref_t<P>::policy_kind; } &&
    (std::same_as<typename std::remove_cvref_t<P>::policy_kind, kinds::router> ||
     std::same_as<typename std::remove_cvref_t<P>::policy_kind, kinds::eligibility> ||
     std::same_as<typename std::remove_cvref_t<P>::policy_kind, kinds::stealing> ||
     std::same_as<typename std::remove_cvref_t<P>::policy_kind, kinds::options>);

/// A predicate over a worker's profile and an item: `pred(const Profile&, const Item&) -> bool`.
template <class Pred, class Profile, class Item>
concept profile_item_predicate = std::copy_constructible<Pred> &&
    std::predicate<const Pred&, const Profile&, const Item&>;

// --- eligibility ---------------------------------------------------------------------------------

/// Default eligibility: every worker may take every item.
struct everyone {
    using policy_kind = kinds::eligibility;
    template <class Profile, class Item>
    constexpr bool operator()(const Profile&, const Item&) const noexcept {
        return true;
    }
};

/// Eligibility by predicate: `pred(profile, item)` must hold for first assignment and for any takeover.
template <class Pred>
struct eligible_when {
    using policy_kind = kinds::eligibility;
    Pred pred;
    template <class Profile, class Item>
    constexpr bool operator()(const Profile& p, const Item& i) const {
        return static_cast<bool>(std::invoke(pred, p, i));
    }
};
template <class Pred>
eligible_when(Pred) -> eligible_when<Pred>;

// --- stealing ------------------------------------------------------------------------------------

/// Default stealing: a worker may take over another's reserved, unstarted unit iff it is eligible for it.
struct steal_eligible {
    using policy_kind = kinds::stealing;
};

/// No takeover: a reserved unit waits for the worker it was reserved for.
struct no_stealing {
    using policy_kind = kinds::stealing;
};

/// Takeover needs eligibility and `pred(stealer_profile, item)`: a stricter rule than first assignment.
/// It scans the pool of stealable units (the unindexed reference for `steal_by_key`).
template <class Pred>
struct steal_when {
    using policy_kind = kinds::stealing;
    Pred pred;
};
template <class Pred>
steal_when(Pred) -> steal_when<Pred>;

/// Eligibility by key, indexed: a worker may take (and take over) an item only when `key_of_item(item)` is
/// among `keys_of_profile(profile)`. Open and stealable units are bucketed by key, oldest first, so a
/// steal looks only at the stealer's buckets.
template <class KeyOfItem, class KeysOfProfile>
struct steal_by_key {
    using policy_kind = kinds::stealing;
    KeyOfItem key_of_item;
    KeysOfProfile keys_of_profile;
};
template <class KeyOfItem, class KeysOfProfile>
steal_by_key(KeyOfItem, KeysOfProfile) -> steal_by_key<KeyOfItem, KeysOfProfile>;

/// True for `steal_by_key<...>`.
template <class S>
inline constexpr bool is_steal_by_key_v = false;
template <class K, class P>
inline constexpr bool is_steal_by_key_v<steal_by_key<K, P>> = true;

/// True for `steal_when<...>`.
template <class S>
inline constexpr bool is_steal_when_v = false;
template <class P>
inline constexpr bool is_steal_when_v<steal_when<P>> = true;

/// `key_of_item(const Item&)` gives a hashable key; `keys_of_profile(const Profile&)` a range of such keys.
template <class KeyOfItem, class KeysOfProfile, class Profile, class Item>
concept key_functions = std::copy_constructible<KeyOfItem> && std::copy_constructible<KeysOfProfile> &&
    std::regular_invocable<const KeyOfItem&, const Item&> &&
    std::regular_invocable<const KeysOfProfile&, const Profile&> &&
    std::ranges::input_range<std::invoke_result_t<const KeysOfProfile&, const Profile&>> &&
    std::convertible_to<
        std::ranges::range_reference_t<std::invoke_result_t<const KeysOfProfile&, const Profile&>>,
        std::remove_cvref_t<std::invoke_result_t<const KeyOfItem&, const Item&>>> &&
    requires(const std::remove_cvref_t<std::invoke_result_t<const KeyOfItem&, const Item&>>& k) {
        { std::hash<std::remove_cvref_t<decltype(k)>>{}(k) } -> std::convertible_to<std::size_t>;
        { k == k } -> std::convertible_to<bool>;
    };

// --- options -------------------------------------------------------------------------------------

/// Leases, idleness and per-worker limits (`options{.lease = std::chrono::minutes{10}}`).
struct options {
    using policy_kind = kinds::options;
    /// How long a grant is leased before `expire` may reclaim it.
    clock::duration lease = std::chrono::minutes{30};
    /// A joined worker silent for longer than this is stolen from first (with those who left).
    clock::duration steal_after = std::chrono::minutes{2};
    /// At most this many units leased to one worker at once.
    std::size_t max_concurrent_per_worker = std::numeric_limits<std::size_t>::max();
    /// At most this many units held or completed by one worker over the campaign.
    std::size_t max_units_per_worker = std::numeric_limits<std::size_t>::max();
};

}  // namespace crowdline::routing
