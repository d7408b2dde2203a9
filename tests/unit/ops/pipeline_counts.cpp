// The pipeline's running counts (`summary`, `progress`, `workers`) against a full recount from the store,
// after every step of a randomized mix of what a run goes through: registrations, submissions, returns,
// disconnects, expired leases, review decisions (with bonuses, blocks and refusals), shutdowns and
// resumes, and the run's end. A count that drifts from the store fails at the step that made it drift.
// The running agreement (`pipeline::agreement`, what /metrics prints) is held to quality::run_report's
// figures from the store in the same way.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <crowdline/quality/run_report.hpp>

#include "pipeline_common.hpp"
#include "unit/quality/batch_figures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_counts {

using namespace crowdline;
using namespace std::chrono_literals;

namespace {

/// The group of a mock item: its index modulo 3.
std::string group_of(initialization_data const& init) {
    return std::to_string(init.unit_data.front()["index"].get<std::size_t>() % 3);
}

/// `progress()` as the store says it is: per group of the run's routed assignments (in creation order,
/// assignment k holds mock item k), the units made and the units done.
template <class Store>
std::map<std::string, std::pair<std::size_t, std::size_t>> progress_in_store(Store& db, task_run_id run) {
    std::map<std::string, std::pair<std::size_t, std::size_t>> out;
    std::size_t item = 0;
    for (auto const& a : db.find_assignments({.task_run = run})) {
        auto units = db.find_units({.assignment = a.id});
        if (units.empty() || units.front().unit_index < 0) continue;  // screening / gold: not routed work
        auto& row = out[std::to_string(item++ % 3)];
        row.second += units.size();
        for (auto const& u : units) row.first += complete(u.status) ? 1 : 0;
    }
    return out;
}

template <class Pipeline, class Store>
void require_counts_match(Pipeline& p, Store& db, task_run_id run, std::string const& step) {
    INFO("after step: " << step);
    auto const counted = p.summary();
    auto const stored = summarize_run(db, run);
    INFO("counted: " << counted.to_json().dump() << "\nstored:  " << stored.to_json().dump());
    REQUIRE(counted == stored);

    std::map<std::string, std::pair<std::size_t, std::size_t>> groups;
    for (auto const& g : p.progress()) groups[g.key] = {g.done, g.total};
    REQUIRE(groups == progress_in_store(db, run));
    // progress() agrees with the full O(assignments) form too
    auto slow = p.progress(group_of);
    REQUIRE(slow.size() == groups.size());
    for (auto const& g : slow) REQUIRE(groups[g.key] == std::pair{g.done, g.total});

    std::map<worker_id, std::pair<std::size_t, std::size_t>> in_store;  // held, done
    for (auto const& u : db.find_units({.task_run = run})) {
        if (!u.worker) continue;
        if (u.status == unit_status::assigned) ++in_store[*u.worker].first;
        if (complete(u.status)) ++in_store[*u.worker].second;
    }
    std::map<worker_id, std::pair<std::size_t, std::size_t>> shown;
    for (auto const& w : p.workers())
        if (w.held != 0 || w.done != 0) shown[w.id] = {w.held, w.done};
    REQUIRE(shown == in_store);

    quality_test::require_batch_figures(p.agreement(), quality::run_answers(db, run));
}

/// A random answer: a label of three, sometimes a yes/no, rarely a field that is no label field.
template <class Random>
nlohmann::json random_answer(Random& random) {
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
    nlohmann::json out{{"label", std::string(1, static_cast<char>('a' + pick(3)))}};
    if (pick(2) == 0) out["urgent"] = pick(2) == 0;
    if (pick(4) == 0) out["note"] = pick(10) == 0 ? nlohmann::json(0.25) : nlohmann::json("fine");
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("running counts agree with a full recount from the store after every step of a random run",
                   "[pipeline][counts]", STORE_BACKENDS) {
    auto const seed = GENERATE(1u, 2u, 3u);
    INFO("seed " << seed);
    std::mt19937 random{seed};
    auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(random) < percent; };

    TestType backend;
    auto db = backend.open();
    providers::mock prov;
    test::manual_clock clock;
    auto args = test::run_args("counted");
    args.max_num_concurrent_units = 12;  // submissions refill under the cap
    args.no_submission_patience = 100'000;
    std::unique_ptr<architects::in_process> arch;  // a shut-down architect stays down: each process has its own
    using pipeline_type =
        decltype(pipeline{blueprints::mock{40}, *arch, prov, test::make_test_dispatcher(2), *db, args});
    std::unique_ptr<pipeline_type> p;
    std::vector<test::page> pages;
    auto start = [&] {
        p.reset();
        arch = std::make_unique<architects::in_process>();
        p = std::make_unique<pipeline_type>(blueprints::mock{40}, *arch, prov, test::make_test_dispatcher(2), *db, args);
        p->set_clock(clock);
        p->set_group_key(group_of);
        pages.clear();
        for (auto name : {"ann", "ben", "cat", "dan", "eve"}) pages.push_back(test::page{*arch, name});
        return p->launch();
    };
    auto const run = start();
    require_counts_match(*p, *db, run, "launch");
    std::string step;
    for (int i = 0; i < 160 && p->is_active(); ++i) {
        auto& page = pages[std::uniform_int_distribution<std::size_t>(0, pages.size() - 1)(random)];
        int const what = std::uniform_int_distribution<int>(0, 99)(random);
        if (what < 30) {
            step = page.name + " registers";
            (void)page.register_();
        } else if (what < 55) {
            step = page.name + " submits";
            if (page.agent) (void)page.submit(random_answer(random));
            page.agent.reset();
        } else if (what < 60) {
            step = page.name + " returns the unit";
            if (page.agent) (void)page.send("release");
            page.agent.reset();
        } else if (what < 65) {
            step = page.name + " disconnects";
            if (page.agent) arch->disconnect(*page.agent);
            page.agent.reset();
        } else if (what < 70) {
            step = "leases expire";
            clock.now += 601s;
            p->tick();
        } else if (what < 90) {
            auto done = db->find_units({.task_run = run, .status = unit_status::completed});
            if (done.empty()) continue;
            review::decision d;
            d.unit = done[std::uniform_int_distribution<std::size_t>(0, done.size() - 1)(random)].id;
            d.action = static_cast<review::verdict>(std::uniform_int_distribution<int>(0, 2)(random));
            if (chance(40)) d.bonus = chance(20) ? 1e9 : 1.5;  // 1e9: over the budget, refused
            if (chance(10)) d.block = "careless";
            step = "review: " + std::string(review::to_string(d.action)) + " unit " + std::to_string(d.unit.value());
            try {
                (void)p->decide(d);
            } catch (review::payment_refused const&) {
                step += " (refused)";
            }
        } else if (what < 95) {
            step = "shutdown and resume";
            p->shutdown();
            REQUIRE(start() == run);
        } else {
            step = "tick";
            p->tick();
        }
        require_counts_match(*p, *db, run, step);
    }
    // The end: no submission for longer than the patience expires every open unit.
    clock.now += std::chrono::seconds(args.no_submission_patience + 1);
    p->tick();
    require_counts_match(*p, *db, run, "patience ran out");
}

TEMPLATE_TEST_CASE("a resumed run's counts come from the store, and recount() catches changes made through locked()",
                   "[pipeline][counts]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    providers::mock prov;
    test::manual_clock clock;
    auto const args = test::run_args("resumed");
    task_run_id run{};
    {
        architects::in_process arch;
        pipeline p{blueprints::mock{6}, arch, prov, test::make_test_dispatcher(), *db, args};
        p.set_clock(clock);
        run = p.launch();
        test::page ann{arch, "ann"};
        for (int i = 0; i < 2; ++i) {
            REQUIRE(ann.register_().type == "agent_details");
            REQUIRE(ann.submit({{"label", "x"}}).type == "submitted");
        }
        REQUIRE(ann.register_().type == "agent_details");  // held when the process stops
    }
    architects::in_process arch;
    pipeline p{blueprints::mock{6}, arch, prov, test::make_test_dispatcher(), *db, args};
    p.set_clock(clock);
    p.set_group_key(group_of);
    REQUIRE(p.launch() == run);
    require_counts_match(p, *db, run, "resume");
    CHECK(p.summary().units(unit_status::completed) == 2);
    auto const ann = db->find_workers({.name = "ann_sandbox"}).front().id;
    auto rows = p.workers();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].id == ann);
    CHECK(rows[0].done == 2);

    auto const unit = db->find_units({.task_run = run, .status = unit_status::completed}).front().id;
    p.locked([&](auto& store, auto& provider, auto const&) { review::approve(store, provider, unit); });
    p.recount();
    require_counts_match(p, *db, run, "approve through locked, then recount");
    CHECK(p.summary().units(unit_status::accepted) == 1);
}

}  // namespace tu_pipeline_counts
