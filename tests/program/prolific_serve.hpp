#pragma once
// `crowdline serve` on a campaign with a Prolific run, against the HTTPS fake of Prolific's API
// (tests/prolific/fake_prolific.hpp; `--sandbox` points at it, `--sandbox-ca` trusts its self-signed
// certificate). Included at the end of program.cpp (its helpers, one TU): participants register with
// their Prolific ids over HTTP, a signed RETURNED hook over a real socket and a TIMED-OUT the status poll
// finds each put a unit back, and restarts neither make a second study, raise places again, stop the
// study early, nor pay twice.

#include <cstdlib>

#include <crowdline/provider/detail/hook_signature.hpp>

#include "../prolific/fake_prolific.hpp"

namespace {

/// A campaign of three texts, one annotation each, served to Prolific participants.
struct prolific_serve_campaign {
    scratch_dir dir;
    test::fake_prolific fake;
    std::string file = (dir / "campaign.json").string();
    std::string db = (dir / "c.db").string();
    std::string ca = (dir / "fake.pem").string();
    prolific_serve_campaign() {
        write_text(ca, fake.certificate_pem());
        json c{{"db", "c.db"},
               {"runs",
                {{{"name", "labels"},
                  {"tasks", {{{"text", "A lovely day."}}, {{"text", "A dreadful day."}}, {{"text", "A Tuesday."}}}},
                  {"routing", {{"overlap", 1}}},
                  {"provider",
                   {{"prolific",
                     {{"token_env", "CROWDLINE_TEST_PROLIFIC_TOKEN"}, {"workspace_id", test::fake_prolific::workspace},
                      {"reward_cents", 50}, {"places", 2}, {"webhook_secret_env", "CROWDLINE_TEST_PROLIFIC_HOOKS"}}}}},
                  {"task", {{"task_title", "Label three texts"}, {"task_description", "Say how each text feels"}}}}}}};
        write_text(file, c.dump(2));
        // The child inherits them; the token is the fake's, the hooks' secret signs this test's deliveries.
        ::setenv("CROWDLINE_TEST_PROLIFIC_TOKEN", test::fake_prolific::token, 1);
        ::setenv("CROWDLINE_TEST_PROLIFIC_HOOKS", "hook-secret", 1);
    }
    std::vector<std::string> serve() const {
        return {"serve", "--campaign", file, "--port", "0", "--sandbox", fake.base_url(), "--sandbox-ca", ca,
                "prolific.sync_every_seconds=1"};
    }
    std::size_t count(std::string const& method, std::string const& path_part) const {
        std::size_t n = 0;
        for (auto const& c : fake.calls()) n += c.method == method && c.path.find(path_part) != std::string::npos;
        return n;
    }
    std::size_t count_exact(std::string const& method, std::string const& path) const {
        std::size_t n = 0;
        for (auto const& c : fake.calls()) n += c.method == method && c.path == path;
        return n;
    }
    std::size_t count_transitions(std::string const& action) const {
        std::size_t n = 0;
        for (auto const& c : fake.calls())
            n += c.method == "POST" && c.path.find("/studies/") != std::string::npos &&
                 c.path.find("/transition/") != std::string::npos && c.body.value("action", "") == action;
        return n;
    }
};

json register_participant(std::uint16_t port, std::string const& pid, std::string const& study) {
    return packet_to(port, "register",
                     {{"data", {{"prolific_pid", pid}, {"study_id", study}, {"session_id", "session-" + pid}, {"run", "labels"}}}})
        .parsed();
}
json submit_unit(std::uint16_t port, json const& details) {
    return packet_to(port, "submit", {{"agent", details["data"]["agent_id"]},
                                      {"data", {{"run", "labels"}, {"token", details["data"]["token"]},
                                                {"submission", {{"sentiment", "positive"}}}}}})
        .parsed();
}

/// One hook delivery, signed now as Prolific signs it, over a real socket.
std::pair<unsigned, json> post_prolific_hook(std::uint16_t port, std::string const& path, std::string const& body,
                                             std::string const& secret) {
    auto const stamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    return test::post_hook(port, path, body, stamp, crowdline::providers::detail::hook_signature(secret, stamp, body));
}

}  // namespace

