// Fuzz target: the tasks file (JSON lines) through `crowdline_serve::parse_tasks`, as `crowdline serve`
// reads it: the keys the form shows must be present, and the routing field must be a string.
//
// Input: the first byte picks the form's placeholders and the routing field; the rest is the file.
// Invariants (a broken one aborts):
//  - a refusal is a `crowdline::error` naming the file (tasks.jsonl:<line>…), never another exception;
//  - accepted: one task per non-blank line, each an object with every needed key and a string routing
//    field, that serialises (the store keeps it as text) and routes by that field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loader_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    static std::vector<std::string> const needed_choices[] = {{}, {"text"}, {"text", "lang"}, {"a", "b", "c"}};
    static std::string const route_choices[] = {"", "lang"};
    auto const& needed = needed_choices[data[0] & 3];
    auto const& route = route_choices[(data[0] >> 2) & 1];
    std::string_view const text(reinterpret_cast<char const*>(data + 1), size - 1);
    std::string const file = "tasks.jsonl";

    std::vector<nlohmann::json> tasks;
    if (!fuzz::accepted(file, [&] { tasks = crowdline_serve::parse_tasks(text, file, needed, route); })) return 0;

    std::size_t lines = 0;
    for (auto const line : fuzz::lines(data + 1, size - 1))
        if (line.find_first_not_of(" \t\r") != std::string_view::npos) ++lines;
    fuzz::check(!tasks.empty() && tasks.size() == lines,
                std::to_string(tasks.size()) + " tasks from " + std::to_string(lines) + " non-blank lines");
    for (auto const& t : tasks) {
        fuzz::check(t.is_object(), "a task that is not an object");
        for (auto const& key : needed) fuzz::check(t.contains(key), "a task without the needed key " + key);
        try {
            (void)t.dump();
        } catch (...) {
            fuzz::unexpected_exception("serialising an accepted task");
        }
        auto const item = crowdline_serve::item_by{route}(crowdline::initialization_data{nlohmann::json::object(), {t}});
        if (!route.empty()) {
            fuzz::check(t[route].is_string(), "an accepted task whose routing field is not a string");
            fuzz::check(item.key() == t[route].get<std::string>(), "a task routed by \"" + item.key() + "\", not its field");
        }
    }
    return 0;
}
