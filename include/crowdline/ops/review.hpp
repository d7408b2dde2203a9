#pragma once
/// Review: what a requester does after work comes in — approve, reject, soft-reject a unit, pay a
/// bonus, block or unblock a worker. Works over any `crowdline::store` and any `crowdline::provider`.
///
/// Every action is all or nothing. First every check that needs nobody (a bad amount, a missing reason),
/// then, in one store `transaction`: the checks that need the store (unknown id, a unit that is not
/// completed), the provider's budget (a bonus it cannot cover is refused before anything is called),
/// the store's changes, and last the provider's calls, ordered so a refusal leaves nothing: a block first
/// (undone if a later call fails), then the payment (the one call that can refuse), then the judgement.
/// A provider that throws or refuses rolls the store back, so the two never disagree about a refusal.
/// `decide` does a decision with its bonus and block as one action and says what it recorded.
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
#include <exception>
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

/// What a reviewer decides about a completed unit.
enum class verdict { approve, reject, soft_reject };

[[nodiscard]] constexpr std::string_view to_string(verdict v) noexcept {
    constexpr std::string_view names[] = {"approve", "reject", "soft_reject"};
    return names[static_cast<int>(v)];
}

/// One review decision with its parts: the verdict, a bonus for the unit's worker, a block of that worker.
struct decision {
    unit_id unit{};
    verdict action = verdict::approve;
    std::string note{};
    std::optional<double> bonus{};       ///< paid to the unit's worker with the decision (> 0)
    std::optional<std::string> block{};  ///< blocks the unit's worker, for this reason (not empty)
};

/// What `decide` recorded: all of the decision (it throws, having recorded nothing, otherwise).
struct outcome {
    unit_id unit{};
    agent_id agent{};
    worker_id worker{};
    unit_status before = unit_status::completed;
    unit_status after = unit_status::completed;
    std::optional<double> bonus{};  ///< paid
    bool blocked = false;           ///< a block of the worker was recorded

    [[nodiscard]] nlohmann::json to_json() const {
        return {{"unit_id", unit.value()},
                {"agent_id", agent.value()},
                {"worker_id", worker.value()},
                {"status", std::string(crowdline::to_string(after))},
                {"bonus", bonus ? nlohmann::json(*bonus) : nlohmann::json(nullptr)},
                {"blocked", blocked}};
    }
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

/// An amount as a message shows it (JSON would print NaN and infinity as null).
inline std::string amount_text(double amount) {
    if (std::isnan(amount)) return "NaN";
    if (std::isinf(amount)) return amount > 0 ? "infinity" : "-infinity";
    return nlohmann::json(amount).dump();
}

/// `what`: which amount, for the message ("bonus for worker 3").
inline void require_amount(double amount, std::string const& what) {
    if (!std::isfinite(amount) || amount <= 0)
        throw invalid_argument(what + ": amount must be a number > 0, got " + amount_text(amount));
}

inline std::string refusal_text(std::string_view provider_type, double amount, worker_id w) {
    return "bonus of " + amount_text(amount) + " for " + id_text(w) + ": refused by provider \"" +
           std::string(provider_type) + "\" (budget too low?); nothing was recorded";
}

/// The refusal a provider can give before anything is called: a budget that does not cover `amount`.
template <class Provider>
void require_budget(Provider& provider, requester_id r, worker_id w, double amount) {
    if (provider.is_registered(r) && provider.budget(r) < amount)
        throw payment_refused(refusal_text(Provider::provider_type, amount, w));
}

template <class Provider>
void pay(Provider& provider, worker_id w, double amount, std::string const& reason, std::optional<unit_id> u) {
    if (!provider.bonus(w, amount, reason, u)) throw payment_refused(refusal_text(Provider::provider_type, amount, w));
}

/// Calls `then` after blocking `w` on the provider, and lifts the block again when `then` throws, unless
/// the worker was blocked already.
template <class Provider, class Then>
void block_then(Provider& provider, worker_id w, std::string const& reason, Then then) {
    bool const was_blocked = provider.is_blocked(w);
    provider.block(w, reason);
    try {
        then();
    } catch (...) {
        if (!was_blocked) {
            try {
                provider.unblock(w);
            } catch (...) {  // the first failure is the one to report
            }
        }
        throw;
    }
}

}  // namespace detail

