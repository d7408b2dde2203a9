// task_launcher alone (no pipeline, no pool): lazy pulling under the cap, batched writes, all_done, the
// unit_data check rolled back, resume of an incomplete run, a custom item projection, group keys.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <ranges>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/fixtures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_task_launcher {

using namespace crowdline;
using namespace std::chrono_literals;

namespace task_launcher_test {

constexpr time_point t0 = time_point{} + 1000h;

auto make_disp(double units_per_item = 1) {
    return routing::make_dispatcher<initialization_data, nlohmann::json>(routing::average_per_task{units_per_item},
                                                                         routing::options{.lease = 600s});
}

task_run_args capped(std::int64_t cap) {
    task_run_args a;
    a.task_name = "launch";
    a.task_title = "t";
    a.task_description = "d";
    a.task_reward = 0.25;
    a.max_num_concurrent_units = cap;
    return a;
}

template <class Store>
task_run_id make_run(Store& db) {
    auto const task = db.new_task("launch", "mock");
    auto const req = db.new_requester("mock-requester", "mock");
    return db.new_task_run(task, req, nlohmann::json::object(), "mock", "mock", true);
}

/// An endless blueprint (iota → initialization_data) that counts how many items were actually made.
struct endless {
    std::shared_ptr<std::size_t> pulls = std::make_shared<std::size_t>(0);
    auto initialization_data() const {
        return std::views::iota(std::size_t{0}) | std::views::transform([p = pulls](std::size_t i) {
                   ++*p;
                   ::crowdline::initialization_data init;
                   init.shared = nlohmann::json{{"index", i}};
                   init.unit_data = {nlohmann::json{{"text", "item " + std::to_string(i)}}};
                   return init;
               });
    }
};

/// A blueprint over a fixed list.
struct listed {
    std::vector<::crowdline::initialization_data> items;
    auto initialization_data() const { return std::views::all(items); }
};

::crowdline::initialization_data item_with(std::size_t unit_data_entries, nlohmann::json shared = nlohmann::json::object()) {
    ::crowdline::initialization_data init;
    init.shared = std::move(shared);
    for (std::size_t i = 0; i < unit_data_entries; ++i) init.unit_data.push_back(nlohmann::json{{"u", i}});
    return init;
}

/// Forwards to a memory store and counts transactions (what launch_more needs of a store).
struct counting_store {
    stores::memory& db;
    std::size_t transactions = 0;
    template <class F>
    decltype(auto) transaction(F&& f) {
        ++transactions;
        return db.transaction(std::forward<F>(f));
    }
    assignment_id new_assignment(task_run_id r) { return db.new_assignment(r); }
    unit_id new_unit(assignment_id a, int index, double pay) { return db.new_unit(a, index, pay); }
    void update_unit(unit_id u, unit_status s) { db.update_unit(u, s); }
};

std::vector<assignment_id> assignments_of(stores::memory& db, std::vector<unit_id> const& units) {
    std::vector<assignment_id> out;
    for (auto u : units) out.push_back(db.get_unit(u).assignment);
    return out;
}

}  // namespace task_launcher_test

using namespace task_launcher_test;

TEST_CASE("task_launcher pulls an endless range lazily and keeps at most the cap live", "[task_launcher]") {
    stores::memory db;
    auto const run = make_run(db);
    endless bp;
    auto disp = make_disp();
    detail::run_counts counts;
    task_launcher launcher{bp, disp, db, counts};
    auto const args = capped(5);
    launcher.start(run, args);

    auto const first = launcher.launch_more(t0);
    CHECK(first.size() == 5);
    CHECK(*bp.pulls == 5);  // nothing pulled beyond the cap
    CHECK(db.find_assignments({.task_run = run}).size() == 5);
    CHECK(db.find_units({.task_run = run, .status = unit_status::launched}).size() == 5);
    CHECK(disp.item_count() == 5);
    CHECK(counts.summary().assignments == 5);
    CHECK(counts.summary().units(unit_status::launched) == 5);
    for (auto u : first) CHECK(db.get_unit(u).pay_amount == 0.25);

    // Full: another call launches nothing and pulls nothing.
    CHECK(launcher.launch_more(t0).empty());
    CHECK(*bp.pulls == 5);
    CHECK_FALSE(launcher.all_done());

    // Two units finished: exactly two more, the next items in order.
    auto const made = assignments_of(db, first);
    launcher.unit_finished(made[0]);
    launcher.unit_finished(made[3]);
    auto const more = launcher.launch_more(t0);
    REQUIRE(more.size() == 2);
    CHECK(*bp.pulls == 7);
    CHECK(db.find_units({.task_run = run}).size() == 7);
    CHECK(counts.summary().units(unit_status::launched) == 7);
    std::set<std::size_t> indices;
    for (auto a : assignments_of(db, more)) indices.insert(launcher.assignment(a).init().shared["index"].get<std::size_t>());
    CHECK(indices == std::set<std::size_t>{5, 6});
    CHECK(launcher.launch_more(t0).empty());
    CHECK(*bp.pulls == 7);
    CHECK_FALSE(launcher.all_done());  // an endless range is never done
}

