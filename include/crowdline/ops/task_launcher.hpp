#pragma once
/// `crowdline::task_launcher`: Mephisto's TaskLauncher. It pulls items lazily from a blueprint's range (an
/// infinite one works), writes each as an assignment whose unit count the dispatcher's router decides, in
/// batches of one transaction, keeps at most `max_num_concurrent_units` units live, refills as units are
/// finished, and on resume skips the range past the items that already became assignments.
///
/// It knows nothing of workers or packets: the worker pool asks it for an assignment's item and tells it
/// when a routed unit is finished; the run (`crowdline::pipeline`) tells the provider about the units it
/// launched. Not thread-safe: the run's lock covers it.

#include <algorithm>
#include <concepts>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/fwd.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/ops/detail/run_counts.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/routing/types.hpp>
#include <crowdline/store/detail/messages.hpp>

namespace crowdline {

/// How a dispatcher's `Item` is made from a blueprint's item: `Item(init)`. Pass another projection to
/// `task_launcher` (or `pipeline`) when the item type has no such constructor, e.g. a routed item that
/// reads its language from `init.shared["lang"]`.
template <class Item>
struct construct_item {
    Item operator()(initialization_data const& init) const
        requires std::constructible_from<Item, initialization_data const&>
    {
        return Item(init);
    }
};

/// The routing key of an assignment: the dispatcher's items are the run's assignments.
[[nodiscard]] inline routing::item_key item_key_of(assignment_id a) noexcept {
    return routing::item_key{static_cast<std::uint64_t>(a.value())};
}

namespace detail {
/// An item as MessagePack bytes, `[shared, unit_data]`, its buffer no larger than its bytes.
inline std::vector<std::uint8_t> pack_init(initialization_data const& init) {
    auto bytes = nlohmann::json::to_msgpack(nlohmann::json::array({init.shared, init.unit_data}));
    bytes.shrink_to_fit();
    return bytes;
}
inline initialization_data unpack_init(std::vector<std::uint8_t> const& bytes) {
    auto j = nlohmann::json::from_msgpack(bytes);
    return {std::move(j[0]), std::move(j[1].get_ref<nlohmann::json::array_t&>())};
}
/// An assignment's units by index, in 24 bytes: units made together have consecutive ids, kept as the
/// first and a count; only ids that are not consecutive (a store that interleaves them) are kept one by one.
class unit_list {
public:
    unit_list() = default;
    explicit unit_list(std::vector<unit_id> const& ids) : count_(static_cast<std::uint32_t>(ids.size())) {
        if (ids.empty()) return;
        first_ = ids.front();
        for (std::size_t i = 1; i < ids.size(); ++i)
            if (ids[i].value() != first_.value() + static_cast<std::int64_t>(i)) {
                scattered_ = std::make_unique<unit_id[]>(ids.size());
                std::ranges::copy(ids, scattered_.get());
                break;
            }
    }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] unit_id at(std::size_t i) const {
        if (i >= count_)
            throw invalid_argument("unit index " + std::to_string(i) + " of an assignment of " + std::to_string(count_) +
                                   " units");
        return scattered_ ? scattered_[i] : unit_id{first_.value() + static_cast<std::int64_t>(i)};
    }
    /// One more unit (an assignment grown after launch): still two numbers when its id follows the last.
    void push_back(unit_id u) {
        if (count_ == 0) {
            first_ = u;
        } else if (scattered_ || u.value() != first_.value() + static_cast<std::int64_t>(count_)) {
            auto ids = std::make_unique<unit_id[]>(count_ + std::size_t{1});
            for (std::uint32_t i = 0; i < count_; ++i) ids[i] = at(i);
            ids[count_] = u;
            scattered_ = std::move(ids);
        }
        ++count_;
    }

private:
    unit_id first_{};
    std::uint32_t count_ = 0;
    std::unique_ptr<unit_id[]> scattered_;
};
}  // namespace detail

