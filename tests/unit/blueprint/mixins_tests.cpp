// Mixins: onboarding, screening and gold units on their own, and composed with with_mixins.
#include <catch2/catch.hpp>

#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/blueprint/static_form.hpp>

#include <set>
#include <string>
#include <vector>

using crowdline::config_error;
using json = nlohmann::json;
namespace mixins = crowdline::mixins;

namespace {
/// Passes when the answer's "label" is "cat".
bool says_cat(const json& answer) { return answer.at("label").get<std::string>() == "cat"; }

auto sample_onboarding() { return mixins::onboarding{"tutorial-done", json{{"image", "cat.png"}}, says_cat}; }
auto sample_screening() { return mixins::screening{"screened", 3, json{{"image", "dog.png"}}, says_cat}; }
auto sample_gold(double rate = 0.1) {
    return mixins::gold_units{{{{{"image", "a.png"}}, {{"label", "cat"}}}, {{{"image", "b.png"}}, {{"label", "dog"}}},
                               {{{"image", "c.png"}}, {{"label", "cow"}, {"legs", 4}}}},
                              rate,
                              "accuracy"};
}
}  // namespace

TEST_CASE("onboarding exposes its qualification, data and check", "[blueprint][mixins][onboarding]") {
    auto o = sample_onboarding();
    CHECK(o.qualification_name() == "tutorial-done");
    CHECK(o.failed_qualification_name() == "tutorial-done-failed");
    CHECK(o.onboarding_data()["image"] == "cat.png");
    CHECK(o.validate_onboarding({{"label", "cat"}}));
    CHECK_FALSE(o.validate_onboarding({{"label", "dog"}}));
    // Malformed answers fail instead of throwing.
    CHECK_FALSE(o.validate_onboarding(json::array()));
    CHECK_FALSE(o.validate_onboarding({{"label", 3}}));
    CHECK(o.grants_for(true) == std::vector<mixins::qualification_grant>{{"tutorial-done", 1}});
    CHECK(o.grants_for(false) ==
          std::vector<mixins::qualification_grant>{{"tutorial-done", 0}, {"tutorial-done-failed", 1}});
    CHECK(o.qualifications() == std::vector<std::string>{"tutorial-done", "tutorial-done-failed"});
    CHECK(o.initialization().unit_data == std::vector<json>{{{"image", "cat.png"}}});
    CHECK_NOTHROW(o.assert_args());
    o.qualification.clear();
    CHECK_THROWS_WITH(o.assert_args(), Catch::StartsWith("onboarding.qualification"));
}

TEST_CASE("screening exposes its cap, qualification, data and check", "[blueprint][mixins][screening]") {
    auto s = sample_screening();
    CHECK(s.qualification_name() == "screened");
    CHECK(s.max_units() == 3);
    CHECK(s.screening_data()["image"] == "dog.png");
    CHECK(s.may_launch(0));
    CHECK(s.may_launch(2));
    CHECK_FALSE(s.may_launch(3));
    CHECK(s.validate_screening({{"label", "cat"}}));
    CHECK_FALSE(s.validate_screening({{"label", "dog"}}));
    CHECK_FALSE(s.validate_screening("not an object"));
    CHECK(s.grants_for(false) == std::vector<mixins::qualification_grant>{{"screened", 0}});
    CHECK(s.qualifications() == std::vector<std::string>{"screened"});
    CHECK_NOTHROW(s.assert_args());
    s.max_screening_units = 0;
    CHECK_THROWS_WITH(s.assert_args(), Catch::StartsWith("screening.max_screening_units"));
    s.max_screening_units = 1;
    s.passed_qualification = "";
    CHECK_THROWS_WITH(s.assert_args(), Catch::StartsWith("screening.passed_qualification"));
}

TEST_CASE("gold units at rate 0.1: exactly 100 of 1,000, the same on every run", "[blueprint][mixins][gold]") {
    auto g = sample_gold(0.1);
    auto run = [&] {
        std::vector<std::size_t> served;
        for (std::size_t done = 0; done < 1000; ++done)
            if (g.should_serve_gold(done)) served.push_back(done);
        return served;
    };
    auto first = run();
    CHECK(first.size() == 100);
    CHECK(run() == first);
    // Spread evenly: one in every block of ten.
    for (std::size_t i = 0; i < first.size(); ++i) CHECK(first[i] / 10 == i);
}

TEST_CASE("gold rates: counts follow floor(n * rate) for awkward rates", "[blueprint][mixins][gold]") {
    for (double rate : {1.0, 0.5, 0.25, 0.07, 0.001, 0.999, 0.123456789}) {
        auto g = sample_gold(rate);
        std::size_t count = 0;
        for (std::size_t done = 0; done < 3000; ++done) count += g.should_serve_gold(done) ? 1 : 0;
        INFO("rate " << rate);
        CHECK(count == static_cast<std::size_t>(3000 * rate + 1e-9));
    }
    // A rate with no exact decimal form is taken to the nearest billionth: within one of n / 3.
    auto third = sample_gold(1.0 / 3.0);
    std::size_t thirds = 0;
    for (std::size_t done = 0; done < 3000; ++done) thirds += third.should_serve_gold(done) ? 1 : 0;
    CHECK(thirds >= 999);
    CHECK(thirds <= 1000);
    CHECK(sample_gold(1.0).should_serve_gold(0));
    CHECK_FALSE(sample_gold(0.5).should_serve_gold(0));
    CHECK(sample_gold(0.5).should_serve_gold(1));
}

