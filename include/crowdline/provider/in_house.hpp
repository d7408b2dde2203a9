#pragma once
/// `providers::in_house`: a crowd provider for teams annotating their own data. The requester names the
/// workers (with a profile, e.g. `{"languages": ["en", "fr"]}`) and each gets a secret invite link that
/// carries an unguessable token; whoever opens the link is that worker and nobody else can be. A link
/// can be revoked (for good) or renewed (a new token; the old one stays refused). Blocking, bonuses,
/// judgements, units and run resources are kept in memory and can be read back, as with the mock, so a
/// review page or a test can show what happened. Thread-safe (one mutex).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/provider/provider.hpp>

namespace crowdline {

namespace detail {

/// `bytes` random bytes as lowercase hex (2 × `bytes` characters). One `random_device` per thread, so
/// concurrent callers never share (or race on) its state.
[[nodiscard]] inline std::string random_hex_token(std::size_t bytes) {
    // Straight from the OS's entropy (getrandom on Linux), not a seeded engine whose state could be
    // reconstructed from the tokens it printed: an invite link is a credential.
    static thread_local std::random_device rng;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes);
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < 2 * bytes; ++i, word >>= 4) {
        if (i % 8 == 0) word = rng();  // 8 nibbles per 32-bit draw
        out += hex[word & 15];
    }
    return out;
}

/// Equality whose time depends only on the lengths, never on where the texts first differ, so a token
/// cannot be found one character at a time by timing refusals.
[[nodiscard]] inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace detail

namespace providers {

/// One person on an in-house roster. `token` empty → `add_worker` generates one (the usual case); give
/// one only to keep links that were already sent out (e.g. the roster was saved and is being reloaded).
struct in_house_worker {
    std::string name;
    nlohmann::json profile = nlohmann::json::object();
    std::string token{};
};

/// Settings of an `in_house` provider.
struct in_house_options {
    /// Per registered requester: bonuses are paid up to this. 0 (the default) refuses every bonus, since
    /// a team paying its own people usually does so outside the tool.
    double budget = 0;
};

/// One bonus the provider paid.
struct in_house_bonus {
    worker_id worker{};
    double amount = 0;
    std::string reason{};
    std::optional<unit_id> unit{};
    requester_id paid_by{};
    friend bool operator==(in_house_bonus const&, in_house_bonus const&) = default;
};

/// One judgement of an agent (approve / reject / soft reject) with its note.
struct in_house_decision {
    agent_id agent{};
    std::string note{};
    friend bool operator==(in_house_decision const&, in_house_decision const&) = default;
};

/// A crowd the requester names. The roster is by worker name (the people exist before the store has
/// ids for them); everything the pipeline and review do to a worker is by `worker_id`, as with any
/// provider. Bonuses are paid from the first requester registered, or the one `pay_from` names.
class in_house {
public:
    static constexpr std::string_view provider_type = "in_house";
    /// 128 random bits per token, hex encoded: 32 characters.
    static constexpr std::size_t token_bytes = 16;
    static constexpr std::size_t token_chars = 2 * token_bytes;
    /// Longest worker name, in bytes (as the mock's limit on a registration's name).
    static constexpr std::size_t max_worker_name = 256;

    /// Adds `workers` in order (as `add_worker`, with the same errors). A budget that is negative or not
    /// finite → `invalid_argument`.
    explicit in_house(std::vector<in_house_worker> workers = {}, in_house_options options = {}) : options_{options} {
        if (!std::isfinite(options_.budget) || options_.budget < 0)
            throw invalid_argument("in_house provider: budget must be a finite amount ≥ 0");
        for (auto& w : workers) (void)add_worker(std::move(w));
    }
    in_house(in_house const&) = delete;
    in_house& operator=(in_house const&) = delete;

