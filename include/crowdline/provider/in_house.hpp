#pragma once
/// `providers::in_house`: a crowd provider for teams annotating their own data. The requester names the
/// workers (with a profile, e.g. `{"languages": ["en", "fr"]}`) and each gets a secret invite link that
/// carries an unguessable token; whoever opens the link is that worker and nobody else can be. A link
/// can be revoked (for good) or renewed (a new token; the old one stays refused); a pipeline then refuses
/// the link's holder every request, about units already handed out too (`revocable_identity`). Blocking,
/// bonuses, judgements, units and run resources are kept in memory and can be read back, as with the mock,
/// so a review page or a test can show what happened (`providers::detail::ledger`, shared with the mock);
/// a pipeline restores the blocks recorded in its store at launch (`review::restore_blocks`).
/// Thread-safe: the roster has its own mutex, the ledger another.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/provider/detail/ledger.hpp>
#include <crowdline/provider/provider.hpp>

namespace crowdline {
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
using in_house_bonus = recorded_bonus;
/// One judgement of an agent (approve / reject / soft reject) with its note.
using in_house_decision = recorded_decision;

/// A crowd the requester names. The roster is by worker name (the people exist before the store has
/// ids for them); everything the pipeline and review do to a worker is by `worker_id`, as with any
/// provider. Bonuses are paid from the first requester registered, or the one `pay_from` names.
class in_house : public detail::ledger {
public:
    static constexpr std::string_view provider_type = "in_house";
    /// 128 random bits per token, hex encoded: 32 characters.
    static constexpr std::size_t token_bytes = crowdline::token_bytes;
    static constexpr std::size_t token_chars = crowdline::token_chars;
    /// Longest worker name, in bytes (as the mock's limit on a registration's name).
    static constexpr std::size_t max_worker_name = 256;

