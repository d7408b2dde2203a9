// The campaign file's loader (apps/crowdline/campaign_file.hpp): a valid campaign gives the right spec;
// every refusal names the file and the JSON pointer, and the file a run names when the problem is in it.
// Files come from memory through the reader, as the fuzz target's do.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../apps/crowdline/campaign_file.hpp"

using json = nlohmann::json;
using crowdline_serve::campaign_spec;
using crowdline_serve::parse_campaign;

namespace {

/// Files by path; reading another one fails as the program's reader does. Remembers what was read.
struct fake_files {
    std::map<std::string, std::string> files{
        {"tasks.jsonl", "{\"lang\": \"en\", \"text\": \"A lovely day.\"}\n"
                        "\n"
                        "{\"lang\": \"fr\", \"text\": \"Quel ennui.\"}\n"},
        {"workers.json", R"([{"name": "alice", "languages": ["en", "fr"]}, {"name": "bruno", "languages": ["fr"]}])"},
        {"topics_form.json",
         R"({"fields": [{"type": "display_text", "name": "t", "label": "Text", "text": "{{text}}"},
                        {"type": "single_choice", "name": "topic", "label": "Topic", "options": ["sport", "politics"]}]})"},
    };
    std::vector<std::string> read;
    crowdline_serve::read_file_fn reader() {
        return [this](std::string const& path) {
            read.push_back(path);
            auto it = files.find(path);
            if (it == files.end()) throw crowdline::config_error(path + ": cannot open (No such file or directory)");
            return it->second;
        };
    }
};

/// Two runs: sentiment from files (routed by language), topics inline (anyone, every annotator).
json two_runs() {
    return json::parse(R"({
      "db": "campaign.db",
      "store": {"page_size": 8192},
      "server": {"port": 8080},
      "runs": [
        {"name": "sentiment", "tasks": "tasks.jsonl", "workers": "workers.json",
         "routing": {"overlap": 2.5, "steal_after_seconds": 30},
         "task": {"task_reward": 0.5, "task_tags": ["nlp"], "assignment_duration_in_seconds": 600}},
        {"name": "topics", "provider": "in_house",
         "tasks": [{"text": "The match ended 2-1."}, {"text": "Parliament voted today."}],
         "workers": [{"name": "ana", "desk": "sport"}, {"name": "ben"}],
         "form": "topics_form.json",
         "routing": {"route_by": "", "overlap": "full"},
         "task": {"task_title": "Topics", "task_description": "Pick the topic of each text"}}
      ]})");
}

campaign_spec parsed(json const& campaign, fake_files& files, std::string const& file = "campaign.json") {
    return parse_campaign(campaign.dump(), file, files.reader());
}

/// The message the campaign is refused with ("accepted" when it is not).
std::string refusal(json const& campaign, fake_files files = {}) {
    try {
        (void)parsed(campaign, files);
        return "accepted";
    } catch (crowdline::config_error const& e) {
        return e.what();
    }
}

/// two_runs() with one value changed (or removed: null) at a JSON pointer.
json with(std::string const& at, json value) {
    auto c = two_runs();
    json::json_pointer p(at);
    if (value.is_null()) c[p.parent_pointer()].erase(p.back());
    else c[p] = std::move(value);
    return c;
}

}  // namespace