TEST_CASE("task_launcher writes more than launch_batch items in batches, all stored", "[task_launcher]") {
    using launcher_t = task_launcher<blueprints::mock, decltype(make_disp()), counting_store>;
    STATIC_REQUIRE(launcher_t::launch_batch == 256);
    stores::memory mem;
    auto const run = make_run(mem);
    counting_store db{mem};
    auto disp = make_disp();
    detail::run_counts counts;

    SECTION("no cap: every item, ceil(n / 256) transactions") {
        blueprints::mock bp{600};
        launcher_t launcher{bp, disp, db, counts};
        auto const args = capped(0);
        launcher.start(run, args);
        auto const launched = launcher.launch_more(t0);
        CHECK(launched.size() == 600);
        CHECK(db.transactions == 3);
        CHECK(mem.find_assignments({.task_run = run}).size() == 600);
        CHECK(mem.find_units({.task_run = run, .status = unit_status::launched}).size() == 600);
        CHECK(std::set<unit_id>(launched.begin(), launched.end()).size() == 600);
        CHECK(launcher.assignments().size() == 600);
        CHECK(counts.summary().units(unit_status::launched) == 600);
        CHECK(launcher.launch_more(t0).empty());
        CHECK(db.transactions == 3);  // exhausted: no empty transaction
    }
    SECTION("a cap inside the second batch") {
        blueprints::mock bp{600};
        launcher_t launcher{bp, disp, db, counts};
        auto const args = capped(300);
        launcher.start(run, args);
        CHECK(launcher.launch_more(t0).size() == 300);
        CHECK(db.transactions == 2);
        CHECK(mem.find_units({.task_run = run}).size() == 300);
    }
}

TEST_CASE("task_launcher is all_done once every item is pulled and every unit finished", "[task_launcher]") {
    stores::memory db;
    auto const run = make_run(db);
    detail::run_counts counts;

    SECTION("two units per assignment: done only when both are") {
        blueprints::mock bp{3, blueprints::mock_args{2}};
        auto disp = make_disp(2);
        task_launcher launcher{bp, disp, db, counts};
        auto const args = capped(0);
        launcher.start(run, args);
        auto const units = launcher.launch_more(t0);
        REQUIRE(units.size() == 6);
        CHECK_FALSE(launcher.all_done());
        std::vector<assignment_id> as;
        for (auto const& a : db.find_assignments({.task_run = run})) as.push_back(a.id);
        REQUIRE(as.size() == 3);
        for (auto a : as) {
            launcher.unit_finished(a);
            CHECK(launcher.assignment(a).completed == 1);
        }
        CHECK_FALSE(launcher.all_done());
        launcher.unit_finished(as[0]);
        launcher.unit_finished(as[1]);
        CHECK_FALSE(launcher.all_done());
        launcher.unit_finished(as[2]);
        CHECK(launcher.all_done());
    }
    SECTION("under a cap: items not pulled yet keep it from being done") {
        blueprints::mock bp{3};
        auto disp = make_disp();
        task_launcher launcher{bp, disp, db, counts};
        auto const args = capped(2);
        launcher.start(run, args);
        auto const first = launcher.launch_more(t0);
        REQUIRE(first.size() == 2);
        for (auto a : assignments_of(db, first)) launcher.unit_finished(a);
        CHECK_FALSE(launcher.all_done());  // the third item is still in the range
        auto const last = launcher.launch_more(t0);
        REQUIRE(last.size() == 1);
        CHECK_FALSE(launcher.all_done());
        launcher.unit_finished(db.get_unit(last[0]).assignment);
        CHECK(launcher.all_done());
    }
    SECTION("an empty range is done at once after the first launch") {
        blueprints::mock bp{0};
        auto disp = make_disp();
        task_launcher launcher{bp, disp, db, counts};
        auto const args = capped(0);
        launcher.start(run, args);
        CHECK_FALSE(launcher.all_done());  // not pulled yet
        CHECK(launcher.launch_more(t0).empty());
        CHECK(launcher.all_done());
    }
}