TEST_CASE("gold pick rotates, score compares the answer's keys", "[blueprint][mixins][gold]") {
    auto g = sample_gold();
    CHECK(&g.pick(0) == &g.units[0]);
    CHECK(&g.pick(1) == &g.units[1]);
    CHECK(&g.pick(3) == &g.units[0]);
    CHECK(&g.pick(3) == &g.pick(3));
    CHECK(g.initialization(g.pick(2)).unit_data == std::vector<json>{{{"image", "c.png"}}});

    CHECK(g.score(g.pick(0), {{"label", "cat"}}));
    CHECK(g.score(g.pick(0), {{"label", "cat"}, {"comment", "easy"}}));  // extra keys ignored
    CHECK_FALSE(g.score(g.pick(0), {{"label", "dog"}}));
    CHECK_FALSE(g.score(g.pick(2), {{"label", "cow"}}));  // a missing answer key
    CHECK(g.score(g.pick(2), {{"label", "cow"}, {"legs", 4}}));
    CHECK_FALSE(g.score(g.pick(0), json::array()));
    CHECK_FALSE(g.score(g.pick(0), nullptr));

    mixins::gold_units exact{{{{{"q", 1}}, json("yes")}}, 0.5, "acc",
                             [](const json& answer, const json& submission) { return submission.at("a") == answer; }};
    CHECK(exact.score(exact.pick(0), {{"a", "yes"}}));
    CHECK_FALSE(exact.score(exact.pick(0), {{"b", "yes"}}));  // at() throws: a wrong answer, not a crash

    mixins::gold_units<> empty{};
    CHECK_THROWS_AS(empty.pick(0), crowdline::invalid_argument);
}

TEST_CASE("gold accuracy: percent rounded, tallied per worker", "[blueprint][mixins][gold]") {
    using g = mixins::gold_units<>;
    CHECK(g::accuracy_percent(0, 0) == 0);
    CHECK(g::accuracy_percent(3, 3) == 100);
    CHECK(g::accuracy_percent(1, 3) == 33);
    CHECK(g::accuracy_percent(2, 3) == 67);
    CHECK(g::accuracy_percent(1, 8) == 13);  // 12.5 rounds up
    CHECK(g::accuracy_percent(0, 5) == 0);
    CHECK_THROWS_AS(g::accuracy_percent(4, 3), crowdline::invalid_argument);
    static_assert(g::accuracy_percent(9, 10) == 90);

    mixins::accuracy_tally tally;
    for (bool ok : {true, true, false, true}) tally.record(ok);
    CHECK(tally.total == 4);
    CHECK(tally.correct == 3);
    CHECK(tally.percent() == 75);
    CHECK(sample_gold().grants_for(tally) == std::vector<mixins::qualification_grant>{{"accuracy", 75}});
}

TEST_CASE("gold args are validated, naming the key", "[blueprint][mixins][gold]") {
    CHECK_NOTHROW(sample_gold().assert_args());
    CHECK_THROWS_WITH(sample_gold(0.0).assert_args(), Catch::StartsWith("gold_units.rate"));
    CHECK_THROWS_WITH(sample_gold(-0.5).assert_args(), Catch::StartsWith("gold_units.rate"));
    CHECK_THROWS_WITH(sample_gold(1.5).assert_args(), Catch::StartsWith("gold_units.rate"));
    CHECK_NOTHROW(sample_gold(1.0).assert_args());
    auto g = sample_gold();
    g.accuracy_qualification = "";
    CHECK_THROWS_WITH(g.assert_args(), Catch::StartsWith("gold_units.accuracy_qualification"));
    g = sample_gold();
    g.units[1].answer = nullptr;
    CHECK_THROWS_WITH(g.assert_args(), Catch::StartsWith("gold_units.units[1].answer"));
    g.units.clear();
    CHECK_THROWS_WITH(g.assert_args(), Catch::StartsWith("gold_units.units"));
    CHECK_THROWS_AS(g.assert_args(), config_error);
}

TEST_CASE("gold units load from JSON", "[blueprint][mixins][gold]") {
    auto units = json::parse(R"([{"data": {"img": "x"}, "answer": {"label": "cat"}}])").get<std::vector<mixins::gold_unit>>();
    REQUIRE(units.size() == 1);
    CHECK(units[0].answer["label"] == "cat");
    mixins::gold_units g{units, 0.2, "acc"};
    CHECK(g.score(g.pick(0), {{"label", "cat"}}));
}

