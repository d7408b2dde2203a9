// data_browser over both store backends: results by task name and by run (finished units only, with agent,
// worker and saved state), laziness, unknown names/ids, and JSONL export that round-trips.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <range/v3/algorithm/count_if.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/take.hpp>

#include <crowdline/ops/data_browser.hpp>
#include <crowdline/ops/review.hpp>
#include <crowdline/provider/mock.hpp>

#include "../store/backends.hpp"
#include "../store/fixtures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_data_browser_results {

using namespace crowdline;

namespace {

/// Two runs of one task (plus an unrelated task): run 1 has 4 finished units in several review states
/// and 2 unfinished ones; run 2 has 1 finished unit.
template <class Backend>
struct campaign {
    Backend backend;
    std::unique_ptr<typename Backend::store_type> db = backend.open();
    test::chain c = test::make_chain(*db);
    providers::mock provider;
    task_run_id second_run{};
    worker_id bob{};
    std::vector<unit_id> finished;  // creation order

    unit_id finish(assignment_id a, int index, worker_id w, nlohmann::json state) {
        auto u = test::launched_unit(*db, a, index);
        auto ag = db->new_agent(w, u);
        db->update_agent(ag, agent_status::in_task);
        db->update_agent(ag, agent_status::completed, std::move(state));
        db->update_unit(u, unit_status::completed);
        finished.push_back(u);
        return u;
    }

    campaign() {
        provider.register_requester(c.requester);
        bob = db->new_worker("bob", "mock");
        auto a2 = db->new_assignment(c.run);
        auto u0 = finish(c.assignment, 0, c.worker, {{"label", "cat"}});
        auto u1 = finish(c.assignment, 1, bob, {{"label", "dog"}, {"note", "blurry"}});
        (void)test::launched_unit(*db, a2, 0);                 // launched: not a result
        auto busy = test::launched_unit(*db, a2, 1);           // assigned: not a result
        (void)db->new_agent(db->new_worker("cy", "mock"), busy);  // one unit of an assignment per worker
        auto u2 = finish(a2, 2, bob, {{"label", "émeu \xF0\x9F\x90\xA6"}});
        auto u3 = finish(a2, 3, c.worker, {{"label", nullptr}});
        review::approve(*db, provider, u0, "ok");
        review::reject(*db, provider, u1, "wrong");
        review::soft_reject(*db, provider, u2);
        (void)u3;  // stays completed

        second_run = db->new_task_run(c.task, c.requester, nlohmann::json::object(), "mock", "static_form", true);
        auto a3 = db->new_assignment(second_run);
        finish(a3, 0, bob, {{"label", "bird"}});

        // another task entirely: never part of "task"'s results
        auto other = test::make_chain(*db, "-other");
        auto ou = test::launched_unit(*db, other.assignment, 0);
        auto oa = db->new_agent(other.worker, ou);
        db->update_agent(oa, agent_status::in_task);
        db->update_agent(oa, agent_status::completed, nlohmann::json{{"label", "other"}});
        db->update_unit(ou, unit_status::completed);
    }
};

template <class Range>
std::vector<unit_result> collect(Range&& r) {
    return ranges::to<std::vector<unit_result>>(r);
}

}  // namespace

TEMPLATE_TEST_CASE("data_browser: results of a run are its finished units with agent, worker and state",
                   "[ops][data_browser]", STORE_BACKENDS) {
    campaign<TestType> t;
    data_browser browser(*t.db);

    auto results = collect(browser.results_for_run(t.c.run));
    REQUIRE(results.size() == 4);
    std::vector<unit_id> ids;
    for (auto const& r : results) ids.push_back(r.unit.id);
    CHECK(ids == std::vector<unit_id>(t.finished.begin(), t.finished.begin() + 4));

    CHECK(results[0].unit.status == unit_status::accepted);
    CHECK(results[1].unit.status == unit_status::rejected);
    CHECK(results[2].unit.status == unit_status::soft_rejected);
    CHECK(results[3].unit.status == unit_status::completed);
    REQUIRE(results[1].agent);
    CHECK(results[1].agent->status == agent_status::rejected);
    REQUIRE(results[1].worker);
    CHECK(results[1].worker->name == "bob");
    CHECK(results[1].agent_state == nlohmann::json{{"label", "dog"}, {"note", "blurry"}});
    CHECK(results[0].worker->name == "worker");
    for (auto const& r : results) CHECK(r.unit.task_run == t.c.run);

    auto second = collect(browser.results_for_run(t.second_run));
    REQUIRE(second.size() == 1);
    CHECK(second[0].agent_state["label"] == "bird");
}

