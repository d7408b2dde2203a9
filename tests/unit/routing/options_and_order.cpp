// Options (lease, steal_after, per-worker limits), the order `next` serves in, and the observers.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_options_and_order {

using namespace routing_test;
namespace routing = crowdline::routing;

TEST_CASE("next serves own reservations oldest first, then open units, then steals", "[routing][order]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{1, routing::pick::least_loaded});
    const worker_id a{1}, b{2};
    d.join(a, reader{{"en"}}, at(0s));
    d.add(item_key{1}, text{"en"}, at(0s));  // a
    d.join(b, reader{{"en"}}, at(0s));
    d.add(item_key{2}, text{"en"}, at(0s));  // b (least loaded)
    d.add(item_key{3}, text{"en"}, at(0s));  // a or b: a and b both have one; tie broken by hash
    d.add(item_key{4}, text{"en"}, at(0s));
    const std::size_t own = d.queue_length(a);
    const auto g = d.next(a, 10, at(1s));
    REQUIRE(g.size() == 4);
    for (std::size_t i = 0; i < own; ++i) CHECK_FALSE(g[i].stolen_from.has_value());
    for (std::size_t i = own; i < g.size(); ++i) CHECK(g[i].stolen_from == b);
    for (std::size_t i = 1; i < own; ++i) CHECK(g[i - 1].item < g[i].item);  // oldest first
    CHECK(g.front().item == item_key{1});

    SECTION("open units come before steals") {
        auto e = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
        e.join(a, reader{{"en"}}, at(0s));
        e.add(item_key{1}, text{"en"}, at(0s));  // one reserved for a, one open
        e.join(b, reader{{"en"}}, at(0s));
        const auto h = e.next(b, 1, at(1s));
        REQUIRE(h.size() == 1);
        CHECK_FALSE(h[0].stolen_from.has_value());
    }
}

TEST_CASE("steals prefer workers who left or went silent, then the oldest reservation", "[routing][order]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{1, routing::pick::least_loaded},
                                                   routing::options{.steal_after = 60s});
    const worker_id busy{1}, quiet{2}, thief{3};
    d.join(busy, reader{{"en"}}, at(0s));
    d.join(quiet, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 10; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    REQUIRE(d.queue_length(busy) == 5);
    REQUIRE(d.queue_length(quiet) == 5);
    d.heartbeat(busy, at(100s));
    d.join(thief, reader{{"en"}}, at(100s));
    // quiet's last sign of life is at 0s, older than steal_after: its reservations go first
    const auto g = d.next(thief, 7, at(100s));
    REQUIRE(g.size() == 7);
    for (std::size_t i = 0; i < 5; ++i) CHECK(g[i].stolen_from == quiet);
    for (std::size_t i = 5; i < 7; ++i) CHECK(g[i].stolen_from == busy);
    for (std::size_t i = 1; i < 5; ++i) CHECK(g[i - 1].item < g[i].item);
    CHECK(d.counts().steals == 7);

    SECTION("a heartbeat puts a silent worker back at the end of the line") {
        auto e = routing::make_dispatcher<text, reader>(routing::average_per_task{1, routing::pick::least_loaded},
                                                       routing::options{.steal_after = 60s});
        e.join(busy, reader{{"en"}}, at(0s));
        e.join(quiet, reader{{"en"}}, at(0s));
        for (std::uint64_t k = 1; k <= 4; ++k) e.add(item_key{k}, text{"en"}, at(0s));
        e.join(thief, reader{{"en"}}, at(100s));
        e.heartbeat(busy, at(100s));
        CHECK(e.next(thief, 1, at(100s))[0].stolen_from == quiet);  // quiet is silent
        e.heartbeat(quiet, at(200s));
        e.heartbeat(thief, at(200s));
        CHECK(e.next(thief, 1, at(200s))[0].stolen_from == busy);  // now busy is the silent one
    }
}

TEST_CASE("leave makes reservations stealable at once; leases run on", "[routing][order]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::options{.lease = 60s, .steal_after = 3600s});
    const worker_id a{1}, b{2};
    d.join(a, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 3; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    REQUIRE(d.next(a, 1, at(0s)).size() == 1);
    d.join(b, reader{{"en"}}, at(1s));
    d.leave(a, at(1s));
    CHECK_FALSE(d.is_joined(a));
    const auto g = d.next(b, 10, at(2s));
    CHECK(g.size() == 2);
    for (const auto& x : g) CHECK(x.stolen_from == a);
    CHECK(d.held(a) == 1);
    d.complete(a, item_key{1}, at(3s));  // a left, but its lease was still running
    CHECK(d.counts().completed == 1);
    CHECK_THROWS_AS(d.next(a, 1, at(3s)), crowdline::invalid_argument);  // must join again to ask
}

TEST_CASE("max_concurrent_per_worker and max_units_per_worker", "[routing][options]") {
    auto d = routing::make_dispatcher<text, reader>(
        routing::no_overlap, routing::options{.max_concurrent_per_worker = 2, .max_units_per_worker = 5});
    const worker_id a{1};
    d.join(a, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 10; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    CHECK(d.next(a, 10, at(1s)).size() == 2);
    CHECK(d.next(a, 10, at(1s)).empty());
    d.complete(a, item_key{1}, at(2s));
    d.release(a, item_key{2}, at(2s));  // a release gives the slot back, and does not count
    std::size_t done = 1;
    const auto again = d.next(a, 10, at(3s));
    CHECK(again.size() == 2);
    for (const auto& g : again) {
        d.complete(a, g.item, at(3s));
        ++done;
    }
    for (int i = 0; i < 10; ++i) {
        for (const auto& g : d.next(a, 10, at(4s))) {
            d.complete(a, g.item, at(4s));
            ++done;
        }
    }
    CHECK(done == 5);
    CHECK(d.next(a, 10, at(5s)).empty());
    CHECK(d.counts().completed == 5);
}

TEST_CASE("observers: queue length, counts, steals", "[routing][observers]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    const worker_id a{1}, b{2}, c{3};
    d.join(a, reader{{"en"}}, at(0s));
    d.join(b, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 4; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    CHECK(d.counts() == routing::unit_counts{.open = 0, .reserved = 8, .leased = 0, .completed = 0, .steals = 0});
    CHECK(d.queue_length(a) == 4);
    CHECK(d.item_count() == 4);
    CHECK(d.joined_workers() == 2);
    take_and_finish(d, a, 2, at(1s));
    d.next(a, 1, at(1s));
    CHECK(d.counts() == routing::unit_counts{.open = 0, .reserved = 5, .leased = 1, .completed = 2, .steals = 0});
    d.leave(b, at(2s));
    d.join(c, reader{{"en"}}, at(2s));
    CHECK(d.next(c, 3, at(2s)).size() == 3);
    CHECK(d.counts().steals == 3);
    CHECK(d.queue_length(b) == 1);
    CHECK(d.held(c) == 3);
}

}  // namespace tu_options_and_order
