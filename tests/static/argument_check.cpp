// Type-level tests of `crowdline::detail::check_each_argument`, the argument check of `with_mixins` and
// `routing::make_dispatcher`: any number of arguments, positions counted from the entry point's first
// checked argument, a kind seen twice refused.
#include <catch2/catch.hpp>

#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/detail/argument_check.hpp>

#include <cstddef>
#include <type_traits>

namespace {

template <std::size_t N>
struct at {};

/// Accepts `at<N>` at position N only; an argument's kind is its type. Returns verdicts, asserts nothing.
struct position_rule {
    template <class Argument>
    static consteval bool accepts() {
        return std::is_same_v<typename Argument::type, at<Argument::position>>;
    }
    template <class Type>
    using kind = Type;
    template <class Kind>
    static consteval bool unique() {
        return Kind::is_unique;
    }
};

/// Accepts anything; kinds decide.
struct kind_rule : position_rule {
    template <class Argument>
    static consteval bool accepts() {
        return true;
    }
};

/// A mixin with a kind of its own per N.
template <int N>
struct note : crowdline::mixins::gold_units<> {
    struct kind {};
    using mixin_kind = kind;
};

}  // namespace

TEST_CASE("check_each_argument counts positions from the first checked argument, for any number", "[static]") {
    using crowdline::detail::check_each_argument;
    STATIC_REQUIRE(check_each_argument<position_rule, 1>());
    STATIC_REQUIRE(check_each_argument<position_rule, 1, at<1>, at<2>, at<3>>());
    STATIC_REQUIRE(check_each_argument<position_rule, 2, at<2>, at<3>>());
    STATIC_REQUIRE_FALSE(check_each_argument<position_rule, 2, at<1>>());
    STATIC_REQUIRE(check_each_argument<position_rule, 1, at<1>, at<2>, at<3>, at<4>, at<5>, at<6>, at<7>, at<8>,
                                       at<9>, at<10>, at<11>, at<12>>());
    STATIC_REQUIRE_FALSE(check_each_argument<position_rule, 1, at<1>, at<2>, at<3>, at<4>, at<5>, at<6>, at<7>,
                                             at<8>, at<9>, at<10>, at<12>>());
}

TEST_CASE("check_each_argument refuses a kind given twice, naming both positions", "[static]") {
    using crowdline::detail::argument_kind;
    using crowdline::detail::check_each_argument;
    using crowdline::detail::first_index_of;
    STATIC_REQUIRE(check_each_argument<kind_rule, 1, int, long, char>());
    STATIC_REQUIRE_FALSE(check_each_argument<kind_rule, 1, int, long, int>());
    STATIC_REQUIRE_FALSE(check_each_argument<kind_rule, 1, at<1>, at<2>, at<3>, at<4>, at<5>, at<6>, at<7>, at<8>,
                                             at<9>, at<10>, at<2>>());
    STATIC_REQUIRE(first_index_of<int, long, int, int>() == 1);
    STATIC_REQUIRE(argument_kind<int, 3, 3>::is_unique);
    STATIC_REQUIRE_FALSE(argument_kind<int, 2, 4>::is_unique);
}

TEST_CASE("with_mixins takes more than eight mixins", "[static][blueprint]") {
    using composed = decltype(crowdline::with_mixins(crowdline::blueprints::mock{}, note<1>{}, note<2>{}, note<3>{},
                                                     note<4>{}, note<5>{}, note<6>{}, note<7>{}, note<8>{}, note<9>{},
                                                     note<10>{}));
    STATIC_REQUIRE(crowdline::blueprint<composed>);
    STATIC_REQUIRE(crowdline::has_mixin_v<note<10>::kind, composed>);
}
