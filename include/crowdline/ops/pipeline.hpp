#pragma once
/// `crowdline::pipeline`: the statically typed task run. It joins a blueprint (what the work is), an
/// architect (how workers reach it), a provider (who they are, how they are paid), a dispatcher (who gets
/// which unit) and a store (where everything is kept), and runs Mephisto's operations on them:
///
///  - the task launcher: assignments made lazily from the blueprint's range (an infinite one works), never
///    more than `max_num_concurrent_units` units live at once;
///  - the worker pool: registration → worker → blocked / qualification / limit checks → the dispatcher's
///    grant → the store's claim (`new_agent`, compare-and-set; a claim lost to another process moves on to
///    the next grant) → init data to the page;
///  - submission: validated by the blueprint, agent state and status saved in one transaction, then
///    acknowledged; a resend with the same `data.key` (its reply lost, even across a restart) gets the
///    first reply again and writes nothing;
///  - expiry: a lease past `assignment_duration_in_seconds`, a disconnect, a returned unit or a revoked
///    invite link (a provider modelling `revocable_identity`) puts the unit back in the pool (dispatcher and
///    store together); `no_submission_patience` shuts a dead run down;
///  - blocks: those recorded in the store (`review::block` / `unblock` rows) are replayed onto the provider
///    at launch, so a restarted program keeps them;
///  - resume: launching on a database that holds an incomplete run of the same task continues it.
///
/// Every call is serialised by one mutex, so an architect may deliver packets from several threads.
/// Time comes from `set_clock` (default: the system clock), so tests drive leases and patience.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ranges>
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
#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/ops/dashboard.hpp>
#include <crowdline/ops/detail/run_counts.hpp>
#include <crowdline/ops/detail/submission_receipt.hpp>
#include <crowdline/ops/qualifications.hpp>
#include <crowdline/ops/review.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/store/detail/messages.hpp>
#include <crowdline/store/store.hpp>
#include <crowdline/store/summary.hpp>

namespace crowdline {

/// Why a registration got no work (Mephisto's failure reasons, plus a few of crowdline's).
enum class refusal { not_qualified, blocked, no_available_units, too_many_concurrent, max_for_task, run_not_active };

[[nodiscard]] constexpr std::string_view to_string(refusal r) noexcept {
    constexpr std::string_view names[] = {"not_qualified",       "blocked",      "no_available_units",
                                          "too_many_concurrent", "max_for_task", "run_not_active"};
    return names[static_cast<int>(r)];
}

/// Each of the first four arguments is held by reference when passed as an lvalue (it stays yours: a test
/// keeps using its in-process architect as the client) and owned when passed as an rvalue.
template <class Blueprint, class Architect, class Provider, class Dispatcher, class Store>
class pipeline {
    using blueprint_t = std::remove_cvref_t<Blueprint>;
    using architect_t = std::remove_cvref_t<Architect>;
    using provider_t = std::remove_cvref_t<Provider>;
    using dispatcher_t = std::remove_cvref_t<Dispatcher>;

    static constexpr bool checked = [] {
        detail::check_blueprint<blueprint_t>();
        static_assert(blueprint<blueprint_t>, "crowdline::pipeline: argument 1 (blueprint) must model crowdline::blueprint");
        detail::check_architect<architect_t>();
        static_assert(architect<architect_t>, "crowdline::pipeline: argument 2 (architect) must model crowdline::architect");
        detail::check_provider<provider_t>();
        static_assert(provider<provider_t>, "crowdline::pipeline: argument 3 (provider) must model crowdline::provider");
        static_assert(requires { typename dispatcher_t::item_type; typename dispatcher_t::profile_type; },
                      "crowdline::pipeline: argument 4 (dispatcher) must be a crowdline::routing::dispatcher "
                      "(make one with routing::make_dispatcher<Item, Profile>(...))");
        static_assert(std::is_constructible_v<typename dispatcher_t::item_type, initialization_data const&>,
                      "crowdline::pipeline: argument 4 (dispatcher): its Item must be constructible from "
                      "crowdline::initialization_data");
        detail::check_store<Store>();
        static_assert(store<Store>, "crowdline::pipeline: argument 5 (store) must model crowdline::store");
        return true;
    }();

public:
    using item_type = typename dispatcher_t::item_type;
    using profile_type = typename dispatcher_t::profile_type;

    pipeline(Blueprint&& bp, Architect&& arch, Provider&& prov, Dispatcher&& disp, Store& db, task_run_args args,
             std::vector<qualification_requirement> requirements = {})
        : blueprint_(std::forward<Blueprint>(bp)),
          architect_(std::forward<Architect>(arch)),
          provider_(std::forward<Provider>(prov)),
          dispatcher_(std::forward<Dispatcher>(disp)),
          db_(db),
          args_(std::move(args)),
          requirements_(std::move(requirements)),
          tasks_(blueprint_.initialization_data()),
          next_task_(std::ranges::begin(tasks_)) {
        static_assert(checked);
    }

    pipeline(pipeline const&) = delete;
    pipeline& operator=(pipeline const&) = delete;