TEST_CASE("campaign file: a valid two-run campaign gives the spec it declares", "[campaign]") {
    fake_files files;
    auto const spec = parsed(two_runs(), files);
    CHECK(spec.db == "campaign.db");
    CHECK(spec.store == json{{"page_size", 8192}});
    CHECK(spec.server == json{{"port", 8080}});
    REQUIRE(spec.runs.size() == 2);

    auto const& s = spec.runs[0];
    CHECK(s.name == "sentiment");
    REQUIRE(s.tasks.size() == 2);  // the blank line skipped
    CHECK(s.tasks[1] == json{{"lang", "fr"}, {"text", "Quel ennui."}});
    REQUIRE(s.roster.size() == 2);
    CHECK(s.roster[0].name == "alice");
    CHECK(s.roster[0].profile["keys"] == json{"en", "fr"});
    CHECK(s.roster[0].token.empty());
    CHECK(s.workers == json::parse(files.files["workers.json"]));
    CHECK(s.form == crowdline_serve::default_form());
    CHECK(s.route_by == "lang");
    CHECK(s.profile_key == "languages");
    CHECK(s.overlap == 2.5);
    CHECK_FALSE(s.full_overlap);
    CHECK(s.steal_after_seconds == 30);
    CHECK(s.task.task_name == "sentiment");
    CHECK(s.task.task_reward == 0.5);
    CHECK(s.task.task_tags == std::vector<std::string>{"nlp"});
    CHECK(s.task.assignment_duration_in_seconds == 600);
    CHECK(s.task.allowed_concurrent == 1);  // the program's default, kept
    CHECK(s.task.task_title == crowdline_serve::default_task_args().task_title);

    auto const& t = spec.runs[1];
    CHECK(t.name == "topics");
    REQUIRE(t.tasks.size() == 2);
    CHECK(t.tasks[0] == json{{"text", "The match ended 2-1."}});
    REQUIRE(t.roster.size() == 2);
    CHECK(t.roster[0].profile == json{{"desk", "sport"}, {"keys", json::array()}});
    CHECK(t.form == json::parse(files.files["topics_form.json"]));
    CHECK(t.route_by.empty());
    CHECK(t.full_overlap);
    CHECK(t.steal_after_seconds == 60);
    CHECK(t.task.task_name == "topics");
    CHECK(t.task.task_title == "Topics");

    CHECK(files.read == std::vector<std::string>{"tasks.jsonl", "workers.json", "topics_form.json"});
}

TEST_CASE("campaign file: the defaults are the program's", "[campaign]") {
    fake_files files;
    auto const spec = parsed(json::parse(R"({"runs": [{"name": "n", "tasks": "tasks.jsonl", "workers": "workers.json"}]})"),
                             files);
    CHECK(spec.db == "crowdline.db");
    CHECK(spec.store == json::object());
    CHECK(spec.server == json::object());
    auto const& r = spec.runs.at(0);
    CHECK(r.overlap == 2);
    CHECK_FALSE(r.full_overlap);
    CHECK(r.steal_after_seconds == 60);
    CHECK(r.route_by == "lang");
    CHECK(r.form == crowdline_serve::default_form());
    auto expected = crowdline_serve::default_task_args();
    expected.task_name = "n";
    CHECK(crowdline::config::dump(r.task) == crowdline::config::dump(expected));
}

TEST_CASE("campaign file: paths are relative to the campaign's folder", "[campaign]") {
    fake_files files;
    files.files = {{"camp/tasks.jsonl", files.files["tasks.jsonl"]}, {"/shared/workers.json", files.files["workers.json"]}};
    auto c = json::parse(R"({"runs": [{"name": "n", "tasks": "tasks.jsonl", "workers": "/shared/workers.json"}]})");
    auto const spec = parsed(c, files, "camp/campaign.json");
    CHECK(spec.runs.at(0).tasks.size() == 2);
    CHECK(files.read == std::vector<std::string>{"camp/tasks.jsonl", "/shared/workers.json"});
    CHECK(refusal(c) == "campaign.json: /runs/0/workers: /shared/workers.json: cannot open (No such file or directory)");
}

