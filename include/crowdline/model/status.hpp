#pragma once
/// The two state machines of a campaign — units and agents — as constexpr tables. Unlike Mephisto,
/// crowdline enforces them: every store refuses a change that `can_transition` does not allow.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <crowdline/errors.hpp>

namespace crowdline {

/// Where a unit of work is in its life.
enum class unit_status : std::uint8_t { created, launched, assigned, completed, accepted, rejected, soft_rejected, expired };

/// Where a worker's attempt at a unit (an agent) is in its life.
enum class agent_status : std::uint8_t {
    none,
    accepted,
    onboarding,
    waiting,
    in_task,
    completed,
    disconnect,
    timeout,
    partner_disconnect,
    expired,
    returned,
    approved,
    soft_rejected,
    rejected
};

/// A small constexpr set of enum values, indexable by bit.
template <class Enum>
class status_set {
public:
    constexpr status_set() noexcept = default;
    constexpr status_set(std::initializer_list<Enum> values) noexcept {
        for (auto v : values) bits_ |= bit(v);
    }
    [[nodiscard]] constexpr bool contains(Enum v) const noexcept { return (bits_ & bit(v)) != 0; }
    [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
    friend constexpr bool operator==(status_set, status_set) noexcept = default;

private:
    static constexpr std::uint32_t bit(Enum v) noexcept { return std::uint32_t{1} << static_cast<unsigned>(v); }
    std::uint32_t bits_ = 0;
};

namespace detail {

template <class Enum>
struct status_traits;

template <>
struct status_traits<unit_status> {
    static constexpr std::string_view entity = "unit status";
    static constexpr std::array<std::string_view, 8> names{"created",  "launched", "assigned",      "completed",
                                                           "accepted", "rejected", "soft_rejected", "expired"};
};

template <>
struct status_traits<agent_status> {
    static constexpr std::string_view entity = "agent status";
    /// Mephisto's spellings ("in task", "partner disconnect"), so exported data reads the same.
    static constexpr std::array<std::string_view, 14> names{
        "none",       "accepted", "onboarding", "waiting",  "in task",  "completed",     "disconnect",
        "timeout",    "partner disconnect",     "expired",  "returned", "approved",      "soft_rejected",
        "rejected"};
};

}  // namespace detail

/// The stable text of a status, as stored in databases and JSON.
[[nodiscard]] constexpr std::string_view to_string(unit_status s) noexcept {
    return detail::status_traits<unit_status>::names[static_cast<std::size_t>(s)];
}
[[nodiscard]] constexpr std::string_view to_string(agent_status s) noexcept {
    return detail::status_traits<agent_status>::names[static_cast<std::size_t>(s)];
}

/// Parses the text `to_string` gives; nullopt when it names no status.
template <class Enum>
[[nodiscard]] constexpr std::optional<Enum> try_parse(std::string_view text) noexcept {
    constexpr auto& names = detail::status_traits<Enum>::names;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == text) return static_cast<Enum>(i);
    return std::nullopt;
}

/// Parses the text `to_string` gives; throws `invalid_argument` naming the text otherwise.
template <class Enum>
[[nodiscard]] constexpr Enum parse(std::string_view text) {
    if (auto v = try_parse<Enum>(text)) return *v;
    throw invalid_argument(std::string(detail::status_traits<Enum>::entity) + ": unknown value \"" + std::string(text) + '"');
}

namespace detail {

using us = unit_status;
/// Row = from, set = the statuses it may go to (ARCHITECTURE §3).
inline constexpr std::array<status_set<unit_status>, 8> unit_transitions{{
    {us::launched, us::expired},                         // created
    {us::assigned, us::expired},                         // launched
    {us::launched, us::completed, us::expired},          // assigned (→ launched: agent cleared)
    {us::accepted, us::rejected, us::soft_rejected},     // completed
    {},                                                  // accepted: final
    {us::created},                                       // rejected: only when a run is resumed
    {us::created},                                       // soft_rejected: only when a run is resumed
    {us::created},                                       // expired: only when a run is resumed
}};

using as = agent_status;
/// Mephisto's observed flow (registration → onboarding/waiting → in task → completed → review), with
/// every live state allowed to end in disconnect/timeout/returned/expired. Onboarding agents use
/// waiting → approved/rejected for a judged onboarding submission.
inline constexpr std::array<status_set<agent_status>, 14> agent_transitions{{
    {as::accepted, as::onboarding, as::waiting, as::in_task, as::disconnect, as::timeout, as::returned,
     as::expired},                                                                                   // none
    {as::onboarding, as::waiting, as::in_task, as::disconnect, as::timeout, as::returned, as::expired},  // accepted
    {as::waiting, as::in_task, as::disconnect, as::timeout, as::returned, as::expired},                 // onboarding
    {as::in_task, as::approved, as::rejected, as::disconnect, as::timeout, as::returned, as::expired,
     as::partner_disconnect},                                                                        // waiting
    {as::completed, as::disconnect, as::timeout, as::returned, as::expired, as::partner_disconnect},    // in_task
    {as::approved, as::rejected, as::soft_rejected},                                                  // completed
    {},                                                                                              // disconnect
    {},                                                                                              // timeout
    {as::expired},                                                                                   // partner_disconnect
    {},                                                                                              // expired
    {},                                                                                              // returned
    {},                                                                                              // approved
    {},                                                                                              // soft_rejected
    {},                                                                                              // rejected
}};

}  // namespace detail

/// Whether the unit state machine allows `from` → `to`.
[[nodiscard]] constexpr bool can_transition(unit_status from, unit_status to) noexcept {
    return detail::unit_transitions[static_cast<std::size_t>(from)].contains(to);
}

/// Whether the agent state machine allows `from` → `to`.
[[nodiscard]] constexpr bool can_transition(agent_status from, agent_status to) noexcept {
    return detail::agent_transitions[static_cast<std::size_t>(from)].contains(to);
}

namespace unit_statuses {
/// Statuses in which the unit's work is done (Mephisto's `completed` set).
[[nodiscard]] constexpr status_set<unit_status> complete() noexcept {
    return {unit_status::completed, unit_status::accepted, unit_status::rejected, unit_status::soft_rejected};
}
/// Statuses that end a unit's run (Mephisto's `final_unit`: rejected is not final, its work may be redone;
/// expired and soft_rejected leave only through an explicit resume).
[[nodiscard]] constexpr status_set<unit_status> final() noexcept {
    return {unit_status::accepted, unit_status::expired, unit_status::soft_rejected};
}
/// Statuses of a unit still waiting for work (Mephisto's `incomplete`).
[[nodiscard]] constexpr status_set<unit_status> incomplete() noexcept {
    return {unit_status::created, unit_status::launched, unit_status::assigned};
}
}  // namespace unit_statuses

namespace agent_statuses {
/// Statuses in which the agent is done working (Mephisto's `AgentState.complete()`).
[[nodiscard]] constexpr status_set<agent_status> complete() noexcept {
    return {agent_status::completed, agent_status::disconnect, agent_status::timeout,      agent_status::expired,
            agent_status::returned,  agent_status::soft_rejected, agent_status::approved, agent_status::rejected};
}
/// Statuses that never change again (Mephisto's `AgentState.immutable()`).
[[nodiscard]] constexpr status_set<agent_status> final() noexcept {
    return {agent_status::disconnect, agent_status::timeout,       agent_status::expired,
            agent_status::returned,   agent_status::soft_rejected, agent_status::approved};
}
}  // namespace agent_statuses

/// `complete(s)` / `final(s)`: membership tests for either enum.
[[nodiscard]] constexpr bool complete(unit_status s) noexcept { return unit_statuses::complete().contains(s); }
[[nodiscard]] constexpr bool final(unit_status s) noexcept { return unit_statuses::final().contains(s); }
[[nodiscard]] constexpr bool complete(agent_status s) noexcept { return agent_statuses::complete().contains(s); }
[[nodiscard]] constexpr bool final(agent_status s) noexcept { return agent_statuses::final().contains(s); }

}  // namespace crowdline
