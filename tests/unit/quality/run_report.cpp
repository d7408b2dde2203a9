// quality/run_report.hpp: a run's answers read from a store, which output fields are label fields, the
// typed labels, and the report, whose figures must be the measures' own on the same annotations.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/quality/run_report.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/fixtures.hpp"

using json = nlohmann::json;
namespace quality = crowdline::quality;
using crowdline::quality::output_label;

namespace {

quality::run_answer answer(std::int64_t item, std::string worker, json outputs) {
    return {item, std::move(worker), 0, json::object(), std::move(outputs)};
}

}  // namespace

TEST_CASE("output_label: strings, booleans and integers are labels, typed; nothing else is", "[quality][run_report]") {
    CHECK(output_label::of("cat")->to_json() == "cat");
    CHECK(output_label::of(true)->to_json() == true);
    CHECK(output_label::of(-3)->to_json() == -3);
    CHECK(output_label::of(json::parse("7"))->to_json() == 7);  // parsed as unsigned: the same label as 7
    CHECK(*output_label::of(json::parse("7")) == *output_label::of(7));
    CHECK_FALSE(output_label::of(json::parse("18446744073709551615")).has_value());  // beyond int64
    for (auto const& v : {json(1.5), json(nullptr), json::array({"a"}), json::object()}) CHECK_FALSE(output_label::of(v));
    // 3 and "3" are two labels; integers order as numbers, strings as themselves.
    CHECK(*output_label::of(3) != *output_label::of("3"));
    CHECK(*output_label::of(9) < *output_label::of(10));
    CHECK(*output_label::of("a") < *output_label::of("a b"));
    CHECK(std::hash<output_label>{}(*output_label::of(3)) == std::hash<output_label>{}(*output_label::of(json::parse("3"))));
}

TEST_CASE("label_fields: a field whose every value is a label; field_annotations refuses any other by name",
          "[quality][run_report]") {
    std::vector<quality::run_answer> const answers{
        answer(1, "ann", {{"label", "a"}, {"score", 2}, {"ok", true}, {"tags", {"x"}}, {"note", nullptr}}),
        answer(1, "bob", {{"label", "b"}, {"score", 2.5}, {"ok", false}}),
        answer(2, "ann", {{"label", "a"}, {"extra", "only here"}}),
    };
    // score has a fraction once, tags is a list, note is null: not label fields. extra is, in the answer that has it.
    CHECK(quality::label_fields(answers) == std::vector<std::string>{"extra", "label", "ok"});
    auto const ok = quality::field_annotations(answers, "ok");
    REQUIRE(ok.size() == 2);  // the answer without the field does not count
    CHECK(ok[1].worker == "bob");
    CHECK(ok[1].label.to_json() == false);
    CHECK_THROWS_WITH(quality::field_annotations(answers, "score"),
                      Catch::Contains("field \"score\"") && Catch::Contains("2.5") && Catch::Contains("not a label"));
    CHECK(quality::field_annotations(answers, "absent").empty());
}

TEST_CASE("run_report: the measures' figures per field, each worker's Dawid-Skene accuracy, from the store's done units",
          "[quality][run_report]") {
    crowdline::stores::memory db;
    auto const c = test::make_chain(db);
    std::vector<crowdline::assignment_id> items{c.assignment, db.new_assignment(c.run), db.new_assignment(c.run)};
    std::vector<crowdline::worker_id> workers{c.worker, db.new_worker("bob", "mock"), db.new_worker("cy", "mock")};
    // item × worker → label; item 2's three answers disagree. cy's answer to item 3 is never sent.
    char const* const labels[3][3] = {{"a", "a", "a"}, {"a", "b", "c"}, {"b", "b", nullptr}};
    int index = 0;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t w = 0; w < 3; ++w) {
            auto u = test::launched_unit(db, items[i], index++);
            auto a = db.new_agent(workers[w], u);
            db.update_agent(a, crowdline::agent_status::in_task);
            if (labels[i][w] == nullptr) continue;  // in hand, not done: no answer
            db.update_agent(a, crowdline::agent_status::completed,
                            json{{"inputs", {{"text", "item " + std::to_string(i + 1)}}}, {"outputs", {{"label", labels[i][w]}}}});
            db.update_unit(u, crowdline::unit_status::completed);
        }
    auto const answers = quality::run_answers(db, c.run);
    REQUIRE(answers.size() == 8);
    CHECK(answers[0].item == c.assignment.value());
    CHECK(answers[0].worker == "worker");
    CHECK(answers[0].inputs == json{{"text", "item 1"}});

    auto const report = quality::run_report(answers, quality::label_fields(answers));
    REQUIRE(report["fields"].size() == 1);
    auto const& field = report["fields"][0];
    auto const annotations = quality::field_annotations(answers, "label");
    CHECK(field["field"] == "label");
    CHECK(field["items"] == 3);
    CHECK(field["annotations"] == 8);
    CHECK(field["krippendorff_alpha"] == quality::number_or_null(quality::krippendorff_alpha(annotations)));
    CHECK(field["fleiss_kappa"].is_null());  // items of 3, 3 and 2 answers
    CHECK(field["majority_vote"]["ties"] == 1);
    auto const ds = quality::dawid_skene(annotations);
    CHECK(field["dawid_skene"] == json{{"iterations", ds.iterations}, {"converged", ds.converged}});
    REQUIRE(report["workers"].size() == 3);
    for (std::size_t w = 0; w < 3; ++w) {
        auto const& got = report["workers"][w];
        CHECK(got["worker"] == ds.workers[w].worker);
        CHECK(got["estimated_accuracy"] == ds.workers[w].accuracy);
        CHECK(got["estimated_accuracy_by_field"] == json{{"label", ds.workers[w].accuracy}});
        CHECK(got["gold_accuracy"].is_null());
    }
    CHECK(report["workers"][1]["worker"] == "cy");
    CHECK(report["workers"][1]["annotations"] == 2);  // her third unit was never sent

    // No field: workers listed with their answers, no estimate.
    auto const bare = quality::run_report(answers, {});
    CHECK(bare["fields"].empty());
    CHECK(bare["workers"][0]["estimated_accuracy"].is_null());
    CHECK(bare["workers"][0]["annotations"] == 3);
}
