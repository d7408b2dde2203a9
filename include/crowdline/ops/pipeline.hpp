#pragma once
/// `crowdline::pipeline`: the statically typed task run. It joins a blueprint (what the work is), an
/// architect (how workers reach it), a provider (who they are, how they are paid), a dispatcher (who gets
/// which unit) and a store (where everything is kept), and runs Mephisto's operations on them through
/// named parts, data flowing one way — packet → protocol → worker pool → dispatcher / store → reply:
///
///  - `task_launcher` (ops/task_launcher.hpp): assignments made lazily from the blueprint's range, never
///    more than `max_num_concurrent_units` units live at once; resume;
///  - `protocol::dispatch` (ops/protocol.hpp): a packet's type → its typed request → the pool's handler;
///  - `worker_pool` (ops/worker_pool.hpp): registration, the gates, the claim, submission, expiry;
///  - this class: the run's life (launch, tick, shutdown, finish), its lock, its dashboards, and the
///    blocks recorded in the store replayed onto the provider at launch, so a restarted program keeps them.
///
/// Launching on a database that holds an incomplete run of the same task continues it.
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
#include <string_view>
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
#include <crowdline/fwd.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/ops/dashboard.hpp>
#include <crowdline/ops/detail/run_counts.hpp>
#include <crowdline/ops/detail/submission_receipt.hpp>
#include <crowdline/ops/qualifications.hpp>
#include <crowdline/ops/protocol.hpp>
#include <crowdline/ops/review.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/ops/worker_pool.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/quality/running_alpha.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/store/detail/messages.hpp>
#include <crowdline/store/store.hpp>
#include <crowdline/store/summary.hpp>

namespace crowdline {

/// A run's lock as an operator holds it while it answers a group over several runs in one transaction.
using run_lock = std::unique_lock<std::recursive_mutex>;

namespace detail {
/// `construct_item<Item>` for a dispatcher with an `item_type`; void for anything else (refused by name).
template <class D>
struct default_item_of {
    using type = void;
};
template <class D>
    requires requires { typename D::item_type; }
struct default_item_of<D> {
    using type = construct_item<typename D::item_type>;
};
}  // namespace detail

/// Each of the first four arguments is held by reference when passed as an lvalue (it stays yours: a test
/// keeps using its in-process architect as the client) and owned when passed as an rvalue. `ItemOf` makes
/// the dispatcher's item from a blueprint's item (default: `Item(initialization_data const&)`).
/// (That default, `detail::default_item_of<Dispatcher>::type`, is given in fwd.hpp.)
template <class Blueprint, class Architect, class Provider, class Dispatcher, class Store, class ItemOf>
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
        if constexpr (std::is_same_v<ItemOf, construct_item<typename dispatcher_t::item_type>>)
            static_assert(std::is_constructible_v<typename dispatcher_t::item_type, initialization_data const&>,
                          "crowdline::pipeline: argument 4 (dispatcher): its Item must be constructible from "
                          "crowdline::initialization_data, or pass an item_of projection (argument 8)");
        else
            static_assert(std::is_invocable_r_v<typename dispatcher_t::item_type, ItemOf const&, initialization_data const&>,
                          "crowdline::pipeline: argument 8 (item_of) must be callable as item_of(initialization_data "
                          "const&) and return the dispatcher's item_type");
        detail::check_store<Store>();
        static_assert(store<Store>, "crowdline::pipeline: argument 5 (store) must model crowdline::store");
        return true;
    }();

    using launcher_type = task_launcher<blueprint_t, dispatcher_t, Store, ItemOf>;
    using pool_type = worker_pool<blueprint_t, provider_t, dispatcher_t, Store, launcher_type>;