    /// Where time comes from (tests pass a manual clock).
    void set_clock(std::function<time_point()> source) { clock_ = std::move(source); }
    /// Largest submission accepted, in bytes of its JSON text.
    void set_max_submission_bytes(std::size_t n) { max_submission_bytes_ = n; }
    /// Most live updates kept per unit (each at most max_submission_bytes): a page cannot grow memory without end.
    void set_max_live_updates(std::size_t n) { max_live_updates_ = n; }

    /// Makes `launch()` show this completed run of the task again instead of starting a new one: the review
    /// page and dashboards work as at its end, and a worker who registers is told the run is not active.
    void reopen_completed(task_run_id run) { std::lock_guard l{mutex_}; reopen_ = run; }

    /// Validates the configuration, creates (or finds, to resume) the task and run rows, prepares and
    /// deploys the architect, sets up the provider, and launches the first units.
    task_run_id launch() {
        std::lock_guard l{mutex_};
        if (run_) throw error("crowdline::pipeline: already launched (task run " + std::to_string(run_->value()) + ")");
        auto const now = clock_();
        config::validate(args_);
        for (auto const& r : requirements_) r.validate();
        if constexpr (has_screening)
            if (args_.allowed_concurrent != 1)
                throw config_error("allowed_concurrent: must be 1 when the blueprint has a screening mixin (a worker's "
                                   "screening unit must be done before any other)");
        validate_blueprint();
        check_dispatcher_lease();

        requester_ = find_or_create_requester();
        (void)review::restore_blocks(db_, provider_);  // the store remembers blocks; a fresh provider may not
        auto tasks = db_.find_tasks({.name = args_.task_name});
        task_ = tasks.empty() ? db_.new_task(args_.task_name, std::string(blueprint_t::blueprint_type)) : tasks.front().id;
        auto open_runs = db_.find_task_runs({.task = *task_, .is_completed = false});
        std::vector<unit_id> reopened;
        if (reopen_) {
            auto const r = db_.get_task_run(*reopen_);
            if (r.task != *task_ || !r.is_completed)
                throw error("crowdline::pipeline: task run " + std::to_string(reopen_->value()) +
                            " is not a completed run of task \"" + args_.task_name + "\"");
            run_ = *reopen_;
            (void)resume(now);  // its units are all done: this only rebuilds what the dashboards show
        } else if (!open_runs.empty()) {
            run_ = open_runs.back().id;
            reopened = resume(now);
        } else {
            run_ = db_.new_task_run(*task_, requester_, config::dump(args_), provider_t::provider_type,
                                    blueprint_t::blueprint_type, true);
        }
        architect_.prepare();
        url_ = architect_.deploy();
        provider_.setup_resources(*run_, url_);
        for (auto u : reopened) provider_.launch(u, url_);  // a resumed run's open units, at the new address
        auto& ch = architect_.channel();
        ch.on_message([this](packet const& p) { return handle(p); });
        ch.on_disconnect([this](agent_id a) { disconnect(a); });
        if constexpr (requires { ch.on_batch([](std::function<void()> const&) {}); })
            ch.on_batch([this](std::function<void()> const& requests) { handle_group(requests); });
        last_submission_ = now;
        active_run_ = true;
        restore_worker_counts();
        recount_locked();  // the one full count: from here on every change is counted as it is made
        if (reopen_) {  // shown again, finished: nothing is launched, a worker hears run_not_active
            active_run_ = false;
            complete_ = true;
            return *run_;
        }
        launch_units(now);
        return *run_;
    }

    /// Periodic work: launch more units, reclaim expired leases, shut a dead run down, finish a done one.
    void tick() {
        std::lock_guard l{mutex_};
        if (!active_run_) return;
        auto const now = clock_();
        release_dead_links(now);
        expire_leases(now);
        if (now - last_submission_ > std::chrono::seconds(args_.no_submission_patience)) {
            shut_down_run(now, /*expire_units=*/true);
            return;
        }
        launch_units(now);
        finish_if_done();
    }

    /// One packet from a worker's page; the reply goes back to it.
    packet handle(packet const& p) {
        std::lock_guard l{mutex_};
        auto const now = clock_();
        try {
            if (p.type == "register") return register_worker(p.data, now);
            if (p.type == "submit") return submit(p, now);
            if (p.type == "submit_onboarding") return submit_onboarding(p, now);
            if (p.type == "heartbeat") return heartbeat(p, now);
            if (p.type == "release") return release(p, now);
            if (p.type == "live_update") return live_update(p, now);
            if (p.type == "init") return init(p, now);
            return packet::error("unknown_packet", "unknown packet type \"" + p.type + "\"");
        } catch (bad_packet const& e) {  // e.g. a provider refusing an invite link: its reason reaches the page
            return packet::error(e.reason, e.what());
        } catch (invalid_argument const& e) {
            return packet::error("bad_request", e.what());
        } catch (nlohmann::json::exception const& e) {
            return packet::error("bad_request", e.what());
        }
    }