TEST_CASE("campaign file: the top level", "[campaign]") {
    CHECK(refusal(json::array()) == "campaign.json: expected a JSON object ({\"runs\": [...]}), got array");
    CHECK(refusal(with("/colour", "blue")) == "campaign.json: /colour: unknown key (expected one of: db, store, server, runs)");
    CHECK(refusal(with("/runs", nullptr)) == "campaign.json: /runs: missing (an array of task runs)");
    CHECK(refusal(with("/runs", json::array())) == "campaign.json: /runs: must hold at least one task run");
    CHECK(refusal(with("/runs", json::object())) == "campaign.json: /runs: expected an array of task runs, got {}");
    CHECK(refusal(with("/runs/1", "topics")) == "campaign.json: /runs/1: expected an object (a task run), got \"topics\"");
    CHECK(refusal(with("/db", "")) == "campaign.json: /db: must not be empty");
    CHECK(refusal(with("/db", 3)) == "campaign.json: /db: expected a string, got 3");
    CHECK(refusal(with("/store", "fast")) == "campaign.json: /store: expected an object of settings, got \"fast\"");
    CHECK(refusal(with("/server", json::array())) == "campaign.json: /server: expected an object of settings, got []");
}

TEST_CASE("campaign file: JSON that does not parse, or nests too deep, names the line", "[campaign]") {
    fake_files files;
    CHECK_THROWS_WITH(parse_campaign("{\"runs\": [\n  {\"name\": }\n]}", "campaign.json", files.reader()),
                      Catch::StartsWith("campaign.json:2:") && Catch::Contains("invalid JSON"));
    CHECK_THROWS_WITH(parse_campaign(std::string(200, '[') + std::string(200, ']'), "campaign.json", files.reader()),
                      Catch::StartsWith("campaign.json:1:") && Catch::Contains("nested deeper than the limit of 128"));
}

TEST_CASE("campaign file: run names and unknown keys in a run", "[campaign]") {
    CHECK(refusal(with("/runs/1/name", "sentiment")) ==
          "campaign.json: /runs/1/name: \"sentiment\" is also the name of /runs/0 (each run is a task of its own)");
    CHECK(refusal(with("/runs/0/name", nullptr)) == "campaign.json: /runs/0/name: missing (the task name)");
    CHECK(refusal(with("/runs/0/name", "")) == "campaign.json: /runs/0/name: must not be empty");
    CHECK(refusal(with("/runs/0/name", 7)) == "campaign.json: /runs/0/name: expected a string, got 7");
    CHECK(refusal(with("/runs/0/name", std::string(257, 'n'))) ==
          "campaign.json: /runs/0/name: is 257 bytes, over the limit of 256");
    CHECK(refusal(with("/runs/0/name", std::string(256, 'n'))) == "accepted");
    CHECK(refusal(with("/runs/0/name", "a\tb")) == "campaign.json: /runs/0/name: contains a control character");
    CHECK(refusal(with("/runs/1/colour", "blue")) ==
          "campaign.json: /runs/1/colour: unknown key (expected one of: name, tasks, workers, provider, form, routing, "
          "task)");
    CHECK(refusal(with("/runs/1/a~0b", 1)) == "campaign.json: /runs/1/a~0b: unknown key (expected one of: name, tasks, "
                                               "workers, provider, form, routing, task)");
    CHECK(refusal(with("/runs/0/routing/speed", 1)) ==
          "campaign.json: /runs/0/routing/speed: unknown key (expected one of: route_by, profile_key, overlap, "
          "steal_after_seconds)");
}

TEST_CASE("campaign file: what crowdline serve does not do yet is refused by name", "[campaign]") {
    for (auto key : {"onboarding", "screening", "gold", "qualifications", "live", "chat"})
        CHECK(refusal(with(std::string("/runs/1/") + key, json::object())) ==
              std::string("campaign.json: /runs/1/") + key + ": not supported yet by crowdline serve");
    CHECK(refusal(with("/runs/0/provider", "mturk")) ==
          "campaign.json: /runs/0/provider: expected \"in_house\" or {\"prolific\": {…}}, got \"mturk\"");
}

