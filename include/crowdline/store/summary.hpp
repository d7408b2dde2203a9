#pragma once
/// `summarize_run`: counts of a run's units per status, its assignments, agents and distinct workers —
/// what `crowdline status` and the examples print. Works on any `crowdline::store`. `run_tally` keeps the
/// same counts up to date as the run changes, for dashboards that must not rescan the store.

#include <array>
#include <cstddef>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline {

/// A run at a glance.
struct run_summary {
    task_run_id run;
    std::size_t assignments = 0;
    std::size_t agents = 0;
    std::size_t workers = 0;  ///< distinct workers who held a unit of the run
    std::array<std::size_t, 8> units_by_status{};

    [[nodiscard]] std::size_t units(unit_status s) const noexcept { return units_by_status[static_cast<std::size_t>(s)]; }
    [[nodiscard]] std::size_t units() const noexcept {
        std::size_t n = 0;
        for (auto c : units_by_status) n += c;
        return n;
    }
    [[nodiscard]] nlohmann::json to_json() const {
        nlohmann::json by_status = nlohmann::json::object();
        for (std::size_t i = 0; i < units_by_status.size(); ++i)
            by_status[std::string(to_string(static_cast<unit_status>(i)))] = units_by_status[i];
        return {{"task_run", run.value()}, {"assignments", assignments}, {"agents", agents}, {"workers", workers},
                {"units", by_status}};
    }
    friend bool operator==(run_summary const&, run_summary const&) = default;
};

/// A run's summary kept up to date change by change, so reading it costs nothing however many units the
/// run has (`pipeline::summary`, `/metrics`). Start it from a full count (`tally_run`), then report every
/// change the store committed; a count that goes below zero wraps, so a missed change shows at once.
class run_tally {
public:
    run_tally() = default;
    explicit run_tally(task_run_id run) : summary_{run} {}

    void units_added(unit_status s, std::size_t n = 1) noexcept { at(s) += n; }
    void unit_moved(unit_status from, unit_status to) noexcept {
        --at(from);
        ++at(to);
    }
    void assignments_added(std::size_t n = 1) noexcept { summary_.assignments += n; }
    /// A new agent of `w`: one more agent, and one more distinct worker the first time.
    void agent_added(worker_id w) {
        ++summary_.agents;
        workers_.insert(w);
        summary_.workers = workers_.size();
    }
    [[nodiscard]] run_summary const& summary() const noexcept { return summary_; }

private:
    std::size_t& at(unit_status s) noexcept { return summary_.units_by_status[static_cast<std::size_t>(s)]; }

    run_summary summary_{};
    std::unordered_set<worker_id> workers_;
};

/// Counts rows of `run` already read (how many assignments it has, its units and its agents), for a
/// caller that reads them for more than the count (a resumed pipeline also rebuilds its agreement).
inline run_tally tally_rows(task_run_id run, std::size_t assignments, std::vector<unit> const& units,
                            std::vector<agent> const& agents) {
    run_tally out{run};
    out.assignments_added(assignments);
    for (auto const& u : units) out.units_added(u.status);
    for (auto const& a : agents) out.agent_added(a.worker);
    return out;
}

/// Counts what `db` holds for `run` (one read of its assignments, units and agents), as a tally that
/// can then be kept up to date.
template <class Store>
run_tally tally_run(Store& db, task_run_id run) {
    detail::check_store<Store>();  // names the missing piece
    static_assert(store<Store>, "crowdline::tally_run: argument 1 (db) must model crowdline::store");
    (void)db.get_task_run(run);  // unknown run → entry_does_not_exist
    return tally_rows(run, db.find_assignments({.task_run = run}).size(), db.find_units({.task_run = run}),
                      db.find_agents({.task_run = run}));
}

/// Counts what `db` holds for `run`.
template <class Store>
run_summary summarize_run(Store& db, task_run_id run) {
    detail::check_store<Store>();  // names the missing piece
    static_assert(store<Store>, "crowdline::summarize_run: argument 1 (db) must model crowdline::store");
    return tally_run(db, run).summary();
}

}  // namespace crowdline
