#pragma once
/// `crowdline::worker_pool`: Mephisto's WorkerPool for one task run. It takes the typed requests of
/// `ops/protocol.hpp` and answers each with a packet:
///
///  - `register`: the provider names the worker → the gates in Mephisto's order (blocked, qualification
///    requirements, `allowed_concurrent`, `maximum_units_per_worker`, then the blueprint's onboarding,
///    screening and gold mixins) → the dispatcher's grant → the store's claim (`new_agent`, compare-and-set;
///    a claim lost to another process moves on to the next grant) → the unit handed over with a fresh token;
///  - `submit`: validated by the blueprint, agent state and status saved in one transaction, then
///    acknowledged; a resend with the same `data.key` (its reply lost, even across a restart) gets the first
///    reply again and writes nothing;
///  - `init`, `heartbeat`, `release`, `live_update`, `submit_onboarding`;
///  - the ways a unit goes back to the pool: a lease past its end, a disconnect, a returned unit, a revoked
///    invite link (a provider modelling `revocable_identity`).
///
/// Each change is reported to the run's counts (`detail::run_counts`) once the store has committed it.
/// The launcher holds the run's assignments; the pool tells it when a routed unit is finished and counts
/// them (`take_finished`), so the run refills and finishes. Not thread-safe: the run's lock covers it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/ops/dashboard.hpp>
#include <crowdline/ops/detail/run_counts.hpp>
#include <crowdline/ops/detail/submission_receipt.hpp>
#include <crowdline/ops/protocol.hpp>
#include <crowdline/ops/qualifications.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/detail/messages.hpp>

namespace crowdline {

/// Why a registration got no work (Mephisto's failure reasons, plus a few of crowdline's).
enum class refusal { not_qualified, blocked, no_available_units, too_many_concurrent, max_for_task, run_not_active };

[[nodiscard]] constexpr std::string_view to_string(refusal r) noexcept {
    constexpr std::string_view names[] = {"not_qualified",       "blocked",      "no_available_units",
                                          "too_many_concurrent", "max_for_task", "run_not_active"};
    return names[static_cast<int>(r)];
}

/// The pool's limits on what a page may send.
struct worker_pool_limits {
    std::size_t max_submission_bytes = 1 << 20;  ///< largest submission (or update, or answer), in JSON bytes
    std::size_t max_live_updates = 1000;         ///< live updates kept per unit
};

template <class Blueprint, class Provider, class Dispatcher, class Store, class Launcher>
class worker_pool {
public:
    using profile_type = typename Dispatcher::profile_type;

    worker_pool(Blueprint& bp, Provider& provider, Dispatcher& dispatcher, Store& db, Launcher& launcher,
                detail::run_counts& counts, task_run_args const& args,
                std::vector<qualification_requirement> const& requirements)
        : blueprint_(bp),
          provider_(provider),
          dispatcher_(dispatcher),
          db_(db),
          launcher_(launcher),
          counts_(counts),
          args_(args),
          requirements_(requirements) {}

    worker_pool(worker_pool const&) = delete;
    worker_pool& operator=(worker_pool const&) = delete;

    worker_pool_limits limits{};

    /// Starts serving `run` of `task`: registrations get work from now on.
    void open(task_id task, task_run_id run, time_point now) {
        task_ = task;
        run_ = run;
        last_submission_ = now;
        open_ = true;
    }
    /// Registrations are told the run is not active from now on (units in hand stay until returned).
    void close() noexcept { open_ = false; }

    // --- the requests of ops/protocol.hpp ----------------------------------------------------------