    /// Adds `workers` in order (as `add_worker`, with the same errors). A budget that is negative or not
    /// finite → `invalid_argument`.
    explicit in_house(std::vector<in_house_worker> workers = {}, in_house_options options = {})
        : ledger("in_house", options.budget) {
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
        if (!w.token.empty() && !crowdline::is_token_shaped(w.token))
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
        roster_.push_back({std::move(w), false, 1});
        auto const at = roster_.size() - 1;
        try {
            index_.emplace(std::move(name), at);
            try {
                live_tokens_.emplace(fingerprint(token), at);
            } catch (...) {
                index_.erase(roster_.back().worker.name);
                throw;
            }
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
    /// on, and only `renew_link` lets the worker in again (with a new link). A pipeline refuses every
    /// request about the units handed out through it ("revoked") and puts them back in the pool (see
    /// `is_link_live`). Revoking twice is harmless. Unknown → `entry_does_not_exist`.
    void revoke_link(std::string_view name) {
        lock l{mutex_};
        entry(name).revoked = true;
    }
    /// Gives the worker a new token and returns it; the old one stays refused ("revoked") for good, and
    /// with it every unit handed out through it (as for `revoke_link`); the worker is no longer revoked.
    /// Unknown → `entry_does_not_exist`.
    std::string renew_link(std::string_view name) {
        lock l{mutex_};
        auto& e = entry(name);
        auto const at = static_cast<std::size_t>(&e - roster_.data());
        std::string token = fresh_token(), replacement = token;
        auto const old_print = fingerprint(e.worker.token), new_print = fingerprint(token);
        // What can fail comes first, each step undone if a later one fails; then what cannot. With room
        // for one more entry reserved, the insert below does not rehash, so `old_entry` stays valid.
        live_tokens_.reserve(live_tokens_.size() + 1);
        auto old_entry = live_tokens_.end();
        for (auto [it, end] = live_tokens_.equal_range(old_print); it != end; ++it)
            if (it->second == at) old_entry = it;
        retired_.push_back(e.worker.token);
        try {
            auto const retired_entry = retired_tokens_.emplace(old_print, retired_.size() - 1);
            try {
                live_tokens_.emplace(new_print, at);
            } catch (...) {
                retired_tokens_.erase(retired_entry);
                throw;
            }
        } catch (...) {
            retired_.pop_back();
            throw;
        }
        if (old_entry != live_tokens_.end()) live_tokens_.erase(old_entry);
        e.worker.token.swap(replacement);
        e.revoked = false;
        ++e.generation;
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
    /// The link a registration came through (`revocable_identity`): a number naming the worker's current
    /// token, which no other link ever has, so the pipeline can ask `is_link_live` later without keeping
    /// the secret. Refusals as `worker_name`. Not counted in `calls()`.
    [[nodiscard]] std::uint64_t link_id(nlohmann::json const& registration) const {
        lock l{mutex_};
        auto const& e = admitted(registration);
        return link_of(static_cast<std::size_t>(&e - roster_.data()), e.generation);
    }
    /// False once the link `link_id` named is revoked or replaced by `renew_link` (for good: a renewed
    /// worker's new link has another id), and for a number no link ever had. Not counted in `calls()`.
    [[nodiscard]] bool is_link_live(std::uint64_t link) const {
        lock l{mutex_};
        auto const index = static_cast<std::size_t>(link & 0xffff'ffffu);
        if (index >= roster_.size()) return false;
        auto const& e = roster_[index];
        return !e.revoked && link_of(index, e.generation) == link;
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
        count_call();
        lock l{mutex_};
        return admitted(registration).worker.name;
    }
    /// The profile the requester gave the link's worker (same refusals as `worker_name`): the page can
    /// never choose its own, whatever else the registration says. Always engaged here; optional so that
    /// providers that know nothing about their workers can say so.
    [[nodiscard]] std::optional<nlohmann::json> worker_profile(nlohmann::json const& registration) const {
        count_call();
        lock l{mutex_};
        return admitted(registration).worker.profile;
    }

private:
    using lock = std::lock_guard<std::mutex>;

    struct roster_entry {
        in_house_worker worker;
        bool revoked = false;
        std::uint32_t generation = 1;  ///< bumped by `renew_link`: with the position, names the current link
    };
    /// What a token turned out to be: the live entry it opens, or just "it was issued once".
    struct token_match {
        roster_entry const* live = nullptr;
        bool dead = false;  ///< revoked, or replaced by `renew_link`
    };

    /// A link's number: the worker's generation above their position on the roster.
    static std::uint64_t link_of(std::size_t index, std::uint32_t generation) noexcept {
        return (std::uint64_t{generation} << 32) | static_cast<std::uint64_t>(index);
    }

    static void require_worker_name(std::string const& name) {
        if (auto problem = worker_name_problem(name, max_worker_name))
            throw invalid_argument("in_house provider: a worker name " + *problem);
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
    /// Finds `token` among the tokens ever issued by its keyed fingerprint (O(1) whatever the roster's
    /// size; the key is this roster's own and random) and confirms each candidate with the constant-time
    /// `same_token`, so the time taken says nothing about how much of a guess was right.
    token_match find_token(std::string_view token) const {
        token_match found;
        auto const print = fingerprint(token);
        for (auto [it, end] = live_tokens_.equal_range(print); it != end; ++it) {
            auto const& e = roster_[it->second];
            if (!crowdline::same_token(e.worker.token, token)) continue;
            if (e.revoked) found.dead = true;
            else found.live = &e;
        }
        for (auto [it, end] = retired_tokens_.equal_range(print); it != end; ++it)
            if (crowdline::same_token(retired_[it->second], token)) found.dead = true;
        return found;
    }
    std::uint64_t fingerprint(std::string_view token) const noexcept {
        return crowdline::token_fingerprint(token, token_key_);
    }
    bool issued(std::string_view token) const {
        auto found = find_token(token);
        return found.live || found.dead;
    }
    /// A token no one has had, not even a retired link (a collision of 128 random bits is not expected,
    /// but costs one more draw to rule out).
    std::string fresh_token() const {
        for (;;)
            if (auto t = crowdline::random_token(); !issued(t)) return t;
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
    mutable std::mutex mutex_;                              ///< guards the roster (the ledger has its own)
    std::vector<roster_entry> roster_;                      ///< insertion order
    std::map<std::string, std::size_t, std::less<>> index_;  ///< name → position in `roster_`
    std::vector<std::string> retired_;                      ///< tokens replaced by `renew_link`: refused for good
    std::uint64_t token_key_ = crowdline::random_fingerprint_key();
    std::unordered_multimap<std::uint64_t, std::size_t> live_tokens_;     ///< fingerprint → roster position
    std::unordered_multimap<std::uint64_t, std::size_t> retired_tokens_;  ///< fingerprint → position in `retired_`
};

static_assert(provider<in_house>, "providers::in_house must model crowdline::provider");
static_assert(revocable_identity<in_house>, "providers::in_house must model crowdline::revocable_identity");

}  // namespace providers
}  // namespace crowdline
