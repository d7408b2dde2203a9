// providers::prolific against the local fake of Prolific's API (fake_prolific.hpp): the requests it sends
// (method, path, required fields), a whole run of participants through a pipeline, bonuses paid exactly
// once across crashes at every step and lost answers, the budget stop, identity and refusals. Nothing
// here talks to the real service: every provider is pointed at the fake's base URL and trusts only its
// certificate.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <crowdline/architect/http.hpp>
#include <crowdline/provider/prolific.hpp>

#include "prolific/fake_prolific.hpp"
#include "unit/ops/pipeline_common.hpp"

using namespace crowdline;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

using fake = test::fake_prolific;

providers::prolific_options options_for(fake const& f, std::function<void(std::string_view)> hook = {}) {
    // [options]
    return {.token = fake::token,                 // in a program: std::getenv("PROLIFIC_TOKEN")
            .base_url = f.base_url(),             // default: https://api.prolific.com
            .workspace_id = fake::workspace,
            .places = 5,                          // then raised as units launch
            .timeout = 5000ms,                    // per call
            .extra_ca_pem = f.certificate_pem(),  // the fake's own certificate; a program trusts the system's
            .system_ca = false,
            .step_hook = std::move(hook)};
    // [options]
}

/// Thrown by a step hook: the provider "dies" at that step.
struct crash : std::runtime_error {
    using std::runtime_error::runtime_error;
};
auto crash_at(std::string point) {
    return [point](std::string_view step) {
        if (step == point) throw crash("killed at " + point);
    };
}

/// The paths the provider may call, as Prolific documents them; `{}` is an id.
bool documented(test::recorded_call const& c) {
    static std::set<std::pair<std::string, std::string>> const known{
        {"POST", "/api/v1/studies/"},
        {"POST", "/api/v1/studies/{}/transition/"},
        {"PATCH", "/api/v1/studies/{}/"},
        {"GET", "/api/v1/studies/{}/submissions/"},
        {"POST", "/api/v1/submissions/{}/transition/"},
        {"GET", "/api/v1/workspaces/{}/balance/"},
        {"POST", "/api/v1/submissions/bonus-payments/"},
        {"POST", "/api/v1/bulk-bonus-payments/{}/pay/"},
        {"POST", "/api/v1/participant-groups/"},
        {"POST", "/api/v1/participant-groups/{}/participants/"},
        {"DELETE", "/api/v1/participant-groups/{}/participants/"},
    };
    // Replace each id segment (one with a digit, after a known collection) by {}.
    std::string shape, segment;
    std::string prev;
    for (char ch : c.path + "") {
        if (ch != '/') {
            segment += ch;
            continue;
        }
        if (!segment.empty()) {
            bool id = std::any_of(segment.begin(), segment.end(), ::isdigit) && prev != "api";
            shape += "/" + (id ? std::string("{}") : segment);
            prev = segment;
        }
        segment.clear();
    }
    if (!segment.empty()) shape += "/" + segment;
    else shape += "/";
    return known.contains({c.method, shape});
}

void check_every_call_documented(fake const& f) {
    for (auto const& c : f.calls()) {
        INFO(c.method << " " << c.path << " " << c.body.dump());
        CHECK(documented(c));
        CHECK(c.authorization == std::string("Token ") + fake::token);
    }
    CHECK(f.shape_errors().empty());
}

std::vector<test::recorded_call> calls_to(fake const& f, std::string const& method, std::string const& needle) {
    std::vector<test::recorded_call> out;
    for (auto const& c : f.calls())
        if (c.method == method && c.path.find(needle) != std::string::npos) out.push_back(c);
    return out;
}

/// A campaign in memory with one run and a launched unit per participant, each claimed by an agent.
struct small_campaign {
    stores::memory db;
    test::chain c = test::make_chain(db);
    std::vector<worker_id> workers;
    std::vector<unit_id> units;
    std::vector<agent_id> agents;