TEST_CASE("program: serve runs a Prolific study: participants by their ids, hooks and the status poll return units, "
          "restarts neither make a second study nor pay twice",
          "[program][prolific]") {
    prolific_serve_campaign c;
    std::string study;
    json first;  // p1's unit
    {
        program p(c.serve(), c.dir.path);
        REQUIRE(p.wait_for_output("Review page"));
        auto const port = p.port();
        // One study, made from the run's settings and published; places raised from 2 to the 3 units launched.
        auto const ids = c.fake.study_ids();
        REQUIRE(ids.size() == 1);
        study = ids.front();
        auto const s = c.fake.study(study);
        CHECK(s["status"] == "ACTIVE");
        CHECK(s["name"] == "Label three texts");
        CHECK(s["reward"] == 50);
        CHECK(s["total_available_places"] == 3);
        CHECK_THAT(s["external_study_url"].get<std::string>(),
                   Contains("http://127.0.0.1:" + std::to_string(port) + "/?run=labels&PROLIFIC_PID={{%PROLIFIC_PID%}}"));
        CHECK_THAT(p.out(), Contains("Prolific study " + study) && Contains("/prolific/hook/labels"));
        CHECK(c.fake.shape_errors().empty());

        // A page opened without Prolific's ids, or from another study, gets nothing.
        CHECK(packet_to(port, "register", {{"data", {{"run", "labels"}}}}).parsed()["data"]["reason"] == "forbidden");
        CHECK(register_participant(port, "p0", "not-our-study")["data"]["reason"] == "forbidden");

        // p1 takes a unit (Prolific counts their place), answers it, and is told where to complete.
        first = register_participant(port, "p1", study);
        REQUIRE(first["type"] == "agent_details");
        CHECK(first["data"]["worker_name"] == "p1");
        CHECK_THAT(first["data"]["completion_url"].get<std::string>(),
                   Contains("https://app.prolific.com/submissions/complete?cc=CL"));
        auto const sub1 = c.fake.arrive(study, "p1");
        REQUIRE(submit_unit(port, first)["type"] == "submitted");
        c.fake.set_status(sub1, "AWAITING REVIEW");  // p1 entered the completion code

        // p2 returns the study: Prolific's signed hook, over a real socket, gives their unit back.
        auto const second = register_participant(port, "p2", study);
        REQUIRE(second["type"] == "agent_details");
        auto const sub2 = c.fake.arrive(study, "p2");
        c.fake.set_status(sub2, "RETURNED");
        auto const event = json{{"event_id", "evt-returned-p2"}, {"event_type", "submission.status.change"},
                                {"resource_id", sub2}, {"participant_id", "p2"}, {"status", "RETURNED"}}.dump();
        CHECK(post_prolific_hook(port, "/prolific/hook/labels", event, "wrong-secret").first == 401);
        auto const [status, reply] = post_prolific_hook(port, "/prolific/hook/labels", event, "hook-secret");
        CHECK(status == 200);
        CHECK(reply["returned"] == 1);
        auto const again = post_prolific_hook(port, "/prolific/hook/labels", event, "hook-secret");  // a retried delivery
        CHECK(again.second["taken"] == false);

        // Ctrl-C mid-run: the study stays published, so the next start resumes it.
        CHECK(p.interrupt() == 0);
        CHECK(c.fake.study(study)["status"] == "ACTIVE");
        CHECK(c.count_transitions("STOP") == 0);
    }
    auto const places_raised = c.count("PATCH", "/studies/");
    CHECK(places_raised == 1);
    {
        program p(c.serve(), c.dir.path);
        REQUIRE(p.wait_for_output("Review page"));
        auto const port = p.port();
        // The same study: none made, none published again, no place raised again for the resumed units.
        CHECK(c.fake.study_ids().size() == 1);
        CHECK(c.count_exact("POST", "/api/v1/studies/") == 1);
        CHECK(c.count_transitions("PUBLISH") == 1);
        CHECK(c.count("PATCH", "/studies/") == places_raised);

        // Two units are left (p2's came back): p3 and p4 take them; p4 times out, and no hook says so.
        auto const third = register_participant(port, "p3", study);
        auto const fourth = register_participant(port, "p4", study);
        REQUIRE(third["type"] == "agent_details");
        REQUIRE(fourth["type"] == "agent_details");
        CHECK(register_participant(port, "p5", study)["type"] == "no_work");
        c.fake.set_status(c.fake.arrive(study, "p4"), "TIMED-OUT");
        // The status poll (every second here) finds it: p4's unit goes to p5.
        json fifth;
        for (auto until = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < until;) {
            fifth = register_participant(port, "p5", study);
            if (fifth["type"] == "agent_details") break;
            std::this_thread::sleep_for(100ms);
        }
        REQUIRE(fifth["type"] == "agent_details");
        CHECK(fifth["data"]["unit_id"] == fourth["data"]["unit_id"]);
        REQUIRE(submit_unit(port, third)["type"] == "submitted");
        REQUIRE(submit_unit(port, fifth)["type"] == "submitted");
        REQUIRE(p.wait_for_output("The run is complete"));
        // The run is over: its study is stopped, once.
        CHECK(c.fake.study(study)["status"] == "COMPLETED");
        CHECK(c.count_transitions("STOP") == 1);
        // A participant with nothing left is refused, and their page goes to the completion URL it was given.
        CHECK(register_participant(port, "p1", study)["type"] == "no_work");

        // The review page approves p1 with a bonus: Prolific approves the submission and pays it once.
        auto const secrets = json::parse(read_bytes(c.db + ".secrets.json"));
        auto const bearer = "Bearer " + secrets["requester_token"].get<std::string>();
        auto decided = test::http_request(port, "POST", "/api/review/decide?run=labels",
                                          json{{"agent_id", first["data"]["agent_id"]}, {"action", "approve"}, {"bonus", 0.25}}.dump(),
                                          bearer);
        INFO(decided.body);
        CHECK(decided.status == 200);
        CHECK(c.fake.bonus_paid_to("p1") == 25);
        CHECK(p.interrupt() == 0);
        CHECK_THAT(p.out() + p.err(), !Contains(test::fake_prolific::token));
    }
    {
        // Once more: the completed run is shown again; nothing is made, stopped or paid again.
        program p(c.serve(), c.dir.path);
        REQUIRE(p.wait_for_output("Review page"));
        CHECK_THAT(p.out(), Contains("is complete"));
        CHECK(p.interrupt() == 0);
    }
    CHECK(c.fake.study_ids().size() == 1);
    CHECK(c.count_transitions("STOP") == 1);
    CHECK(c.fake.bonus_paid_to("p1") == 25);
    for (auto const& [payment, pays] : c.fake.pays()) CHECK(pays == 1);
    CHECK(c.fake.shape_errors().empty());
    // The ledger is its own file beside the database.
    CHECK(fs::exists(c.db + ".prolific"));
    // `crowdline review` decides offline, paying nobody: a Prolific run's agents are decided while serving.
    auto offline = run({"review", "--db", c.db, "reject", std::to_string(first["data"]["agent_id"].get<std::int64_t>())},
                       c.dir.path);
    CHECK(offline.code == 1);
    CHECK_THAT(offline.err, Contains("is a Prolific run: decide on the review page of `crowdline serve`"));
}

