#pragma once
// The campaign file (`crowdline serve --campaign campaign.json`, ARCHITECTURE §12): one JSON document
// declaring every task run a served campaign holds. `parse_campaign` reads and checks all of it, and every
// file it names (through the reader it is given, so tests and the fuzz target need no disk), before the
// caller writes anything. Each refusal is a `crowdline::config_error` naming the file and the JSON pointer
// ("campaign.json: /runs/1/routing/overlap: must be >= 1"), then the file a run names when the problem is
// in there ("campaign.json: /runs/0/tasks: tasks.jsonl:3: …"). The loaders are campaign.hpp's.

#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/routing/routers.hpp>

#include "campaign.hpp"

namespace crowdline_serve {

/// A file the campaign names → its text. It gets the path resolved against the campaign file's folder; a
/// file it cannot read is an exception whose message names the path (`crowdline::error` preferred).
using read_file_fn = std::function<std::string(std::string const& path)>;

/// Annotations per task a run may ask for (as `--overlap`).
inline constexpr int max_campaign_overlap = 20;
/// Longest `steal_after_seconds` (about 31 years): far below what a clock's nanoseconds can hold.
inline constexpr std::int64_t max_steal_after_seconds = 1'000'000'000;
/// Longest run name, in bytes (a run's name is its task's name; the same rule as a worker's name).
inline constexpr std::size_t max_run_name = 256;

/// `"provider": {"prolific": {…}}`: where the run's Prolific settings come from. Secrets are never in
/// the file: it names the environment variables that hold them.
struct campaign_prolific {
    std::string token_env;                      ///< the variable holding the API token
    std::string workspace_id;                   ///< whose balance pays
    std::optional<std::int64_t> reward_cents{};  ///< per place; none: the run's task_reward
    std::optional<std::int64_t> places{};        ///< places the study starts with
    std::string webhook_secret_env{};           ///< the variable holding the hooks' secret ("": no hooks)
};

/// One task run of a campaign, checked: what `serve` composes a pipeline from.
struct campaign_run {
    std::string name;                      ///< the task name (also `task.task_name`)
    std::vector<json> tasks;               ///< the items: objects holding the form's placeholders (none
                                           ///< when `tasks_file` is set: read lazily from there)
    std::string tasks_file{};              ///< with `campaign_options::lazy_task_files`: the JSONL path
    std::size_t task_count = 0;            ///< how many tasks, from either
    json workers = json::array();          ///< the roster as written: roster_from_json again with kept links
    std::vector<crowdline::providers::in_house_worker> roster;  ///< roster_from_json's, no links kept yet
    json form = default_form();            ///< a static_form spec (no items)
    std::string route_by = "lang";         ///< task field routing looks at ("": anyone takes any task)
    std::string profile_key = "languages"; ///< worker field listing the route_by values they take
    double overlap = 2;                    ///< annotations per task (fractional: an average); see full_overlap
    bool full_overlap = false;             ///< `"overlap": "full"`: every eligible worker annotates each task
    /// `"overlap": {"adaptive": {"min", "max", "agreement", "field"}}`: `min` units per task, one more while
    /// the answers in `field` (default: the form's first single_choice field) disagree, up to `max`.
    std::optional<crowdline::routing::adaptive_overlap> adaptive{};
    std::int64_t steal_after_seconds = 60;
    crowdline::task_run_args task = default_task_args();  ///< task_name is `name`
    std::optional<campaign_prolific> prolific{};  ///< set: the run's crowd is Prolific (no roster)
};

/// A whole campaign: the database, its settings and the server's (JSON, for the program's own binding),
/// and at least one run, names unique.
struct campaign_spec {
    std::string db = "crowdline.db";
    json store = json::object();
    json server = json::object();
    std::vector<campaign_run> runs;
};

/// How `parse_campaign` keeps what it read.
struct campaign_options {
    /// Tasks in a JSONL file are checked whole but not kept: the run reads them again lazily from
    /// `campaign_run::tasks_file` (`jsonl_file_tasks`), so a large file is never held in memory.
    bool lazy_task_files = false;
};

namespace campaign_detail {

using pointer = json::json_pointer;
using keys = std::span<std::string_view const>;

inline constexpr std::array<std::string_view, 4> top_keys{"db", "store", "server", "runs"};
inline constexpr std::array<std::string_view, 7> run_keys{"name", "tasks", "workers", "provider",
                                                          "form", "routing", "task"};
inline constexpr std::array<std::string_view, 6> later_keys{"onboarding", "screening", "gold",
                                                            "qualifications", "live", "chat"};
inline constexpr std::array<std::string_view, 1> adaptive_outer_keys{"adaptive"};
inline constexpr std::array<std::string_view, 4> adaptive_keys{"min", "max", "agreement", "field"};
inline constexpr std::array<std::string_view, 1> provider_keys{"prolific"};
inline constexpr std::array<std::string_view, 5> prolific_keys{"token_env", "workspace_id", "reward_cents", "places",
                                                               "webhook_secret_env"};
inline constexpr std::array<std::string_view, 4> routing_keys{"route_by", "profile_key", "overlap",
                                                              "steal_after_seconds"};

inline bool listed(keys list, std::string_view key) {
    for (auto k : list)
        if (k == key) return true;
    return false;
}

inline std::string joined(keys list) {
    std::string out;
    for (auto k : list) out += (out.empty() ? "" : ", ") + std::string(k);
    return out;
}

/// A value as a message shows it: its JSON, cut short on a character boundary.
inline std::string shown(json const& j) {
    auto text = j.dump();  // parsed from the file, so every string in it is valid UTF-8
    if (text.size() <= 60) return text;
    std::size_t cut = 57;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut) + "...";
}

/// "/runs/0/task" + a binding message "task_tags[1]: expected string, got 3" → the pointer of the key
/// the message names and the rest ("/runs/0/task/task_tags/1", "expected string, got 3"). A message of
/// another shape stays whole, at `at`.
inline std::pair<pointer, std::string> at_key(pointer at, std::string_view message) {
    std::size_t i = 0;
    while (i < message.size() && (std::isalnum(static_cast<unsigned char>(message[i])) || message[i] == '_')) ++i;
    if (i == 0) return {at, std::string(message)};
    auto where = at / std::string(message.substr(0, i));
    while (i < message.size() && message[i] == '[') {
        auto const close = message.find(']', i);
        auto const digits = message.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1);
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 9)
            return {at, std::string(message)};
        where = where / std::stoul(std::string(digits));
        i = close + 1;
    }
    if (message.substr(i, 2) != ": ") return {at, std::string(message)};
    return {where, std::string(message.substr(i + 2))};
}