    void add(std::string const& pid) {
        auto w = db.new_worker(pid, "prolific");
        auto u = test::launched_unit(db, c.assignment, static_cast<int>(units.size()));
        workers.push_back(w);
        units.push_back(u);
        agents.push_back(db.new_agent(w, u));
    }
};

std::string long_note() {
    return "Your answers did not follow the instructions given on the task page: the labels were left empty for "
           "most items, so we cannot use this submission.";
}

/// A fake, a campaign, a ledger and a provider whose run's study is published: what most cases start from.
struct published_study {
    fake f;
    small_campaign camp;
    stores::memory ledger;
    providers::prolific<stores::memory, stores::memory> prov;
    std::string study;

    explicit published_study(std::function<void(providers::prolific_options&)> const& adjust = {})
        : prov{camp.db, ledger, [&] {
                   auto o = options_for(f);
                   if (adjust) adjust(o);
                   return o;
               }()} {
        prov.setup_resources(camp.c.run, "http://x/");
        study = *prov.study_id(camp.c.run);
    }
};
/// Calls time out after 2.5 s (not 5), so the stalled call's case ends sooner.
struct impatient_study : published_study {
    impatient_study() : published_study([](auto& o) { o.timeout = 2500ms; }) {}
};
struct hooked_study : published_study {
    hooked_study() : published_study([](auto& o) { o.webhook_secret = "hook-secret"; }) {}
};

}  // namespace

TEST_CASE("prolific: a study is made as documented, published, raised as units launch, never lowered, and stopped",
          "[prolific]") {
    fake f;
    small_campaign camp;
    stores::memory ledger;
    providers::prolific<stores::memory, stores::memory> prov{camp.db, ledger, options_for(f)};
    STATIC_REQUIRE(provider<providers::prolific<stores::memory, stores::memory>>);

    prov.setup_resources(camp.c.run, "http://127.0.0.1:8080/");
    auto study = prov.study_id(camp.c.run);
    REQUIRE(study);
    auto s = f.study(*study);
    CHECK(s["status"] == "ACTIVE");
    CHECK(s["reward"] == 50);  // task_reward 0.5 in the run's params
    CHECK(s["total_available_places"] == 5);
    CHECK(s["external_study_url"] ==
          "http://127.0.0.1:8080/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}");
    auto code = s["completion_codes"][0]["code"].get<std::string>();
    CHECK(prov.completion_url(camp.c.run) == "https://app.prolific.com/submissions/complete?cc=" + code);
    CHECK(s["maximum_allowed_time"].get<int>() >= s["estimated_completion_time"].get<int>());

    // Setting up again (a restart) makes no second study.
    prov.setup_resources(camp.c.run, "http://127.0.0.1:8080/");
    CHECK(f.study_ids().size() == 1);

    for (int i = 0; i < 7; ++i) camp.add("p" + std::to_string(i));
    for (auto u : camp.units) prov.launch(u, "http://127.0.0.1:8080/");
    CHECK(f.study(*study)["total_available_places"] == 7);
    auto patches = calls_to(f, "PATCH", "/studies/");
    CHECK(patches.size() == 2);  // 5 → 6 → 7, never down
    for (auto u : camp.units) prov.launch(u, "http://127.0.0.1:8080/");  // relaunched (a resumed run): counted once
    CHECK(calls_to(f, "PATCH", "/studies/").size() == 2);

    prov.expire(camp.units[0]);
    CHECK(prov.is_expired(camp.units[0]));
    CHECK(f.study(*study)["total_available_places"] == 7);  // Prolific cannot lower places: they stay

    prov.cleanup_resources(camp.c.run);
    CHECK(f.study(*study)["status"] == "COMPLETED");
    prov.cleanup_resources(camp.c.run);  // twice: nothing more
    CHECK(calls_to(f, "POST", "/transition/").size() == 2);  // PUBLISH, STOP
    check_every_call_documented(f);
}

