#pragma once
/// The dispatcher: who gets which unit, when, and who may take it over. One eligibility rule governs first
/// assignment and takeover, so an idle qualified worker can always take work reserved for someone who left.
///
/// Not thread-safe: the caller synchronises (one mutex around the dispatcher, or one thread). Time is
/// always passed in; nothing here reads a clock.

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/routing/detail/answer_tally.hpp>
#include <crowdline/routing/detail/bucket.hpp>
#include <crowdline/routing/detail/flat_table.hpp>
#include <crowdline/routing/detail/lease_queue.hpp>
#include <crowdline/routing/detail/policy_pack.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/routing/types.hpp>

#include <boost/align/aligned_allocator_adaptor.hpp>
#include <boost/hana/at_key.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/type.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace crowdline::routing {

namespace detail {

/// The key type of a steal_by_key policy for an item type (int for other policies: unused).
template <class Stealing, class Item>
struct bucket_key {
    using type = int;
};
template <class K, class P, class Item>
struct bucket_key<steal_by_key<K, P>, Item> {
    using type = std::remove_cvref_t<std::invoke_result_t<const K&, const Item&>>;
};

/// now + d, clamped to the representable range (a huge lease must not wrap around).
inline time_point saturating_add(time_point t, clock::duration d) noexcept {
    clock::rep out{};
    if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &out))
        return d.count() > 0 ? time_point::max() : time_point::min();
    return time_point{clock::duration{out}};
}

template <class... Parts>
std::string message(const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}

}  // namespace detail

/// Routes items (`Item`) to workers (`Profile` describes one) under a router, an eligibility rule, a
/// stealing rule and options. Build it with `make_dispatcher<Item, Profile>(policies...)`.
template <class Item, class Profile, class Router, class Eligibility, class Stealing>
class dispatcher {
    static constexpr bool keyed = is_steal_by_key_v<Stealing>;
    static constexpr bool may_ever_steal = !std::is_same_v<Stealing, no_stealing>;
    static constexpr std::uint32_t none = ~std::uint32_t{0};
    static constexpr std::uint64_t not_found = ~std::uint64_t{0};

    /// Where a not-started unit waits: open to all eligible, reserved for an absent worker, reserved for an active one.
    enum tier : std::uint8_t { open_tier = 0, orphan_tier = 1, reserved_tier = 2 };
    /// A worker is active, joined but silent for longer than steal_after (idle), or gone.
    enum class presence : std::uint8_t { active, idle, left };

public:
    using item_type = Item;
    using profile_type = Profile;
    using router_type = Router;
    using eligibility_type = Eligibility;
    using stealing_type = Stealing;
    /// The normalised policy pack: kind tag -> policy.
    using policy_map = decltype(boost::hana::make_map(
        boost::hana::make_pair(boost::hana::type_c<kinds::router>, std::declval<Router>()),
        boost::hana::make_pair(boost::hana::type_c<kinds::eligibility>, std::declval<Eligibility>()),
        boost::hana::make_pair(boost::hana::type_c<kinds::stealing>, std::declval<Stealing>()),
        boost::hana::make_pair(boost::hana::type_c<kinds::options>, std::declval<options>())));

    explicit dispatcher(policy_map policies) : policies_{std::move(policies)} {
        const options& o = settings();
        if (o.lease <= clock::duration::zero())
            throw crowdline::invalid_argument("crowdline::routing::options: lease must be positive");
        if (o.steal_after < clock::duration::zero())
            throw crowdline::invalid_argument("crowdline::routing::options: steal_after must not be negative");
        if (o.max_concurrent_per_worker == 0)
            throw crowdline::invalid_argument("crowdline::routing::options: max_concurrent_per_worker must be at least 1");
        if (o.max_units_per_worker == 0)
            throw crowdline::invalid_argument("crowdline::routing::options: max_units_per_worker must be at least 1");
        if constexpr (requires { router_policy().validate(); }) router_policy().validate();
        for (auto& t : buckets_) t.resize(1);
        joined_by_bucket_.resize(1);
    }

    // --- operations ------------------------------------------------------------------------------

    /// A worker becomes available (again); a re-join replaces its profile and drops reservations it no
    /// longer qualifies for.
    void join(worker_id id, Profile profile, time_point now) {
        std::vector<std::uint32_t> keys = bucket_keys_of(profile);
        std::uint32_t wi;
        presence before = presence::left;
        if (auto it = worker_index_.find(id); it == worker_index_.end()) {
            wi = static_cast<std::uint32_t>(workers_.size());
            mark_.reserve(mark_.size() + 1);  // no index entry may point past the records if an allocation fails
            workers_.push_back(worker_rec{id, std::move(profile)});
            mark_.push_back(0);
            worker_index_.emplace(id, wi);
        } else {
            wi = it->second;
            worker_rec& w = workers_[wi];
            before = w.state;
            if (before != presence::left) remove_joined(wi);
            if (before == presence::active) active_by_seen_.erase({w.last_seen, wi});
            w.profile = std::move(profile);
        }
        worker_rec& w = workers_[wi];
        w.keys = std::move(keys);
        w.cursors.assign(w.keys.size(), std::array<std::uint64_t, 3>{});
        w.state = presence::active;
        w.last_seen = now;
        active_by_seen_.insert({now, wi});
        add_joined(wi);
        for (std::size_t p = w.queue_head; p < w.queue.size(); ++p) {
            const std::uint32_t u = w.queue[p];
            unit_rec& unit = units_[u];
            if (unit.state != unit_state::reserved || unit.worker != wi) continue;
            if (!eligible(w, unit.item)) {
                --w.reserved;
                --counts_.reserved;
                reopen(u);
            } else if (before != presence::active) {
                refile(u, reserved_tier);
            }
        }
    }

    /// A worker goes away: its reserved, unstarted units become stealable at once (its leases run on).
    void leave(worker_id id, time_point now) {
        const std::uint32_t wi = worker_at(id, "leave");
        worker_rec& w = workers_[wi];
        if (w.state == presence::left) return;
        remove_joined(wi);
        if (w.state == presence::active) {
            active_by_seen_.erase({w.last_seen, wi});
            refile_reservations(wi, orphan_tier);
        }
        w.state = presence::left;
        w.last_seen = now;
    }