/// roster_from_json's message about an inline list (given the source ""): ": [2].name: …" → "/2/name", "…".
inline std::pair<pointer, std::string> at_worker(pointer at, std::string_view message, std::string const& profile_key) {
    if (!message.starts_with(": [")) return {at, std::string(message.starts_with(": ") ? message.substr(2) : message)};
    auto const close = message.find(']');
    auto const digits = message.substr(3, close == std::string_view::npos ? 0 : close - 3);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 9)
        return {at, std::string(message.substr(2))};
    auto where = at / std::stoul(std::string(digits));
    auto rest = message.substr(close + 1);
    for (std::string const& field : {std::string("name"), profile_key})
        if (rest.starts_with("." + field + ": ")) {
            where = where / field;
            rest.remove_prefix(field.size() + 1);
        }
    if (rest.starts_with(": ")) rest.remove_prefix(2);
    // "is also the name of [0]" names the other entry by pointer too
    auto text = std::string(rest);
    if (auto of = text.rfind("is also the name of ["); of != std::string::npos && text.ends_with("]")) {
        auto const first = of + std::string_view("is also the name of [").size();
        text = text.substr(0, of) + "is also the name of " + (at / std::stoul(text.substr(first))).to_string();
    }
    return {where, text};
}

/// The checks, with what every message starts with: the campaign file's name.
class parser {
public:
    parser(std::string const& file, read_file_fn const& read, campaign_options options)
        : file_(file), read_(read), folder_(std::filesystem::path(file).parent_path()), options_(options) {}

