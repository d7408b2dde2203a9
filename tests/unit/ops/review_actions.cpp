// Review over both store backends with the mock provider: each action's store effect, provider effect and
// worker_review row; each refusal (unit not completed, unknown ids, bad amounts, refused payment) changes
// nothing in the store and, where the check comes first, does not call the provider.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>

#include <crowdline/ops/review.hpp>
#include <crowdline/provider/mock.hpp>

#include "../store/backends.hpp"
#include "../store/fixtures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_review_actions {

using namespace crowdline;

namespace {

/// A unit a worker finished: launched → claimed → in task → submitted (state saved) → completed.
template <class Store>
std::pair<unit_id, agent_id> completed_unit(Store& db, test::chain const& c, int index, worker_id w,
                                             nlohmann::json state = {{"label", "cat"}}) {
    auto u = test::launched_unit(db, c.assignment, index);
    auto a = db.new_agent(w, u);
    db.update_agent(a, agent_status::in_task);
    db.update_agent(a, agent_status::completed, std::move(state));
    db.update_unit(u, unit_status::completed);
    return {u, a};
}

/// A store with one completed unit, one assigned one, and a mock provider paying for the chain's requester.
template <class Backend>
struct reviewed_campaign {
    Backend backend;
    std::unique_ptr<typename Backend::store_type> db = backend.open();
    test::chain c = test::make_chain(*db);
    providers::mock provider;
    unit_id done{};
    agent_id done_agent{};
    unit_id busy{};
    reviewed_campaign() {
        provider.register_requester(c.requester);
        std::tie(done, done_agent) = completed_unit(*db, c, 0, c.worker);
        busy = test::launched_unit(*db, c.assignment, 1);
        // Another worker holds it: nobody holds two units of one assignment (stores::postgres refuses that).
        auto a = db->new_agent(db->new_worker("busy", "mock"), busy);
        db->update_agent(a, agent_status::in_task);
    }
};

}  // namespace

TEMPLATE_TEST_CASE("review::approve: unit accepted, agent approved, provider approves, a review row", "[ops][review]",
                   STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;

    SECTION("without a bonus") {
        review::approve(db, t.provider, t.done, "clear and careful");
        CHECK(db.get_unit(t.done).status == unit_status::accepted);
        CHECK(db.get_agent(t.done_agent).status == agent_status::approved);
        CHECK(t.provider.approved() == std::vector<providers::mock_decision>{{t.done_agent, "clear and careful"}});
        CHECK(t.provider.bonuses().empty());
        auto reviews = db.find_worker_reviews({.worker = t.c.worker});
        REQUIRE(reviews.size() == 1);
        CHECK(reviews[0].unit == t.done);
        CHECK(reviews[0].task == t.c.task);
        CHECK(reviews[0].status == "approved");
        CHECK(reviews[0].review_note == "clear and careful");
        CHECK_FALSE(reviews[0].bonus);
        CHECK_FALSE(reviews[0].blocked_worker);
    }
    SECTION("with a bonus: paid through the provider, recorded on the row") {
        review::approve(db, t.provider, t.done, "great", 2.5);
        CHECK(db.get_unit(t.done).status == unit_status::accepted);
        REQUIRE(t.provider.bonuses().size() == 1);
        CHECK(t.provider.bonuses()[0] == providers::mock_bonus{t.c.worker, 2.5, "great", t.done, t.c.requester});
        CHECK(t.provider.budget(t.c.requester) == 100000.0 - 2.5);
        auto reviews = db.find_worker_reviews({.unit = t.done});
        REQUIRE(reviews.size() == 1);
        CHECK(reviews[0].bonus == 2.5);
    }
    SECTION("approving twice is refused the second time") {
        review::approve(db, t.provider, t.done);
        auto const before = test::snapshot(db);
        auto const calls = t.provider.calls();
        CHECK_THROWS_WITH(review::approve(db, t.provider, t.done), Catch::Contains("it is accepted, not completed"));
        CHECK(test::snapshot(db) == before);
        CHECK(t.provider.calls() == calls);
    }
}

