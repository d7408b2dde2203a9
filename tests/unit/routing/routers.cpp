// Routers: fractional overlap, stable hash choice, least loaded, full overlap and a user-written router.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <span>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_routers {

using namespace routing_test;
namespace routing = crowdline::routing;

namespace {

/// Unit count and reserving workers of every item, as a comparable value.
template <class Dispatcher>
std::map<std::uint64_t, std::vector<std::int64_t>> layout(const Dispatcher& d, std::uint64_t items) {
    std::map<std::uint64_t, std::vector<std::int64_t>> out;
    for (std::uint64_t k = 1; k <= items; ++k) {
        auto& v = out[k];
        for (const auto& u : d.units_of(item_key{k})) v.push_back(u.worker ? u.worker->value() : -1);
    }
    return out;
}

/// Hard items go to three workers, the least loaded; the rest to one.
struct hard_items_thrice {
    using policy_kind = routing::kinds::router;
    std::uint32_t route(item_key, const text& t, std::span<const routing::candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        const std::uint32_t units = t.lang == "hard" ? 3 : 1;
        std::vector<routing::candidate> sorted(candidates.begin(), candidates.end());
        std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.load < b.load; });
        for (std::size_t i = 0; i < units && i < sorted.size(); ++i) reserve.push_back(sorted[i].worker);
        return units;
    }
};
static_assert(routing::router<hard_items_thrice, text>);

/// A router that breaks the contract: it reserves someone who is not a candidate.
struct picks_a_stranger {
    std::uint32_t route(item_key, const text&, std::span<const routing::candidate>, std::vector<worker_id>& reserve) const {
        reserve.push_back(worker_id{999});
        return 1;
    }
};

}  // namespace

TEST_CASE("average_per_task{2.5}: 2 or 3 units, half of them 3, the same on a second run", "[routing][router]") {
    const auto run = [] {
        auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2.5});
        for (std::int64_t w = 1; w <= 6; ++w) d.join(worker_id{w}, reader{{"en"}}, at(0s));
        for (std::uint64_t k = 1; k <= 10'000; ++k) d.add(item_key{k}, text{"en"}, at(0s));
        return layout(d, 10'000);
    };
    const auto first = run();
    std::size_t three = 0;
    for (const auto& [k, workers] : first) {
        REQUIRE((workers.size() == 2 || workers.size() == 3));
        three += workers.size() == 3 ? 1 : 0;
        REQUIRE(std::set<std::int64_t>(workers.begin(), workers.end()).size() == workers.size());
    }
    const double share = static_cast<double>(three) / 10'000.0;
    CHECK(share >= 0.48);
    CHECK(share <= 0.52);
    CHECK(run() == first);
}