TEST_CASE("campaign file: a Prolific run names its settings and the variables holding its secrets", "[campaign]") {
    fake_files files;
    auto c = two_runs();
    c["runs"][0].erase("workers");
    c["runs"][0]["provider"] = {{"prolific", {{"token_env", "PROLIFIC_TOKEN"}, {"workspace_id", "ws1"},
                                              {"reward_cents", 120}, {"places", 10},
                                              {"webhook_secret_env", "PROLIFIC_HOOK_SECRET"}}}};
    auto spec = parsed(c, files);
    REQUIRE(spec.runs[0].prolific);
    CHECK(spec.runs[0].prolific->token_env == "PROLIFIC_TOKEN");
    CHECK(spec.runs[0].prolific->workspace_id == "ws1");
    CHECK(spec.runs[0].prolific->reward_cents == 120);
    CHECK(spec.runs[0].prolific->places == 10);
    CHECK(spec.runs[0].prolific->webhook_secret_env == "PROLIFIC_HOOK_SECRET");
    CHECK_FALSE(spec.runs[1].prolific);
    CHECK(spec.runs[0].roster.empty());

    auto bad = [&](std::string const& at, json value) {
        auto b = c;
        json::json_pointer p(at);
        if (value.is_null()) b[p.parent_pointer()].erase(p.back());
        else b[p] = std::move(value);
        return refusal(b);
    };
    CHECK(bad("/runs/0/provider", "prolific") ==
          "campaign.json: /runs/0/provider: expected {\"prolific\": {\"token_env\": …, \"workspace_id\": …}} (its "
          "settings), got \"prolific\"");
    CHECK(bad("/runs/0/provider/prolific/token_env", nullptr) ==
          "campaign.json: /runs/0/provider/prolific/token_env: missing (the environment variable holding the API token)");
    CHECK(bad("/runs/0/provider/prolific/token_env", "MY TOKEN") ==
          "campaign.json: /runs/0/provider/prolific/token_env: expected the name of an environment variable (letters, "
          "digits, _), got \"MY TOKEN\"");
    CHECK(bad("/runs/0/provider/prolific/places", 0) ==
          "campaign.json: /runs/0/provider/prolific/places: expected a whole number >= 1, got 0");
    CHECK(bad("/runs/0/provider/prolific/reward_cents", 1.5) ==
          "campaign.json: /runs/0/provider/prolific/reward_cents: expected a whole number >= 0, got 1.5");
    CHECK(bad("/runs/0/provider/prolific/token", "secret") ==
          "campaign.json: /runs/0/provider/prolific/token: unknown key (expected one of: token_env, workspace_id, "
          "reward_cents, places, webhook_secret_env)");
    CHECK(bad("/runs/0/provider/mturk", json::object()) ==
          "campaign.json: /runs/0/provider/mturk: unknown key (expected one of: prolific)");
    CHECK(bad("/runs/0/workers", "workers.json") ==
          "campaign.json: /runs/0/workers: a Prolific run has no roster (its workers are Prolific's participants)");
    // Participants bring no profile: a Prolific run is routed by its overlap alone.
    CHECK(spec.runs[0].route_by.empty());
    CHECK(bad("/runs/0/routing/route_by", "lang") ==
          "campaign.json: /runs/0/routing/route_by: a Prolific run is not routed by a task field (its participants have "
          "no profile to match); remove it");
    CHECK(bad("/runs/0/routing/overlap", "full") ==
          "campaign.json: /runs/0/routing/overlap: a Prolific run takes a number of annotations per task (full and "
          "adaptive overlap are not served with Prolific)");
}

