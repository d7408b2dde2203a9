#pragma once
// `crowdline quality` and `crowdline export --aggregate`: the figures of crowdline/quality on the answers a
// database holds. Every figure comes from the library's functions (make_dataset, krippendorff_alpha,
// fleiss_kappa, majority_vote, dawid_skene) on `(item, worker, label)` triples read out of the store: the
// item is the unit's assignment, the worker the agent's worker (by name), the label one field of what the
// worker sent (`state["outputs"]`). Which results count is what `crowdline export` writes: every unit whose
// work is done (completed, accepted, rejected, soft_rejected), read through `data_browser`.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/ops/data_browser.hpp>
#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/routing/detail/hash.hpp>

namespace crowdline_serve {

/// One answer's value of a field, as a label the measures can key on. Only values that name a category
/// qualify: strings, booleans and integers (a float is a measurement, a list or an object several labels).
/// Kept typed, not as text, so the integer 3 and the string "3" stay two labels, integers order as numbers,
/// and strings order as themselves: the smallest-label tie-break is the one an independent implementation
/// on the raw values makes.
struct label_value {
    enum class kind_t : std::uint8_t { boolean, integer, string };
    kind_t kind = kind_t::string;
    std::int64_t number = 0;  ///< a boolean's 0 / 1, or the integer
    std::string text{};       ///< the string

    friend bool operator==(label_value const&, label_value const&) = default;
    friend std::strong_ordering operator<=>(label_value const&, label_value const&) = default;

