#pragma once
/// Review: what a requester does after work comes in — approve, reject, soft-reject a unit, pay a
/// bonus, block or unblock a worker. Works over any `crowdline::store` and any `crowdline::provider`.
///
/// Each action is one provider call, one store change and one `worker_review` row. The store part runs
/// in one `transaction`, and the provider is called last inside it: every check (unknown id, a unit
/// that is not completed, a bad amount) happens before the provider hears of anything, and a provider
/// that throws or refuses a payment rolls the store back, so the two never disagree about a refusal.
///
/// Rows written (`worker_review.status` follows Mephisto's review app): approve → "approved", reject →
/// "rejected", soft_reject → "soft_rejected" (each with the note and any bonus); bonus → no status,
/// `bonus` = amount, `review_note` = reason; block → no status, `blocked_worker` = true; unblock →
/// "unblocked".
///
/// Those block and unblock rows are the record of who is blocked (as Mephisto's providers keep a blocked
/// flag per worker in their own database): `restore_blocks` replays them onto a provider that starts
/// empty, as `providers::in_house` does after a restart. A pipeline does so at launch.

#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline::review {

/// The provider declined to pay (the budget does not cover it); nothing was written or paid.
struct payment_refused : error {
    using error::error;
};

namespace detail {

/// Both arguments checked, each failure naming the argument and the missing piece.
template <class Store, class Provider>
constexpr void check_arguments() {
    crowdline::detail::check_store<Store>();
    static_assert(store<Store>, "crowdline::review: argument 1 (db) must model crowdline::store");
    crowdline::detail::check_provider<Provider>();
    static_assert(provider<Provider>, "crowdline::review: argument 2 (provider) must model crowdline::provider");
}

inline std::string id_text(auto id) { return std::string(decltype(id)::tag_type::name) + ' ' + std::to_string(id.value()); }

inline void require_amount(double amount, worker_id w) {
    if (!std::isfinite(amount) || amount <= 0)
        throw invalid_argument("bonus for " + id_text(w) + ": amount must be a number > 0, got " +
                               nlohmann::json(amount).dump());
}

template <class Provider>
void pay(Provider& provider, worker_id w, double amount, std::string const& reason, std::optional<unit_id> u) {
    if (!provider.bonus(w, amount, reason, u))
        throw payment_refused("bonus of " + nlohmann::json(amount).dump() + " for " + id_text(w) + ": refused by provider \"" +
                              std::string(Provider::provider_type) + "\" (budget too low?); nothing was recorded");
}

/// approve / reject / soft_reject: unit completed → `to_unit`, its agent completed → `to_agent`, a
/// review row, an optional bonus, then `judge(agent, note)` on the provider.
template <class Store, class Provider, class Judge>
void judge_unit(Store& db, Provider& provider, unit_id u, unit_status to_unit, agent_status to_agent,
                std::string const& note, std::optional<double> bonus_amount, Judge judge) {
    db.transaction([&] {
        unit const row = db.get_unit(u);  // unknown → entry_does_not_exist
        std::string const action(to_string(to_agent));
        if (row.status != unit_status::completed)
            throw invalid_transition(id_text(u) + ": cannot be " + action + ": it is " +
                                     std::string(to_string(row.status)) + ", not completed");
        if (!row.agent || !row.worker)
            throw invalid_transition(id_text(u) + ": cannot be " + action + ": it is completed but has no agent");
        agent const a = db.get_agent(*row.agent);
        if (!can_transition(a.status, to_agent))
            throw invalid_transition(id_text(a.id) + " of " + id_text(u) + ": cannot be " + action + ": it is " +
                                     std::string(to_string(a.status)) + ", not completed");
        db.update_unit(u, to_unit);
        db.update_agent(a.id, to_agent);
        worker_review r;
        r.unit = u;
        r.worker = a.worker;
        r.task = row.task;
        r.status = action;
        if (!note.empty()) r.review_note = note;
        r.bonus = bonus_amount;
        db.new_worker_review(r);
        if (bonus_amount)
            pay(provider, a.worker, *bonus_amount, note.empty() ? "bonus for " + id_text(u) : note, u);
        judge(a.id, note);
    });
}

}  // namespace detail

/// Accepts a completed unit: unit → accepted, its agent → approved, the provider approves (and pays
/// `bonus` when given), a review row records it. A unit that is not completed → `invalid_transition`
/// naming it; unknown unit → `entry_does_not_exist`; a refused bonus → `payment_refused`. Any refusal
/// writes nothing and, for the first two, calls no provider method.
template <class Store, class Provider>
void approve(Store& db, Provider& provider, unit_id unit, std::string note = "", std::optional<double> bonus = {}) {
    detail::check_arguments<Store, Provider>();
    if (bonus) {
        // the unit's worker is not known yet; name the unit instead
        if (!std::isfinite(*bonus) || *bonus <= 0)
            throw invalid_argument("bonus with the approval of " + detail::id_text(unit) +
                                   ": amount must be a number > 0, got " + nlohmann::json(*bonus).dump());
    }
    detail::judge_unit(db, provider, unit, unit_status::accepted, agent_status::approved, note, bonus,
                       [&](agent_id a, std::string const& n) { provider.approve(a, n); });
}

