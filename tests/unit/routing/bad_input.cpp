// Bad input: a clear exception from crowdline/errors.hpp, and the state left as it was.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_bad_input {

using namespace routing_test;
namespace routing = crowdline::routing;

namespace {

template <class Dispatcher>
auto snapshot(const Dispatcher& d) {
    std::vector<std::vector<routing::unit_view>> units;
    for (std::uint64_t k = 1; k <= 3; ++k) units.push_back(d.units_of(item_key{k}));
    return std::tuple{d.counts(), units, d.starved(), d.held(worker_id{1}), d.queue_length(worker_id{2})};
}

}  // namespace

TEST_CASE("bad input is refused with crowdline::invalid_argument, state unchanged", "[routing][errors]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2}, routing::eligible_when{reads_language});
    const worker_id a{1}, b{2}, stranger{42};
    d.join(a, reader{{"en"}}, at(0s));
    d.join(b, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 3; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    REQUIRE(d.next(a, 1, at(1s)).size() == 1);
    const auto before = snapshot(d);

    SECTION("next for an unknown worker") {
        CHECK_THROWS_WITH(d.next(stranger, 1, at(2s)), Catch::Contains("unknown worker 42"));
    }
    SECTION("complete / release for an unknown worker") {
        CHECK_THROWS_AS(d.complete(stranger, item_key{1}, at(2s)), crowdline::invalid_argument);
        CHECK_THROWS_AS(d.release(stranger, item_key{1}, at(2s)), crowdline::invalid_argument);
    }
    SECTION("complete / release for an unknown item") {
        CHECK_THROWS_WITH(d.complete(a, item_key{99}, at(2s)), Catch::Contains("unknown item 99"));
        CHECK_THROWS_AS(d.release(a, item_key{99}, at(2s)), crowdline::invalid_argument);
    }
    SECTION("completing an item the worker does not hold") {
        CHECK_THROWS_WITH(d.complete(b, item_key{1}, at(2s)), Catch::Contains("worker 2 does not hold a unit of item 1"));
        CHECK_THROWS_AS(d.complete(a, item_key{2}, at(2s)), crowdline::invalid_argument);
        CHECK_THROWS_AS(d.release(b, item_key{1}, at(2s)), crowdline::invalid_argument);
    }
    SECTION("heartbeat / leave for an unknown worker") {
        CHECK_THROWS_AS(d.heartbeat(stranger, at(2s)), crowdline::invalid_argument);
        CHECK_THROWS_AS(d.leave(stranger, at(2s)), crowdline::invalid_argument);
    }
    SECTION("adding an item twice") {
        CHECK_THROWS_WITH(d.add(item_key{1}, text{"en"}, at(2s)), Catch::Contains("item 1 was added already"));
    }
    SECTION("observers on unknown ids") {
        CHECK_THROWS_AS(d.units_of(item_key{99}), crowdline::invalid_argument);
        CHECK_THROWS_AS(d.queue_length(stranger), crowdline::invalid_argument);
    }
    CHECK(snapshot(d) == before);
    CHECK(d.next(b, 10, at(3s)).size() == 3);  // and it still works
}

TEST_CASE("average_per_task{x} with x < 1 is refused", "[routing][errors]") {
    CHECK_THROWS_AS(routing::average_per_task{0.5}, crowdline::invalid_argument);
    CHECK_THROWS_WITH(routing::average_per_task{0.99}, Catch::Contains("x must be a number >= 1"));
    CHECK_THROWS_AS(routing::average_per_task{0}, crowdline::invalid_argument);
    CHECK_THROWS_AS(routing::average_per_task{-3}, crowdline::invalid_argument);
    CHECK_THROWS_AS(routing::average_per_task{std::numeric_limits<double>::quiet_NaN()}, crowdline::invalid_argument);
    CHECK_NOTHROW(routing::average_per_task{1});
    static_assert(std::is_base_of_v<crowdline::error, crowdline::invalid_argument>);
}

TEST_CASE("options out of range are refused", "[routing][errors]") {
    const auto build = [](routing::options o) { return routing::make_dispatcher<text, reader>(o); };
    CHECK_THROWS_AS(build(routing::options{.lease = 0s}), crowdline::invalid_argument);
    CHECK_THROWS_AS(build(routing::options{.steal_after = -1s}), crowdline::invalid_argument);
    CHECK_THROWS_AS(build(routing::options{.max_concurrent_per_worker = 0}), crowdline::invalid_argument);
    CHECK_THROWS_AS(build(routing::options{.max_units_per_worker = 0}), crowdline::invalid_argument);
    CHECK_NOTHROW(build(routing::options{}));
}

TEST_CASE("re-joining with a new profile drops reservations it no longer qualifies for", "[routing][errors]") {
    auto d = routing::make_dispatcher<text, reader>(routing::no_overlap, routing::eligible_when{reads_language});
    const worker_id a{1};
    d.join(a, reader{{"en", "fr"}}, at(0s));
    d.add(item_key{1}, text{"fr"}, at(0s));
    d.add(item_key{2}, text{"en"}, at(0s));
    d.join(a, reader{{"en"}}, at(1s));
    CHECK(d.queue_length(a) == 1);
    CHECK(d.units_of(item_key{1})[0].state == routing::unit_state::open);
    const auto g = d.next(a, 10, at(2s));
    REQUIRE(g.size() == 1);
    CHECK(g[0].item == item_key{2});
    CHECK(d.starved() == std::vector<item_key>{item_key{1}});
}

}  // namespace tu_bad_input