    /// The worker is alive: it is no longer stolen from first.
    void heartbeat(worker_id id, time_point now) { touch(worker_at(id, "heartbeat"), now); }

    /// One item = one assignment: the router sets its unit count and reservations among joined eligible workers.
    void add(item_key key, Item item, time_point now) {
        if (item_index_.find(key.value()))
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::add: ", key, " was added already"));
        refresh_idle(now);
        std::uint32_t b = 0;
        if constexpr (keyed) b = bucket_of(std::invoke(stealing().key_of_item, std::as_const(item)));
        candidates_.clear();
        ++epoch_;
        for (const std::uint32_t wi : joined_by_bucket_[b]) {
            const worker_rec& w = workers_[wi];
            if (w.state != presence::active || !std::invoke(eligibility(), w.profile, std::as_const(item))) continue;
            candidates_.push_back(candidate{w.id, w.reserved + w.held});
            mark_[wi] = epoch_;
        }
        reserve_.clear();
        const std::uint32_t units = static_cast<std::uint32_t>(
            router_policy().route(key, std::as_const(item), std::span<const candidate>{candidates_}, reserve_));
        if (units == 0)
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::add: the router gave ", key, " no unit"));
        if (reserve_.size() > units)
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::add: the router reserved ",
                                                              reserve_.size(), " workers for ", units, " units of ", key));
        if (units > max_units_per_item)
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::add: the router gave ", key, " ",
                                                              units, " units; at most ", max_units_per_item, " allowed"));
        if (units > std::numeric_limits<std::uint32_t>::max() - 1 - units_.size())
            throw crowdline::invalid_argument("crowdline::routing::dispatcher::add: too many units");
        chosen_.clear();
        for (const worker_id r : reserve_) {
            const auto it = worker_index_.find(r);
            if (it == worker_index_.end() || mark_[it->second] != epoch_)
                throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::add: the router reserved ", r,
                                                                  " for ", key, ", who is not a candidate (or chosen twice)"));
            mark_[it->second] = epoch_ - 1;  // a second choice of the same worker fails the check above
            chosen_.push_back(it->second);
        }
        // Nothing can fail past this point except allocation.
        const auto ii = static_cast<std::uint32_t>(items_.size());
        const auto first = static_cast<std::uint32_t>(units_.size());
        items_.push_back(item_rec{key, first, units, 0, b});
        payload_.push_back(std::move(item));
        item_index_.insert(key.value(), ii);
        for (std::uint32_t j = 0; j < units; ++j) {
            const std::uint32_t u = first + j;
            unit_rec& unit = units_.emplace_back();
            unit.key = key;
            unit.item = ii;
            unit.worker = none;
            unit.bucket = b;
            unit.index = static_cast<std::uint16_t>(j);
            unit.state = unit_state::open;
            unit.last = j + 1 == units;
            if (j < chosen_.size()) {
                worker_rec& w = workers_[chosen_[j]];
                unit.state = unit_state::reserved;
                unit.worker = chosen_[j];
                unit.tier = reserved_tier;
                unit.slot = buckets_[reserved_tier][b].push(u);
                w.queue.push_back(u);
                ++w.reserved;
                ++counts_.reserved;
            } else {
                unit.tier = open_tier;
                unit.slot = buckets_[open_tier][b].push(u);
                ++counts_.open;
            }
        }
    }

    /// Adds one unit to an item already added, at the next unit_index (returned): reserved for `for_worker`,
    /// or open to every eligible worker. What adaptive overlap (one more answer when answers disagree) and
    /// full overlap over workers who join later are made of. The new unit is routed and stolen like any
    /// other, so every invariant holds: `for_worker` must be joined, eligible for the item, and have no unit
    /// of it (nor have given one back); otherwise `invalid_argument` and nothing changes.
    std::uint32_t grow(item_key key, std::optional<worker_id> for_worker, time_point now) {
        const std::uint32_t ii = item_at(key, "grow");
        const auto fail = [&](const auto&... why) {
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::grow: ", key, ": ", why...));
        };
        const std::uint32_t index = total_units(ii);
        if (index >= max_units_per_item) fail(index, " units already; at most ", max_units_per_item, " allowed");
        if (units_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) fail("too many units");
        std::uint32_t wi = none;
        if (for_worker) {
            wi = worker_at(*for_worker, "grow");
            const worker_rec& w = workers_[wi];
            if (w.state == presence::left) fail(*for_worker, " has not joined");
            if (!eligible(w, ii)) fail(*for_worker, " is not eligible for it");
            if (has_any(units_[items_[ii].first_unit], wi)) fail(*for_worker, " already has (or gave back) a unit of it");
        }
        (void)now;
        // Nothing can fail past this point except allocation: the side list first, so a failed
        // allocation leaves no unit that no list finds.
        auto& extras = extra_units_[ii];
        extras.reserve(extras.size() + 1);
        const auto u = static_cast<std::uint32_t>(units_.size());
        unit_rec& unit = units_.emplace_back();
        extras.push_back(u);
        units_[items_[ii].first_unit + items_[ii].unit_count - 1].grown = 1;
        unit.key = key;
        unit.item = ii;
        unit.worker = none;
        unit.bucket = items_[ii].bucket;
        unit.index = static_cast<std::uint16_t>(index);
        unit.extra = 1;
        if (wi != none) {
            worker_rec& w = workers_[wi];
            unit.state = unit_state::reserved;
            unit.worker = wi;
            const tier t = w.state == presence::active ? reserved_tier : orphan_tier;
            unit.tier = static_cast<std::uint8_t>(t & 3u);  // a tier fits the 2-bit field
            unit.slot = buckets_[t][unit.bucket].push(u);
            w.queue.push_back(u);
            ++w.reserved;
            ++counts_.reserved;
        } else {
            unit.state = unit_state::open;
            unit.tier = open_tier;
            unit.slot = buckets_[open_tier][unit.bucket].push(u);
            ++counts_.open;
        }
        return index;
    }

    /// Adaptive overlap (a router with `wants_more`, e.g. `adaptive_overlap`): the answer one completed unit
    /// of `key` gave, as the worker pool read it from the submission. Kept per item, one count per label.
    void record_answer(item_key key, std::string_view label)
        requires grows_on_answers<Router>
    {
        answers_.record(item_at(key, "record_answer"), label);
    }
    /// Whether the item's answers ask for one more unit (the router's `wants_more` over its units, its
    /// answers and the most common answer's count); the caller adds it with `grow(key, std::nullopt, now)`.
    [[nodiscard]] bool wants_unit(item_key key) const
        requires grows_on_answers<Router>
    {
        const std::uint32_t ii = item_at(key, "wants_unit");
        const auto given = answers_.of(ii);
        return router_policy().wants_more(total_units(ii), given.answers, given.top);
    }

    /// The first item at or after `cursor` (an index in the order items were added) that `worker` is
    /// eligible for and has no unit of (nor gave one back): where full overlap over workers who join later
    /// adds the worker's unit. `cursor` moves past every item looked at, so a worker's scans together
    /// read each item once; nothing when there is none.
    std::optional<item_key> next_item_without(worker_id worker, std::size_t& cursor) const {
        const std::uint32_t wi = worker_at(worker, "next_item_without");
        const worker_rec& w = workers_[wi];
        while (cursor < items_.size()) {
            const auto ii = static_cast<std::uint32_t>(cursor++);
            if (eligible(w, ii) && !has_any(units_[items_[ii].first_unit], wi)) return items_[ii].key;
        }
        return std::nullopt;
    }

    /// Re-creates an item after a restart (the pipeline's resume): `unit_count` units, those named in
    /// `completed_by` (unit index, worker) already done, the rest open to every eligible worker. No router
    /// runs (nobody has joined yet); a worker who completed a unit of the item never gets another, and one
    /// in `returned_by` (it released a unit of it, or its lease ran out) never gets it again, as before the
    /// restart. A worker not seen yet is recorded as gone until it joins.
    void restore(item_key key, Item item, std::uint32_t unit_count,
                 std::span<const std::pair<std::uint32_t, worker_id>> completed_by, std::span<const worker_id> returned_by,
                 time_point now) {
        static_assert(std::is_default_constructible_v<Profile>,
                      "crowdline::routing::dispatcher::restore: Profile must be default constructible (a worker who "
                      "completed a unit before the restart is recorded before it joins again)");
        (void)now;
        const auto fail = [&](const auto&... why) {
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::restore: ", key, ": ", why...));
        };
        if (item_index_.find(key.value())) fail("was added already");
        if (unit_count == 0) fail("an item needs at least one unit");
        if (unit_count > max_units_per_item) fail(unit_count, " units; at most ", max_units_per_item, " allowed");
        if (unit_count > std::numeric_limits<std::uint32_t>::max() - 1 - units_.size()) fail("too many units");
        if (completed_by.size() > unit_count) fail(completed_by.size(), " completions for ", unit_count, " units");
        std::vector<std::pair<std::uint32_t, worker_id>> sorted(completed_by.begin(), completed_by.end());
        std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        for (std::size_t i = 0; i < sorted.size(); ++i) {
            if (sorted[i].first >= unit_count) fail("unit index ", sorted[i].first, " is out of range (", unit_count, " units)");
            if (i > 0 && sorted[i - 1].first == sorted[i].first) fail("unit ", sorted[i].first, " is completed twice");
        }
        std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
        for (std::size_t i = 1; i < sorted.size(); ++i)
            if (sorted[i - 1].second == sorted[i].second) fail(sorted[i].second, " completed two of its units");
        std::uint32_t b = 0;
        if constexpr (keyed) b = bucket_of(std::invoke(stealing().key_of_item, std::as_const(item)));
        // Records for workers not seen yet: the record and its mark first, the index last, so a failed
        // allocation leaves no index entry pointing past the records.
        const auto index_of = [&](worker_id id) {
            if (const auto it = worker_index_.find(id); it != worker_index_.end()) return it->second;
            const auto wi = static_cast<std::uint32_t>(workers_.size());
            mark_.reserve(mark_.size() + 1);
            workers_.push_back(worker_rec{id, Profile{}});
            mark_.push_back(0);
            worker_index_.emplace(id, wi);
            return wi;
        };
        chosen_.assign(unit_count, none);  // completing worker by unit index
        for (const auto& [index, id] : completed_by) chosen_[index] = index_of(id);
        reserve_.assign(returned_by.begin(), returned_by.end());
        std::vector<std::uint32_t> gave_back;
        gave_back.reserve(reserve_.size());
        for (const worker_id id : reserve_) gave_back.push_back(index_of(id));
        // Nothing can fail past this point except allocation.
        const auto ii = static_cast<std::uint32_t>(items_.size());
        const auto first = static_cast<std::uint32_t>(units_.size());
        items_.push_back(item_rec{key, first, unit_count, static_cast<std::uint32_t>(completed_by.size()), b});
        payload_.push_back(std::move(item));
        item_index_.insert(key.value(), ii);
        for (std::uint32_t j = 0; j < unit_count; ++j) {
            unit_rec& unit = units_.emplace_back();
            unit.key = key;
            unit.item = ii;
            unit.bucket = b;
            unit.index = static_cast<std::uint16_t>(j);
            unit.last = j + 1 == unit_count;
            if (chosen_[j] != none) {
                unit.state = unit_state::completed;
                unit.worker = chosen_[j];
                unit.tier = not_waiting;
                ++workers_[chosen_[j]].taken;
                ++counts_.completed;
            } else {
                unit.state = unit_state::open;
                unit.worker = none;
                unit.tier = open_tier;
                unit.slot = buckets_[open_tier][b].push(first + j);
                ++counts_.open;
            }
        }
        for (const std::uint32_t wi : gave_back) former_.insert(seen_key(ii, wi));
    }

    /// `restore` without workers who gave a unit back.
    void restore(item_key key, Item item, std::uint32_t unit_count,
                 std::span<const std::pair<std::uint32_t, worker_id>> completed_by, time_point now) {
        restore(key, std::move(item), unit_count, completed_by, std::span<const worker_id>{}, now);
    }

    /// Up to n grants for a joined worker: its own reservations (oldest first), then open units it is
    /// eligible for, then, when still short, units reserved for others that the stealing policy allows
    /// (from workers who left or went silent first, then the oldest reservation).
    std::vector<grant> next(worker_id id, std::size_t n, time_point now) {
        const std::uint32_t wi = worker_at(id, "next");
        if (workers_[wi].state == presence::left)
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::next: ", id, " has not joined"));
        touch(wi, now);
        std::vector<grant> out;
        const worker_rec& w = workers_[wi];
        std::size_t room = n;
        room = std::min(room, settings().max_concurrent_per_worker - std::min(settings().max_concurrent_per_worker, w.held));
        room = std::min(room, settings().max_units_per_worker - std::min(settings().max_units_per_worker, w.taken));
        if (room == 0) return out;
        out.reserve(std::min<std::size_t>(room, 64));
        serve_own(wi, room, now, out);
        if (out.size() < room) serve_tier(wi, open_tier, room, now, out);
        if constexpr (may_ever_steal) {
            if (out.size() < room) {
                refresh_idle(now);
                serve_tier(wi, orphan_tier, room, now, out);
                if (out.size() < room) serve_tier(wi, reserved_tier, room, now, out);
            }
        }
        return out;
    }

    /// The worker finished its unit of the item; the unit is never handed out again.
    void complete(worker_id id, item_key key, time_point now) {
        const std::uint32_t wi = worker_at(id, "complete");
        const std::uint32_t ii = item_at(key, "complete");
        const std::uint32_t u = held_unit(ii, wi, "complete");
        leases_.remove(units_[u].slot, lease_moved());
        units_[u].state = unit_state::completed;
        --workers_[wi].held;
        --counts_.leased;
        ++counts_.completed;
        ++items_[ii].completed;
        touch(wi, now);
    }

    /// Skip / return: the unit goes back to the open pool (the worker will not get this item again).
    void release(worker_id id, item_key key, time_point now) {
        const std::uint32_t wi = worker_at(id, "release");
        const std::uint32_t ii = item_at(key, "release");
        const std::uint32_t u = held_unit(ii, wi, "release");
        worker_rec& w = workers_[wi];
        former_.insert(seen_key(ii, wi));
        leases_.remove(units_[u].slot, lease_moved());
        --w.held;
        --w.taken;
        --counts_.leased;
        reopen(u);
        touch(wi, now);
    }

    /// Reclaims every lease with lease_until <= now into the open pool; returns how many.
    std::size_t expire(time_point now) {
        return leases_.expire(now, lease_moved(), [this](std::uint32_t u, time_point) {
            unit_rec& unit = units_[u];
            former_.insert(seen_key(unit.item, unit.worker));
            worker_rec& w = workers_[unit.worker];
            --w.held;
            --w.taken;
            --counts_.leased;
            reopen(u);
        });
    }

    /// Items that cannot reach their unit count with the workers now joined: more waiting units than joined,
    /// eligible workers who have not had the item, or a unit reserved for an absent worker that no joined
    /// worker may take over.
    [[nodiscard]] std::vector<item_key> starved() const {
        std::vector<item_key> out;
        for (std::uint32_t ii = 0; ii < items_.size(); ++ii)
            if (is_starved(ii)) out.push_back(items_[ii].key);
        return out;
    }

    // --- observers -------------------------------------------------------------------------------

    /// Open, reserved, leased and completed units, and steals so far.
    [[nodiscard]] const unit_counts& counts() const noexcept { return counts_; }
    /// Units reserved for the worker and not started (its queue).
    [[nodiscard]] std::size_t queue_length(worker_id id) const { return workers_[worker_at(id, "queue_length")].reserved; }
    /// Units leased to the worker now.
    [[nodiscard]] std::size_t held(worker_id id) const { return workers_[worker_at(id, "held")].held; }
    /// Whether the worker is joined (active or silent).
    [[nodiscard]] bool is_joined(worker_id id) const {
        const auto it = worker_index_.find(id);
        return it != worker_index_.end() && workers_[it->second].state != presence::left;
    }
    /// Whether the worker ever joined (left or not): the other per-worker observers need it.
    [[nodiscard]] bool knows(worker_id id) const { return worker_index_.find(id) != worker_index_.end(); }
    /// Joined workers.
    [[nodiscard]] std::size_t joined_workers() const noexcept {
        std::size_t n = 0;
        for (const auto& w : workers_) n += w.state != presence::left ? 1 : 0;
        return n;
    }
    /// Items added so far.
    [[nodiscard]] std::size_t item_count() const noexcept { return items_.size(); }
    /// Whether the item was added.
    [[nodiscard]] bool contains(item_key key) const noexcept { return item_index_.find(key.value()).has_value(); }
    /// The units of one item, in unit_index order.
    [[nodiscard]] std::vector<unit_view> units_of(item_key key) const {
        const std::uint32_t ii = item_at(key, "units_of");
        std::vector<unit_view> out;
        out.reserve(total_units(ii));
        for_each_unit(ii, [&](std::uint32_t u) {
            const unit_rec& unit = units_[u];
            unit_view v{unit.index, unit.state, std::nullopt, std::nullopt};
            if (unit.state != unit_state::open) v.worker = workers_[unit.worker].id;
            if (unit.state == unit_state::leased) v.lease_until = leases_.until(unit.slot);
            out.push_back(v);
        });
        return out;
    }
    /// The item added under `key` (what the router and the predicates saw); the reference is good until
    /// the next add or restore.
    [[nodiscard]] const Item& item(item_key key) const { return payload_[item_at(key, "item")]; }
    /// Completions of one item so far.
    [[nodiscard]] std::uint32_t completions(item_key key) const { return items_[item_at(key, "completions")].completed; }
    /// The options in force.
    [[nodiscard]] const options& settings() const { return policies_[boost::hana::type_c<kinds::options>]; }
    /// The normalised policy pack.
    [[nodiscard]] const policy_map& policies() const noexcept { return policies_; }
    /// The router policy (e.g. to read `adaptive_overlap::field`).
    [[nodiscard]] const Router& router() const { return router_policy(); }

