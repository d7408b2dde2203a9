// Leases: the lease queue keeps live leases only, in order of end; time going backwards, a long lease among
// many short ones (compaction), and the lease ends reported after the queue was rebuilt.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <crowdline/routing/detail/lease_queue.hpp>

#include <map>
#include <vector>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_leases {

using namespace routing_test;
namespace routing = crowdline::routing;

namespace {

template <class Dispatcher>
time_point lease_end(const Dispatcher& d, item_key key) {
    for (const auto& v : d.units_of(key))
        if (v.state == crowdline::routing::unit_state::leased) return *v.lease_until;
    FAIL("no leased unit of " << key);
    return {};
}

}  // namespace

TEST_CASE("expire is exact when time goes backwards", "[routing][lease]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::options{.lease = 60s});
    const worker_id a{1};
    d.join(a, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 3; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    REQUIRE(d.next(a, 1, at(100s)).size() == 1);  // item 1 until 160 s
    REQUIRE(d.next(a, 1, at(50s)).size() == 1);   // item 2 until 110 s: granted later, ends earlier
    REQUIRE(d.next(a, 1, at(70s)).size() == 1);   // item 3 until 130 s
    CHECK(lease_end(d, item_key{1}) == at(160s));
    CHECK(lease_end(d, item_key{2}) == at(110s));
    CHECK(lease_end(d, item_key{3}) == at(130s));

    CHECK(d.expire(at(109s)) == 0);
    CHECK(d.expire(at(110s)) == 1);
    CHECK(d.held(a) == 2);
    CHECK(lease_end(d, item_key{1}) == at(160s));  // positions changed by the re-sort: still right
    CHECK(lease_end(d, item_key{3}) == at(130s));
    d.complete(a, item_key{3}, at(111s));
    CHECK(d.expire(at(159s)) == 0);
    CHECK(d.expire(at(160s)) == 1);
    CHECK(d.counts().leased == 0);
    CHECK(d.counts().completed == 1);
    CHECK(d.counts().open == 2);
}

TEST_CASE("a long lease among many short ones keeps its end and expires once", "[routing][lease]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::options{.lease = 60s});
    const worker_id slow{1}, fast{2};
    d.join(slow, reader{{"de"}}, at(0s));
    d.join(fast, reader{{"en"}}, at(0s));
    d.add(item_key{1}, text{"de"}, at(0s));
    REQUIRE(d.next(slow, 1, at(1s)).size() == 1);  // until 61 s, never finished
    std::uint64_t key = 2;
    for (int round = 0; round < 300; ++round) {  // far more finished leases than the queue keeps
        d.add(item_key{key}, text{"en"}, at(2s));
        const auto g = d.next(fast, 1, at(2s));
        REQUIRE(g.size() == 1);
        if (round % 3 == 0) d.release(fast, g[0].item, at(2s));  // given back: open again, fast never gets it again
        else d.complete(fast, g[0].item, at(2s));
        ++key;
    }
    // Some leases of `fast` stay open across the rebuilds too.
    std::vector<item_key> kept;
    for (int i = 0; i < 5; ++i) {
        d.add(item_key{key}, text{"en"}, at(3s));
        kept.push_back(item_key{key++});
    }
    REQUIRE(d.next(fast, 5, at(3s)).size() == 5);
    for (int round = 0; round < 200; ++round) {
        d.add(item_key{key}, text{"en"}, at(4s));
        const auto g = d.next(fast, 1, at(4s));
        REQUIRE(g.size() == 1);
        d.complete(fast, g[0].item, at(4s));
        ++key;
    }
    CHECK(lease_end(d, item_key{1}) == at(61s));
    for (const auto k : kept) CHECK(lease_end(d, k) == at(63s));
    CHECK(d.counts().leased == 6);
    CHECK(d.expire(at(60s)) == 0);
    CHECK(d.expire(at(61s)) == 1);
    CHECK(d.held(slow) == 0);
    d.complete(fast, kept[2], at(62s));
    CHECK(d.expire(at(63s)) == 4);
    CHECK(d.counts().leased == 0);
    CHECK(d.expire(at(1000s)) == 0);
}

TEST_CASE("lease_queue: removal, expiry in order of end, positions reported when moved", "[routing][lease]") {
    crowdline::routing::detail::lease_queue q;
    std::map<std::uint32_t, std::uint64_t> where;  // unit -> position
    const auto moved = [&](std::uint32_t u, std::uint64_t p) { where[u] = p; };
    std::uint32_t next_unit = 0;
    std::map<std::uint32_t, time_point> live;
    const auto push = [&](time_point until) {
        const std::uint32_t u = next_unit++;
        where[u] = q.push(until, u);
        live[u] = until;
        return u;
    };
    for (int i = 0; i < 500; ++i) push(at(std::chrono::seconds{1000 + (i * 37) % 101}));  // out of order
    for (std::uint32_t u = 0; u < 500; u += 2) {  // remove half of them
        q.remove(where.at(u), moved);
        live.erase(u);
    }
    REQUIRE(q.live() == live.size());
    for (const auto& [u, until] : live) CHECK(q.until(where.at(u)) == until);
    std::vector<std::pair<time_point, std::uint32_t>> due;
    const auto n = q.expire(at(1050s), moved, [&](std::uint32_t u, time_point until) { due.emplace_back(until, u); });
    std::size_t expected = 0;
    for (const auto& [u, until] : live) expected += until <= at(1050s) ? 1 : 0;
    CHECK(n == expected);
    CHECK(due.size() == expected);
    CHECK(std::is_sorted(due.begin(), due.end(), [](const auto& x, const auto& y) { return x.first < y.first; }));
    for (const auto& [until, u] : due) {
        CHECK(until <= at(1050s));
        CHECK(live.at(u) == until);
        live.erase(u);
    }
    for (const auto& [u, until] : live) CHECK(q.until(where.at(u)) == until);
    CHECK(q.expire(at(5000s), moved, [&](std::uint32_t u, time_point) { live.erase(u); }) == 250 - expected);
    CHECK(live.empty());
    CHECK(q.live() == 0);
    CHECK(q.stored() == 0);
}

}  // namespace tu_leases