TEMPLATE_TEST_CASE("review::reject and soft_reject: statuses, provider calls and rows", "[ops][review]", STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;

    SECTION("reject") {
        review::reject(db, t.provider, t.done, "random clicks");
        CHECK(db.get_unit(t.done).status == unit_status::rejected);
        CHECK(db.get_agent(t.done_agent).status == agent_status::rejected);
        CHECK(t.provider.rejected() == std::vector<providers::mock_decision>{{t.done_agent, "random clicks"}});
        CHECK(t.provider.approved().empty());
        auto reviews = db.find_worker_reviews({.unit = t.done});
        REQUIRE(reviews.size() == 1);
        CHECK(reviews[0].status == "rejected");
        CHECK(reviews[0].review_note == "random clicks");
    }
    SECTION("soft_reject") {
        review::soft_reject(db, t.provider, t.done);
        CHECK(db.get_unit(t.done).status == unit_status::soft_rejected);
        CHECK(db.get_agent(t.done_agent).status == agent_status::soft_rejected);
        CHECK(t.provider.soft_rejected() == std::vector<providers::mock_decision>{{t.done_agent, ""}});
        auto reviews = db.find_worker_reviews({.unit = t.done});
        REQUIRE(reviews.size() == 1);
        CHECK(reviews[0].status == "soft_rejected");
        CHECK_FALSE(reviews[0].review_note);  // no note given: none stored
    }
}

TEMPLATE_TEST_CASE("review refusals change nothing and do not call the provider", "[ops][review][errors]",
                   STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;
    auto const before = test::snapshot(db);
    auto const calls = t.provider.calls();

    SECTION("a unit that is not completed: invalid_transition naming the unit") {
        CHECK_THROWS_AS(review::approve(db, t.provider, t.busy), invalid_transition);
        CHECK_THROWS_WITH(review::reject(db, t.provider, t.busy),
                          Catch::Contains("unit " + std::to_string(t.busy.value()) + ": cannot be rejected: it is assigned"));
        CHECK_THROWS_AS(review::soft_reject(db, t.provider, t.busy), invalid_transition);
        auto fresh = db.new_unit(t.c.assignment, 7, 1.0);  // created, never launched
        auto const with_fresh = test::snapshot(db);
        CHECK_THROWS_WITH(review::approve(db, t.provider, fresh, "", 5.0), Catch::Contains("it is created, not completed"));
        CHECK(test::snapshot(db) == with_fresh);
        CHECK(t.provider.calls() == calls);
        CHECK(t.provider.bonuses().empty());
        return;
    }
    SECTION("unknown ids: entry_does_not_exist") {
        CHECK_THROWS_AS(review::approve(db, t.provider, unit_id{999}), entry_does_not_exist);
        CHECK_THROWS_AS(review::reject(db, t.provider, unit_id{999}), entry_does_not_exist);
        CHECK_THROWS_AS(review::soft_reject(db, t.provider, unit_id{999}), entry_does_not_exist);
        CHECK_THROWS_AS(review::bonus(db, t.provider, worker_id{999}, 1.0, "x"), entry_does_not_exist);
        CHECK_THROWS_AS(review::bonus(db, t.provider, t.c.worker, 1.0, "x", unit_id{999}), entry_does_not_exist);
        CHECK_THROWS_AS(review::block(db, t.provider, worker_id{999}, "spam"), entry_does_not_exist);
        CHECK_THROWS_AS(review::unblock(db, t.provider, worker_id{999}), entry_does_not_exist);
    }
    SECTION("bad amounts and a missing block reason: invalid_argument") {
        CHECK_THROWS_WITH(review::approve(db, t.provider, t.done, "", -1.0), Catch::Contains("amount must be a number > 0"));
        CHECK_THROWS_AS(review::approve(db, t.provider, t.done, "", 0.0), invalid_argument);
        CHECK_THROWS_AS(review::bonus(db, t.provider, t.c.worker, std::numeric_limits<double>::quiet_NaN(), "x"),
                        invalid_argument);
        CHECK_THROWS_WITH(review::block(db, t.provider, t.c.worker, ""), Catch::Contains("a reason is required"));
    }
    SECTION("a bonus for a unit the worker never held: invalid_argument") {
        auto stranger = db.new_worker("stranger", "mock");
        auto const with_stranger = test::snapshot(db);
        CHECK_THROWS_WITH(review::bonus(db, t.provider, stranger, 1.0, "x", t.done), Catch::Contains("never held"));
        CHECK(test::snapshot(db) == with_stranger);
        CHECK(t.provider.calls() == calls);
        return;
    }
    CHECK(test::snapshot(db) == before);
    CHECK(t.provider.calls() == calls);
    CHECK(db.get_unit(t.done).status == unit_status::completed);  // still reviewable
}