private:
    /// The tier of a unit that is not waiting (leased or completed).
    static constexpr std::uint8_t not_waiting = 3;
    /// 32 bytes: everything a grant or a steal test needs is in one record (the units of an item are adjacent
    /// and the array is cache-line aligned, so the two units of a two-unit item share one line).
    struct unit_rec {
        item_key key;
        /// While waiting: its entry's position in bucket [tier][bucket]; while leased: its position in the lease queue.
        std::uint64_t slot = 0;
        std::uint32_t item = 0;
        std::uint32_t worker = 0;  ///< reserving worker (reserved), holder (leased, completed), none (open)
        std::uint32_t bucket = 0;  ///< the item's bucket (key)
        std::uint16_t index = 0;   ///< unit_index within the item
        unit_state state = unit_state::open;
        std::uint8_t tier : 2 = not_waiting;  ///< where it waits, or not_waiting
        std::uint8_t last : 1 = 0;            ///< the last of its item's adjacent units
        std::uint8_t extra : 1 = 0;           ///< added by `grow`: kept apart from its item's adjacent units
        std::uint8_t grown : 1 = 0;           ///< (an item's last adjacent unit) the item has units added by `grow`
    };
    static_assert(sizeof(unit_rec) == 32);
    static constexpr std::uint32_t max_units_per_item = 65536;
    struct item_rec {
        item_key key;
        std::uint32_t first_unit;
        std::uint32_t unit_count;
        std::uint32_t completed;
        std::uint32_t bucket;
    };
    struct worker_rec {
        worker_id id;
        Profile profile;
        presence state = presence::left;
        time_point last_seen{};
        std::size_t reserved = 0;  ///< live reservations
        std::size_t held = 0;      ///< live leases
        std::size_t taken = 0;     ///< held + completed, for max_units_per_worker
        std::vector<std::uint32_t> queue{};  ///< own reservations, oldest first (dead entries skipped lazily)
        std::size_t queue_head = 0;
        std::vector<std::uint32_t> keys{};  ///< buckets this worker may draw from
        std::vector<std::array<std::uint64_t, 3>> cursors{};  ///< per key and tier: everything before is no use to it
    };
    /// Prefetching ahead of a bucket scan: entries before `to` were looked at, `live` of them after the scan's position.
    struct lookahead {
        std::uint64_t to = 0;
        std::uint32_t live = 0;
    };
    static constexpr std::uint32_t lookahead_depth = 8;   ///< live entries prefetched ahead of a scan
    static constexpr std::uint64_t lookahead_window = 256;  ///< entries looked at ahead of a scan, at most

    const Router& router_policy() const { return policies_[boost::hana::type_c<kinds::router>]; }
    const Eligibility& eligibility() const { return policies_[boost::hana::type_c<kinds::eligibility>]; }
    const Stealing& stealing() const { return policies_[boost::hana::type_c<kinds::stealing>]; }

    static std::uint64_t seen_key(std::uint32_t item, std::uint32_t worker) noexcept {
        return (static_cast<std::uint64_t>(item) << 32) | worker;
    }
    /// Whether f holds for a unit of the item `of` belongs to; siblings are adjacent and the last one is marked,
    /// so neither the item record nor the next item's units are read.
    /// A grown item's added units are found through `extra_units_`, looked up only when its last adjacent
    /// unit says so (the hot scan of an item never grown reads nothing more than before).
    template <class F>
    bool any_sibling(const unit_rec& of, F f) const noexcept {
        if (of.extra) [[unlikely]]
            return any_unit_of_grown(of.item, f);
        for (const unit_rec* u = &of - of.index;; ++u) {
            if (f(*u)) return true;
            if (u->last) return u->grown && any_added_unit(of.item, f);
        }
    }
    template <class F>
    [[gnu::noinline]] bool any_added_unit(std::uint32_t ii, F& f) const noexcept {
        for (const std::uint32_t x : extra_units_.find(ii)->second)
            if (f(units_[x])) return true;
        return false;
    }
    template <class F>
    [[gnu::noinline]] bool any_unit_of_grown(std::uint32_t ii, F& f) const noexcept {
        const item_rec& it = items_[ii];
        for (std::uint32_t u = it.first_unit; u < it.first_unit + it.unit_count; ++u)
            if (f(units_[u])) return true;
        return any_added_unit(ii, f);
    }
    /// Every unit of item `ii` in unit_index order: the adjacent ones, then those `grow` added.
    template <class F>
    void for_each_unit(std::uint32_t ii, F f) const {
        const item_rec& it = items_[ii];
        for (std::uint32_t u = it.first_unit; u < it.first_unit + it.unit_count; ++u) f(u);
        if (units_[it.first_unit + it.unit_count - 1].grown)
            for (const std::uint32_t x : extra_units_.find(ii)->second) f(x);
    }
    /// Units of item `ii`, added ones included.
    std::uint32_t total_units(std::uint32_t ii) const {
        const item_rec& it = items_[ii];
        if (!units_[it.first_unit + it.unit_count - 1].grown) return it.unit_count;
        return it.unit_count + static_cast<std::uint32_t>(extra_units_.find(ii)->second.size());
    }
    bool gave_back(std::uint32_t ii, std::uint32_t wi) const noexcept {
        return former_.size() != 0 && former_.contains(seen_key(ii, wi));
    }
    /// Whether the worker was ever granted a unit of the item (it holds or completed one, or gave one back).
    bool seen(const unit_rec& of, std::uint32_t wi) const noexcept {
        return any_sibling(of, [wi](const unit_rec& u) {
                   return u.worker == wi && (u.state == unit_state::leased || u.state == unit_state::completed);
               }) ||
               gave_back(of.item, wi);
    }
    bool seen(std::uint32_t ii, std::uint32_t wi) const noexcept { return seen(units_[items_[ii].first_unit], wi); }
    /// Whether the worker has any unit of the item (reserved too), or gave one back: it may take no other.
    bool has_any(const unit_rec& of, std::uint32_t wi) const noexcept {
        return any_sibling(of, [wi](const unit_rec& u) { return u.worker == wi && u.state != unit_state::open; }) ||
               gave_back(of.item, wi);
    }

    std::uint32_t worker_at(worker_id id, const char* operation) const {
        const auto it = worker_index_.find(id);
        if (it == worker_index_.end())
            throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::", operation, ": unknown ", id));
        return it->second;
    }
    std::uint32_t item_at(item_key key, const char* operation) const {
        const auto at = item_index_.find(key.value());
        if (!at) throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::", operation, ": unknown ", key));
        return *at;
    }
    std::uint32_t held_unit(std::uint32_t ii, std::uint32_t wi, const char* operation) const {
        const item_rec& it = items_[ii];
        std::uint32_t found = none;
        for_each_unit(ii, [&](std::uint32_t u) {
            if (found == none && units_[u].state == unit_state::leased && units_[u].worker == wi) found = u;
        });
        if (found != none) return found;
        throw crowdline::invalid_argument(detail::message("crowdline::routing::dispatcher::", operation, ": ", workers_[wi].id,
                                                          " does not hold a unit of ", it.key));
    }

    /// The buckets a profile may draw from (creating keys not seen before); everything is bucket 0 unless keyed.
    std::vector<std::uint32_t> bucket_keys_of(const Profile& profile) {
        std::vector<std::uint32_t> out;
        if constexpr (keyed) {
            for (auto&& k : std::invoke(stealing().keys_of_profile, profile)) {
                const std::uint32_t b = bucket_of(k);
                if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
            }
        } else {
            out.push_back(0);
        }
        return out;
    }
    template <class K>
    std::uint32_t bucket_of(const K& key) {
        const auto [it, added] = key_ids_.try_emplace(key, static_cast<std::uint32_t>(key_ids_.size()));
        if (added) {
            for (auto& t : buckets_) t.resize(key_ids_.size());
            joined_by_bucket_.resize(key_ids_.size());
        }
        return it->second;
    }

    bool has_key(const worker_rec& w, std::uint32_t b) const noexcept {
        return std::find(w.keys.begin(), w.keys.end(), b) != w.keys.end();
    }
    /// The one eligibility rule: key membership (when keyed) and the eligibility policy.
    bool eligible(const worker_rec& w, std::uint32_t ii) const {
        if constexpr (keyed)
            if (!has_key(w, items_[ii].bucket)) return false;
        return std::invoke(eligibility(), w.profile, payload_[ii]);
    }
    /// What the stealing policy adds to eligibility for a takeover.
    bool steal_allowed(const worker_rec& w, std::uint32_t ii) const {
        if constexpr (!may_ever_steal) return false;
        else if constexpr (is_steal_when_v<Stealing>) return static_cast<bool>(std::invoke(stealing().pred, w.profile, payload_[ii]));
        else return true;
    }
    bool under_unit_cap(const worker_rec& w) const noexcept { return w.taken < settings().max_units_per_worker; }

    void add_joined(std::uint32_t wi) {
        for (const std::uint32_t b : workers_[wi].keys) joined_by_bucket_[b].push_back(wi);
    }
    void remove_joined(std::uint32_t wi) {
        for (const std::uint32_t b : workers_[wi].keys) {
            auto& list = joined_by_bucket_[b];
            const auto it = std::find(list.begin(), list.end(), wi);
            if (it != list.end()) {
                *it = list.back();
                list.pop_back();
            }
        }
    }

    /// Marks activity; a silent worker becomes active again and its reservations stop being preferred for stealing.
    void touch(std::uint32_t wi, time_point now) {
        worker_rec& w = workers_[wi];
        if (w.state == presence::active) {
            if (w.last_seen != now) {
                auto node = active_by_seen_.extract({w.last_seen, wi});
                node.value().first = now;
                active_by_seen_.insert(std::move(node));
            }
            w.last_seen = now;
        } else if (w.state == presence::idle) {
            w.state = presence::active;
            w.last_seen = now;
            active_by_seen_.insert({now, wi});
            refile_reservations(wi, reserved_tier);
        } else {
            w.last_seen = now;
        }
    }
    /// Joined workers silent for longer than steal_after become idle: their reservations move to the orphan tier.
    void refresh_idle(time_point now) {
        const time_point threshold = detail::saturating_add(now, -settings().steal_after);
        while (!active_by_seen_.empty() && active_by_seen_.begin()->first < threshold) {
            const std::uint32_t wi = active_by_seen_.begin()->second;
            active_by_seen_.erase(active_by_seen_.begin());
            workers_[wi].state = presence::idle;
            refile_reservations(wi, orphan_tier);
        }
    }
    void refile_reservations(std::uint32_t wi, tier to) {
        worker_rec& w = workers_[wi];
        for (std::size_t p = w.queue_head; p < w.queue.size(); ++p) {
            const std::uint32_t u = w.queue[p];
            if (units_[u].state == unit_state::reserved && units_[u].worker == wi) refile(u, to);
        }
    }
    void refile(std::uint32_t u, tier to) {
        unit_rec& unit = units_[u];
        if (unit.tier == to) return;
        unfile(unit);
        unit.tier = static_cast<std::uint8_t>(to & 3u);  // a tier fits the 2-bit field
        unit.slot = buckets_[to][unit.bucket].push(u);
    }
    /// Leaves a tombstone where the unit waited, if it was waiting.
    void unfile(unit_rec& unit) noexcept {
        if (unit.tier != not_waiting) buckets_[unit.tier][unit.bucket].kill(unit.slot);
        unit.tier = not_waiting;
    }
    /// Back to the open pool, oldest-last.
    void reopen(std::uint32_t u) {
        unit_rec& unit = units_[u];
        unit.state = unit_state::open;
        unit.worker = none;
        unfile(unit);
        unit.tier = open_tier;
        unit.slot = buckets_[open_tier][unit.bucket].push(u);
        ++counts_.open;
    }

    /// Tells a leased unit its new position in the lease queue.
    auto lease_moved() noexcept {
        return [this](std::uint32_t u, std::uint64_t position) noexcept { units_[u].slot = position; };
    }

    void lease(std::uint32_t u, std::uint32_t wi, time_point now, std::vector<grant>& out, std::optional<worker_id> from) {
        unit_rec& unit = units_[u];
        worker_rec& w = workers_[wi];
        unit.state = unit_state::leased;
        unit.worker = wi;
        unfile(unit);
        const time_point until = detail::saturating_add(now, settings().lease);
        unit.slot = leases_.push(until, u);
        ++w.held;
        ++w.taken;
        ++counts_.leased;
        out.push_back(grant{unit.key, unit.index, until, from});
    }

    void serve_own(std::uint32_t wi, std::size_t room, time_point now, std::vector<grant>& out) {
        worker_rec& w = workers_[wi];
        constexpr std::size_t ahead = 8;  // the queue is known: fetch the records before they are needed
        for (std::size_t p = w.queue_head; p < std::min(w.queue.size(), w.queue_head + ahead); ++p)
            __builtin_prefetch(&units_[w.queue[p]], 1);
        while (out.size() < room && w.queue_head < w.queue.size()) {
            if (w.queue_head + ahead < w.queue.size()) __builtin_prefetch(&units_[w.queue[w.queue_head + ahead]], 1);
            // halfway there the record has arrived: fetch the bucket entry its grant will mark dead
            if (w.queue_head + ahead / 2 < w.queue.size()) {
                const unit_rec& soon = units_[w.queue[w.queue_head + ahead / 2]];
                if (soon.tier != not_waiting) buckets_[soon.tier][soon.bucket].prefetch(soon.slot);
            }
            const std::uint32_t u = w.queue[w.queue_head++];
            unit_rec& unit = units_[u];
            if (unit.state != unit_state::reserved || unit.worker != wi) continue;
            --w.reserved;
            --counts_.reserved;
            if (seen(unit, wi)) {  // cannot happen (its queue is served before anything else): kept so invariant 1 never rests on an argument
                reopen(u);
                continue;
            }
            lease(u, wi, now, out, std::nullopt);
        }
        if (w.queue_head == w.queue.size()) {
            w.queue.clear();
            w.queue_head = 0;
        } else if (w.queue_head >= 256 && w.queue_head * 2 >= w.queue.size()) {
            w.queue.erase(w.queue.begin(), w.queue.begin() + static_cast<std::ptrdiff_t>(w.queue_head));
            w.queue_head = 0;
        }
    }

    /// Whether the worker may take this live unit of the tier. Every "no" is permanent while the profile
    /// stays (seen items stay seen, the item and the rules do not change), so the cursor may pass it.
    bool acceptable(const worker_rec& w, std::uint32_t wi, tier t, const unit_rec& unit) const {
        if (t != open_tier && unit.worker == wi) return false;  // its own: served from its queue
        if (has_any(unit, wi)) return false;
        if (!std::invoke(eligibility(), w.profile, payload_[unit.item])) return false;
        if (t != open_tier && !steal_allowed(w, unit.item)) return false;
        return true;
    }

    /// The next position in the worker's bucket (key i, tier t) it may take, or not_found; moves its cursor.
    std::uint64_t find_next(std::uint32_t wi, tier t, std::size_t i) {
        worker_rec& w = workers_[wi];
        detail::bucket& bk = buckets_[t][w.keys[i]];
        std::uint64_t& cursor = w.cursors[i][t];
        std::uint64_t p = std::max(cursor, bk.begin());
        lookahead& la = ahead_[i];
        for (; p < bk.end(); ++p) {
            const detail::bucket_entry e = bk.at(p);
            if (e == detail::tombstone) {  // taken or moved since
                if (p == bk.begin()) bk.pop_front();
                continue;
            }
            // Keep the records of the next live entries on their way: the first test of each would be a miss.
            if (la.to < p) la = {p, 0};  // the scan passed the window (over dead entries)
            for (const std::uint64_t limit = std::min(bk.end(), p + lookahead_window);
                 la.live <= lookahead_depth && la.to < limit; ++la.to) {
                if (const detail::bucket_entry next = bk.at(la.to); next != detail::tombstone) {
                    __builtin_prefetch(&units_[next]);
                    ++la.live;
                }
            }
            if (la.live > 0) --la.live;  // p leaves the window
            const unit_rec& unit = units_[e];
            if (acceptable(w, wi, t, unit)) {
                cursor = p;
                return p;
            }
        }
        cursor = p;
        return not_found;
    }

    /// Fills from one tier of the worker's buckets, oldest item first across its keys.
    void serve_tier(std::uint32_t wi, tier t, std::size_t room, time_point now, std::vector<grant>& out) {
        const std::size_t k = workers_[wi].keys.size();
        peek_.assign(k, not_found - 1);  // not_found - 1: not looked yet
        ahead_.assign(k, lookahead{});
        while (out.size() < room) {
            std::size_t best = k;
            std::uint32_t best_unit = none;
            for (std::size_t i = 0; i < k; ++i) {
                if (peek_[i] == not_found - 1) peek_[i] = find_next(wi, t, i);
                if (peek_[i] == not_found) continue;
                const std::uint32_t u = buckets_[t][workers_[wi].keys[i]].at(peek_[i]);
                if (u < best_unit) {
                    best_unit = u;
                    best = i;
                }
            }
            if (best == k) return;
            workers_[wi].cursors[best][t] = peek_[best] + 1;
            peek_[best] = not_found - 1;
            take(wi, t, best_unit, now, out);
        }
    }

    void take(std::uint32_t wi, tier t, std::uint32_t u, time_point now, std::vector<grant>& out) {
        unit_rec& unit = units_[u];
        std::optional<worker_id> from;
        if (t == open_tier) {
            --counts_.open;
        } else {
            worker_rec& owner = workers_[unit.worker];
            --owner.reserved;
            --counts_.reserved;
            from = owner.id;
            ++counts_.steals;
        }
        lease(u, wi, now, out, from);
    }

    bool is_starved(std::uint32_t ii) const {
        const item_rec& it = items_[ii];
        std::size_t waiting = 0;
        for_each_unit(ii, [&](std::uint32_t u) {
            if (units_[u].state == unit_state::open || units_[u].state == unit_state::reserved) ++waiting;
        });
        if (waiting == 0) return false;
        std::size_t able = 0;
        for (const std::uint32_t wi : joined_by_bucket_[it.bucket]) {
            const worker_rec& w = workers_[wi];
            if (!under_unit_cap(w) || seen(ii, wi) || !std::invoke(eligibility(), w.profile, payload_[ii])) continue;
            if (++able >= waiting) break;
        }
        if (able < waiting) return true;
        if constexpr (!std::is_same_v<Stealing, steal_eligible> && !keyed) {
            // A stricter (or no) stealing rule can strand a unit reserved for a worker who left.
            bool stranded = false;
            for_each_unit(ii, [&](std::uint32_t u) {
                const unit_rec& unit = units_[u];
                if (stranded || unit.state != unit_state::reserved || workers_[unit.worker].state != presence::left) return;
                bool takeable = false;
                for (const std::uint32_t wi : joined_by_bucket_[it.bucket]) {
                    const worker_rec& w = workers_[wi];
                    if (under_unit_cap(w) && !seen(ii, wi) && eligible(w, ii) && steal_allowed(w, ii)) {
                        takeable = true;
                        break;
                    }
                }
                if (!takeable) stranded = true;
            });
            if (stranded) return true;
        }
        return false;
    }

    policy_map policies_;
    std::vector<item_rec> items_;
    std::vector<Item> payload_;
    detail::flat_index item_index_;
    /// On a cache line (64 bytes), through the ordinary allocator (a replaced `operator new` sees every
    /// byte): with 32-byte unit records the two units of a two-unit item share one line.
    std::vector<unit_rec, boost::alignment::aligned_allocator_adaptor<std::allocator<unit_rec>, 64>> units_;
    std::vector<worker_rec> workers_;
    std::unordered_map<worker_id, std::uint32_t> worker_index_;
    detail::flat_set former_;  ///< (item, worker) pairs whose unit was released or expired: it gets no other
    /// Adaptive overlap: each item's answers so far (nothing for other routers).
    [[no_unique_address]] std::conditional_t<grows_on_answers<Router>, detail::answer_tally, detail::no_answer_tally>
        answers_;
    /// The units `grow` added to an item, by item index, in unit_index order (most items have none).
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> extra_units_;
    std::array<std::vector<detail::bucket>, 3> buckets_;  ///< [tier][bucket key]
    std::vector<std::vector<std::uint32_t>> joined_by_bucket_;
    std::unordered_map<typename detail::bucket_key<Stealing, Item>::type, std::uint32_t> key_ids_;
    std::set<std::pair<time_point, std::uint32_t>> active_by_seen_;
    detail::lease_queue leases_;  ///< live leases, in order of end
    unit_counts counts_;
    // scratch, reused between calls
    std::vector<candidate> candidates_;
    std::vector<worker_id> reserve_;
    std::vector<std::uint32_t> chosen_;
    std::vector<std::uint32_t> mark_;
    std::uint32_t epoch_ = 1;
    std::vector<std::uint64_t> peek_;
    std::vector<lookahead> ahead_;
};