    // --- roster ------------------------------------------------------------------------------------
    /// Puts `w` on the roster and returns their token. A name that is empty, over `max_worker_name`
    /// bytes or holds a control character, a profile that is not a JSON object, or a given token that is
    /// not `token_chars` lowercase hex characters → `invalid_argument`; a name already on the roster, or
    /// a given token already issued (revoked and renewed ones included, so a dead link never comes back
    /// to life as someone else) → `entry_already_exists`. On any error the roster is unchanged.
    std::string add_worker(in_house_worker w) {
        require_worker_name(w.name);
        if (!w.profile.is_object())
            throw invalid_argument("in_house provider: the profile of \"" + w.name + "\" must be a JSON object, got " +
                                   std::string(w.profile.type_name()));
        if (!w.token.empty() && !is_token_shaped(w.token))
            throw invalid_argument("in_house provider: the token given for \"" + w.name + "\" must be " +
                                   std::to_string(token_chars) + " lowercase hex characters");
        lock l{mutex_};
        if (index_.contains(w.name))
            throw entry_already_exists("in_house provider: a worker named \"" + w.name + "\" is already on the roster");
        if (w.token.empty()) w.token = fresh_token();
        else if (issued(w.token))  // the token itself is never echoed: it is a secret
            throw entry_already_exists("in_house provider: the token given for \"" + w.name +
                                       "\" was already issued");
        std::string token = w.token;
        std::string name = w.name;
        roster_.push_back({std::move(w), false});
        try {
            index_.emplace(std::move(name), roster_.size() - 1);
        } catch (...) {
            roster_.pop_back();
            throw;
        }
        return token;
    }
    /// The worker's current token, revoked or not (see `is_revoked`). Unknown → `entry_does_not_exist`.
    [[nodiscard]] std::string invite_token(std::string_view name) const {
        lock l{mutex_};
        return entry(name).worker.token;
    }
    /// `base_url` + "/?invite=" + the token, one trailing '/' of `base_url` dropped. An empty `base_url`
    /// → `invalid_argument` (a link is for sending to someone); unknown name → `entry_does_not_exist`.
    [[nodiscard]] std::string invite_link(std::string_view name, std::string_view base_url) const {
        if (base_url.empty()) throw invalid_argument("in_house provider: invite link: empty base URL");
        if (base_url.back() == '/') base_url.remove_suffix(1);
        return std::string(base_url) + "/?invite=" + invite_token(name);
    }
    /// The worker's link stops working for good: `worker_name` refuses it with reason "revoked" from now
    /// on, and only `renew_link` lets the worker in again (with a new link). Revoking twice is harmless.
    /// Unknown → `entry_does_not_exist`.
    void revoke_link(std::string_view name) {
        lock l{mutex_};
        entry(name).revoked = true;
    }
    /// Gives the worker a new token and returns it; the old one stays refused ("revoked") for good, and
    /// the worker is no longer revoked. Unknown → `entry_does_not_exist`.
    std::string renew_link(std::string_view name) {
        lock l{mutex_};
        auto& e = entry(name);
        std::string token = fresh_token(), replacement = token;
        retired_.push_back(e.worker.token);
        e.worker.token.swap(replacement);  // cannot throw: the old token is retired or nothing changed
        e.revoked = false;
        return token;
    }
    /// Unknown → `entry_does_not_exist`.
    [[nodiscard]] bool is_revoked(std::string_view name) const {
        lock l{mutex_};
        return entry(name).revoked;
    }
    /// Every worker in the order added, with their current token (a review page shows or resends links).
    [[nodiscard]] std::vector<in_house_worker> roster() const {
        lock l{mutex_};
        std::vector<in_house_worker> out;
        out.reserve(roster_.size());
        for (auto const& e : roster_) out.push_back(e.worker);
        return out;
    }
    /// Whose link `token` is; nullopt for an unknown, revoked or replaced token.
    [[nodiscard]] std::optional<std::string> name_for_token(std::string_view token) const {
        lock l{mutex_};
        auto found = find_token(token);
        if (!found.live) return std::nullopt;
        return found.live->worker.name;
    }

    // --- identity ----------------------------------------------------------------------------------
    /// The roster name of the worker whose link the registration carries (`{"invite": "<token>", …}`);
    /// nothing else in the registration counts, so a page cannot claim to be someone. Refusals are
    /// `bad_packet`s, which reach the page as error replies: no invite token (not an object, `invite`
    /// missing or not a string) or an unknown one → reason "forbidden"; a revoked or replaced link →
    /// "revoked". Messages never echo the token.
    [[nodiscard]] std::string worker_name(nlohmann::json const& registration) const {
        lock l{mutex_};
        ++calls_;
        return admitted(registration).worker.name;
    }
    /// The profile the requester gave the link's worker (same refusals as `worker_name`): the page can
    /// never choose its own, whatever else the registration says. Always engaged here; optional so that
    /// providers that know nothing about their workers can say so.
    [[nodiscard]] std::optional<nlohmann::json> worker_profile(nlohmann::json const& registration) const {
        lock l{mutex_};
        ++calls_;
        return admitted(registration).worker.profile;
    }

