// Fuzz target: the workers file through `crowdline_serve::parse_json_text` and `roster_from_json`, with the
// invite tokens kept from an earlier run, then onto the in-house provider, as `crowdline serve` does.
//
// Input: the workers file; after a line "---", the secrets file ({"invites": {name: token}}).
// Invariants (a broken one aborts):
//  - a refusal is a `crowdline::error` naming the file, never another exception;
//  - accepted: one roster entry per list entry, names unique and as given, each profile an object without
//    "name" whose "keys" are strings; and the in-house provider accepts the whole roster (what it would
//    refuse later, roster_from_json must refuse first, naming the entry).

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <crowdline/provider/in_house.hpp>

#include "loader_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view text(reinterpret_cast<char const*>(data), size);
    std::string_view secrets_text;
    if (auto at = text.find("\n---\n"); at != std::string_view::npos) {
        secrets_text = text.substr(at + 5);
        text = text.substr(0, at);
    }
    nlohmann::json known = nlohmann::json::object();
    if (!secrets_text.empty()) {
        nlohmann::json secrets;
        if (!fuzz::accepted("secrets.json", [&] { secrets = crowdline_serve::parse_json_text(secrets_text, "secrets.json"); }))
            return 0;
        // As `serve` checks it: invites, when present, is an object (anything else here exercises the
        // loader's own guard against a non-object).
        known = secrets.is_object() && secrets.contains("invites") ? secrets["invites"] : secrets;
    }
    std::string const file = "workers.json";
    nlohmann::json list;
    std::vector<crowdline::providers::in_house_worker> roster;
    if (!fuzz::accepted(file, [&] {
            list = crowdline_serve::parse_json_text(text, file);
            roster = crowdline_serve::roster_from_json(list, file, "languages", known);
        }))
        return 0;

    fuzz::check(list.is_array() && roster.size() == list.size(),
                std::to_string(roster.size()) + " roster entries from a list of " + std::to_string(list.size()));
    std::set<std::string> names;
    for (std::size_t i = 0; i < roster.size(); ++i) {
        auto const& w = roster[i];
        fuzz::check(w.name == list[i]["name"].get<std::string>(), "entry " + std::to_string(i) + " renamed");
        fuzz::check(names.insert(w.name).second, "two entries named " + w.name);
        fuzz::check(w.profile.is_object() && !w.profile.contains("name") && w.profile.contains("keys") &&
                        w.profile["keys"].is_array(),
                    "entry " + std::to_string(i) + ": malformed profile " + w.profile.dump(-1, ' ', false,
                                                                                        nlohmann::json::error_handler_t::replace));
        for (auto const& k : w.profile["keys"]) fuzz::check(k.is_string(), "a routing key that is not a string");
        try {
            (void)w.profile.get<crowdline_serve::routed_profile>();
        } catch (...) {
            fuzz::unexpected_exception("reading the routing profile of entry " + std::to_string(i));
        }
    }
    try {
        crowdline::providers::in_house provider{roster};
        for (auto const& w : roster)
            fuzz::check(w.token.empty() || provider.invite_token(w.name) == w.token, "a kept token was not kept");
    } catch (...) {
        fuzz::unexpected_exception("the in-house provider on an accepted roster");
    }
    return 0;
}
