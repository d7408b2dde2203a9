#pragma once
/// The `crowdline::provider` concept: the crowd a campaign sources work from (Mephisto's CrowdProvider
/// with its wrapped Requester, Worker, Agent and Unit). Split into one concept per wrapped object so a
/// type missing a method is told which group it lacks, and `detail::check_provider` names the method.
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

/// The account that pays (Mephisto's Requester): `register_requester` (`register` is a keyword),
/// `is_registered`, `budget`.
template <class P>
concept requester_provider = requires(P& p, requester_id r) {
    p.register_requester(r);
    { p.is_registered(r) } -> std::same_as<bool>;
    { p.budget(r) } -> std::same_as<double>;
};

/// What a requester does to a person (Mephisto's Worker): block, pay a bonus (false, and nothing paid,
/// when the budget does not cover it), and sync crowd-side qualifications.
template <class P>
concept worker_provider = requires(P& p, worker_id w, std::string_view text, std::optional<unit_id> u) {
    p.block(w, text);
    p.unblock(w);
    { p.is_blocked(w) } -> std::same_as<bool>;
    { p.bonus(w, 1.0, text, u) } -> std::same_as<bool>;
    p.grant(w, text, 1);
    p.revoke(w, text);
};

/// Judging one attempt at one unit (Mephisto's Agent).
template <class P>
concept agent_provider = requires(P& p, agent_id a, std::string_view note) {
    p.approve(a, note);
    p.reject(a, note);
    p.soft_reject(a, note);
    p.mark_done(a);
};

/// Offering a unit on the crowd and taking it down (Mephisto's Unit).
template <class P>
concept unit_provider = requires(P& p, unit_id u, std::string_view url) {
    p.launch(u, url);
    p.expire(u);
    { p.is_expired(u) } -> std::same_as<bool>;
};

/// Per-run setup and teardown on the crowd side (listing the task, registering qualifications …).
template <class P>
concept resource_provider = requires(P& p, task_run_id run, std::string_view url) {
    p.setup_resources(run, url);
    p.cleanup_resources(run);
};

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

namespace detail {

/// Names the first missing member of `provider` for an entry point's message.
template <class P>
constexpr void check_provider() {
    static_assert(typed_provider<P>, "crowdline::provider: the type lacks static provider_type (a std::string_view)");
    // requester
    static_assert(requires(P& p, requester_id r) { p.register_requester(r); },
                  "crowdline::provider: the type lacks register_requester(requester_id)");
    static_assert(requires(P& p, requester_id r) {
        { p.is_registered(r) } -> std::same_as<bool>;
    }, "crowdline::provider: the type lacks is_registered(requester_id) -> bool");
    static_assert(requires(P& p, requester_id r) {
        { p.budget(r) } -> std::same_as<double>;
    }, "crowdline::provider: the type lacks budget(requester_id) -> double");
    // worker
    static_assert(requires(P& p, worker_id w, std::string_view s) { p.block(w, s); },
                  "crowdline::provider: the type lacks block(worker_id, std::string_view reason)");
    static_assert(requires(P& p, worker_id w) { p.unblock(w); },
                  "crowdline::provider: the type lacks unblock(worker_id)");
    static_assert(requires(P& p, worker_id w) {
        { p.is_blocked(w) } -> std::same_as<bool>;
    }, "crowdline::provider: the type lacks is_blocked(worker_id) -> bool");
    static_assert(requires(P& p, worker_id w, std::string_view s, std::optional<unit_id> u) {
        { p.bonus(w, 1.0, s, u) } -> std::same_as<bool>;
    }, "crowdline::provider: the type lacks bonus(worker_id, double amount, std::string_view reason, "
       "std::optional<unit_id>) -> bool");
    static_assert(requires(P& p, worker_id w, std::string_view s) { p.grant(w, s, 1); },
                  "crowdline::provider: the type lacks grant(worker_id, std::string_view qualification, int value)");
    static_assert(requires(P& p, worker_id w, std::string_view s) { p.revoke(w, s); },
                  "crowdline::provider: the type lacks revoke(worker_id, std::string_view qualification)");
    // agent
    static_assert(requires(P& p, agent_id a, std::string_view s) { p.approve(a, s); },
                  "crowdline::provider: the type lacks approve(agent_id, std::string_view note)");
    static_assert(requires(P& p, agent_id a, std::string_view s) { p.reject(a, s); },
                  "crowdline::provider: the type lacks reject(agent_id, std::string_view note)");
    static_assert(requires(P& p, agent_id a, std::string_view s) { p.soft_reject(a, s); },
                  "crowdline::provider: the type lacks soft_reject(agent_id, std::string_view note)");
    static_assert(requires(P& p, agent_id a) { p.mark_done(a); },
                  "crowdline::provider: the type lacks mark_done(agent_id)");
    // unit
    static_assert(requires(P& p, unit_id u, std::string_view s) { p.launch(u, s); },
                  "crowdline::provider: the type lacks launch(unit_id, std::string_view url)");
    static_assert(requires(P& p, unit_id u) { p.expire(u); }, "crowdline::provider: the type lacks expire(unit_id)");
    static_assert(requires(P& p, unit_id u) {
        { p.is_expired(u) } -> std::same_as<bool>;
    }, "crowdline::provider: the type lacks is_expired(unit_id) -> bool");
    // resources
    static_assert(requires(P& p, task_run_id r, std::string_view s) { p.setup_resources(r, s); },
                  "crowdline::provider: the type lacks setup_resources(task_run_id, std::string_view url)");
    static_assert(requires(P& p, task_run_id r) { p.cleanup_resources(r); },
                  "crowdline::provider: the type lacks cleanup_resources(task_run_id)");
    // identity
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
