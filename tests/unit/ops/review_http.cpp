// The review API over real sockets (architects::http on loopback, the in-house crowd): a decision with
// a bonus and a block is all or nothing and its reply tells the truth; amounts and ids out of range,
// and fields of the wrong type, in any review or packet body are 400 naming the field, with nothing
// changed in the store or on the provider.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include <crowdline/architect/http.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/quality/run_report.hpp>
#include <crowdline/store/memory.hpp>

#include "../architect/http_client.hpp"
#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_review_http {

using namespace crowdline;
using json = nlohmann::json;

namespace {

constexpr char const* requester_token = "0123456789abcdef0123456789abcdef";
std::string const bearer = std::string("Bearer ") + requester_token;

/// A served campaign of two texts (or as many as asked), one unit each (or as many as asked); the crowd has a budget of 10 for bonuses, and the review
/// API pays at most 100 in one action.
struct served {
    stores::memory db;
    architects::http server{args()};
    providers::in_house crowd{{{"alice", json::object(), {}}, {"bob", json::object(), {}}}, {.budget = 10}};
    decltype(test::make_test_dispatcher()) dispatcher;
    std::optional<pipeline<blueprints::static_form, architects::http&, providers::in_house&, decltype(dispatcher)&,
                           stores::memory>>
        run;

    static architects::http_args args() {
        architects::http_args a;
        a.port = 0;
        a.threads = 2;
        a.max_body_bytes = 4096;
        return a;
    }
    /// `units_per_item`: how many workers answer each text; `texts`: how many texts ("text 1", …).
    explicit served(double units_per_item = 1, std::size_t texts = 2) : dispatcher(test::make_test_dispatcher(units_per_item)) {
        std::vector<json> items;
        for (std::size_t i = 1; i <= texts; ++i) items.push_back({{"text", "text " + std::to_string(i)}});
        blueprints::static_form form{
            {blueprints::fields::display_text{.name = "text", .label = "Text", .text = "{{text}}"},
             blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment", .options = {"neg", "pos"}}},
            std::move(items)};
        run.emplace(std::move(form), server, crowd, dispatcher, db, test::run_args("review-http"));
        server.prepare();
        add_review_routes(server, *run, {.requester_token = requester_token, .max_bonus = 100});
        run->launch();
    }
    ~served() {
        run->shutdown();
        server.shutdown();
    }
    test::http_reply post(std::string const& target, std::string body, std::string authorization = bearer) {
        return test::http_request(server.port(), "POST", target, std::move(body), std::move(authorization));
    }
    /// Registers `name` and submits an answer: the agent id of the completed unit.
    std::int64_t submitted(std::string const& name, std::string const& sentiment = "pos") {
        auto reg = post("/api/register", json{{"data", {{"invite", crowd.invite_token(name)}}}}.dump(), {}).parsed();
        auto const agent = reg["data"]["agent_id"].get<std::int64_t>();
        auto ack = post("/api/submit", json{{"agent", agent},
                                            {"data", {{"token", reg["data"]["token"]}, {"submission", {{"sentiment", sentiment}}}}}}
                                           .dump(),
                        {});
        REQUIRE(ack.status == 200);
        return agent;
    }
    /// Every row of the store and what the crowd recorded.
    json state() {
        auto out = run->locked([](auto& s, auto&, auto const&) { return test::snapshot(s); });
        out["crowd"] = {{"approved", crowd.approved().size()}, {"rejected", crowd.rejected().size()},
                        {"soft_rejected", crowd.soft_rejected().size()}, {"bonuses", crowd.bonuses().size()},
                        {"blocked", crowd.blocked().size()}};
        return out;
    }
};

/// `text` with every `name` (a placeholder such as "@A") replaced by `value`.
std::string with(std::string text, std::string_view name, std::string const& value) {
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at + value.size()))
        text.replace(at, name.size(), value);
    return text;
}

}  // namespace

TEST_CASE("http review: a decision whose bonus is refused records nothing, and the reply says so",
          "[ops][review][http][errors]") {
    served s;
    auto const agent = s.submitted("alice");
    auto const before = s.state();
    for (auto action : {"approve", "reject", "soft_reject"}) {
        INFO(action);
        // 50 is under the review API's maximum but over the crowd's budget of 10.
        auto reply = s.post("/api/review/decide", json{{"agent_id", agent}, {"action", action}, {"note", "copied"},
                                                       {"bonus", 50}, {"block", true}}
                                                      .dump());
        CHECK(reply.status == 402);
        CHECK(reply.parsed()["error"]["reason"] == "payment_refused");
        CHECK_THAT(reply.parsed()["error"]["message"].get<std::string>(), Catch::Contains("nothing was recorded"));
        CHECK(s.state() == before);
    }
    // The same decision within the budget: all three parts, and the reply lists them.
    auto ok = s.post("/api/review/decide", json{{"agent_id", agent}, {"action", "reject"}, {"note", "copied"},
                                                {"bonus", 5}, {"block", true}}
                                               .dump());
    REQUIRE(ok.status == 200);
    auto const recorded = ok.parsed()["recorded"];
    CHECK(recorded["status"] == "rejected");
    CHECK(recorded["bonus"] == 5.0);
    CHECK(recorded["blocked"] == true);
    CHECK(s.crowd.rejected().size() == 1);
    REQUIRE(s.crowd.bonuses().size() == 1);
    CHECK(s.crowd.bonuses()[0].amount == 5.0);
    CHECK(s.crowd.blocked().size() == 1);
    CHECK(s.run->summary().units(unit_status::rejected) == 1);  // the dashboard's counts saw it
}