TEST_CASE("campaign file: adaptive overlap, checked key by key; the field is the form's single_choice", "[campaign]") {
    fake_files files;
    auto const adaptive = [](json settings) { return json{{"adaptive", std::move(settings)}}; };
    {
        auto const spec = parsed(with("/runs/0/routing/overlap", adaptive({{"min", 2}, {"max", 5}, {"agreement", 0.8}})), files);
        REQUIRE(spec.runs[0].adaptive);
        CHECK(spec.runs[0].adaptive->min == 2);
        CHECK(spec.runs[0].adaptive->max == 5);
        CHECK(spec.runs[0].adaptive->agreement == 0.8);
        CHECK(spec.runs[0].adaptive->field == "sentiment");  // the default form's single_choice field
        CHECK_FALSE(spec.runs[1].adaptive);
    }
    {
        auto const spec = parsed(with("/runs/1/routing/overlap", adaptive({{"min", 1}, {"max", 3}, {"field", "topic"}})), files);
        REQUIRE(spec.runs[1].adaptive);
        CHECK(spec.runs[1].adaptive->field == "topic");
        CHECK(spec.runs[1].adaptive->agreement == 0.8);  // the default
        CHECK_FALSE(spec.runs[1].full_overlap);
    }
    auto const at = std::string("campaign.json: /runs/1/routing/overlap");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"min", 0}}))) == at + "/adaptive/min: must be >= 1");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"min", 3}, {"max", 2}}))) ==
          at + "/adaptive/max: must be >= min (3)");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"max", 21}}))) == at + "/adaptive/max: must be <= 20");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"min", 1.5}}))) ==
          at + "/adaptive/min: expected a whole number, got 1.5");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"agreement", 1.5}}))) ==
          at + "/adaptive/agreement: must be in (0, 1]");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"agreement", 0}}))) ==
          at + "/adaptive/agreement: must be in (0, 1]");
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"spread", 1}}))).starts_with(at + "/adaptive/spread: unknown key"));
    CHECK(refusal(with("/runs/1/routing/overlap", json{{"dynamic", 1}})).starts_with(at + "/dynamic: unknown key"));
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive({{"field", "t"}}))) ==
          at + "/adaptive/field: the form has no single_choice field \"t\"");  // display text, not a choice
    files.files["topics_form.json"] = R"({"fields": [{"type": "display_text", "name": "t", "label": "Text", "text": "{{text}}"}]})";
    CHECK(refusal(with("/runs/1/routing/overlap", adaptive(json::object())), files) ==
          at + "/adaptive: adaptive overlap compares answers of a single_choice field, and the form has none");
}

TEST_CASE("campaign file: routing", "[campaign]") {
    CHECK(refusal(with("/runs/1/routing/overlap", 0)) == "campaign.json: /runs/1/routing/overlap: must be >= 1");
    CHECK(refusal(with("/runs/1/routing/overlap", 0.5)) == "campaign.json: /runs/1/routing/overlap: must be >= 1");
    CHECK(refusal(with("/runs/1/routing/overlap", 21)) == "campaign.json: /runs/1/routing/overlap: must be <= 20");
    CHECK(refusal(with("/runs/1/routing/overlap", "half")) ==
          "campaign.json: /runs/1/routing/overlap: expected a number >= 1, \"full\" or {\"adaptive\": {…}}, got \"half\"");
    CHECK(refusal(with("/runs/1/routing/overlap", true)) ==
          "campaign.json: /runs/1/routing/overlap: expected a number >= 1, \"full\" or {\"adaptive\": {…}}, got true");
    CHECK(refusal(with("/runs/1/routing/overlap", json{{"fixed", 2}})) ==
          "campaign.json: /runs/1/routing/overlap/fixed: unknown key (expected one of: adaptive)");
    CHECK(refusal(with("/runs/1/routing/overlap", 1)) == "accepted");
    CHECK(refusal(with("/runs/0/routing/steal_after_seconds", -1)) ==
          "campaign.json: /runs/0/routing/steal_after_seconds: must be >= 0");
    CHECK(refusal(with("/runs/0/routing/steal_after_seconds", 1.5)) ==
          "campaign.json: /runs/0/routing/steal_after_seconds: expected a whole number of seconds, got 1.5");
    CHECK(refusal(with("/runs/0/routing/steal_after_seconds", json(18446744073709551615ULL))) ==
          "campaign.json: /runs/0/routing/steal_after_seconds: must be <= 1000000000");
    CHECK(refusal(with("/runs/0/routing/steal_after_seconds", 0)) == "accepted");
    CHECK(refusal(with("/runs/0/routing", "lang")) == "campaign.json: /runs/0/routing: expected an object, got \"lang\"");
    CHECK(refusal(with("/runs/0/routing/route_by", 1)) == "campaign.json: /runs/0/routing/route_by: expected a string, got 1");
    CHECK(refusal(with("/runs/0/routing/profile_key", "")) == "campaign.json: /runs/0/routing/profile_key: must not be empty");
    // The routing field is checked in every task (here in a file), the profile key in every worker.
    CHECK(refusal(with("/runs/0/routing/route_by", "country")) ==
          "campaign.json: /runs/0/tasks: tasks.jsonl:1: field \"country\": missing or not a string (tasks are routed by it)");
    CHECK(refusal(with("/runs/1/routing/route_by", "lang")) ==
          "campaign.json: /runs/1/tasks/0/lang: missing or not a string (tasks are routed by it)");
    CHECK(refusal(with("/runs/1/routing/profile_key", "desk")) ==
          "campaign.json: /runs/1/workers/0/desk: expected a list of strings");
}

