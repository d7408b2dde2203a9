// blueprints::live: handlers found by name, the call history handed to them, max_turns / min_turns, bad
// calls refused with a message, a bad handler list refused at construction, and the page.
#include <catch2/catch.hpp>

#include <crowdline/blueprint/live.hpp>
#include <crowdline/blueprint/mixins.hpp>

#include <string>
#include <vector>

using crowdline::blueprints::handler;
using crowdline::blueprints::live;
using crowdline::blueprints::live_args;
using crowdline::blueprints::live_call;
using json = nlohmann::json;

namespace {
/// Echoes the message upper-cased, and says how many calls came before.
auto shout = handler{"shout", [](const live_call& c) {
                         std::string text = c.args.value("text", "");
                         for (auto& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                         return json{{"text", text}, {"turn", c.history.size()}, {"topic", c.unit_data.value("topic", "")}};
                     }};
auto count = handler{"count", [](const live_call& c) { return json(c.history.size()); }};
}  // namespace

TEST_CASE("live blueprint: a call reaches the named handler with the unit and the history", "[blueprint][live]") {
    live bp{std::vector<json>{{{"topic", "cats"}}}, live_args{}, shout, count};
    STATIC_REQUIRE(crowdline::blueprint<decltype(bp)>);
    CHECK(bp.handler_names() == std::vector<std::string>{"shout", "count"});
    auto items = bp.initialization_data();
    auto init = *items.begin();
    REQUIRE(init.unit_data.size() == 1);
    json const unit = init.unit_data[0];
    std::vector<json> history;
    auto r1 = bp.on_live_update(unit, {{"handler", "shout"}, {"args", {{"text", "hi"}}}}, history);
    CHECK(r1 == json{{"handler", "shout"}, {"args", {{"text", "hi"}}}, {"response", {{"text", "HI"}, {"turn", 0}, {"topic", "cats"}}}});
    history.push_back(r1);
    auto r2 = bp.on_live_update(unit, {{"handler", "count"}}, history);
    CHECK(r2["response"] == 1);
    CHECK(r2["args"] == json::object());
}

TEST_CASE("live blueprint: bad calls are refused with a message naming the problem", "[blueprint][live]") {
    live bp{std::vector<json>{json::object()}, live_args{.title = "", .max_turns = 2, .min_turns = 0}, count};
    std::vector<json> none;
    CHECK_THROWS_WITH(bp.on_live_update({}, json::array(), none), Catch::Contains("expected an object"));
    CHECK_THROWS_WITH(bp.on_live_update({}, {{"args", 1}}, none), Catch::Contains("\"handler\" must name one of [\"count\"]"));
    CHECK_THROWS_WITH(bp.on_live_update({}, {{"handler", "nope"}}, none), Catch::Contains("unknown handler \"nope\""));
    std::vector<json> two(2, json::object());
    CHECK_THROWS_WITH(bp.on_live_update({}, {{"handler", "count"}}, two), Catch::Contains("at most 2 turns"));
}

TEST_CASE("live blueprint: min_turns holds back a submission; a submission must be an object", "[blueprint][live]") {
    live bp{std::vector<json>{json::object()}, live_args{.title = "t", .max_turns = 0, .min_turns = 2}, count};
    std::vector<json> one(1, json::object()), two(2, json::object());
    auto early = bp.on_submit({}, json::object(), one);
    REQUIRE_FALSE(early.ok());
    CHECK(early.errors[0].message.find("at least 2 turns") != std::string::npos);
    CHECK(bp.on_submit({}, json::object(), two).ok());
    CHECK_FALSE(bp.on_submit({}, json("text"), two).ok());
}

TEST_CASE("live blueprint: a bad handler list or bad args are config errors", "[blueprint][live]") {
    auto again = handler{"count", [](const live_call&) { return json(0); }};
    CHECK_THROWS_AS((live{std::vector<json>{}, live_args{}, count, again}), crowdline::config_error);
    CHECK_THROWS_WITH((live{std::vector<json>{}, live_args{}, count, again}), Catch::Contains("\"count\" is given twice"));
    auto unnamed = handler{"", [](const live_call&) { return json(0); }};
    CHECK_THROWS_WITH((live{std::vector<json>{}, live_args{}, unnamed}), Catch::Contains("empty name"));
    live bp{std::vector<json>{}, live_args{}, count};
    CHECK_THROWS_WITH(bp.validate(live_args{.title = "", .max_turns = 2, .min_turns = 3}), Catch::Contains("min_turns"));
    CHECK_THROWS_WITH(bp.validate(live_args{.title = "", .max_turns = -1, .min_turns = 0}), Catch::Contains("max_turns"));
}

TEST_CASE("live blueprint: the page names the handlers and escapes the unit's data", "[blueprint][live]") {
    live bp{std::vector<json>{{{"topic", "<b>\"x\"</b>"}}}, live_args{.title = "Chat & rate", .max_turns = 5, .min_turns = 0},
            shout, count};
    auto init = *bp.initialization_data().begin();
    auto page = bp.page(init, 0);
    CHECK(page.find("data-blueprint=\"live\"") != std::string::npos);
    CHECK(page.find("Chat &amp; rate") != std::string::npos);
    CHECK(page.find("<b>") == std::string::npos);
    CHECK(page.find("data-max-turns=\"5\"") != std::string::npos);
    CHECK(page.find("&quot;shout&quot;") != std::string::npos);
}

TEST_CASE("live blueprint: with_mixins passes the live calls through", "[blueprint][live]") {
    live bp{std::vector<json>{json::object()}, live_args{.title = "", .max_turns = 0, .min_turns = 1}, count};
    auto both = crowdline::with_mixins(bp, crowdline::mixins::screening{"screened", 1, json::object(), [](json const&) { return true; }});
    std::vector<json> none;
    CHECK(both.on_live_update({}, {{"handler", "count"}}, none)["response"] == 0);
    CHECK_FALSE(both.on_submit({}, json::object(), none).ok());
}