TEMPLATE_TEST_CASE("data_browser: results of a task span its runs and nothing else", "[ops][data_browser]",
                   STORE_BACKENDS) {
    campaign<TestType> t;
    data_browser browser(*t.db);
    auto results = collect(browser.results_for_task("task"));
    REQUIRE(results.size() == 5);
    std::set<task_run_id> runs;
    for (auto const& r : results) {
        CHECK(r.unit.task == t.c.task);
        runs.insert(r.unit.task_run);
    }
    CHECK(runs == std::set<task_run_id>{t.c.run, t.second_run});
    CHECK(collect(browser.results_for_task("task-other")).size() == 1);

    auto one = browser.result_for_unit(t.finished[0]);
    CHECK(one.agent_state["label"] == "cat");
}

TEMPLATE_TEST_CASE("data_browser: ranges are lazy, sized and re-iterable", "[ops][data_browser]", STORE_BACKENDS) {
    campaign<TestType> t;
    data_browser browser(*t.db);
    auto range = browser.results_for_run(t.c.run);
    CHECK(ranges::size(range) == 4u);
    auto first_two = collect(range | ranges::views::take(2));
    REQUIRE(first_two.size() == 2);
    CHECK(first_two[1].unit.id == t.finished[1]);
    // a range made before a review shows the agent as it is when the element is read
    review::approve(*t.db, t.provider, t.finished[3]);
    CHECK(collect(range)[3].agent->status == agent_status::approved);
    CHECK(ranges::count_if(range, [](unit_result const& r) { return r.unit.status == unit_status::accepted; }) == 2);
}

TEMPLATE_TEST_CASE("data_browser: unknown task names and runs are refused", "[ops][data_browser][errors]",
                   STORE_BACKENDS) {
    campaign<TestType> t;
    data_browser browser(*t.db);
    auto const before = test::snapshot(*t.db);
    CHECK_THROWS_AS(browser.results_for_task("no such task"), entry_does_not_exist);
    CHECK_THROWS_WITH(browser.results_for_task("no such task"), Catch::Contains("no such task"));
    CHECK_THROWS_AS(browser.results_for_run(task_run_id{999}), entry_does_not_exist);
    CHECK_THROWS_AS(browser.result_for_unit(unit_id{999}), entry_does_not_exist);
    CHECK(test::snapshot(*t.db) == before);
}

TEMPLATE_TEST_CASE("export_jsonl: one parseable object per line, count right, fields as stored", "[ops][data_browser]",
                   STORE_BACKENDS) {
    campaign<TestType> t;
    data_browser browser(*t.db);
    std::ostringstream out;
    auto count = export_jsonl(out, browser.results_for_task("task"));
    CHECK(count == 5u);

    std::istringstream in(out.str());
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    REQUIRE(lines.size() == count);

    auto expected = collect(browser.results_for_task("task"));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        INFO("line " << i << ": " << lines[i].dump());
        auto const& l = lines[i];
        auto const& r = expected[i];
        CHECK(l["unit_id"] == r.unit.id.value());
        CHECK(l["assignment_id"] == r.unit.assignment.value());
        CHECK(l["unit_index"] == r.unit.unit_index);
        CHECK(l["status"] == to_string(r.unit.status));
        CHECK(l["worker_name"] == r.worker->name);
        CHECK(l["agent_status"] == to_string(r.agent->status));
        CHECK(l["state"] == r.agent_state);
    }
    CHECK(lines[2]["state"]["label"] == "émeu \xF0\x9F\x90\xA6");  // UTF-8 survives
    CHECK(lines[3]["state"]["label"].is_null());
    CHECK(lines[1]["agent_status"] == "rejected");

    SECTION("an empty range writes nothing") {
        std::ostringstream empty;
        CHECK(export_jsonl(empty, std::vector<unit_result>{}) == 0u);
        CHECK(empty.str().empty());
    }
    SECTION("a failing stream is reported") {
        std::ostringstream broken;
        broken.setstate(std::ios::badbit);
        CHECK_THROWS_WITH(export_jsonl(broken, browser.results_for_run(t.c.run)), Catch::Contains("after 0 lines"));
    }
}

}  // namespace tu_data_browser_results
