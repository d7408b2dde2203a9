#pragma once
/// `summarize_run`: counts of a run's units per status, its assignments, agents and distinct workers —
/// what `crowdline status` and the examples print. Works on any `crowdline::store`.

#include <array>
#include <cstddef>
#include <string>
#include <unordered_set>

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
};

/// Counts what `db` holds for `run`.
template <class Store>
run_summary summarize_run(Store& db, task_run_id run) {
    detail::check_store<Store>();  // names the missing piece
    static_assert(store<Store>, "crowdline::summarize_run: argument 1 (db) must model crowdline::store");
    run_summary out{run};
    (void)db.get_task_run(run);  // unknown run → entry_does_not_exist
    out.assignments = db.find_assignments({.task_run = run}).size();
    for (auto const& u : db.find_units({.task_run = run})) ++out.units_by_status[static_cast<std::size_t>(u.status)];
    std::unordered_set<worker_id> workers;
    for (auto const& a : db.find_agents({.task_run = run})) {
        ++out.agents;
        workers.insert(a.worker);
    }
    out.workers = workers.size();
    return out;
}

}  // namespace crowdline