public:
    using item_type = typename dispatcher_t::item_type;
    using profile_type = typename dispatcher_t::profile_type;

    pipeline(Blueprint&& bp, Architect&& arch, Provider&& prov, Dispatcher&& disp, Store& db, task_run_args args,
             std::vector<qualification_requirement> requirements = {}, ItemOf item_of = {})
        : blueprint_(std::forward<Blueprint>(bp)),
          architect_(std::forward<Architect>(arch)),
          provider_(std::forward<Provider>(prov)),
          dispatcher_(std::forward<Dispatcher>(disp)),
          db_(db),
          args_(std::move(args)),
          requirements_(std::move(requirements)),
          launcher_(blueprint_, dispatcher_, db_, counts_, std::move(item_of)),
          pool_(blueprint_, provider_, dispatcher_, db_, launcher_, counts_, args_, requirements_) {
        static_assert(checked);
    }

    pipeline(pipeline const&) = delete;
    pipeline& operator=(pipeline const&) = delete;
    /// The architect (perhaps the caller's, which outlives this) forgets this run's handler.
    ~pipeline() {
        if (!run_ || !owns_architect_) return;
        try {
            architect_.channel().on_message(nullptr);
        } catch (...) {  // a destructor: nothing to report to
        }
    }

    /// Where time comes from: a plain function or an object `c() -> time_point` kept by reference (tests
    /// pass a manual clock). See `clock_ref`.
    void set_clock(clock_ref source) { clock_ = source; }
    /// Largest submission accepted, in bytes of its JSON text.
    void set_max_submission_bytes(std::size_t n) { pool_.limits.max_submission_bytes = n; }
    /// Most live updates kept per unit (each at most max_submission_bytes): a page cannot grow memory without end.
    void set_max_live_updates(std::size_t n) { pool_.limits.max_live_updates = n; }

    /// Makes `launch()` show this completed run of the task again instead of starting a new one: the review
    /// page and dashboards work as at its end, and a worker who registers is told the run is not active.
    void reopen_completed(task_run_id run) { std::lock_guard l{mutex_}; reopen_ = run; }

    /// Validates the configuration, creates (or finds, to resume) the task and run rows, prepares and
    /// deploys the architect, sets up the provider, and launches the first units.
    task_run_id launch() { return start_run(std::nullopt); }

    /// Launches the run on an architect someone else deployed at `url` and routes packets from (an
    /// `operator_`): as `launch()`, but the architect is neither prepared, deployed nor given handlers, and
    /// the run's end leaves it serving the others.
    task_run_id start(std::string url) { return start_run(std::move(url)); }

private:
    /// One packet, under the lock: the pool answers it, and finished units make room for more.
    packet handle_locked(packet const& p) {
        auto const now = clock_();
        auto reply = protocol::dispatch(pool_, p, now);
        offer(pool_.take_grown());  // added for a late worker (full overlap)
        if (pool_.take_finished() > 0) after_submissions(now);
        return reply;
    }

    task_run_id start_run(std::optional<std::string> given_url) {
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
            launcher_.start(*run_, args_);
            (void)launcher_.resume(now);  // its units are all done: this only rebuilds what the dashboards show
        } else if (!open_runs.empty()) {
            run_ = open_runs.back().id;
            launcher_.start(*run_, args_);
            reopened = launcher_.resume(now);
        } else {
            run_ = db_.new_task_run(*task_, requester_, config::dump(args_), provider_t::provider_type,
                                    blueprint_t::blueprint_type, true);
            launcher_.start(*run_, args_);
        }
        owns_architect_ = !given_url;
        if (owns_architect_) {
            architect_.prepare();
            url_ = architect_.deploy();
        } else {
            url_ = std::move(*given_url);
        }
        provider_.setup_resources(*run_, url_);
        offer(reopened);  // a resumed run's open units, at the new address
        if (owns_architect_) architect_.channel().on_message(*this);
        active_run_ = true;
        pool_.open(*task_, *run_, now);
        pool_.restore_worker_counts();
        recount_locked();  // the one full count: from here on every change is counted as it is made
        if (reopen_) {  // shown again, finished: nothing is launched, a worker hears run_not_active
            active_run_ = false;
            pool_.close();
            complete_ = true;
            return *run_;
        }
        if (!launch_budget_) {
            launch_units(now);
        } else {  // the first batches now, the rest tick by tick while workers are already served
            auto const until = std::chrono::steady_clock::now() + launch_budget_->at_start;
            do launch_units(now, 1);
            while (may_launch() && std::chrono::steady_clock::now() < until);
        }
        return *run_;
    }

