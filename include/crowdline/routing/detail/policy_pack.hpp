#pragma once
/// Checks and normalises the policies given to `make_dispatcher`: each argument must be a policy, each
/// kind may appear once, and every kind absent is filled with its default, in one Hana map.

#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>

#include <boost/hana/at_key.hpp>
#include <boost/hana/count.hpp>
#include <boost/hana/find.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace crowdline::routing::detail {

namespace hana = boost::hana;

/// The kind of a policy argument: its `policy_kind`, `kinds::router` for a bare router, else void.
template <class P, class Item>
struct kind_of {
    using type = void;
};
template <class P, class Item>
    requires policy<P>
struct kind_of<P, Item> {
    using type = typename P::policy_kind;
};
template <class P, class Item>
    requires(!policy<P> && router<P, Item>)
struct kind_of<P, Item> {
    using type = kinds::router;
};
template <class P, class Item>
using kind_t = typename kind_of<P, Item>::type;

/// Named so that the compiler's note names the argument's position and type.
template <std::size_t Position, class Argument, class Item>
struct make_dispatcher_argument {
    static constexpr bool is_a_routing_policy = policy<Argument> || router<Argument, Item>;
};

#define CROWDLINE_ROUTING_CHECK_ARGUMENT(n)                                                                    \
    static_assert(Position != n || make_dispatcher_argument<Position, Argument, Item>::is_a_routing_policy,   \
                  "crowdline::routing::make_dispatcher: argument " #n                                          \
                  " is not a routing policy (it declares no policy_kind and does not model "                   \
                  "crowdline::routing::router; its type is named in make_dispatcher_argument<position, type>)");

template <std::size_t Position, class Argument, class Item>
consteval bool check_argument() {
    CROWDLINE_ROUTING_CHECK_ARGUMENT(1)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(2)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(3)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(4)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(5)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(6)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(7)
    CROWDLINE_ROUTING_CHECK_ARGUMENT(8)
    static_assert(Position <= 8 || make_dispatcher_argument<Position, Argument, Item>::is_a_routing_policy,
                  "crowdline::routing::make_dispatcher: an argument after the 8th is not a routing policy");
    return make_dispatcher_argument<Position, Argument, Item>::is_a_routing_policy;
}
#undef CROWDLINE_ROUTING_CHECK_ARGUMENT

template <class Item, class... Policies>
consteval bool check_arguments() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return (check_argument<I + 1, Policies, Item>() && ... && true);
    }(std::index_sequence_for<Policies...>{});
}

template <class Kind, class Item, class... Policies>
inline constexpr std::size_t count_kind =
    decltype(hana::count(hana::tuple_t<kind_t<Policies, Item>...>, hana::type_c<Kind>))::value;

template <class Item, class... Policies>
consteval bool check_unique_kinds() {
    static_assert(count_kind<kinds::router, Item, Policies...> <= 1,
                  "crowdline::routing::make_dispatcher: duplicate policy kind: router");
    static_assert(count_kind<kinds::eligibility, Item, Policies...> <= 1,
                  "crowdline::routing::make_dispatcher: duplicate policy kind: eligibility");
    static_assert(count_kind<kinds::stealing, Item, Policies...> <= 1,
                  "crowdline::routing::make_dispatcher: duplicate policy kind: stealing");
    static_assert(count_kind<kinds::options, Item, Policies...> <= 1,
                  "crowdline::routing::make_dispatcher: duplicate policy kind: options");
    return count_kind<kinds::router, Item, Policies...> <= 1 && count_kind<kinds::eligibility, Item, Policies...> <= 1 &&
           count_kind<kinds::stealing, Item, Policies...> <= 1 && count_kind<kinds::options, Item, Policies...> <= 1;
}

/// An eligibility policy is callable as bool(const Profile&, const Item&); for eligible_when, its predicate is.
template <class E, class Profile, class Item>
inline constexpr bool valid_eligibility = std::predicate<const E&, const Profile&, const Item&>;
template <class Pred, class Profile, class Item>
inline constexpr bool valid_eligibility<eligible_when<Pred>, Profile, Item> =
    profile_item_predicate<Pred, Profile, Item>;

/// The built-in stealing policies, each with what its functions need.
template <class S, class Profile, class Item>
inline constexpr bool known_stealing = false;
template <class Profile, class Item>
inline constexpr bool known_stealing<steal_eligible, Profile, Item> = true;
template <class Profile, class Item>
inline constexpr bool known_stealing<no_stealing, Profile, Item> = true;
template <class Pred, class Profile, class Item>
inline constexpr bool known_stealing<steal_when<Pred>, Profile, Item> = true;
template <class K, class P, class Profile, class Item>
inline constexpr bool known_stealing<steal_by_key<K, P>, Profile, Item> = true;

template <class S, class Profile, class Item>
inline constexpr bool valid_stealing = known_stealing<S, Profile, Item>;
template <class Pred, class Profile, class Item>
inline constexpr bool valid_stealing<steal_when<Pred>, Profile, Item> = profile_item_predicate<Pred, Profile, Item>;
template <class K, class P, class Profile, class Item>
inline constexpr bool valid_stealing<steal_by_key<K, P>, Profile, Item> = key_functions<K, P, Profile, Item>;

/// The given policy of a kind, or the default when absent.
template <class Kind, class Map, class Default>
constexpr auto policy_or(const Map& given, Default fallback) {
    return hana::find(given, hana::type_c<Kind>).value_or(std::move(fallback));
}

/// Returned instead of a dispatcher when a static_assert above already failed (keeps the error list short).
struct invalid_dispatcher {};

}  // namespace crowdline::routing::detail
