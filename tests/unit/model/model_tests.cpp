#include <catch2/catch.hpp>

#include <sstream>
#include <unordered_set>

#include <crowdline/model/json.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>

using namespace crowdline;

TEST_CASE("ids compare, hash and print with their entity", "[model]") {
    unit_id a{42}, b{42}, c{7};
    CHECK(a == b);
    CHECK(c < a);
    std::unordered_set<unit_id> set{a, b, c};
    CHECK(set.size() == 2);
    std::ostringstream os;
    os << a << ", " << worker_id{3};
    CHECK(os.str() == "unit 42, worker 3");
    CHECK(unit_id{}.value() == 0);
}

TEST_CASE("status text round-trips and unknown text is refused", "[model]") {
    for (int i = 0; i < 8; ++i) {
        auto s = static_cast<unit_status>(i);
        CHECK(parse<unit_status>(to_string(s)) == s);
    }
    for (int i = 0; i < 14; ++i) {
        auto s = static_cast<agent_status>(i);
        CHECK(parse<agent_status>(to_string(s)) == s);
    }
    CHECK(to_string(agent_status::in_task) == "in task");
    CHECK(to_string(agent_status::partner_disconnect) == "partner disconnect");
    CHECK_THROWS_AS(parse<unit_status>("FAKE_STATUS"), crowdline::invalid_argument);
    CHECK_THROWS_WITH(parse<agent_status>("in_task"), Catch::Matchers::Contains("\"in_task\""));
    CHECK_FALSE(try_parse<unit_status>(""));
}

TEST_CASE("the unit machine is the table of ARCHITECTURE §3", "[model]") {
    using s = unit_status;
    STATIC_REQUIRE(can_transition(s::created, s::launched));
    STATIC_REQUIRE(can_transition(s::assigned, s::launched));
    STATIC_REQUIRE(can_transition(s::completed, s::soft_rejected));
    STATIC_REQUIRE(can_transition(s::expired, s::created));
    STATIC_REQUIRE_FALSE(can_transition(s::created, s::assigned));
    STATIC_REQUIRE_FALSE(can_transition(s::completed, s::launched));
    STATIC_REQUIRE_FALSE(can_transition(s::launched, s::launched));
    for (int i = 0; i < 8; ++i) CHECK_FALSE(can_transition(s::accepted, static_cast<s>(i)));
    int edges = 0;
    for (int f = 0; f < 8; ++f)
        for (int t = 0; t < 8; ++t) edges += can_transition(static_cast<s>(f), static_cast<s>(t));
    CHECK(edges == 13);
}

TEST_CASE("status sets match Mephisto's", "[model]") {
    CHECK(complete(unit_status::rejected));
    CHECK_FALSE(final(unit_status::rejected));  // Mephisto: rejected is not final
    CHECK(final(unit_status::expired));
    CHECK_FALSE(complete(unit_status::assigned));
    CHECK(complete(agent_status::returned));
    CHECK_FALSE(complete(agent_status::in_task));
    CHECK(final(agent_status::approved));
    CHECK_FALSE(final(agent_status::completed));
    // A final agent status has nowhere to go.
    for (int f = 0; f < 14; ++f)
        if (final(static_cast<agent_status>(f)))
            for (int t = 0; t < 14; ++t) CHECK_FALSE(can_transition(static_cast<agent_status>(f), static_cast<agent_status>(t)));
}

TEST_CASE("records round-trip through JSON from their one reflected definition", "[model]") {
    unit u{unit_id{5}, assignment_id{2}, 1, 0.75, "mock", unit_status::assigned, agent_id{9}, std::nullopt, "static_form",
           task_id{1}, task_run_id{3}, false, requester_id{4}};
    nlohmann::json j = u;
    CHECK(j["id"] == 5);
    CHECK(j["status"] == "assigned");
    CHECK(j["agent"] == 9);
    CHECK(j["worker"].is_null());
    CHECK(nlohmann::json(j.get<unit>()) == j);

    agent a{agent_id{1}, worker_id{2}, unit_id{3}, task_id{4}, task_run_id{5}, assignment_id{6}, "t", "p",
            agent_status::in_task, nlohmann::json{{"outputs", {1, 2}}}};
    CHECK(nlohmann::json(nlohmann::json(a).get<agent>()) == nlohmann::json(a));

    worker_review r{.worker = worker_id{1}, .bonus = 1.5};
    auto back = nlohmann::json(r).get<worker_review>();
    CHECK(back.bonus == 1.5);
    CHECK_FALSE(back.unit);
}

TEST_CASE("bad JSON for a record names the key", "[model]") {
    auto j = nlohmann::json{{"id", "seven"}, {"name", "x"}};
    CHECK_THROWS_AS(j.get<project>(), crowdline::invalid_argument);
    CHECK_THROWS_WITH(j.get<project>(), Catch::Matchers::Contains("\"id\""));
    CHECK_THROWS_WITH((nlohmann::json{{"status", "sideways"}}.get<unit>()), Catch::Matchers::Contains("sideways"));
    CHECK_THROWS_AS(nlohmann::json::array().get<unit>(), crowdline::invalid_argument);
}
