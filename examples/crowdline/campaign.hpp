#pragma once
// What `crowdline serve` composes around the library: the routing (a task's `route_by` field against the
// keys a worker's invite carries), the default form and task settings, and the roster read from JSON.
// Shared with benchmarks/http_load, whose in-process baseline must run exactly the pipeline `serve` runs.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/config/task_run_args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>

namespace crowdline_serve {

using json = nlohmann::json;

/// The task field routing looks at ("" turns routing off). Set once, before anything is routed: the
/// dispatcher's Item is built from initialization data alone, so it cannot carry the setting itself.
inline std::string route_by = "lang";

/// The dispatcher's item: the value of the routing field of a task ("" when routing is off).
struct routed_item {
    std::string key;
    explicit routed_item(crowdline::initialization_data const& init)
        : key(crowdline::detail::group_of_init(init, route_by)) {}
};

/// The dispatcher's profile: the keys a worker may take (their languages), from the invite roster.
struct routed_profile {
    std::vector<std::string> keys;
};
inline void from_json(json const& j, routed_profile& p) { p.keys = j.value("keys", std::vector<std::string>{}); }

// [routing]
/// `overlap` annotations per task; a worker takes — first or by stealing — only tasks whose key they hold.
inline auto make_routing(double overlap, std::chrono::seconds lease) {
    return crowdline::routing::make_dispatcher<routed_item, routed_profile>(
        crowdline::routing::average_per_task{overlap},
        crowdline::routing::steal_by_key{[](routed_item const& t) { return t.key; },
                                         [](routed_profile const& p) {
                                             return route_by.empty() ? std::vector<std::string>{""} : p.keys;
                                         }},
        crowdline::routing::options{.lease = lease, .steal_after = std::chrono::seconds(60)});
}
// [routing]

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

/// The roster from `[{name, <profile_key>: [...], ...}]`: the profile is the entry without its name, plus
/// `keys` (the routing keys). A worker named in `known_tokens` (name → token, from an earlier run) keeps
/// their link. Each problem names `source`, the entry and the field.
inline std::vector<crowdline::providers::in_house_worker> roster_from_json(json const& list, std::string const& source,
                                                                          std::string const& profile_key,
                                                                          json const& known_tokens) {
    using crowdline::config_error;
    if (!list.is_array() || list.empty()) throw config_error(source + ": expected a non-empty JSON list of workers");
    std::vector<crowdline::providers::in_house_worker> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto const at = source + ": [" + std::to_string(i) + "]";
        auto const& w = list[i];
        if (!w.is_object()) throw config_error(at + ": expected an object");
        if (!w.contains("name") || !w["name"].is_string() || w["name"].get<std::string>().empty())
            throw config_error(at + ".name: must be a non-empty string");
        auto keys = w.value(profile_key, json::array());
        if (!keys.is_array()) throw config_error(at + "." + profile_key + ": expected a list of strings");
        for (auto const& k : keys)
            if (!k.is_string()) throw config_error(at + "." + profile_key + ": expected a list of strings");
        auto profile = w;
        profile.erase("name");
        profile["keys"] = keys;
        auto name = w["name"].get<std::string>();
        auto token = known_tokens.is_object() ? known_tokens.value(name, std::string{}) : std::string{};
        out.push_back({name, profile, token});
    }
    return out;
}

}  // namespace crowdline_serve
