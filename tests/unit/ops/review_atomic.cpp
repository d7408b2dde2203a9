// A review decision with several parts (verdict + bonus + block) is all or nothing, over both stores, with
// a provider that refuses or fails at each point on demand: every failure leaves the store and the
// provider as they were (a block this decision made is lifted again), and what is said is true.
#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <optional>
#include <string>

#include <crowdline/ops/review.hpp>
#include <crowdline/provider/mock.hpp>

#include "../store/backends.hpp"
#include "../store/fixtures.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_review_atomic {

using namespace crowdline;

namespace {

/// The mock crowd, failing where a test says: a block that throws, a payment refused (false) although the
/// budget covers it, a judgement that throws.
struct flaky_provider : providers::mock {
    bool fail_block = false;
    bool refuse_bonus = false;
    bool fail_judgement = false;

    void block(worker_id w, std::string_view reason) {
        if (fail_block) throw error("flaky provider: block failed");
        mock::block(w, reason);
    }
    bool bonus(worker_id w, double amount, std::string_view reason, std::optional<unit_id> u) {
        if (refuse_bonus) return false;
        return mock::bonus(w, amount, reason, u);
    }
    void approve(agent_id a, std::string_view note) {
        judged();
        mock::approve(a, note);
    }
    void reject(agent_id a, std::string_view note) {
        judged();
        mock::reject(a, note);
    }
    void soft_reject(agent_id a, std::string_view note) {
        judged();
        mock::soft_reject(a, note);
    }

private:
    void judged() const {
        if (fail_judgement) throw error("flaky provider: judgement failed");
    }
};

/// What the provider holds: blocks, bonuses, judgements and the budget left.
nlohmann::json provider_state(flaky_provider const& p, requester_id r) {
    nlohmann::json out;
    for (auto const& [w, why] : p.blocked()) out["blocked"][std::to_string(w.value())] = why;
    out["bonuses"] = p.bonuses().size();
    out["approved"] = p.approved().size();
    out["rejected"] = p.rejected().size();
    out["soft_rejected"] = p.soft_rejected().size();
    out["budget"] = p.budget(r);
    return out;
}

template <class Backend>
struct campaign {
    Backend backend;
    std::unique_ptr<typename Backend::store_type> db = backend.open();
    test::chain c = test::make_chain(*db);
    flaky_provider provider;
    unit_id done{};
    agent_id done_agent{};
    campaign() {
        provider.register_requester(c.requester);
        done = test::launched_unit(*db, c.assignment, 0);
        done_agent = db->new_agent(c.worker, done);
        db->update_agent(done_agent, agent_status::in_task);
        db->update_agent(done_agent, agent_status::completed, nlohmann::json{{"label", "cat"}});
        db->update_unit(done, unit_status::completed);
    }
};

}  // namespace

TEMPLATE_TEST_CASE("review::decide: a failure at any point records nothing, in the store or on the provider",
                   "[ops][review][errors]", STORE_BACKENDS) {
    campaign<TestType> t;
    auto& db = *t.db;
    auto const verdict = GENERATE(review::verdict::approve, review::verdict::reject, review::verdict::soft_reject);
    INFO("verdict " << review::to_string(verdict));
    review::decision const full{t.done, verdict, "sloppy", 2.5, "copied answers"};
    auto const store_before = test::snapshot(db);
    auto const provider_before = provider_state(t.provider, t.c.requester);

    SECTION("the payment is refused: the block made first is lifted again") {
        t.provider.refuse_bonus = true;
        CHECK_THROWS_WITH(review::decide(db, t.provider, full),
                          Catch::Contains("refused by provider \"mock\"") && Catch::Contains("nothing was recorded"));
    }
    SECTION("the block fails: nothing is paid or judged") {
        t.provider.fail_block = true;
        CHECK_THROWS_WITH(review::decide(db, t.provider, full), Catch::Contains("block failed"));
    }
    SECTION("the budget does not cover the bonus: refused before the provider is asked anything else") {
        auto over = full;
        over.bonus = 100000.5;
        t.provider.fail_block = true;  // a block attempted before the budget check would fail differently
        CHECK_THROWS_AS(review::decide(db, t.provider, over), review::payment_refused);
    }
    SECTION("a bad amount or an empty block reason: refused before anything is read") {
        auto const calls = t.provider.calls();
        for (double amount : {-1.0, 0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity()}) {
            auto bad = full;
            bad.bonus = amount;
            CHECK_THROWS_WITH(review::decide(db, t.provider, bad),
                              Catch::Contains("bonus with the") && Catch::Contains("amount must be a number > 0"));
        }
        auto unreasoned = full;
        unreasoned.block = "";
        CHECK_THROWS_WITH(review::decide(db, t.provider, unreasoned), Catch::Contains("a reason is required"));
        CHECK(t.provider.calls() == calls);
    }
    CHECK(test::snapshot(db) == store_before);
    CHECK(provider_state(t.provider, t.c.requester) == provider_before);
    CHECK(db.get_unit(t.done).status == unit_status::completed);  // still reviewable
}

