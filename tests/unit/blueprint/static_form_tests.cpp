// static_form: each field kind's checks, per-field messages, hostile submissions, HTML escaping, and the
// JSON description (from_json / spec).
#include <catch2/catch.hpp>

#include <crowdline/blueprint/static_form.hpp>

#include <string>
#include <vector>

using crowdline::config_error;
using crowdline::submission_check;
using crowdline::blueprints::static_form;
using json = nlohmann::json;
namespace fields = crowdline::blueprints::fields;

namespace {

static_form sample_form(crowdline::blueprints::static_form_args args = {}) {
    return static_form({fields::display_text{.name = "intro", .label = "Read", .text = "Translate: {{text}}"},
                        fields::single_choice{.name = "sentiment", .label = "Sentiment", .options = {"pos", "neg", "neutral"}},
                        fields::multiple_choice{.name = "tags",
                                                .label = "Tags",
                                                .options = {"a", "b", "c", "d"},
                                                .required = false,
                                                .min_selected = 2,
                                                .max_selected = 3},
                        fields::free_text{.name = "translation", .label = "Translation", .min_length = 2, .max_length = 5}},
                       std::vector<json>{{{"text", "Bonjour"}}}, args);
}

json good_submission() {
    return {{"sentiment", "pos"}, {"tags", {"a", "c"}}, {"translation", "Hello"}};
}

/// The one error on `field`, requiring exactly one error overall.
std::string only_error(const submission_check& check, const std::string& field) {
    REQUIRE(check.errors.size() == 1);
    CHECK(check.errors[0].field == field);
    return check.errors[0].message;
}

}  // namespace

TEST_CASE("static_form accepts a correct submission", "[blueprint][static_form]") {
    auto form = sample_form();
    auto check = form.on_submit(json::object(), good_submission());
    CHECK(check.ok());
    CHECK(check.errors.empty());
    CHECK(check.to_json() == json{{"ok", true}, {"errors", json::array()}});
}

TEST_CASE("static_form single choice: required, type, options", "[blueprint][static_form]") {
    auto form = sample_form();
    auto s = good_submission();

    s.erase("sentiment");
    CHECK_THAT(only_error(form.on_submit({}, s), "sentiment"), Catch::Contains("required"));

    s["sentiment"] = nullptr;
    CHECK_THAT(only_error(form.on_submit({}, s), "sentiment"), Catch::Contains("required"));

    s["sentiment"] = 1;
    CHECK_THAT(only_error(form.on_submit({}, s), "sentiment"), Catch::Contains("got a number"));

    s["sentiment"] = "happy";
    auto message = only_error(form.on_submit({}, s), "sentiment");
    CHECK_THAT(message, Catch::Contains("\"happy\" is not one of the options"));
    CHECK_THAT(message, Catch::Contains("\"neutral\""));

    s["sentiment"] = json::array({"pos"});
    CHECK_THAT(only_error(form.on_submit({}, s), "sentiment"), Catch::Contains("got an array"));

    s["sentiment"] = "neg";
    CHECK(form.on_submit({}, s).ok());
}

