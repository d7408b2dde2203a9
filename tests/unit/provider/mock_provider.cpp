// providers::mock: Mephisto's CrowdProviderTests (requester, worker) plus what the mock records for tests,
// bonuses within and over budget, identity (worker_name with the sandbox suffix) and bad input.
#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <crowdline/provider/mock.hpp>

using namespace crowdline;
using providers::mock;

TEST_CASE("mock requester: register, is_registered, budget (CrowdProviderTests.requester)", "[provider]") {
    mock p;
    requester_id const r{1};
    CHECK(mock::provider_type == "mock");
    CHECK_FALSE(p.is_registered(r));
    CHECK_THROWS_WITH(p.budget(r), Catch::Contains("requester 1 is not registered"));
    p.register_requester(r);
    CHECK(p.is_registered(r));
    CHECK(p.budget(r) == 100000.0);
    p.register_requester(r);  // again: no change, and the budget is not reset
    CHECK(p.budget(r) == 100000.0);
    CHECK_FALSE(p.is_registered(requester_id{2}));

    mock small{{.budget = 50}};
    small.register_requester(r);
    CHECK(small.budget(r) == 50.0);
    CHECK_THROWS_AS(mock({.budget = -1}), invalid_argument);
}

TEST_CASE("mock worker: block, is_blocked, unblock (CrowdProviderTests.worker)", "[provider]") {
    mock p;
    worker_id const w{3}, other{4};
    CHECK_FALSE(p.is_blocked(w));
    p.block(w, "copied answers");
    CHECK(p.is_blocked(w));
    CHECK_FALSE(p.is_blocked(other));
    CHECK(p.blocked().at(w) == "copied answers");
    p.unblock(w);
    CHECK_FALSE(p.is_blocked(w));
    CHECK(p.blocked().empty());
    p.unblock(w);  // unblocking someone not blocked is harmless
    CHECK_FALSE(p.is_blocked(w));
}

TEST_CASE("mock bonus: paid within budget, refused (and nothing paid) over it", "[provider]") {
    mock p{{.budget = 10}};
    worker_id const w{3};
    requester_id const r{1};

    SECTION("no requester registered: nobody can pay") {
        CHECK_FALSE(p.bonus(w, 1, "thanks", std::nullopt));
        CHECK(p.bonuses().empty());
    }
    SECTION("within and over the budget") {
        p.register_requester(r);
        CHECK(p.bonus(w, 4, "careful work", unit_id{7}));
        CHECK(p.budget(r) == 6.0);
        CHECK_FALSE(p.bonus(w, 6.5, "too much", std::nullopt));
        CHECK(p.budget(r) == 6.0);  // a refused bonus costs nothing
        CHECK(p.bonus(w, 6, "exactly what is left", std::nullopt));
        CHECK(p.budget(r) == 0.0);
        CHECK_FALSE(p.bonus(w, 0.01, "nothing left", std::nullopt));
        REQUIRE(p.bonuses().size() == 2);
        CHECK(p.bonuses()[0] == providers::mock_bonus{w, 4, "careful work", unit_id{7}, r});
        CHECK(p.bonuses()[1].reason == "exactly what is left");
    }
    SECTION("bonuses come out of the first registered requester's account, or the one pay_from names") {
        requester_id const r2{2};
        p.register_requester(r);
        p.register_requester(r2);
        CHECK(p.bonus(w, 1, "a", std::nullopt));
        CHECK(p.budget(r) == 9.0);
        CHECK(p.budget(r2) == 10.0);
        p.pay_from(r2);
        CHECK(p.bonus(w, 2, "b", std::nullopt));
        CHECK(p.budget(r2) == 8.0);
        CHECK_THROWS_AS(p.pay_from(requester_id{9}), invalid_argument);
    }
    SECTION("a bad amount is refused with invalid_argument") {
        p.register_requester(r);
        CHECK_THROWS_WITH(p.bonus(w, -5, "negative", std::nullopt), Catch::Contains("amount must be > 0"));
        CHECK_THROWS_AS(p.bonus(w, 0, "zero", std::nullopt), invalid_argument);
        CHECK_THROWS_AS(p.bonus(w, std::numeric_limits<double>::quiet_NaN(), "nan", std::nullopt), invalid_argument);
        CHECK_THROWS_AS(p.bonus(w, std::numeric_limits<double>::infinity(), "inf", std::nullopt), invalid_argument);
        CHECK(p.budget(r) == 10.0);
        CHECK(p.bonuses().empty());
    }
}

