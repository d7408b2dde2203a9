// A provider that refuses to offer more units (`launch_refused`: the requester's money ran out) stops its
// run's launching, not the program: the run keeps serving the units it has, says why, and a restart
// resumes launching; in an operator the other runs go on.

#include <catch2/catch.hpp>

#include <string>

#include <crowdline/ops/operator.hpp>
#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_launch_refused {

namespace launch_refused_test {

using namespace crowdline;
using json = nlohmann::json;

/// A mock crowd that offers `places` units and refuses every later one.
struct stingy_crowd : providers::mock {
    std::size_t places = 0;
    std::size_t offered = 0;
    explicit stingy_crowd(std::size_t p) : places(p) {}
    void launch(unit_id u, std::string_view url) {
        if (offered >= places)
            throw launch_refused("stingy crowd: unit " + std::to_string(u.value()) + " needs a place, " +
                                 std::to_string(places) + " are paid for");
        ++offered;
        providers::mock::launch(u, url);
    }
};

TEST_CASE("a provider's launch_refused stops launching the run, which keeps serving what it has", "[pipeline][launch]") {
    stores::memory db;
    architects::in_process arch;
    stingy_crowd crowd{4};
    auto args = test::run_args("stingy");
    args.max_num_concurrent_units = 3;  // launched three at a time, refilled as units are done
    pipeline p{blueprints::mock{10}, arch, crowd, test::make_test_dispatcher(), db, args};
    auto const run = p.launch();
    CHECK_FALSE(p.launch_stopped());
    CHECK(crowd.offered == 3);

    test::page ana{arch, "ana"};
    std::size_t done = 0;
    // Two submissions: the first refill is the fourth place, the second is refused.
    for (int i = 0; i < 2; ++i) {
        REQUIRE(ana.register_().type == "agent_details");
        REQUIRE(ana.submit({{"label", "x"}}).type == "submitted");
        ++done;
    }
    REQUIRE(p.launch_stopped());
    CHECK_THAT(*p.launch_stopped(), Catch::Contains("stingy crowd") && Catch::Contains("4 are paid for"));
    CHECK(crowd.offered == 4);
    auto const units = db.find_units({.task_run = run}).size();
    CHECK(units == 5);  // the refused unit is in the store: a restart offers it again

    // Ticks launch nothing more and throw nothing; the run still serves its units.
    for (int i = 0; i < 3; ++i) REQUIRE_NOTHROW(p.tick());
    CHECK_FALSE(p.launching());
    CHECK(p.is_active());
    CHECK_FALSE(p.failure());
    while (ana.register_().type == "agent_details") {
        REQUIRE(ana.submit({{"label", "x"}}).type == "submitted");
        ++done;
    }
    CHECK(done == units);
    CHECK(db.find_units({.task_run = run}).size() == units);
    p.tick();
    CHECK_FALSE(p.is_complete());  // items are left: the run is not done, only stopped launching
    p.shutdown();

    // A restart with more places resumes launching where it stopped, and completes the run.
    architects::in_process arch2;
    stingy_crowd rich{100};
    pipeline again{blueprints::mock{10}, arch2, rich, test::make_test_dispatcher(), db, args};
    REQUIRE(again.launch() == run);
    CHECK_FALSE(again.launch_stopped());
    test::page bo{arch2, "bo"};
    while (bo.register_().type == "agent_details") REQUIRE(bo.submit({{"label", "x"}}).type == "submitted");
    again.tick();
    CHECK(again.is_complete());
    CHECK(db.find_units({.task_run = run}).size() == 10);
}

TEST_CASE("in an operator, one run's refused launch leaves the other runs launching", "[operator][launch]") {
    stores::memory db;
    architects::in_process arch;
    stingy_crowd poor{1};
    providers::mock rich;
    auto a_args = test::run_args("poor");
    auto b_args = test::run_args("rich");
    a_args.max_num_concurrent_units = b_args.max_num_concurrent_units = 2;
    pipeline stopped{blueprints::mock{5}, arch, poor, test::make_test_dispatcher(), db, a_args};
    pipeline going{blueprints::mock{5}, arch, rich, test::make_test_dispatcher(), db, b_args};
    auto op = make_operator(arch, db, stopped, going);
    REQUIRE_NOTHROW(op.tick());
    std::optional<std::string> poor_why, rich_why;
    std::size_t rich_units = 0;
    op.for_each_run([&](auto& run) {
        if (run.task_name() == "poor") poor_why = run.launch_stopped();
        else {
            rich_why = run.launch_stopped();
            rich_units = db.find_units({.task_run = *run.run()}).size();
        }
    });
    REQUIRE(poor_why);
    CHECK_THAT(*poor_why, Catch::Contains("1 are paid for"));
    CHECK_FALSE(rich_why);
    CHECK(rich_units == 2);
    CHECK(op.runs().size() == 2);
    for (auto const& e : op.runs()) CHECK(e.active);
}

}  // namespace launch_refused_test

}  // namespace tu_pipeline_launch_refused