    /// Packets that arrived together (an architect's group, see `http_channel::on_batch`): `requests`
    /// calls `handle` for each, all in one store transaction, so they cost one commit, and the architect
    /// answers none of them before it. If that commit fails, none of them was saved while memory (leases,
    /// the dispatcher) moved on: the run stops, `failure()` says why, and a new pipeline on the same store
    /// resumes from what was saved.
    void handle_group(std::function<void()> const& requests) {
        std::lock_guard l{mutex_};
        try {
            db_.transaction([&] { requests(); });
        } catch (std::exception const& e) {
            failure_ = std::string("a group of requests could not be saved, so the run stopped: ") + e.what();
            if (active_run_) wind_down();
            try {
                recount_locked();  // what the group counted was rolled back
            } catch (std::exception const&) {  // the store is failing: the rethrow below says so
            }
            throw;
        }
    }

    /// A worker's page went away: its unit goes back to the pool, and when it holds nothing else here the
    /// dispatcher hears it left, so its reserved units may be taken over at once (it re-joins on register).
    void disconnect(agent_id id) {
        std::lock_guard l{mutex_};
        auto it = active_.find(id);
        if (it == active_.end()) return;
        auto const w = it->second.worker;
        auto const now = clock_();
        return_unit(it, agent_status::disconnect, now);
        if (counts_.of(w).held == 0 && dispatcher_.is_joined(w)) dispatcher_.leave(w, now);
    }

    /// Stops the run: leased units go back (their agents expire), the architect and provider wind down.
    void shutdown() {
        std::lock_guard l{mutex_};
        if (active_run_) shut_down_run(clock_(), /*expire_units=*/false);
    }

    [[nodiscard]] bool is_complete() const { std::lock_guard l{mutex_}; return complete_; }
    /// Why the run stopped on its own, when launching more units failed after a submission (the
    /// submission itself was saved and acknowledged); a new pipeline on the same store resumes the run.
    [[nodiscard]] std::optional<std::string> failure() const { std::lock_guard l{mutex_}; return failure_; }
    [[nodiscard]] bool is_active() const { std::lock_guard l{mutex_}; return active_run_; }
    [[nodiscard]] std::optional<task_run_id> run() const { std::lock_guard l{mutex_}; return run_; }
    [[nodiscard]] std::string const& url() const noexcept { return url_; }
    /// Units by status, assignments, agents and workers of the run, as `summarize_run` counts them, but kept
    /// up to date as the run changes: O(1) however large the run, and it never waits for a store write.
    [[nodiscard]] run_summary summary() const { return counts_.summary(); }

    /// Counts the run again from the store (one full read): after changing units through `locked` other
    /// than with `decide`, so `summary` and `progress` agree with the store again.
    void recount() {
        std::lock_guard l{mutex_};
        if (run_) recount_locked();
    }

    /// Names the group of an item for `progress()` (e.g. its language). Groups are kept as units are made
    /// and done, so `progress()` costs O(groups); set it before launch (set later, it regroups once).
    void set_group_key(std::function<std::string(initialization_data const&)> key_of) {
        std::lock_guard l{mutex_};
        group_key_ = std::move(key_of);
        for (auto& [id, as] : assignments_) as.group = group_key_(as.init);
        counts_.regroup(assignments_ | std::views::values);
    }

    /// Units done and in all per group of `set_group_key` (one group "" without it), sorted by group, in
    /// O(groups) and without the pipeline's lock.
    [[nodiscard]] std::vector<key_progress> progress() const { return counts_.progress(); }

    /// Applies a review decision on a unit of this run (`review::decide`: all or nothing) and counts it.
    /// A unit of another run → `entry_does_not_exist`; every other refusal as `review::decide`.
    review::outcome decide(review::decision const& d) {
        std::lock_guard l{mutex_};
        if (!run_) throw error("crowdline::pipeline: decide before launch");
        if (db_.get_unit(d.unit).task_run != *run_)
            throw entry_does_not_exist(detail::describe(d.unit) + " is not part of task run " + std::to_string(run_->value()));
        auto out = review::decide(db_, provider_, d);
        counts_.unit_moved(out.before, out.after);
        return out;
    }

    /// Units done and in all, per group of items (`key_of(initialization_data const&)` names an item's
    /// group, e.g. its language), sorted by group: what a dashboard's progress bars show.
    template <class KeyOf>
    [[nodiscard]] std::vector<key_progress> progress(KeyOf key_of) const {
        std::lock_guard l{mutex_};
        std::map<std::string, key_progress> by_key;
        for (auto const& [id, as] : assignments_) {
            std::string key = key_of(as.init);
            auto& row = by_key[key];
            row.key = key;
            row.done += as.completed;
            row.total += as.units.size();
        }
        std::vector<key_progress> out;
        out.reserve(by_key.size());
        for (auto& [key, row] : by_key) out.push_back(std::move(row));
        return out;
    }

    /// Every worker who registered in this run, by name: units held and done here, and the dispatcher's
    /// view (joined, units reserved in its queue).
    [[nodiscard]] std::vector<worker_progress> workers() const {
        std::lock_guard l{mutex_};
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
        std::ranges::sort(out, {}, &worker_progress::name);
        return out;
    }

    /// Items that cannot reach their unit count with the workers present (the dispatcher's `starved()`),
    /// each with its assignment and `describe(initialization_data const&)` of its item.
    template <class Describe>
    [[nodiscard]] auto starved(Describe describe) const {
        std::lock_guard l{mutex_};
        std::vector<std::pair<assignment_id, std::invoke_result_t<Describe&, initialization_data const&>>> out;
        for (auto key : dispatcher_.starved()) {
            assignment_id a{static_cast<std::int64_t>(key.value())};
            if (auto it = assignments_.find(a); it != assignments_.end()) out.emplace_back(a, describe(it->second.init));
        }
        return out;
    }

