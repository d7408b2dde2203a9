// Full overlap through the pipeline: items are added at launch, when nobody has joined, yet every eligible
// worker gets every item once — routing::full_overlap_of counts a roster known in advance, and
// routing::full_overlap{} adds a unit for each worker who joins later (no roster: any crowd).

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_full_overlap {

namespace full_overlap_test {

using namespace crowdline;
using json = nlohmann::json;
using namespace std::chrono_literals;

using test::lang_item;
/// The language of a mock item: index 0, 3, … English; 1, 4, … French; 2, … German.
lang_item language_of(initialization_data const& init) {
    static constexpr char const* langs[] = {"en", "fr", "de"};
    return test::mock_language(init, langs);
}

TEST_CASE("full overlap through the pipeline: each eligible roster worker does each item once, joining after launch",
          "[pipeline][routing]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    std::vector<json> const roster{{{"langs", {"en"}}}, {{"langs", {"en", "fr"}}}, {{"langs", {"fr"}}}};
    auto dispatcher = routing::make_dispatcher<lang_item, json>(routing::full_overlap_of{roster, test::reads_lang},
                                                                routing::eligible_when{test::reads_lang},
                                                                routing::options{.lease = 600s});
    pipeline p{blueprints::mock{6}, arch, crowd, std::move(dispatcher), db, test::run_args("full"), {}, language_of};
    auto const run = p.launch();

    // English and French items: two readers each on the roster → two units; German: nobody → one, starved.
    CHECK(db.find_units({.task_run = run}).size() == 2 * 2 + 2 * 2 + 2 * 1);  // 2 en, 2 fr, 2 de items

    std::map<std::string, std::set<std::int64_t>> done;  // worker → assignments done
    for (std::size_t w = 0; w < roster.size(); ++w) {
        test::page page{arch, "w" + std::to_string(w), roster[w]};
        for (;;) {
            auto got = page.register_();
            if (got.type != "agent_details") break;
            auto const unit = db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()});
            CHECK(done[page.name].insert(unit.assignment.value()).second);  // never two units of one item
            REQUIRE(page.submit({{"label", "x"}}).type == "submitted");
        }
    }
    CHECK(done["w0"].size() == 2);  // the two English items
    CHECK(done["w1"].size() == 4);  // English and French
    CHECK(done["w2"].size() == 2);  // the two French items
    std::size_t completed = 0;
    for (auto const& u : db.find_units({.task_run = run})) completed += u.status == unit_status::completed;
    CHECK(completed == 8);
    CHECK(p.starved([](initialization_data const& i) { return language_of(i).lang; }).size() == 2);  // German
    CHECK_FALSE(p.is_complete());
}