TEST_CASE("mock records agent judgements, units, qualifications and run resources", "[provider]") {
    mock p;
    agent_id const a1{1}, a2{2}, a3{3};
    p.approve(a1, "good");
    p.reject(a2, "empty answer");
    p.soft_reject(a3, "off-topic");
    p.mark_done(a1);
    CHECK(p.approved() == std::vector<providers::mock_decision>{{a1, "good"}});
    CHECK(p.rejected() == std::vector<providers::mock_decision>{{a2, "empty answer"}});
    CHECK(p.soft_rejected() == std::vector<providers::mock_decision>{{a3, "off-topic"}});
    CHECK(p.done() == std::set<agent_id>{a1});

    unit_id const u{5};
    CHECK_FALSE(p.is_expired(u));
    p.launch(u, "inproc://run");
    CHECK(p.launched().at(u) == "inproc://run");
    CHECK_FALSE(p.is_expired(u));
    p.expire(u);
    CHECK(p.is_expired(u));
    CHECK(p.expired() == std::set<unit_id>{u});
    CHECK_THROWS_AS(p.launch(unit_id{6}, ""), invalid_argument);
    CHECK_FALSE(p.launched().contains(unit_id{6}));

    worker_id const w{3};
    p.grant(w, "speaks-fr", 1);
    p.grant(w, "accuracy", 80);
    p.grant(w, "accuracy", 95);  // upsert
    CHECK(p.qualifications(w) == std::map<std::string, int>{{"accuracy", 95}, {"speaks-fr", 1}});
    p.revoke(w, "speaks-fr");
    CHECK(p.qualifications(w) == std::map<std::string, int>{{"accuracy", 95}});
    CHECK_THROWS_AS(p.grant(w, "", 1), invalid_argument);
    CHECK(p.qualifications(worker_id{99}).empty());

    task_run_id const run{4};
    p.setup_resources(run, "inproc://run");
    CHECK(p.resources().at(run) == "inproc://run");
    p.cleanup_resources(run);
    CHECK(p.resources().empty());
    CHECK(p.cleaned() == std::set<task_run_id>{run});
    CHECK_THROWS_AS(p.setup_resources(task_run_id{5}, ""), invalid_argument);
    CHECK(p.resources().empty());
}

TEST_CASE("mock counts calls, so tests can say the provider was not called", "[provider]") {
    mock p;
    auto before = p.calls();
    (void)p.blocked();  // observing is not a provider call
    CHECK(p.calls() == before);
    p.block(worker_id{1}, "x");
    (void)p.is_blocked(worker_id{1});
    CHECK(p.calls() == before + 2);
}

TEST_CASE("mock identity: worker_name appends _sandbox; unusable registrations are refused", "[provider][errors]") {
    mock p;
    CHECK(p.worker_name({{"worker_name", "alice"}, {"agent_registration_id", "r1"}}) == "alice_sandbox");
    CHECK(p.worker_name({{"worker_name", "bob_sandbox"}}) == "bob_sandbox_sandbox");  // always appended, as Mephisto
    CHECK(p.worker_name({{"worker_name", "émilie"}}) == "émilie_sandbox");

    CHECK_THROWS_WITH(p.worker_name(nlohmann::json::array()), Catch::Contains("expected a JSON object"));
    CHECK_THROWS_WITH(p.worker_name(nlohmann::json::object()), Catch::Contains("missing \"worker_name\""));
    CHECK_THROWS_WITH(p.worker_name({{"worker_name", 42}}), Catch::Contains("must be a string"));
    CHECK_THROWS_WITH(p.worker_name({{"worker_name", ""}}), Catch::Contains("is empty"));
    CHECK_THROWS_WITH(p.worker_name({{"worker_name", std::string(300, 'x')}}), Catch::Contains("over the limit"));
    CHECK_THROWS_WITH(p.worker_name({{"worker_name", "bad\nname"}}), Catch::Contains("control character"));
    CHECK_THROWS_AS(p.worker_name(nullptr), invalid_argument);
}