    /// Runs `f(store, provider, dispatcher)` under the pipeline's lock: how a review page or a dashboard on
    /// another thread reads and writes without racing the worker pool. Unit changes made here are not
    /// counted by `summary` until `recount()`; review decisions go through `decide`, which counts them.
    template <class F>
    decltype(auto) locked(F&& f) {
        std::lock_guard l{mutex_};
        return std::forward<F>(f)(db_, provider_, std::as_const(dispatcher_));
    }

    blueprint_t& blueprint_ref() noexcept { return blueprint_; }
    architect_t& architect_ref() noexcept { return architect_; }
    provider_t& provider_ref() noexcept { return provider_; }
    dispatcher_t& dispatcher_ref() noexcept { return dispatcher_; }
    Store& store_ref() noexcept { return db_; }

private:
    using tasks_range = decltype(std::declval<blueprint_t&>().initialization_data());

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
        std::optional<std::size_t> task_units;      ///< units held or done across every run of the task
        std::size_t gold_served = 0;
        mixins::accuracy_tally gold;
        std::string name{};  ///< as the provider said at registration (for `agent_details`)
        std::optional<std::uint64_t> link{};  ///< the link of the latest registration (`revocable_identity`)
    };
    /// An onboarding attempt in progress.
    struct onboarding_session {
        worker_id worker;
        std::string token;
        std::optional<std::uint64_t> link{};
    };
    static constexpr bool has_onboarding = has_mixin_v<mixins::onboarding_tag, blueprint_t>;
    static constexpr bool has_screening = has_mixin_v<mixins::screening_tag, blueprint_t>;
    static constexpr bool has_gold = has_mixin_v<mixins::gold_units_tag, blueprint_t>;
    static constexpr bool revocable = revocable_identity<provider_t>;

    // --- launch ------------------------------------------------------------------------------------

    void validate_blueprint() {
        if constexpr (requires { blueprint_.args(); }) blueprint_.validate(blueprint_.args());
    }

