// The problem crowdline exists for (Prodigy's "selective work stealing"): multilingual annotation with
// two annotations per item, where the people reserved for some items go away.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_scenario {

using namespace routing_test;
namespace routing = crowdline::routing;

namespace {

const worker_id alice{1}, bob{2}, carol{3}, dave{4};

struct record {
    std::map<std::uint64_t, std::string> lang;                    // item -> language
    std::map<std::uint64_t, std::multiset<std::int64_t>> done_by;  // item -> who completed it
    std::map<std::int64_t, std::vector<routing::grant>> got;       // worker -> grants received
};

template <class Dispatcher>
void drain(Dispatcher& d, worker_id w, record& r, time_point now) {
    for (;;) {
        const auto grants = d.next(w, 5, now);
        if (grants.empty()) return;
        for (const auto& g : grants) {
            d.complete(w, g.item, now);
            r.done_by[g.item.value()].insert(w.value());
            r.got[w.value()].push_back(g);
        }
    }
}

template <class Dispatcher>
record run_scenario(Dispatcher& d) {
    record r;
    d.join(alice, reader{{"en", "fr"}}, at(0s));
    d.join(bob, reader{{"en"}}, at(0s));
    d.join(carol, reader{{"fr", "de"}}, at(0s));
    d.join(dave, reader{{"fr"}}, at(0s));
    const char* langs[] = {"en", "fr", "de"};
    for (std::uint64_t k = 1; k <= 60; ++k) {
        r.lang[k] = langs[k % 3];
        d.add(item_key{k}, text{langs[k % 3]}, at(1s));
    }
    // Dave leaves as soon as the items are routed; Carol works (her reservations, then what she may take
    // over), then leaves too. Alice and Bob stay.
    d.leave(dave, at(2s));
    drain(d, carol, r, at(3s));
    d.leave(carol, at(4s));
    for (int round = 0; round < 3; ++round) {
        drain(d, bob, r, at(5s));
        drain(d, alice, r, at(5s));
    }
    return r;
}

}  // namespace

TEST_CASE("multilingual scenario: takeover follows eligibility, German is reported starved", "[routing][scenario]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2, routing::pick::hash},
                                                   routing::eligible_when{reads_language});
    const record r = run_scenario(d);

    SECTION("Alice receives the French work left by Dave") {
        std::size_t french_from_dave = 0, french = 0;
        for (const auto& g : r.got.at(alice.value())) {
            if (r.lang.at(g.item.value()) == "fr") ++french;
            if (g.stolen_from == dave) {
                CHECK(r.lang.at(g.item.value()) == "fr");
                ++french_from_dave;
            }
        }
        CHECK(french > 0);
        CHECK(french_from_dave > 0);
    }
    SECTION("Bob never receives a French or German item") {
        REQUIRE(r.got.count(bob.value()) == 1);
        for (const auto& g : r.got.at(bob.value())) CHECK(r.lang.at(g.item.value()) == "en");
    }
    SECTION("every French and English item has exactly 2 completions by 2 different people") {
        for (const auto& [k, lang] : r.lang) {
            if (lang == "de") continue;
            INFO(lang << " item " << k);
            REQUIRE(r.done_by.count(k) == 1);
            const auto& who = r.done_by.at(k);
            CHECK(who.size() == 2);
            CHECK(std::set<std::int64_t>(who.begin(), who.end()).size() == 2);
            CHECK(d.completions(item_key{k}) == 2);
        }
    }
    SECTION("the German items show up in starved(), and only they") {
        const auto starved = d.starved();
        std::set<std::uint64_t> got;
        for (auto k : starved) got.insert(k.value());
        std::set<std::uint64_t> german;
        for (const auto& [k, lang] : r.lang)
            if (lang == "de") german.insert(k);
        CHECK(got == german);
        // Carol did one unit of each German item before leaving; the second waits for a German reader.
        for (auto k : german) CHECK(d.completions(item_key{k}) == 1);
    }
    SECTION("a German reader joining ends the starvation") {
        d.join(worker_id{5}, reader{{"de"}}, at(10s));
        record more;
        drain(d, worker_id{5}, more, at(10s));
        CHECK(d.starved().empty());
        for (const auto& [k, lang] : r.lang) CHECK(d.completions(item_key{k}) == 2);
    }
}

TEST_CASE("multilingual scenario under steal_by_key gives the same outcome", "[routing][scenario]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2},
                                                   routing::steal_by_key{language_of, languages_of});
    const record r = run_scenario(d);
    for (const auto& g : r.got.at(bob.value())) CHECK(r.lang.at(g.item.value()) == "en");
    for (const auto& [k, lang] : r.lang) {
        if (lang == "de") {
            CHECK(d.completions(item_key{k}) == 1);
        } else {
            CHECK(d.completions(item_key{k}) == 2);
            const auto& who = r.done_by.at(k);
            CHECK(std::set<std::int64_t>(who.begin(), who.end()).size() == 2);
        }
    }
    CHECK(d.starved().size() == 20);
}

TEST_CASE("multilingual scenario without stealing: Dave's units stay reserved and are reported", "[routing][scenario]") {
    auto d = routing::make_dispatcher<text, reader>(routing::average_per_task{2}, routing::eligible_when{reads_language},
                                                   routing::no_stealing{});
    const record r = run_scenario(d);
    std::size_t french_short = 0;
    std::set<std::uint64_t> starved;
    for (auto k : d.starved()) starved.insert(k.value());
    for (const auto& [k, lang] : r.lang) {
        if (lang != "fr") continue;
        bool dave_reserved = false;
        for (const auto& u : d.units_of(item_key{k}))
            dave_reserved |= u.state == routing::unit_state::reserved && u.worker == dave;
        if (dave_reserved) {
            ++french_short;
            CHECK(starved.count(k) == 1);  // never silently stuck
        }
    }
    CHECK(french_short > 0);
    for (const auto& [who, grants] : r.got)
        for (const auto& g : grants) CHECK_FALSE(g.stolen_from.has_value());
}

}  // namespace tu_scenario
