// Randomized: thousands of seeded steps of join/leave/heartbeat/add/grow/next/complete/release/expire (and
// bad input) with random profiles, checking all five invariants after every step against a plain model.

#include "unit/routing/common.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_randomized {

using namespace routing_test;
namespace routing = crowdline::routing;
using routing::unit_state;

namespace {

enum class steal_rule { eligible, none, senior };

struct rules {
    std::function<std::uint32_t(item_key, std::size_t)> units;  // unit count from key and active eligible workers
    steal_rule stealing;
    bool keyed;
    routing::options opts;
    std::optional<routing::adaptive_overlap> adaptive{};  ///< answers are given, and disagreement grows items
};

/// Deterministic everywhere (no std distributions, whose output differs between standard libraries).
struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        state += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
};

const char* const languages[] = {"a", "b", "c", "d"};

// --- the reference model: plain containers, every question answered by looking at everything ------

struct m_unit {
    unit_state state = unit_state::open;
    int worker = -1;
    time_point until{};
};
struct m_item {
    item_key key;
    text payload;
    std::vector<m_unit> units;
    std::set<int> seen;
    std::uint32_t completed = 0;
    std::map<std::string, std::uint32_t> answers{};  ///< adaptive overlap: label → times given
};
struct m_worker {
    bool known = false;
    bool joined = false;
    reader profile;
    time_point last_seen{};
    std::size_t held = 0, taken = 0;
};

struct model {
    rules r;
    std::vector<m_item> items;
    std::map<int, m_worker> workers;
    std::size_t steals = 0;
    std::size_t grown = 0;  ///< units added by grow

    bool steal_ok(const m_worker& w) const {
        switch (r.stealing) {
            case steal_rule::eligible: return true;
            case steal_rule::none: return false;
            case steal_rule::senior: return w.profile.senior;
        }
        return false;
    }
    bool can_take_more(const m_worker& w) const {
        return w.held < r.opts.max_concurrent_per_worker && w.taken < r.opts.max_units_per_worker;
    }
    /// Whether worker id may legally take some unit now (its own, an open one, or a stealable one).
    bool has_takeable(int id) const {
        const m_worker& w = workers.at(id);
        if (!w.joined || !can_take_more(w)) return false;
        for (const auto& it : items) {
            if (it.seen.count(id) || !reads(w.profile, it.payload)) continue;
            for (const auto& u : it.units) {
                if (u.state == unit_state::open) return true;
                if (u.state == unit_state::reserved && (u.worker == id || steal_ok(w))) return true;
            }
        }
        return false;
    }
    std::set<std::uint64_t> starved() const {
        std::set<std::uint64_t> out;
        for (const auto& it : items) {
            std::size_t waiting = 0;
            for (const auto& u : it.units) waiting += (u.state == unit_state::open || u.state == unit_state::reserved) ? 1 : 0;
            if (waiting == 0) continue;
            std::size_t able = 0;
            for (const auto& [id, w] : workers)
                if (w.joined && w.taken < r.opts.max_units_per_worker && !it.seen.count(id) && reads(w.profile, it.payload)) ++able;
            if (able < waiting) {
                out.insert(it.key.value());
                continue;
            }
            if (r.stealing == steal_rule::eligible || r.keyed) continue;
            for (const auto& u : it.units) {
                if (u.state != unit_state::reserved || workers.at(u.worker).joined) continue;
                bool takeable = false;
                for (const auto& [id, w] : workers)
                    takeable |= w.joined && w.taken < r.opts.max_units_per_worker && !it.seen.count(id) &&
                                reads(w.profile, it.payload) && steal_ok(w);
                if (!takeable) out.insert(it.key.value());
            }
        }
        return out;
    }
    m_item* find(item_key k) {
        for (auto& it : items)
            if (it.key == k) return &it;
        return nullptr;
    }
    void reopen(m_unit& u) {
        u.state = unit_state::open;
        u.worker = -1;
    }
};