    campaign_spec campaign(std::string_view text) const {
        auto const doc = parse_json_text(text, file_);
        if (!doc.is_object())
            throw crowdline::config_error(file_ + ": expected a JSON object ({\"runs\": [...]}), got " +
                                          std::string(doc.type_name()));
        pointer const root;
        only(doc, root, top_keys);
        campaign_spec spec;
        if (auto const* db = find(doc, "db")) spec.db = text_at(*db, root / "db", false);
        for (auto key : {"store", "server"})
            if (auto const* settings = find(doc, key)) {
                if (!settings->is_object()) fail(root / key, "expected an object of settings, got " + shown(*settings));
                (std::string_view(key) == "store" ? spec.store : spec.server) = *settings;
            }
        auto const& runs = required(doc, root, "runs", "an array of task runs");
        if (!runs.is_array()) fail(root / "runs", "expected an array of task runs, got " + shown(runs));
        if (runs.empty()) fail(root / "runs", "must hold at least one task run");
        std::map<std::string, std::size_t, std::less<>> names;
        for (std::size_t i = 0; i < runs.size(); ++i) {
            auto const at = root / "runs" / i;
            spec.runs.push_back(run(runs[i], at));
            auto const& name = spec.runs.back().name;
            if (auto [other, fresh] = names.emplace(name, i); !fresh)
                fail(at / "name", "\"" + name + "\" is also the name of " + (root / "runs" / other->second).to_string() +
                                      " (each run is a task of its own)");
        }
        return spec;
    }

private:
    [[noreturn]] void fail(pointer const& at, std::string const& why) const {
        throw crowdline::config_error(file_ + ": " + at.to_string() + ": " + why);
    }

    /// Every key of `object` is in `known`; the ones in `later` are refused as not supported yet.
    void only(json const& object, pointer const& at, keys known, keys later = {}) const {
        for (auto const& item : object.items()) {
            if (listed(later, item.key())) fail(at / item.key(), "not supported yet by crowdline serve");
            if (!listed(known, item.key())) fail(at / item.key(), "unknown key (expected one of: " + joined(known) + ")");
        }
    }

    static json const* find(json const& object, std::string const& key) {
        auto const it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }

    json const& required(json const& object, pointer const& at, std::string const& key, std::string const& what) const {
        if (auto const* found = find(object, key)) return *found;
        fail(at / key, "missing (" + what + ")");
    }

    std::string text_at(json const& j, pointer const& at, bool empty_allowed) const {
        if (!j.is_string()) fail(at, "expected a string, got " + shown(j));
        if (!empty_allowed && j.get_ref<std::string const&>().empty()) fail(at, "must not be empty");
        return j.get<std::string>();
    }

    /// A file named at `at`: its path (against the campaign's folder) and text.
    std::pair<std::string, std::string> referenced(json const& j, pointer const& at) const {
        auto const& written = j.get_ref<std::string const&>();
        if (written.empty()) fail(at, "must not be an empty path");
        for (unsigned char c : written)
            if (c < 0x20 || c == 0x7f) fail(at, "a path with a control character");
        auto path = (folder_ / written).string();
        try {
            return {path, read_(path)};
        } catch (std::bad_alloc const&) {
            throw;
        } catch (crowdline::error const& e) {
            fail(at, e.what());
        } catch (std::exception const& e) {
            fail(at, path + ": cannot read (" + e.what() + ")");
        }
    }

    /// `load()`, with a loader's refusal put under `at` ("campaign.json: /runs/0/tasks: tasks.jsonl:3: …").
    template <class Load>
    auto within(pointer const& at, Load&& load) const {
        try {
            return load();
        } catch (crowdline::config_error const& e) {
            fail(at, e.what());
        }
    }

