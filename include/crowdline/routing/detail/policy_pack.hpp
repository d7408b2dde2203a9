#pragma once
/// Checks and normalises the policies given to `make_dispatcher`: each argument must be a policy, each
/// kind may appear once (both checked by `crowdline::detail::check_each_argument`), and every kind absent
/// is filled with its default, in one Hana map.

#include <crowdline/detail/argument_check.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>

#include <boost/hana/at_key.hpp>
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

/// `make_dispatcher`'s rule for `check_each_argument`: every argument is a policy or a router, each kind once.
template <class Item>
struct make_dispatcher_arguments {
    template <class Argument>
    static consteval bool accepts() {
        constexpr bool is_a_routing_policy = policy<typename Argument::type> || router<typename Argument::type, Item>;
        static_assert(is_a_routing_policy,
                      "crowdline::routing::make_dispatcher: an argument is not a routing policy (it declares no "
                      "policy_kind and does not model crowdline::routing::router); the note naming "
                      "crowdline::detail::argument<position, type> says which");
        return is_a_routing_policy;
    }

    template <class Policy>
    using kind = kind_t<Policy, Item>;

    template <class Kind>
    static consteval bool unique() {
        static_assert(Kind::is_unique,
                      "crowdline::routing::make_dispatcher: duplicate policy kind (two arguments of one kind, e.g. two "
                      "routers); the note naming crowdline::detail::argument_kind<kind, first position, position> says "
                      "which");
        return Kind::is_unique;
    }
};

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