TEST_CASE("prolific: a crash between creating the draft and keeping its id, or before publishing, resumes",
          "[prolific]") {
    fake f;
    using prov_t = providers::prolific<stores::memory, stores::memory>;
    /// Sets the run up with a provider killed at `point`, then again with a new one over the same ledger.
    auto crash_then_resume = [&](small_campaign& camp, stores::memory& ledger, std::string const& point) {
        {
            prov_t dying{camp.db, ledger, options_for(f, crash_at(point))};
            CHECK_THROWS_AS(dying.setup_resources(camp.c.run, "http://x/"), crash);
        }
        prov_t prov{camp.db, ledger, options_for(f)};
        prov.setup_resources(camp.c.run, "http://x/");
        return *prov.study_id(camp.c.run);
    };
    small_campaign camp;
    stores::memory ledger;
    auto kept = crash_then_resume(camp, ledger, "study.stored");
    REQUIRE(f.study_ids().size() == 1);  // kept, then published: no second study
    CHECK(f.study(kept)["status"] == "ACTIVE");

    small_campaign other;
    stores::memory ledger2;
    auto made_again = crash_then_resume(other, ledger2, "study.created");
    // The first draft was never kept: it stays an unpublished draft nobody sees; the run has a new one.
    REQUIRE(f.study_ids().size() == 3);
    CHECK(f.study(made_again)["status"] == "ACTIVE");
    int drafts = 0;
    for (auto const& id : f.study_ids()) drafts += f.study(id)["status"] == "UNPUBLISHED";
    CHECK(drafts == 1);
}

TEMPLATE_TEST_CASE("prolific: a bonus is paid exactly once whatever step the provider dies at", "[prolific][bonus]",
                   test::memory_backend, test::sqlite_backend) {
    auto point = GENERATE(as<std::string>{}, "bonus.recorded", "bonus.created", "bonus.stored", "bonus.paying",
                          "bonus.paid");
    INFO("killed at " << point);
    fake f;
    small_campaign camp;
    TestType backend;
    auto ledger = backend.open();
    using prov_t = providers::prolific<stores::memory, typename TestType::store_type>;
    std::string study;
    {
        prov_t setup{camp.db, *ledger, options_for(f)};
        setup.setup_resources(camp.c.run, "http://x/");
        study = *setup.study_id(camp.c.run);
    }
    camp.add("alice1");
    f.set_status(f.arrive(study, "alice1"), "AWAITING REVIEW");
    auto const w = camp.workers[0];
    auto const u = camp.units[0];
    {
        prov_t dying{camp.db, *ledger, options_for(f, crash_at(point))};
        CHECK_THROWS_AS(dying.bonus(w, 1.25, "great labels", u), crash);
    }
    if constexpr (TestType::persistent) {  // a real restart: the ledger is read back from its file
        ledger.reset();
        ledger = backend.reopen();
    }
    prov_t restarted{camp.db, *ledger, options_for(f)};
    auto report = restarted.resume_payments();
    auto const key = restarted.bonuses().at(0).key;
    bool const unknown_outcome = point == "bonus.paying" || point == "bonus.paid";
    if (!unknown_outcome) {
        CHECK(report.paid == std::vector<std::string>{key});
        CHECK(f.bonus_paid_to("alice1") == 125);
    } else {
        // The pay call may or may not have gone: crowdline never sends it again on its own.
        CHECK(report.uncertain == std::vector<std::string>{key});
        CHECK(f.bonus_paid_to("alice1") == (point == "bonus.paid" ? 125 : 0));
        CHECK_THROWS_WITH(restarted.bonus(w, 1.25, "great labels", u), Contains("settle_bonus"));
        CHECK(restarted.resume_payments().uncertain.size() == 1);
        CHECK(f.bonus_paid_to("alice1") == (point == "bonus.paid" ? 125 : 0));
        restarted.settle_bonus(key, /*was_paid=*/point == "bonus.paid");  // what the dashboard shows
        (void)restarted.resume_payments();
        CHECK(f.bonus_paid_to("alice1") == 125);
    }
    // The same bonus asked again (the review retried): the ledger answers, nothing is paid again.
    CHECK(restarted.bonus(w, 1.25, "great labels", u));
    CHECK(restarted.resume_payments().paid.empty());
    CHECK(f.bonus_paid_to("alice1") == 125);
    for (auto const& [id, n] : f.pays()) CHECK(n <= 1);
    CHECK(restarted.bonuses().at(0).state == "paid");
    check_every_call_documented(f);
}