/// Compares everything the dispatcher reports with the model; one REQUIRE per step keeps the run fast.
template <class Dispatcher>
void check_same(const Dispatcher& d, const model& m) {
    std::ostringstream diff;
    routing::unit_counts expected{};
    for (const auto& it : m.items) {
        const auto views = d.units_of(it.key);
        if (views.size() != it.units.size()) {
            diff << it.key << ": " << views.size() << " units, model " << it.units.size() << "\n";
            continue;
        }
        for (std::size_t j = 0; j < views.size(); ++j) {
            const auto& u = it.units[j];
            const auto want = u.worker < 0 ? std::nullopt : std::optional<worker_id>{worker_id{u.worker}};
            if (views[j].state != u.state || views[j].worker != want ||
                (u.state == unit_state::leased && views[j].lease_until != u.until))
                diff << it.key << " unit " << j << ": " << routing::to_string(views[j].state) << " by "
                     << (views[j].worker ? views[j].worker->value() : -1) << ", model " << routing::to_string(u.state)
                     << " by " << u.worker << "\n";
            switch (u.state) {
                case unit_state::open: ++expected.open; break;
                case unit_state::reserved: ++expected.reserved; break;
                case unit_state::leased: ++expected.leased; break;
                case unit_state::completed: ++expected.completed; break;
            }
        }
        if (d.completions(it.key) != it.completed) diff << it.key << ": completions differ\n";
        if (it.completed > it.units.size()) diff << it.key << ": more completions than units\n";  // invariant 3
    }
    expected.steals = m.steals;
    if (!(d.counts() == expected)) diff << "counts differ\n";
    std::set<std::uint64_t> starved;
    for (auto k : d.starved()) starved.insert(k.value());
    if (starved != m.starved()) diff << "starved() differs\n";
    for (const auto& [id, w] : m.workers) {
        if (d.held(worker_id{id}) != w.held) diff << "worker " << id << ": held differs\n";
        if (d.is_joined(worker_id{id}) != w.joined) diff << "worker " << id << ": joined differs\n";
    }
    const std::string found = diff.str();
    INFO(found);
    REQUIRE(found.empty());
}