TEST_CASE("average_per_task: the unit count is a function of the key alone", "[routing][router]") {
    const routing::average_per_task r{1.3};
    std::size_t two = 0;
    for (std::uint64_t k = 0; k < 10'000; ++k) {
        const auto u = r.units_for(item_key{k});
        REQUIRE((u == 1 || u == 2));
        REQUIRE(u == routing::average_per_task{1.3}.units_for(item_key{k}));
        two += u == 2 ? 1 : 0;
    }
    CHECK(two > 2'800);
    CHECK(two < 3'200);
    for (std::uint64_t k = 0; k < 100; ++k) CHECK(routing::average_per_task{4}.units_for(item_key{k}) == 4);
}

TEST_CASE("pick::hash: the same key and candidates give the same workers, whatever the order of adds", "[routing][router]") {
    auto a = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    auto b = routing::make_dispatcher<text, reader>(routing::average_per_task{2});
    for (std::int64_t w = 1; w <= 10; ++w) a.join(worker_id{w}, reader{{"en"}}, at(0s));
    for (std::int64_t w = 10; w >= 1; --w) b.join(worker_id{w}, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 200; ++k) a.add(item_key{k}, text{"en"}, at(0s));
    for (std::uint64_t k = 200; k >= 1; --k) b.add(item_key{k}, text{"en"}, at(0s));
    auto la = layout(a, 200), lb = layout(b, 200);
    for (auto& [k, v] : la) std::sort(v.begin(), v.end());
    for (auto& [k, v] : lb) std::sort(v.begin(), v.end());
    CHECK(la == lb);
    // and the choice spreads: every worker gets some
    std::map<std::int64_t, int> per_worker;
    for (const auto& [k, v] : la)
        for (auto w : v) ++per_worker[w];
    CHECK(per_worker.size() == 10);
}

TEST_CASE("pick::least_loaded balances the queues", "[routing][router]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{1, routing::pick::least_loaded});
    for (std::int64_t w = 1; w <= 4; ++w) d.join(worker_id{w}, reader{{"en"}}, at(0s));
    for (std::uint64_t k = 1; k <= 100; ++k) d.add(item_key{k}, text{"en"}, at(0s));
    for (std::int64_t w = 1; w <= 4; ++w) CHECK(d.queue_length(worker_id{w}) == 25);
}

TEST_CASE("no_overlap is one unit; full_overlap is one unit per eligible worker", "[routing][router]") {
    auto one = routing::make_dispatcher<text, reader>(routing::no_overlap);
    one.join(worker_id{1}, reader{{"en"}}, at(0s));
    one.join(worker_id{2}, reader{{"en"}}, at(0s));
    one.add(item_key{1}, text{"en"}, at(0s));
    CHECK(one.units_of(item_key{1}).size() == 1);

    auto all = routing::make_dispatcher<text, reader>(routing::full_overlap{}, routing::eligible_when{reads_language});
    all.join(worker_id{1}, reader{{"en"}}, at(0s));
    all.join(worker_id{2}, reader{{"en", "fr"}}, at(0s));
    all.join(worker_id{3}, reader{{"fr"}}, at(0s));
    all.add(item_key{1}, text{"en"}, at(0s));
    all.add(item_key{2}, text{"de"}, at(0s));
    const auto units = all.units_of(item_key{1});
    REQUIRE(units.size() == 2);
    std::set<std::int64_t> who;
    for (const auto& u : units) {
        CHECK(u.state == routing::unit_state::reserved);
        who.insert(u.worker->value());
    }
    CHECK(who == std::set<std::int64_t>{1, 2});
    REQUIRE(all.units_of(item_key{2}).size() == 1);  // nobody eligible yet: one open unit, reported
    CHECK(all.units_of(item_key{2})[0].state == routing::unit_state::open);
    CHECK(all.starved() == std::vector<item_key>{item_key{2}});
}

TEST_CASE("full_overlap_of: one unit per eligible worker of the roster, those who join later included",
          "[routing][router]") {
    std::vector<reader> roster{reader{{"en"}}, reader{{"en", "fr"}}, reader{{"fr"}}, reader{{"de"}}};
    auto d = routing::make_dispatcher<text, reader>(routing::full_overlap_of{roster, reads_language},
                                                    routing::eligible_when{reads_language});
    // Nobody has joined yet: the counts come from the roster, every unit open.
    d.add(item_key{1}, text{"en"}, at(0s));
    d.add(item_key{2}, text{"fr"}, at(0s));
    d.add(item_key{3}, text{"it"}, at(0s));
    CHECK(d.units_of(item_key{1}).size() == 2);
    CHECK(d.units_of(item_key{2}).size() == 2);
    CHECK(d.units_of(item_key{3}).size() == 1);  // no reader of it: one open unit, starved
    // Each roster worker joins later and takes what they may, once per item.
    std::map<std::int64_t, std::set<std::uint64_t>> done;
    for (std::int64_t w = 1; w <= 4; ++w) {
        d.join(worker_id{w}, roster[static_cast<std::size_t>(w - 1)], at(1s));
        for (;;) {
            auto g = d.next(worker_id{w}, 1, at(1s));
            if (g.empty()) break;
            CHECK(done[w].insert(g.front().item.value()).second);
            d.complete(worker_id{w}, g.front().item, at(1s));
        }
    }
    CHECK(done[1] == std::set<std::uint64_t>{1});
    CHECK(done[2] == std::set<std::uint64_t>{1, 2});
    CHECK(done[3] == std::set<std::uint64_t>{2});
    CHECK(done[4].empty());
    CHECK(d.completions(item_key{1}) == 2);
    CHECK(d.completions(item_key{2}) == 2);
    CHECK(d.starved() == std::vector<item_key>{item_key{3}});
}

TEST_CASE("full_overlap_of reserves for joined eligible workers, never more than its unit count", "[routing][router]") {
    std::vector<reader> roster{reader{{"en"}}};
    auto d = routing::make_dispatcher<text, reader>(routing::full_overlap_of{roster, reads_language},
                                                    routing::eligible_when{reads_language});
    d.join(worker_id{1}, reader{{"en"}}, at(0s));
    d.join(worker_id{2}, reader{{"en"}}, at(0s));  // joined, but not on the roster
    d.add(item_key{1}, text{"en"}, at(0s));
    auto const units = d.units_of(item_key{1});
    REQUIRE(units.size() == 1);
    CHECK(units[0].state == routing::unit_state::reserved);
}

TEST_CASE("a user-written router", "[routing][router]") {
    auto d = routing::make_dispatcher<text, reader>(hard_items_thrice{});
    for (std::int64_t w = 1; w <= 4; ++w) d.join(worker_id{w}, reader{{"en"}}, at(0s));
    d.add(item_key{1}, text{"hard"}, at(0s));
    d.add(item_key{2}, text{"easy"}, at(0s));
    d.add(item_key{3}, text{"easy"}, at(0s));
    CHECK(d.units_of(item_key{1}).size() == 3);
    CHECK(d.units_of(item_key{2}).size() == 1);
    // the least-loaded choice: the fourth worker had nothing, so it gets item 2
    CHECK(d.units_of(item_key{2})[0].worker == worker_id{4});

    SECTION("a router that breaks its contract is refused, state unchanged") {
        auto bad = routing::make_dispatcher<text, reader>(picks_a_stranger{});
        bad.join(worker_id{1}, reader{{"en"}}, at(0s));
        CHECK_THROWS_AS(bad.add(item_key{1}, text{"en"}, at(0s)), crowdline::invalid_argument);
        CHECK_FALSE(bad.contains(item_key{1}));
        CHECK(bad.counts() == routing::unit_counts{});
    }
}

}  // namespace tu_routers
