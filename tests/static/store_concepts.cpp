// Type-level tests: each store concept accepts the backends and rejects types missing a piece.
#include <catch2/catch.hpp>

#include <crowdline/store/memory.hpp>
#include <crowdline/store/sqlite.hpp>
#include <crowdline/store/store.hpp>

namespace {
/// Everything a store has, except new_unit.
struct no_new_unit : private crowdline::stores::memory {
    using memory::new_project, memory::get_project, memory::find_projects, memory::new_task, memory::get_task,
        memory::find_tasks, memory::update_task, memory::new_requester, memory::get_requester, memory::find_requesters,
        memory::new_task_run, memory::get_task_run, memory::find_task_runs, memory::update_task_run,
        memory::new_assignment, memory::get_assignment, memory::find_assignments, memory::get_unit,
        memory::find_units, memory::update_unit, memory::clear_unit_agent_assignment, memory::new_agent,
        memory::get_agent, memory::find_agents, memory::update_agent, memory::new_onboarding_agent,
        memory::new_worker, memory::get_worker, memory::find_workers, memory::get_onboarding_agent,
        memory::find_onboarding_agents, memory::update_onboarding_agent, memory::new_worker_review,
        memory::find_worker_reviews, memory::make_qualification, memory::get_qualification,
        memory::find_qualifications, memory::delete_qualification, memory::grant_qualification,
        memory::revoke_qualification, memory::get_granted_qualification, memory::find_granted_qualifications,
        memory::transaction;
};
/// Everything but transactions.
struct no_transaction : private crowdline::stores::memory {
    using memory::new_unit;
};
struct not_a_store {};
/// Keyed values that cannot be listed: not a keyed_store.
struct no_find_values : private crowdline::stores::memory {
    using memory::get_value, memory::put_value;
};
}  // namespace

TEST_CASE("keyed_store accepts both backends and rejects a type missing a piece", "[static]") {
    STATIC_REQUIRE(crowdline::keyed_store<crowdline::stores::memory>);
    STATIC_REQUIRE(crowdline::keyed_store<crowdline::stores::sqlite>);
    STATIC_REQUIRE_FALSE(crowdline::keyed_store<no_find_values>);
    STATIC_REQUIRE_FALSE(crowdline::keyed_store<no_new_unit>);  // the store's methods are not enough
    STATIC_REQUIRE_FALSE(crowdline::keyed_store<not_a_store>);
}

TEST_CASE("store concepts accept the backends", "[static]") {
    STATIC_REQUIRE(crowdline::store<crowdline::stores::memory>);
    STATIC_REQUIRE(crowdline::store<crowdline::stores::sqlite>);
    STATIC_REQUIRE(crowdline::unit_store<crowdline::stores::sqlite>);
    STATIC_REQUIRE(crowdline::qualification_store<crowdline::stores::memory>);
    STATIC_REQUIRE(crowdline::project_store<crowdline::stores::sqlite>);
    STATIC_REQUIRE(crowdline::run_store<crowdline::stores::memory>);
    STATIC_REQUIRE(crowdline::worker_store<crowdline::stores::sqlite>);
    STATIC_REQUIRE(crowdline::transactional_store<crowdline::stores::sqlite>);
    STATIC_REQUIRE(crowdline::assert_store<crowdline::stores::memory>());
}

TEST_CASE("store concepts name what a type lacks", "[static]") {
    STATIC_REQUIRE_FALSE(crowdline::unit_store<no_new_unit>);
    STATIC_REQUIRE(crowdline::project_store<no_new_unit>);
    STATIC_REQUIRE(crowdline::qualification_store<no_new_unit>);
    STATIC_REQUIRE(crowdline::transactional_store<no_new_unit>);
    STATIC_REQUIRE_FALSE(crowdline::store<no_new_unit>);
    STATIC_REQUIRE_FALSE(crowdline::transactional_store<no_transaction>);
    STATIC_REQUIRE_FALSE(crowdline::store<not_a_store>);
    STATIC_REQUIRE_FALSE(crowdline::project_store<not_a_store>);
    STATIC_REQUIRE_FALSE(crowdline::run_store<not_a_store>);
    STATIC_REQUIRE_FALSE(crowdline::worker_store<no_transaction>);
    STATIC_REQUIRE_FALSE(crowdline::qualification_store<no_transaction>);
    STATIC_REQUIRE(crowdline::run_store<no_new_unit>);
    STATIC_REQUIRE(crowdline::worker_store<no_new_unit>);
    STATIC_REQUIRE_FALSE(crowdline::store<int>);
}

TEST_CASE("ids are distinct types, never implicitly converted", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE_FALSE(std::is_convertible_v<unit_id, worker_id>);
    STATIC_REQUIRE_FALSE(std::is_constructible_v<unit_id, worker_id>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<std::int64_t, unit_id>);
    STATIC_REQUIRE(std::is_constructible_v<unit_id, std::int64_t>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<unit_id>);
    STATIC_REQUIRE(sizeof(unit_id) == sizeof(std::int64_t));
}