template <class Dispatcher>
void run(Dispatcher d, rules r, std::uint64_t seed, int steps) {
    model m{std::move(r), {}, {}, 0, 0};
    rng g{seed};
    time_point now = at(1000s);
    std::uint64_t next_key = 1;
    const int worker_count = 10;
    const int stranger = 11;
    const auto& opts = m.r.opts;

    for (int step = 0; step < steps; ++step) {
        now += std::chrono::seconds{g.below(6)};
        const int w = 1 + static_cast<int>(g.below(worker_count));
        std::size_t op = g.below(100);
        if (op >= 22 && op < 37 && (step / 250) % 2 == 1) op = 40;  // alternate adding and draining phases
        INFO("seed " << seed << " step " << step << " op " << op << " worker " << w);
        if (op < 10) {  // join with a random profile
            reader p;
            for (const char* l : languages)
                if (g.chance(35)) p.langs.push_back(l);
            p.senior = g.chance(50);
            d.join(worker_id{w}, p, now);
            auto& mw = m.workers[w];
            mw.known = mw.joined = true;
            mw.profile = p;
            mw.last_seen = now;
            for (auto& it : m.items)
                for (auto& u : it.units)
                    if (u.state == unit_state::reserved && u.worker == w && !reads(p, it.payload)) m.reopen(u);
        } else if (op < 17) {  // leave
            if (!m.workers.count(w)) {
                REQUIRE_THROWS_AS(d.leave(worker_id{w}, now), crowdline::invalid_argument);
            } else {
                d.leave(worker_id{w}, now);
                m.workers[w].joined = false;
                m.workers[w].last_seen = now;
            }
        } else if (op < 22) {  // heartbeat
            if (!m.workers.count(w)) {
                REQUIRE_THROWS_AS(d.heartbeat(worker_id{w}, now), crowdline::invalid_argument);
            } else {
                d.heartbeat(worker_id{w}, now);
                m.workers[w].last_seen = now;
            }
        } else if (op < 37) {  // add
            const item_key key{g.chance(3) && next_key > 1 ? 1 + g.below(next_key - 1) : next_key};
            const text t{languages[g.below(4)]};
            if (key.value() < next_key) {
                REQUIRE_THROWS_AS(d.add(key, t, now), crowdline::invalid_argument);
            } else {
                ++next_key;
                d.add(key, t, now);
                std::set<int> active;
                for (const auto& [id, mw] : m.workers)
                    if (mw.joined && reads(mw.profile, t) && mw.last_seen >= now - opts.steal_after) active.insert(id);
                const auto views = d.units_of(key);
                REQUIRE(views.size() == m.r.units(key, active.size()));
                m_item it{key, t, {}, {}, 0};
                std::set<int> reserved;
                for (const auto& v : views) {
                    REQUIRE(v.state != unit_state::leased);
                    REQUIRE(v.state != unit_state::completed);
                    if (v.state == unit_state::reserved) {
                        const int id = static_cast<int>(v.worker->value());
                        REQUIRE(active.count(id));       // reserved for a joined, active, eligible worker...
                        REQUIRE(reserved.insert(id).second);  // ...each at most once
                        it.units.push_back({unit_state::reserved, id, {}});
                    } else {
                        it.units.push_back({});
                    }
                }
                REQUIRE(reserved.size() == std::min(views.size(), active.size()));
                m.items.push_back(std::move(it));
            }
        } else if (op < 40) {  // grow: one more unit on an existing item, for a worker or open
            if (m.items.empty()) {
                REQUIRE_THROWS_AS(d.grow(item_key{next_key + 5}, std::nullopt, now), crowdline::invalid_argument);
            } else {
                m_item& it = m.items[g.below(m.items.size())];
                const bool for_one = g.chance(60);
                const int who = g.chance(5) ? stranger : w;
                bool legal = true;
                if (for_one) {
                    const auto found = m.workers.find(who);
                    legal = found != m.workers.end() && found->second.joined && reads(found->second.profile, it.payload) &&
                            !it.seen.count(who);
                    for (const auto& u : it.units) legal &= !(u.worker == who && u.state != unit_state::open);
                }
                const auto target = for_one ? std::optional<worker_id>{worker_id{who}} : std::nullopt;
                if (!legal) {
                    const auto before = d.units_of(it.key).size();
                    REQUIRE_THROWS_AS(d.grow(it.key, target, now), crowdline::invalid_argument);
                    REQUIRE(d.units_of(it.key).size() == before);  // a refusal changes nothing
                } else {
                    REQUIRE(d.grow(it.key, target, now) == it.units.size());
                    it.units.push_back(for_one ? m_unit{unit_state::reserved, who, {}} : m_unit{});
                    ++m.grown;
                }
            }
        } else if (op < 64) {  // next
            const std::size_t n = 1 + g.below(4);
            const int who = g.chance(3) ? stranger : w;
            if (!m.workers.count(who) || !m.workers[who].joined) {
                REQUIRE_THROWS_AS(d.next(worker_id{who}, n, now), crowdline::invalid_argument);
            } else {
                auto& mw = m.workers[who];
                mw.last_seen = now;
                std::size_t own_before = 0;
                for (const auto& it : m.items)
                    for (const auto& u : it.units) own_before += (u.state == unit_state::reserved && u.worker == who) ? 1 : 0;
                const auto grants = d.next(worker_id{who}, n, now);
                REQUIRE(grants.size() <= n);
                std::size_t own = 0;
                bool other = false;
                for (const auto& gr : grants) {
                    m_item* it = m.find(gr.item);
                    REQUIRE(it != nullptr);
                    REQUIRE(gr.unit_index < it->units.size());
                    m_unit& u = it->units[gr.unit_index];
                    // invariant 5: never a completed (or leased) unit
                    REQUIRE((u.state == unit_state::open || u.state == unit_state::reserved));
                    // invariant 1
                    REQUIRE(it->seen.insert(who).second);
                    // invariant 2
                    REQUIRE(reads(mw.profile, it->payload));
                    if (u.state == unit_state::reserved && u.worker != who) {
                        REQUIRE(gr.stolen_from == worker_id{u.worker});
                        REQUIRE(m.steal_ok(mw));
                        ++m.steals;
                        other = true;
                    } else {
                        REQUIRE_FALSE(gr.stolen_from.has_value());
                        if (u.state == unit_state::reserved) ++own;
                        else other = true;
                    }
                    REQUIRE(gr.lease_until == now + opts.lease);
                    u = {unit_state::leased, who, gr.lease_until};
                    ++mw.held;
                    ++mw.taken;
                    REQUIRE(mw.held <= opts.max_concurrent_per_worker);
                    REQUIRE(mw.taken <= opts.max_units_per_worker);
                }
                if (other) REQUIRE(own == own_before);  // own reservations come first
                // invariant 4 (strong form): short of n only when nothing more is legally takeable
                if (grants.size() < n) REQUIRE_FALSE(m.has_takeable(who));
            }
        } else if (op < 93) {  // complete (op < 88) or release
            const bool completing = op < 88;
            int w_holding = w;
            if (g.chance(80)) {  // usually someone who holds something
                std::vector<int> holders;
                for (const auto& [id, mw] : m.workers)
                    if (mw.held > 0) holders.push_back(id);
                if (!holders.empty()) w_holding = holders[g.below(holders.size())];
            }
            int who = w_holding;
            item_key key{next_key + 5};
            bool valid = false;
            std::vector<std::pair<m_item*, std::size_t>> holding;
            if (m.workers.count(w_holding))
                for (auto& it : m.items)
                    for (std::size_t j = 0; j < it.units.size(); ++j)
                        if (it.units[j].state == unit_state::leased && it.units[j].worker == w_holding) holding.emplace_back(&it, j);
            if (!holding.empty() && !g.chance(10)) {
                key = holding[g.below(holding.size())].first->key;
                valid = true;
            } else if (!m.items.empty() && g.chance(70)) {
                key = m.items[g.below(m.items.size())].key;  // most likely not held by w
                for (const auto& [it, j] : holding) valid |= it->key == key;
            } else if (g.chance(50)) {
                who = stranger;
            }
            if (!valid) {
                if (completing) REQUIRE_THROWS_AS(d.complete(worker_id{who}, key, now), crowdline::invalid_argument);
                else REQUIRE_THROWS_AS(d.release(worker_id{who}, key, now), crowdline::invalid_argument);
            } else {
                m_item* it = m.find(key);
                std::size_t j = 0;
                while (!(it->units[j].state == unit_state::leased && it->units[j].worker == who)) ++j;
                auto& mw = m.workers[who];
                --mw.held;
                mw.last_seen = now;
                if (completing) {
                    d.complete(worker_id{who}, key, now);
                    it->units[j].state = unit_state::completed;
                    ++it->completed;
                    if constexpr (requires { d.wants_unit(key); }) {
                        // The pool's part: the answer counts; when answers disagree, one more open unit.
                        static const char* const labels[] = {"yes", "no", "maybe"};
                        const std::string label = labels[g.chance(60) ? 0 : 1 + g.below(2)];
                        d.record_answer(key, label);
                        ++it->answers[label];
                        std::uint32_t answers = 0, top = 0;
                        for (const auto& [l, n] : it->answers) {
                            answers += n;
                            top = std::max(top, n);
                        }
                        const auto& a = *m.r.adaptive;
                        const auto units = static_cast<std::uint32_t>(it->units.size());
                        const bool wants = units < a.max && answers >= units && top < a.agreement * answers;
                        REQUIRE(d.wants_unit(key) == wants);
                        if (wants) {  // (wants_unit says no at max: the random grow op above may pass it)
                            REQUIRE(d.grow(key, std::nullopt, now) == units);
                            it->units.push_back({});
                            ++m.grown;
                        }
                    }
                } else {
                    d.release(worker_id{who}, key, now);
                    m.reopen(it->units[j]);
                    --mw.taken;
                }
            }
        } else {  // expire
            std::size_t expected = 0;
            for (auto& it : m.items)
                for (auto& u : it.units)
                    if (u.state == unit_state::leased && u.until <= now) {
                        auto& mw = m.workers[u.worker];
                        --mw.held;
                        --mw.taken;
                        m.reopen(u);
                        ++expected;
                    }
            REQUIRE(d.expire(now) == expected);  // invariant 5
        }
        check_same(d, m);
    }
    // the run must have exercised what it claims to check
    std::size_t completed = 0;
    for (const auto& it : m.items) completed += it.completed;
    CHECK(m.items.size() > 100);
    CHECK(completed > 100);
    if (m.r.stealing != steal_rule::none) CHECK(m.steals > 10);
    CHECK(m.grown > 20);
}

