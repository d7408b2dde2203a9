// Adaptive overlap through the pipeline: an item starts with `min` units; answers that disagree add one
// more, up to `max`, routed under the same eligibility: a French item's tie-breaker reads French, and an
// English-only reader never sees it.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_adaptive {

namespace adaptive_test {

using namespace crowdline;
using json = nlohmann::json;
using namespace std::chrono_literals;

using test::lang_item;
/// The language of a mock item: index 0, 2, … French; 1, 3, … English.
lang_item language_of(initialization_data const& init) {
    static constexpr char const* langs[] = {"fr", "en"};
    return test::mock_language(init, langs);
}

auto make_dispatcher() {
    return routing::make_dispatcher<lang_item, json>(
        routing::adaptive_overlap{.min = 2, .max = 3, .agreement = 0.8, .field = "label"}, routing::eligible_when{test::reads_lang},
        routing::options{.lease = 600s});
}

/// Registers and submits `label` for the unit it gets; the unit's assignment, or nothing when none came.
std::optional<std::int64_t> answer(test::page& page, stores::memory& db, std::string const& label) {
    auto got = page.register_();
    if (got.type != "agent_details") return std::nullopt;
    auto const a = db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).assignment.value();
    REQUIRE(page.submit({{"label", label}}).type == "submitted");
    return a;
}

TEST_CASE("adaptive overlap: two French answers that disagree get a third French reader; English-only never sees it",
          "[pipeline][routing][adaptive]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    pipeline p{blueprints::mock{2}, arch, crowd, make_dispatcher(), db, test::run_args("adaptive"), {}, language_of};
    auto const run = p.launch();
    REQUIRE(db.find_units({.task_run = run}).size() == 4);  // min = 2 units per item
    auto assignments = db.find_assignments({.task_run = run});
    REQUIRE(assignments.size() == 2);
    std::ranges::sort(assignments, {}, [](auto const& a) { return a.id.value(); });
    // launched in the mock's order: index 0 (French), then index 1 (English)
    std::int64_t const french = assignments[0].id.value(), english = assignments[1].id.value();

    test::page fr1{arch, "fr1", {{"langs", {"fr"}}}};
    test::page fr2{arch, "fr2", {{"langs", {"fr"}}}};
    test::page en1{arch, "en1", {{"langs", {"en"}}}};
    test::page en2{arch, "en2", {{"langs", {"en"}}}};
    test::page en3{arch, "en3", {{"langs", {"en"}}}};
    test::page fr3{arch, "fr3", {{"langs", {"fr", "en"}}}};

    CHECK(answer(fr1, db, "positive") == french);
    CHECK(answer(fr2, db, "negative") == french);  // they disagree: a third unit is added
    CHECK(db.find_units({.assignment = assignment_id{french}}).size() == 3);
    CHECK(answer(en1, db, "positive") == english);
    CHECK(answer(en2, db, "positive") == english);  // they agree: the item is settled at two
    CHECK(db.find_units({.assignment = assignment_id{english}}).size() == 2);
    CHECK_FALSE(answer(en3, db, "positive"));  // English-only: the French tie-breaker is not for them
    CHECK_FALSE(p.is_complete());
    CHECK(answer(fr3, db, "positive") == french);  // a French reader breaks the tie
    CHECK(db.find_units({.assignment = assignment_id{french}}).size() == 3);  // 2 of 3 agree: below 0.8, but max is 3
    CHECK_FALSE(answer(fr1, db, "positive"));  // nobody gets two units of one item
    CHECK(p.is_complete());
    std::size_t completed = 0;
    for (auto const& u : db.find_units({.task_run = run})) completed += u.status == unit_status::completed;
    CHECK(completed == 5);
    CHECK(crowd.launched().size() == 5);  // the added unit was launched with the provider too
}

TEST_CASE("adaptive overlap: agreement reached at min adds nothing; a bad setting is refused by name",
          "[pipeline][routing][adaptive]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    pipeline p{blueprints::mock{1}, arch, crowd, make_dispatcher(), db, test::run_args("adaptive"), {}, language_of};
    auto const run = p.launch();
    test::page a{arch, "a", {{"langs", {"fr"}}}};
    test::page b{arch, "b", {{"langs", {"fr"}}}};
    CHECK(answer(a, db, "same"));
    CHECK(answer(b, db, "same"));
    CHECK(db.find_units({.task_run = run}).size() == 2);
    CHECK(p.is_complete());

    CHECK_THROWS_WITH((routing::make_dispatcher<lang_item, json>(routing::adaptive_overlap{.min = 3, .max = 2})),
                      Catch::Contains("adaptive_overlap.max"));
    CHECK_THROWS_WITH((routing::make_dispatcher<lang_item, json>(routing::adaptive_overlap{.agreement = 1.5})),
                      Catch::Contains("adaptive_overlap.agreement"));
}

}  // namespace adaptive_test

}  // namespace tu_pipeline_adaptive
