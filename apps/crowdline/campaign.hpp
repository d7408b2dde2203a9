#pragma once
// What `crowdline serve` composes around the library: the routing (a task's `route_by` field against the
// keys a worker's invite carries), the default form and task settings, and the roster read from JSON.
// Shared with benchmarks/http_load, whose in-process baseline must run exactly the pipeline `serve` runs.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <ranges>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>

namespace crowdline_serve {

using json = nlohmann::json;

/// One copy of each routing key for the whole process (a node set: addresses stay put, nothing is freed).
/// A served run holds an item per task, and its key is one of a few values (languages): a pointer is 8
/// bytes where a string is 32.
inline std::string const* intern_key(std::string key) {
    static std::mutex mutex;
    static std::set<std::string, std::less<>> keys;
    std::lock_guard l{mutex};
    return &*keys.insert(std::move(key)).first;
}

/// The dispatcher's item: the value of the routing field of a task ("" when routing is off).
struct routed_item {
    std::string const* interned = intern_key({});
    routed_item() = default;
    explicit routed_item(std::string key) : interned(intern_key(std::move(key))) {}
    [[nodiscard]] std::string const& key() const noexcept { return *interned; }
};

/// The pipeline's `item_of`: a task's item is the value of its `route_by` field ("" turns routing off).
/// Each run carries its own, so runs routed by different fields live side by side.
struct item_by {
    std::string route_by;
    routed_item operator()(crowdline::initialization_data const& init) const {
        return routed_item{crowdline::item_group(init, route_by)};
    }
};

/// The dispatcher's profile: the keys a worker may take (their languages), from the invite roster.
struct routed_profile {
    std::vector<std::string> keys;
};
inline void from_json(json const& j, routed_profile& p) { p.keys = j.value("keys", std::vector<std::string>{}); }

// [routing]
/// `overlap` annotations per task; a worker takes — first or by stealing — only tasks whose key they hold.
inline auto make_routing(double overlap, std::chrono::seconds lease, bool routed = true,
                         std::chrono::seconds steal_after = std::chrono::seconds(60)) {
    return crowdline::routing::make_dispatcher<routed_item, routed_profile>(
        crowdline::routing::average_per_task{overlap},
        crowdline::routing::steal_by_key{[](routed_item const& t) -> std::string const& { return t.key(); },
                                         [routed](routed_profile const& p) {
                                             return routed ? p.keys : std::vector<std::string>{""};
                                         }},
        crowdline::routing::options{.lease = lease, .steal_after = steal_after});
}
// [routing]

/// `overlap: "full"`: every worker of `roster` who may take a task annotates it once — those who join
/// later too (`routing::full_overlap_of` counts the roster, not who is present). The same eligibility rule
/// as `make_routing`: a worker takes a task whose key they hold (anyone, when not routed).
inline auto make_full_routing(std::vector<routed_profile> roster, std::chrono::seconds lease, bool routed = true,
                              std::chrono::seconds steal_after = std::chrono::seconds(60)) {
    auto eligible = [routed](routed_profile const& p, routed_item const& t) {
        return !routed || std::find(p.keys.begin(), p.keys.end(), t.key()) != p.keys.end();
    };
    return crowdline::routing::make_dispatcher<routed_item, routed_profile>(
        crowdline::routing::full_overlap_of{std::move(roster), eligible},
        crowdline::routing::steal_by_key{[](routed_item const& t) -> std::string const& { return t.key(); },
                                         [routed](routed_profile const& p) {
                                             return routed ? p.keys : std::vector<std::string>{""};
                                         }},
        crowdline::routing::options{.lease = lease, .steal_after = steal_after});
}

/// `overlap: {"adaptive": …}`: `min` units per task, one more while the answers disagree, up to `max`; the
/// added units go to whoever may take the task under the same rule as `make_routing` (a French task's
/// tie-breaker reads French).
inline auto make_adaptive_routing(crowdline::routing::adaptive_overlap adaptive, std::chrono::seconds lease,
                                  bool routed = true, std::chrono::seconds steal_after = std::chrono::seconds(60)) {
    return crowdline::routing::make_dispatcher<routed_item, routed_profile>(
        std::move(adaptive),
        crowdline::routing::steal_by_key{[](routed_item const& t) -> std::string const& { return t.key(); },
                                         [routed](routed_profile const& p) {
                                             return routed ? p.keys : std::vector<std::string>{""};
                                         }},
        crowdline::routing::options{.lease = lease, .steal_after = steal_after});
}

/// A text as one query-string value (RFC 3986: unreserved characters kept, every other byte %XX), so a
/// run's name can go in its invite links (`/?invite=…&run=…`).
inline std::string query_escape(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

/// The form when none is given: the text, and its sentiment.
inline json default_form() {
    return {{"fields",
             {{{"type", "display_text"}, {"name", "text"}, {"label", "Text"}, {"text", "{{text}}"}},
              {{"type", "single_choice"},
               {"name", "sentiment"},
               {"label", "Sentiment"},
               {"options", {"negative", "neutral", "positive"}}}}}};
}

/// Task settings before the command line's: one unit at a time (the worker page shows one), and the
/// title and description workers see. The name comes from the tasks file.
inline crowdline::task_run_args default_task_args() {
    crowdline::task_run_args a;
    a.allowed_concurrent = 1;
    a.task_title = "Label short texts";
    a.task_description = "Read each text and answer the form";
    return a;
}

// ---- input files, as text ---------------------------------------------------------------------------------
// Pure functions over a file's text (the program reads the file; a fuzz target calls them directly). Bad
// input throws `crowdline::config_error` naming the file and where in it; never anything else.

/// Deepest nesting accepted in any JSON file the program reads: deeper is refused before parsing, so a
/// hostile 100,000-level line cannot exhaust the stack of anything that walks the document later.
inline constexpr std::size_t max_input_json_depth = 128;

/// Line and column (from 1) of a byte offset in `text`, as "3:14".
inline std::string line_column(std::string_view text, std::size_t offset) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') ++line, column = 1;
        else ++column;
    }
    return std::to_string(line) + ":" + std::to_string(column);
}