TEST_CASE_METHOD(impatient_study, "prolific: a bonus survives refused and lost calls without paying twice",
                 "[prolific][bonus]") {
    for (auto pid : {"bob1", "carol1", "dan1", "erin1"}) {
        camp.add(pid);
        f.set_status(f.arrive(study, pid), "AWAITING REVIEW");
    }

    SECTION("setting up the payment is refused: owed, then paid by resume_payments") {
        f.next("POST", "/api/v1/submissions/bonus-payments/", fake::trouble::fail, 500);
        CHECK_THROWS_WITH(prov.bonus(camp.workers[0], 2.0, "r", camp.units[0]), Contains("HTTP 500"));
        CHECK(prov.bonuses().at(0).state == "recorded");
        CHECK(prov.resume_payments().paid.size() == 1);
        CHECK(f.bonus_paid_to("bob1") == 200);
    }
    SECTION("the pay call is refused: Prolific paid nothing, so it is sent again, once") {
        f.next("POST", "/api/v1/bulk-bonus-payments/", fake::trouble::fail, 503);
        CHECK_THROWS_WITH(prov.bonus(camp.workers[1], 2.0, "r", camp.units[1]), Contains("HTTP 503"));
        CHECK(prov.bonuses().at(0).state == "created");
        CHECK(f.bonus_paid_to("carol1") == 0);
        CHECK(prov.resume_payments().paid.size() == 1);
        CHECK(f.bonus_paid_to("carol1") == 200);
        CHECK(calls_to(f, "POST", "/api/v1/submissions/bonus-payments/").size() == 1);  // the same payment
    }
    SECTION("the pay call's answer is lost: paid once, never sent again") {
        f.next("POST", "/api/v1/bulk-bonus-payments/", fake::trouble::drop_reply);
        CHECK_THROWS_WITH(prov.bonus(camp.workers[2], 2.0, "r", camp.units[2]), Contains("may have been paid"));
        CHECK(f.bonus_paid_to("dan1") == 200);
        CHECK(prov.resume_payments().uncertain.size() == 1);
        CHECK(f.bonus_paid_to("dan1") == 200);
        CHECK(calls_to(f, "POST", "/pay/").size() == 1);
    }
    SECTION("the pay call stalls: not paid, never sent again until settled") {
        f.next("POST", "/api/v1/bulk-bonus-payments/", fake::trouble::stall);
        CHECK_THROWS_WITH(prov.bonus(camp.workers[3], 2.0, "r", camp.units[3]), Contains("may have been paid"));
        CHECK(prov.resume_payments().uncertain.size() == 1);
        CHECK(f.bonus_paid_to("erin1") == 0);
        prov.settle_bonus(prov.bonuses().at(0).key, false);
        CHECK(prov.resume_payments().paid.size() == 1);
        CHECK(f.bonus_paid_to("erin1") == 200);
    }
    SECTION("a bonus the balance does not cover is refused and recorded nowhere") {
        f.set_balance(100);
        CHECK_FALSE(prov.bonus(camp.workers[0], 2.0, "r", camp.units[0]));
        CHECK(prov.bonuses().empty());
        CHECK(calls_to(f, "POST", "bonus-payments").empty());
    }
    for (auto const& [id, n] : f.pays()) CHECK(n <= 1);
    CHECK(f.shape_errors().empty());
}