    packet handle(protocol::register_request const& r, time_point now) {
        auto const& registration = r.registration;
        // Who is asking comes first: a link that is not this run's (another run's, a revoked one) is refused
        // as such even once the run is over, and saying the run is over tells nothing to a stranger.
        auto const name = provider_.worker_name(registration);
        if (!open_) return refuse(refusal::run_not_active, "the run is not accepting work");
        std::optional<std::uint64_t> link;
        if constexpr (revocable) link = provider_.link_id(registration);
        auto const w = find_or_create_worker(name);
        auto& state = workers_[w];
        if (state.name.empty()) state.name = name;
        // A renewed link's first visit: what the replaced link held goes back now, not at the next tick
        // (it would count against allowed_concurrent).
        if (state.link != link && counts_.of(w).held > 0) release_dead_links(now);
        state.link = link;
        if (provider_.is_blocked(w)) return refuse(refusal::blocked, name + " is blocked");
        if (auto unmet = first_unmet(db_, w, requirements_))
            return refuse(refusal::not_qualified, name + " does not meet " + unmet->qualification + " " +
                                                      std::string(to_string(unmet->op)) + " " + unmet->value.dump());
        auto const counted = counts_.of(w);
        if (args_.allowed_concurrent > 0 && counted.held >= static_cast<std::size_t>(args_.allowed_concurrent))
            return refuse(refusal::too_many_concurrent, name + " already holds " + std::to_string(counted.held) + " units");
        if (args_.maximum_units_per_worker > 0 &&
            task_units(w, state) >= static_cast<std::size_t>(args_.maximum_units_per_worker))
            return refuse(refusal::max_for_task, name + " reached maximum_units_per_worker for task " + args_.task_name);

        if constexpr (has_onboarding) {
            if (auto gate = onboarding_gate(w, name)) return *gate;
        }
        if constexpr (has_screening) {
            if (auto gate = screening_gate(w, name, state, now)) return *gate;
        }
        if constexpr (has_gold) {
            auto const& gold = blueprint_.template mixin<mixins::gold_units_tag>();
            if (gold.should_serve_gold(counted.done)) {
                auto index = state.gold_served++;
                auto const& g = gold.pick(index);
                return hand_out_extra(w, state, gold.initialization(g), -2, unit_kind::gold, index, now);
            }
        }

        profile_type profile{};
        if constexpr (requires { { provider_.worker_profile(registration) } -> std::same_as<std::optional<nlohmann::json>>; }) {
            // The provider knows who the worker is (an invite link): the page never chooses its own profile.
            if (auto known = provider_.worker_profile(registration)) profile = known->template get<profile_type>();
        } else if (registration.contains("profile")) {
            profile = registration.at("profile").template get<profile_type>();
        }
        dispatcher_.join(w, std::move(profile), now);
        return claim_granted(w, name, state, now);
    }

