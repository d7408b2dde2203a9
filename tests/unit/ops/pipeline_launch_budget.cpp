// A launch budget: `launch()` serves after a moment of launching, and ticks launch the rest a batch per
// lock, so a run of a million tasks answers workers after a second, not half a minute. Nothing is lost,
// nothing launched twice, the run completes only once every item was launched and done.

#include <catch2/catch.hpp>

#include <set>

#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_launch_budget {

namespace launch_budget_test {

using namespace crowdline;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("launch budget: the first batch at launch, the rest tick by tick, workers served meanwhile",
          "[pipeline][launch]") {
    constexpr std::size_t items = 1000;  // four batches of 256
    constexpr std::size_t batch = 256;
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    pipeline p{blueprints::mock{items}, arch, crowd, test::make_test_dispatcher(), db, test::run_args("budget")};
    using budget = decltype(p)::launch_budget;
    p.set_launch_budget(budget{.at_start = 0ms, .per_tick = 0ms});  // one batch each time
    auto const run = p.launch();
    CHECK(db.find_units({.task_run = run}).size() == batch);
    CHECK(p.launching());
    CHECK(p.summary().units() == batch);

    // A worker is served before the rest is launched, and a submission launches one batch at most.
    test::page ana{arch, "ana"};
    REQUIRE(ana.register_().type == "agent_details");
    REQUIRE(ana.submit({{"label", "x"}}).type == "submitted");
    CHECK(db.find_units({.task_run = run}).size() == 2 * batch);

    std::set<std::int64_t> done;
    done.insert(db.get_agent(*ana.agent).unit.value());
    for (int ticks = 0; p.launching() && ticks < 10; ++ticks) p.tick();
    CHECK_FALSE(p.launching());
    CHECK(db.find_units({.task_run = run}).size() == items);
    CHECK(db.find_assignments({.task_run = run}).size() == items);
    CHECK_FALSE(p.is_complete());

    for (;;) {
        auto got = ana.register_();
        if (got.type != "agent_details") break;
        CHECK(done.insert(db.get_agent(*ana.agent).unit.value()).second);  // no unit handed out twice
        REQUIRE(ana.submit({{"label", "x"}}).type == "submitted");
    }
    CHECK(done.size() == items);
    p.tick();
    CHECK(p.is_complete());
}

}  // namespace launch_budget_test

}  // namespace tu_pipeline_launch_budget
