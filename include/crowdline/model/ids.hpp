#pragma once
/// Strong id types: one distinct type per entity, so a unit id can never be passed where a worker id
/// is expected.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string_view>

#include <crowdline/fwd.hpp>

namespace crowdline {

/// An integer id tagged with the entity it names. `Tag::name` is used when printing ("unit 42"). `Rep` is
/// `std::int64_t` unless given (the default is in fwd.hpp).
template <class Tag, class Rep>
class strong_id {
public:
    using tag_type = Tag;
    using rep_type = Rep;

    constexpr strong_id() noexcept = default;
    constexpr explicit strong_id(Rep value) noexcept : value_{value} {}

    [[nodiscard]] constexpr Rep value() const noexcept { return value_; }

    friend constexpr bool operator==(strong_id, strong_id) noexcept = default;
    friend constexpr auto operator<=>(strong_id, strong_id) noexcept = default;

    friend std::ostream& operator<<(std::ostream& os, strong_id id) { return os << Tag::name << ' ' << id.value_; }

private:
    Rep value_{};
};

#define CROWDLINE_DETAIL_ID(entity)                                                                            \
    struct entity##_tag {                                                                                      \
        static constexpr std::string_view name = #entity;                                                      \
    };                                                                                                         \
    using entity##_id = strong_id<entity##_tag>;

CROWDLINE_DETAIL_ID(project)
CROWDLINE_DETAIL_ID(task)
CROWDLINE_DETAIL_ID(task_run)
CROWDLINE_DETAIL_ID(assignment)
CROWDLINE_DETAIL_ID(unit)
CROWDLINE_DETAIL_ID(worker)
CROWDLINE_DETAIL_ID(agent)
CROWDLINE_DETAIL_ID(onboarding_agent)
CROWDLINE_DETAIL_ID(requester)
CROWDLINE_DETAIL_ID(qualification)
CROWDLINE_DETAIL_ID(worker_review)

#undef CROWDLINE_DETAIL_ID

/// True for every `strong_id` instantiation.
template <class T>
inline constexpr bool is_strong_id_v = false;
template <class Tag, class Rep>
inline constexpr bool is_strong_id_v<strong_id<Tag, Rep>> = true;

}  // namespace crowdline

template <class Tag, class Rep>
struct std::hash<crowdline::strong_id<Tag, Rep>> {
    std::size_t operator()(crowdline::strong_id<Tag, Rep> id) const noexcept { return std::hash<Rep>{}(id.value()); }
};
