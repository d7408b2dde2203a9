// Type-level tests of the routing concepts: each with a type that models it and one that does not.

#include <crowdline/routing/dispatcher.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <span>
#include <string>
#include <vector>

namespace routing = crowdline::routing;

namespace {

struct item {
    std::string lang;
};
struct profile {
    std::set<std::string> langs;
};

struct custom_router {
    std::uint32_t route(routing::item_key, const item&, std::span<const routing::candidate>,
                        std::vector<crowdline::worker_id>&) const {
        return 1;
    }
};
struct router_without_candidates {
    std::uint32_t route(routing::item_key, const item&) const { return 1; }
};
struct router_returning_nothing {
    void route(routing::item_key, const item&, std::span<const routing::candidate>, std::vector<crowdline::worker_id>&) const {}
};
struct declared_router {
    using policy_kind = routing::kinds::router;
};
struct wrong_kind {
    using policy_kind = int;
};

}  // namespace

TEST_CASE("routing::router", "[static][routing]") {
    STATIC_REQUIRE(routing::router<routing::average_per_task, item>);
    STATIC_REQUIRE(routing::router<routing::full_overlap, item>);
    STATIC_REQUIRE(routing::router<custom_router, item>);
    STATIC_REQUIRE_FALSE(routing::router<custom_router, int>);  // route takes a const item&
    STATIC_REQUIRE_FALSE(routing::router<router_without_candidates, item>);
    STATIC_REQUIRE_FALSE(routing::router<router_returning_nothing, item>);
    STATIC_REQUIRE_FALSE(routing::router<int, item>);
}

TEST_CASE("routing::policy", "[static][routing]") {
    STATIC_REQUIRE(routing::policy<routing::average_per_task>);
    STATIC_REQUIRE(routing::policy<routing::full_overlap>);
    STATIC_REQUIRE(routing::policy<routing::everyone>);
    STATIC_REQUIRE(routing::policy<routing::eligible_when<bool (*)(const profile&, const item&)>>);
    STATIC_REQUIRE(routing::policy<routing::steal_eligible>);
    STATIC_REQUIRE(routing::policy<routing::no_stealing>);
    STATIC_REQUIRE(routing::policy<routing::options>);
    STATIC_REQUIRE(routing::policy<declared_router>);
    STATIC_REQUIRE_FALSE(routing::policy<int>);
    STATIC_REQUIRE_FALSE(routing::policy<wrong_kind>);
    STATIC_REQUIRE_FALSE(routing::policy<custom_router>);  // a bare router is accepted by make_dispatcher, but is no declared policy
}

TEST_CASE("routing::profile_item_predicate and key_functions", "[static][routing]") {
    auto reads = [](const profile& p, const item& i) { return p.langs.contains(i.lang); };
    auto wrong_order = [](const item&, const profile&) { return true; };
    STATIC_REQUIRE(routing::profile_item_predicate<decltype(reads), profile, item>);
    STATIC_REQUIRE_FALSE(routing::profile_item_predicate<decltype(wrong_order), profile, item>);

    auto key = [](const item& i) { return i.lang; };
    auto keys = [](const profile& p) { return p.langs; };
    auto not_a_range = [](const profile&) { return 3; };
    struct unhashable {};
    auto bad_key = [](const item&) { return unhashable{}; };
    STATIC_REQUIRE(routing::key_functions<decltype(key), decltype(keys), profile, item>);
    STATIC_REQUIRE_FALSE(routing::key_functions<decltype(key), decltype(not_a_range), profile, item>);
    STATIC_REQUIRE_FALSE(routing::key_functions<decltype(bad_key), decltype(keys), profile, item>);
}

TEST_CASE("make_dispatcher fills defaults and keeps the given policies", "[static][routing]") {
    using d = decltype(routing::make_dispatcher<item, profile>(routing::no_stealing{}, routing::full_overlap{}));
    STATIC_REQUIRE(std::is_same_v<d::router_type, routing::full_overlap>);
    STATIC_REQUIRE(std::is_same_v<d::eligibility_type, routing::everyone>);
    STATIC_REQUIRE(std::is_same_v<d::stealing_type, routing::no_stealing>);
    using e = decltype(routing::make_dispatcher<item, profile>());
    STATIC_REQUIRE(std::is_same_v<e::router_type, routing::average_per_task>);
    STATIC_REQUIRE(std::is_same_v<e::stealing_type, routing::steal_eligible>);
    using f = decltype(routing::make_dispatcher<item, profile>(custom_router{}));
    STATIC_REQUIRE(std::is_same_v<f::router_type, custom_router>);
    STATIC_REQUIRE(std::is_same_v<routing::item_key::rep_type, std::uint64_t>);
    STATIC_REQUIRE(routing::item_key_tag::name == "item");
}