TEST_CASE("with_mixins keeps modelling blueprint and exposes the mixins", "[blueprint][mixins][compose]") {
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(4), sample_onboarding(), sample_gold());
    using composed = decltype(bp);
    STATIC_REQUIRE(crowdline::blueprint<composed>);
    STATIC_REQUIRE(composed::has_mixin<mixins::onboarding_tag>());
    STATIC_REQUIRE(composed::has_mixin<mixins::gold_units_tag>());
    STATIC_REQUIRE_FALSE(composed::has_mixin<mixins::screening_tag>());
    STATIC_REQUIRE(crowdline::has_mixin_v<mixins::gold_units_tag, composed>);
    STATIC_REQUIRE_FALSE(crowdline::has_mixin_v<mixins::gold_units_tag, crowdline::blueprints::mock>);
    STATIC_REQUIRE(composed::blueprint_type == "mock");
    STATIC_REQUIRE(std::is_same_v<crowdline::blueprint_state_t<composed>, crowdline::agent_state>);

    CHECK(bp.mixin<mixins::onboarding_tag>().qualification_name() == "tutorial-done");
    CHECK(bp.mixin<mixins::gold_units_tag>().pick(1).answer["label"] == "dog");
    bp.mixin<mixins::gold_units_tag>().rate = 0.5;  // mutable access
    CHECK(bp.mixin<mixins::gold_units_tag>().rate == 0.5);
    CHECK(bp.required_qualifications() == std::vector<std::string>{"tutorial-done", "tutorial-done-failed", "accuracy"});
    CHECK(crowdline::required_qualifications(bp) == bp.required_qualifications());
    CHECK(crowdline::required_qualifications(crowdline::blueprints::mock(1)).empty());

    // Every blueprint piece is the wrapped blueprint's.
    std::size_t n = 0;
    for (auto init : bp.initialization_data()) {
        CHECK(bp.page(init, 0) == bp.base().page(init, 0));
        ++n;
    }
    CHECK(n == 4);
    CHECK(bp.on_submit({}, {{"fail", true}}).message_for("fail").has_value());
    CHECK(bp.on_submit({}, {{"x", 1}}).ok());
    CHECK_NOTHROW(bp.validate({}));
    CHECK_THROWS_WITH(bp.validate({.units_per_assignment = 0}), Catch::StartsWith("units_per_assignment"));

    // The wrapped blueprint's args are reachable through the composition, for config binding.
    crowdline::config::apply_override(bp.args(), "units_per_assignment=3");
    CHECK(bp.base().args().units_per_assignment == 3);
    CHECK((*bp.initialization_data().begin()).unit_data.size() == 3);
    CHECK_NOTHROW(bp.validate(bp.args()));
}

TEST_CASE("with_mixins validate checks each mixin's args and clashing qualifications", "[blueprint][mixins][compose]") {
    auto form = crowdline::blueprints::static_form({crowdline::blueprints::fields::free_text{.name = "t"}},
                                                   std::vector<json>{{{"text", "x"}}});
    auto bp = crowdline::with_mixins(form, sample_screening(), sample_gold(2.0));
    STATIC_REQUIRE(crowdline::blueprint<decltype(bp)>);
    CHECK_THROWS_WITH(bp.validate({}), Catch::StartsWith("gold_units.rate"));
    bp.mixin<mixins::gold_units_tag>().rate = 0.25;
    CHECK_NOTHROW(bp.validate({}));
    bp.mixin<mixins::gold_units_tag>().accuracy_qualification = "screened";
    CHECK_THROWS_WITH(bp.validate({}), Catch::Contains("qualification \"screened\" is used by two mixins"));

    auto clash = crowdline::with_mixins(crowdline::blueprints::mock(1), mixins::onboarding{"q", json{}, says_cat},
                                        mixins::screening{"q-failed", 1, json{}, says_cat});
    CHECK_THROWS_AS(clash.validate({}), config_error);
}

namespace {
/// A user-written mixin kind: any type with mixin_kind, assert_args() and qualifications().
struct reviewer_note {
    struct kind {};
    using mixin_kind = kind;
    std::string note;
    void assert_args() const {
        if (note.empty()) throw config_error("reviewer_note.note: must not be empty");
    }
    std::vector<std::string> qualifications() const { return {}; }
};
}  // namespace

TEST_CASE("with_mixins takes user-written mixins", "[blueprint][mixins][compose]") {
    STATIC_REQUIRE(crowdline::blueprint_mixin<reviewer_note>);
    STATIC_REQUIRE_FALSE(crowdline::blueprint_mixin<int>);
    STATIC_REQUIRE_FALSE(crowdline::blueprint_mixin<crowdline::blueprints::mock>);
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(1), reviewer_note{""}, sample_onboarding());
    CHECK(bp.mixin<reviewer_note::kind>().note.empty());
    CHECK_THROWS_WITH(bp.validate({}), Catch::StartsWith("reviewer_note.note"));
    auto none = crowdline::with_mixins(crowdline::blueprints::mock(1));
    STATIC_REQUIRE(crowdline::blueprint<decltype(none)>);
    CHECK(none.required_qualifications().empty());
}
