// Fuzz target: the campaign file through `crowdline_serve::parse_campaign`, with the files it names read
// from memory: tasks.jsonl, topics.jsonl, workers.json, form.json and bad.jsonl are small fixed texts; any
// other path throws as the program's reader does.
//
// Input: the campaign file's text.
// Invariants (a broken one aborts):
//  - a refusal is a `crowdline::error` (config_error) naming campaign.json, never another exception;
//  - accepted: at least one run; names unique and valid task names; overlap >= 1 (or full) and <= the cap;
//    steal_after_seconds in range; tasks and roster non-empty, worker names unique; the task settings
//    validate and carry the run's name; the form builds with the tasks as items and every task holds its
//    placeholders; each task routes by a string field when routing is on; store and server are objects.

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/config/args.hpp>

#include "../../apps/crowdline/campaign_file.hpp"
#include "loader_common.hpp"

namespace {

std::string fake_read(std::string const& path) {
    if (path == "tasks.jsonl")
        return "{\"lang\": \"en\", \"text\": \"A lovely day.\"}\n{\"lang\": \"fr\", \"text\": \"Quel ennui.\"}\n";
    if (path == "topics.jsonl") return "{\"text\": \"The match ended 2-1.\"}\n\n{\"text\": \"Parliament voted.\"}\n";
    if (path == "bad.jsonl") return "{\"lang\": \"en\", \"text\": \"ok\"}\n{\"lang\": 3}\n";
    if (path == "workers.json")
        return R"([{"name": "alice", "languages": ["en", "fr"]}, {"name": "bruno", "languages": ["fr"], "desk": ["sport"]}])";
    if (path == "form.json")
        return R"({"fields": [{"type": "display_text", "name": "t", "label": "Text", "text": "{{text}}"},
                              {"type": "single_choice", "name": "topic", "label": "Topic", "options": ["sport", "politics"]}]})";
    if (path == "throws.json") throw std::runtime_error("a reader failing its own way");
    throw crowdline::config_error(path + ": cannot open (No such file or directory)");
}

void check_run(crowdline_serve::campaign_run const& r, std::string const& at) {
    fuzz::check(!crowdline::providers::worker_name_problem(r.name, crowdline_serve::max_run_name), at + ": a bad name");
    fuzz::check(r.full_overlap || (r.overlap >= 1 && r.overlap <= crowdline_serve::max_campaign_overlap),
                at + ": overlap out of range: " + std::to_string(r.overlap));
    fuzz::check(r.steal_after_seconds >= 0 && r.steal_after_seconds <= crowdline_serve::max_steal_after_seconds,
                at + ": steal_after_seconds out of range");
    fuzz::check(!r.tasks.empty() && !r.roster.empty(), at + ": no tasks or no workers");
    fuzz::check(r.workers.is_array() && r.workers.size() == r.roster.size(), at + ": roster and workers differ");
    std::set<std::string> names;
    for (auto const& w : r.roster) fuzz::check(names.insert(w.name).second, at + ": two workers named " + w.name);
    fuzz::check(r.task.task_name == r.name, at + ": task_name is not the run's name");
    auto const placeholders = crowdline_serve::form_placeholders(r.form);
    for (auto const& t : r.tasks) {
        fuzz::check(t.is_object(), at + ": a task that is not an object");
        for (auto const& key : placeholders) fuzz::check(t.contains(key), at + ": a task without " + key);
        if (!r.route_by.empty())
            fuzz::check(t.contains(r.route_by) && t[r.route_by].is_string(), at + ": a task not routable");
    }
    try {
        crowdline::config::validate(r.task);
        auto form = r.form;
        form["items"] = r.tasks;
        (void)crowdline::blueprints::static_form::from_json(form);
        crowdline::providers::in_house provider{r.roster};
        for (auto const& w : r.roster) (void)w.profile.get<crowdline_serve::routed_profile>();
        (void)r.form.dump();
        for (auto const& t : r.tasks) (void)t.dump();
    } catch (...) {
        fuzz::unexpected_exception(at + ": using an accepted run");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const text(reinterpret_cast<char const*>(data), size);
    std::string const file = "campaign.json";
    crowdline_serve::campaign_spec spec;
    if (!fuzz::accepted(file, [&] { spec = crowdline_serve::parse_campaign(text, file, fake_read); })) return 0;

    fuzz::check(!spec.runs.empty(), "an accepted campaign without runs");
    fuzz::check(!spec.db.empty(), "an accepted campaign with an empty db");
    fuzz::check(spec.store.is_object() && spec.server.is_object(), "store or server settings that are not objects");
    std::set<std::string> names;
    for (std::size_t i = 0; i < spec.runs.size(); ++i) {
        auto const& r = spec.runs[i];
        fuzz::check(names.insert(r.name).second, "two runs named " + r.name);
        check_run(r, "/runs/" + std::to_string(i));
    }
    return 0;
}