namespace detail {
/// The answer a submission gives in `field`, as adaptive overlap compares it: a string as it is, any
/// other value as its JSON text, and "" when the field is missing (no answer is an answer too).
[[nodiscard]] inline std::string answer_label(nlohmann::json const& submission, std::string const& field) {
    if (!submission.is_object()) return submission.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto const it = submission.find(field);
    if (it == submission.end()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace detail

/// `ItemOf` is a callable `initialization_data const& -> Dispatcher::item_type`, by default
/// `construct_item<Dispatcher::item_type>` (the default is in fwd.hpp).
template <class Blueprint, class Dispatcher, class Store, class ItemOf>
class task_launcher {
public:
    using item_type = typename Dispatcher::item_type;
    static_assert(std::is_invocable_r_v<item_type, ItemOf const&, initialization_data const&>,
                  "crowdline::task_launcher: argument 4 (item_of) must be callable as item_of(initialization_data "
                  "const&) and return the dispatcher's item_type");

    /// What the run keeps of an assignment: its item, its units by index, how many are done, its group.
    /// The item is kept packed (MessagePack bytes), and unpacked when a unit of it is handed out: a run
    /// holds the item of every launched assignment, and a parsed JSON tree costs several times its bytes.
    struct assignment_state {
        std::vector<std::uint8_t> item;  ///< `initialization_data` as MessagePack: [shared, unit_data]
        detail::unit_list units;         ///< by unit index
        std::uint32_t completed = 0;
        std::string const* group_name = &no_group;  ///< interned by the launcher: one string per group

        /// The item, unpacked (a fresh copy each call).
        [[nodiscard]] initialization_data init() const { return detail::unpack_init(item); }
        /// The group key of the item (see `set_group_key`); "" without one.
        [[nodiscard]] std::string const& group() const noexcept { return *group_name; }
    };

    /// Up to this many assignments are written in one transaction: one commit instead of two per assignment
    /// (launching 20,000 units is 5× faster), while a batch holds the write lock only briefly.
    static constexpr std::size_t launch_batch = 256;

    task_launcher(Blueprint& bp, Dispatcher& dispatcher, Store& db, detail::run_counts& counts, ItemOf item_of = {})
        : dispatcher_(dispatcher),
          db_(db),
          counts_(counts),
          item_of_(std::move(item_of)),
          tasks_(bp.initialization_data()),
          next_task_(std::ranges::begin(tasks_)) {}

    task_launcher(task_launcher const&) = delete;
    task_launcher& operator=(task_launcher const&) = delete;

    /// The run it launches for; `args` give the cap (`max_num_concurrent_units`) and the units' pay.
    void start(task_run_id run, task_run_args const& args) {
        run_ = run;
        max_live_ = args.max_num_concurrent_units;
        reward_ = args.task_reward;
    }

    /// Pulls items while under the cap, in batches of one transaction each; returns the units launched, for
    /// the provider. A batch that fails (the database refuses it, or an item does not fit its units) leaves
    /// the database unchanged but not this launcher's memory: the caller stops the run and rethrows.
    /// At most `max_batches` batches (one transaction each): a caller that must answer packets meanwhile
    /// launches a little at a time (`pipeline::set_launch_budget`).
    std::vector<unit_id> launch_more(time_point now, std::size_t max_batches = static_cast<std::size_t>(-1)) {
        std::vector<unit_id> launched;
        for (std::size_t batch = 0; batch < max_batches && under_cap() && next_task_ != std::ranges::end(tasks_); ++batch) {
            std::vector<assignment_id> made;
            db_.transaction([&] {
                for (std::size_t n = 0; n < launch_batch && under_cap() && next_task_ != std::ranges::end(tasks_); ++n) {
                    initialization_data init = *next_task_;
                    ++next_task_;
                    ++pulled_;
                    made.push_back(db_.new_assignment(*run_));
                    for (auto u : fill(made.back(), std::move(init), now)) launched.push_back(u);
                }
            });
            // committed: now it counts
            counts_.assignments_launched(made | std::views::transform([&](assignment_id a) -> assignment_state const& {
                                             return assignments_.at(a);
                                         }));
        }
        if (next_task_ == std::ranges::end(tasks_)) exhausted_ = true;
        return launched;
    }

    /// One more unit of an assignment already launched: written launched (one transaction), then added to
    /// the dispatcher, reserved for `for_worker` (who must be joined, eligible and without a unit of it) or
    /// open (`dispatcher::grow`). A done assignment is open again until the unit is done. Full overlap over
    /// workers who join later is made of this. The caller checks `for_worker` first (`next_item_without`):
    /// a refusal after the write would leave a launched unit the dispatcher does not route until a resume.
    unit_id add_unit(assignment_id a, std::optional<worker_id> for_worker, time_point now) {
        auto& as = assignments_.at(a);
        auto const index = as.units.size();
        auto const u = db_.transaction([&] {
            auto made = db_.new_unit(a, static_cast<int>(index), reward_);
            db_.update_unit(made, unit_status::launched);
            return made;
        });
        if (dispatcher_.grow(item_key_of(a), for_worker, now) != index)
            throw error("crowdline::task_launcher: assignment " + std::to_string(a.value()) +
                        ": the dispatcher's unit count differs from the run's");
        if (as.completed == as.units.size()) ++unfinished_;
        as.units.push_back(u);
        ++live_units_;
        counts_.unit_added(as);
        return u;
    }

    /// Full overlap over whoever joins (`routing::grows_for_late_workers`): a unit for worker `w` on the next
    /// launched item it may take and has none of, from `cursor` on (the worker's, kept by the caller), or
    /// nothing when there is no such item. The unit is reserved for `w`.
    std::optional<unit_id> unit_for_late_worker(worker_id w, std::size_t& cursor, time_point now)
        requires routing::grows_for_late_workers<typename Dispatcher::router_type>
    {
        auto const key = dispatcher_.next_item_without(w, cursor);
        if (!key) return std::nullopt;
        return add_unit(assignment_id{static_cast<std::int64_t>(key->value())}, w, now);
    }

    /// Adaptive overlap (`routing::grows_on_answers`): a unit of `a` was submitted with `submission`; its
    /// answer (the router's `field`) counts, and when the item's answers now disagree, one more unit, open
    /// to the item's eligible workers, is added and returned.
    std::optional<unit_id> answered(assignment_id a, nlohmann::json const& submission, time_point now)
        requires routing::grows_on_answers<typename Dispatcher::router_type>
    {
        auto const key = item_key_of(a);
        dispatcher_.record_answer(key, detail::answer_label(submission, dispatcher_.router().field));
        if (!dispatcher_.wants_unit(key)) return std::nullopt;
        return add_unit(a, std::nullopt, now);
    }

    /// A routed unit of `a` was finished (submitted): one fewer live unit, and the assignment is done once
    /// all its units are.
    void unit_finished(assignment_id a) {
        auto& as = assignments_.at(a);
        if (++as.completed == as.units.size()) --unfinished_;
        if (live_units_ > 0) --live_units_;
    }

    /// Items left to launch now: some not pulled yet, and room under the cap.
    [[nodiscard]] bool can_launch_more() { return under_cap() && next_task_ != std::ranges::end(tasks_); }

    /// Every item pulled and every assignment done.
    [[nodiscard]] bool all_done() const noexcept { return exhausted_ && unfinished_ == 0; }
    [[nodiscard]] assignment_state const& assignment(assignment_id a) const { return assignments_.at(a); }
    [[nodiscard]] std::unordered_map<assignment_id, assignment_state> const& assignments() const noexcept {
        return assignments_;
    }
    [[nodiscard]] item_type item_of(initialization_data const& init) const { return item_of_(init); }

    /// Names the group of each item (dashboards' progress bars); applied to the assignments made so far.
    void set_group_key(std::function<std::string(initialization_data const&)> key_of) {
        group_key_ = std::move(key_of);
        regroup();
    }
    /// Groups every assignment again with the group key (after a full recount).
    void regroup() {
        if (group_key_)
            for (auto& [id, as] : assignments_) as.group_name = intern(group_key_(as.init()));
    }

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
            crowdline::assignment a;
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
                throw error("crowdline::task_launcher: resuming task run " + std::to_string(run_->value()) +
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
                    for (auto u : fill(a.id, std::move(inits[i]), now)) reopened.push_back(u);
                });
                continue;
            }
            reopen_assignment(a.id, units, std::move(inits[i]), reopened, now);
        }
        if (next_task_ == std::ranges::end(tasks_)) exhausted_ = true;  // every item already an assignment
        return reopened;
    }

