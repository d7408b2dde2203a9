#pragma once
/// `data_browser<Store>`: the results of a task or of a run, as a range-v3 range of `unit_result`, and
/// `export_jsonl` to write any such range as one JSON object per line (Mephisto's DataBrowser).
///
/// A result covers a unit whose work is done (Mephisto's completed set: completed, accepted, rejected,
/// soft_rejected). Which units are listed is decided when the range is made; each unit with its agent,
/// worker and saved state is read when its element is reached (so taking the first ten results of a
/// large run reads ten agents, and a range made before a review shows the review's outcome).

#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/ops/detail/submission_receipt.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline {

/// One finished unit with who did it and what they sent.
struct unit_result {
    crowdline::unit unit{};
    std::optional<crowdline::agent> agent{};    ///< the unit's agent (absent only if the store lost it)
    std::optional<crowdline::worker> worker{};  ///< the agent's worker
    nlohmann::json agent_state{};               ///< what the worker sent (the agent's saved state)
};

/// Reads results out of a store. Holds a reference: the store must outlive the browser and its ranges.
template <class Store>
class data_browser {
    static_assert((crowdline::detail::check_store<Store>(), store<Store>),
                  "crowdline::data_browser: Store must model crowdline::store");

public:
    explicit data_browser(Store& db) noexcept : db_{&db} {}

    /// Results of every run of the task called `task_name`, in unit creation order. Unknown name →
    /// `entry_does_not_exist`.
    [[nodiscard]] auto results_for_task(std::string_view task_name) const {
        auto tasks = db_->find_tasks({.name = std::string(task_name)});
        if (tasks.empty()) throw entry_does_not_exist("task \"" + std::string(task_name) + "\": does not exist");
        return results(db_->find_units({.task = tasks.front().id}));
    }

    /// Results of one run, in unit creation order. Unknown run → `entry_does_not_exist`.
    [[nodiscard]] auto results_for_run(task_run_id run) const {
        (void)db_->get_task_run(run);
        return results(db_->find_units({.task_run = run}));
    }

    /// One unit's result, whatever its status (Mephisto's `get_data_from_unit`). Unknown → `entry_does_not_exist`.
    [[nodiscard]] unit_result result_for_unit(unit_id u) const { return load(*db_, db_->get_unit(u)); }

private:
    static unit_result load(Store& db, crowdline::unit const& u) {
        unit_result r{u, std::nullopt, std::nullopt, nullptr};
        if (u.agent) {
            r.agent = db.get_agent(*u.agent);
            r.worker = db.get_worker(r.agent->worker);
            r.agent_state = r.agent->state;
            // The pipeline's receipt of an idempotent submit (its key, the agent's token, the reply) is
            // bookkeeping, not what the worker answered: it never leaves in a result or an export.
            if (r.agent_state.is_object()) r.agent_state.erase(crowdline::detail::receipt_field);
        } else if (u.worker) {
            r.worker = db.get_worker(*u.worker);
        }
        return r;
    }

    /// Keeps the ids of the done units (shared, so the range is cheap to copy) and reads each result
    /// when its element is reached.
    auto results(std::vector<crowdline::unit> const& units) const {
        auto done = std::make_shared<std::vector<unit_id>>();
        for (auto const& u : units)
            if (complete(u.status)) done->push_back(u.id);
        Store* db = db_;
        return ranges::views::iota(std::size_t{0}, done->size()) |
               ranges::views::transform([db, done](std::size_t i) { return load(*db, db->get_unit((*done)[i])); });
    }

    Store* db_;
};

/// One result as the JSON object `export_jsonl` writes: unit id, assignment, index, status, worker name,
/// agent status, the saved state (absent parts are null).
[[nodiscard]] inline nlohmann::json to_export_json(unit_result const& r) {
    return nlohmann::json{
        {"unit_id", r.unit.id.value()},
        {"assignment_id", r.unit.assignment.value()},
        {"unit_index", r.unit.unit_index},
        {"status", std::string(to_string(r.unit.status))},
        {"worker_name", r.worker ? nlohmann::json(r.worker->name) : nlohmann::json(nullptr)},
        {"agent_status", r.agent ? nlohmann::json(std::string(to_string(r.agent->status))) : nlohmann::json(nullptr)},
        {"state", r.agent_state},
    };
}

/// Writes each result as one JSON line (`to_export_json`) and returns how many. A stream that fails →
/// `crowdline::error` saying after how many lines. Strings that are not UTF-8 are written with U+FFFD in
/// place of the bad bytes rather than aborting the export.
template <ranges::input_range Results>
std::size_t export_jsonl(std::ostream& out, Results&& results) {
    std::size_t count = 0;
    for (auto&& r : results) {
        unit_result const& result = r;
        out << to_export_json(result).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        if (!out) throw error("export_jsonl: writing failed after " + std::to_string(count) + " lines");
        ++count;
    }
    return count;
}

}  // namespace crowdline