TEST_CASE("prolific: a run that would overspend stops launching and says why", "[prolific]") {
    fake f;
    small_campaign camp;
    stores::memory ledger;
    providers::prolific<stores::memory, stores::memory> prov{camp.db, ledger, options_for(f)};
    f.set_balance(7 * 67);  // seven places at 50 + 33% fee: the first five are held back when published
    prov.setup_resources(camp.c.run, "http://x/");
    CHECK(f.available() == 2 * 67);
    for (int i = 0; i < 8; ++i) camp.add("q" + std::to_string(i));
    for (int i = 0; i < 7; ++i) prov.launch(camp.units[static_cast<std::size_t>(i)], "http://x/");
    CHECK(f.study(*prov.study_id(camp.c.run))["total_available_places"] == 7);
    CHECK_THROWS_AS(prov.launch(camp.units[7], "http://x/"), providers::budget_exhausted);
    REQUIRE(prov.launch_refusal());
    CHECK_THAT(*prov.launch_refusal(), Contains("from 7 to 8") && Contains("0.67") && Contains("0.00 available") && Contains("top up"));
    CHECK(f.study(*prov.study_id(camp.c.run))["total_available_places"] == 7);
    auto patches = calls_to(f, "PATCH", "/studies/").size();
    CHECK_THROWS_AS(prov.launch(camp.units[7], "http://x/"), launch_refused);  // refused at once
    CHECK(calls_to(f, "PATCH", "/studies/").size() == patches);
    // A restart after a top-up: the refused unit was not counted as placed, so offering it again raises
    // the places to 8 (a unit counted before its refusal would have been taken for placed).
    f.set_balance(100000);
    providers::prolific<stores::memory, stores::memory> again{camp.db, ledger, options_for(f)};
    again.launch(camp.units[7], "http://x/");
    CHECK(f.study(*again.study_id(camp.c.run))["total_available_places"] == 8);
    again.launch(camp.units[7], "http://x/");  // offered again (a second restart): no ninth place
    CHECK(f.study(*again.study_id(camp.c.run))["total_available_places"] == 8);
}

TEST_CASE_METHOD(published_study, "prolific: approve, reject with Prolific's required message, soft reject, block and groups",
                 "[prolific]") {
    std::vector<std::string> subs;
    for (auto pid : {"r1", "r2", "r3"}) {
        camp.add(pid);
        subs.push_back(f.arrive(study, pid));
    }
    // Still ACTIVE on Prolific: the refusal carries the status and Prolific's own text.
    CHECK_THROWS_WITH(prov.approve(camp.agents[0], ""), Contains("HTTP 400") && Contains("awaiting review"));
    for (auto const& s : subs) f.set_status(s, "AWAITING REVIEW");
    prov.approve(camp.agents[0], "");
    CHECK(f.submission_status(subs[0]) == "APPROVED");
    prov.approve(camp.agents[0], "");  // again (a retry): already approved, nothing to do
    auto before = f.calls().size();
    CHECK_THROWS_AS(prov.reject(camp.agents[1], "too short"), crowdline::invalid_argument);
    CHECK(f.calls().size() == before);  // refused before calling
    prov.reject(camp.agents[1], long_note());
    CHECK(f.submission_status(subs[1]) == "REJECTED");
    auto rejects = calls_to(f, "POST", subs[1] + "/transition/");
    REQUIRE(rejects.size() == 1);
    CHECK(rejects[0].body["action"] == "REJECT");
    CHECK(rejects[0].body["message"] == long_note());
    CHECK(rejects[0].body.contains("rejection_category"));
    prov.soft_reject(camp.agents[2], "meh");
    CHECK(f.submission_status(subs[2]) == "APPROVED");  // Prolific has no soft rejection

    prov.block(camp.workers[1], "spam");
    CHECK(prov.is_blocked(camp.workers[1]));
    CHECK(f.group_members("crowdline blocked") == std::set<std::string>{"r2"});
    prov.unblock(camp.workers[1]);
    CHECK_FALSE(prov.is_blocked(camp.workers[1]));
    CHECK(f.group_members("crowdline blocked").empty());
    prov.grant(camp.workers[0], "trusted", 1);
    CHECK(f.group_members("trusted") == std::set<std::string>{"r1"});
    prov.revoke(camp.workers[0], "trusted");
    CHECK(f.group_members("trusted").empty());
    CHECK(calls_to(f, "POST", "/api/v1/participant-groups/").size() >= 2);

    prov.register_requester(camp.c.requester);
    CHECK(prov.is_registered(camp.c.requester));
    CHECK(prov.budget(camp.c.requester) == Approx(static_cast<double>(f.available()) / 100.0));
    CHECK(f.available() == 100000 - 5 * 67);  // the five places of the published study are held back
    check_every_call_documented(f);
}