/// Rejects a completed unit: unit → rejected, agent → rejected (the work may be redone on a resumed
/// run), the provider rejects. Refusals as for `approve`.
template <class Store, class Provider>
void reject(Store& db, Provider& provider, unit_id unit, std::string note = "") {
    detail::check_arguments<Store, Provider>();
    detail::judge_unit(db, provider, unit, unit_status::rejected, agent_status::rejected, note, std::nullopt,
                       [&](agent_id a, std::string const& n) { provider.reject(a, n); });
}

/// Soft-rejects a completed unit: the worker is paid but the data is not used (unit → soft_rejected,
/// agent → soft_rejected). Refusals as for `approve`.
template <class Store, class Provider>
void soft_reject(Store& db, Provider& provider, unit_id unit, std::string note = "") {
    detail::check_arguments<Store, Provider>();
    detail::judge_unit(db, provider, unit, unit_status::soft_rejected, agent_status::soft_rejected, note, std::nullopt,
                       [&](agent_id a, std::string const& n) { provider.soft_reject(a, n); });
}

/// Pays a worker `amount` for `reason`, optionally for a unit they worked on. Unknown worker or unit →
/// `entry_does_not_exist`; an amount ≤ 0 or a unit the worker never held → `invalid_argument`; the
/// provider refusing → `payment_refused`. A refusal writes nothing.
template <class Store, class Provider>
void bonus(Store& db, Provider& provider, worker_id worker, double amount, std::string reason,
           std::optional<unit_id> unit = {}) {
    detail::check_arguments<Store, Provider>();
    detail::require_amount(amount, worker);
    db.transaction([&] {
        (void)db.get_worker(worker);
        worker_review r;
        r.worker = worker;
        if (unit) {
            crowdline::unit const row = db.get_unit(*unit);
            if (db.find_agents({.worker = worker, .unit = *unit}).empty())
                throw invalid_argument("bonus for " + detail::id_text(worker) + ": " + detail::id_text(*unit) +
                                       " was never held by that worker");
            r.unit = *unit;
            r.task = row.task;
        }
        r.review_note = reason;
        r.bonus = amount;
        db.new_worker_review(r);
        detail::pay(provider, worker, amount, reason, unit);
    });
}

/// Blocks a worker on the provider for `reason` (required: the worker may be told). Unknown worker →
/// `entry_does_not_exist`; empty reason → `invalid_argument`.
template <class Store, class Provider>
void block(Store& db, Provider& provider, worker_id worker, std::string reason) {
    detail::check_arguments<Store, Provider>();
    if (reason.empty()) throw invalid_argument("block of " + detail::id_text(worker) + ": a reason is required");
    db.transaction([&] {
        (void)db.get_worker(worker);
        worker_review r;
        r.worker = worker;
        r.review_note = reason;
        r.blocked_worker = true;
        db.new_worker_review(r);
        provider.block(worker, reason);
    });
}

/// Lifts a block. Unknown worker → `entry_does_not_exist`.
template <class Store, class Provider>
void unblock(Store& db, Provider& provider, worker_id worker, std::string reason = "") {
    detail::check_arguments<Store, Provider>();
    db.transaction([&] {
        (void)db.get_worker(worker);
        worker_review r;
        r.worker = worker;
        r.status = "unblocked";
        if (!reason.empty()) r.review_note = reason;
        db.new_worker_review(r);
        provider.unblock(worker);
    });
}

/// Who is blocked according to the review rows, for the workers of `provider_type`: the latest block or
/// unblock row of each worker decides. Blocked workers map to the reason given, unblocked ones to nullopt;
/// a worker with neither kind of row is not listed.
template <class Store>
std::map<worker_id, std::optional<std::string>> recorded_blocks(Store& db, std::string_view provider_type) {
    crowdline::detail::check_store<Store>();
    std::map<worker_id, std::optional<std::string>> out;
    for (auto const& w : db.find_workers({.provider_type = std::string(provider_type)}))
        for (auto const& r : db.find_worker_reviews({.worker = w.id})) {  // creation order: the last row wins
            if (r.blocked_worker) out.insert_or_assign(w.id, r.review_note.value_or("blocked"));
            else if (r.status == "unblocked") out.insert_or_assign(w.id, std::nullopt);
        }
    return out;
}

/// Replays the recorded blocks (`recorded_blocks`) of the provider's workers onto `provider`: `block` for
/// each worker blocked, `unblock` for each worker whose block was lifted; other workers are not touched.
/// Returns how many workers are blocked.
template <class Store, class Provider>
std::size_t restore_blocks(Store& db, Provider& provider) {
    detail::check_arguments<Store, Provider>();
    std::size_t blocked = 0;
    for (auto const& [w, reason] : recorded_blocks(db, Provider::provider_type)) {
        if (reason) {
            provider.block(w, *reason);
            ++blocked;
        } else {
            provider.unblock(w);
        }
    }
    return blocked;
}

}  // namespace crowdline::review