public:
    /// Launching a little at a time: `launch()` launches batches (`task_launcher::launch_batch`
    /// assignments each) for at most `at_start`, then returns (the run serves workers from then on), and
    /// each `tick()` launches more for at most `per_tick`, taking the run's lock for one batch at a time,
    /// so packets are answered between batches. A submission that makes room launches one batch at most.
    /// Without a budget (the default) `launch()` launches everything the cap allows before it returns.
    /// Mephisto's TaskLauncher launches units from a thread of its own for the same reason: a run of a
    /// million tasks can take half a minute to write.
    struct launch_budget {
        std::chrono::milliseconds at_start{1000};
        std::chrono::milliseconds per_tick{100};
    };
    void set_launch_budget(std::optional<launch_budget> budget) {
        std::lock_guard l{mutex_};
        launch_budget_ = budget;
    }
    /// True while the run has items it may launch now (some not pulled yet, room under the cap): with a
    /// launch budget, the caller ticks again soon.
    [[nodiscard]] bool launching() {
        std::lock_guard l{mutex_};
        return active_run_ && may_launch();
    }

    /// Periodic work: launch more units, reclaim expired leases, shut a dead run down, finish a done one.
    void tick() { tick(clock_()); }
    /// The same, at `now` (an operator drives its runs with one time).
    void tick(time_point now) {
        std::optional<launch_budget> budget;
        {
            std::lock_guard l{mutex_};
            if (!active_run_) return;
            pool_.release_dead_links(now);
            pool_.expire_leases(now);
            if (now - pool_.last_submission() > std::chrono::seconds(args_.no_submission_patience)) {
                shut_down_run(now, /*expire_units=*/true);
                return;
            }
            budget = launch_budget_;
            if (!budget) {
                launch_units(now);
                finish_if_done();
                return;
            }
        }
        // One batch per lock: packets that arrive meanwhile are answered between batches.
        auto const until = std::chrono::steady_clock::now() + budget->per_tick;
        for (;;) {
            std::lock_guard l{mutex_};
            if (!active_run_) return;
            if (!may_launch()) {
                finish_if_done();
                return;
            }
            launch_units(now, 1);
            if (std::chrono::steady_clock::now() >= until) return;
        }
    }

    /// One packet from a worker's page; the reply goes back to it.
    packet handle(packet const& p) {
        std::lock_guard l{mutex_};
        return handle_locked(p);
    }

    /// Packets that arrived together (an architect's group, see `group_packet_handler`): `replies[i]`
    /// answers `requests[i]`, all handled in one store transaction, so they cost one commit, and the
    /// architect answers none of them before it. A request that fails alone gets its error reply, as from
    /// `handle`. If the commit fails, none of them was saved while memory (leases, the dispatcher) moved on:
    /// the run stops, `failure()` says why, and this throws (a new pipeline on the same store resumes from
    /// what was saved).
    void handle_group(std::span<packet const> requests, std::span<packet> replies) {
        if (replies.size() < requests.size())
            throw invalid_argument("crowdline::pipeline::handle_group: fewer replies than requests");
        auto held = lock_for_group();
        try {
            db_.transaction([&] {
                for (std::size_t i = 0; i < requests.size(); ++i) replies[i] = handle_in_group(held, requests[i]);
            });
        } catch (std::exception const& e) {
            group_not_saved(held, e.what());
            throw;
        }
    }

    // --- one store transaction over several runs (an operator's group) ---------------------------------
    // An operator answers a group naming several runs in one commit: it takes each run's lock with
    // `lock_for_group()` (runs always in the same order, then the store's transaction), answers with
    // `handle_in_group`, and if the commit fails tells each run with `group_not_saved`. The lock is passed
    // back to the other two so they cannot be called without it.

    /// This run's lock, held for a group.
    [[nodiscard]] run_lock lock_for_group() { return run_lock{mutex_}; }
    /// One packet of a group, inside the caller's store transaction. Never throws: a request that fails
    /// alone gets its error reply.
    packet handle_in_group(run_lock const& held, packet const& p) {
        require_held(held, "handle_in_group");
        try {
            return handle_locked(p);
        } catch (...) {
            return crowdline::detail::error_reply_for_current_exception();
        }
    }
    /// The group's commit failed: nothing of it was saved while memory moved on, so the run stops and
    /// `failure()` says why.
    void group_not_saved(run_lock const& held, std::string_view why) {
        require_held(held, "group_not_saved");
        failure_ = "a group of requests could not be saved, so the run stopped: " + std::string(why);
        if (active_run_) wind_down();
        try {
            recount_locked();  // what the group counted was rolled back
        } catch (std::exception const&) {  // the store is failing: the caller reports it
        }
    }

    /// A worker's page went away: its unit goes back to the pool, and when it holds nothing else here the
    /// dispatcher hears it left, so its reserved units may be taken over at once (it re-joins on register).
    void disconnect(agent_id id) {
        std::lock_guard l{mutex_};
        pool_.disconnect(id, clock_());
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
    /// Why this run stopped launching while it still had items (its provider refused a unit:
    /// `launch_refused`, e.g. Prolific's balance ran short), or nothing. The run keeps serving the units it
    /// has; a new pipeline (a restart, after the cause is fixed) resumes launching.
    [[nodiscard]] std::optional<std::string> launch_stopped() const { std::lock_guard l{mutex_}; return launch_stopped_; }
    [[nodiscard]] bool is_active() const { std::lock_guard l{mutex_}; return active_run_; }
    [[nodiscard]] std::optional<task_run_id> run() const { std::lock_guard l{mutex_}; return run_; }
    [[nodiscard]] std::string const& url() const noexcept { return url_; }
    /// The task this run belongs to (`task_run_args::task_name`).
    [[nodiscard]] std::string const& task_name() const noexcept { return args_.task_name; }
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
        launcher_.set_group_key(std::move(key_of));
        counts_.regroup(launcher_.assignments() | std::views::values);
    }

    /// Krippendorff's alpha per label field of the run's answers so far (`quality::field_agreement`, by
    /// field name): kept answer by answer, equal to `quality::run_report`'s figures on the same answers,
    /// O(fields) to read and without the pipeline's lock (`/metrics` prints it).
    [[nodiscard]] std::vector<quality::field_agreement> agreement() const { return counts_.agreement(); }

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
        for (auto const& [id, as] : launcher_.assignments()) {
            std::string key = key_of(as.init());
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
        auto out = pool_.workers();
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
            if (auto it = launcher_.assignments().find(a); it != launcher_.assignments().end())
                out.emplace_back(a, describe(it->second.init()));
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
    static constexpr bool has_screening = has_mixin_v<mixins::screening_tag, blueprint_t>;

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

    /// The launcher's new units, told to the provider once committed. A failed batch stops the run (the
    /// database is unchanged, this pipeline's memory is not; a new pipeline resumes) and rethrows.
    void launch_units(time_point now, std::size_t max_batches = static_cast<std::size_t>(-1)) {
        if (!active_run_ || launch_stopped_) return;  // wound down, or the provider refused: nothing more is written
        std::vector<unit_id> launched;
        try {
            launched = launcher_.launch_more(now, max_batches);
        } catch (...) {
            if (active_run_) wind_down();
            throw;
        }
        offer(launched);
    }

    /// Tells the provider about units launched in the store. A provider that refuses (`launch_refused`:
    /// the requester's money ran out) stops this run's launching: the units it has keep being served,
    /// nothing more is pulled, and `launch_stopped()` says why.
    void offer(std::span<unit_id const> units) {
        for (auto u : units) {
            try {
                provider_.launch(u, url_);
            } catch (launch_refused const& e) {
                if (!launch_stopped_) launch_stopped_ = e.what();
                return;
            }
        }
    }
    /// More items may be launched now: some left, room under the cap, and the provider has not refused.
    [[nodiscard]] bool may_launch() { return !launch_stopped_ && launcher_.can_launch_more(); }

    /// A submission made room under max_num_concurrent_units: fill it now, not at the next tick. The
    /// submission is saved whatever happens here, so a failed refill stops the run but not the ack.
    void after_submissions(time_point now) {
        try {
            launch_units(now, launch_budget_ ? 1 : static_cast<std::size_t>(-1));
        } catch (std::exception const& e) {
            failure_ = e.what();
        }
        finish_if_done();
    }

    // --- the end of a run --------------------------------------------------------------------------

    /// A run whose router adds units for workers who join later (`full_overlap{}`) is never done by its
    /// units: the next worker would find it closed. It ends by `shutdown()` or `no_submission_patience`.
    void finish_if_done() {
        if constexpr (routing::grows_for_late_workers<typename dispatcher_t::router_type>) return;
        if (!active_run_ || !launcher_.all_done() || !pool_.idle()) return;
        db_.update_task_run(*run_, true);
        complete_ = true;
        wind_down();
    }

    void shut_down_run(time_point now, bool expire_units) {
        pool_.end_all(now, expire_units);
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

    void require_held(run_lock const& held, char const* what) const {
        if (!held.owns_lock() || held.mutex() != &mutex_)
            throw invalid_argument(std::string("crowdline::pipeline::") + what + ": call it with this run's lock_for_group()");
    }
    void wind_down() {
        active_run_ = false;
        pool_.close();
        provider_.cleanup_resources(*run_);
        if (owns_architect_) architect_.shutdown();
    }

    /// The full count: units, assignments and agents from the store (one read of each), groups from the
    /// assignments, the agreement from the answers.
    void recount_locked() {
        (void)db_.get_task_run(*run_);  // unknown run → entry_does_not_exist
        auto const units = db_.find_units({.task_run = *run_});
        auto const agents = db_.find_agents({.task_run = *run_});
        auto fresh = tally_rows(*run_, db_.find_assignments({.task_run = *run_}).size(), units, agents);
        launcher_.regroup();
        counts_.recount(std::move(fresh), launcher_.assignments() | std::views::values, detail::agreement_of(units, agents));
    }

    Blueprint blueprint_;
    Architect architect_;
    Provider provider_;
    Dispatcher dispatcher_;
    Store& db_;
    task_run_args args_;
    std::vector<qualification_requirement> requirements_;

    mutable std::recursive_mutex mutex_;
    /// The dashboard's counts, under a mutex of their own, so `summary()` and `progress()` never wait for
    /// a store write.
    detail::run_counts counts_;
    launcher_type launcher_;
    pool_type pool_;
    clock_ref clock_;
    std::optional<task_id> task_;
    std::optional<task_run_id> run_;
    std::optional<launch_budget> launch_budget_;  ///< none: launch everything the cap allows at once
    std::optional<task_run_id> reopen_;  ///< a completed run `launch()` shows instead of starting one
    requester_id requester_;
    std::string url_;
    bool active_run_ = false;
    bool complete_ = false;
    bool owns_architect_ = true;  ///< launched by `launch()`, not `start(url)`: its end shuts the architect down
    std::optional<std::string> failure_;
    std::optional<std::string> launch_stopped_;  ///< the provider refused a launch: why
};

/// An lvalue argument is referenced, an rvalue one is owned.
template <class B, class A, class P, class D, class S>
pipeline(B&&, A&&, P&&, D&&, S&, task_run_args) -> pipeline<B, A, P, D, S>;
template <class B, class A, class P, class D, class S>
pipeline(B&&, A&&, P&&, D&&, S&, task_run_args, std::vector<qualification_requirement>) -> pipeline<B, A, P, D, S>;
template <class B, class A, class P, class D, class S, class I>
pipeline(B&&, A&&, P&&, D&&, S&, task_run_args, std::vector<qualification_requirement>, I) -> pipeline<B, A, P, D, S, I>;

/// `launch(pipeline)` (ARCHITECTURE §7): the same as `p.launch()`.
template <class B, class A, class P, class D, class S, class I>
task_run_id launch(pipeline<B, A, P, D, S, I>& p) {
    return p.launch();
}

}  // namespace crowdline