TEST_CASE("static_form multiple choice: distinct known options within min and max", "[blueprint][static_form]") {
    auto form = sample_form();
    auto with_tags = [&](json tags) {
        auto s = good_submission();
        s["tags"] = std::move(tags);
        return form.on_submit({}, s);
    };
    CHECK(with_tags({"a", "b"}).ok());
    CHECK(with_tags({"a", "b", "d"}).ok());
    CHECK_THAT(only_error(with_tags({"a"}), "tags"), Catch::Contains("at least 2 (got 1)"));
    CHECK_THAT(only_error(with_tags({"a", "b", "c", "d"}), "tags"), Catch::Contains("at most 3 (got 4)"));
    CHECK_THAT(only_error(with_tags({"a", "a"}), "tags"), Catch::Contains("selected twice"));
    CHECK_THAT(only_error(with_tags({"a", "z"}), "tags"), Catch::Contains("\"z\" is not one of the options"));
    CHECK_THAT(only_error(with_tags({"a", 2}), "tags"), Catch::Contains("selection 2"));
    CHECK_THAT(only_error(with_tags("a"), "tags"), Catch::Contains("expected a list"));
    CHECK_THAT(only_error(with_tags({"a", "b", "c", "d", "a"}), "tags"), Catch::Contains("only 4 options"));

    // Not required: absent or empty is fine; a required one needs a selection.
    auto s = good_submission();
    s.erase("tags");
    CHECK(form.on_submit({}, s).ok());
    CHECK(with_tags(json::array()).ok());

    static_form required({fields::multiple_choice{.name = "m", .label = "M", .options = {"x", "y"}}}, std::vector<json>{});
    CHECK_THAT(only_error(required.on_submit({}, {{"m", json::array()}}), "m"), Catch::Contains("required"));
    CHECK_THAT(only_error(required.on_submit({}, json::object()), "m"), Catch::Contains("required"));
    CHECK(required.on_submit({}, {{"m", {"y"}}}).ok());
}

TEST_CASE("static_form free text: length in code points, required, type", "[blueprint][static_form]") {
    auto form = sample_form();
    auto with_text = [&](json text) {
        auto s = good_submission();
        s["translation"] = std::move(text);
        return form.on_submit({}, s);
    };
    CHECK(with_text("Hi").ok());
    CHECK(with_text("Hello").ok());
    // Five characters, ten bytes: counted as characters.
    CHECK(with_text("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9").ok());
    CHECK(with_text("\xF0\x9F\x98\x80\xF0\x9F\x98\x80").ok());  // two emoji, eight bytes
    CHECK_THAT(only_error(with_text("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"), "translation"),
               Catch::Contains("at most 5 characters (got 6)"));
    CHECK_THAT(only_error(with_text("H"), "translation"), Catch::Contains("at least 2 characters (got 1)"));
    CHECK_THAT(only_error(with_text(""), "translation"), Catch::Contains("required"));
    CHECK_THAT(only_error(with_text("   \n"), "translation"), Catch::Contains("required"));
    CHECK_THAT(only_error(with_text(42), "translation"), Catch::Contains("expected text (a string), got a number"));
    CHECK_THAT(only_error(with_text(true), "translation"), Catch::Contains("got a boolean"));

    static_form optional({fields::free_text{.name = "note", .label = "Note", .required = false, .min_length = 3}},
                         std::vector<json>{});
    CHECK(optional.on_submit({}, json::object()).ok());
    CHECK(optional.on_submit({}, {{"note", ""}}).ok());
    CHECK_THAT(only_error(optional.on_submit({}, {{"note", "ab"}}), "note"), Catch::Contains("too short"));
}

TEST_CASE("static_form free text without max_length uses max_text_length", "[blueprint][static_form]") {
    static_form form({fields::free_text{.name = "t", .label = "T"}}, std::vector<json>{}, {.max_text_length = 4});
    CHECK(form.on_submit({}, {{"t", "abcd"}}).ok());
    CHECK_THAT(only_error(form.on_submit({}, {{"t", "abcde"}}), "t"), Catch::Contains("at most 4"));
}

TEST_CASE("static_form refuses unknown keys unless allowed, and answers to display text", "[blueprint][static_form]") {
    auto form = sample_form();
    auto s = good_submission();
    s["colour"] = "red";
    CHECK_THAT(only_error(form.on_submit({}, s), "colour"), Catch::Contains("unknown field"));
    s.erase("colour");
    s["intro"] = "x";
    CHECK_THAT(only_error(form.on_submit({}, s), "intro"), Catch::Contains("display text"));

    auto lenient = sample_form({.allow_extra_keys = true});
    s["colour"] = "red";
    CHECK(lenient.on_submit({}, s).ok());
}

