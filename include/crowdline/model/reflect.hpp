#pragma once
/// `CROWDLINE_REFLECT(type, member...)`: makes `type` a Boost.Hana `Struct` (its members, by name, for JSON,
/// config binding and SQLite rows), like `BOOST_HANA_ADAPT_STRUCT`, but lazily: the member table is built
/// by a function template, so a TU that includes the type and never walks it instantiates no Hana code.
/// Hana's own macros build the table in a plain function, which every TU compiles; over the library's
/// 35 reflected types that was ~1.4 s of every `#include <crowdline/crowdline.hpp>` (g++ 12, -O0).
///
/// Written at global scope, after the type, with one member or more (it specialises `boost::hana::accessors_impl`, Hana's
/// documented way to model `Struct`). Types reflected with Hana's own macros work the same everywhere.

#include <boost/hana/accessors.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/preprocessor/seq/enum.hpp>
#include <boost/preprocessor/seq/transform.hpp>
#include <boost/preprocessor/variadic/to_seq.hpp>

/// One `(name, accessor)` pair; the accessor returns the member with the constness and value category
/// of the object it is given.
#define CROWDLINE_DETAIL_REFLECT_MEMBER(s, data, member)                                         \
    ::boost::hana::make_pair(BOOST_HANA_STRING(#member), [](auto&& self) -> decltype(auto) { \
        return (static_cast<decltype(self)&&>(self).member);                                   \
    })

/// Declared from the global scope (not inside `namespace boost::hana`), so `TYPE` is looked up where the
/// macro is written: `detail::x` or a type named like a Hana name (`empty`) mean the caller's.
#define CROWDLINE_REFLECT(TYPE, ...)                                                                       \
    template <>                                                                                            \
    struct boost::hana::accessors_impl<TYPE> {                                                             \
        template <class Lazy = void>                                                                       \
        static constexpr auto apply() {                                                                    \
            return ::boost::hana::make_tuple(BOOST_PP_SEQ_ENUM(                                            \
                BOOST_PP_SEQ_TRANSFORM(CROWDLINE_DETAIL_REFLECT_MEMBER, ~, BOOST_PP_VARIADIC_TO_SEQ(__VA_ARGS__)))); \
        }                                                                                                  \
    };                                                                                                     \
    static_assert(true, "CROWDLINE_REFLECT ends with a semicolon")
