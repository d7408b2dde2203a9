// Bucket scans: a long run of taken units (tombstones) at the front of a bucket is dropped, and the bucket
// compacted, while a newcomer scans past it (the scan's prefetch window must follow).

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <set>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_scans {

using namespace routing_test;
namespace routing = crowdline::routing;

TEST_CASE("a newcomer scans past thousands of taken units at the front of a bucket", "[routing][scan]") {
    const std::uint64_t items = 3000;
    const auto check = [&](auto d, std::size_t units_per_item) {
        const worker_id a{1}, b{2};
        // nobody joined yet: every unit is open
        for (std::uint64_t k = 1; k <= items; ++k) d.add(item_key{k}, text{"en"}, at(0s));
        d.join(a, reader{{"en"}}, at(1s));
        std::set<std::uint64_t> got_a, got_b;
        while (got_a.size() < 2000)
            for (const auto& g : take_and_finish(d, a, 7, at(1s))) REQUIRE(got_a.insert(g.item.value()).second);
        d.join(b, reader{{"en"}}, at(2s));
        for (auto g = take_and_finish(d, b, 5, at(2s)); !g.empty(); g = take_and_finish(d, b, 5, at(2s)))
            for (const auto& x : g) REQUIRE(got_b.insert(x.item.value()).second);
        CHECK(got_b.size() == (units_per_item == 1 ? items - got_a.size() : items));
        for (const auto k : got_a)
            if (units_per_item == 1) CHECK_FALSE(got_b.count(k));
        CHECK(d.counts().completed == got_a.size() + got_b.size());
    };
    SECTION("one bucket") {
        check(routing::make_dispatcher<text, reader>(routing::no_overlap), 1);
    }
    SECTION("per-key buckets") {
        check(routing::make_dispatcher<text, reader>(routing::no_overlap, routing::steal_by_key{language_of, languages_of}), 1);
    }
    SECTION("two units per item, scanned with a predicate") {
        check(routing::make_dispatcher<text, reader>(routing::average_per_task{2}, routing::eligible_when{reads_language},
                                                     routing::steal_when{reads_language}),
              2);
    }
}

}  // namespace tu_scans