TEST_CASE_METHOD(published_study, "prolific: identity is the participant id; a foreign study or a missing id is refused",
                 "[prolific]") {
    CHECK(prov.worker_name({{"prolific_pid", "5f1a2b3c4d"}, {"study_id", study}, {"session_id", "s1"}}) == "5f1a2b3c4d");
    CHECK(prov.worker_name({{"prolific_pid", "abc"}}) == "abc");
    CHECK_THROWS_AS(prov.worker_name({{"prolific_pid", "abc"}, {"study_id", "someone-elses"}}), bad_packet);
    CHECK_THROWS_AS(prov.worker_name({{"worker_name", "abc"}}), bad_packet);
    CHECK_THROWS_AS(prov.worker_name({{"prolific_pid", "a/b"}}), bad_packet);
    CHECK_THROWS_AS(prov.worker_name(nlohmann::json::array()), bad_packet);
    CHECK_THROWS_AS((providers::prolific<stores::memory, stores::memory>{camp.db, ledger, {}}), crowdline::invalid_argument);
    auto same = options_for(f);
    CHECK_THROWS_WITH((providers::prolific<stores::memory, stores::memory>{camp.db, camp.db, same}),
                      Contains("another store"));
}

TEST_CASE("prolific: an unreachable or untrusted server is an error naming why, not a crash", "[prolific]") {
    small_campaign camp;
    stores::memory ledger;
    fake f;
    auto o = options_for(f);
    o.extra_ca_pem.clear();  // trust nothing: the fake's certificate is refused
    providers::prolific<stores::memory, stores::memory> untrusting{camp.db, ledger, o};
    CHECK_THROWS_WITH(untrusting.setup_resources(camp.c.run, "http://x/"), Contains("no reply") && Contains("handshake"));
    CHECK(f.study_ids().empty());
}

namespace {

/// A participant's page in the whole-run test: registers with the ids Prolific puts in the study URL.
struct participant_page {
    architects::in_process& arch;
    std::string pid, study;
    std::optional<agent_id> agent{};
    std::string token{};

    packet register_() {
        auto reply = arch.channel().request({"register", std::nullopt, {{"prolific_pid", pid}, {"study_id", study}}});
        if (reply.type == "agent_details") {
            agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
            token = reply.data["token"].get<std::string>();
        }
        return reply;
    }
    packet submit() { return arch.channel().request({"submit", agent, {{"token", token}, {"submission", {{"label", pid}}}}}); }
};

}  // namespace

