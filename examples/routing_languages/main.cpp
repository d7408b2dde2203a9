// Multilingual annotation with crowdline's dispatcher: the case Prodigy's work stealing gets wrong.
// Alice reads English and French, Bob English, Carol French and German, Dave French. Each item needs two
// annotations. Dave leaves as soon as the work is routed; Carol works, then leaves. Alice takes over the
// French work Dave left; Bob never sees French or German; the German items are reported as starved.
// The second part shows a user-written router.

#include <crowdline/routing/dispatcher.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace routing = crowdline::routing;
using crowdline::time_point;
using crowdline::worker_id;
using routing::item_key;
using namespace std::chrono_literals;

// [snippet: types]
// [types]
struct text {
    std::string lang;
    bool hard = false;
};
struct annotator {
    std::string name;
    std::vector<std::string> langs;
};

bool reads(const annotator& a, const text& t) {
    return std::find(a.langs.begin(), a.langs.end(), t.lang) != a.langs.end();
}
// [types]
// [snippet end]

// [snippet: router]
// [router]
/// Hard items get three annotations from the least-loaded readers; the rest get one, chosen the same way.
struct hard_items_thrice {
    using policy_kind = routing::kinds::router;

    std::uint32_t route(item_key, const text& item, std::span<const routing::candidate> candidates,
                        std::vector<worker_id>& reserve) const {
        const std::uint32_t units = item.hard ? 3 : 1;
        std::vector<routing::candidate> by_load(candidates.begin(), candidates.end());
        std::stable_sort(by_load.begin(), by_load.end(), [](const auto& a, const auto& b) { return a.load < b.load; });
        for (std::size_t i = 0; i < units && i < by_load.size(); ++i) reserve.push_back(by_load[i].worker);
        return units;  // units without a reservation are open to any eligible reader
    }
};
static_assert(routing::router<hard_items_thrice, text>);
// [router]
// [snippet end]

int main() {
    const time_point t0{};
    const worker_id alice{1}, bob{2}, carol{3}, dave{4};
    std::map<std::int64_t, std::string> names{{1, "Alice"}, {2, "Bob"}, {3, "Carol"}, {4, "Dave"}};

    // [snippet: dispatcher]
    // [dispatcher]
    auto d = routing::make_dispatcher<text, annotator>(
        routing::average_per_task{2, routing::pick::hash},  // two annotations per item, stable by item key
        routing::eligible_when{reads},                       // one rule for first assignment and takeover
        routing::options{.lease = 30min, .steal_after = 2min});

    d.join(alice, {"Alice", {"en", "fr"}}, t0);
    d.join(bob, {"Bob", {"en"}}, t0);
    d.join(carol, {"Carol", {"fr", "de"}}, t0);
    d.join(dave, {"Dave", {"fr"}}, t0);
    const char* langs[] = {"en", "fr", "de"};
    for (std::uint64_t k = 1; k <= 30; ++k) d.add(item_key{k}, text{langs[k % 3]}, t0);
    // [dispatcher]
    // [snippet end]

    std::map<std::uint64_t, std::set<std::int64_t>> done_by;
    std::size_t bob_foreign = 0;
    std::map<std::int64_t, std::map<std::string, int>> received;
    // [snippet: work]
    // [work]
    auto work = [&](worker_id w, time_point now) {
        for (auto grants = d.next(w, 5, now); !grants.empty(); grants = d.next(w, 5, now)) {
            for (const auto& g : grants) {
                const char* lang = langs[g.item.value() % 3];
                ++received[w.value()][lang];
                if (g.stolen_from)
                    std::printf("%s takes over %s item %llu from %s\n", names[w.value()].c_str(), lang,
                                static_cast<unsigned long long>(g.item.value()), names[g.stolen_from->value()].c_str());
                d.complete(w, g.item, now);
                done_by[g.item.value()].insert(w.value());
                if (w == bob && g.item.value() % 3 != 0) ++bob_foreign;
            }
        }
    };
    d.leave(dave, t0 + 1min);  // Dave's reserved, unstarted units become stealable at once
    work(carol, t0 + 2min);
    d.leave(carol, t0 + 3min);
    work(bob, t0 + 4min);
    work(alice, t0 + 4min);
    // [work]
    // [snippet end]

    bool two_each = true;
    for (std::uint64_t k = 1; k <= 30; ++k)
        if (k % 3 != 2) two_each = two_each && done_by[k].size() == 2 && d.completions(item_key{k}) == 2;
    for (const auto& [w, per_lang] : received) {
        std::printf("%-5s completed", names[w].c_str());
        for (const auto& [lang, n] : per_lang) std::printf(" %d %s", n, lang.c_str());
        std::printf("\n");
    }
    const auto starved = d.starved();
    const auto counts = d.counts();
    std::printf("units: %zu open, %zu reserved, %zu leased, %zu completed; %zu taken over\n", counts.open, counts.reserved,
                counts.leased, counts.completed, counts.steals);
    std::printf("Bob received %zu French or German units; every French and English item %s; starved: %zu German items\n",
                bob_foreign, two_each ? "has 2 completions by 2 people" : "does NOT have 2 completions", starved.size());

    // A user-written router: hard items get three annotators.
    auto e = routing::make_dispatcher<text, annotator>(hard_items_thrice{}, routing::eligible_when{reads});
    for (std::int64_t w = 1; w <= 4; ++w) e.join(worker_id{w}, {"reader", {"en"}}, t0);
    e.add(item_key{1}, text{"en", true}, t0);
    e.add(item_key{2}, text{"en", false}, t0);
    std::printf("user router: hard item -> %zu units, easy item -> %zu unit\n", e.units_of(item_key{1}).size(),
                e.units_of(item_key{2}).size());
    return bob_foreign == 0 && two_each && starved.size() == 10 ? 0 : 1;
}