    campaign_run run(json const& j, pointer const& at) const {
        if (!j.is_object()) fail(at, "expected an object (a task run), got " + shown(j));
        only(j, at, run_keys, later_keys);
        campaign_run r;
        r.name = text_at(required(j, at, "name", "the task name"), at / "name", false);
        if (auto problem = crowdline::providers::worker_name_problem(r.name, max_run_name)) fail(at / "name", *problem);
        if (auto const* provider = find(j, "provider")) r.prolific = read_provider(*provider, at / "provider");
        if (r.prolific) r.route_by.clear();  // participants come with no profile: any of them takes any task
        if (auto const* routing = find(j, "routing")) read_routing(*routing, at / "routing", r);
        if (r.prolific && !r.route_by.empty())
            fail(at / "routing" / "route_by", "a Prolific run is not routed by a task field (its participants have no "
                                              "profile to match); remove it");
        if (r.prolific && (r.full_overlap || r.adaptive))
            fail(at / "routing" / "overlap", "a Prolific run takes a number of annotations per task (full and adaptive "
                                             "overlap are not served with Prolific)");
        if (auto const* form = find(j, "form")) r.form = read_form(*form, at / "form");
        resolve_adaptive_field(r, at / "routing" / "overlap" / "adaptive");
        r.tasks = read_tasks(required(j, at, "tasks", "a JSONL path or an array of tasks"), at / "tasks", r);
        if (!r.prolific) read_workers(required(j, at, "workers", "a roster path or an array of workers"), at / "workers", r);
        else if (find(j, "workers")) fail(at / "workers", "a Prolific run has no roster (its workers are Prolific's participants)");
        r.task = read_task(find(j, "task"), at / "task", r.name);
        return r;
    }

    /// `"in_house"` (nothing to keep) or `{"prolific": {"token_env", "workspace_id", …}}`.
    std::optional<campaign_prolific> read_provider(json const& j, pointer const& at) const {
        if (j.is_string()) {
            auto const kind = j.get<std::string>();
            if (kind == "in_house") return std::nullopt;
            if (kind == "prolific")
                fail(at, "expected {\"prolific\": {\"token_env\": …, \"workspace_id\": …}} (its settings), got \"prolific\"");
            fail(at, "expected \"in_house\" or {\"prolific\": {…}}, got " + shown(j));
        }
        if (!j.is_object()) fail(at, "expected \"in_house\" or {\"prolific\": {…}}, got " + shown(j));
        only(j, at, provider_keys);
        auto const here = at / "prolific";
        auto const& p = required(j, at, "prolific", "the Prolific settings");
        if (!p.is_object()) fail(here, "expected an object, got " + shown(p));
        only(p, here, prolific_keys);
        campaign_prolific out;
        out.token_env = env_name(required(p, here, "token_env", "the environment variable holding the API token"),
                                 here / "token_env");
        out.workspace_id = text_at(required(p, here, "workspace_id", "the Prolific workspace that pays"),
                                   here / "workspace_id", false);
        auto whole = [&](char const* key, std::int64_t least) -> std::optional<std::int64_t> {
            auto const* v = find(p, key);
            if (!v) return std::nullopt;
            if (!v->is_number_integer() || v->get<std::int64_t>() < least)
                fail(here / key, "expected a whole number >= " + std::to_string(least) + ", got " + shown(*v));
            return v->get<std::int64_t>();
        };
        out.reward_cents = whole("reward_cents", 0);
        out.places = whole("places", 1);
        if (auto const* v = find(p, "webhook_secret_env")) out.webhook_secret_env = env_name(*v, here / "webhook_secret_env");
        return out;
    }

    /// An environment variable's name: letters, digits and '_', not starting with a digit.
    std::string env_name(json const& j, pointer const& at) const {
        auto name = text_at(j, at, false);
        bool ok = !std::isdigit(static_cast<unsigned char>(name[0]));
        for (unsigned char c : name) ok = ok && (std::isalnum(c) || c == '_');
        if (!ok) fail(at, "expected the name of an environment variable (letters, digits, _), got " + shown(j));
        return name;
    }