TEST_CASE("static_form reports one error per bad field, each naming its field", "[blueprint][static_form]") {
    auto form = sample_form();
    json s = {{"sentiment", 3}, {"tags", {"x", "y"}}, {"translation", ""}, {"extra", 1}};
    auto check = form.on_submit({}, s);
    REQUIRE(check.errors.size() == 4);
    CHECK(check.errors[0].field == "sentiment");
    CHECK(check.errors[1].field == "tags");
    CHECK(check.errors[2].field == "translation");
    CHECK(check.errors[3].field == "extra");
    CHECK(check.message_for("tags").has_value());
    CHECK_FALSE(check.message_for("intro").has_value());
    auto j = check.to_json();
    CHECK(j["ok"] == false);
    REQUIRE(j["errors"].size() == 4);
    CHECK(j["errors"][1]["field"] == "tags");
    CHECK(j["errors"][1]["message"] == *check.message_for("tags"));
}

TEST_CASE("static_form survives hostile submissions", "[blueprint][static_form][hostile]") {
    auto form = sample_form();

    SECTION("not an object") {
        for (json s : {json(nullptr), json(3), json("text"), json::array({1, 2}), json(true)}) {
            submission_check check;
            REQUIRE_NOTHROW(check = form.on_submit({}, s));
            REQUIRE(check.errors.size() == 1);
            CHECK(check.errors[0].field.empty());
            CHECK_THAT(check.errors[0].message, Catch::Contains("expected an object"));
        }
    }
    SECTION("an array nested 10,000 deep, as the whole submission and as an answer") {
        std::string text(10'000, '[');
        text += std::string(10'000, ']');
        auto deep = json::parse(text);
        submission_check check;
        REQUIRE_NOTHROW(check = form.on_submit({}, deep));
        CHECK_FALSE(check.ok());

        // Each answer parsed on its own and moved in: copying a deep value would recurse 10,000 times.
        auto s = good_submission();
        s["translation"] = json::parse(text);
        s["tags"] = json::parse(text);
        s["sentiment"] = json::parse(text);
        s["unknown"] = json::parse(text);
        REQUIRE_NOTHROW(check = form.on_submit({}, s));
        CHECK(check.errors.size() == 4);
        CHECK(check.message_for("tags").has_value());
    }
    SECTION("a 1 MB string everywhere") {
        std::string huge(1 << 20, 'x');
        json s = {{"sentiment", huge}, {"tags", {huge, "a"}}, {"translation", huge}, {huge, huge}};
        submission_check check;
        REQUIRE_NOTHROW(check = form.on_submit({}, s));
        REQUIRE(check.errors.size() == 4);
        CHECK_THAT(*check.message_for("translation"), Catch::Contains("got 1048576"));
        for (auto const& e : check.errors) {
            CHECK(e.message.size() < 400);  // a preview, never the whole value
            CHECK(e.field.size() <= 100);
        }
        REQUIRE_NOTHROW(check.to_json().dump());
    }
    SECTION("numbers, objects and booleans where strings are expected") {
        json s = {{"sentiment", 1.5}, {"tags", {{{"a", 1}}}}, {"translation", json::object()}};
        auto check = form.on_submit({}, s);
        REQUIRE(check.errors.size() == 3);
        CHECK_THAT(*check.message_for("sentiment"), Catch::Contains("got a number"));
        CHECK_THAT(*check.message_for("tags"), Catch::Contains("got an object"));
        CHECK_THAT(*check.message_for("translation"), Catch::Contains("got an object"));
    }
    SECTION("many extra keys are named up to a cap, then counted") {
        auto s = good_submission();
        for (int i = 0; i < 5000; ++i) s["k" + std::to_string(i)] = i;
        auto check = form.on_submit({}, s);
        REQUIRE(check.errors.size() == 11);
        CHECK(check.errors.back().field.empty());
        CHECK_THAT(check.errors.back().message, Catch::Contains("4990 more"));
    }
    SECTION("invalid UTF-8 in a value and in a key") {
        json s = good_submission();
        s["sentiment"] = std::string("\xFF\xFE bad");
        s[std::string("\xC3")] = 1;
        submission_check check;
        REQUIRE_NOTHROW(check = form.on_submit({}, s));
        CHECK(check.errors.size() == 2);
        REQUIRE_NOTHROW(check.to_json().dump());  // field names and previews are valid UTF-8
    }
}

TEST_CASE("static_form page escapes task data and field definitions", "[blueprint][static_form][html]") {
    static_form form({fields::display_text{.name = "intro", .label = "About {{ who }}", .text = "Text: {{text}}\n{{missing}}!"},
                      fields::single_choice{.name = "c", .label = "Pick for {{text}}", .options = {"<b>", "a\"b", "x'y"}},
                      fields::free_text{.name = "t", .label = "T", .multiline = true, .placeholder = "<i>type</i>"}},
                     std::vector<json>{{{"text", "<script>alert('x')</script>"}, {"who", "Tom & Jerry"}}});
    auto init = *form.initialization_data().begin();
    auto html = form.page(init, 0);
    CHECK_THAT(html, !Catch::Contains("<script>"));
    CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    CHECK_THAT(html, Catch::Contains("About Tom &amp; Jerry"));
    CHECK_THAT(html, Catch::Contains("value=\"&lt;b&gt;\""));
    CHECK_THAT(html, Catch::Contains("value=\"a&quot;b\""));
    CHECK_THAT(html, Catch::Contains("value=\"x&#39;y\""));
    CHECK_THAT(html, Catch::Contains("placeholder=\"&lt;i&gt;type&lt;/i&gt;\""));
    CHECK_THAT(html, Catch::Contains("!</p>"));  // the unknown placeholder shows nothing
    CHECK_THAT(html, !Catch::Contains("{{"));
    CHECK_THAT(html, Catch::StartsWith("<form "));
    CHECK_THAT(html, Catch::EndsWith("</form>\n"));
    CHECK_THAT(html, Catch::Contains("<textarea"));
}

TEST_CASE("static_form page has stable names and keyboard hints", "[blueprint][static_form][html]") {
    std::vector<std::string> options;
    for (int i = 1; i <= 11; ++i) options.push_back("o" + std::to_string(i));
    static_form form({fields::single_choice{.name = "c", .label = "C", .options = options},
                      fields::multiple_choice{.name = "m", .label = "M", .options = {"x", "y"}, .max_selected = 1},
                      fields::free_text{.name = "t", .label = "T", .max_length = 20}},
                     std::vector<json>{json::object(), json::object()}, {.submit_label = "Send"});
    auto all = std::vector<crowdline::initialization_data>();
    for (auto init : form.initialization_data()) all.push_back(init);
    REQUIRE(all.size() == 2);
    auto html = form.page(all[1], 0);
    CHECK(html == form.page(all[1], 0));
    CHECK_THAT(html, Catch::Contains("type=\"radio\" name=\"c\" value=\"o1\" data-key=\"1\""));
    CHECK_THAT(html, Catch::Contains("value=\"o9\" data-key=\"9\""));
    CHECK_THAT(html, Catch::Contains("name=\"c\" value=\"o10\" required>"));  // no 10th key
    CHECK_THAT(html, Catch::Contains("type=\"checkbox\" name=\"m\" value=\"y\" data-key=\"2\""));
    CHECK_THAT(html, Catch::Contains("data-max-selected=\"1\""));
    CHECK_THAT(html, Catch::Contains("name=\"t\" maxlength=\"20\" required"));
    CHECK_THAT(html, Catch::Contains(">Send</button>"));
    CHECK_THROWS_AS(form.page(all[1], 1), crowdline::invalid_argument);
}

TEST_CASE("static_form rejects malformed fields, naming them", "[blueprint][static_form][config]") {
    auto build = [](std::vector<crowdline::blueprints::form_field> f) { return static_form(std::move(f), std::vector<json>{}); };
    CHECK_THROWS_WITH(build({fields::single_choice{.name = "a", .label = "A", .options = {}}}),
                      Catch::Contains("fields[0] (\"a\"): options: must not be empty"));
    CHECK_THROWS_WITH(build({fields::free_text{.name = "a"}, fields::single_choice{.name = "b", .options = {"x", "x"}}}),
                      Catch::Contains("fields[1] (\"b\"): options[1]: \"x\" appears twice"));
    CHECK_THROWS_WITH(build({fields::free_text{.name = "a"}, fields::free_text{.name = "a"}}),
                      Catch::Contains("fields[1] (\"a\"): name: already used by fields[0]"));
    CHECK_THROWS_WITH(build({fields::free_text{.name = "bad name"}}), Catch::Contains("fields[0] (\"bad name\"): name"));
    CHECK_THROWS_WITH(build({fields::free_text{.name = ""}}), Catch::Contains("fields[0] (\"\"): name"));
    CHECK_THROWS_WITH(build({fields::free_text{.name = "t", .min_length = 5, .max_length = 2}}),
                      Catch::Contains("fields[0] (\"t\"): max_length"));
    CHECK_THROWS_WITH(build({fields::multiple_choice{.name = "m", .options = {"x"}, .min_selected = 2}}),
                      Catch::Contains("fields[0] (\"m\"): min_selected"));
    CHECK_THROWS_WITH(build({fields::multiple_choice{.name = "m", .options = {"x", "y"}, .max_selected = 0}}),
                      Catch::Contains("fields[0] (\"m\"): max_selected"));
    CHECK_THROWS_AS(build({fields::free_text{.name = "a"}, fields::free_text{.name = "a"}}), config_error);
}

TEST_CASE("static_form::from_json builds the form a spec describes", "[blueprint][static_form][config]") {
    auto spec = json::parse(R"({
        "fields": [
            {"type": "display_text", "name": "intro", "text": "Say {{text}} in English"},
            {"type": "single_choice", "name": "ok", "label": "Fluent?", "options": ["yes", "no"]},
            {"type": "multiple_choice", "name": "tags", "label": "Tags", "options": ["a", "b", "c"], "max_selected": 2,
             "required": false},
            {"type": "free_text", "name": "translation", "label": "Translation", "max_length": 50, "multiline": true}
        ],
        "args": {"units_per_assignment": 3, "submit_label": "Done"},
        "items": [{"text": "Bonjour"}, {"text": "Merci"}]
    })");
    auto form = static_form::from_json(spec);
    REQUIRE(form.fields().size() == 4);
    CHECK(std::holds_alternative<fields::multiple_choice>(form.fields()[2]));
    CHECK(std::get<fields::multiple_choice>(form.fields()[2]).max_selected == 2u);
    CHECK_FALSE(std::get<fields::multiple_choice>(form.fields()[2]).required);
    CHECK(std::get<fields::free_text>(form.fields()[3]).multiline);
    CHECK(form.args().units_per_assignment == 3);

    std::vector<crowdline::initialization_data> inits;
    for (auto init : form.initialization_data()) inits.push_back(init);
    REQUIRE(inits.size() == 2);
    CHECK(inits[1].unit_data.size() == 3);
    CHECK(inits[1].unit_data[2] == json{{"text", "Merci"}});
    CHECK_THAT(form.page(inits[1], 2), Catch::Contains("Say Merci in English"));
    CHECK(form.on_submit({}, {{"ok", "yes"}, {"translation", "Thanks"}}).ok());
    CHECK_FALSE(form.on_submit({}, {{"ok", "maybe"}, {"translation", "Thanks"}}).ok());

    // The description reads back into the same form.
    auto again = static_form::from_json(form.spec());
    CHECK(again.spec() == form.spec());
    CHECK(again.spec()["fields"][3]["max_length"] == 50);
}

TEST_CASE("static_form::from_json names the bad field and key", "[blueprint][static_form][config]") {
    auto fails_with = [](const char* text, const char* message) {
        CHECK_THROWS_WITH(static_form::from_json(json::parse(text)), Catch::Contains(message));
        CHECK_THROWS_AS(static_form::from_json(json::parse(text)), config_error);
    };
    fails_with(R"([1, 2])", "expected an object");
    fails_with(R"({})", "fields: missing");
    fails_with(R"({"fields": {}})", "fields: expected a list");
    fails_with(R"({"fields": [], "colour": 1})", "\"colour\": unknown key");
    fails_with(R"({"fields": [3]})", "fields[0]: expected an object");
    fails_with(R"({"fields": [{"name": "a"}]})", "fields[0] (\"a\"): type");
    fails_with(R"({"fields": [{"type": "slider", "name": "a"}]})", "fields[0] (\"a\"): type: \"slider\" is not one of");
    fails_with(R"({"fields": [{"type": "free_text", "name": "a"}, {"type": "single_choice", "name": "b", "options": "x"}]})",
               "fields[1] (\"b\"): options: expected list of string");
    fails_with(R"({"fields": [{"type": "free_text", "name": "a", "max_length": -3}]})", "fields[0] (\"a\"): max_length");
    fails_with(R"({"fields": [{"type": "free_text", "name": "a", "colour": "red"}]})",
               "fields[0] (\"a\"): colour: unknown key");
    fails_with(R"({"fields": [{"type": "single_choice", "name": "a", "options": []}]})",
               "fields[0] (\"a\"): options: must not be empty");
    fails_with(R"({"fields": [], "args": {"units_per_assignment": "two"}})", "args.units_per_assignment");
    fails_with(R"({"fields": [], "items": {"text": 1}})", "items: expected a list");
}

TEST_CASE("static_form args are reflected, described and validated", "[blueprint][static_form][config]") {
    auto form = sample_form();
    crowdline::blueprints::static_form_args args;
    CHECK_NOTHROW(form.validate(args));
    crowdline::config::apply_override(args, "units_per_assignment=0");
    CHECK_THROWS_WITH(form.validate(args), Catch::StartsWith("units_per_assignment"));
    args.units_per_assignment = 2;
    args.submit_label = "";
    CHECK_THROWS_WITH(form.validate(args), Catch::StartsWith("submit_label"));
    args.submit_label = "Go";
    args.max_text_length = 0;
    CHECK_THROWS_WITH(form.validate(args), Catch::StartsWith("max_text_length"));
    CHECK_THAT(crowdline::config::help<crowdline::blueprints::static_form_args>(),
               Catch::Contains("units_per_assignment=1  (integer)  units (workers) per item"));
    crowdline::config::apply_override(form.args(), "units_per_assignment=4");
    auto init = *form.initialization_data().begin();
    CHECK(init.unit_data.size() == 4);
}

TEST_CASE("static_form placeholders: the keys the page fills, trimmed, once each, labels included",
          "[blueprint][static_form]") {
    static_form form({fields::display_text{.name = "intro", .label = "About {{ topic }}", .text = "{{text}} / {{ text }} {{x"},
                      fields::single_choice{.name = "pick", .label = "Which {{lang}}?", .options = {"a", "b"}},
                      fields::free_text{.name = "why", .label = "Why? {{}} {{topic}}"}},
                     std::vector<json>{});
    CHECK(form.placeholders() == std::vector<std::string>{"topic", "text", "lang"});
    // What the page fills is what placeholders() names: every key given, no brace left but the unclosed one.
    auto const page = form.page(crowdline::initialization_data{json::object(), {{{"topic", "T"}, {"text", "X"}, {"lang", "L"}}}}, 0);
    CHECK(page.find("About T") != std::string::npos);
    CHECK(page.find("X / X {{x") != std::string::npos);
    CHECK(page.find("Which L?") != std::string::npos);
}

TEST_CASE("static_form placeholders: a text of many opening braces is one pass (the first }} closes)",
          "[blueprint][static_form]") {
    // 20,000 "{{" then one "}}": one placeholder whose key holds the braces, as the page reads it (a scan
    // that searched for "}}" from every "{{" copied 20,000 keys of up to 40,000 bytes here).
    std::string text(40'000, '{');
    text += "}} tail {{k}}";
    static_form form({fields::display_text{.name = "intro", .label = "L", .text = text}}, std::vector<json>{});
    auto const keys = form.placeholders();
    REQUIRE(keys.size() == 2);
    CHECK(keys[0] == std::string(39'998, '{'));
    CHECK(keys[1] == "k");
}
