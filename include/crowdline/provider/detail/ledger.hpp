#pragma once
/// `providers::detail::ledger`: what a provider does to requesters, workers, agents, units and runs, kept
/// in memory and readable back — the part of the provider concept `mock` and `in_house` share (they differ
/// only in how a worker's identity arrives). Each is a `ledger` plus its identity methods; no virtual
/// call. Thread-safe (one mutex).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/provider/provider.hpp>

namespace crowdline::providers {

/// One bonus a provider paid.
struct recorded_bonus {
    worker_id worker{};
    double amount = 0;
    std::string reason{};
    std::optional<unit_id> unit{};
    requester_id paid_by{};
    friend bool operator==(recorded_bonus const&, recorded_bonus const&) = default;
};

/// One judgement of an agent (approve / reject / soft reject) with its note.
struct recorded_decision {
    agent_id agent{};
    std::string note{};
    friend bool operator==(recorded_decision const&, recorded_decision const&) = default;
};

namespace detail {

/// Requester accounts, blocks, bonuses, crowd qualifications, judgements, launched and expired units and
/// run resources, with read-only views of all of it. Bonuses are paid from the first requester
/// registered (the account the provider works for, like Mephisto's `requester_name` provider argument),
/// or the one `pay_from` names. Errors name the provider (`name`).
class ledger {
public:
    /// A budget that is negative or not finite → `invalid_argument`.
    ledger(std::string_view name, double budget) : name_{name}, budget_{budget} {
        if (!std::isfinite(budget_) || budget_ < 0)
            throw invalid_argument(name_ + " provider: budget must be a finite amount ≥ 0");
    }
    ledger(ledger const&) = delete;
    ledger& operator=(ledger const&) = delete;

    // --- requester ---------------------------------------------------------------------------------
    /// Opens the requester's account with the configured budget; registering again changes nothing.
    void register_requester(requester_id r) {
        lock l{mutex_};
        ++calls_;
        if (accounts_.try_emplace(r, budget_).second && !payer_) payer_ = r;
    }
    [[nodiscard]] bool is_registered(requester_id r) const {
        lock l{mutex_};
        ++calls_;
        return accounts_.contains(r);
    }
    /// What the requester can still spend. Unregistered → `invalid_argument`.
    [[nodiscard]] double budget(requester_id r) const {
        lock l{mutex_};
        ++calls_;
        return account(r);
    }
    /// Makes bonuses come out of `r`'s account. Unregistered → `invalid_argument`.
    void pay_from(requester_id r) {
        lock l{mutex_};
        (void)account(r);
        payer_ = r;
    }

    // --- worker ------------------------------------------------------------------------------------
    void block(worker_id w, std::string_view reason) {
        lock l{mutex_};
        ++calls_;
        blocked_[w] = std::string(reason);
    }
    void unblock(worker_id w) {
        lock l{mutex_};
        ++calls_;
        blocked_.erase(w);
    }
    [[nodiscard]] bool is_blocked(worker_id w) const {
        lock l{mutex_};
        ++calls_;
        return blocked_.contains(w);
    }
    /// Pays `amount` from the paying account; false (and nothing paid) when no requester is registered or
    /// the budget does not cover it. A negative, zero or non-finite amount → `invalid_argument`.
    bool bonus(worker_id w, double amount, std::string_view reason, std::optional<unit_id> u) {
        lock l{mutex_};
        ++calls_;
        if (!std::isfinite(amount) || amount <= 0)
            throw invalid_argument("bonus for worker " + std::to_string(w.value()) + ": amount must be > 0, got " +
                                   nlohmann::json(amount).dump());
        if (!payer_) return false;
        double& left = accounts_.at(*payer_);
        if (amount > left) return false;
        left -= amount;
        bonuses_.push_back({w, amount, std::string(reason), u, *payer_});
        return true;
    }
    /// Sets a crowd-side qualification (upsert). An empty name → `invalid_argument`.
    void grant(worker_id w, std::string_view qualification, int value) {
        lock l{mutex_};
        ++calls_;
        require_qualification_name(qualification);
        qualifications_[w][std::string(qualification)] = value;
    }
    /// Removes a crowd-side qualification. An empty name → `invalid_argument`.
    void revoke(worker_id w, std::string_view qualification) {
        lock l{mutex_};
        ++calls_;
        require_qualification_name(qualification);
        if (auto it = qualifications_.find(w); it != qualifications_.end()) it->second.erase(std::string(qualification));
    }

    // --- agent -------------------------------------------------------------------------------------
    void approve(agent_id a, std::string_view note) { decide(approved_, a, note); }
    void reject(agent_id a, std::string_view note) { decide(rejected_, a, note); }
    void soft_reject(agent_id a, std::string_view note) { decide(soft_rejected_, a, note); }
    void mark_done(agent_id a) {
        lock l{mutex_};
        ++calls_;
        done_.insert(a);
    }