    /// The label of a JSON value; nothing when it is not a string, boolean or integer (within 64-bit signed).
    static std::optional<label_value> of(nlohmann::json const& v) {
        if (v.is_string()) return label_value{kind_t::string, 0, v.get<std::string>()};
        if (v.is_boolean()) return label_value{kind_t::boolean, v.get<bool>() ? 1 : 0, {}};
        if (v.is_number_integer()) {
            if (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                return std::nullopt;
            return label_value{kind_t::integer, v.get<std::int64_t>(), {}};
        }
        return std::nullopt;
    }
    /// The value as the worker sent it.
    [[nodiscard]] nlohmann::json to_json() const {
        switch (kind) {
            case kind_t::boolean: return number != 0;
            case kind_t::integer: return number;
            case kind_t::string: break;
        }
        return text;
    }
};

}  // namespace crowdline_serve

template <>
struct std::hash<crowdline_serve::label_value> {
    std::size_t operator()(crowdline_serve::label_value const& l) const noexcept {
        auto const h = l.kind == crowdline_serve::label_value::kind_t::string ? std::hash<std::string>{}(l.text)
                                                                              : static_cast<std::size_t>(l.number);
        return static_cast<std::size_t>(
            crowdline::routing::detail::mix64(static_cast<std::uint64_t>(h) ^ static_cast<std::uint64_t>(l.kind)));
    }
};

namespace crowdline_serve {

/// A run as the commands name it: the run and its task's name.
using named_run = std::pair<crowdline::task_run, std::string>;

/// One done unit's answer: its item (the assignment), who answered, what they saw and what they sent.
struct run_answer {
    std::int64_t item = 0;
    std::string worker{};
    std::int64_t agent = 0;
    nlohmann::json inputs{};
    nlohmann::json outputs{};  ///< always an object
};

/// The answers of a run's done units (export's set), in unit creation order. A unit without an agent or
/// whose outputs are not an object (nothing was sent) has no answer.
template <class Store>
std::vector<run_answer> answers_of(Store& db, crowdline::task_run_id run) {
    std::vector<run_answer> out;
    for (auto&& r : crowdline::data_browser{db}.results_for_run(run)) {
        crowdline::unit_result const& result = r;
        if (!result.agent || !result.worker || !result.agent_state.is_object()) continue;
        auto const outputs = result.agent_state.find("outputs");
        if (outputs == result.agent_state.end() || !outputs->is_object()) continue;
        out.push_back({result.unit.assignment.value(), result.worker->name, result.agent->id.value(),
                       result.agent_state.value("inputs", nlohmann::json(nullptr)), *outputs});
    }
    return out;
}

/// The label fields of a run's answers: every output key whose value is a label (label_value::of) in every
/// answer that has it. Sorted by name.
inline std::vector<std::string> label_fields(std::vector<run_answer> const& answers) {
    std::map<std::string, bool> scalar;  // every key seen → all its values are labels
    for (auto const& a : answers)
        for (auto const& [key, value] : a.outputs.items()) {
            auto [it, fresh] = scalar.try_emplace(key, true);
            it->second = it->second && label_value::of(value).has_value();
        }
    std::vector<std::string> out;
    for (auto const& [key, ok] : scalar)
        if (ok) out.push_back(key);
    return out;
}

/// `(item, worker, label)`: the input of every measure.
using label_triple = crowdline::quality::basic_annotation<std::int64_t, std::string, label_value>;

/// The triples of `field`: one per answer that has it. A value that is not a label is an error naming the
/// run, the agent and the value (the field was asked for by name: it is refused, not skipped).
inline std::vector<label_triple> triples_of(std::vector<run_answer> const& answers, std::string const& field,
                                            named_run const& run) {
    std::vector<label_triple> out;
    for (auto const& a : answers) {
        auto const v = a.outputs.find(field);
        if (v == a.outputs.end()) continue;
        auto label = label_value::of(*v);
        if (!label)
            throw crowdline::config_error(
                "--field " + field + ": in task run " + std::to_string(run.first.id.value()) + " (\"" + run.second +
                "\"), agent " + std::to_string(a.agent) + " answered " + v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                ": not a label (a string, a boolean or an integer), so the field has no agreement to measure");
        out.push_back({a.item, a.worker, std::move(*label)});
    }
    return out;
}

/// The fields to report for each run: `--field` if given (refused when no chosen run has it), otherwise
/// each run's label fields.
struct chosen_fields {
    std::vector<std::vector<std::string>> per_run;
    std::vector<std::string> notes;  ///< why a run has none ("" when it has some)
};

inline chosen_fields pick_fields(std::vector<std::vector<run_answer>> const& answers, std::string const& field,
                                 std::vector<named_run> const& runs) {
    chosen_fields out;
    bool found = false;
    std::set<std::string> seen;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        auto const& run_answers = answers[r];
        std::vector<std::string> fields;
        std::string note;
        if (run_answers.empty()) {
            note = "no answers yet";
        } else if (!field.empty()) {
            bool has = false;
            for (auto const& a : run_answers) {
                if (a.outputs.contains(field)) has = true;
                for (auto const& [key, value] : a.outputs.items()) seen.insert(key);
            }
            if (has) fields.push_back(field);
            else note = "no answer has the field \"" + field + "\"";
            found = found || has;
        } else {
            fields = label_fields(run_answers);
            if (fields.empty())
                note = "no label field: no output field holds only strings, booleans or integers";
        }
        out.per_run.push_back(std::move(fields));
        out.notes.push_back(std::move(note));
    }
    if (!field.empty() && !found) {
        std::string known;
        for (auto const& k : seen) known += (known.empty() ? "" : ", ") + k;
        throw crowdline::config_error("--field " + field + ": no answer " +
                                      (runs.size() == 1 ? "of task run " + std::to_string(runs.front().first.id.value())
                                                        : std::string("in the task runs")) +
                                      " has this field (" +
                                      (known.empty() ? std::string("there are no answers") : "the answers have " + known) + ")");
    }
    return out;
}

/// A number, or null where the coefficient is not defined.
inline nlohmann::json number_or_null(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

/// The report of one run: its fields' agreement and aggregation figures, and each worker's. Dawid–Skene
/// runs with its defaults (quality::dawid_skene_options{}).
inline nlohmann::json run_quality(named_run const& run, std::vector<run_answer> const& answers,
                                  std::vector<std::string> const& fields, std::string const& note) {
    namespace q = crowdline::quality;
    nlohmann::json report{{"task_run_id", run.first.id.value()}, {"task_name", run.second},
                          {"fields", nlohmann::json::array()}, {"workers", nlohmann::json::array()}};
    if (!note.empty()) report["note"] = note;
    std::map<std::string, std::size_t> answered;  // worker → answers in the run
    for (auto const& a : answers) ++answered[a.worker];
    std::map<std::string, nlohmann::json> by_field;  // worker → {field: estimated accuracy}
    for (auto const& field : fields) {
        auto const triples = triples_of(answers, field, run);
        auto const data = q::make_dataset(triples);
        auto const votes = q::majority_vote(data);
        auto const ds = q::dawid_skene(data);
        std::size_t ties = 0;
        for (auto const& v : votes) ties += v.tie ? 1 : 0;
        report["fields"].push_back({{"field", field},
                                    {"items", data.items().size()},
                                    {"annotations", data.size()},
                                    {"krippendorff_alpha", number_or_null(q::krippendorff_alpha(data))},
                                    {"fleiss_kappa", number_or_null(q::fleiss_kappa(data))},
                                    {"majority_vote", {{"ties", ties}}},
                                    {"dawid_skene", {{"iterations", ds.iterations}, {"converged", ds.converged}}}});
        for (auto const& w : ds.workers) by_field[w.worker][field] = w.accuracy;
    }
    for (auto const& [worker, n] : answered) {
        auto const estimates = by_field.contains(worker) ? by_field[worker] : nlohmann::json::object();
        auto const first = fields.empty() ? estimates.end() : estimates.find(fields.front());
        report["workers"].push_back({{"worker", worker},
                                     {"annotations", n},
                                     {"gold_accuracy", nullptr},  // gold answers are not kept in the store yet
                                     {"estimated_accuracy", first == estimates.end() ? nlohmann::json(nullptr) : *first},
                                     {"estimated_accuracy_by_field", estimates}});
    }
    return report;
}

/// What `crowdline quality` needs besides the store and its runs.
struct quality_options {
    std::string db{};     ///< the file, as named in messages
    std::string field{};  ///< empty: every label field
    bool json = false;    ///< one JSON document instead of tables
};

namespace detail {

inline std::string fixed(nlohmann::json const& v, int digits = 3) {
    if (v.is_null()) return "-";
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v.get<double>();
    return s.str();
}

inline std::string padded(std::string text, std::size_t width, bool right = false) {
    if (text.size() >= width) return text + " ";
    auto const pad = std::string(width - text.size(), ' ');
    return (right ? pad + text : text + pad) + " ";
}

/// One run's report as a table: its fields, then its workers.
inline void print_run_table(std::ostream& out, nlohmann::json const& run) {
    out << "task run " << run["task_run_id"] << " of \"" << run["task_name"].get<std::string>() << "\"";
    if (run.contains("note")) {
        out << ": " << run["note"].get<std::string>() << "\n";
        if (run["workers"].empty()) return;
    } else {
        out << "\n";
    }
    if (!run["fields"].empty()) {
        out << "  " << padded("field", 16) << padded("items", 6, true) << padded("annotations", 11, true)
            << padded("alpha", 7, true) << padded("fleiss", 7, true) << padded("ties", 5, true) << "dawid-skene\n";
        for (auto const& f : run["fields"]) {
            auto const& ds = f["dawid_skene"];
            out << "  " << padded(f["field"].get<std::string>(), 16) << padded(f["items"].dump(), 6, true)
                << padded(f["annotations"].dump(), 11, true) << padded(fixed(f["krippendorff_alpha"]), 7, true)
                << padded(fixed(f["fleiss_kappa"]), 7, true) << padded(f["majority_vote"]["ties"].dump(), 5, true)
                << ds["iterations"] << " rounds, " << (ds["converged"].get<bool>() ? "converged" : "not converged")
                << "\n";
        }
    }
    auto const first = run["fields"].empty() ? std::string() : run["fields"][0]["field"].get<std::string>();
    out << "  " << padded("worker", 16) << padded("annotations", 11, true) << padded("gold", 5, true)
        << "estimated accuracy" << (first.empty() ? "" : " (" + first + ")") << "\n";
    for (auto const& w : run["workers"]) {
        out << "  " << padded(w["worker"].get<std::string>(), 16) << padded(w["annotations"].dump(), 11, true)
            << padded(fixed(w["gold_accuracy"]), 5, true) << fixed(w["estimated_accuracy"]);
        auto const& by_field = w["estimated_accuracy_by_field"];
        if (by_field.size() > 1) {
            out << "  (";
            bool comma = false;
            for (auto const& [f, v] : by_field.items()) {
                out << (comma ? ", " : "") << f << " " << fixed(v);
                comma = true;
            }
            out << ")";
        }
        out << "\n";
    }
}

}  // namespace detail

/// `crowdline quality`: the report of each run in `runs`, as one JSON document ({"runs": [...]}) or as
/// tables. No run at all is said (to `err` under --json, whose document is then {"runs": []}).
template <class Store>
int print_quality(Store& db, std::vector<named_run> const& runs, quality_options const& options, std::ostream& out,
                  std::ostream& err) {
    std::vector<std::vector<run_answer>> answers;
    for (auto const& r : runs) answers.push_back(answers_of(db, r.first.id));
    auto const chosen = pick_fields(answers, options.field, runs);
    nlohmann::json document{{"runs", nlohmann::json::array()}};
    for (std::size_t r = 0; r < runs.size(); ++r)
        document["runs"].push_back(run_quality(runs[r], answers[r], chosen.per_run[r], chosen.notes[r]));
    if (runs.empty()) (options.json ? err : out) << options.db << ": no task run yet: nothing to measure\n";
    if (options.json) {
        out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        for (std::size_t r = 0; r < runs.size(); ++r) {
            if (r > 0) out << "\n";
            detail::print_run_table(out, document["runs"][r]);
        }
        if (!runs.empty())
            out << "\nalpha: Krippendorff's (nominal); fleiss: Fleiss' kappa, only when every item has as many answers; "
                   "ties: items the majority vote cannot decide; estimated accuracy: Dawid-Skene's; gold: not kept "
                   "yet.\n";
    }
    return 0;
}

// ---- export --aggregate ----------------------------------------------------------------------------------

/// How `export --aggregate` chooses each item's label.
enum class aggregate_method { majority, dawid_skene };

/// `--aggregate NAME`; an unknown name is an error listing both.
inline aggregate_method parse_aggregate(std::string const& name) {
    if (name == "majority") return aggregate_method::majority;
    if (name == "dawid_skene") return aggregate_method::dawid_skene;
    throw crowdline::config_error("--aggregate: unknown method \"" + name + "\" (majority or dawid_skene)");
}

/// One JSON line per item and field of each run: the item's aggregated label, its confidence (majority:
/// share of the votes; dawid_skene: the posterior of the label) and the answers it came from. Returns the
/// number of lines; a stream that fails is an error saying after how many.
template <class Store>
std::size_t export_aggregate(Store& db, std::vector<named_run> const& runs, aggregate_method method,
                             std::string const& field, std::ostream& out, std::string const& out_name) {
    namespace q = crowdline::quality;
    std::vector<std::vector<run_answer>> answers;
    for (auto const& r : runs) answers.push_back(answers_of(db, r.first.id));
    auto const chosen = pick_fields(answers, field, runs);
    std::size_t lines = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        std::map<std::int64_t, nlohmann::json const*> inputs;  // item → what its first answer saw
        for (auto const& a : answers[r]) inputs.try_emplace(a.item, &a.inputs);
        for (auto const& f : chosen.per_run[r]) {
            auto const data = q::make_dataset(triples_of(answers[r], f, runs[r]));
            std::vector<nlohmann::json> items(data.items().size());
            if (method == aggregate_method::majority) {
                auto const votes = q::majority_vote(data);
                for (std::size_t i = 0; i < votes.size(); ++i)
                    items[i] = {{"label", votes[i].label.to_json()}, {"confidence", votes[i].share}, {"tie", votes[i].tie}};
            } else {
                auto const ds = q::dawid_skene(data);
                for (std::size_t i = 0; i < ds.items.size(); ++i)
                    items[i] = {{"label", ds.items[i].label.to_json()}, {"confidence", ds.items[i].confidence}};
            }
            for (std::size_t i = 0; i < items.size(); ++i) {
                auto const item = data.items()[i];
                auto given = nlohmann::json::array();
                for (auto const& e : data.annotations_of(i))
                    given.push_back({{"worker", data.workers()[e.worker]}, {"label", data.labels()[e.label].to_json()}});
                nlohmann::json line{{"task_run_id", runs[r].first.id.value()},
                                    {"task_name", runs[r].second},
                                    {"assignment_id", item},
                                    {"inputs", *inputs.at(item)},
                                    {"field", f},
                                    {"answers", std::move(given)}};
                line.update(items[i]);
                out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
                if (!out) throw crowdline::error(out_name + ": writing failed after " + std::to_string(lines) + " lines");
                ++lines;
            }
        }
    }
    return lines;
}

}  // namespace crowdline_serve