constexpr int steps = 4000;

}  // namespace

TEST_CASE("randomized: average_per_task{2} (hash), eligible_when, steal_eligible", "[routing][randomized]") {
    const routing::average_per_task router{2};
    const routing::options opts{.lease = 120s, .steal_after = 60s};
    run(routing::make_dispatcher<text, reader>(router, routing::eligible_when{reads_language}, opts),
        rules{[router](item_key k, std::size_t) { return router.units_for(k); }, steal_rule::eligible, false, opts}, 1, steps);
}

TEST_CASE("randomized: average_per_task{1.5} (least loaded), steal_by_key, max_concurrent", "[routing][randomized]") {
    const routing::average_per_task router{1.5, routing::pick::least_loaded};
    const routing::options opts{.lease = 90s, .steal_after = 45s, .max_concurrent_per_worker = 2};
    run(routing::make_dispatcher<text, reader>(opts, routing::steal_by_key{language_of, languages_of}, router),
        rules{[router](item_key k, std::size_t) { return router.units_for(k); }, steal_rule::eligible, true, opts}, 2, steps);
}

TEST_CASE("randomized: average_per_task{1.7}, steal_when (seniors only), max_units", "[routing][randomized]") {
    const routing::average_per_task router{1.7};
    const routing::options opts{.lease = 100s, .steal_after = 30s, .max_units_per_worker = 200};
    const auto senior = [](const reader& r, const text&) { return r.senior; };
    run(routing::make_dispatcher<text, reader>(routing::steal_when{senior}, router, routing::eligible_when{reads_language}, opts),
        rules{[router](item_key k, std::size_t) { return router.units_for(k); }, steal_rule::senior, false, opts}, 3, steps);
}