/// Builds a dispatcher from policies given in any order, at most one of each kind, defaults for the rest:
/// `no_overlap`, `everyone`, `steal_eligible{}`, `options{}`.
template <class Item, class Profile, class... Policies>
auto make_dispatcher(Policies... policies) {
    namespace hana = boost::hana;
    static_assert(std::is_move_constructible_v<Item>, "crowdline::routing::make_dispatcher: Item must be move constructible");
    static_assert(std::is_move_constructible_v<Profile>, "crowdline::routing::make_dispatcher: Profile must be move constructible");
    constexpr bool arguments_ok = crowdline::detail::check_each_argument<detail::make_dispatcher_arguments<Item>, 1,
                                                                         std::remove_cvref_t<Policies>...>();
    if constexpr (!arguments_ok) {
        return detail::invalid_dispatcher{};
    } else {
        auto given = hana::make_map(hana::make_pair(hana::type_c<detail::kind_t<Policies, Item>>, std::move(policies))...);
        auto router_p = detail::policy_or<kinds::router>(given, no_overlap);
        auto eligibility_p = detail::policy_or<kinds::eligibility>(given, everyone{});
        auto stealing_p = detail::policy_or<kinds::stealing>(given, steal_eligible{});
        auto options_p = detail::policy_or<kinds::options>(given, options{});
        using R = std::remove_cvref_t<decltype(router_p)>;
        using E = std::remove_cvref_t<decltype(eligibility_p)>;
        using S = std::remove_cvref_t<decltype(stealing_p)>;
        using O = std::remove_cvref_t<decltype(options_p)>;
        static_assert(router<R, Item>,
                      "crowdline::routing::make_dispatcher: the router policy does not model crowdline::routing::router "
                      "(it needs `std::uint32_t route(item_key, const Item&, std::span<const candidate>, "
                      "std::vector<worker_id>&) const`)");
        static_assert(detail::valid_eligibility<E, Profile, Item>,
                      "crowdline::routing::make_dispatcher: the eligibility predicate is not callable as "
                      "bool(const Profile&, const Item&)");
        static_assert(detail::known_stealing<S, Profile, Item>,
                      "crowdline::routing::make_dispatcher: unknown stealing policy (use steal_eligible, no_stealing, "
                      "steal_when or steal_by_key)");
        static_assert(!is_steal_when_v<S> || detail::valid_stealing<S, Profile, Item>,
                      "crowdline::routing::make_dispatcher: the steal_when predicate is not callable as "
                      "bool(const Profile&, const Item&)");
        static_assert(!is_steal_by_key_v<S> || detail::valid_stealing<S, Profile, Item>,
                      "crowdline::routing::make_dispatcher: steal_by_key needs key_of_item(const Item&) -> a hashable "
                      "key and keys_of_profile(const Profile&) -> a range of such keys");
        static_assert(std::is_same_v<O, options>,
                      "crowdline::routing::make_dispatcher: the options policy must be crowdline::routing::options");
        if constexpr (router<R, Item> && detail::valid_eligibility<E, Profile, Item> &&
                      detail::valid_stealing<S, Profile, Item> && std::is_same_v<O, options>) {
            using result = dispatcher<Item, Profile, R, E, S>;
            return result{hana::make_map(hana::make_pair(hana::type_c<kinds::router>, std::move(router_p)),
                                         hana::make_pair(hana::type_c<kinds::eligibility>, std::move(eligibility_p)),
                                         hana::make_pair(hana::type_c<kinds::stealing>, std::move(stealing_p)),
                                         hana::make_pair(hana::type_c<kinds::options>, std::move(options_p)))};
        } else {
            return detail::invalid_dispatcher{};
        }
    }
}

}  // namespace crowdline::routing