TEST_CASE("campaign file: tasks", "[campaign]") {
    fake_files files;
    files.files["bad.jsonl"] = "{\"lang\": \"en\", \"text\": \"ok\"}\n{\"lang\": \"en\", \"text\": \"ok\"}\n{\"lang\": \"en\"}\n";
    CHECK(refusal(with("/runs/0/tasks", "bad.jsonl"), files) ==
          "campaign.json: /runs/0/tasks: bad.jsonl:3: field \"text\": missing (the form shows {{text}})");
    files.files["broken.jsonl"] = "{\"lang\": \"en\", \"text\": \"ok\"}\n{\"lang\": \n";
    CHECK_THAT(refusal(with("/runs/0/tasks", "broken.jsonl"), files),
               Catch::StartsWith("campaign.json: /runs/0/tasks: broken.jsonl:2:") && Catch::Contains("invalid JSON"));
    files.files["empty.jsonl"] = "\n\n";
    CHECK(refusal(with("/runs/0/tasks", "empty.jsonl"), files) == "campaign.json: /runs/0/tasks: empty.jsonl: no tasks");
    CHECK(refusal(with("/runs/0/tasks", "missing.jsonl")) ==
          "campaign.json: /runs/0/tasks: missing.jsonl: cannot open (No such file or directory)");
    CHECK(refusal(with("/runs/0/tasks", nullptr)) ==
          "campaign.json: /runs/0/tasks: missing (a JSONL path or an array of tasks)");
    CHECK(refusal(with("/runs/0/tasks", "")) == "campaign.json: /runs/0/tasks: must not be an empty path");
    CHECK(refusal(with("/runs/0/tasks", std::string("tasks.jsonl\0x", 13))) ==
          "campaign.json: /runs/0/tasks: a path with a control character");
    CHECK(refusal(with("/runs/0/tasks", 5)) ==
          "campaign.json: /runs/0/tasks: expected a JSONL path or an array of task objects, got 5");
    CHECK(refusal(with("/runs/1/tasks", json::array())) == "campaign.json: /runs/1/tasks: no tasks");
    CHECK(refusal(with("/runs/1/tasks/1", "text")) == "campaign.json: /runs/1/tasks/1: expected an object, got string");
    CHECK(refusal(with("/runs/1/tasks/1", json{{"body", "x"}})) ==
          "campaign.json: /runs/1/tasks/1/text: missing (the form shows {{text}})");
}