TEST_CASE("task_launcher refuses an item whose unit_data count is not the router's unit count", "[task_launcher]") {
    stores::memory db;
    auto const run = make_run(db);
    auto disp = make_disp(2);  // two units per item
    detail::run_counts counts;
    auto const args = capped(0);

    SECTION("the whole batch rolls back") {
        listed bp{{item_with(2), item_with(0), item_with(1), item_with(3)}};  // 2, shared-only, one for all: fine; 3: not
        task_launcher launcher{bp, disp, db, counts};
        launcher.start(run, args);
        auto const before = test::snapshot(db);
        CHECK_THROWS_AS(launcher.launch_more(t0), config_error);
        CHECK(test::snapshot(db) == before);
        CHECK(db.find_assignments({}).empty());
        CHECK(db.find_units({}).empty());
        CHECK(counts.summary().assignments == 0);  // nothing committed, nothing counted
    }
    SECTION("the message names the counts") {
        listed bp{{item_with(3)}};
        task_launcher launcher{bp, disp, db, counts};
        launcher.start(run, args);
        CHECK_THROWS_WITH(launcher.launch_more(t0), Catch::Contains("3 unit_data entries") && Catch::Contains("2 units"));
    }
    SECTION("only the failing batch rolls back; earlier batches stay") {
        listed bp;
        for (int i = 0; i < 300; ++i) bp.items.push_back(item_with(2));
        bp.items.push_back(item_with(5));
        task_launcher launcher{bp, disp, db, counts};
        launcher.start(run, args);
        CHECK_THROWS_AS(launcher.launch_more(t0), config_error);
        CHECK(db.find_assignments({.task_run = run}).size() == 256);
        CHECK(db.find_units({.task_run = run}).size() == 512);
        CHECK(counts.summary().assignments == 256);
    }
    SECTION("matching, single and empty unit_data are accepted") {
        listed bp{{item_with(2), item_with(1), item_with(0)}};
        task_launcher launcher{bp, disp, db, counts};
        launcher.start(run, args);
        CHECK(launcher.launch_more(t0).size() == 6);
    }
}

namespace task_launcher_test {

/// A run a previous process left behind: a completed, an assigned, an expired, a returned (launched) unit,
/// a mixin's extra assignment (unit_index -1) held, and an assignment whose units were never made.
struct left_behind {
    task_run_id run;
    worker_id finisher, holder, leaver;
    assignment_id done_a, held_a, expired_a, extra_a, returned_a, empty_a;
    unit_id done_u, held_u, expired_u, extra_u, returned_u;
    agent_id done_ag, held_ag, extra_ag, returned_ag;
};

left_behind leave_behind(stores::memory& db) {
    left_behind s;
    s.run = make_run(db);
    s.finisher = db.new_worker("finisher", "mock");
    s.holder = db.new_worker("holder", "mock");
    s.leaver = db.new_worker("leaver", "mock");
    auto launched = [&](assignment_id a, int index) {
        auto u = db.new_unit(a, index, 0.25);
        db.update_unit(u, unit_status::launched);
        return u;
    };
    // item 0: done by `finisher`
    s.done_a = db.new_assignment(s.run);
    s.done_u = launched(s.done_a, 0);
    s.done_ag = db.new_agent(s.finisher, s.done_u);
    db.update_agent(s.done_ag, agent_status::in_task);
    db.update_agent(s.done_ag, agent_status::completed, nlohmann::json{{"outputs", {{"x", 1}}}});
    db.update_unit(s.done_u, unit_status::completed);
    // item 1: held by `holder` when the process stopped
    s.held_a = db.new_assignment(s.run);
    s.held_u = launched(s.held_a, 0);
    s.held_ag = db.new_agent(s.holder, s.held_u);
    db.update_agent(s.held_ag, agent_status::in_task);
    // a screening unit (its own assignment, no blueprint item), held
    s.extra_a = db.new_assignment(s.run);
    s.extra_u = launched(s.extra_a, -1);
    s.extra_ag = db.new_agent(s.holder, s.extra_u);
    db.update_agent(s.extra_ag, agent_status::in_task);
    // item 2: expired
    s.expired_a = db.new_assignment(s.run);
    s.expired_u = launched(s.expired_a, 0);
    db.update_unit(s.expired_u, unit_status::expired);
    // item 3: returned by `leaver`, launched again
    s.returned_a = db.new_assignment(s.run);
    s.returned_u = launched(s.returned_a, 0);
    s.returned_ag = db.new_agent(s.leaver, s.returned_u);
    db.update_agent(s.returned_ag, agent_status::in_task);
    db.update_agent(s.returned_ag, agent_status::returned);
    db.clear_unit_agent_assignment(s.returned_u);
    // item 4: the process stopped between the assignment and its units
    s.empty_a = db.new_assignment(s.run);
    return s;
}

}  // namespace task_launcher_test

