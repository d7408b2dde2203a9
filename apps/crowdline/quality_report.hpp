#pragma once
// `crowdline quality` and `crowdline export --aggregate`: the figures of crowdline/quality on the answers a
// database holds, per run. The answers, their label fields and each run's report are the library's
// (quality/run_report.hpp: item = the unit's assignment, worker = the agent's worker, label = one field of
// `state["outputs"]`); here are what the command line adds: `--field` across runs, the table, and the
// aggregated export.

#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/quality/run_report.hpp>

namespace crowdline_serve {

using crowdline::quality::run_answer;

/// A run as the commands name it: the run and its task's name.
using named_run = std::pair<crowdline::task_run, std::string>;

/// `f()`, with the library's refusal of a field that holds a value that is not a label (only a field named
/// by --field can) turned into a command-line error naming the flag and the run.
template <class F>
auto refusing_field(std::string const& field, named_run const& run, F f) {
    try {
        return f();
    } catch (crowdline::invalid_argument const& e) {
        throw crowdline::config_error("--field " + field + ": in task run " + std::to_string(run.first.id.value()) +
                                      " (\"" + run.second + "\"): " + e.what());
    }
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
        auto const& these = answers[r];
        std::vector<std::string> fields;
        std::string note;
        if (these.empty()) {
            note = "no answers yet";
        } else if (!field.empty()) {
            bool has = false;
            for (auto const& a : these) {
                if (a.outputs.contains(field)) has = true;
                for (auto const& [key, value] : a.outputs.items()) seen.insert(key);
            }
            if (has) fields.push_back(field);
            else note = "no answer has the field \"" + field + "\"";
            found = found || has;
        } else {
            fields = crowdline::quality::label_fields(these);
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

/// The report of one run (quality::run_report) with its id and name, and why it has no field if so.
inline nlohmann::json run_quality(named_run const& run, std::vector<run_answer> const& answers,
                                  std::vector<std::string> const& fields, std::string const& note,
                                  std::map<std::string, crowdline::quality::gold_tally> const& gold) {
    nlohmann::json report{{"task_run_id", run.first.id.value()}, {"task_name", run.second}};
    report.update(refusing_field(fields.empty() ? std::string() : fields.front(), run,
                                 [&] { return crowdline::quality::run_report(answers, fields, gold); }));
    if (!note.empty()) report["note"] = note;
    return report;
}

/// What `crowdline quality` needs besides the store and its runs.
struct quality_options {
    std::string db{};     ///< the file, as named in messages
    std::string field{};  ///< empty: every label field
    bool json = false;    ///< one JSON document instead of tables
};

/// The text form of a run's report (`crowdline quality` without --json).
namespace quality_table {

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

}  // namespace quality_table

/// `crowdline quality`: the report of each run in `runs`, as one JSON document ({"runs": [...]}) or as
/// tables. No run at all is said (to `err` under --json, whose document is then {"runs": []}).
template <class Store>
int print_quality(Store& db, std::vector<named_run> const& runs, quality_options const& options, std::ostream& out,
                  std::ostream& err) {
    std::vector<std::vector<run_answer>> answers;
    for (auto const& r : runs) answers.push_back(crowdline::quality::run_answers(db, r.first.id));
    auto const chosen = pick_fields(answers, options.field, runs);
    nlohmann::json document{{"runs", nlohmann::json::array()}};
    for (std::size_t r = 0; r < runs.size(); ++r)
        document["runs"].push_back(run_quality(runs[r], answers[r], chosen.per_run[r], chosen.notes[r],
                                               crowdline::quality::gold_accuracy(db, runs[r].first.id)));
    if (runs.empty()) (options.json ? err : out) << options.db << ": no task run yet: nothing to measure\n";
    if (options.json) {
        out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        for (std::size_t r = 0; r < runs.size(); ++r) {
            if (r > 0) out << "\n";
            quality_table::print_run_table(out, document["runs"][r]);
        }
        if (!runs.empty())
            out << "\nalpha: Krippendorff's (nominal); fleiss: Fleiss' kappa, only when every item has as many answers; "
                   "ties: items the majority vote cannot decide; estimated accuracy: Dawid-Skene's; gold: the share of "
                   "gold units answered right (runs with gold units only).\n";
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
    for (auto const& r : runs) answers.push_back(crowdline::quality::run_answers(db, r.first.id));
    auto const chosen = pick_fields(answers, field, runs);
    std::size_t lines = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        std::map<std::int64_t, nlohmann::json const*> inputs;  // item → what its first answer saw
        for (auto const& a : answers[r]) inputs.try_emplace(a.item, &a.inputs);
        for (auto const& f : chosen.per_run[r]) {
            auto const data =
                q::make_dataset(refusing_field(f, runs[r], [&] { return q::field_annotations(answers[r], f); }));
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