TEST_CASE("campaign file: workers", "[campaign]") {
    fake_files files;
    files.files["nameless.json"] = R"([{"name": "alice"}, {"languages": ["en"]}])";
    CHECK(refusal(with("/runs/0/workers", "nameless.json"), files) ==
          "campaign.json: /runs/0/workers: nameless.json: [1].name: must be a non-empty string");
    files.files["broken.json"] = "[{\"name\": \"alice\"},\n {\"name\" \"bruno\"}]";
    CHECK_THAT(refusal(with("/runs/0/workers", "broken.json"), files),
               Catch::StartsWith("campaign.json: /runs/0/workers: broken.json:2:") && Catch::Contains("invalid JSON"));
    CHECK(refusal(with("/runs/0/workers", "missing.json")) ==
          "campaign.json: /runs/0/workers: missing.json: cannot open (No such file or directory)");
    CHECK(refusal(with("/runs/0/workers", nullptr)) ==
          "campaign.json: /runs/0/workers: missing (a roster path or an array of workers)");
    CHECK(refusal(with("/runs/1/workers", json::array())) == "campaign.json: /runs/1/workers: must hold at least one worker");
    CHECK(refusal(with("/runs/1/workers", json::object())) ==
          "campaign.json: /runs/1/workers: expected a roster path or an array of workers, got {}");
    CHECK(refusal(with("/runs/1/workers/1", json{{"name", ""}})) ==
          "campaign.json: /runs/1/workers/1/name: must be a non-empty string");
    CHECK(refusal(with("/runs/1/workers/1", json{{"name", "ana"}})) ==
          "campaign.json: /runs/1/workers/1/name: \"ana\" is also the name of /runs/1/workers/0");
    CHECK(refusal(with("/runs/1/workers/1", 3)) == "campaign.json: /runs/1/workers/1: expected an object, got number");
    CHECK(refusal(with("/runs/1/workers/1/languages", "en")) ==
          "campaign.json: /runs/1/workers/1/languages: expected a list of strings");
    CHECK(refusal(with("/runs/1/workers/1/name", std::string(300, 'w'))) ==
          "campaign.json: /runs/1/workers/1/name: is 300 bytes, over the limit of 256");
}

TEST_CASE("campaign file: forms", "[campaign]") {
    fake_files files;
    files.files["bad_form.json"] = R"({"fields": [{"type": "single_choice", "name": "topic", "label": "Topic", "options": 3}]})";
    CHECK(refusal(with("/runs/1/form", "bad_form.json"), files) ==
          "campaign.json: /runs/1/form: bad_form.json: fields[0] (\"topic\"): options: expected list of string, got 3");
    CHECK(refusal(with("/runs/1/form", "missing.json")) ==
          "campaign.json: /runs/1/form: missing.json: cannot open (No such file or directory)");
    CHECK(refusal(with("/runs/1/form", json::parse(files.files["bad_form.json"]))) ==
          "campaign.json: /runs/1/form: fields[0] (\"topic\"): options: expected list of string, got 3");
    CHECK(refusal(with("/runs/1/form", json{{"fields", json::array()}, {"colour", 1}})) ==
          "campaign.json: /runs/1/form: \"colour\": unknown key (expected fields, args, items)");
    CHECK(refusal(with("/runs/1/form", json::array())) ==
          "campaign.json: /runs/1/form: expected a form path or a form object ({\"fields\": [...]}), got []");
    // An inline form: its placeholders are required in every task.
    auto c = with("/runs/1/form", json::parse(R"({"fields": [{"type": "display_text", "name": "h", "label": "{{headline}}",
                                                              "text": "{{text}}"}]})"));
    CHECK(refusal(c) == "campaign.json: /runs/1/tasks/0/headline: missing (the form shows {{headline}})");
}