TEST_CASE("task_launcher resumes an incomplete run: open units back, completed ones stay done", "[task_launcher][resume]") {
    stores::memory db;
    auto const s = leave_behind(db);
    blueprints::mock bp{8};
    auto disp = make_disp();
    detail::run_counts counts;
    task_launcher launcher{bp, disp, db, counts};
    auto const args = capped(0);
    launcher.start(s.run, args);

    auto const reopened = launcher.resume(t0);
    std::set<unit_id> const got(reopened.begin(), reopened.end());
    CHECK(reopened.size() == got.size());
    CHECK(got.contains(s.held_u));
    CHECK(got.contains(s.expired_u));
    CHECK(got.contains(s.returned_u));
    CHECK_FALSE(got.contains(s.done_u));
    CHECK_FALSE(got.contains(s.extra_u));
    auto const empty_units = db.find_units({.assignment = s.empty_a});
    REQUIRE(empty_units.size() == 1);  // routed now
    CHECK(got.contains(empty_units[0].id));
    CHECK(got.size() == 4);
    for (auto u : reopened) {
        CHECK(db.get_unit(u).status == unit_status::launched);
        CHECK_FALSE(db.get_unit(u).agent);
    }

    // Completed stays done, with its agent and data.
    CHECK(db.get_unit(s.done_u).status == unit_status::completed);
    CHECK(db.get_unit(s.done_u).worker == s.finisher);
    CHECK(db.get_agent(s.done_ag).status == agent_status::completed);
    CHECK(launcher.assignment(s.done_a).completed == 1);
    // The held unit's agent expired; the returned one's agent is untouched.
    CHECK(db.get_agent(s.held_ag).status == agent_status::expired);
    CHECK(db.get_agent(s.returned_ag).status == agent_status::returned);
    // The mixin's unit is closed and paired with no item.
    CHECK(db.get_unit(s.extra_u).status == unit_status::expired);
    CHECK(db.get_agent(s.extra_ag).status == agent_status::expired);
    CHECK_FALSE(launcher.assignments().contains(s.extra_a));

    // Items pair with the routed assignments in order, skipping the extra one.
    auto index_of = [&](assignment_id a) { return launcher.assignment(a).init().unit_data.at(0)["index"].get<std::size_t>(); };
    CHECK(index_of(s.done_a) == 0);
    CHECK(index_of(s.held_a) == 1);
    CHECK(index_of(s.expired_a) == 2);
    CHECK(index_of(s.returned_a) == 3);
    CHECK(index_of(s.empty_a) == 4);

    // The dispatcher knows who did what.
    CHECK(disp.item_count() == 5);
    auto const done_view = disp.units_of(item_key_of(s.done_a));
    REQUIRE(done_view.size() == 1);
    CHECK(done_view[0].state == routing::unit_state::completed);
    CHECK(done_view[0].worker == s.finisher);
    CHECK(disp.units_of(item_key_of(s.held_a))[0].state == routing::unit_state::open);
    // Whoever returned a unit does not get it again.
    disp.join(s.leaver, nlohmann::json::object(), t0);
    auto const grants = disp.next(s.leaver, 10, t0);
    CHECK(grants.size() == 3);  // held, expired, empty: every open item but the one they returned
    for (auto const& g : grants) CHECK(g.item != item_key_of(s.returned_a));

    // The range goes on past the items already used.
    auto const next = launcher.launch_more(t0);
    REQUIRE(next.size() == 3);
    std::set<std::size_t> fresh;
    for (auto a : assignments_of(db, next)) fresh.insert(index_of(a));
    CHECK(fresh == std::set<std::size_t>{5, 6, 7});

    // Done once every open unit is finished (the completed one counts already).
    for (auto a : {s.held_a, s.expired_a, s.returned_a, s.empty_a}) launcher.unit_finished(a);
    CHECK_FALSE(launcher.all_done());
    for (auto a : assignments_of(db, next)) launcher.unit_finished(a);
    CHECK(launcher.all_done());
}

