#pragma once
/// `detail::run_counts`: a pipeline's running dashboard counts — units by status, assignments, agents and
/// workers (a `run_tally`), units made and done per group of items, units held and done per worker, and
/// Krippendorff's alpha per label field of the answers (`quality::running_agreement`). The
/// pipeline reports each change once the store has committed it (one call per change, which moves every
/// count that change touches); the counts have their own mutex, so `pipeline::summary()` and `progress()`
/// never wait for the pipeline's lock or a store write.

#include <cstddef>
#include <map>
#include <mutex>
#include <ranges>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/ops/dashboard.hpp>
#include <crowdline/quality/running_alpha.hpp>
#include <crowdline/store/filters.hpp>
#include <crowdline/store/summary.hpp>

namespace crowdline::detail {

/// The counts a dashboard reads, kept change by change. Assignments are passed as ranges of objects with
/// `group()` (its group key), `units` (a sized range) and `completed` (units done).
class run_counts {
public:
    /// One worker's units in this run.
    struct worker_counts {
        std::size_t held = 0;  ///< units in hand now
        std::size_t done = 0;  ///< units finished in this run (gold included)
    };

    // --- reads -------------------------------------------------------------------------------------

    [[nodiscard]] run_summary summary() const {
        std::lock_guard l{mutex_};
        return tally_.summary();
    }

    /// Units done and in all per group, sorted by group, in O(groups).
    [[nodiscard]] std::vector<key_progress> progress() const {
        std::lock_guard l{mutex_};
        std::vector<key_progress> out;
        out.reserve(groups_.size());
        for (auto const& [key, row] : groups_) out.push_back(row);
        return out;
    }

    /// Alpha per label field of the answers so far, as `quality::run_report` computes it from the store.
    [[nodiscard]] std::vector<quality::field_agreement> agreement() const {
        std::lock_guard l{mutex_};
        return agreement_.fields();
    }

    /// A worker's counts (zero for one who never held a unit here).
    [[nodiscard]] worker_counts of(worker_id w) const {
        std::lock_guard l{mutex_};
        auto it = workers_.find(w);
        return it == workers_.end() ? worker_counts{} : it->second;
    }

    // --- full counts -------------------------------------------------------------------------------

    /// The full count: `fresh` (units, assignments and agents from the store, `tally_rows`), and the groups
    /// from the run's assignments (O(assignments), in memory). Worker counts are kept.
    template <class Assignments>
    void recount(run_tally fresh, Assignments const& assignments, quality::running_agreement agreement) {
        auto groups = grouped(assignments);
        std::lock_guard l{mutex_};
        groups_ = std::move(groups);
        tally_ = std::move(fresh);
        agreement_ = std::move(agreement);
    }

    /// Groups counted again from the assignments (after their group keys changed).
    template <class Assignments>
    void regroup(Assignments const& assignments) {
        auto groups = grouped(assignments);
        std::lock_guard l{mutex_};
        groups_ = std::move(groups);
    }

    /// A resumed run's units done per worker, from the store (one read of its units). Returns the workers
    /// who have done one.
    template <class Store>
    std::vector<worker_id> restore_done(Store& db, task_run_id run) {
        std::unordered_map<worker_id, std::size_t> done;
        for (auto const& u : db.find_units({.task_run = run}))
            if (complete(u.status) && u.worker) ++done[*u.worker];
        std::vector<worker_id> out;
        out.reserve(done.size());
        std::lock_guard l{mutex_};
        for (auto const& [w, n] : done) {
            workers_[w].done = n;
            out.push_back(w);
        }
        return out;
    }

    // --- changes, each once the store committed it ------------------------------------------------

    /// New assignments, their units launched; each joins its group.
    template <class Assignments>
    void assignments_launched(Assignments const& made) {
        std::lock_guard l{mutex_};
        for (auto const& entry : made) {
            tally_.assignments_added();
            tally_.units_added(unit_status::launched, std::ranges::size(entry.units));
            add_to_group(groups_, entry);
        }
    }

    /// One more unit launched on an assignment already counted (it grew after launch): its group's too.
    template <class Assignment>
    void unit_added(Assignment const& entry) {
        std::lock_guard l{mutex_};
        tally_.units_added(unit_status::launched, 1);
        count_in_group(groups_, entry.group(), 1, 0);
    }

