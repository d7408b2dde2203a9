#pragma once
/// `quality::gold_accuracy`: each worker's accuracy on gold units (units with a known answer that the
/// `mixins::gold_units` mixin mixes into their stream), read from the store. The worker pool scores a gold
/// answer when it is submitted and saves the verdict with it (`state.gold.correct`), so the figure needs
/// neither the gold answers nor the run being served: `crowdline quality` reads it from the database.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline::quality {

/// A worker's gold answers: how many were right of how many.
struct gold_tally {
    std::size_t correct = 0;
    std::size_t total = 0;

    /// correct / total; nothing when the worker answered no gold unit.
    [[nodiscard]] std::optional<double> accuracy() const {
        if (total == 0) return std::nullopt;
        return static_cast<double>(correct) / static_cast<double>(total);
    }
    friend bool operator==(gold_tally const&, gold_tally const&) = default;
};

inline void to_json(nlohmann::json& j, gold_tally const& t) {
    auto const a = t.accuracy();
    j = nlohmann::json{{"correct", t.correct}, {"total", t.total}, {"accuracy", a ? nlohmann::json(*a) : nlohmann::json(nullptr)}};
}

/// Per worker name, the gold answers saved in task run `run` (an agent whose state holds a boolean
/// `gold.correct`), whatever happened to them after (approved, rejected…). Workers who answered no gold unit
/// are absent. Unknown run → `entry_does_not_exist`.
template <class Store>
std::map<std::string, gold_tally> gold_accuracy(Store& db, task_run_id run) {
    (void)db.get_task_run(run);
    std::unordered_map<worker_id, gold_tally> by_worker;
    for (auto const& a : db.find_agents({.task_run = run})) {
        if (!a.state.is_object()) continue;
        auto const gold = a.state.find("gold");
        if (gold == a.state.end() || !gold->is_object()) continue;
        auto const correct = gold->find("correct");
        if (correct == gold->end() || !correct->is_boolean()) continue;
        auto& t = by_worker[a.worker];
        ++t.total;
        if (correct->template get<bool>()) ++t.correct;
    }
    std::map<std::string, gold_tally> out;
    for (auto const& [w, t] : by_worker) out.emplace(db.get_worker(w).name, t);
    return out;
}

}  // namespace crowdline::quality