TEST_CASE("full_overlap{} through the pipeline: every eligible worker who joins, whenever, does each item once",
          "[pipeline][routing]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;  // no roster: who comes is not known in advance
    auto dispatcher = routing::make_dispatcher<lang_item, json>(routing::full_overlap{}, routing::eligible_when{test::reads_lang},
                                                                routing::options{.lease = 600s});
    pipeline p{blueprints::mock{6}, arch, crowd, std::move(dispatcher), db, test::run_args("open-full"), {}, language_of};
    auto const run = p.launch();
    CHECK(db.find_units({.task_run = run}).size() == 6);  // nobody joined yet: one open unit per item

    std::map<std::string, std::set<std::int64_t>> done;  // worker → assignments done
    auto const work_through = [&](test::page& page) {
        for (;;) {
            auto got = page.register_();
            if (got.type != "agent_details") return got;
            auto const unit = db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()});
            CHECK(unit.task_run == run);
            CHECK(done[page.name].insert(unit.assignment.value()).second);  // never two units of one item
            REQUIRE(page.submit({{"label", page.name}}).type == "submitted");
        }
    };
    // Two readers hold each other's place: the French reader arrives while the English one still works.
    test::page en{arch, "en", {{"langs", {"en"}}}};
    test::page both{arch, "both", {{"langs", {"en", "fr"}}}};
    test::page fr{arch, "fr", {{"langs", {"fr"}}}};
    auto first = en.register_();
    REQUIRE(first.type == "agent_details");
    REQUIRE(en.submit({{"label", "en"}}).type == "submitted");
    done["en"].insert(db.get_unit(unit_id{first.data["unit_id"].get<std::int64_t>()}).assignment.value());
    auto const last_both = work_through(both);
    CHECK(last_both.type == "no_work");
    auto const last_en = work_through(en);
    CHECK(last_en.type == "no_work");
    CHECK_FALSE(p.is_complete());  // the German items wait for a German reader
    work_through(fr);

    CHECK(done["en"].size() == 2);    // the two English items
    CHECK(done["both"].size() == 4);  // English and French
    CHECK(done["fr"].size() == 2);    // the two French items, added for it when it came
    for (auto const& a : done["fr"]) CHECK(done["both"].contains(a));  // the same items as the other French reader
    std::map<std::int64_t, std::set<std::string>> by_item;
    for (auto const& [who, items] : done)
        for (auto a : items) CHECK(by_item[a].insert(who).second);
    // each English and French item: every reader of it, once; a French-only reader never saw English
    std::size_t completed = 0;
    for (auto const& u : db.find_units({.task_run = run})) completed += u.status == unit_status::completed;
    CHECK(completed == 2 * 2 + 2 * 2);
    CHECK(crowd.launched().size() == db.find_units({.task_run = run}).size());  // added units launched too

    // A German reader comes last: the German items' open units, then the run is done.
    test::page de{arch, "de", {{"langs", {"de"}}}};
    work_through(de);
    CHECK(done["de"].size() == 2);
    // Every unit is done, yet the run stays open: whoever comes next still gets every item it reads.
    CHECK_FALSE(p.is_complete());
    test::page late{arch, "late", {{"langs", {"en", "de"}}}};
    work_through(late);
    CHECK(done["late"].size() == 4);
    p.shutdown();  // the requester closes it (or no_submission_patience does)
    CHECK_FALSE(p.is_active());
    CHECK(late.register_().type != "agent_details");
}

TEMPLATE_TEST_CASE("full_overlap{}: units added for late workers survive a restart; nobody gets an item twice after it",
                   "[pipeline][routing][resume]", PERSISTENT_BACKENDS) {
    TestType backend;
    auto store = backend.open();
    auto& db = *store;
    std::set<std::int64_t> both_done;
    {
        architects::in_process arch;
        providers::mock crowd;
        auto dispatcher = routing::make_dispatcher<lang_item, json>(routing::full_overlap{}, routing::eligible_when{test::reads_lang},
                                                                    routing::options{.lease = 600s});
        pipeline p{blueprints::mock{3}, arch, crowd, std::move(dispatcher), db, test::run_args("open-full"), {}, language_of};
        p.launch();
        test::page a{arch, "a", {{"langs", {"en", "fr", "de"}}}};
        for (int i = 0; i < 3; ++i) {
            REQUIRE(a.register_().type == "agent_details");
            REQUIRE(a.submit({{"label", "a"}}).type == "submitted");
        }
        test::page b{arch, "b", {{"langs", {"en", "fr", "de"}}}};
        auto got = b.register_();  // a unit added for b, taken; b then stops (the process ends)
        REQUIRE(got.type == "agent_details");
        both_done.insert(db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).assignment.value());
        REQUIRE(b.submit({{"label", "b"}}).type == "submitted");
        CHECK(db.find_units({}).size() == 4);
    }
    architects::in_process arch;
    providers::mock crowd;
    auto dispatcher = routing::make_dispatcher<lang_item, json>(routing::full_overlap{}, routing::eligible_when{test::reads_lang},
                                                                routing::options{.lease = 600s});
    pipeline p{blueprints::mock{3}, arch, crowd, std::move(dispatcher), db, test::run_args("open-full"), {}, language_of};
    p.launch();
    test::page b{arch, "b", {{"langs", {"en", "fr", "de"}}}};
    for (;;) {
        auto got = b.register_();
        if (got.type != "agent_details") break;
        CHECK(both_done.insert(db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()}).assignment.value()).second);
        REQUIRE(b.submit({{"label", "b"}}).type == "submitted");
    }
    CHECK(both_done.size() == 3);  // b did every item once, across the restart
    CHECK(db.find_units({}).size() == 6);
    CHECK_FALSE(p.is_complete());  // open for whoever comes next
    for (auto const& u : db.find_units({})) CHECK(u.status == unit_status::completed);
}

}  // namespace full_overlap_test

}  // namespace tu_pipeline_full_overlap