TEMPLATE_TEST_CASE("review::decide: a worker blocked before stays blocked when the decision fails", "[ops][review][errors]",
                   STORE_BACKENDS) {
    campaign<TestType> t;
    auto& db = *t.db;
    review::block(db, t.provider, t.c.worker, "earlier");
    auto const store_before = test::snapshot(db);
    t.provider.refuse_bonus = true;
    CHECK_THROWS_AS(review::decide(db, t.provider, {t.done, review::verdict::reject, "", 1.0, "again"}),
                    review::payment_refused);
    CHECK(test::snapshot(db) == store_before);
    CHECK(t.provider.is_blocked(t.c.worker));
}

TEMPLATE_TEST_CASE("review::decide records every part at once and says so", "[ops][review]", STORE_BACKENDS) {
    campaign<TestType> t;
    auto& db = *t.db;
    auto const out = review::decide(db, t.provider, {t.done, review::verdict::reject, "sloppy", 2.5, "copied answers"});
    CHECK(out.unit == t.done);
    CHECK(out.agent == t.done_agent);
    CHECK(out.worker == t.c.worker);
    CHECK(out.before == unit_status::completed);
    CHECK(out.after == unit_status::rejected);
    CHECK(out.bonus == 2.5);
    CHECK(out.blocked);
    CHECK(db.get_unit(t.done).status == unit_status::rejected);
    CHECK(db.get_agent(t.done_agent).status == agent_status::rejected);
    auto rows = db.find_worker_reviews({.worker = t.c.worker});
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].status == "rejected");
    CHECK(rows[0].bonus == 2.5);
    CHECK(rows[1].blocked_worker);
    CHECK(rows[1].review_note == "copied answers");
    CHECK(t.provider.rejected().size() == 1);
    REQUIRE(t.provider.bonuses().size() == 1);
    CHECK(t.provider.bonuses()[0].amount == 2.5);
    CHECK(t.provider.blocked().at(t.c.worker) == "copied answers");
}

TEMPLATE_TEST_CASE("review::approve: a judgement that fails after the bonus was paid is recorded as the bonus alone",
                   "[ops][review][errors]", STORE_BACKENDS) {
    campaign<TestType> t;
    auto& db = *t.db;
    t.provider.fail_judgement = true;
    CHECK_THROWS_WITH(review::approve(db, t.provider, t.done, "great", 2.5),
                      Catch::Contains("judgement failed") && Catch::Contains("only the bonus of 2.5") &&
                          Catch::Contains("was paid and recorded"));
    // The payment cannot be taken back, so the store keeps it: the provider and the store agree.
    REQUIRE(t.provider.bonuses().size() == 1);
    auto rows = db.find_worker_reviews({.worker = t.c.worker});
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].bonus == 2.5);
    CHECK_FALSE(rows[0].status);
    CHECK(t.provider.approved().empty());
    CHECK(db.get_unit(t.done).status == unit_status::completed);  // not approved: it can be decided again
}

}  // namespace tu_review_atomic