    void read_routing(json const& j, pointer const& at, campaign_run& r) const {
        if (!j.is_object()) fail(at, "expected an object, got " + shown(j));
        only(j, at, routing_keys);
        if (auto const* v = find(j, "route_by")) r.route_by = text_at(*v, at / "route_by", true);
        if (auto const* v = find(j, "profile_key")) r.profile_key = text_at(*v, at / "profile_key", false);
        if (auto const* v = find(j, "overlap")) {
            auto const here = at / "overlap";
            if (v->is_object()) {
                only(*v, here, adaptive_outer_keys);
                r.adaptive = read_adaptive(required(*v, here, "adaptive", "{\"min\", \"max\", \"agreement\"}"),
                                           here / "adaptive");
            } else if (v->is_string() && v->get_ref<std::string const&>() == "full") {
                r.full_overlap = true;
            } else {
                if (!v->is_number()) fail(here, "expected a number >= 1, \"full\" or {\"adaptive\": {…}}, got " + shown(*v));
                r.overlap = v->get<double>();
                if (!(r.overlap >= 1)) fail(here, "must be >= 1");
                if (r.overlap > max_campaign_overlap) fail(here, "must be <= " + std::to_string(max_campaign_overlap));
            }
        }
        if (auto const* v = find(j, "steal_after_seconds")) {
            auto const here = at / "steal_after_seconds";
            if (!v->is_number_integer()) fail(here, "expected a whole number of seconds, got " + shown(*v));
            if (v->is_number_unsigned() ? v->get<std::uint64_t>() > std::uint64_t(max_steal_after_seconds)
                                        : v->get<std::int64_t>() > max_steal_after_seconds)
                fail(here, "must be <= " + std::to_string(max_steal_after_seconds));
            r.steal_after_seconds = v->get<std::int64_t>();
            if (r.steal_after_seconds < 0) fail(here, "must be >= 0");
        }
    }

    crowdline::routing::adaptive_overlap read_adaptive(json const& j, pointer const& at) const {
        if (!j.is_object()) fail(at, "expected an object {\"min\", \"max\", \"agreement\"}, got " + shown(j));
        only(j, at, adaptive_keys);
        crowdline::routing::adaptive_overlap a;
        a.field.clear();  // the form's first single_choice field, once the form is read
        auto const whole = [&](char const* key, std::uint32_t& into) {
            if (auto const* v = find(j, key)) {
                if (!v->is_number_integer()) fail(at / key, "expected a whole number, got " + shown(*v));
                auto const n = v->get<std::int64_t>();
                if (n < 1) fail(at / key, "must be >= 1");
                if (n > max_campaign_overlap) fail(at / key, "must be <= " + std::to_string(max_campaign_overlap));
                into = static_cast<std::uint32_t>(n);
            }
        };
        whole("min", a.min);
        whole("max", a.max);
        if (a.max < a.min) fail(at / "max", "must be >= min (" + std::to_string(a.min) + ")");
        if (auto const* v = find(j, "agreement")) {
            if (!v->is_number()) fail(at / "agreement", "expected a number in (0, 1], got " + shown(*v));
            a.agreement = v->get<double>();
            if (!(a.agreement > 0 && a.agreement <= 1)) fail(at / "agreement", "must be in (0, 1]");
        }
        if (auto const* v = find(j, "field")) a.field = text_at(*v, at / "field", false);
        return a;
    }

    /// The single_choice field adaptive overlap compares: the one named, or the form's first.
    void resolve_adaptive_field(campaign_run& r, pointer const& at) const {
        if (!r.adaptive) return;
        for (auto const& f : r.form.value("fields", json::array()))
            if (f.value("type", "") == "single_choice" && (r.adaptive->field.empty() || f.value("name", "") == r.adaptive->field)) {
                r.adaptive->field = f.value("name", "");
                return;
            }
        if (r.adaptive->field.empty())
            fail(at, "adaptive overlap compares answers of a single_choice field, and the form has none");
        fail(at / "field", "the form has no single_choice field \"" + r.adaptive->field + "\"");
    }