    /// A launched unit claimed by `w`: assigned, one more agent, held.
    void unit_claimed(worker_id w) {
        std::lock_guard l{mutex_};
        tally_.unit_moved(unit_status::launched, unit_status::assigned);
        tally_.agent_added(w);
        ++workers_[w].held;
    }

    /// A mixin's unit (screening, gold: an assignment of its own) made and claimed by `w` at once.
    void extra_unit_claimed(worker_id w) {
        std::lock_guard l{mutex_};
        tally_.assignments_added();
        tally_.units_added(unit_status::assigned);
        tally_.agent_added(w);
        ++workers_[w].held;
    }

    /// A unit `w` held leaves them unfinished: launched again (returned, disconnected, timed out, shut
    /// down) or expired (the run shut down for good).
    void unit_returned(worker_id w, unit_status to) {
        std::lock_guard l{mutex_};
        tally_.unit_moved(unit_status::assigned, to);
        release(w);
    }

    /// A work unit's answer: its assignment's group, the assignment (the item agreement is measured on)
    /// and what the worker sent.
    struct work_answer {
        std::string const& group;
        assignment_id item;
        nlohmann::json const& outputs;
    };

    /// A unit `w` held is submitted: completed, one more done for `w`; for a work unit (`work`: nullptr for
    /// a mixin's unit, which is in no group and never data) one more done for its group, and its answer
    /// counted in the agreement.
    void unit_completed(worker_id w, work_answer const* work) {
        std::lock_guard l{mutex_};
        tally_.unit_moved(unit_status::assigned, unit_status::completed);
        auto& c = workers_[w];
        ++c.done;
        if (work) {
            ++groups_[work->group].done;
            agreement_.add(work->item.value(), work->outputs);
        }
        release(w);
    }

    /// A unit no worker holds changes status (a review decision).
    void unit_moved(unit_status from, unit_status to) {
        std::lock_guard l{mutex_};
        tally_.unit_moved(from, to);
    }

    /// Units no worker held expire (the run shut down for good), each from its status in `from`.
    void units_expired(std::span<unit_status const> from) {
        std::lock_guard l{mutex_};
        for (auto s : from) tally_.unit_moved(s, unit_status::expired);
    }

private:
    template <class Assignment>
    static void add_to_group(std::map<std::string, key_progress>& groups, Assignment const& entry) {
        count_in_group(groups, entry.group(), std::ranges::size(entry.units), entry.completed);
    }
    static void count_in_group(std::map<std::string, key_progress>& groups, std::string const& key, std::size_t total,
                               std::size_t done) {
        auto& row = groups[key];
        row.key = key;
        row.total += total;
        row.done += done;
    }

    template <class Assignments>
    static std::map<std::string, key_progress> grouped(Assignments const& assignments) {
        std::map<std::string, key_progress> groups;
        for (auto const& entry : assignments) add_to_group(groups, entry);
        return groups;
    }

    /// One unit fewer in `w`'s hands (under `mutex_`).
    void release(worker_id w) {
        auto& c = workers_[w];
        if (c.held > 0) --c.held;
    }

    /// Guards only the counts below, so reading them never waits for a store write.
    mutable std::mutex mutex_;
    run_tally tally_;
    std::map<std::string, key_progress> groups_;
    std::unordered_map<worker_id, worker_counts> workers_;
    quality::running_agreement agreement_;
};

/// The agreement of a run's answers from its units and agents as the store holds them: the answers
/// `quality::run_answers` reads, so a resumed run's `/metrics` starts where it stopped.
inline quality::running_agreement agreement_of(std::vector<unit> const& units, std::vector<agent> const& agents) {
    std::unordered_map<agent_id, nlohmann::json const*> outputs;
    for (auto const& a : agents) {
        if (!a.state.is_object()) continue;
        auto found = a.state.find("outputs");
        if (found != a.state.end() && found->is_object()) outputs.emplace(a.id, &*found);
    }
    quality::running_agreement out;
    if (outputs.empty()) return out;  // a fresh run: no answers
    for (auto const& u : units) {
        if (!complete(u.status) || !u.agent || u.unit_index < 0) continue;  // screening and gold: never data
        if (auto found = outputs.find(*u.agent); found != outputs.end()) out.add(u.assignment.value(), *found->second);
    }
    return out;
}

}  // namespace crowdline::detail
