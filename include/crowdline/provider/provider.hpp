#pragma once
/// The `crowdline::provider` concept: the crowd a campaign sources work from (Mephisto's CrowdProvider
/// with its wrapped Requester, Worker, Agent and Unit). Each method is one small concept
/// (`provider_blocks_workers` …), grouped into one concept per wrapped object (`worker_provider` …);
/// `detail::check_provider` asserts each small concept, so a type missing a method is told which.
///
/// One model: `crowdline::providers::mock` (provider/mock.hpp). One non-model: a type without
/// `block(worker_id, std::string_view)` — see tests/static/architect_provider_concepts.cpp.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>

namespace crowdline {

/// Names the provider: `P::provider_type` (stored in every row the provider's work touches).
template <class P>
concept typed_provider = requires {
    { P::provider_type } -> std::convertible_to<std::string_view>;
};

// ---- one concept per method; `detail::check_provider` names the method of each that fails --------------

/// `register_requester(r)` (`register` is a keyword).
template <class P>
concept provider_registers_requesters = requires(P& p, requester_id r) { p.register_requester(r); };

template <class P>
concept provider_checks_registration = requires(P& p, requester_id r) {
    { p.is_registered(r) } -> std::same_as<bool>;
};

/// What the requester's account can still pay.
template <class P>
concept provider_reports_budget = requires(P& p, requester_id r) {
    { p.budget(r) } -> std::same_as<double>;
};

template <class P>
concept provider_blocks_workers = requires(P& p, worker_id w, std::string_view reason) { p.block(w, reason); };

template <class P>
concept provider_unblocks_workers = requires(P& p, worker_id w) { p.unblock(w); };

template <class P>
concept provider_checks_blocked = requires(P& p, worker_id w) {
    { p.is_blocked(w) } -> std::same_as<bool>;
};

/// False, and nothing paid, when the budget does not cover the bonus.
template <class P>
concept provider_pays_bonuses = requires(P& p, worker_id w, std::string_view reason, std::optional<unit_id> u) {
    { p.bonus(w, 1.0, reason, u) } -> std::same_as<bool>;
};

/// Crowd-side qualifications: `grant(worker, name, value)`.
template <class P>
concept provider_grants_qualifications = requires(P& p, worker_id w, std::string_view name) { p.grant(w, name, 1); };

template <class P>
concept provider_revokes_qualifications = requires(P& p, worker_id w, std::string_view name) { p.revoke(w, name); };

template <class P>
concept provider_approves_agents = requires(P& p, agent_id a, std::string_view note) { p.approve(a, note); };

template <class P>
concept provider_rejects_agents = requires(P& p, agent_id a, std::string_view note) { p.reject(a, note); };

template <class P>
concept provider_soft_rejects_agents = requires(P& p, agent_id a, std::string_view note) { p.soft_reject(a, note); };

template <class P>
concept provider_marks_agents_done = requires(P& p, agent_id a) { p.mark_done(a); };

/// Offers the unit on the crowd, pointing at `url`.
template <class P>
concept provider_launches_units = requires(P& p, unit_id u, std::string_view url) { p.launch(u, url); };

template <class P>
concept provider_expires_units = requires(P& p, unit_id u) { p.expire(u); };

template <class P>
concept provider_checks_expired = requires(P& p, unit_id u) {
    { p.is_expired(u) } -> std::same_as<bool>;
};

/// Per-run setup on the crowd side (listing the task at `url`, registering qualifications …).
template <class P>
concept provider_sets_up_resources = requires(P& p, task_run_id run, std::string_view url) {
    p.setup_resources(run, url);
};

template <class P>
concept provider_cleans_up_resources = requires(P& p, task_run_id run) { p.cleanup_resources(run); };

// ---- the groups: Mephisto's wrapped objects ---------------------------------------------------------

/// The account that pays (Mephisto's Requester).
template <class P>
concept requester_provider =
    provider_registers_requesters<P> && provider_checks_registration<P> && provider_reports_budget<P>;

/// What a requester does to a person (Mephisto's Worker): block, pay a bonus, sync crowd-side qualifications.
template <class P>
concept worker_provider = provider_blocks_workers<P> && provider_unblocks_workers<P> && provider_checks_blocked<P> &&
                          provider_pays_bonuses<P> && provider_grants_qualifications<P> &&
                          provider_revokes_qualifications<P>;

/// Judging one attempt at one unit (Mephisto's Agent).
template <class P>
concept agent_provider = provider_approves_agents<P> && provider_rejects_agents<P> &&
                         provider_soft_rejects_agents<P> && provider_marks_agents_done<P>;

/// Offering a unit on the crowd and taking it down (Mephisto's Unit).
template <class P>
concept unit_provider = provider_launches_units<P> && provider_expires_units<P> && provider_checks_expired<P>;

/// Per-run setup and teardown on the crowd side.
template <class P>
concept resource_provider = provider_sets_up_resources<P> && provider_cleans_up_resources<P>;

/// How a worker's identity arrives: the name a registration says the worker has (throws
/// `invalid_argument` when it says none).
template <class P>
concept identity_provider = requires(P& p, nlohmann::json const& registration) {
    { p.worker_name(registration) } -> std::same_as<std::string>;
};

/// A crowd provider (ARCHITECTURE §6).
template <class P>
concept provider = typed_provider<P> && requester_provider<P> && worker_provider<P> && agent_provider<P> &&
                   unit_provider<P> && resource_provider<P> && identity_provider<P>;

/// Optional, beyond `provider`: identities that can be withdrawn (`providers::in_house`'s invite links).
/// `link_id(registration)` names the link a registration came through (a number, never the secret; the
/// refusals of `worker_name`), and `is_link_live(link)` turns false for good once that link is revoked or
/// replaced. A pipeline remembers the link each unit was handed out through: once it is dead, every
/// request about the unit is refused (reason "revoked") and the unit goes back to the pool.
template <class P>
concept revocable_identity = requires(P const& p, nlohmann::json const& registration, std::uint64_t link) {
    { p.link_id(registration) } -> std::same_as<std::uint64_t>;
    { p.is_link_live(link) } -> std::same_as<bool>;
};

/// Optional, beyond `provider`: a crowd that pays on its own site names the page where a worker says they
/// are done (`providers::prolific`'s completion URL); the worker page goes there once no work is left.
template <class P>
concept names_completion_url = requires(P& p, task_run_id run) {
    { p.completion_url(run) } -> std::convertible_to<std::string>;
};

namespace detail {

/// Names each missing member of `provider` for an entry point's message.
template <class P>
constexpr void check_provider() {
    static_assert(typed_provider<P>, "crowdline::provider: the type lacks static provider_type (a std::string_view)");
    static_assert(provider_registers_requesters<P>,
                  "crowdline::provider: the type lacks register_requester(requester_id)");
    static_assert(provider_checks_registration<P>,
                  "crowdline::provider: the type lacks is_registered(requester_id) -> bool");
    static_assert(provider_reports_budget<P>, "crowdline::provider: the type lacks budget(requester_id) -> double");
    static_assert(provider_blocks_workers<P>,
                  "crowdline::provider: the type lacks block(worker_id, std::string_view reason)");
    static_assert(provider_unblocks_workers<P>, "crowdline::provider: the type lacks unblock(worker_id)");
    static_assert(provider_checks_blocked<P>, "crowdline::provider: the type lacks is_blocked(worker_id) -> bool");
    static_assert(provider_pays_bonuses<P>,
                  "crowdline::provider: the type lacks bonus(worker_id, double amount, std::string_view reason, "
                  "std::optional<unit_id>) -> bool");
    static_assert(provider_grants_qualifications<P>,
                  "crowdline::provider: the type lacks grant(worker_id, std::string_view qualification, int value)");
    static_assert(provider_revokes_qualifications<P>,
                  "crowdline::provider: the type lacks revoke(worker_id, std::string_view qualification)");
    static_assert(provider_approves_agents<P>,
                  "crowdline::provider: the type lacks approve(agent_id, std::string_view note)");
    static_assert(provider_rejects_agents<P>,
                  "crowdline::provider: the type lacks reject(agent_id, std::string_view note)");
    static_assert(provider_soft_rejects_agents<P>,
                  "crowdline::provider: the type lacks soft_reject(agent_id, std::string_view note)");
    static_assert(provider_marks_agents_done<P>, "crowdline::provider: the type lacks mark_done(agent_id)");
    static_assert(provider_launches_units<P>,
                  "crowdline::provider: the type lacks launch(unit_id, std::string_view url)");
    static_assert(provider_expires_units<P>, "crowdline::provider: the type lacks expire(unit_id)");
    static_assert(provider_checks_expired<P>, "crowdline::provider: the type lacks is_expired(unit_id) -> bool");
    static_assert(provider_sets_up_resources<P>,
                  "crowdline::provider: the type lacks setup_resources(task_run_id, std::string_view url)");
    static_assert(provider_cleans_up_resources<P>,
                  "crowdline::provider: the type lacks cleanup_resources(task_run_id)");
    static_assert(identity_provider<P>,
                  "crowdline::provider: the type lacks worker_name(nlohmann::json const& registration) -> std::string");
}

}  // namespace detail

/// Entry-point check: `static_assert`s naming what `P` lacks, then true.
template <class P>
constexpr bool assert_provider() {
    detail::check_provider<P>();
    return provider<P>;
}

}  // namespace crowdline

namespace crowdline::providers {

/// What is wrong with a worker name ("is empty", "is 300 bytes, over the limit of 256", "contains a
/// control character"), or nothing. Public: a program reading a roster checks names before any provider
/// is built, so its message can name the file and the entry.
[[nodiscard]] inline std::optional<std::string> worker_name_problem(std::string_view name, std::size_t longest) {
    if (name.empty()) return "is empty";
    if (name.size() > longest)
        return "is " + std::to_string(name.size()) + " bytes, over the limit of " + std::to_string(longest);
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return "contains a control character";
    return std::nullopt;
}

}  // namespace crowdline::providers