TEST_CASE("prolific: a whole run of 20 participants through the fake, with returns, a time-out and a crash mid-payment",
          "[prolific][run]") {
    fake f;
    using prov_t = providers::prolific<stores::memory, stores::memory>;
    // [wiring]
    stores::memory db, ledger;  // the campaign's store, and the provider's own records (a second store)
    architects::in_process arch;
    providers::prolific<stores::memory, stores::memory> prov{db, ledger, options_for(f)};
    pipeline p{blueprints::mock{20}, arch, prov, test::make_test_dispatcher(), db, test::run_args()};
    prov.on_returned([&](agent_id a) { p.disconnect(a); });  // returned or timed out: back to the pool
    // [wiring]
    test::manual_clock clock;
    p.set_clock(clock);

    auto run = p.launch();
    auto study = *prov.study_id(run);
    CHECK(f.study(study)["status"] == "ACTIVE");
    CHECK(f.study(study)["total_available_places"] == 20);  // 5 at creation, raised as the 20 units launched
    CHECK(db.find_units({.task_run = run, .status = unit_status::launched}).size() == 20);

    // Three participants start and leave: one returns (told by a webhook), one returns and one times out
    // (their hooks are lost: the status poll finds them). Their units go back to the pool.
    std::vector<participant_page> leavers;
    std::vector<std::string> leaver_subs;
    for (int i = 0; i < 3; ++i) {
        leavers.push_back({arch, "leaver" + std::to_string(i), study});
        leaver_subs.push_back(f.arrive(study, leavers.back().pid));
        REQUIRE(leavers.back().register_().type == "agent_details");
    }
    CHECK(db.find_units({.task_run = run, .status = unit_status::launched}).size() == 17);
    f.set_status(leaver_subs[0], "RETURNED");
    CHECK(prov.submission_status("leaver0", "RETURNED") == std::vector<agent_id>{*leavers[0].agent});
    CHECK(prov.submission_status("leaver0", "RETURNED").empty());  // again: nothing of theirs is at work
    f.set_status(leaver_subs[1], "RETURNED");
    f.set_status(leaver_subs[2], "TIMED-OUT");
    auto polled = prov.sync_status(run);
    CHECK(polled == std::vector<agent_id>{*leavers[1].agent, *leavers[2].agent});
    CHECK(prov.sync_status(run).empty());
    CHECK(db.find_units({.task_run = run, .status = unit_status::launched}).size() == 20);
    for (auto const& l : leavers) CHECK(db.get_agent(*l.agent).status == agent_status::disconnect);
    CHECK(prov.submission_status("leaver0", "AWAITING REVIEW").empty());  // nothing new

    // Twenty participants do the twenty units.
    std::vector<participant_page> pages;
    std::vector<std::string> subs;
    for (int i = 0; i < 20; ++i) {
        pages.push_back({arch, "participant" + std::to_string(i), study});
        subs.push_back(f.arrive(study, pages.back().pid));
        REQUIRE(pages.back().register_().type == "agent_details");
        REQUIRE(pages.back().submit().type == "submitted");
        f.set_status(subs.back(), "AWAITING REVIEW");  // they entered the completion code on Prolific
    }
    CHECK(p.is_complete());
    CHECK(f.study(study)["status"] == "COMPLETED");  // stopped when the run ended
    CHECK(f.study(study)["total_available_places"] == 20);

    // Review: 18 approved, 2 rejected with Prolific's required message.
    for (std::size_t i = 0; i < 20; ++i) {
        if (i < 18) prov.approve(*pages[i].agent, "");
        else prov.reject(*pages[i].agent, long_note());
    }
    for (std::size_t i = 0; i < 20; ++i) CHECK(f.submission_status(subs[i]) == (i < 18 ? "APPROVED" : "REJECTED"));

    // Bonuses for five; the provider is killed in the middle of the third's payment and rebuilt over the
    // same ledger: everybody is paid exactly once.
    auto worker_of = [&](std::size_t i) { return db.get_agent(*pages[i].agent).worker; };
    auto unit_of = [&](std::size_t i) { return db.get_agent(*pages[i].agent).unit; };
    for (std::size_t i = 0; i < 2; ++i) CHECK(prov.bonus(worker_of(i), 0.75, "agreement bonus", unit_of(i)));
    {
        prov_t dying{db, ledger, options_for(f, crash_at("bonus.stored"))};
        CHECK_THROWS_AS(dying.bonus(worker_of(2), 0.75, "agreement bonus", unit_of(2)), crash);
    }
    // [restart]
    prov_t rebuilt{db, ledger, options_for(f)};  // a new process over the same ledger
    auto report = rebuilt.resume_payments();     // pays what was owed; lists what may have been paid
    // [restart]
    CHECK(report.paid.size() == 1);
    CHECK(report.uncertain.empty());
    for (std::size_t i = 2; i < 5; ++i) CHECK(rebuilt.bonus(worker_of(i), 0.75, "agreement bonus", unit_of(i)));
    for (std::size_t i = 0; i < 20; ++i) CHECK(f.bonus_paid_to(pages[i].pid) == (i < 5 ? 75 : 0));
    CHECK(calls_to(f, "POST", "/pay/").size() == 5);
    for (auto const& [id, n] : f.pays()) CHECK(n <= 1);

    check_every_call_documented(f);
}

