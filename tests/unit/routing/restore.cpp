// restore: re-creating items after a restart keeps completed units done, keeps the rule that a worker gets
// one unit per item, reopens the rest to eligible workers, and refuses inconsistent input without a change.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <utility>
#include <vector>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_restore {

using namespace routing_test;
namespace routing = crowdline::routing;
using done_list = std::vector<std::pair<std::uint32_t, worker_id>>;

TEST_CASE("restored items keep their completions and hand out only the rest", "[routing][restore]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{3}, routing::eligible_when{reads_language});
    const worker_id alice{1}, bob{2}, carol{3}, dave{4};
    // Before the restart, alice and bob finished units 0 and 2 of item 7; item 8 was untouched.
    d.restore(item_key{7}, text{"fr"}, 3, done_list{{0, alice}, {2, bob}}, at(0s));
    d.restore(item_key{8}, text{"fr"}, 3, done_list{}, at(0s));
    CHECK(d.completions(item_key{7}) == 2);
    CHECK(d.counts() == routing::unit_counts{.open = 4, .reserved = 0, .leased = 0, .completed = 2, .steals = 0});
    const auto units = d.units_of(item_key{7});
    REQUIRE(units.size() == 3);
    CHECK(units[0] == routing::unit_view{0, routing::unit_state::completed, alice, std::nullopt});
    CHECK(units[1] == routing::unit_view{1, routing::unit_state::open, std::nullopt, std::nullopt});
    CHECK(units[2] == routing::unit_view{2, routing::unit_state::completed, bob, std::nullopt});
    CHECK_FALSE(d.is_joined(alice));  // recorded, not joined
    CHECK(d.item(item_key{7}).lang == "fr");
    CHECK_THROWS_WITH(d.item(item_key{9}), Catch::Contains("unknown item 9"));

    // alice comes back: she may take item 8, never a second unit of item 7.
    d.join(alice, reader{{"fr"}}, at(10s));
    auto a = d.next(alice, 10, at(10s));
    REQUIRE(a.size() == 1);
    CHECK(a[0].item == item_key{8});
    // dave reads no French: nothing. carol does: the open unit of 7 and one of 8.
    d.join(dave, reader{{"de"}}, at(10s));
    CHECK(d.next(dave, 10, at(10s)).empty());
    d.join(carol, reader{{"fr"}}, at(10s));
    auto c = d.next(carol, 10, at(10s));
    std::set<std::uint64_t> got;
    for (const auto& g : c) got.insert(g.item.value());
    CHECK(got == std::set<std::uint64_t>{7, 8});
    for (const auto& g : c) d.complete(carol, g.item, at(11s));
    CHECK(d.completions(item_key{7}) == 3);
    // bob is back: item 8 still has one open unit; item 7 is full.
    d.join(bob, reader{{"fr"}}, at(12s));
    auto b = d.next(bob, 10, at(12s));
    REQUIRE(b.size() == 1);
    CHECK(b[0].item == item_key{8});
}

TEST_CASE("restored completions count against max_units_per_worker", "[routing][restore]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::options{.max_units_per_worker = 2});
    const worker_id alice{1};
    d.restore(item_key{1}, text{"en"}, 1, done_list{{0, alice}}, at(0s));
    d.restore(item_key{2}, text{"en"}, 1, done_list{{0, alice}}, at(0s));
    d.restore(item_key{3}, text{"en"}, 1, done_list{}, at(0s));
    d.join(alice, reader{{"en"}}, at(1s));
    CHECK(d.next(alice, 5, at(1s)).empty());
    d.join(worker_id{2}, reader{{"en"}}, at(1s));
    CHECK(d.next(worker_id{2}, 5, at(1s)).size() == 1);
}

TEST_CASE("restore under steal_by_key files the open units in the item's bucket", "[routing][restore]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2},
                                                    routing::steal_by_key{language_of, languages_of});
    d.restore(item_key{1}, text{"fr"}, 2, done_list{{1, worker_id{9}}}, at(0s));
    d.restore(item_key{2}, text{"en"}, 2, done_list{}, at(0s));
    d.join(worker_id{1}, reader{{"fr"}}, at(1s));
    auto g = d.next(worker_id{1}, 10, at(1s));
    REQUIRE(g.size() == 1);
    CHECK(g[0].item == item_key{1});
    CHECK(g[0].unit_index == 0);
    d.join(worker_id{9}, reader{{"fr", "en"}}, at(1s));
    auto n = d.next(worker_id{9}, 10, at(1s));  // one unit of item 2 (one per item), none of item 1 (it did one)
    REQUIRE(n.size() == 1);
    CHECK(n[0].item == item_key{2});
}

TEST_CASE("restore refuses inconsistent input and changes nothing", "[routing][restore]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    const worker_id alice{1}, bob{2};
    d.restore(item_key{1}, text{"en"}, 2, done_list{}, at(0s));
    const auto before = d.counts();
    const auto items = d.item_count();
    auto refused = [&](item_key k, std::uint32_t n, done_list done, const char* says) {
        CHECK_THROWS_WITH(d.restore(k, text{"en"}, n, done, at(0s)), Catch::Contains(says));
        CHECK(d.counts() == before);
        CHECK(d.item_count() == items);
        CHECK_FALSE(d.is_joined(alice));
    };
    refused(item_key{1}, 2, {}, "was added already");
    refused(item_key{2}, 0, {}, "at least one unit");
    refused(item_key{2}, 2, {{2, alice}}, "out of range");
    refused(item_key{2}, 2, {{0, alice}, {0, bob}}, "completed twice");
    refused(item_key{2}, 2, {{0, alice}, {1, alice}}, "completed two of its units");
    refused(item_key{2}, 1, {{0, alice}, {1, bob}}, "2 completions for 1 units");
    refused(item_key{2}, 70000, {}, "at most 65536");
    CHECK_FALSE(d.contains(item_key{2}));
}

TEST_CASE("restore keeps workers who gave a unit back away from that item", "[routing][restore]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    const worker_id alice{1}, bob{2};
    const std::vector<worker_id> returned{alice};
    d.restore(item_key{1}, text{"en"}, 2, done_list{}, returned, at(0s));
    d.restore(item_key{2}, text{"en"}, 1, done_list{}, at(0s));
    d.join(alice, reader{{"en"}}, at(1s));
    auto g = d.next(alice, 10, at(1s));
    REQUIRE(g.size() == 1);
    CHECK(g[0].item == item_key{2});
    d.join(bob, reader{{"en"}}, at(1s));
    CHECK(d.next(bob, 10, at(1s)).size() == 1);  // one unit of item 1 (one per item)
    CHECK(d.starved() == std::vector<item_key>{item_key{1}});  // its second unit: no one else eligible has joined
}

}  // namespace tu_restore