TEST_CASE("campaign file: task settings, bound as the command line's task.* are", "[campaign]") {
    CHECK(refusal(with("/runs/0/task/task_reward", -1)) ==
          "campaign.json: /runs/0/task/task_reward: must be ≥ 0, got -1.000000");
    CHECK(refusal(with("/runs/0/task/task_tags", json{"a", 3})) ==
          "campaign.json: /runs/0/task/task_tags/1: expected string, got 3");
    CHECK(refusal(with("/runs/0/task/assignment_duration_in_seconds", "long")) ==
          "campaign.json: /runs/0/task/assignment_duration_in_seconds: expected integer, got \"long\"");
    CHECK(refusal(with("/runs/0/task/assignment_duration_in_seconds", 0)) ==
          "campaign.json: /runs/0/task/assignment_duration_in_seconds: must be > 0");
    CHECK(refusal(with("/runs/1/task/task_title", "")) ==
          "campaign.json: /runs/1/task/task_title: must not be empty (workers see it)");
    CHECK(refusal(with("/runs/0/task/colour", 1)) ==
          "campaign.json: /runs/0/task/colour: unknown key (see crowdline serve --help, task.*)");
    CHECK(refusal(with("/runs/0/task/task_name", "other")) ==
          "campaign.json: /runs/0/task/task_name: comes from the run's name (/runs/0/name)");
    CHECK(refusal(with("/runs/0/task", json::array())) ==
          "campaign.json: /runs/0/task: expected an object of task settings, got []");
}

TEST_CASE("campaign file: a reader that fails otherwise still gives a config_error naming the run", "[campaign]") {
    auto const c = two_runs().dump();
    CHECK_THROWS_WITH(
        parse_campaign(c, "campaign.json", [](std::string const&) -> std::string { throw std::runtime_error("disk on fire"); }),
        "campaign.json: /runs/0/tasks: tasks.jsonl: cannot read (disk on fire)");
    CHECK_THROWS_AS(parse_campaign(c, "campaign.json", {}), crowdline::config_error);
}

TEST_CASE("campaign file: the example under apps/crowdline/examples loads from disk, as the docs show it",
          "[campaign]") {
    auto const folder = std::filesystem::path(__FILE__).parent_path() / "../../apps/crowdline/examples/newsroom";
    auto const read = [](std::string const& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw crowdline::config_error(path + ": cannot open");
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    auto const file = (folder / "campaign.json").string();
    auto const spec = parse_campaign(read(file), file, read);
    REQUIRE(spec.runs.size() == 2);
    CHECK(spec.runs[0].name == "sentiment");
    CHECK(spec.runs[0].tasks.size() == 8);
    CHECK(spec.runs[0].roster.size() == 4);
    CHECK(spec.runs[0].overlap == 2.5);
    CHECK(spec.runs[1].name == "topics");
    CHECK(spec.runs[1].full_overlap);
    CHECK(spec.runs[1].route_by.empty());
    CHECK(spec.server["port"] == 8080);
}

TEST_CASE("campaign file: with lazy_task_files, a JSONL file's tasks are checked and counted, not kept",
          "[campaign]") {
    fake_files f;
    auto const spec = parse_campaign(
        R"({"runs": [{"name": "s", "tasks": "tasks.jsonl", "workers": "workers.json"},
                     {"name": "t", "tasks": [{"lang": "en", "text": "inline"}], "workers": "workers.json"}]})",
        "campaign.json", f.reader(), {.lazy_task_files = true});
    CHECK(spec.runs[0].tasks.empty());
    CHECK(spec.runs[0].tasks_file == "tasks.jsonl");
    CHECK(spec.runs[0].task_count == 2);
    CHECK(spec.runs[1].tasks_file.empty());  // inline tasks are kept as written
    CHECK(spec.runs[1].task_count == 1);
    REQUIRE(spec.runs[1].tasks.size() == 1);
    // Checked all the same: a bad line is refused with its file and line.
    f.files["tasks.jsonl"] = "{\"lang\": \"en\", \"text\": \"ok\"}\n{\"lang\": \"en\"}\n";
    CHECK_THROWS_WITH(parse_campaign(R"({"runs": [{"name": "s", "tasks": "tasks.jsonl", "workers": "workers.json"}]})",
                                     "campaign.json", f.reader(), {.lazy_task_files = true}),
                      Catch::Contains("tasks.jsonl:2: field \"text\": missing"));
}