    // --- requester ---------------------------------------------------------------------------------
    /// Opens the requester's account with the configured budget; registering again changes nothing.
    void register_requester(requester_id r) {
        lock l{mutex_};
        ++calls_;
        if (accounts_.try_emplace(r, options_.budget).second && !payer_) payer_ = r;
    }
    [[nodiscard]] bool is_registered(requester_id r) const {
        lock l{mutex_};
        ++calls_;
        return accounts_.contains(r);
    }
    /// What the requester can still spend on bonuses. Unregistered → `invalid_argument`.
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
    /// the budget does not cover it (always, with the default budget of 0). A negative, zero or
    /// non-finite amount → `invalid_argument`.
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
    /// Records a qualification on the worker (upsert). An empty name → `invalid_argument`.
    void grant(worker_id w, std::string_view qualification, int value) {
        lock l{mutex_};
        ++calls_;
        require_qualification_name(qualification);
        qualifications_[w][std::string(qualification)] = value;
    }
    /// Removes a qualification (not an invite link: that is `revoke_link`). An empty name →
    /// `invalid_argument`.
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
    /// Offers the unit at `url` (to the roster: nothing is listed anywhere). An empty URL →
    /// `invalid_argument`.
    void launch(unit_id u, std::string_view url) {
        lock l{mutex_};
        ++calls_;
        if (url.empty()) throw invalid_argument("launch of unit " + std::to_string(u.value()) + ": empty URL");
        launched_[u] = std::string(url);
        expired_.erase(u);
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
    /// Records the run's URL (the base of its invite links). An empty URL → `invalid_argument`.
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
    /// How many provider-interface calls were made (queries and identity checks included; roster
    /// management is not counted): "not called" is `calls()` unchanged.
    [[nodiscard]] std::size_t calls() const { lock l{mutex_}; return calls_; }
    /// Blocked workers and why.
    [[nodiscard]] std::map<worker_id, std::string> blocked() const { lock l{mutex_}; return blocked_; }
    /// Every bonus paid, in order.
    [[nodiscard]] std::vector<in_house_bonus> bonuses() const { lock l{mutex_}; return bonuses_; }
    [[nodiscard]] std::vector<in_house_decision> approved() const { lock l{mutex_}; return approved_; }
    [[nodiscard]] std::vector<in_house_decision> rejected() const { lock l{mutex_}; return rejected_; }
    [[nodiscard]] std::vector<in_house_decision> soft_rejected() const { lock l{mutex_}; return soft_rejected_; }
    /// Agents `mark_done` was called for.
    [[nodiscard]] std::set<agent_id> done() const { lock l{mutex_}; return done_; }
    /// Units launched (and their URL), expired ones included.
    [[nodiscard]] std::map<unit_id, std::string> launched_units() const { lock l{mutex_}; return launched_; }
    [[nodiscard]] std::set<unit_id> expired_units() const { lock l{mutex_}; return expired_; }
    /// Qualifications recorded for a worker: name → value.
    [[nodiscard]] std::map<std::string, int> qualifications(worker_id w) const {
        lock l{mutex_};
        auto it = qualifications_.find(w);
        return it == qualifications_.end() ? std::map<std::string, int>{} : it->second;
    }
    /// Runs with resources set up and not cleaned, with their URL.
    [[nodiscard]] std::map<task_run_id, std::string> resources() const { lock l{mutex_}; return resources_; }
    /// Runs whose resources were cleaned up.
    [[nodiscard]] std::set<task_run_id> cleaned() const { lock l{mutex_}; return cleaned_; }

private:
    using lock = std::lock_guard<std::mutex>;

    struct roster_entry {
        in_house_worker worker;
        bool revoked = false;
    };
    /// What a token turned out to be: the live entry it opens, or just "it was issued once".
    struct token_match {
        roster_entry const* live = nullptr;
        bool dead = false;  ///< revoked, or replaced by `renew_link`
    };

    static bool is_token_shaped(std::string_view token) noexcept {
        if (token.size() != token_chars) return false;
        for (char c : token)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        return true;
    }
    static void require_worker_name(std::string const& name) {
        if (name.empty()) throw invalid_argument("in_house provider: a worker name must not be empty");
        if (name.size() > max_worker_name)
            throw invalid_argument("in_house provider: a worker name is " + std::to_string(name.size()) +
                                   " bytes, over the limit of " + std::to_string(max_worker_name));
        for (unsigned char c : name)
            if (c < 0x20 || c == 0x7f)
                throw invalid_argument("in_house provider: a worker name must not contain a control character");
    }
    static void require_qualification_name(std::string_view name) {
        if (name.empty()) throw invalid_argument("in_house provider: a qualification name must not be empty");
    }

    // The helpers below run with `mutex_` held.
    roster_entry const& entry(std::string_view name) const {
        auto it = index_.find(name);
        if (it == index_.end())
            throw entry_does_not_exist("in_house provider: no worker named \"" + std::string(name) + "\" on the roster");
        return roster_[it->second];
    }
    roster_entry& entry(std::string_view name) {
        return const_cast<roster_entry&>(std::as_const(*this).entry(name));
    }
    /// Compares `token` with every token ever issued, each in constant time and without stopping at a
    /// match, so the time taken says nothing about which (or whether one) matched.
    token_match find_token(std::string_view token) const {
        token_match found;
        for (auto const& e : roster_) {
            bool const same = detail::constant_time_equal(e.worker.token, token);
            if (same && e.revoked) found.dead = true;
            else if (same) found.live = &e;
        }
        for (auto const& old : retired_)
            if (detail::constant_time_equal(old, token)) found.dead = true;
        return found;
    }
    bool issued(std::string_view token) const {
        auto found = find_token(token);
        return found.live || found.dead;
    }
    /// A token no one has had, not even a retired link (a collision of 128 random bits is not expected,
    /// but costs one more draw to rule out).
    std::string fresh_token() const {
        for (;;)
            if (auto t = detail::random_hex_token(token_bytes); !issued(t)) return t;
    }
    roster_entry const& admitted(nlohmann::json const& registration) const {
        auto it = registration.find("invite");  // end() for a non-object
        if (it == registration.end() || !it->is_string())
            throw bad_packet("forbidden", "in_house registration: no invite token (open the invite link you were sent)");
        auto found = find_token(it->get_ref<std::string const&>());
        if (found.live) return *found.live;
        if (found.dead) throw bad_packet("revoked", "this invite link was revoked");
        throw bad_packet("forbidden", "this invite link is not valid");
    }
    double const& account(requester_id r) const {
        auto it = accounts_.find(r);
        if (it == accounts_.end())
            throw invalid_argument("requester " + std::to_string(r.value()) +
                                   " is not registered with the in_house provider");
        return it->second;
    }
    void decide(std::vector<in_house_decision>& list, agent_id a, std::string_view note) {
        lock l{mutex_};
        ++calls_;
        list.push_back({a, std::string(note)});
    }

    in_house_options options_;
    mutable std::mutex mutex_;
    mutable std::size_t calls_ = 0;
    std::vector<roster_entry> roster_;                      ///< insertion order
    std::map<std::string, std::size_t, std::less<>> index_;  ///< name → position in `roster_`
    std::vector<std::string> retired_;                      ///< tokens replaced by `renew_link`: refused for good
    std::map<requester_id, double> accounts_;
    std::optional<requester_id> payer_;
    std::map<worker_id, std::string> blocked_;
    std::vector<in_house_bonus> bonuses_;
    std::map<worker_id, std::map<std::string, int>> qualifications_;
    std::vector<in_house_decision> approved_, rejected_, soft_rejected_;
    std::set<agent_id> done_;
    std::map<unit_id, std::string> launched_;
    std::set<unit_id> expired_;
    std::map<task_run_id, std::string> resources_;
    std::set<task_run_id> cleaned_;
};

static_assert(provider<in_house>, "providers::in_house must model crowdline::provider");

}  // namespace providers
}  // namespace crowdline