/// One JSON document; `at(offset)` says where an offset is, for messages ("tasks.jsonl:3:7").
template <class Where>
json parse_limited(std::string_view text, Where const& at) {
    using crowdline::config_error;
    if (auto deep = crowdline::json_too_deep_at(text, max_input_json_depth))
        throw config_error(at(*deep) + ": JSON nested deeper than the limit of " + std::to_string(max_input_json_depth) +
                           " levels");
    try {
        return json::parse(text);
    } catch (json::parse_error const& e) {
        throw config_error(at(e.byte ? e.byte - 1 : 0) + ": invalid JSON (" + crowdline::json_error_text(e) + ")");
    } catch (json::exception const& e) {  // e.g. a number too large for a double (out_of_range 406)
        throw config_error(at(text.size()) + ": invalid JSON (" + crowdline::json_error_text(e) + ")");
    }
}

/// A whole JSON file's text (workers, form, secrets), depth-limited. Errors: "file:line:col: …".
inline json parse_json_text(std::string_view text, std::string const& file) {
    return parse_limited(text, [&](std::size_t offset) { return file + ":" + line_column(text, offset); });
}

/// `{{key}}` placeholders a form's labels and display texts use (`static_form::placeholders`): every task
/// must have them. Expects a form that `parse_form` accepted (anything else yields no keys).
inline std::vector<std::string> form_placeholders(json const& form) {
    try {
        return crowdline::blueprints::static_form::from_json(form).placeholders();
    } catch (crowdline::error const&) {
        return {};
    }
}

/// A form file's text: parsed, then checked by building the `static_form` it describes (no items), so
/// every problem is found here and named "file: fields[1] \"name\": …".
inline json parse_form(std::string_view text, std::string const& file) {
    auto spec = parse_json_text(text, file);
    try {
        (void)crowdline::blueprints::static_form::from_json(spec);
    } catch (crowdline::error const& e) {
        throw crowdline::config_error(file + ": " + e.what());
    } catch (json::exception const& e) {
        throw crowdline::config_error(file + ": " + crowdline::json_error_text(e));
    }
    return spec;
}

/// Calls `each(task)` for every task of a JSON-lines text (blank lines skipped), each checked: every key
/// in `needed` present, `route_by` (unless empty) a string. Problems name the file, the line and the field.
template <class Each>
std::size_t for_each_task(std::string_view text, std::string const& file, std::vector<std::string> const& needed,
                          std::string const& route_by, Each&& each) {
    using crowdline::config_error;
    std::size_t number = 0, count = 0;
    for (std::size_t start = 0; start < text.size();) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        auto const line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        auto const at = file + ":" + std::to_string(number);
        json j = parse_limited(line, [&](std::size_t offset) { return at + ":" + std::to_string(offset + 1); });
        if (!j.is_object()) throw config_error(at + ": expected a JSON object, got " + std::string(j.type_name()));
        for (auto const& key : needed)
            if (!j.contains(key))
                throw config_error(at + ": field \"" + key + "\": missing (the form shows {{" + key + "}})");
        if (!route_by.empty() && (!j.contains(route_by) || !j[route_by].is_string()))
            throw config_error(at + ": field \"" + route_by + "\": missing or not a string (tasks are routed by it)");
        each(std::move(j));
        ++count;
    }
    if (count == 0) throw config_error(file + ": no tasks");
    return count;
}

/// Tasks from JSON lines (blank lines skipped). Each problem names the file, the line and the field:
/// every key in `needed` must be present, and `route_by` (unless empty) must be a string.
inline std::vector<json> parse_tasks(std::string_view text, std::string const& file,
                                     std::vector<std::string> const& needed, std::string const& route_by) {
    std::vector<json> tasks;
    for_each_task(text, file, needed, route_by, [&](json&& j) { tasks.push_back(std::move(j)); });
    return tasks;
}