TEST_CASE("program: a Prolific workspace that runs short mid-run stops that run's launching, not serve",
          "[program][prolific]") {
    prolific_serve_campaign c;
    c.fake.set_balance(2 * 67);  // the 2 places published (0.50 + 33% each), not the third unit's place
    program p(c.serve(), c.dir.path);
    REQUIRE(p.wait_for_output("stopped launching"));
    CHECK_THAT(p.out(), Contains("Run \"labels\" stopped launching: prolific study") && Contains("from 2 to 3") &&
                            Contains("It keeps serving the units it has"));
    CHECK_FALSE(p.wait(500ms));  // still serving
    auto const study = c.fake.study_ids().front();
    CHECK(c.fake.study(study)["total_available_places"] == 2);
    // A participant still gets a unit and saves an answer.
    auto const port = p.port();
    auto details = register_participant(port, "p1", study);
    REQUIRE(details["type"] == "agent_details");
    CHECK(submit_unit(port, details)["type"] == "submitted");
    auto const bearer = "Bearer " + json::parse(read_bytes(c.db + ".secrets.json"))["requester_token"].get<std::string>();
    auto dashboard = test::http_request(port, "GET", "/api/review/dashboard", {}, bearer);
    REQUIRE(dashboard.status == 200);
    CHECK_THAT(dashboard.parsed()["launch_stopped"].get<std::string>(), Contains("top up"));
    CHECK(p.interrupt() == 0);
    // After a top-up a restart raises the place the refused unit needs.
    c.fake.set_balance(100000);
    program again(c.serve(), c.dir.path);
    REQUIRE(again.wait_for_output("Review page"));
    CHECK(c.fake.study(study)["total_available_places"] == 3);
    CHECK(again.out().find("stopped launching") == std::string::npos);
    CHECK(again.interrupt() == 0);
}

TEST_CASE("program: a Prolific workspace that cannot pay for the study stops serve, saying why, the token unsaid",
          "[program][prolific]") {
    prolific_serve_campaign c;
    c.fake.set_balance(10);  // 0.10: not one place of 0.50 with fees
    program p(c.serve(), c.dir.path);
    auto const code = p.wait(30s);
    REQUIRE(code);
    CHECK(*code == 1);
    CHECK_THAT(p.err(), Contains("crowdline: prolific: publish study") && Contains("insufficient balance"));
    CHECK_THAT(p.out() + p.err(), !Contains(test::fake_prolific::token));
    // Nothing was published; a start after a top-up publishes the same draft instead of making another.
    c.fake.set_balance(100000);
    program again(c.serve(), c.dir.path);
    REQUIRE(again.wait_for_output("Review page"));
    CHECK(c.fake.study_ids().size() == 1);
    CHECK(c.fake.study(c.fake.study_ids().front())["status"] == "ACTIVE");
    CHECK(again.interrupt() == 0);
}