    void check_dispatcher_lease() {
        auto const lease = dispatcher_.settings().lease;
        auto const want = std::chrono::seconds(args_.assignment_duration_in_seconds);
        if (std::chrono::duration_cast<std::chrono::seconds>(lease) != want)
            throw config_error("assignment_duration_in_seconds: " + std::to_string(args_.assignment_duration_in_seconds) +
                               " s, but the dispatcher's options.lease is " +
                               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(lease).count()) +
                               " s; make them equal so the store and the dispatcher expire a unit together");
    }

    requester_id find_or_create_requester() {
        std::string name = std::string(provider_t::provider_type) + "-requester";
        auto found = db_.find_requesters({.name = name});
        auto id = found.empty() ? db_.new_requester(name, provider_t::provider_type) : found.front().id;
        if (!provider_.is_registered(id)) provider_.register_requester(id);
        return id;
    }

    bool under_cap() const {
        return args_.max_num_concurrent_units == 0 ||
               live_units_ < static_cast<std::size_t>(args_.max_num_concurrent_units);
    }

    /// Up to this many assignments are written in one transaction: one commit instead of two per assignment
    /// (launching 20,000 units is 5× faster), while a batch holds the write lock only briefly.
    static constexpr std::size_t launch_batch = 256;

    /// Pulls items from the blueprint's range while under the cap; each becomes an assignment whose unit
    /// count the dispatcher's router decides. The provider hears of the units once they are committed. If a
    /// batch fails (the database refuses it, or an item does not fit its units), the database is unchanged
    /// but this pipeline's memory is not: it stops serving and rethrows; a new pipeline resumes the run.
    void launch_units(time_point now) {
        if (!active_run_) return;  // wound down (finished, shut down, or a failed batch): nothing more is written
        std::vector<unit_id> launched;
        try {
            while (under_cap() && next_task_ != std::ranges::end(tasks_)) {
                std::vector<assignment_id> made;
                db_.transaction([&] {
                    for (std::size_t n = 0; n < launch_batch && under_cap() && next_task_ != std::ranges::end(tasks_); ++n) {
                        initialization_data init = *next_task_;
                        ++next_task_;
                        ++pulled_;
                        made.push_back(db_.new_assignment(*run_));
                        for (auto u : fill_assignment(made.back(), std::move(init), now)) launched.push_back(u);
                    }
                });
                if (group_key_)
                    for (auto a : made) assignments_.at(a).group = group_key_(assignments_.at(a).init);
                // committed: now it counts
                counts_.assignments_launched(made | std::views::transform([&](assignment_id a) -> assignment_state const& {
                                                 return assignments_.at(a);
                                             }));
            }
        } catch (...) {
            if (active_run_) wind_down();
            throw;
        }
        for (auto u : launched) provider_.launch(u, url_);
        if (next_task_ == std::ranges::end(tasks_)) exhausted_ = true;
    }

    /// Routes an assignment and creates its units (launched), inside the caller's transaction.
    std::vector<unit_id> fill_assignment(assignment_id a, initialization_data init, time_point now) {
        routing::item_key key{static_cast<std::uint64_t>(a.value())};
        dispatcher_.add(key, item_type(init), now);
        auto const count = dispatcher_.units_of(key).size();
        if (!init.unit_data.empty() && init.unit_data.size() != 1 && init.unit_data.size() != count)
            throw config_error("blueprint item " + std::to_string(pulled_) + ": " + std::to_string(init.unit_data.size()) +
                               " unit_data entries, but the router asked for " + std::to_string(count) + " units");
        std::vector<unit_id> units;
        for (std::size_t i = 0; i < count; ++i) {
            auto u = db_.new_unit(a, static_cast<int>(i), args_.task_reward);
            db_.update_unit(u, unit_status::launched);
            units.push_back(u);
        }
        live_units_ += count;
        ++unfinished_;
        assignments_.emplace(a, assignment_state{std::move(init), units, 0});
        return units;
    }

    // --- the worker pool ---------------------------------------------------------------------------

    packet refuse(refusal why, std::string message) {
        return packet{"no_work", std::nullopt, {{"reason", std::string(to_string(why))}, {"message", std::move(message)}}};
    }

    worker_id find_or_create_worker(std::string const& name) {
        if (auto it = worker_ids_.find(name); it != worker_ids_.end()) return it->second;
        auto found = db_.find_workers({.name = name});
        auto id = found.empty() ? db_.new_worker(name, provider_t::provider_type) : found.front().id;
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

    packet register_worker(nlohmann::json const& registration, time_point now) {
        if (!active_run_) return refuse(refusal::run_not_active, "the run is not accepting work");
        auto const name = provider_.worker_name(registration);
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

        // The dispatcher's grant is a preference; the store's claim decides. A claim lost to another
        // process (the unit is no longer launched) moves on to the next grant.
        for (int attempt = 0; attempt < 16; ++attempt) {
            auto grants = dispatcher_.next(w, 1, now);
            if (grants.empty()) break;
            auto const& g = grants.front();
            assignment_id a{static_cast<std::int64_t>(g.item.value())};
            auto& as = assignments_.at(a);
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
            auto const data_index = as.init.unit_data.size() <= 1 ? std::size_t{0} : std::size_t{g.unit_index};
            nlohmann::json unit_data = as.init.unit_data.empty() ? as.init.shared : unit_data_for(as.init, data_index);
            if (state.task_units) ++*state.task_units;
            return hand_over(agent, live_agent{w, u, a, g.unit_index, {}, g.lease_until, unit_data}, state);
        }
        return refuse(refusal::no_available_units, "no unit " + name + " may take now");
    }

    /// The live agent a packet names, if its token is right and the invite link it was handed out through
    /// still stands; otherwise the error to send back. A dead link is found here at the latest: the units
    /// held through dead links go back to the pool (as at `tick`), and the request changes nothing else.
    std::variant<typename std::unordered_map<agent_id, live_agent>::iterator, packet> authorise(packet const& p,
                                                                                               time_point now) {
        if (!p.agent) return packet::error("bad_request", "packet \"" + p.type + "\" names no agent");
        auto token = p.data.is_object() && p.data.contains("token") && p.data["token"].is_string()
                         ? p.data["token"].template get<std::string>()
                         : std::string{};
        auto it = active_.find(*p.agent);
        if (it == active_.end()) {
            if (auto r = revoked_agents_.find(*p.agent); r != revoked_agents_.end() && crowdline::same_token(token, r->second))
                return revoked_reply(*p.agent);
            return packet::error("unknown_agent", detail::describe(*p.agent) + " has no unit in progress");
        }
        if (!crowdline::same_token(token, it->second.token))
            return packet::error("not_your_unit", detail::describe(*p.agent) + ": the token does not match");
        if (!link_live(it->second.link)) {
            release_dead_links(now);
            return revoked_reply(*p.agent);
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

    /// A submit naming an agent that is no longer live here, whose submission the store holds with a
    /// receipt: the receipt answers it (`detail::answer_resend`) and nothing is written. No receipt (or an
    /// agent of another task): nullopt, and the submit goes on as before.
    std::optional<packet> resent_submission(agent_id id, nlohmann::json const& data, std::string const& key) {
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

    packet submit(packet const& p, time_point now) {
        auto const key = detail::submission_key(p.data);
        if (key && p.agent && !active_.contains(*p.agent))
            if (auto again = resent_submission(*p.agent, p.data, *key)) return *again;
        auto who = authorise(p, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        auto it = std::get<0>(who);
        auto& live = it->second;
        if (!p.data.contains("submission")) return packet::error("bad_request", "submit: no \"submission\"");
        auto const& submission = p.data["submission"];
        if (submission.dump().size() > max_submission_bytes_)
            return packet::error("too_large", "submission larger than " + std::to_string(max_submission_bytes_) + " bytes");
        auto check = check_submission(it->first, live.unit_data, submission);
        if (!check.ok()) return packet{"submit_refused", p.agent, check.to_json()};
        nlohmann::json state{{"inputs", live.unit_data}, {"outputs", submission}, {"updates", updates_of(it->first)}};
        nlohmann::json const reply{{"unit_id", live.unit.value()}, {"done", counts_.of(live.worker).done + 1}};
        // Saved with the answer, so a resend with this key is acknowledged even after a restart.
        if (key) state[detail::receipt_field] = detail::make_receipt(*key, live.token, reply);
        auto const grants = mixin_grants(live, submission);
        // Durable before acknowledged: status, data and any qualification it earns in one transaction.
        db_.transaction([&] {
            db_.update_agent(it->first, agent_status::completed, state);
            db_.update_unit(live.unit, unit_status::completed);
            for (auto const& g : grants) grant(live.worker, g);
        });
        counts_.unit_completed(live.worker, live.kind == unit_kind::work ? &assignments_.at(live.assignment).group : nullptr);
        if (live.kind == unit_kind::work)
            dispatcher_.complete(live.worker, routing::item_key{static_cast<std::uint64_t>(live.assignment.value())}, now);
        provider_.mark_done(it->first);
        finish_unit(it);
        last_submission_ = now;
        // The finished unit made room under max_num_concurrent_units: fill it now, not at the next tick. The
        // submission is saved whatever happens here, so a failed refill stops the run but not the ack.
        try {
            launch_units(now);
        } catch (std::exception const& e) {
            failure_ = e.what();
        }
        finish_if_done();
        return packet{"submitted", p.agent, reply};
    }

    /// A reloaded page asks again for the unit its agent holds: the same details (and token), nothing new
    /// claimed, so a reload neither loses nor duplicates work.
    packet init(packet const& p, time_point now) {
        auto who = authorise(p, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        auto const& live = std::get<0>(who)->second;
        return packet{"agent_details", p.agent, details_of(*p.agent, live)};
    }

    packet heartbeat(packet const& p, time_point now) {
        auto who = authorise(p, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        dispatcher_.heartbeat(std::get<0>(who)->second.worker, now);
        return packet{"ok", p.agent, nlohmann::json::object()};
    }

    packet release(packet const& p, time_point now) {
        auto who = authorise(p, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        return_unit(std::get<0>(who), agent_status::returned, now);
        return packet{"released", p.agent, nlohmann::json::object()};
    }

    /// One call from an interactive page. The blueprint answers it (knowing the calls so far, when it
    /// asks for them); only an answered call is recorded, and the record is saved with the agent's state.
    packet live_update(packet const& p, time_point now) {
        auto who = authorise(p, now);
        if (auto* err = std::get_if<packet>(&who)) return *err;
        auto const& unit_data = std::get<0>(who)->second.unit_data;
        if (!p.data.contains("update")) return packet::error("bad_request", "live_update: no \"update\"");
        auto const& update = p.data["update"];
        if (update.dump().size() > max_submission_bytes_)
            return packet::error("too_large", "update larger than " + std::to_string(max_submission_bytes_) + " bytes");
        auto& history = updates_[*p.agent];
        if (history.size() >= max_live_updates_)
            return packet::error("too_large", "live_update: at most " + std::to_string(max_live_updates_) +
                                                  " live updates per unit");
        nlohmann::json reply;
        if constexpr (requires { blueprint_.on_live_update(unit_data, update, std::span<const nlohmann::json>{}); }) {
            reply = blueprint_.on_live_update(unit_data, update, std::span<const nlohmann::json>{history});
            history.push_back(reply);
        } else if constexpr (requires { blueprint_.on_live_update(unit_data, update); }) {
            reply = blueprint_.on_live_update(unit_data, update);
            history.push_back({{"update", update}, {"response", reply}});
        } else {
            return packet::error("unsupported", std::string("live_update: a \"") + std::string(blueprint_t::blueprint_type) +
                                                    "\" task takes no live updates");
        }
        return packet{"live_update", p.agent, reply};
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

    using live_iterator = typename std::unordered_map<agent_id, live_agent>::iterator;

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
            dispatcher_.release(live.worker, routing::item_key{static_cast<std::uint64_t>(live.assignment.value())}, now);
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
        if (it->second.kind == unit_kind::work) {
            auto& as = assignments_.at(it->second.assignment);
            if (++as.completed == as.units.size()) --unfinished_;
            if (live_units_ > 0) --live_units_;
        }
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
        auto g = db_.find_granted_qualifications({.worker = w, .qualification = found.front().id});
        if (g.empty()) return std::nullopt;
        return g.front().value;
    }

    /// What a finished screening or gold unit earns the worker.
    std::vector<mixins::qualification_grant> mixin_grants(live_agent const& live, nlohmann::json const& submission) {
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
                tally.record(m.score(m.pick(live.gold_index), submission));
                return m.grants_for(tally);
            }
        }
        (void)live;
        (void)submission;
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

    packet submit_onboarding(packet const& p, time_point now) {
        if constexpr (has_onboarding) {
            auto const& m = blueprint_.template mixin<mixins::onboarding_tag>();
            if (!p.data.contains("onboarding_agent_id") || !p.data["onboarding_agent_id"].is_number_integer())
                return packet::error("bad_request", "submit_onboarding: no onboarding_agent_id");
            onboarding_agent_id oa{p.data["onboarding_agent_id"].template get<std::int64_t>()};
            auto it = onboarding_.find(oa);
            if (it == onboarding_.end())
                return packet::error("unknown_agent", detail::describe(oa) + " has no onboarding in progress");
            auto token = p.data.contains("token") && p.data["token"].is_string() ? p.data["token"].template get<std::string>()
                                                                                 : std::string{};
            if (!crowdline::same_token(token, it->second.token))
                return packet::error("not_your_unit", detail::describe(oa) + ": the token does not match");
            if (!link_live(it->second.link)) {
                release_dead_links(now);
                return packet::error("revoked", "this invite link was revoked or replaced: " + detail::describe(oa) +
                                                    " is closed; ask the campaign owner for a new link");
            }
            if (!p.data.contains("answer")) return packet::error("bad_request", "submit_onboarding: no \"answer\"");
            auto const& answer = p.data["answer"];
            if (answer.dump().size() > max_submission_bytes_)
                return packet::error("too_large", "answer larger than " + std::to_string(max_submission_bytes_) + " bytes");
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
            (void)p;
            (void)now;
            return packet::error("unknown_packet", "this task has no onboarding");
        }
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
            return nlohmann::json{
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
        auto const& init = assignments_.at(live.assignment).init;
        return build(init, init.unit_data.size() <= 1 ? std::size_t{0} : std::size_t{live.unit_index});
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

    // --- the end of a run --------------------------------------------------------------------------

    void finish_if_done() {
        if (!exhausted_ || !active_.empty() || unfinished_ != 0) return;
        db_.update_task_run(*run_, true);
        complete_ = true;
        wind_down();
    }

    void shut_down_run(time_point now, bool expire_units) {
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
            if (live.kind == unit_kind::work)
                dispatcher_.release(live.worker, routing::item_key{static_cast<std::uint64_t>(live.assignment.value())}, now);
            release_hold(it);
        }
        if (expire_units) {
            std::vector<unit_status> expired;
            db_.transaction([&] {
                for (auto const& u : db_.find_units({.task_run = *run_}))
                    if (u.status == unit_status::created || u.status == unit_status::launched) {
                        db_.update_unit(u.id, unit_status::expired);
                        provider_.expire(u.id);
                        expired.push_back(u.status);
                    }
            });
            counts_.units_expired(expired);
            db_.update_task_run(*run_, true);
        }
        wind_down();
    }

    void wind_down() {
        active_run_ = false;
        provider_.cleanup_resources(*run_);
        architect_.shutdown();
    }

    // --- resume ------------------------------------------------------------------------------------

    /// Continues an incomplete run: units that were handed out when the last process stopped go back to
    /// the pool (their agents expire: nothing submitted is lost, since a submission is saved before it is
    /// acknowledged), expired units are launched again, completed units stay done (nobody gets them again,
    /// and whoever did one gets no other unit of that assignment), and the blueprint's range is skipped
    /// past the items that already became assignments. Every item is pulled before anything is written,
    /// so a blueprint too short for the run fails with the database untouched.
    /// Returns the units open again, for the provider to launch once it is set up.
    std::vector<unit_id> resume(time_point now) {
        // A mixin's screening or gold unit has an assignment of its own (unit_index < 0) and no blueprint
        // item: those are closed, and only routed work pairs with the blueprint's items, in order.
        struct found {
            assignment a;
            std::vector<unit> units;
        };
        std::vector<found> work, extra;
        for (auto& a : db_.find_assignments({.task_run = *run_})) {
            auto units = db_.find_units({.assignment = a.id});
            bool const is_extra = !units.empty() && std::ranges::all_of(units, [](unit const& u) { return u.unit_index < 0; });
            (is_extra ? extra : work).push_back(found{std::move(a), std::move(units)});
        }
        std::vector<initialization_data> inits;
        inits.reserve(work.size());
        for (; inits.size() < work.size(); ++next_task_, ++pulled_) {
            if (next_task_ == std::ranges::end(tasks_))
                throw error("crowdline::pipeline: resuming task run " + std::to_string(run_->value()) +
                            ": the blueprint yields " + std::to_string(inits.size()) + " items, fewer items than the run's " +
                            std::to_string(work.size()) + " assignments");
            inits.push_back(*next_task_);
        }
        db_.transaction([&] {
            for (auto const& f : extra)
                for (auto const& u : f.units) {
                    if (u.status == unit_status::assigned && u.agent) db_.update_agent(*u.agent, agent_status::expired);
                    if (unit_statuses::incomplete().contains(u.status)) db_.update_unit(u.id, unit_status::expired);
                }
        });
        std::vector<unit_id> reopened;
        for (std::size_t i = 0; i < work.size(); ++i) {
            auto const& a = work[i].a;
            auto const& units = work[i].units;
            if (units.empty()) {  // stopped between creating the assignment and its units: route it now
                db_.transaction([&] {
                    for (auto u : fill_assignment(a.id, std::move(inits[i]), now)) reopened.push_back(u);
                });
                continue;
            }
            std::vector<unit_id> ids(units.size());
            std::vector<std::pair<std::uint32_t, worker_id>> done;
            std::size_t completed = 0;
            db_.transaction([&] {
                for (auto const& u : units) {
                    if (u.unit_index < 0 || static_cast<std::size_t>(u.unit_index) >= ids.size())
                        throw error("crowdline::pipeline: resuming: " + detail::describe(u.id) + " has unit_index " +
                                    std::to_string(u.unit_index) + " in an assignment of " + std::to_string(ids.size()) +
                                    " units");
                    ids[static_cast<std::size_t>(u.unit_index)] = u.id;
                    if (u.status == unit_status::assigned) {
                        if (u.agent) db_.update_agent(*u.agent, agent_status::expired);
                        db_.clear_unit_agent_assignment(u.id);
                        reopened.push_back(u.id);
                    } else if (u.status == unit_status::created || u.status == unit_status::expired) {
                        if (u.status == unit_status::expired) db_.update_unit(u.id, unit_status::created);
                        db_.update_unit(u.id, unit_status::launched);
                        reopened.push_back(u.id);
                    } else if (u.status == unit_status::launched) {
                        reopened.push_back(u.id);
                    } else if (complete(u.status)) {
                        ++completed;
                        if (u.worker) done.emplace_back(static_cast<std::uint32_t>(u.unit_index), *u.worker);
                    }
                }
            });
            // Who gave a unit of it back (returned, disconnected, timed out) does not get it again, as before.
            std::vector<worker_id> returned;
            for (auto const& ag : db_.find_agents({.assignment = a.id}))
                if (ag.status == agent_status::returned || ag.status == agent_status::disconnect ||
                    ag.status == agent_status::timeout)
                    returned.push_back(ag.worker);
            routing::item_key key{static_cast<std::uint64_t>(a.id.value())};
            if constexpr (requires {
                              dispatcher_.restore(key, item_type(inits[i]), std::uint32_t{}, done, returned, now);
                          })
                dispatcher_.restore(key, item_type(inits[i]), static_cast<std::uint32_t>(ids.size()), done, returned, now);
            else
                throw error("crowdline::pipeline: this dispatcher cannot restore items, so the run cannot be resumed");
            live_units_ += ids.size() - completed;
            if (completed < ids.size()) ++unfinished_;
            assignments_.emplace(a.id, assignment_state{std::move(inits[i]), std::move(ids), completed});
        }
        return reopened;
    }

    struct assignment_state {
        initialization_data init;
        std::vector<unit_id> units;  ///< by unit index
        std::size_t completed = 0;
        std::string group{};  ///< `group_key_` of init
    };

    // --- the dashboard's counts --------------------------------------------------------------------

    /// The full count: units, assignments and agents from the store, groups from the assignments.
    void recount_locked() {
        auto fresh = tally_run(db_, *run_);
        if (group_key_)
            for (auto& [id, as] : assignments_) as.group = group_key_(as.init);
        counts_.recount(std::move(fresh), assignments_ | std::views::values);
    }

    /// A resumed run's workers, as `workers()` shows them: who finished units of the run (and how many).
    void restore_worker_counts() {
        for (auto w : counts_.restore_done(db_, *run_)) {
            auto& state = workers_[w];
            if (state.name.empty()) state.name = db_.get_worker(w).name;
            worker_ids_.emplace(state.name, w);
        }
    }

    Blueprint blueprint_;
    Architect architect_;
    Provider provider_;
    Dispatcher dispatcher_;
    Store& db_;
    task_run_args args_;
    std::vector<qualification_requirement> requirements_;
    tasks_range tasks_;
    std::ranges::iterator_t<tasks_range> next_task_;

    mutable std::recursive_mutex mutex_;
    /// The dashboard's counts, under a mutex of their own, so `summary()` and `progress()` never wait for
    /// a store write.
    detail::run_counts counts_;
    std::function<std::string(initialization_data const&)> group_key_;
    std::function<time_point()> clock_ = [] { return clock::now(); };
    std::size_t max_submission_bytes_ = 1 << 20;
    std::size_t max_live_updates_ = 1000;
    std::optional<task_id> task_;
    std::optional<task_run_id> run_;
    std::optional<task_run_id> reopen_;  ///< a completed run `launch()` shows instead of starting one
    requester_id requester_;
    std::string url_;
    bool active_run_ = false;
    bool exhausted_ = false;
    bool complete_ = false;
    std::optional<std::string> failure_;
    std::size_t pulled_ = 0;
    std::size_t live_units_ = 0;
    std::size_t unfinished_ = 0;  ///< assignments with a unit not completed yet
    time_point last_submission_{};
    std::unordered_map<assignment_id, assignment_state> assignments_;
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

/// An lvalue argument is referenced, an rvalue one is owned.
template <class B, class A, class P, class D, class S>
pipeline(B&&, A&&, P&&, D&&, S&, task_run_args) -> pipeline<B, A, P, D, S>;
template <class B, class A, class P, class D, class S>
pipeline(B&&, A&&, P&&, D&&, S&, task_run_args, std::vector<qualification_requirement>) -> pipeline<B, A, P, D, S>;

/// `launch(pipeline)` (ARCHITECTURE §7): the same as `p.launch()`.
template <class B, class A, class P, class D, class S>
task_run_id launch(pipeline<B, A, P, D, S>& p) {
    return p.launch();
}

}  // namespace crowdline