namespace {

/// POSTs a hook to the architect's socket at /prolific/hook (`test::post_hook`).
std::pair<unsigned, nlohmann::json> post_hook(std::uint16_t port, std::string const& body, std::string const& stamp,
                                              std::string const& signature) {
    return test::post_hook(port, "/prolific/hook", body, stamp, signature);
}

std::string now_stamp(std::chrono::seconds shift = 0s) {
    auto t = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()) + shift;
    return std::to_string(t.count());
}

}  // namespace

TEST_CASE_METHOD(hooked_study, "prolific: signed hooks over a real socket hand returned and timed-out participants back, once",
                 "[prolific][hooks]") {
    for (auto pid : {"h1", "h2", "h3"}) camp.add(pid);
    std::vector<agent_id> handed;
    prov.on_returned([&](agent_id a) { handed.push_back(a); });

    architects::http arch{{.host = "127.0.0.1", .port = 0}};
    // [hook]
    arch.route("POST", "/prolific/hook", prov.hook_route());  // options.webhook_secret signs the deliveries
    // [hook]
    arch.prepare();
    (void)arch.deploy();
    auto const port = arch.port();
    auto event = [](std::string const& sub, std::string const& pid, std::string const& status) {
        return nlohmann::json{{"resource_id", sub}, {"event_type", "submission.status.change"},
                              {"participant_id", pid}, {"status", status}}.dump();
    };
    auto send = [&](std::string const& body, std::string stamp = now_stamp()) {
        return post_hook(port, body, stamp, providers::detail::hook_signature("hook-secret", stamp, body));
    };

    auto returned = event("sub-h1", "h1", "RETURNED");
    auto [status, reply] = send(returned);
    CHECK(status == 200);
    CHECK(reply["taken"] == true);
    CHECK(handed == std::vector<agent_id>{camp.agents[0]});
    // Prolific retries a delivery: the same event does nothing, even once the agent is at work again.
    camp.db.update_agent(camp.agents[0], agent_status::in_task);
    auto again = send(returned);
    CHECK(again.first == 200);
    CHECK(again.second["taken"] == false);
    CHECK(handed.size() == 1);

    CHECK(send(event("sub-h2", "h2", "AWAITING REVIEW")).second["returned"] == 0);  // nothing new
    CHECK(send(event("sub-h2", "h2", "TIMED-OUT")).second["returned"] == 1);
    CHECK(handed == std::vector<agent_id>{camp.agents[0], camp.agents[1]});

    // Forged, tampered, stale or unsigned: refused, nothing handed back.
    auto h3 = event("sub-h3", "h3", "RETURNED");
    auto stamp = now_stamp();
    CHECK(post_hook(port, h3, stamp, providers::detail::hook_signature("wrong-secret", stamp, h3)).first == 401);
    CHECK(post_hook(port, h3, stamp, providers::detail::hook_signature("hook-secret", stamp, h3 + " ")).first == 401);
    CHECK(send(h3, now_stamp(-3600s)).first == 401);
    CHECK(post_hook(port, h3, stamp, "").first == 401);
    CHECK(send("not json").first == 400);
    CHECK(handed.size() == 2);
    CHECK(send(h3).first == 200);  // the genuine one is still taken
    CHECK(handed.size() == 3);

    // A provider without a secret refuses every hook.
    stores::memory ledger2;
    providers::prolific<stores::memory, stores::memory> unsigned_prov{camp.db, ledger2, options_for(f)};
    architects::http_request bare;
    bare.body = h3;
    CHECK(unsigned_prov.handle_hook(bare).status == 503);
    arch.shutdown();
}