TEST_CASE("randomized: full_overlap, no_stealing", "[routing][randomized]") {
    const routing::options opts{.lease = 60s, .steal_after = 90s, .max_concurrent_per_worker = 3};
    run(routing::make_dispatcher<text, reader>(routing::no_stealing{}, routing::full_overlap{},
                                              routing::eligible_when{reads_language}, opts),
        rules{[](item_key, std::size_t active) { return static_cast<std::uint32_t>(std::max<std::size_t>(1, active)); },
              steal_rule::none, false, opts},
        4, steps);
}

TEST_CASE("randomized: adaptive_overlap{2, 4, 0.7}, eligible_when, steal_eligible: answers that disagree add units",
          "[routing][randomized][adaptive]") {
    const routing::adaptive_overlap adaptive{.min = 2, .max = 4, .agreement = 0.7};
    for (std::uint64_t seed : {11u, 12u, 13u})
        run(routing::make_dispatcher<text, reader>(adaptive, routing::eligible_when{reads_language}, routing::steal_eligible{},
                                                   routing::options{.lease = 120s, .steal_after = 60s}),
            rules{[](item_key, std::size_t) { return 2u; }, steal_rule::eligible, false,
                  routing::options{.lease = 120s, .steal_after = 60s}, adaptive},
            seed, steps);
}

}  // namespace tu_randomized