private:
    using tasks_range = decltype(std::declval<Blueprint&>().initialization_data());

    bool under_cap() const { return max_live_ == 0 || live_units_ < static_cast<std::size_t>(max_live_); }

    /// Routes an assignment and creates its units (launched), inside the caller's transaction.
    std::vector<unit_id> fill(assignment_id a, initialization_data init, time_point now) {
        auto const key = item_key_of(a);
        dispatcher_.add(key, item_of_(init), now);
        auto const count = dispatcher_.units_of(key).size();
        if (!init.unit_data.empty() && init.unit_data.size() != 1 && init.unit_data.size() != count)
            throw config_error("blueprint item " + std::to_string(pulled_) + ": " + std::to_string(init.unit_data.size()) +
                               " unit_data entries, but the router asked for " + std::to_string(count) + " units");
        std::vector<unit_id> units;
        for (std::size_t i = 0; i < count; ++i) {
            auto u = db_.new_unit(a, static_cast<int>(i), reward_);
            db_.update_unit(u, unit_status::launched);
            units.push_back(u);
        }
        live_units_ += count;
        ++unfinished_;
        keep(a, init, units, 0);
        return units;
    }

    /// One assignment of a resumed run: its units open again (or stay done), the dispatcher told who did
    /// and who gave back which unit.
    void reopen_assignment(assignment_id a, std::vector<unit> const& units, initialization_data init,
                           std::vector<unit_id>& reopened, time_point now) {
        std::vector<unit_id> ids(units.size());
        std::vector<std::pair<std::uint32_t, worker_id>> done;
        std::size_t completed = 0;
        db_.transaction([&] {
            for (auto const& u : units) {
                if (u.unit_index < 0 || static_cast<std::size_t>(u.unit_index) >= ids.size())
                    throw error("crowdline::task_launcher: resuming: " + detail::describe(u.id) + " has unit_index " +
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
        for (auto const& ag : db_.find_agents({.assignment = a}))
            if (ag.status == agent_status::returned || ag.status == agent_status::disconnect ||
                ag.status == agent_status::timeout)
                returned.push_back(ag.worker);
        auto const key = item_key_of(a);
        if constexpr (requires {
                          dispatcher_.restore(key, item_of_(init), std::uint32_t{}, done, returned, now);
                      })
            dispatcher_.restore(key, item_of_(init), static_cast<std::uint32_t>(ids.size()), done, returned, now);
        else
            throw error("crowdline::task_launcher: this dispatcher cannot restore items, so the run cannot be resumed");
        if constexpr (routing::grows_on_answers<typename Dispatcher::router_type>) {
            // Adaptive overlap: the answers given before the restart count again, and decide as before.
            auto const& field = dispatcher_.router().field;
            for (auto const& u : units)
                if (complete(u.status) && u.agent)
                    dispatcher_.record_answer(
                        key, detail::answer_label(db_.get_agent(*u.agent).state.value("outputs", nlohmann::json()), field));
        }
        live_units_ += ids.size() - completed;
        if (completed < ids.size()) ++unfinished_;
        keep(a, init, std::move(ids), completed);
        if constexpr (routing::grows_on_answers<typename Dispatcher::router_type>)
            if (dispatcher_.wants_unit(key)) reopened.push_back(add_unit(a, std::nullopt, now));  // stopped before it was added
    }

    /// Records an assignment with its item packed and its group named.
    void keep(assignment_id a, initialization_data const& init, std::vector<unit_id> units, std::size_t completed) {
        auto const* group = group_key_ ? intern(group_key_(init)) : &no_group;
        assignments_.emplace(a, assignment_state{detail::pack_init(init), detail::unit_list{units},
                                                 static_cast<std::uint32_t>(completed), group});
    }
    /// One string per distinct group key (a node set: its addresses stay put), shared by its assignments.
    std::string const* intern(std::string key) {
        if (key.empty()) return &no_group;
        return &*groups_.insert(std::move(key)).first;
    }
    static inline std::string const no_group{};

    Dispatcher& dispatcher_;
    Store& db_;
    detail::run_counts& counts_;
    ItemOf item_of_;
    tasks_range tasks_;
    std::ranges::iterator_t<tasks_range> next_task_;
    std::optional<task_run_id> run_;
    std::int64_t max_live_ = 0;
    double reward_ = 0;
    std::function<std::string(initialization_data const&)> group_key_;
    std::size_t pulled_ = 0;
    std::size_t live_units_ = 0;
    std::size_t unfinished_ = 0;  ///< assignments with a unit not completed yet
    bool exhausted_ = false;
    std::unordered_map<assignment_id, assignment_state> assignments_;
    std::set<std::string> groups_;  ///< the group keys `assignment_state::group_name` points into
};

}  // namespace crowdline
