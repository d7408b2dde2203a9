// Fuzz target: the form file through `crowdline_serve::parse_form`, then used as `crowdline serve` uses it.
//
// Input: the form file ({"fields": [...], "args": {...}, "items": [...]}).
// Invariants (a broken one aborts):
//  - a refusal is a `crowdline::error` naming the file, never another exception;
//  - accepted: `static_form::from_json` builds it; its `spec()` reads back to the same spec; the page
//    renders for an item holding every placeholder; `on_submit` judges any submission without throwing
//    (the spec itself, an empty object, a non-object).

#include <cstdint>
#include <string>
#include <string_view>

#include <crowdline/blueprint/static_form.hpp>

#include "loader_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const text(reinterpret_cast<char const*>(data), size);
    std::string const file = "form.json";
    nlohmann::json spec;
    if (!fuzz::accepted(file, [&] { spec = crowdline_serve::parse_form(text, file); })) return 0;
    try {
        auto form = crowdline::blueprints::static_form::from_json(spec);
        auto again = crowdline::blueprints::static_form::from_json(form.spec());
        fuzz::check(again.spec() == form.spec(), "a form's spec() does not read back to itself: " +
                                                     form.spec().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        nlohmann::json item = nlohmann::json::object();
        for (auto const& key : crowdline_serve::form_placeholders(spec)) item[key] = "value of " + key;
        (void)form.page(crowdline::initialization_data{nlohmann::json::object(), {item}}, 0);
        (void)form.on_submit(item, spec);
        (void)form.on_submit(item, nlohmann::json::object());
        (void)form.on_submit(item, nlohmann::json::array({1, "x"}));
    } catch (...) {
        fuzz::unexpected_exception("using an accepted form");
    }
    return 0;
}