TEMPLATE_TEST_CASE("review: a refused payment rolls the whole action back", "[ops][review][errors]", STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;
    auto const before = test::snapshot(db);

    SECTION("approve with a bonus over the budget: not approved anywhere") {
        CHECK_THROWS_AS(review::approve(db, t.provider, t.done, "too generous", 200000.0), review::payment_refused);
        CHECK(test::snapshot(db) == before);
        CHECK(t.provider.approved().empty());
        CHECK(t.provider.bonuses().empty());
        CHECK(t.provider.budget(t.c.requester) == 100000.0);
        review::approve(db, t.provider, t.done, "fine", 10.0);  // and it can be approved afterwards
        CHECK(db.get_unit(t.done).status == unit_status::accepted);
    }
    SECTION("a plain bonus over the budget") {
        CHECK_THROWS_WITH(review::bonus(db, t.provider, t.c.worker, 100000.5, "too much"),
                          Catch::Contains("refused by provider \"mock\""));
        CHECK(test::snapshot(db) == before);
        CHECK(t.provider.bonuses().empty());
    }
}

TEMPLATE_TEST_CASE("review::bonus pays and records, with or without a unit", "[ops][review]", STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;
    review::bonus(db, t.provider, t.c.worker, 3.0, "fast and careful", t.done);
    review::bonus(db, t.provider, t.c.worker, 1.5, "loyalty");
    auto bonuses = t.provider.bonuses();
    REQUIRE(bonuses.size() == 2);
    CHECK(bonuses[0] == providers::mock_bonus{t.c.worker, 3.0, "fast and careful", t.done, t.c.requester});
    CHECK(bonuses[1] == providers::mock_bonus{t.c.worker, 1.5, "loyalty", std::nullopt, t.c.requester});
    CHECK(t.provider.budget(t.c.requester) == 100000.0 - 4.5);

    auto reviews = db.find_worker_reviews({.worker = t.c.worker});
    REQUIRE(reviews.size() == 2);
    CHECK(reviews[0].unit == t.done);
    CHECK(reviews[0].task == t.c.task);
    CHECK(reviews[0].bonus == 3.0);
    CHECK(reviews[0].review_note == "fast and careful");
    CHECK_FALSE(reviews[0].status);
    CHECK_FALSE(reviews[1].unit);
    CHECK(reviews[1].bonus == 1.5);
    CHECK(db.get_unit(t.done).status == unit_status::completed);  // a bonus is not a judgement
}

TEMPLATE_TEST_CASE("review::block and unblock: provider state and rows", "[ops][review]", STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;
    review::block(db, t.provider, t.c.worker, "bot-like answers");
    CHECK(t.provider.is_blocked(t.c.worker));
    CHECK(t.provider.blocked().at(t.c.worker) == "bot-like answers");
    review::unblock(db, t.provider, t.c.worker, "appeal accepted");
    CHECK_FALSE(t.provider.is_blocked(t.c.worker));

    auto reviews = db.find_worker_reviews({.worker = t.c.worker});
    REQUIRE(reviews.size() == 2);
    CHECK(reviews[0].blocked_worker);
    CHECK(reviews[0].review_note == "bot-like answers");
    CHECK_FALSE(reviews[0].unit);
    CHECK_FALSE(reviews[1].blocked_worker);
    CHECK(reviews[1].status == "unblocked");
    CHECK(reviews[1].review_note == "appeal accepted");
}

TEMPLATE_TEST_CASE("review::restore_blocks replays the block and unblock rows onto a fresh provider", "[ops][review]",
                   STORE_BACKENDS) {
    reviewed_campaign<TestType> t;
    auto& db = *t.db;
    auto const again = db.new_worker("again", "mock");
    auto const lifted = db.new_worker("lifted", "mock");
    auto const elsewhere = db.new_worker("elsewhere", "in_house");  // another provider's worker
    auto const untouched = db.new_worker("untouched", "mock");
    review::block(db, t.provider, t.c.worker, "bot-like answers");
    review::block(db, t.provider, again, "first reason");
    review::unblock(db, t.provider, again);
    review::block(db, t.provider, again, "second reason");  // the latest row decides
    review::block(db, t.provider, lifted, "spam");
    review::unblock(db, t.provider, lifted, "appeal accepted");
    review::block(db, t.provider, elsewhere, "not this provider's");
    review::approve(db, t.provider, t.done, "fine");  // a judgement row is no block row

    auto const recorded = review::recorded_blocks(db, "mock");
    CHECK(recorded == std::map<worker_id, std::optional<std::string>>{
                          {t.c.worker, "bot-like answers"}, {again, "second reason"}, {lifted, std::nullopt}});

    providers::mock fresh;  // what a restarted program starts with
    fresh.block(lifted, "stale, from memory");
    fresh.block(untouched, "set directly, never recorded");
    CHECK(review::restore_blocks(db, fresh) == 2);
    CHECK(fresh.blocked() == std::map<worker_id, std::string>{{t.c.worker, "bot-like answers"},
                                                              {again, "second reason"},
                                                              {untouched, "set directly, never recorded"}});
    CHECK_FALSE(fresh.is_blocked(elsewhere));
}

}  // namespace tu_review_actions