/// Applies a review decision as one action: unit completed → accepted / rejected / soft_rejected, its
/// agent likewise, a review row (with the note and any bonus), a block row when `block` is given; on the
/// provider: the block, the bonus, the judgement, in that order. Refusals record nothing: a bad amount or
/// an empty block reason → `invalid_argument`; unknown unit → `entry_does_not_exist`; a unit that is not
/// completed → `invalid_transition`; a bonus the budget does not cover → `payment_refused` (the provider
/// is asked its budget, nothing else); a provider call that throws → the store rolled back and a block
/// made by this decision lifted. Only the judgement comes after the payment: should it throw, the bonus
/// stays paid, a bonus row records it, and the error says so.
template <class Store, class Provider>
outcome decide(Store& db, Provider& provider, decision const& d) {
    detail::check_arguments<Store, Provider>();
    std::string const action(to_string(d.action));
    if (d.bonus) detail::require_amount(*d.bonus, "bonus with the " + action + " of " + detail::id_text(d.unit));
    if (d.block && d.block->empty())
        throw invalid_argument("block with the " + action + " of " + detail::id_text(d.unit) + ": a reason is required");
    auto const to_unit = d.action == verdict::approve  ? unit_status::accepted
                         : d.action == verdict::reject ? unit_status::rejected
                                                       : unit_status::soft_rejected;
    auto const to_agent = d.action == verdict::approve  ? agent_status::approved
                          : d.action == verdict::reject ? agent_status::rejected
                                                        : agent_status::soft_rejected;
    std::string const bonus_reason = d.note.empty() ? "bonus for " + detail::id_text(d.unit) : d.note;
    outcome out;
    out.unit = d.unit;
    out.after = to_unit;
    bool paid = false;
    std::optional<task_id> task;
    try {
        db.transaction([&] {
            unit const row = db.get_unit(d.unit);  // unknown → entry_does_not_exist
            std::string const done(to_string(to_agent));
            if (row.status != unit_status::completed)
                throw invalid_transition(detail::id_text(d.unit) + ": cannot be " + done + ": it is " +
                                         std::string(to_string(row.status)) + ", not completed");
            if (!row.agent || !row.worker)
                throw invalid_transition(detail::id_text(d.unit) + ": cannot be " + done + ": it is completed but has no agent");
            agent const a = db.get_agent(*row.agent);
            if (!can_transition(a.status, to_agent))
                throw invalid_transition(detail::id_text(a.id) + " of " + detail::id_text(d.unit) + ": cannot be " + done +
                                         ": it is " + std::string(to_string(a.status)) + ", not completed");
            out.before = row.status;
            out.agent = a.id;
            out.worker = a.worker;
            task = row.task;
            if (d.bonus) detail::require_budget(provider, row.requester, a.worker, *d.bonus);

            db.update_unit(d.unit, to_unit);
            db.update_agent(a.id, to_agent);
            worker_review r;
            r.unit = d.unit;
            r.worker = a.worker;
            r.task = row.task;
            r.status = done;
            if (!d.note.empty()) r.review_note = d.note;
            r.bonus = d.bonus;
            db.new_worker_review(r);
            if (d.block) {
                worker_review b;
                b.worker = a.worker;
                b.review_note = *d.block;
                b.blocked_worker = true;
                db.new_worker_review(b);
            }

            auto pay_and_judge = [&] {
                if (d.bonus) {
                    detail::pay(provider, a.worker, *d.bonus, bonus_reason, d.unit);
                    paid = true;
                }
                if (d.action == verdict::approve) provider.approve(a.id, d.note);
                else if (d.action == verdict::reject) provider.reject(a.id, d.note);
                else provider.soft_reject(a.id, d.note);
            };
            if (d.block) detail::block_then(provider, a.worker, *d.block, pay_and_judge);
            else pay_and_judge();
        });
    } catch (std::exception const& e) {
        if (!paid) throw;
        // The judgement failed after the payment, which cannot be taken back: the store keeps it.
        db.transaction([&] {
            worker_review r;
            r.unit = d.unit;
            r.worker = out.worker;
            r.task = task;
            r.review_note = bonus_reason;
            r.bonus = d.bonus;
            db.new_worker_review(r);
        });
        throw error("the " + action + " of " + detail::id_text(d.unit) + " failed on the provider (" + e.what() +
                    "); only the bonus of " + detail::amount_text(*d.bonus) + " to " + detail::id_text(out.worker) +
                    " was paid and recorded, nothing else");
    }
    out.bonus = d.bonus;
    out.blocked = d.block.has_value();
    return out;
}

/// Accepts a completed unit: unit → accepted, its agent → approved, the provider approves (and pays
/// `bonus` when given), a review row records it. A unit that is not completed → `invalid_transition`
/// naming it; unknown unit → `entry_does_not_exist`; a refused bonus → `payment_refused`. Any refusal
/// writes nothing and, for the first two, calls no provider method.
template <class Store, class Provider>
void approve(Store& db, Provider& provider, unit_id unit, std::string note = "", std::optional<double> bonus = {}) {
    (void)decide(db, provider, decision{unit, verdict::approve, std::move(note), bonus});
}

/// Rejects a completed unit: unit → rejected, agent → rejected (the work may be redone on a resumed
/// run), the provider rejects. Refusals as for `approve`.
template <class Store, class Provider>
void reject(Store& db, Provider& provider, unit_id unit, std::string note = "") {
    (void)decide(db, provider, decision{unit, verdict::reject, std::move(note)});
}

/// Soft-rejects a completed unit: the worker is paid but the data is not used (unit → soft_rejected,
/// agent → soft_rejected). Refusals as for `approve`.
template <class Store, class Provider>
void soft_reject(Store& db, Provider& provider, unit_id unit, std::string note = "") {
    (void)decide(db, provider, decision{unit, verdict::soft_reject, std::move(note)});
}

/// Pays a worker `amount` for `reason`, optionally for a unit they worked on. Unknown worker or unit →
/// `entry_does_not_exist`; an amount ≤ 0 or a unit the worker never held → `invalid_argument`; the
/// provider refusing → `payment_refused`. A refusal writes nothing.
template <class Store, class Provider>
void bonus(Store& db, Provider& provider, worker_id worker, double amount, std::string reason,
           std::optional<unit_id> unit = {}) {
    detail::check_arguments<Store, Provider>();
    detail::require_amount(amount, "bonus for " + detail::id_text(worker));
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