    // --- unit --------------------------------------------------------------------------------------
    /// Offers the unit at `url`. An empty URL → `invalid_argument`.
    void launch(unit_id u, std::string_view url) {
        lock l{mutex_};
        ++calls_;
        if (url.empty()) throw invalid_argument("launch of unit " + std::to_string(u.value()) + ": empty URL");
        // One entry per launch, naming its URL by index: a served run launches every unit, and a string
        // per unit was most of this ledger's memory (~95 bytes a unit at 100,000 units).
        auto found = std::find(urls_.begin(), urls_.end(), url);  // one URL, or a few: a restart's new one
        if (found == urls_.end()) found = urls_.insert(urls_.end(), std::string(url));
        launched_.emplace_back(u, static_cast<std::uint32_t>(found - urls_.begin()));
        if (!expired_.empty()) expired_.erase(u);
    }
    void expire(unit_id u) {
        lock l{mutex_};
        ++calls_;
        expired_.insert(u);
    }
    [[nodiscard]] bool is_expired(unit_id u) const {
        lock l{mutex_};
        ++calls_;
        return expired_.contains(u);
    }

    // --- resources ---------------------------------------------------------------------------------
    /// Records the run's URL. An empty URL → `invalid_argument`.
    void setup_resources(task_run_id run, std::string_view url) {
        lock l{mutex_};
        ++calls_;
        if (url.empty()) throw invalid_argument("resources of task run " + std::to_string(run.value()) + ": empty URL");
        resources_[run] = std::string(url);
        cleaned_.erase(run);
    }
    void cleanup_resources(task_run_id run) {
        lock l{mutex_};
        ++calls_;
        resources_.erase(run);
        cleaned_.insert(run);
    }

    // --- observation (tests, review pages) ---------------------------------------------------------
    /// How many provider-interface calls were made (queries and identity checks included): "not called"
    /// is `calls()` unchanged.
    [[nodiscard]] std::size_t calls() const { lock l{mutex_}; return calls_; }
    /// Blocked workers and why.
    [[nodiscard]] std::map<worker_id, std::string> blocked() const { lock l{mutex_}; return blocked_; }
    /// Every bonus paid, in order.
    [[nodiscard]] std::vector<recorded_bonus> bonuses() const { lock l{mutex_}; return bonuses_; }
    [[nodiscard]] std::vector<recorded_decision> approved() const { lock l{mutex_}; return approved_; }
    [[nodiscard]] std::vector<recorded_decision> rejected() const { lock l{mutex_}; return rejected_; }
    [[nodiscard]] std::vector<recorded_decision> soft_rejected() const { lock l{mutex_}; return soft_rejected_; }
    /// Agents `mark_done` was called for.
    [[nodiscard]] std::set<agent_id> done() const { lock l{mutex_}; return done_; }
    /// Units launched (and their URL), expired ones included.
    [[nodiscard]] std::map<unit_id, std::string> launched() const {
        lock l{mutex_};
        std::map<unit_id, std::string> out;
        for (auto const& [u, url] : launched_) out[u] = urls_[url];  // a later launch's URL wins
        return out;
    }
    [[nodiscard]] std::set<unit_id> expired() const { lock l{mutex_}; return expired_; }
    /// Crowd-side qualifications of a worker: name → value.
    [[nodiscard]] std::map<std::string, int> qualifications(worker_id w) const {
        lock l{mutex_};
        auto it = qualifications_.find(w);
        return it == qualifications_.end() ? std::map<std::string, int>{} : it->second;
    }
    /// Runs with resources set up and not cleaned, with their URL.
    [[nodiscard]] std::map<task_run_id, std::string> resources() const { lock l{mutex_}; return resources_; }
    /// Runs whose resources were cleaned up.
    [[nodiscard]] std::set<task_run_id> cleaned() const { lock l{mutex_}; return cleaned_; }

protected:
    /// Counts one identity call (the part each provider writes itself).
    void count_call() const {
        lock l{mutex_};
        ++calls_;
    }

private:
    using lock = std::lock_guard<std::mutex>;

    double const& account(requester_id r) const {
        auto it = accounts_.find(r);
        if (it == accounts_.end())
            throw invalid_argument("requester " + std::to_string(r.value()) + " is not registered with the " + name_ +
                                   " provider");
        return it->second;
    }
    void require_qualification_name(std::string_view qualification) const {
        if (qualification.empty()) throw invalid_argument(name_ + " provider: a qualification name must not be empty");
    }
    void decide(std::vector<recorded_decision>& list, agent_id a, std::string_view note) {
        lock l{mutex_};
        ++calls_;
        list.push_back({a, std::string(note)});
    }

    std::string name_;
    double budget_;
    mutable std::mutex mutex_;
    mutable std::size_t calls_ = 0;
    std::map<requester_id, double> accounts_;
    std::optional<requester_id> payer_;
    std::map<worker_id, std::string> blocked_;
    std::vector<recorded_bonus> bonuses_;
    std::map<worker_id, std::map<std::string, int>> qualifications_;
    std::vector<recorded_decision> approved_, rejected_, soft_rejected_;
    std::set<agent_id> done_;
    std::vector<std::pair<unit_id, std::uint32_t>> launched_;  ///< each launch: unit, index in urls_
    std::vector<std::string> urls_;
    std::set<unit_id> expired_;
    std::map<task_run_id, std::string> resources_;
    std::set<task_run_id> cleaned_;
};

}  // namespace detail
}  // namespace crowdline::providers
