// Type-level tests of the one-method concepts of `store` and `provider` (the ones `detail::check_store` and
// `detail::check_provider` assert): each accepts the built-in models, and rejects a built-in with that one
// method hidden, which still models every other one-method concept.
#include <catch2/catch.hpp>

#include <crowdline/provider/in_house.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/store/memory.hpp>
#include <crowdline/store/sqlite.hpp>
#include <crowdline/store/store.hpp>

// X(concept, method): every one-method concept of `store`, with the method it requires.
#define STORE_METHODS(X)                                                                                             \
    X(store_creates_projects, new_project)                                                                           \
    X(store_gets_projects, get_project)                                                                              \
    X(store_finds_projects, find_projects)                                                                           \
    X(store_creates_tasks, new_task)                                                                                 \
    X(store_gets_tasks, get_task)                                                                                    \
    X(store_finds_tasks, find_tasks)                                                                                 \
    X(store_updates_tasks, update_task)                                                                              \
    X(store_creates_requesters, new_requester)                                                                       \
    X(store_gets_requesters, get_requester)                                                                          \
    X(store_finds_requesters, find_requesters)                                                                       \
    X(store_creates_task_runs, new_task_run)                                                                         \
    X(store_gets_task_runs, get_task_run)                                                                            \
    X(store_finds_task_runs, find_task_runs)                                                                         \
    X(store_updates_task_runs, update_task_run)                                                                      \
    X(store_creates_assignments, new_assignment)                                                                     \
    X(store_gets_assignments, get_assignment)                                                                        \
    X(store_finds_assignments, find_assignments)                                                                     \
    X(store_creates_units, new_unit)                                                                                 \
    X(store_gets_units, get_unit)                                                                                    \
    X(store_finds_units, find_units)                                                                                 \
    X(store_updates_units, update_unit)                                                                              \
    X(store_clears_unit_agents, clear_unit_agent_assignment)                                                         \
    X(store_creates_agents, new_agent)                                                                               \
    X(store_gets_agents, get_agent)                                                                                  \
    X(store_finds_agents, find_agents)                                                                               \
    X(store_updates_agents, update_agent)                                                                            \
    X(store_creates_onboarding_agents, new_onboarding_agent)                                                         \
    X(store_creates_workers, new_worker)                                                                             \
    X(store_gets_workers, get_worker)                                                                                \
    X(store_finds_workers, find_workers)                                                                             \
    X(store_gets_onboarding_agents, get_onboarding_agent)                                                            \
    X(store_finds_onboarding_agents, find_onboarding_agents)                                                         \
    X(store_updates_onboarding_agents, update_onboarding_agent)                                                      \
    X(store_creates_worker_reviews, new_worker_review)                                                               \
    X(store_finds_worker_reviews, find_worker_reviews)                                                               \
    X(store_makes_qualifications, make_qualification)                                                                \
    X(store_gets_qualifications, get_qualification)                                                                  \
    X(store_finds_qualifications, find_qualifications)                                                               \
    X(store_deletes_qualifications, delete_qualification)                                                            \
    X(store_grants_qualifications, grant_qualification)                                                              \
    X(store_revokes_qualifications, revoke_qualification)                                                            \
    X(store_gets_granted_qualifications, get_granted_qualification)                                                  \
    X(store_finds_granted_qualifications, find_granted_qualifications)                                               \
    X(transactional_store, transaction)

// X(concept, member): every one-member concept of `provider`, with the member it requires.
#define PROVIDER_METHODS(X)                                                                                          \
    X(typed_provider, provider_type)                                                                                 \
    X(provider_registers_requesters, register_requester)                                                             \
    X(provider_checks_registration, is_registered)                                                                   \
    X(provider_reports_budget, budget)                                                                               \
    X(provider_blocks_workers, block)                                                                                \
    X(provider_unblocks_workers, unblock)                                                                            \
    X(provider_checks_blocked, is_blocked)                                                                           \
    X(provider_pays_bonuses, bonus)                                                                                  \
    X(provider_grants_qualifications, grant)                                                                         \
    X(provider_revokes_qualifications, revoke)                                                                       \
    X(provider_approves_agents, approve)                                                                             \
    X(provider_rejects_agents, reject)                                                                               \
    X(provider_soft_rejects_agents, soft_reject)                                                                     \
    X(provider_marks_agents_done, mark_done)                                                                         \
    X(provider_launches_units, launch)                                                                               \
    X(provider_expires_units, expire)                                                                                \
    X(provider_checks_expired, is_expired)                                                                           \
    X(provider_sets_up_resources, setup_resources)                                                                   \
    X(provider_cleans_up_resources, cleanup_resources)                                                               \
    X(identity_provider, worker_name)

namespace {

// `family_without_method`: a built-in with `method` hidden by a data member of that name, so it lacks exactly
// that method.
#define WITHOUT(family, built_in, method)                                                                            \
    struct family##_without_##method : built_in {                                                                    \
        int method = 0;                                                                                              \
    };