TEST_CASE("task_launcher resume: a blueprint shorter than the run fails with the store untouched", "[task_launcher][resume]") {
    stores::memory db;
    auto const s = leave_behind(db);
    blueprints::mock bp{3};  // the run has 5 routed assignments
    auto disp = make_disp();
    detail::run_counts counts;
    task_launcher launcher{bp, disp, db, counts};
    auto const args = capped(0);
    launcher.start(s.run, args);
    auto const before = test::snapshot(db);
    CHECK_THROWS_WITH(launcher.resume(t0), Catch::Contains("fewer items than the run's 5 assignments"));
    CHECK(test::snapshot(db) == before);
}

namespace task_launcher_test {
/// A routed item with no constructor from initialization_data: only a projection makes one.
struct lang_item {
    std::string lang;
};
}  // namespace task_launcher_test

TEST_CASE("task_launcher uses a custom item_of projection", "[task_launcher]") {
    STATIC_REQUIRE_FALSE(std::is_constructible_v<lang_item, initialization_data const&>);
    stores::memory db;
    auto const run = make_run(db);
    listed bp{{item_with(1, {{"lang", "fr"}}), item_with(1, {{"lang", "de"}}), item_with(1, {{"lang", "fr"}})}};
    auto disp = routing::make_dispatcher<lang_item, nlohmann::json>(routing::no_overlap, routing::options{.lease = 600s});
    detail::run_counts counts;
    std::size_t calls = 0;
    auto by_lang = [&calls](initialization_data const& init) {
        ++calls;
        return lang_item{init.shared.at("lang").get<std::string>()};
    };
    task_launcher launcher{bp, disp, db, counts, by_lang};
    STATIC_REQUIRE(std::is_same_v<decltype(launcher)::item_type, lang_item>);
    auto const args = capped(0);
    launcher.start(run, args);
    auto const units = launcher.launch_more(t0);
    REQUIRE(units.size() == 3);
    CHECK(calls == 3);
    std::vector<std::string> langs;
    for (auto a : assignments_of(db, units)) langs.push_back(disp.item(item_key_of(a)).lang);
    CHECK(langs == std::vector<std::string>{"fr", "de", "fr"});
    CHECK(launcher.item_of(item_with(0, {{"lang", "it"}})).lang == "it");
    CHECK(calls == 4);
}

TEST_CASE("task_launcher set_group_key groups assignments made before and after", "[task_launcher]") {
    stores::memory db;
    auto const run = make_run(db);
    listed bp{{item_with(1, {{"lang", "fr"}}), item_with(1, {{"lang", "de"}}), item_with(1, {{"lang", "fr"}})}};
    auto disp = make_disp();
    detail::run_counts counts;
    task_launcher launcher{bp, disp, db, counts};
    auto const args = capped(2);
    launcher.start(run, args);
    auto const first = assignments_of(db, launcher.launch_more(t0));
    REQUIRE(first.size() == 2);
    CHECK(launcher.assignment(first[0]).group().empty());
    launcher.set_group_key([](initialization_data const& init) { return init.shared.at("lang").get<std::string>(); });
    CHECK(launcher.assignment(first[0]).group() == "fr");
    CHECK(launcher.assignment(first[1]).group() == "de");
    launcher.unit_finished(first[0]);
    auto const last = assignments_of(db, launcher.launch_more(t0));
    REQUIRE(last.size() == 1);
    CHECK(launcher.assignment(last[0]).group() == "fr");  // grouped as it is made
    auto const progress = counts.progress();  // launched units counted under their group from now on
    auto fr = std::ranges::find(progress, std::string("fr"), &key_progress::key);
    REQUIRE(fr != progress.end());
    CHECK(fr->total == 1);
}

}  // namespace tu_task_launcher