    json read_form(json const& j, pointer const& at) const {
        if (j.is_string()) {
            auto const [path, text] = referenced(j, at);
            return within(at, [&] { return parse_form(text, path); });
        }
        if (!j.is_object()) fail(at, "expected a form path or a form object ({\"fields\": [...]}), got " + shown(j));
        // parse_form's checks on the object's text: its messages then start with this pointer
        return parse_form(j.dump(), file_ + ": " + at.to_string());
    }

    std::vector<json> read_tasks(json const& j, pointer const& at, campaign_run& r) const {
        auto const needed = form_placeholders(r.form);
        if (j.is_string()) {
            auto const [path, text] = referenced(j, at);
            if (options_.lazy_task_files) {
                r.task_count = within(at, [&] { return check_tasks(text, path, needed, r.route_by); });
                r.tasks_file = path;
                return {};
            }
            auto tasks = within(at, [&] { return parse_tasks(text, path, needed, r.route_by); });
            r.task_count = tasks.size();
            return tasks;
        }
        if (!j.is_array()) fail(at, "expected a JSONL path or an array of task objects, got " + shown(j));
        if (j.empty()) fail(at, "no tasks");
        for (std::size_t i = 0; i < j.size(); ++i) {
            auto const& task = j[i];
            if (!task.is_object()) fail(at / i, "expected an object, got " + std::string(task.type_name()));
            for (auto const& key : needed)
                if (!task.contains(key)) fail(at / i / key, "missing (the form shows {{" + key + "}})");
            if (!r.route_by.empty() && (!task.contains(r.route_by) || !task[r.route_by].is_string()))
                fail(at / i / r.route_by, "missing or not a string (tasks are routed by it)");
        }
        r.task_count = j.size();
        return j.get<std::vector<json>>();
    }

    void read_workers(json const& j, pointer const& at, campaign_run& r) const {
        if (j.is_string()) {
            auto const [path, text] = referenced(j, at);
            r.workers = within(at, [&] { return parse_json_text(text, path); });
            r.roster = within(at, [&] { return roster_from_json(r.workers, path, r.profile_key, json::object()); });
            return;
        }
        if (!j.is_array()) fail(at, "expected a roster path or an array of workers, got " + shown(j));
        if (j.empty()) fail(at, "must hold at least one worker");
        r.workers = j;
        try {
            r.roster = roster_from_json(j, "", r.profile_key, json::object());
        } catch (crowdline::config_error const& e) {
            auto const [where, why] = at_worker(at, e.what(), r.profile_key);
            fail(where, why);
        }
    }

    crowdline::task_run_args read_task(json const* j, pointer const& at, std::string const& name) const {
        auto args = default_task_args();
        if (j != nullptr) {
            if (!j->is_object()) fail(at, "expected an object of task settings, got " + shown(*j));
            auto const fields = crowdline::config::dump(args);
            for (auto const& item : j->items()) {
                if (item.key() == "task_name")
                    fail(at / "task_name", "comes from the run's name (" + (at.parent_pointer() / "name").to_string() + ")");
                if (!fields.contains(item.key())) fail(at / item.key(), "unknown key (see crowdline serve --help, task.*)");
                try {
                    crowdline::config::load(args, json::object({{item.key(), item.value()}}));
                } catch (crowdline::config_error const& e) {
                    auto const [where, why] = at_key(at, e.what());
                    fail(where, why);
                }
            }
        }
        args.task_name = name;
        try {
            crowdline::config::validate(args);
        } catch (crowdline::config_error const& e) {
            auto const [where, why] = at_key(at, e.what());
            fail(where, why);
        }
        return args;
    }

    std::string file_;
    read_file_fn const& read_;
    std::filesystem::path folder_;
    campaign_options options_;
};

}  // namespace campaign_detail

/// The campaign in `text` (the contents of `file`), with every file it names read through `read` (paths
/// relative to `file`'s folder) and checked. Throws `crowdline::config_error` only: "file: /pointer: …".
inline campaign_spec parse_campaign(std::string_view text, std::string const& file, read_file_fn read,
                                    campaign_options options = {}) {
    return campaign_detail::parser{file, read, options}.campaign(text);
}

}  // namespace crowdline_serve