TEST_CASE("http: numbers out of range and fields of the wrong type are 400 naming the field; nothing changes",
          "[ops][review][http][errors]") {
    served s;
    auto const agent = std::to_string(s.submitted("alice"));
    auto const worker = std::to_string(s.run->locked([](auto& db, auto&, auto const&) {
        return db.find_workers({.name = "alice"}).front().id.value();
    }));
    auto const before = s.state();
    struct bad {
        std::string target, body, names;
        bool authorized = true;
    };
    std::vector<bad> const cases{
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": -1})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": -1e-300})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": 1e30})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": 100.01})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": 1e400})", "out of range"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": -1e400})", "out of range"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": "5"})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": true})", "bonus"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "bonus": [1]})", "bonus"},
        {"/api/review/decide", R"({"agent_id": 18446744073709551616, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": 18446744073709551615, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": 9223372036854775808, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": -@A, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": 0, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": 1e30, "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": "@A", "action": "approve"})", "agent_id"},
        {"/api/review/decide", R"({"agent_id": @A, "action": 7})", "action"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "note": 5})", "note"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "block": "yes"})", "block"},
        {"/api/review/decide", R"({"agent_id": @A, "action": "approve", "block": 1})", "block"},
        {"/api/review/block", R"({"worker_id": 1e30, "block": true})", "worker_id"},
        {"/api/review/block", R"({"worker_id": 18446744073709551615, "block": true})", "worker_id"},
        {"/api/review/block", R"({"worker_id": -@W, "block": true})", "worker_id"},
        {"/api/review/block", R"({"worker_id": 0, "block": true})", "worker_id"},
        {"/api/review/block", R"({"worker_id": @W, "block": true, "note": {"a": 1}})", "note"},
        {"/api/review/block", R"({"worker_id": @W, "block": 1e400})", "out of range"},
        {"/api/review/link", R"({"worker": 1e400, "action": "revoke"})", "out of range"},
        {"/api/review/link", R"({"worker": 18446744073709551616, "action": "revoke"})", "worker"},
        // the packet endpoints
        {"/api/submit", R"({"agent": @A, "data": {"token": "x", "submission": {"n": 1e400}}})", "out of range", false},
        {"/api/packet", R"({"type": "heartbeat", "agent": 1e400})", "out of range", false},
        {"/api/register", R"({"agent": 18446744073709551616, "data": {"invite": "x"}})", "agent", false},
        {"/api/register", R"({"data": {"invite": -1e400}})", "out of range", false},
    };
    for (auto const& c : cases) {
        auto const body = with(with(c.body, "@A", agent), "@W", worker);
        INFO(c.target << " " << body);
        auto reply = s.post(c.target, body, c.authorized ? bearer : std::string{});
        INFO(reply.body);
        CHECK(reply.status == 400);
        auto const parsed = json::parse(reply.body, nullptr, false);
        REQUIRE(parsed.is_object());
        if (parsed.contains("error")) {
            CHECK_THAT(parsed["error"]["message"].get<std::string>(), Catch::Contains(c.names));
        } else {  // a packet endpoint answers with an error packet
            CHECK(parsed["type"] == "error");
            CHECK_THAT(parsed["data"]["message"].get<std::string>(), Catch::Contains(c.names));
        }
        CHECK(s.state() == before);
    }
    CHECK(s.run->summary().units(unit_status::completed) == 1);
}

TEST_CASE("http: /metrics shows Krippendorff's alpha per label field as answers arrive, equal to the report's",
          "[ops][review][http][metrics][quality]") {
    served s{2, 3};  // two answers per text; a third text keeps the run open after the four answers below
    auto const metrics = [&] { return test::http_request(s.server.port(), "GET", "/metrics", "", {}).body; };
    auto const alpha_line = [](std::string const& body) {
        auto const at = body.find("\ncrowdline_agreement_alpha{field=\"sentiment\"} ");
        if (at == std::string::npos) return std::string{};
        return body.substr(at + 1, body.find('\n', at + 1) - at - 1);
    };
    CHECK(alpha_line(metrics()).empty());  // no answer yet: no field
    (void)s.submitted("alice", "pos");
    CHECK(alpha_line(metrics()) == "crowdline_agreement_alpha{field=\"sentiment\"} NaN");  // one answer: undefined
    CHECK(metrics().find("crowdline_agreement_annotations{field=\"sentiment\"} 1\n") != std::string::npos);
    (void)s.submitted("alice", "pos");
    (void)s.submitted("bob", "pos");
    (void)s.submitted("bob", "neg");
    auto const run = *s.run->run();
    auto const answers = s.run->locked([&](auto& db, auto&, auto const&) { return quality::run_answers(db, run); });
    REQUIRE(answers.size() == 4);
    auto const expected = quality::krippendorff_alpha(quality::field_annotations(answers, "sentiment"));
    REQUIRE(expected.has_value());
    // Where bob's answers fell depends on routing; at least one text has two answers, both labels occur.
    CHECK(alpha_line(metrics()) == "crowdline_agreement_alpha{field=\"sentiment\"} " + json(*expected).dump());
    CHECK(metrics().find("crowdline_agreement_annotations{field=\"sentiment\"} 4\n") != std::string::npos);
    // The review API's report says the same.
    auto const report = test::http_request(s.server.port(), "GET", "/api/review/quality", "", bearer).parsed();
    CHECK(report["fields"][0]["krippendorff_alpha"] == json(*expected));
}

}  // namespace tu_review_http
