// A translation form with crowdline's static_form blueprint: fields described once, one page per item,
// every submission checked field by field. Then the same form with onboarding and gold units mixed in.

#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/static_form.hpp>

#include <cstdio>
#include <ranges>
#include <string>
#include <vector>

using json = nlohmann::json;
namespace blueprints = crowdline::blueprints;
namespace fields = crowdline::blueprints::fields;
namespace mixins = crowdline::mixins;

int main() {
    // [form]
    std::vector<json> items = {{{"text", "Bonjour"}}, {{"text", "<b>Merci</b>"}}};
    blueprints::static_form form(
        {fields::display_text{.name = "source", .label = "Translate into English", .text = "{{text}}"},
         fields::free_text{.name = "translation", .label = "Translation", .min_length = 1, .max_length = 80},
         fields::single_choice{.name = "confidence", .label = "How sure are you?", .options = {"sure", "unsure"}},
         fields::multiple_choice{.name = "issues",
                                 .label = "Problems with the source",
                                 .options = {"typo", "slang", "offensive"},
                                 .required = false,
                                 .max_selected = 2}},
        std::move(items), {.units_per_assignment = 2});
    // [form]

    // [page]
    for (crowdline::initialization_data init : form.initialization_data() | std::views::drop(1) | std::views::take(1)) {
        std::string html = form.page(init, 0);  // the item's "<b>" arrives as "&lt;b&gt;"
        std::printf("%s", html.c_str());
    }
    // [page]

    // [submit]
    json good = {{"translation", "Hello"}, {"confidence", "sure"}, {"issues", {"slang"}}};
    json bad = {{"translation", 42}, {"confidence", "maybe"}, {"issues", {"typo", "typo"}}, {"colour", "red"}};
    crowdline::submission_check accepted = form.on_submit({}, good);
    crowdline::submission_check refused = form.on_submit({}, bad);
    for (const crowdline::field_error& e : refused.errors)
        std::printf("  %s: %s\n", e.field.c_str(), e.message.c_str());
    // [submit]
    std::printf("good submission: %s; bad submission: %s with %zu errors\n", accepted.ok() ? "accepted" : "refused",
                refused.ok() ? "accepted" : "refused", refused.errors.size());

    // [mixins]
    auto with_checks = crowdline::with_mixins(
        form,
        mixins::onboarding{"translator-onboarded", json{{"text", "Oui"}},
                           [](const json& answer) { return answer.value("translation", "") == "Yes"; }},
        mixins::gold_units{{{json{{"text", "Chat"}}, json{{"translation", "Cat"}}}}, 0.1, "translator-accuracy"});
    with_checks.validate(with_checks.args());  // the form's args, then each mixin's
    auto const& gold = with_checks.mixin<mixins::gold_units_tag>();
    bool tenth_is_gold = gold.should_serve_gold(9);  // units 0..8 regular, the 10th gold
    bool right = gold.score(gold.pick(0), {{"translation", "Cat"}, {"confidence", "sure"}});
    // [mixins]
    std::printf("qualifications:");
    for (auto const& q : with_checks.required_qualifications()) std::printf(" %s", q.c_str());
    std::printf("\ntenth unit gold: %s; gold answer scored: %s\n", tenth_is_gold ? "yes" : "no", right ? "right" : "wrong");
    return accepted.ok() && !refused.ok() && tenth_is_gold && right ? 0 : 1;
}
