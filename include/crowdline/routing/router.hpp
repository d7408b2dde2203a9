#pragma once
/// The `router` concept: what a type must offer to choose an item's unit count and initial reservations.

#include <crowdline/routing/types.hpp>

#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

namespace crowdline::routing {

/// A router decides, when an item is added, how many units it needs and which candidates reserve them.
/// `route(key, item, candidates, reserve)` returns the unit count (>= 1) and appends at most that many
/// distinct workers, each taken from `candidates` (joined, eligible workers), to `reserve`. Units left
/// without a reservation are open to every eligible worker. Models: `average_per_task`, `full_overlap`;
/// not a model: a type whose `route` returns nothing, or that takes no candidates.
template <class R, class Item>
concept router = std::move_constructible<R> &&
    requires(const R& r, item_key key, const Item& item, std::span<const candidate> candidates,
             std::vector<worker_id>& reserve) {
        { r.route(key, item, candidates, reserve) } -> std::convertible_to<std::uint32_t>;
    };

}  // namespace crowdline::routing
