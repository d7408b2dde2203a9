// dispatcher::grow (one more unit on an item already added) and next_item_without (where a worker who
// joined late still lacks a unit): the added unit is routed, stolen, completed and refused like any other.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <set>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_grow {

using namespace routing_test;
namespace routing = crowdline::routing;
using routing::unit_state;

namespace {
auto make() {
    return routing::make_dispatcher<text, reader>(routing::no_overlap, routing::eligible_when{reads_language},
                                                  routing::steal_eligible{});
}
}  // namespace

TEST_CASE("grow: an open unit goes to a second eligible worker, never to the one who did the item", "[routing][grow]") {
    auto d = make();
    d.join(worker_id{1}, reader{{"fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    auto first = take_and_finish(d, worker_id{1}, 1, at(1s));
    REQUIRE(first.size() == 1);

    CHECK(d.grow(item_key{1}, std::nullopt, at(2s)) == 1);  // the next unit_index
    auto units = d.units_of(item_key{1});
    REQUIRE(units.size() == 2);
    CHECK(units[0].state == unit_state::completed);
    CHECK(units[1].state == unit_state::open);
    CHECK(d.counts().open == 1);
    CHECK(d.next(worker_id{1}, 5, at(3s)).empty());  // worker 1 did the item: never a second unit of it
    CHECK(d.starved() == std::vector<item_key>{item_key{1}});  // nobody else reads French yet

    d.join(worker_id{2}, reader{{"en"}}, at(4s));
    CHECK(d.next(worker_id{2}, 5, at(4s)).empty());  // not eligible
    d.join(worker_id{3}, reader{{"fr", "en"}}, at(5s));
    CHECK(d.starved().empty());
    auto second = d.next(worker_id{3}, 5, at(5s));
    REQUIRE(second.size() == 1);
    CHECK(second[0].item == item_key{1});
    CHECK(second[0].unit_index == 1);
    d.complete(worker_id{3}, item_key{1}, at(6s));
    CHECK(d.completions(item_key{1}) == 2);
    CHECK(d.counts().completed == 2);
}

TEST_CASE("grow: a unit reserved for a named worker is served to it first, and stolen like any reservation",
          "[routing][grow]") {
    auto d = make();
    d.join(worker_id{1}, reader{{"fr"}}, at(0s));
    d.join(worker_id{2}, reader{{"fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    d.add(item_key{2}, text{"fr"}, at(0s));
    auto const owner = d.units_of(item_key{2})[0].worker;
    REQUIRE(owner);
    worker_id const other{owner->value() == 1 ? 2 : 1};

    CHECK(d.grow(item_key{2}, other, at(1s)) == 1);
    CHECK(d.units_of(item_key{2})[1].state == unit_state::reserved);
    CHECK(d.units_of(item_key{2})[1].worker == other);
    CHECK(d.queue_length(other) >= 1);

    SECTION("its owner takes it") {
        bool got = false;
        for (auto const& g : d.next(other, 5, at(2s))) got |= g.item == item_key{2} && g.unit_index == 1;
        CHECK(got);
    }
    SECTION("its owner leaves: a third eligible worker takes it over") {
        d.leave(other, at(2s));
        d.join(worker_id{3}, reader{{"fr"}}, at(2s));
        std::set<std::pair<std::uint64_t, std::uint32_t>> got;
        for (auto const& g : d.next(worker_id{3}, 5, at(3s))) {
            got.insert({g.item.value(), g.unit_index});
            if (g.item == item_key{2} && g.unit_index == 1) CHECK(g.stolen_from == other);
        }
        CHECK(got.contains({2, 1}));
        CHECK(d.counts().steals >= 1);
    }
}

TEST_CASE("grow refuses what would break an invariant, and changes nothing", "[routing][grow]") {
    auto d = make();
    d.join(worker_id{1}, reader{{"fr"}}, at(0s));
    d.join(worker_id{2}, reader{{"en"}}, at(0s));
    d.join(worker_id{3}, reader{{"fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    auto const before = d.counts();
    auto const holder = *d.units_of(item_key{1})[0].worker;

    CHECK_THROWS_AS(d.grow(item_key{9}, std::nullopt, at(1s)), crowdline::invalid_argument);     // unknown item
    CHECK_THROWS_AS(d.grow(item_key{1}, worker_id{7}, at(1s)), crowdline::invalid_argument);     // unknown worker
    CHECK_THROWS_WITH(d.grow(item_key{1}, worker_id{2}, at(1s)), Catch::Contains("not eligible"));  // reads English
    CHECK_THROWS_WITH(d.grow(item_key{1}, holder, at(1s)), Catch::Contains("already has"));       // reserved already
    CHECK(d.counts() == before);  // the refusals changed nothing
    CHECK(d.units_of(item_key{1}).size() == 1);
    worker_id const third{holder.value() == 1 ? 3 : 1};
    d.leave(third, at(1s));
    CHECK_THROWS_WITH(d.grow(item_key{1}, third, at(1s)), Catch::Contains("not joined"));
    d.join(third, reader{{"fr"}}, at(2s));
    // a worker who gave a unit of the item back gets no other
    REQUIRE(d.grow(item_key{1}, third, at(2s)) == 1);
    REQUIRE(d.next(third, 1, at(2s)).size() == 1);
    d.release(third, item_key{1}, at(3s));
    auto const after_release = d.counts();
    CHECK_THROWS_WITH(d.grow(item_key{1}, third, at(3s)), Catch::Contains("already has"));
    CHECK(d.counts() == after_release);
    CHECK(d.units_of(item_key{1}).size() == 2);
}

TEST_CASE("grow: a released or expired added unit goes back to the open pool; held_unit finds it", "[routing][grow]") {
    auto d = make();
    d.join(worker_id{1}, reader{{"fr"}}, at(0s));
    d.join(worker_id{2}, reader{{"fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    auto const holder = *d.units_of(item_key{1})[0].worker;
    worker_id const other{holder.value() == 1 ? 2 : 1};
    REQUIRE(d.grow(item_key{1}, std::nullopt, at(0s)) == 1);
    auto g = d.next(other, 1, at(1s));
    REQUIRE(g.size() == 1);
    CHECK(g[0].unit_index == 1);
    CHECK(d.held(other) == 1);
    CHECK(d.expire(at(1s) + d.settings().lease) == 1);
    CHECK(d.units_of(item_key{1})[1].state == unit_state::open);
    CHECK_THROWS_AS(d.complete(other, item_key{1}, at(2s)), crowdline::invalid_argument);  // it holds nothing now
}

TEST_CASE("next_item_without: the items a late worker is eligible for and has no unit of, each looked at once",
          "[routing][grow]") {
    auto d = make();
    d.join(worker_id{1}, reader{{"fr", "en"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    d.add(item_key{2}, text{"en"}, at(0s));
    d.add(item_key{3}, text{"de"}, at(0s));
    d.add(item_key{4}, text{"fr"}, at(0s));
    take_and_finish(d, worker_id{1}, 4, at(1s));

    d.join(worker_id{2}, reader{{"fr"}}, at(2s));
    std::size_t cursor = 0;
    CHECK(d.next_item_without(worker_id{2}, cursor) == item_key{1});
    CHECK(d.next_item_without(worker_id{2}, cursor) == item_key{4});
    CHECK_FALSE(d.next_item_without(worker_id{2}, cursor));
    CHECK(cursor == 4);

    std::size_t again = 0;
    CHECK_FALSE(d.next_item_without(worker_id{1}, again));  // worker 1 has a unit of every item it reads
    CHECK_THROWS_AS(d.next_item_without(worker_id{9}, again), crowdline::invalid_argument);
}

}  // namespace tu_grow
