// CROWDLINE_REFLECT: a type it reflects is a Hana Struct that walks, converts to JSON and binds config
// exactly as one reflected with Hana's own macro.
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/keys.hpp>
#include <boost/hana/length.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/detail/members.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/reflect.hpp>

namespace reflect_test {
struct inner {
    int depth = 1;
    std::string label = "x";
};
struct outer {
    std::string name;
    double weight = 0.5;
    std::vector<std::string> tags;
    inner nested;
};
/// The same members, reflected by Hana's macro: the reference behaviour.
struct inner_by_hana {
    int depth = 1;
    std::string label = "x";
};
struct outer_by_hana {
    std::string name;
    double weight = 0.5;
    std::vector<std::string> tags;
    inner nested;
};
}  // namespace reflect_test

/// Named as the caller sees it, not as Hana's namespace would: `empty` is also `boost::hana::empty`.
namespace reflect_test::names {
struct empty {
    int x = 0;
};
}  // namespace reflect_test::names
using reflect_test::names::empty;
CROWDLINE_REFLECT(empty, x);

CROWDLINE_REFLECT(reflect_test::inner, depth, label);
CROWDLINE_REFLECT(reflect_test::outer, name, weight, tags, nested);
BOOST_HANA_ADAPT_STRUCT(reflect_test::inner_by_hana, depth, label);
BOOST_HANA_ADAPT_STRUCT(reflect_test::outer_by_hana, name, weight, tags, nested);

namespace {
using reflect_test::inner;
using reflect_test::inner_by_hana;
using reflect_test::outer;
using reflect_test::outer_by_hana;

template <class T>
std::vector<std::string> member_names(T& value) {
    std::vector<std::string> names;
    crowdline::detail::for_each_member(value, [&](std::string_view name, auto&) { names.emplace_back(name); });
    return names;
}
}  // namespace

TEST_CASE("CROWDLINE_REFLECT makes a Hana Struct whose members walk in declaration order", "[model][reflect]") {
    STATIC_REQUIRE(crowdline::detail::hana_struct<outer>);
    STATIC_REQUIRE(crowdline::detail::hana_struct<inner const>);
    STATIC_REQUIRE(!crowdline::detail::hana_struct<std::string>);
    STATIC_REQUIRE(decltype(boost::hana::length(boost::hana::keys(outer{})))::value == 4);

    outer o{"a", 2.0, {"t"}, {3, "y"}};
    CHECK(member_names(o) == member_names(std::as_const(o)));
    CHECK(member_names(o) == std::vector<std::string>{"name", "weight", "tags", "nested"});
    outer_by_hana h;
    CHECK(member_names(o) == member_names(h));
    empty e;
    CHECK(member_names(e) == std::vector<std::string>{"x"});

    // The walk hands out the members themselves: writable through a mutable object, const through a const one.
    crowdline::detail::for_each_member(o, [](std::string_view name, auto& member) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member)>, double>) {
            CHECK(name == "weight");
            member = 7.5;
        }
    });
    CHECK(o.weight == 7.5);
    crowdline::detail::for_each_member(std::as_const(o), [](std::string_view, auto& member) {
        STATIC_REQUIRE(std::is_const_v<std::remove_reference_t<decltype(member)>>);
    });
}

TEST_CASE("a CROWDLINE_REFLECT type converts to JSON as a Hana-adapted one does", "[model][reflect]") {
    inner i{4, "deep"};
    nlohmann::json j;
    crowdline::to_json(j, i);
    CHECK(j == nlohmann::json{{"depth", 4}, {"label", "deep"}});

    inner_by_hana h{4, "deep"};
    nlohmann::json jh;
    crowdline::to_json(jh, h);
    CHECK(j == jh);

    inner back;
    crowdline::from_json(nlohmann::json{{"depth", 12}, {"label", "back"}}, back);
    CHECK(back.depth == 12);
    CHECK(back.label == "back");
    CHECK_THROWS_WITH(crowdline::from_json(nlohmann::json{{"depth", "deep"}, {"label", "x"}}, back),
                      Catch::Contains("depth"));
}

TEST_CASE("a CROWDLINE_REFLECT args struct binds key=value overrides and names a bad key", "[model][reflect]") {
    outer o;
    crowdline::config::apply_override(o, "nested.depth=9");
    crowdline::config::apply_override(o, "name=run");
    CHECK(o.nested.depth == 9);
    CHECK(o.name == "run");
    CHECK(crowdline::config::dump(o)["nested"]["depth"] == 9);
    CHECK_THROWS_WITH(crowdline::config::apply_override(o, "nested.missing=1"), Catch::Contains("nested.missing"));
    CHECK_THROWS_WITH(crowdline::config::apply_override(o, "weight=heavy"), Catch::Contains("weight"));
}
