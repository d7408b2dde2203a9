// The five invariants of ARCHITECTURE.md §5, one test each (the randomized test checks them all together).

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <set>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_invariants {

using namespace routing_test;
namespace routing = crowdline::routing;

TEST_CASE("invariant 1: a worker never holds or completes two units of the same item", "[routing][invariant]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{3}, routing::eligible_when{reads_language});
    const worker_id w{1};
    d.join(w, reader{{"en"}}, at(0s));
    d.add(item_key{7}, text{"en"}, at(0s));
    REQUIRE(d.units_of(item_key{7}).size() == 3);

    const auto first = d.next(w, 10, at(1s));
    REQUIRE(first.size() == 1);  // three units are open to it, but it may hold one
    CHECK(d.next(w, 10, at(2s)).empty());
    d.complete(w, item_key{7}, at(3s));
    CHECK(d.next(w, 10, at(4s)).empty());  // nor complete a second one
    CHECK(d.completions(item_key{7}) == 1);

    SECTION("not after a release either") {
        d.add(item_key{8}, text{"en"}, at(5s));
        const auto g = d.next(w, 10, at(5s));
        REQUIRE(g.size() == 1);
        d.release(w, item_key{8}, at(6s));
        CHECK(d.next(w, 10, at(7s)).empty());
        // another reader takes the released unit
        d.join(worker_id{2}, reader{{"en"}}, at(8s));
        CHECK(d.next(worker_id{2}, 10, at(8s)).size() == 2);  // one unit of 7 and one of 8
    }
}

TEST_CASE("invariant 2: grants satisfy eligibility, steals satisfy the stealing policy", "[routing][invariant]") {
    const auto senior = [](const reader& r, const text&) { return r.senior; };
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::eligible_when{reads_language},
                                                   routing::steal_when{senior});
    const worker_id owner{1}, junior{2}, elder{3}, other{4};
    d.join(owner, reader{{"fr"}}, at(0s));
    d.join(junior, reader{{"fr"}, false}, at(0s));
    d.join(elder, reader{{"fr"}, true}, at(0s));
    d.join(other, reader{{"en"}, true}, at(0s));
    for (std::uint64_t k = 1; k <= 30; ++k) d.add(item_key{k}, text{"fr"}, at(1s));
    while (!take_and_finish(d, junior, 10, at(2s)).empty()) {  // its own only: it may not take over
    }
    CHECK(d.queue_length(junior) == 0);
    take_and_finish(d, elder, d.queue_length(elder), at(2s));  // its own, no more
    REQUIRE(d.queue_length(owner) > 0);
    d.leave(owner, at(3s));

    CHECK(d.next(other, 10, at(4s)).empty());   // not eligible: never gets French, even as the only idle worker
    CHECK(d.next(junior, 10, at(4s)).empty());  // eligible but the stealing policy says no
    const auto stolen = d.next(elder, 100, at(4s));
    REQUIRE_FALSE(stolen.empty());
    for (const auto& g : stolen) CHECK(g.stolen_from == owner);
    CHECK(d.counts().steals == stolen.size());
}

TEST_CASE("invariant 3: an item never gets more completions than its unit count", "[routing][invariant]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    for (std::int64_t w = 1; w <= 5; ++w) d.join(worker_id{w}, reader{{"en"}}, at(0s));
    d.add(item_key{1}, text{"en"}, at(0s));
    std::size_t granted = 0;
    for (std::int64_t w = 1; w <= 5; ++w) granted += take_and_finish(d, worker_id{w}, 10, at(1s)).size();
    CHECK(granted == 2);
    CHECK(d.completions(item_key{1}) == 2);
    CHECK_THROWS_AS(d.complete(worker_id{1}, item_key{1}, at(2s)), crowdline::invalid_argument);
    CHECK(d.completions(item_key{1}) == 2);
}

TEST_CASE("invariant 4: no stuck work when a qualified worker asks", "[routing][invariant]") {
    // Prodigy's failure: a French item routed to Carol and Dave, both gone; Alice, free and qualified, asks.
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2}, routing::eligible_when{reads_language});
    const worker_id alice{1}, carol{3}, dave{4};
    d.join(carol, reader{{"fr", "de"}}, at(0s));
    d.join(dave, reader{{"fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    d.join(alice, reader{{"en", "fr"}}, at(1s));
    d.leave(carol, at(2s));
    d.leave(dave, at(2s));
    const auto g = d.next(alice, 10, at(3s));
    REQUIRE(g.size() == 1);
    CHECK((g[0].stolen_from == carol || g[0].stolen_from == dave));

    SECTION("even from a worker who is still there, when nothing else is left") {
        auto e = routing::make_dispatcher<text, reader>(routing::no_overlap);
        e.join(worker_id{1}, reader{{"en"}}, at(0s));
        e.add(item_key{1}, text{"en"}, at(0s));
        e.join(worker_id{2}, reader{{"en"}}, at(0s));
        const auto h = e.next(worker_id{2}, 1, at(0s));
        REQUIRE(h.size() == 1);
        CHECK(h[0].stolen_from == worker_id{1});
    }
    SECTION("and units no one could take at add time reach a worker who joins later") {
        d.add(item_key{2}, text{"en"}, at(4s));  // alice is the only English reader: one unit open
        d.join(worker_id{2}, reader{{"en"}}, at(5s));
        CHECK(d.next(worker_id{2}, 10, at(5s)).size() == 1);
    }
}

TEST_CASE("invariant 5: an expired lease returns its unit; a completed unit is never handed out again", "[routing][invariant]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::options{.lease = 60s});
    const worker_id a{1}, b{2};
    d.join(a, reader{{"en"}}, at(0s));
    d.add(item_key{1}, text{"en"}, at(0s));
    d.add(item_key{2}, text{"en"}, at(0s));
    const auto g = d.next(a, 2, at(0s));
    REQUIRE(g.size() == 2);
    CHECK(g[0].lease_until == at(60s));
    d.complete(a, item_key{2}, at(10s));

    CHECK(d.expire(at(59s)) == 0);
    CHECK(d.counts().leased == 1);
    CHECK(d.expire(at(60s)) == 1);
    CHECK(d.counts().leased == 0);
    CHECK(d.counts().open == 1);
    CHECK_THROWS_AS(d.complete(a, item_key{1}, at(61s)), crowdline::invalid_argument);  // no longer its unit

    d.join(b, reader{{"en"}}, at(61s));
    const auto h = d.next(b, 10, at(61s));
    REQUIRE(h.size() == 1);  // item 1 back; item 2 is done and never handed out again
    CHECK(h[0].item == item_key{1});
    CHECK_FALSE(h[0].stolen_from.has_value());
    d.complete(b, item_key{1}, at(62s));
    CHECK(d.next(b, 10, at(63s)).empty());
    CHECK(d.counts().completed == 2);
}

}  // namespace tu_invariants
