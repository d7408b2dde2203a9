#pragma once
/// The quality figures of one task run's answers, read out of a store: what `crowdline quality` prints
/// and the review page shows. The annotations are `(item, worker, label)` with the item the unit's
/// assignment, the worker the agent's worker (by name) and the label one field of what the worker sent
/// (the agent's `state["outputs"]`). The answers counted are those `data_browser` lists (and `crowdline
/// export` writes): every unit whose work is done (completed, accepted, rejected, soft_rejected).
/// Every figure is computed by quality/agreement.hpp and quality/aggregate.hpp; nothing here is a measure.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/filters.hpp>
#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/gold.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/quality/output_label.hpp>

namespace crowdline::quality {

/// One done unit's answer: its item (the assignment), who answered, what they saw and what they sent.
struct run_answer {
    std::int64_t item = 0;
    std::string worker{};
    std::int64_t agent = 0;
    nlohmann::json inputs{};
    nlohmann::json outputs{};  ///< always an object
};

/// The answers of a run's done units (the units `data_browser::results_for_run` lists), in unit creation
/// order. A unit without an agent, or whose outputs are not an object (nothing was sent), has none.
/// Three reads whatever the run's size — its units, its agents, each worker once — not three per unit as
/// through `data_browser`: the review API calls this under the run's lock. Unknown run → `entry_does_not_exist`.
template <class Store>
std::vector<run_answer> run_answers(Store& db, task_run_id run) {
    (void)db.get_task_run(run);
    std::unordered_map<agent_id, agent> agents;
    for (auto& a : db.find_agents({.task_run = run})) agents.emplace(a.id, std::move(a));
    std::unordered_map<worker_id, std::string> names;
    std::vector<run_answer> out;
    for (auto const& u : db.find_units({.task_run = run})) {
        if (!complete(u.status) || !u.agent) continue;
        if (u.unit_index < 0) continue;  // screening and gold units: never data (gold is `gold_accuracy`'s)
        auto const found = agents.find(*u.agent);
        if (found == agents.end()) continue;
        auto const& a = found->second;
        if (!a.state.is_object()) continue;
        auto const outputs = a.state.find("outputs");
        if (outputs == a.state.end() || !outputs->is_object()) continue;
        auto name = names.find(a.worker);
        if (name == names.end()) name = names.emplace(a.worker, db.get_worker(a.worker).name).first;
        out.push_back({u.assignment.value(), name->second, a.id.value(), a.state.value("inputs", nlohmann::json(nullptr)),
                       *outputs});
    }
    return out;
}

/// The label fields of a run's answers: every output field whose value is a label (`output_label::of`)
/// in every answer that has it. Sorted by name.
inline std::vector<std::string> label_fields(std::vector<run_answer> const& answers) {
    std::map<std::string, bool> all_labels;  // every field seen → all its values are labels
    for (auto const& a : answers)
        for (auto const& [key, value] : a.outputs.items()) {
            auto [it, fresh] = all_labels.try_emplace(key, true);
            it->second = it->second && output_label::of(value).has_value();
        }
    std::vector<std::string> out;
    for (auto const& [key, ok] : all_labels)
        if (ok) out.push_back(key);
    return out;
}

/// `(assignment id, worker name, label)`.
using output_annotation = basic_annotation<std::int64_t, std::string, output_label>;

/// The annotations of `field`: one per answer that has it. A value that is not a label →
/// `invalid_argument` naming the field, the agent and the value.
inline std::vector<output_annotation> field_annotations(std::vector<run_answer> const& answers, std::string const& field) {
    std::vector<output_annotation> out;
    for (auto const& a : answers) {
        auto const v = a.outputs.find(field);
        if (v == a.outputs.end()) continue;
        auto label = output_label::of(*v);
        if (!label)
            throw invalid_argument("field \"" + field + "\": agent " + std::to_string(a.agent) + " answered " +
                                   v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                                   ": not a label (a string, a boolean or an integer), so the field has no agreement "
                                   "to measure");
        out.push_back({a.item, a.worker, std::move(*label)});
    }
    return out;
}

/// A number, or null where a coefficient is not defined.
inline nlohmann::json number_or_null(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

/// The report of a run's answers on `fields` (in that order):
///   fields:  [{field, items (with at least one answer on it), annotations, krippendorff_alpha,
///              fleiss_kappa (null unless every item has as many answers), majority_vote: {ties},
///              dawid_skene: {iterations, converged}}]
///   workers: [{worker, annotations (answers in the run), gold_accuracy (from `gold`: null when the worker
///              answered no gold unit), gold_answers, estimated_accuracy (Dawid–Skene's on the first field,
///              null when the worker did not answer it), estimated_accuracy_by_field: {field: accuracy}}],
///              by name
/// `gold` is the run's `gold_accuracy` (empty: no gold units). Dawid–Skene runs with `options`. A field
/// holding a value that is not a label → `invalid_argument`.
inline nlohmann::json run_report(std::vector<run_answer> const& answers, std::vector<std::string> const& fields,
                                 std::map<std::string, gold_tally> const& gold = {},
                                 dawid_skene_options const& options = {}) {
    nlohmann::json report{{"fields", nlohmann::json::array()}, {"workers", nlohmann::json::array()}};
    std::map<std::string, std::size_t> answered;  // worker → answers in the run
    for (auto const& a : answers) ++answered[a.worker];
    for (auto const& g : gold) answered.try_emplace(g.first, 0);  // a worker who answered gold units only
    std::map<std::string, nlohmann::json> by_field;  // worker → {field: estimated accuracy}
    for (auto const& field : fields) {
        auto const data = make_dataset(field_annotations(answers, field));
        auto const votes = majority_vote(data);
        auto const ds = dawid_skene(data, options);
        std::size_t ties = 0;
        for (auto const& v : votes) ties += v.tie ? 1 : 0;
        report["fields"].push_back({{"field", field},
                                    {"items", data.items().size()},
                                    {"annotations", data.size()},
                                    {"krippendorff_alpha", number_or_null(krippendorff_alpha(data))},
                                    {"fleiss_kappa", number_or_null(fleiss_kappa(data))},
                                    {"majority_vote", {{"ties", ties}}},
                                    {"dawid_skene", {{"iterations", ds.iterations}, {"converged", ds.converged}}}});
        for (auto const& w : ds.workers) by_field[w.worker][field] = w.accuracy;
    }
    for (auto const& [worker, n] : answered) {
        auto const found = by_field.find(worker);
        auto const estimates = found == by_field.end() ? nlohmann::json::object() : found->second;
        auto const first = fields.empty() ? estimates.end() : estimates.find(fields.front());
        auto const on_gold = gold.find(worker);
        auto const gold_score = on_gold == gold.end() ? std::nullopt : on_gold->second.accuracy();
        report["workers"].push_back({{"worker", worker},
                                     {"annotations", n},
                                     {"gold_accuracy", number_or_null(gold_score)},
                                     {"gold_answers", on_gold == gold.end() ? 0 : on_gold->second.total},
                                     {"estimated_accuracy", first == estimates.end() ? nlohmann::json(nullptr) : *first},
                                     {"estimated_accuracy_by_field", estimates}});
    }
    return report;
}

}  // namespace crowdline::quality
