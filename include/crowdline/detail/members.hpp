#pragma once
/// The one walk over a Hana-reflected struct's members (CROWDLINE_REFLECT, or Hana's own macros):
/// JSON for value types (model/json.hpp) and config binding (config/args.hpp) both go through it, so the
/// Hana machinery is instantiated one way only.

#include <string_view>
#include <type_traits>

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/string.hpp>

namespace crowdline::detail {

/// Whether Hana can enumerate `T`'s members.
template <class T>
inline constexpr bool hana_struct = boost::hana::Struct<std::remove_cv_t<T>>::value;

/// Calls `f(name, member)` for each member of `value`, in declaration order. `name` views a NUL-terminated
/// string (so `name.data()` is a C string); `member` refers into `value`, const when `value` is.
template <class T, class F>
    requires hana_struct<T>
constexpr void for_each_member(T& value, F&& f) {
    boost::hana::for_each(boost::hana::accessors<std::remove_cv_t<T>>(), [&](auto accessor) {
        f(std::string_view(boost::hana::to<char const*>(boost::hana::first(accessor))), boost::hana::second(accessor)(value));
    });
}

}  // namespace crowdline::detail