/// As `parse_tasks`, keeping nothing: how many tasks the text holds, every one checked.
inline std::size_t check_tasks(std::string_view text, std::string const& file, std::vector<std::string> const& needed,
                               std::string const& route_by) {
    return for_each_task(text, file, needed, route_by, [](json&&) {});
}

/// The tasks of a JSON-lines file that `check_tasks` accepted, read one line at a time as the run launches
/// them: a served run holds the items it launched, never the whole file. A line that no longer parses (the
/// file changed after it was checked) is a `config_error` naming the file and the line.
class jsonl_file_tasks : public std::ranges::view_interface<jsonl_file_tasks> {
    struct reader {
        std::string path;
        std::ifstream in;
        std::size_t number = 0;
        json current;
        bool done = false;

        void next() {
            for (std::string line; !done;) {
                if (!std::getline(in, line)) {
                    if (in.bad()) throw crowdline::config_error(path + ": cannot read (" + std::strerror(errno) + ")");
                    done = true;
                    return;
                }
                ++number;
                if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
                auto const at = path + ":" + std::to_string(number);
                try {
                    current = parse_limited(line, [&](std::size_t offset) { return at + ":" + std::to_string(offset + 1); });
                } catch (crowdline::config_error const& e) {
                    throw crowdline::config_error(std::string(e.what()) + " (the file changed after it was checked)");
                }
                return;
            }
        }
    };

public:
    class iterator {
    public:
        using value_type = json;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(std::shared_ptr<reader> r) : r_(std::move(r)) {}
        json const& operator*() const { return r_->current; }
        iterator& operator++() {
            r_->next();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) { return !it.r_ || it.r_->done; }

    private:
        std::shared_ptr<reader> r_;
    };

    jsonl_file_tasks() = default;
    explicit jsonl_file_tasks(std::string path) : path_(std::move(path)) {}

    /// Opens the file and reads its first task: each `begin()` starts from the top.
    iterator begin() const {
        auto r = std::make_shared<reader>();
        r->path = path_;
        r->in.open(path_, std::ios::binary);
        if (!r->in) throw crowdline::config_error(path_ + ": cannot open (" + std::strerror(errno) + ")");
        r->next();
        return iterator{std::move(r)};
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::string path_;
};

/// The roster from `[{name, <profile_key>: [...], ...}]`: the profile is the entry without its name, plus
/// `keys` (the routing keys). A worker named in `known_tokens` (name → token, from an earlier run) keeps
/// their link. Each problem names `source`, the entry and the field, including what the in-house
/// provider would refuse later (a name too long, with control characters, or given twice).
inline std::vector<crowdline::providers::in_house_worker> roster_from_json(json const& list, std::string const& source,
                                                                          std::string const& profile_key,
                                                                          json const& known_tokens) {
    using crowdline::config_error;
    using crowdline::providers::in_house;
    if (!list.is_array() || list.empty()) throw config_error(source + ": expected a non-empty JSON list of workers");
    std::vector<crowdline::providers::in_house_worker> out;
    std::map<std::string, std::size_t, std::less<>> seen;
    std::map<std::string, std::string, std::less<>> kept;  ///< kept link → worker, so no two share one
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto const at = source + ": [" + std::to_string(i) + "]";
        auto const& w = list[i];
        if (!w.is_object()) throw config_error(at + ": expected an object, got " + std::string(w.type_name()));
        if (!w.contains("name") || !w["name"].is_string() || w["name"].get<std::string>().empty())
            throw config_error(at + ".name: must be a non-empty string");
        auto name = w["name"].get<std::string>();
        if (auto problem = crowdline::providers::worker_name_problem(name, in_house::max_worker_name))
            throw config_error(at + ".name: " + *problem);
        if (auto [it, fresh] = seen.emplace(name, i); !fresh)
            throw config_error(at + ".name: \"" + name + "\" is also the name of [" + std::to_string(it->second) + "]");
        auto keys = w.contains(profile_key) ? w[profile_key] : json::array();
        if (!keys.is_array()) throw config_error(at + "." + profile_key + ": expected a list of strings");
        for (auto const& k : keys)
            if (!k.is_string()) throw config_error(at + "." + profile_key + ": expected a list of strings");
        auto profile = w;
        profile.erase("name");
        profile["keys"] = keys;
        std::string token;
        if (known_tokens.is_object())
            if (auto t = known_tokens.find(name); t != known_tokens.end()) {
                if (!t->is_string() || !crowdline::is_token_shaped(t->get_ref<std::string const&>()))
                    throw config_error(at + ": the link kept for \"" + name + "\" from an earlier run is malformed "
                                       "(the secrets file beside the database was edited?)");
                token = t->get<std::string>();
                if (auto [other, fresh] = kept.emplace(token, name); !fresh)
                    throw config_error(at + ": the link kept for \"" + name + "\" from an earlier run is also \"" +
                                       other->second + "\"'s (the secrets file beside the database was edited?)");
            }
        out.push_back({std::move(name), std::move(profile), std::move(token)});
    }
    return out;
}

}  // namespace crowdline_serve