#define STORE_WITHOUT(concept_name, method) WITHOUT(store, crowdline::stores::memory, method)
#define PROVIDER_WITHOUT(concept_name, method) WITHOUT(provider, crowdline::providers::mock, method)
STORE_METHODS(STORE_WITHOUT)
PROVIDER_METHODS(PROVIDER_WITHOUT)

#define ONE(concept_name, method) +1
#define MODELS(concept_name, method) +(crowdline::concept_name<T> ? 1 : 0)
constexpr int store_method_count = 0 STORE_METHODS(ONE);
constexpr int provider_method_count = 0 PROVIDER_METHODS(ONE);

/// How many of the one-method concepts of `store` `T` models.
template <class T>
constexpr int store_methods_of() {
    return 0 STORE_METHODS(MODELS);
}
/// How many of the one-method concepts of `provider` `T` models.
template <class T>
constexpr int provider_methods_of() {
    return 0 PROVIDER_METHODS(MODELS);
}

}  // namespace

// For one one-method concept of `family`: both built-ins model it; the built-in without that method does not,
// yet models every other one-method concept, and is no `family`.
#define CHECK_ONE_METHOD(family, built_in, other_built_in, concept_name, method)                                    \
    STATIC_REQUIRE(crowdline::concept_name<built_in>);                                                               \
    STATIC_REQUIRE(crowdline::concept_name<other_built_in>);                                                         \
    STATIC_REQUIRE_FALSE(crowdline::concept_name<family##_without_##method>);                                        \
    STATIC_REQUIRE(family##_methods_of<family##_without_##method>() == family##_method_count - 1);                  \
    STATIC_REQUIRE_FALSE(crowdline::family<family##_without_##method>);

TEST_CASE("each one-method store concept accepts the backends and rejects a store lacking that method", "[static]") {
    using crowdline::stores::memory;
    using crowdline::stores::sqlite;
    STATIC_REQUIRE(store_methods_of<memory>() == store_method_count);
    STATIC_REQUIRE(store_methods_of<sqlite>() == store_method_count);
    STATIC_REQUIRE(store_methods_of<int>() == 0);
#define STORE_CHECK(concept_name, method) CHECK_ONE_METHOD(store, memory, sqlite, concept_name, method)
    STORE_METHODS(STORE_CHECK)
}

TEST_CASE("each one-member provider concept accepts the built-ins and rejects a provider lacking that member",
          "[static]") {
    using crowdline::providers::in_house;
    using crowdline::providers::mock;
    STATIC_REQUIRE(provider_methods_of<mock>() == provider_method_count);
    STATIC_REQUIRE(provider_methods_of<in_house>() == provider_method_count);
    STATIC_REQUIRE(provider_methods_of<int>() == 0);
#define PROVIDER_CHECK(concept_name, method) CHECK_ONE_METHOD(provider, mock, in_house, concept_name, method)
    PROVIDER_METHODS(PROVIDER_CHECK)
}

TEST_CASE("the group concepts are the one-method concepts together", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE_FALSE(unit_store<store_without_find_agents>);
    STATIC_REQUIRE(project_store<store_without_find_agents>);
    STATIC_REQUIRE(run_store<store_without_find_agents>);
    STATIC_REQUIRE(worker_store<store_without_find_agents>);
    STATIC_REQUIRE(qualification_store<store_without_find_agents>);
    STATIC_REQUIRE(transactional_store<store_without_find_agents>);
    STATIC_REQUIRE_FALSE(project_store<store_without_update_task>);
    STATIC_REQUIRE_FALSE(run_store<store_without_new_assignment>);
    STATIC_REQUIRE_FALSE(worker_store<store_without_new_worker_review>);
    STATIC_REQUIRE_FALSE(qualification_store<store_without_delete_qualification>);
    STATIC_REQUIRE(store<stores::memory>);

    STATIC_REQUIRE_FALSE(worker_provider<provider_without_block>);
    STATIC_REQUIRE(requester_provider<provider_without_block>);
    STATIC_REQUIRE(agent_provider<provider_without_block>);
    STATIC_REQUIRE(unit_provider<provider_without_block>);
    STATIC_REQUIRE(resource_provider<provider_without_block>);
    STATIC_REQUIRE_FALSE(requester_provider<provider_without_budget>);
    STATIC_REQUIRE_FALSE(agent_provider<provider_without_mark_done>);
    STATIC_REQUIRE_FALSE(unit_provider<provider_without_launch>);
    STATIC_REQUIRE_FALSE(resource_provider<provider_without_setup_resources>);
    STATIC_REQUIRE(provider<providers::mock>);
}

#undef ONE
#undef MODELS
#undef WITHOUT
#undef STORE_WITHOUT
#undef PROVIDER_WITHOUT
#undef CHECK_ONE_METHOD
#undef STORE_CHECK
#undef PROVIDER_CHECK
#undef STORE_METHODS
#undef PROVIDER_METHODS
