// Onboarding, screening and gold units run through the pipeline's worker pool.
#include <catch2/catch.hpp>

#include <crowdline/quality/gold.hpp>
#include <crowdline/quality/run_report.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_mixins {

using namespace crowdline;
using namespace std::chrono_literals;

namespace {
auto answers_four = [](nlohmann::json const& a) { return a.at("sum").get<int>() == 4; };
}

TEMPLATE_TEST_CASE("onboarding: a pass grants the qualification, a fail refuses the worker", "[pipeline][mixins]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto bp = with_mixins(blueprints::mock{3}, mixins::onboarding{"trained", {{"question", "2+2?"}}, answers_four});
    pipeline p{std::move(bp), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    auto& ch = arch.channel();

    auto first = ch.request({"register", std::nullopt, {{"worker_name", "good"}}});
    REQUIRE(first.type == "onboarding");
    CHECK(first.data["init_data"]["unit_data"]["question"] == "2+2?");
    auto oa = first.data["onboarding_agent_id"];
    // A wrong token changes nothing.
    CHECK(ch.request({"submit_onboarding", std::nullopt, {{"onboarding_agent_id", oa}, {"token", "nope"}, {"answer", {{"sum", 4}}}}})
              .data["reason"] == "not_your_unit");
    auto passed = ch.request({"submit_onboarding", std::nullopt,
                              {{"onboarding_agent_id", oa}, {"token", first.data["token"]}, {"answer", {{"sum", 4}}}}});
    REQUIRE(passed.type == "onboarding_result");
    CHECK(passed.data["passed"] == true);
    auto good = db->find_workers({.name = "good_sandbox"}).at(0).id;
    auto trained = db->find_qualifications({.name = "trained"}).at(0).id;
    CHECK(db->get_granted_qualification(trained, good).value == 1);
    CHECK(db->get_onboarding_agent(onboarding_agent_id{oa.template get<std::int64_t>()}).status == agent_status::approved);
    test::page good_page{arch, "good"};
    CHECK(good_page.register_().type == "agent_details");  // straight to work now

    auto second = ch.request({"register", std::nullopt, {{"worker_name", "bad"}}});
    REQUIRE(second.type == "onboarding");
    auto failed = ch.request({"submit_onboarding", std::nullopt,
                              {{"onboarding_agent_id", second.data["onboarding_agent_id"]},
                               {"token", second.data["token"]},
                               {"answer", {{"sum", "five"}}}}});  // malformed answers fail, they do not crash
    CHECK(failed.data["passed"] == false);
    auto bad = db->find_workers({.name = "bad_sandbox"}).at(0).id;
    CHECK(db->get_granted_qualification(trained, bad).value == 0);
    auto failed_q = db->find_qualifications({.name = "trained-failed"}).at(0).id;
    CHECK(db->get_granted_qualification(failed_q, bad).value == 1);
    test::page bad_page{arch, "bad"};
    CHECK(bad_page.register_().data["reason"] == "not_qualified");
}

TEMPLATE_TEST_CASE("screening: at most max_screening_units, and a failed worker is refused", "[pipeline][mixins]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    auto args = test::run_args();
    args.allowed_concurrent = 1;
    auto bp = with_mixins(blueprints::mock{5}, mixins::screening{"screened", 2, {{"q", "2+2"}}, answers_four});
    pipeline p{std::move(bp), arch, prov, test::make_test_dispatcher(), *db, args};
    p.set_clock(clock);
    auto run = p.launch();
    test::page a{arch, "a"}, b{arch, "b"}, c{arch, "c"};
    auto ra = a.register_();
    REQUIRE(ra.type == "agent_details");
    CHECK(ra.data["kind"] == "screening");
    CHECK(ra.data["init_data"]["unit_data"]["q"] == "2+2");
    CHECK(a.send("init").data == ra.data);  // a reloaded page gets the same screening unit back
    REQUIRE(b.register_().type == "agent_details");
    CHECK(c.register_().data["reason"] == "no_available_units");  // the cap of 2 holds
    CHECK(db->find_units({.task_run = run, .status = unit_status::assigned}).size() == 2);

    REQUIRE(a.submit({{"sum", 4}}).type == "submitted");
    REQUIRE(b.submit({{"sum", 5}}).type == "submitted");
    auto screened = db->find_qualifications({.name = "screened"}).at(0).id;
    CHECK(db->get_granted_qualification(screened, db->find_workers({.name = "a_sandbox"}).at(0).id).value == 1);
    CHECK(db->get_granted_qualification(screened, db->find_workers({.name = "b_sandbox"}).at(0).id).value == 0);
    auto next = a.register_();
    REQUIRE(next.type == "agent_details");
    CHECK(next.data["kind"] == "work");
    CHECK(b.register_().data["reason"] == "not_qualified");
    // Screening units never enter the routed pool: 5 items, 5 routed units.
    CHECK(p.dispatcher_ref().item_count() == 5);
}

TEMPLATE_TEST_CASE("screening needs allowed_concurrent = 1", "[pipeline][mixins]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    auto bp = with_mixins(blueprints::mock{5}, mixins::screening{"screened", 2, {{"q", "2+2"}}, answers_four});
    pipeline p{std::move(bp), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    CHECK_THROWS_WITH(p.launch(), Catch::Matchers::Contains("allowed_concurrent"));
}

TEMPLATE_TEST_CASE("gold units are mixed in at their rate and accuracy is kept as a qualification", "[pipeline][mixins]",
                   STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    std::vector<mixins::gold_unit> gold{{{{"text", "gold A"}}, {{"label", "a"}}}, {{{"text", "gold B"}}, {{"label", "b"}}}};
    auto bp = with_mixins(blueprints::mock{20}, mixins::gold_units{gold, 0.25, "accuracy"});
    pipeline p{std::move(bp), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    test::page w{arch, "w"};
    int gold_seen = 0, right = 0;
    for (int i = 0; i < 12; ++i) {
        auto handed = w.register_();
        REQUIRE(handed.type == "agent_details");
        CHECK(w.send("init").data == handed.data);  // a reload gets the same unit, gold or not
        auto text = w.init["unit_data"]["text"].template get<std::string>();
        nlohmann::json answer{{"label", "x"}};
        if (text.rfind("gold", 0) == 0) {
            ++gold_seen;
            // Right on the first gold unit, wrong on the others.
            answer["label"] = gold_seen == 1 ? (text == "gold A" ? "a" : "b") : "wrong";
            right += gold_seen == 1;
        }
        REQUIRE(w.submit(answer).type == "submitted");
    }
    CHECK(gold_seen == 3);  // floor(12 × 0.25)
    auto acc = db->find_qualifications({.name = "accuracy"}).at(0).id;
    auto worker = db->find_workers({.name = "w_sandbox"}).at(0).id;
    CHECK(db->get_granted_qualification(acc, worker).value == 33);  // 1 of 3
    CHECK(right == 1);

    // The verdicts are in the store with the answers: accuracy on gold is read back without the mixin,
    // and gold answers are not data (the run's answers hold the 9 real units only).
    auto const run = *p.run();
    auto const on_gold = quality::gold_accuracy(*db, run);
    REQUIRE(on_gold.size() == 1);
    CHECK(on_gold.at("w_sandbox") == quality::gold_tally{1, 3});
    CHECK(on_gold.at("w_sandbox").accuracy() == Approx(1.0 / 3.0));
    auto const answers = quality::run_answers(*db, run);
    CHECK(answers.size() == 9);
    for (auto const& a : answers) CHECK(a.inputs.value("text", std::string()).rfind("gold", 0) != 0);
    auto const report = quality::run_report(answers, quality::label_fields(answers), on_gold);
    REQUIRE(report["workers"].size() == 1);
    CHECK(report["workers"][0]["gold_accuracy"].template get<double>() == Approx(1.0 / 3.0));
    CHECK(report["workers"][0]["gold_answers"] == 3);
}

}  // namespace tu_pipeline_mixins