    packet handle(protocol::submit_request const& r, time_point now) {
        if (r.key && r.agent && !active_.contains(*r.agent))
            if (auto again = resent_submission(*r.agent, r.data, *r.key)) return *again;
        auto who = authorise(r, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        auto it = std::get<0>(who);
        auto& live = it->second;
        if (!r.submission) return packet::error("bad_request", "submit: no \"submission\"");
        auto const& submission = *r.submission;
        if (submission.dump().size() > limits.max_submission_bytes)
            return packet::error("too_large",
                                 "submission larger than " + std::to_string(limits.max_submission_bytes) + " bytes");
        auto check = check_submission(it->first, live.unit_data, submission);
        if (!check.ok()) return packet{"submit_refused", r.agent, check.to_json()};
        nlohmann::json state{{"inputs", live.unit_data}, {"outputs", submission}, {"updates", updates_of(it->first)}};
        nlohmann::json const reply{{"unit_id", live.unit.value()}, {"done", counts_.of(live.worker).done + 1}};
        // Saved with the answer, so a resend with this key is acknowledged even after a restart.
        if (r.key) state[detail::receipt_field] = detail::make_receipt(*r.key, live.token, reply);
        auto const grants = mixin_grants(live, submission, state);
        // Durable before acknowledged: status, data and any qualification it earns in one transaction.
        db_.transaction([&] {
            db_.update_agent(it->first, agent_status::completed, state);
            db_.update_unit(live.unit, unit_status::completed);
            for (auto const& g : grants) grant(live.worker, g);
        });
        if (live.kind == unit_kind::work) {
            detail::run_counts::work_answer const answer{launcher_.assignment(live.assignment).group(), live.assignment,
                                                         submission};
            counts_.unit_completed(live.worker, &answer);
        } else {
            counts_.unit_completed(live.worker, nullptr);
        }
        if (live.kind == unit_kind::work) {
            dispatcher_.complete(live.worker, item_key_of(live.assignment), now);
            if constexpr (routing::grows_on_answers<typename Dispatcher::router_type>)
                if (auto added = launcher_.answered(live.assignment, submission, now)) grown_.push_back(*added);
        }
        provider_.mark_done(it->first);
        finish_unit(it);
        last_submission_ = now;
        ++finished_;
        return packet{"submitted", r.agent, reply};
    }

    /// A reloaded page asks again for the unit its agent holds: the same details (and token), nothing new
    /// claimed, so a reload neither loses nor duplicates work.
    packet handle(protocol::init_request const& r, time_point now) {
        auto who = authorise(r, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        return packet{"agent_details", r.agent, details_of(*r.agent, std::get<0>(who)->second)};
    }

    packet handle(protocol::heartbeat_request const& r, time_point now) {
        auto who = authorise(r, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        dispatcher_.heartbeat(std::get<0>(who)->second.worker, now);
        return packet{"ok", r.agent, nlohmann::json::object()};
    }

    packet handle(protocol::release_request const& r, time_point now) {
        auto who = authorise(r, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        return_unit(std::get<0>(who), agent_status::returned, now);
        return packet{"released", r.agent, nlohmann::json::object()};
    }

    /// One call from an interactive page. The blueprint answers it (knowing the calls so far, when it
    /// asks for them); only an answered call is recorded, and the record is saved with the agent's state.
    packet handle(protocol::live_update_request const& r, time_point now) {
        auto who = authorise(r, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        auto const& unit_data = std::get<0>(who)->second.unit_data;
        if (!r.update) return packet::error("bad_request", "live_update: no \"update\"");
        auto const& update = *r.update;
        if (update.dump().size() > limits.max_submission_bytes)
            return packet::error("too_large", "update larger than " + std::to_string(limits.max_submission_bytes) + " bytes");
        auto& history = updates_[*r.agent];
        if (history.size() >= limits.max_live_updates)
            return packet::error("too_large", "live_update: at most " + std::to_string(limits.max_live_updates) +
                                                  " live updates per unit");
        nlohmann::json reply;
        if constexpr (requires { blueprint_.on_live_update(unit_data, update, std::span<const nlohmann::json>{}); }) {
            reply = blueprint_.on_live_update(unit_data, update, std::span<const nlohmann::json>{history});
            history.push_back(reply);
        } else if constexpr (requires { blueprint_.on_live_update(unit_data, update); }) {
            reply = blueprint_.on_live_update(unit_data, update);
            history.push_back({{"update", update}, {"response", reply}});
        } else {
            return packet::error("unsupported", std::string("live_update: a \"") + std::string(Blueprint::blueprint_type) +
                                                    "\" task takes no live updates");
        }
        return packet{"live_update", r.agent, reply};
    }

    packet handle(protocol::submit_onboarding_request const& r, time_point now) {
        if constexpr (has_onboarding) {
            auto const& m = blueprint_.template mixin<mixins::onboarding_tag>();
            if (!r.onboarding_agent) return packet::error("bad_request", "submit_onboarding: no onboarding_agent_id");
            auto const oa = *r.onboarding_agent;
            auto it = onboarding_.find(oa);
            if (it == onboarding_.end())
                return packet::error("unknown_agent", detail::describe(oa) + " has no onboarding in progress");
            if (!crowdline::same_token(r.token, it->second.token))
                return packet::error("not_your_unit", detail::describe(oa) + ": the token does not match");
            if (!link_live(it->second.link)) {
                release_dead_links(now);
                return packet::error("revoked", "this invite link was revoked or replaced: " + detail::describe(oa) +
                                                    " is closed; ask the campaign owner for a new link");
            }
            if (!r.answer) return packet::error("bad_request", "submit_onboarding: no \"answer\"");
            auto const& answer = *r.answer;
            if (answer.dump().size() > limits.max_submission_bytes)
                return packet::error("too_large",
                                     "answer larger than " + std::to_string(limits.max_submission_bytes) + " bytes");
            bool const passed = m.validate_onboarding(answer);
            auto const w = it->second.worker;
            db_.transaction([&] {
                db_.update_onboarding_agent(oa, agent_status::waiting, nlohmann::json{{"outputs", answer}});
                db_.update_onboarding_agent(oa, passed ? agent_status::approved : agent_status::rejected);
                for (auto const& g : m.grants_for(passed)) grant(w, g);
            });
            onboarding_.erase(it);
            return packet{"onboarding_result", std::nullopt, {{"passed", passed}}};
        } else {
            (void)r;
            (void)now;
            return packet::error("unknown_packet", "this task has no onboarding");
        }
    }

    // --- units going back --------------------------------------------------------------------------

    /// A worker's page went away: its unit goes back to the pool, and when it holds nothing else here the
    /// dispatcher hears it left, so its reserved units may be taken over at once (it re-joins on register).
    void disconnect(agent_id id, time_point now) {
        auto it = active_.find(id);
        if (it == active_.end()) return;
        auto const w = it->second.worker;
        return_unit(it, agent_status::disconnect, now);
        if (counts_.of(w).held == 0 && dispatcher_.is_joined(w)) dispatcher_.leave(w, now);
    }

    /// Leases past their end: the store and the dispatcher reclaim them together.
    void expire_leases(time_point now) {
        for (auto it = active_.begin(); it != active_.end();) {
            if (it->second.lease_until > now) {
                ++it;
                continue;
            }
            it = return_unit(it, agent_status::timeout, now, /*release_lease=*/false);
        }
        dispatcher_.expire(now);  // reclaims the same leases: they end at the same time point
    }

    /// Units handed out through an invite link revoked or replaced since go back to the pool, as on a
    /// disconnect (agent → expired, unit launched again, the dispatcher's lease released), and a worker
    /// whose link is dead and who holds nothing here leaves the dispatcher, so their reserved units may be
    /// taken over at once. Later requests about those units are refused with "revoked".
    void release_dead_links(time_point now) {
        if constexpr (revocable) {
            for (auto it = active_.begin(); it != active_.end();) {
                if (link_live(it->second.link)) {
                    ++it;
                    continue;
                }
                revoked_agents_.insert_or_assign(it->first, it->second.token);
                it = return_unit(it, agent_status::expired, now);
            }
            for (auto const& [w, s] : workers_)
                if (counts_.of(w).held == 0 && dispatcher_.is_joined(w) && !link_live(s.link)) dispatcher_.leave(w, now);
        } else {
            (void)now;
        }
    }

    /// The run stops: every unit in hand ends (agents expire); the unit is expired with them
    /// (`expire_units`, a dead run) or launched again for a later process (a shutdown).
    void end_all(time_point now, bool expire_units) {
        for (auto it = active_.begin(); it != active_.end(); it = active_.begin()) {
            auto& live = it->second;
            db_.transaction([&] {
                end_agent(it->first, agent_status::expired, live.unit_data);
                if (expire_units)
                    db_.update_unit(live.unit, unit_status::expired);
                else
                    db_.clear_unit_agent_assignment(live.unit);
            });
            counts_.unit_returned(live.worker, expire_units ? unit_status::expired : unit_status::launched);
            if (live.kind == unit_kind::work) dispatcher_.release(live.worker, item_key_of(live.assignment), now);
            release_hold(it);
        }
    }

    // --- what the run reads ------------------------------------------------------------------------

    /// Units held now (any worker).
    [[nodiscard]] bool idle() const noexcept { return active_.empty(); }
    [[nodiscard]] time_point last_submission() const noexcept { return last_submission_; }
    /// Units submitted since the last call: the run refills and checks whether it is done.
    [[nodiscard]] std::size_t take_finished() noexcept { return std::exchange(finished_, 0); }
    /// Units added to launched assignments since the last call (full overlap over late workers), for the
    /// provider to launch.
    [[nodiscard]] std::vector<unit_id> take_grown() noexcept { return std::exchange(grown_, {}); }

    /// Every worker who registered in this run, by name: units held and done here, and the dispatcher's
    /// view (joined, units reserved in its queue). Unsorted.
    [[nodiscard]] std::vector<worker_progress> workers() const {
        std::vector<worker_progress> out;
        out.reserve(worker_ids_.size());
        for (auto const& [name, id] : worker_ids_) {
            worker_progress row{id, name};
            auto const counted = counts_.of(id);
            row.held = counted.held;
            row.done = counted.done;
            row.joined = dispatcher_.is_joined(id);
            if (dispatcher_.knows(id)) row.queue = dispatcher_.queue_length(id);
            out.push_back(std::move(row));
        }
        return out;
    }

    /// A resumed run's workers, as `workers()` shows them: who finished units of the run (and how many).
    void restore_worker_counts() {
        for (auto w : counts_.restore_done(db_, *run_)) {
            auto& state = workers_[w];
            if (state.name.empty()) state.name = db_.get_worker(w).name;
            worker_ids_.emplace(state.name, w);
        }
    }

private:
    /// What a unit handed out is: routed work, or a mixin's screening or gold unit (never routed).
    enum class unit_kind { work, screening, gold };
    /// A unit handed to a worker and not yet finished.
    struct live_agent {
        worker_id worker;
        unit_id unit;
        assignment_id assignment;
        std::uint32_t unit_index;
        std::string token;
        time_point lease_until;
        nlohmann::json unit_data;
        unit_kind kind = unit_kind::work;
        std::size_t gold_index = 0;
        std::optional<std::uint64_t> link{};  ///< the invite link it was handed out through (`revocable_identity`)
    };
    /// What the pool knows about a worker in this run (units held and done: `counts_`).
    struct worker_state {
        std::optional<std::size_t> task_units;  ///< units held or done across every run of the task
        std::size_t gold_served = 0;
        mixins::accuracy_tally gold;
        std::string name{};                   ///< as the provider said at registration (for `agent_details`)
        std::optional<std::uint64_t> link{};  ///< the link of the latest registration (`revocable_identity`)
        std::size_t grow_cursor = 0;          ///< full overlap: items before it were looked at for a unit to add
    };
    /// An onboarding attempt in progress.
    struct onboarding_session {
        worker_id worker;
        std::string token;
        std::optional<std::uint64_t> link{};
    };
    using live_iterator = typename std::unordered_map<agent_id, live_agent>::iterator;

    static constexpr bool has_onboarding = has_mixin_v<mixins::onboarding_tag, Blueprint>;
    static constexpr bool has_screening = has_mixin_v<mixins::screening_tag, Blueprint>;
    static constexpr bool has_gold = has_mixin_v<mixins::gold_units_tag, Blueprint>;
    static constexpr bool revocable = revocable_identity<Provider>;

    static packet refuse(refusal why, std::string message) {
        return packet{"no_work", std::nullopt, {{"reason", std::string(to_string(why))}, {"message", std::move(message)}}};
    }

    worker_id find_or_create_worker(std::string const& name) {
        if (auto it = worker_ids_.find(name); it != worker_ids_.end()) return it->second;
        auto found = db_.find_workers({.name = name});
        auto id = found.empty() ? db_.new_worker(name, Provider::provider_type) : found.front().id;
        worker_ids_.emplace(name, id);
        return id;
    }

    /// Units of this task (every run) the worker holds or has done: Mephisto's maximum_units_per_worker count.
    std::size_t task_units(worker_id w, worker_state& s) {
        if (!s.task_units) {
            std::size_t n = 0;
            for (auto const& u : db_.find_units({.worker = w, .task = *task_}))
                if (u.status == unit_status::assigned || complete(u.status)) ++n;
            s.task_units = n;
        }
        return *s.task_units;
    }

    /// The dispatcher's grant is a preference; the store's claim decides. A claim lost to another process
    /// (the unit is no longer launched) moves on to the next grant.
    packet claim_granted(worker_id w, std::string const& name, worker_state& state, time_point now) {
        for (int attempt = 0; attempt < 16; ++attempt) {
            auto grants = dispatcher_.next(w, 1, now);
            if (grants.empty()) {
                if constexpr (routing::grows_for_late_workers<typename Dispatcher::router_type>) {
                    // Full overlap over whoever joins: the next item this worker lacks gets a unit for it.
                    if (dispatcher_.held(w) < dispatcher_.settings().max_concurrent_per_worker)
                        if (auto added = launcher_.unit_for_late_worker(w, state.grow_cursor, now)) {
                            grown_.push_back(*added);
                            continue;
                        }
                }
                break;
            }
            auto const& g = grants.front();
            assignment_id a{static_cast<std::int64_t>(g.item.value())};
            auto const& as = launcher_.assignment(a);
            unit_id u = as.units.at(g.unit_index);
            agent_id agent;
            try {
                agent = db_.transaction([&] {  // the claim and its agent's start: one commit
                    auto claimed = db_.new_agent(w, u);
                    db_.update_agent(claimed, agent_status::in_task);
                    return claimed;
                });
            } catch (invalid_transition const&) {
                dispatcher_.release(w, g.item, now);
                continue;
            }
            counts_.unit_claimed(w);
            auto const init = as.init();
            auto const data_index = init.unit_data.size() <= 1 ? std::size_t{0} : std::size_t{g.unit_index};
            nlohmann::json unit_data = init.unit_data.empty() ? init.shared : unit_data_for(init, data_index);
            if (state.task_units) ++*state.task_units;
            return hand_over(agent, live_agent{w, u, a, g.unit_index, {}, g.lease_until, unit_data}, state);
        }
        return refuse(refusal::no_available_units, "no unit " + name + " may take now");
    }

    /// The live agent a request names, if its token is right and the invite link it was handed out through
    /// still stands; otherwise the error to send back. A dead link is found here at the latest: the units
    /// held through dead links go back to the pool (as at `tick`), and the request changes nothing else.
    std::variant<live_iterator, packet> authorise(protocol::agent_fields const& r, time_point now) {
        if (!r.agent) return packet::error("bad_request", "packet \"" + std::string(r.type) + "\" names no agent");
        auto it = active_.find(*r.agent);
        if (it == active_.end()) {
            if (auto k = revoked_agents_.find(*r.agent);
                k != revoked_agents_.end() && crowdline::same_token(r.token, k->second))
                return revoked_reply(*r.agent);
            return packet::error("unknown_agent", detail::describe(*r.agent) + " has no unit in progress");
        }
        if (!crowdline::same_token(r.token, it->second.token))
            return packet::error("not_your_unit", detail::describe(*r.agent) + ": the token does not match");
        if (!link_live(it->second.link)) {
            release_dead_links(now);
            return revoked_reply(*r.agent);
        }
        return it;
    }

    /// The refusal of a request about a unit handed out through a revoked or replaced invite link (it
    /// names neither token).
    static packet revoked_reply(agent_id a) {
        return packet::error("revoked", "this invite link was revoked or replaced, so " + detail::describe(a) +
                                            " no longer holds its unit (it went back to the pool); ask the "
                                            "campaign owner for a new link");
    }

    bool link_live(std::optional<std::uint64_t> link) const {
        if constexpr (revocable) return !link || provider_.is_link_live(*link);
        else return true;
    }

    /// A submit naming an agent that is no longer live here, whose submission the store holds with a
    /// receipt: the receipt answers it (`detail::answer_resend`) and nothing is written. No receipt (or an
    /// agent of another task): nullopt, and the submit goes on as before.
    std::optional<packet> resent_submission(agent_id id, nlohmann::json const& data, std::string const& key) {
        if (!task_) return std::nullopt;  // not opened yet: nothing of this task was saved by this pool
        std::optional<crowdline::agent> saved;
        try {
            saved = db_.get_agent(id);
        } catch (entry_does_not_exist const&) {
            return std::nullopt;
        }
        if (saved->task != *task_) return std::nullopt;
        auto const* receipt = detail::saved_receipt(saved->state);
        if (!receipt) return std::nullopt;
        return detail::answer_resend(id, *receipt, data, key);
    }

    /// The blueprint's verdict on a submission, given the unit's live calls when it asks for them.
    submission_check check_submission(agent_id a, nlohmann::json const& unit_data, nlohmann::json const& submission) {
        if constexpr (requires { blueprint_.on_submit(unit_data, submission, std::span<const nlohmann::json>{}); }) {
            auto it = updates_.find(a);
            std::span<const nlohmann::json> history;
            if (it != updates_.end()) history = it->second;
            return blueprint_.on_submit(unit_data, submission, history);
        } else {
            return blueprint_.on_submit(unit_data, submission);
        }
    }

    /// The live calls made on the agent's unit so far (kept until the unit is finished or returned, so a
    /// submission that fails to save can be sent again with its history intact).
    nlohmann::json updates_of(agent_id a) const {
        auto it = updates_.find(a);
        return it == updates_.end() ? nlohmann::json::array() : nlohmann::json(it->second);
    }

    /// The unit goes back to the pool: agent to `why`, unit cleared, and — unless the dispatcher reclaims
    /// the lease itself (`expire`) — the dispatcher's lease released. Returns the next live agent.
    live_iterator return_unit(live_iterator it, agent_status why, time_point now, bool release_lease = true) {
        auto& live = it->second;
        db_.transaction([&] {
            end_agent(it->first, why, live.unit_data);
            db_.clear_unit_agent_assignment(live.unit);
        });
        counts_.unit_returned(live.worker, unit_status::launched);
        if (release_lease && live.kind == unit_kind::work)
            dispatcher_.release(live.worker, item_key_of(live.assignment), now);
        auto& s = workers_[live.worker];
        if (live.kind == unit_kind::work && s.task_units && *s.task_units > 0) --*s.task_units;
        return release_hold(it);  // the unit stays live: it is launched again
    }

    /// An agent that will not submit: its status, and the live calls it made, so nothing said is lost.
    void end_agent(agent_id a, agent_status why, nlohmann::json const& unit_data) {
        if (auto u = updates_.find(a); u != updates_.end() && !u->second.empty())
            db_.update_agent(a, why, nlohmann::json{{"inputs", unit_data}, {"outputs", nullptr}, {"updates", u->second}});
        else
            db_.update_agent(a, why);
    }

    /// The agent is no longer live here (its worker's counts moved with the unit's status).
    live_iterator release_hold(live_iterator it) {
        updates_.erase(it->first);
        return active_.erase(it);
    }

    void finish_unit(live_iterator it) {
        if (it->second.kind == unit_kind::work) launcher_.unit_finished(it->second.assignment);
        release_hold(it);
    }

    // --- mixins ------------------------------------------------------------------------------------

    /// Stores a qualification value, creating the qualification on first use.
    void grant(worker_id w, mixins::qualification_grant const& g) {
        auto found = db_.find_qualifications({.name = g.qualification});
        auto q = found.empty() ? db_.make_qualification(g.qualification) : found.front().id;
        db_.grant_qualification(q, w, g.value);
    }

    std::optional<int> granted(worker_id w, std::string const& qualification) {
        auto found = db_.find_qualifications({.name = qualification});
        if (found.empty()) return std::nullopt;
        return granted_value(db_, w, found.front().id);
    }

    /// What a finished screening or gold unit earns the worker. A gold answer's verdict is saved with it
    /// (`state.gold.correct`), so accuracy on gold can be read from the store (`quality::gold_accuracy`).
    std::vector<mixins::qualification_grant> mixin_grants(live_agent const& live, nlohmann::json const& submission,
                                                          nlohmann::json& state) {
        if constexpr (has_screening) {
            if (live.kind == unit_kind::screening) {
                auto const& m = blueprint_.template mixin<mixins::screening_tag>();
                return m.grants_for(m.validate_screening(submission));
            }
        }
        if constexpr (has_gold) {
            if (live.kind == unit_kind::gold) {
                auto const& m = blueprint_.template mixin<mixins::gold_units_tag>();
                auto& tally = workers_[live.worker].gold;
                bool const right = m.score(m.pick(live.gold_index), submission);
                tally.record(right);
                state["gold"] = {{"correct", right}};
                return m.grants_for(tally);
            }
        }
        (void)live;
        (void)submission;
        (void)state;
        return {};
    }

    /// Onboarding first: a worker who failed it is refused; one who has not passed it gets it now.
    std::optional<packet> onboarding_gate(worker_id w, std::string const& name) {
        auto const& m = blueprint_.template mixin<mixins::onboarding_tag>();
        if (granted(w, m.failed_qualification_name()))
            return refuse(refusal::not_qualified, name + " did not pass the onboarding");
        if (auto v = granted(w, m.qualification_name()); v && *v > 0) return std::nullopt;
        auto oa = db_.new_onboarding_agent(w, *run_);
        db_.update_onboarding_agent(oa, agent_status::onboarding);
        auto token = crowdline::random_token();
        onboarding_.emplace(oa, onboarding_session{w, token, workers_[w].link});
        auto init = m.initialization();
        return packet{"onboarding",
                      std::nullopt,
                      {{"onboarding_agent_id", oa.value()},
                       {"worker_id", w.value()},
                       {"token", token},
                       {"init_data", {{"shared", init.shared}, {"unit_data", init.unit_data.front()}}},
                       {"page", blueprint_.page(init, 0)}}};
    }

    /// Screening first: a worker who failed it is refused; one who has not taken it gets a screening unit,
    /// while fewer than max_screening_units have been handed out.
    std::optional<packet> screening_gate(worker_id w, std::string const& name, worker_state& state, time_point now) {
        auto const& m = blueprint_.template mixin<mixins::screening_tag>();
        auto v = granted(w, m.qualification_name());
        if (v && *v > 0) return std::nullopt;
        if (v) return refuse(refusal::not_qualified, name + " did not pass the screening");
        if (!m.may_launch(screening_launched_))
            return refuse(refusal::no_available_units, "no screening unit left for " + name);
        ++screening_launched_;
        return hand_out_extra(w, state, m.initialization(), -1, unit_kind::screening, 0, now);
    }

    /// A unit outside the routed work (screening -1, gold -2, as in Mephisto): its own assignment, claimed
    /// at once by the worker who asked.
    packet hand_out_extra(worker_id w, worker_state& state, initialization_data init, int index, unit_kind kind,
                          std::size_t gold_index, time_point now) {
        assignment_id a;
        unit_id u;
        agent_id agent;
        db_.transaction([&] {
            a = db_.new_assignment(*run_);
            u = db_.new_unit(a, index, kind == unit_kind::gold ? args_.task_reward : 0.0);
            db_.update_unit(u, unit_status::launched);
            agent = db_.new_agent(w, u);
            db_.update_agent(agent, agent_status::in_task);
        });
        counts_.extra_unit_claimed(w);
        auto unit_data = init.unit_data.empty() ? init.shared : unit_data_for(init, 0);
        return hand_over(agent,
                         live_agent{w, u, a, 0, {}, now + std::chrono::seconds(args_.assignment_duration_in_seconds),
                                    unit_data, kind, gold_index},
                         state);
    }

    /// Records a claimed unit as live (with a fresh token) and builds the reply that gives it to the page.
    packet hand_over(agent_id agent, live_agent live, worker_state& state) {
        live.token = crowdline::random_token();
        live.link = state.link;  // the link of the registration that asked for it
        auto const it = active_.emplace(agent, std::move(live)).first;
        return packet{"agent_details", agent, details_of(agent, it->second)};
    }

    /// What a page gets for a unit it holds, when it is handed over and again on `init` (a reloaded page).
    /// Built from what the run keeps anyway (the assignment's data, or the mixin's), so no agent carries
    /// a copy of its page.
    nlohmann::json details_of(agent_id agent, live_agent const& live) {
        auto const& state = workers_[live.worker];
        auto build = [&](initialization_data const& init, std::size_t data_index) {
            nlohmann::json out{
                {"worker_id", live.worker.value()},
                {"worker_name", state.name},
                {"agent_id", agent.value()},
                {"unit_id", live.unit.value()},
                {"token", live.token},
                {"kind", live.kind == unit_kind::screening ? "screening" : "work"},  // gold looks like any unit
                {"lease_until", std::chrono::duration_cast<std::chrono::seconds>(live.lease_until.time_since_epoch()).count()},
                {"init_data", {{"shared", init.shared}, {"unit_data", live.unit_data}}},
                {"page", blueprint_.page(init, data_index)},
                {"done", counts_.of(live.worker).done}};
            // A crowd that pays on its own site (`providers::prolific`) names the page where the worker says
            // they are done: the page keeps it and goes there once no more work is left for them.
            if constexpr (names_completion_url<Provider>)
                if (run_) out["completion_url"] = std::string(provider_.completion_url(*run_));
            return out;
        };
        if constexpr (has_screening)
            if (live.kind == unit_kind::screening)
                return build(blueprint_.template mixin<mixins::screening_tag>().initialization(), 0);
        if constexpr (has_gold) {
            if (live.kind == unit_kind::gold) {
                auto const& gold = blueprint_.template mixin<mixins::gold_units_tag>();
                return build(gold.initialization(gold.pick(live.gold_index)), 0);
            }
        }
        auto const init = launcher_.assignment(live.assignment).init();
        return build(init, init.unit_data.size() <= 1 ? std::size_t{0} : std::size_t{live.unit_index});
    }

    Blueprint& blueprint_;
    Provider& provider_;
    Dispatcher& dispatcher_;
    Store& db_;
    Launcher& launcher_;
    detail::run_counts& counts_;
    task_run_args const& args_;
    std::vector<qualification_requirement> const& requirements_;

    std::optional<task_id> task_;
    std::optional<task_run_id> run_;
    bool open_ = false;
    time_point last_submission_{};
    std::size_t finished_ = 0;
    std::vector<unit_id> grown_;  ///< units added since `take_grown`
    std::unordered_map<agent_id, live_agent> active_;
    std::unordered_map<worker_id, worker_state> workers_;
    std::unordered_map<std::string, worker_id> worker_ids_;
    std::unordered_map<agent_id, std::vector<nlohmann::json>> updates_;
    std::unordered_map<onboarding_agent_id, onboarding_session> onboarding_;
    /// Agents whose unit went back because their invite link died, with their token: asked about again,
    /// they are refused as revoked rather than unknown.
    std::unordered_map<agent_id, std::string> revoked_agents_;
    std::size_t screening_launched_ = 0;
};

}  // namespace crowdline
