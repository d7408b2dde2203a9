#pragma once
/// The values the dispatcher hands out and reports: item keys, grants, candidate workers and unit views.

#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace crowdline::routing {

/// Tag of `item_key`; prints as "item 42".
struct item_key_tag {
    static constexpr std::string_view name = "item";
};

/// Names one item (one assignment): the assignment id when the dispatcher runs inside a pipeline.
using item_key = crowdline::strong_id<item_key_tag, std::uint64_t>;

/// One unit handed to a worker, leased until `lease_until`; `stolen_from` names the worker it was reserved for.
struct grant {
    item_key item;
    std::uint32_t unit_index;
    time_point lease_until;
    std::optional<worker_id> stolen_from;

    friend bool operator==(const grant&, const grant&) = default;
};

/// A joined, eligible worker offered to a router, with how much work it already has (reserved + leased).
struct candidate {
    worker_id worker;
    std::size_t load;
};

/// Where a unit is in its life: open (no one reserved), reserved (for `worker`), leased (to `worker`), completed.
enum class unit_state : std::uint8_t { open, reserved, leased, completed };

/// The printable name of a unit state.
constexpr std::string_view to_string(unit_state s) noexcept {
    switch (s) {
        case unit_state::open: return "open";
        case unit_state::reserved: return "reserved";
        case unit_state::leased: return "leased";
        case unit_state::completed: return "completed";
    }
    return "?";
}

/// A read-only snapshot of one unit, for dashboards and tests.
struct unit_view {
    std::uint32_t unit_index;
    unit_state state;
    std::optional<worker_id> worker;        ///< the reserving worker (reserved) or the holder (leased, completed)
    std::optional<time_point> lease_until;  ///< set while leased

    friend bool operator==(const unit_view&, const unit_view&) = default;
};

/// Unit counts over the whole dispatcher, for dashboards.
struct unit_counts {
    std::size_t open = 0;       ///< not reserved, not started
    std::size_t reserved = 0;   ///< reserved for a worker, not started
    std::size_t leased = 0;     ///< handed out, not finished
    std::size_t completed = 0;  ///< done
    std::size_t steals = 0;     ///< grants taken from another worker's reservation so far

    friend bool operator==(const unit_counts&, const unit_counts&) = default;
};

}  // namespace crowdline::routing
