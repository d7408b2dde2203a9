// architects::http over real sockets (ARCHITECTURE §9): a campaign served on loopback with the in-house
// crowd, and every kind of hostile or broken request — wrong and revoked invite links, another worker's
// unit, malformed JSON, oversized bodies, a slow client, path traversal, review endpoints without the
// requester token, too many connections — each refused with the right status and the store unchanged.
// Also: the WebSocket protocol (request ids, disconnect after the grace period, a reload keeping its unit),
// revoked and renewed links while a unit is held, a second review decision, and the security headers.

#include <catch2/catch.hpp>

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <crowdline/architect/http.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/fixtures.hpp"
#include "http_client.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_http_server {

using namespace crowdline;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct lang_item {
    std::string lang;
    explicit lang_item(initialization_data const& init) : lang(init.unit_data.front().value("lang", "")) {}
};
struct langs {
    std::vector<std::string> keys;
};
void from_json(json const& j, langs& p) { p.keys = j.value("keys", std::vector<std::string>{}); }

constexpr char const* requester_token = "0123456789abcdef0123456789abcdef";

using reply = test::http_reply;

reply request(std::uint16_t port, std::string method, std::string target, std::string body = {},
              std::string authorization = {}) {
    return test::http_request(port, method, std::move(target), std::move(body), std::move(authorization));
}

reply post(std::uint16_t port, std::string target, json body, std::string authorization = {}) {
    return request(port, "POST", std::move(target), body.dump(), std::move(authorization));
}

/// A served campaign: 4 texts (2 en, 2 fr), one unit each; alice reads en, bob reads fr.
struct served {
    stores::memory db;
    architects::http server;
    providers::in_house crowd{{{"alice", {{"keys", {"en"}}}, {}}, {"bob", {{"keys", {"fr"}}}, {}},
                               {"carol", {{"keys", {"en", "fr"}}}, {}}}};
    std::vector<json> items{{{"lang", "en"}, {"text", "one"}},
                            {{"lang", "fr"}, {"text", "deux"}},
                            {{"lang", "en"}, {"text", "three"}},
                            {{"lang", "fr"}, {"text", "quatre"}}};
    struct lang_of {
        std::string operator()(lang_item const& i) const { return i.lang; }
    };
    struct keys_of {
        std::vector<std::string> operator()(langs const& p) const { return p.keys; }
    };
    decltype(routing::make_dispatcher<lang_item, langs>(routing::average_per_task{1.0},
                                                        routing::steal_by_key{lang_of{}, keys_of{}},
                                                        routing::options{})) dispatcher =
        routing::make_dispatcher<lang_item, langs>(routing::average_per_task{1.0}, routing::steal_by_key{lang_of{}, keys_of{}},
                                                   routing::options{.lease = std::chrono::seconds(600)});
    std::optional<pipeline<blueprints::static_form, architects::http&, providers::in_house&, decltype(dispatcher)&,
                           stores::memory>>
        run;
    int links_changed = 0;  ///< calls of review_routes_options::links_changed

    static architects::http_args args(std::size_t idle_seconds) {
        architects::http_args a;
        a.port = 0;
        a.threads = 2;
        a.max_body_bytes = 4096;
        a.max_connections = 8;
        a.idle_timeout_seconds = idle_seconds;
        a.disconnect_grace_seconds = 1;
        return a;
    }
    static task_run_args run_args() {
        task_run_args a;
        a.task_name = "http-test";
        a.task_title = "Sentiment";
        a.task_description = "Say how the text feels";
        a.allowed_concurrent = 1;
        a.assignment_duration_in_seconds = 600;
        return a;
    }

    /// `idle_seconds`: 1 for the slow-client test; a synchronous test client that sleeps does not answer
    /// the server's WebSocket pings, so those tests allow it longer.
    explicit served(std::size_t idle_seconds = 1) : server(args(idle_seconds)) {
        blueprints::static_form form{
            {blueprints::fields::display_text{.name = "text", .label = "Text", .text = "{{text}}"},
             blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment", .options = {"neg", "pos"}}},
            items};
        run.emplace(std::move(form), server, crowd, dispatcher, db, run_args());
        server.prepare();
        add_review_routes(server, *run, {.requester_token = requester_token, .group_by = "lang",
                                         .links_changed = [this] { ++links_changed; }});
        run->launch();
    }
    ~served() {
        run->shutdown();
        server.shutdown();
    }
    std::uint16_t port() const { return server.port(); }
    std::string invite(std::string const& name) const { return crowd.invite_token(name); }
    std::size_t agents() { return run->locked([](auto& s, auto&, auto const&) { return s.find_agents({}).size(); }); }
    std::size_t completed() {
        return run->locked([](auto& s, auto&, auto const&) {
            return s.find_units({.status = unit_status::completed}).size();
        });
    }
    /// Every row of the store (`test::snapshot`): equal snapshots, nothing changed.
    json store_snapshot() {
        return run->locked([](auto& s, auto&, auto const&) { return test::snapshot(s); });
    }
    crowdline::unit unit_row(std::int64_t u) {
        return run->locked([u](auto& s, auto&, auto const&) { return s.get_unit(unit_id{u}); });
    }
    crowdline::agent agent_row(std::int64_t a) {
        return run->locked([a](auto& s, auto&, auto const&) { return s.get_agent(agent_id{a}); });
    }
};

json register_as(served& s, std::string const& name) {
    return post(s.port(), "/api/register", {{"data", {{"invite", s.invite(name)}}}}).parsed();
}

}  // namespace

TEST_CASE("http: a worker registers, submits, and the answer is saved", "[architect][http]") {
    served s;
    auto r = register_as(s, "alice");
    REQUIRE(r["type"] == "agent_details");
    CHECK(r["data"]["init_data"]["unit_data"]["lang"] == "en");  // routed by the profile the link carries
    auto agent = r["data"]["agent_id"].get<std::int64_t>();
    auto ok = post(s.port(), "/api/submit",
                   {{"agent", agent}, {"data", {{"token", r["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}});
    CHECK(ok.status == 200);
    CHECK(ok.parsed()["type"] == "submitted");
    CHECK(ok.parsed()["data"]["done"] == 1);
    CHECK(s.completed() == 1);
    auto health = request(s.port(), "GET", "/healthz");
    CHECK(health.status == 200);
}

TEST_CASE("http: a page cannot choose its own profile; the invite link decides", "[architect][http][errors]") {
    served s;
    // alice reads only en; a page claiming fr gets en work anyway
    auto r = post(s.port(), "/api/register",
                  {{"data", {{"invite", s.invite("alice")}, {"profile", {{"keys", {"fr"}}}}, {"worker_name", "bob"}}}})
                 .parsed();
    REQUIRE(r["type"] == "agent_details");
    CHECK(r["data"]["worker_name"] == "alice");
    CHECK(r["data"]["init_data"]["unit_data"]["lang"] == "en");
}

TEST_CASE("http: wrong and revoked invite links are refused with 403, nothing written", "[architect][http][errors]") {
    served s;
    auto wrong = post(s.port(), "/api/register", {{"data", {{"invite", std::string(32, 'a')}}}});
    CHECK(wrong.status == 403);
    CHECK(wrong.parsed()["data"]["reason"] == "forbidden");
    auto none = post(s.port(), "/api/register", {{"data", json::object()}});
    CHECK(none.status == 403);
    s.crowd.revoke_link("bob");
    auto revoked = post(s.port(), "/api/register", {{"data", {{"invite", s.invite("bob")}}}});
    CHECK(revoked.status == 403);
    CHECK(revoked.parsed()["data"]["reason"] == "revoked");
    CHECK(s.agents() == 0);
}

TEST_CASE("http: a submit for another worker's unit is refused, the unit stays with its worker",
          "[architect][http][errors]") {
    served s;
    auto alice = register_as(s, "alice");
    auto bob = register_as(s, "bob");
    REQUIRE(alice["type"] == "agent_details");
    REQUIRE(bob["type"] == "agent_details");
    // bob names alice's agent with his own token
    auto steal = post(s.port(), "/api/submit",
                      {{"agent", alice["data"]["agent_id"]},
                       {"data", {{"token", bob["data"]["token"]}, {"submission", {{"sentiment", "neg"}}}}}});
    CHECK(steal.status == 403);
    CHECK(steal.parsed()["data"]["reason"] == "not_your_unit");
    auto unknown = post(s.port(), "/api/submit",
                        {{"agent", 99999}, {"data", {{"token", bob["data"]["token"]}, {"submission", json::object()}}}});
    CHECK(unknown.status == 404);
    CHECK(s.completed() == 0);
    // alice can still submit her own unit
    auto mine = post(s.port(), "/api/submit",
                     {{"agent", alice["data"]["agent_id"]},
                      {"data", {{"token", alice["data"]["token"]}, {"submission", {{"sentiment", "neg"}}}}}});
    CHECK(mine.status == 200);
    CHECK(s.completed() == 1);
}

TEST_CASE("http: malformed JSON, deep JSON, non-objects and oversized bodies", "[architect][http][errors]") {
    served s;
    auto broken = request(s.port(), "POST", "/api/register", "{\"data\": {");
    CHECK(broken.status == 400);
    CHECK(broken.parsed()["data"]["reason"] == "invalid_json");
    auto deep = request(s.port(), "POST", "/api/packet", std::string(200, '[') + std::string(200, ']'));
    CHECK(deep.status == 400);
    CHECK(deep.parsed()["data"]["reason"] == "too_deep");
    auto list = request(s.port(), "POST", "/api/packet", "[1,2]");
    CHECK(list.status == 400);
    CHECK(list.parsed()["data"]["reason"] == "not_an_object");
    auto unknown = post(s.port(), "/api/packet", {{"type", "format_disk"}});
    CHECK(unknown.status == 400);
    auto big = request(s.port(), "POST", "/api/register", std::string(10000, ' '));
    CHECK(big.status == 413);
    CHECK(s.agents() == 0);
    // the server still serves
    CHECK(register_as(s, "alice")["type"] == "agent_details");
}

TEST_CASE("http: path traversal reaches nothing but the embedded pages", "[architect][http][errors]") {
    served s;
    CHECK(request(s.port(), "GET", "/").status == 200);
    CHECK(request(s.port(), "GET", "/review").status == 200);
    for (auto target : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/../worker.html", "/worker.html/..",
                        "//etc/passwd", "/..%2fworker.html"}) {
        INFO(target);
        auto r = request(s.port(), "GET", target);
        CHECK(r.status == 404);
        CHECK(r.body.find("root:") == std::string::npos);
    }
}

TEST_CASE("http: review endpoints need the requester token", "[architect][http][errors]") {
    served s;
    auto alice = register_as(s, "alice");
    REQUIRE(post(s.port(), "/api/submit",
                 {{"agent", alice["data"]["agent_id"]},
                  {"data", {{"token", alice["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}})
                .status == 200);
    auto const bearer = std::string("Bearer ") + requester_token;
    for (auto target : {"/api/review/units", "/api/review/dashboard", "/api/review/quality", "/api/export?format=jsonl"}) {
        INFO(target);
        CHECK(request(s.port(), "GET", target).status == 401);
        CHECK(request(s.port(), "GET", target, {}, "Bearer nope").status == 403);
        CHECK(request(s.port(), "GET", target, {}, bearer).status == 200);
    }
    json decide{{"agent_id", alice["data"]["agent_id"]}, {"action", "reject"}};
    CHECK(post(s.port(), "/api/review/decide", decide).status == 401);
    CHECK(post(s.port(), "/api/review/decide", decide, "Bearer " + std::string(32, '0')).status == 403);
    CHECK(s.completed() == 1);  // still completed: nothing was decided
    auto units = request(s.port(), "GET", "/api/review/units", {}, bearer).parsed()["units"];
    REQUIRE(units.size() == 1);
    CHECK(units[0]["key"] == "en");
    CHECK(units[0]["outputs"]["sentiment"] == "pos");
    auto approved = post(s.port(), "/api/review/decide", {{"agent_id", alice["data"]["agent_id"]}, {"action", "approve"}},
                         bearer);
    CHECK(approved.status == 200);
    CHECK(approved.parsed()["status"] == "accepted");
    auto twice = post(s.port(), "/api/review/decide", {{"agent_id", alice["data"]["agent_id"]}, {"action", "reject"}}, bearer);
    CHECK(twice.status == 409);
    CHECK(request(s.port(), "GET", "/api/review/decide", {}, bearer).status == 405);  // served, but by POST
    auto bad_action = post(s.port(), "/api/review/decide", {{"agent_id", alice["data"]["agent_id"]}, {"action", "x"}}, bearer);
    CHECK(bad_action.status == 400);
    auto exported = request(s.port(), "GET", "/api/export?format=jsonl", {}, bearer);
    CHECK(exported.body.find("\"sentiment\":\"pos\"") != std::string::npos);
}

TEST_CASE("http: the review API revokes and renews invite links; bad requests change nothing",
          "[architect][http][errors]") {
    served s;
    auto const bearer = std::string("Bearer ") + requester_token;
    auto const old_token = s.invite("alice");
    // Refused requests: no token, a wrong one, an unknown worker, a bad action — no link changes.
    CHECK(post(s.port(), "/api/review/link", {{"worker", "alice"}, {"action", "revoke"}}).status == 401);
    CHECK(post(s.port(), "/api/review/link", {{"worker", "alice"}, {"action", "revoke"}}, "Bearer " + std::string(32, '1'))
              .status == 403);
    CHECK(post(s.port(), "/api/review/link", {{"worker", "mallory"}, {"action", "revoke"}}, bearer).status == 404);
    auto bad = post(s.port(), "/api/review/link", {{"worker", "alice"}, {"action", "delete"}}, bearer);
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Catch::Matchers::Contains("revoke or renew"));
    CHECK(post(s.port(), "/api/review/link", {{"action", "revoke"}}, bearer).status == 400);
    CHECK_FALSE(s.crowd.is_revoked("alice"));
    CHECK(s.invite("alice") == old_token);
    CHECK(s.links_changed == 0);

    // Revoke: the link is refused from now on.
    auto revoked = post(s.port(), "/api/review/link", {{"worker", "alice"}, {"action", "revoke"}}, bearer);
    REQUIRE(revoked.status == 200);
    CHECK(revoked.parsed()["revoked"] == true);
    CHECK(s.links_changed == 1);
    auto refused = post(s.port(), "/api/register", {{"data", {{"invite", old_token}}}});
    CHECK(refused.status == 403);
    CHECK(refused.parsed()["data"]["reason"] == "revoked");

    // Renew: a new token that works; the old one stays refused.
    auto renewed = post(s.port(), "/api/review/link", {{"worker", "alice"}, {"action", "renew"}}, bearer);
    REQUIRE(renewed.status == 200);
    auto const fresh = renewed.parsed()["invite"].get<std::string>();
    CHECK(fresh != old_token);
    CHECK(fresh == s.invite("alice"));
    CHECK(s.links_changed == 2);
    auto served_again = post(s.port(), "/api/register", {{"data", {{"invite", fresh}}}});
    CHECK(served_again.status == 200);
    CHECK(served_again.parsed()["type"] == "agent_details");
    CHECK(post(s.port(), "/api/register", {{"data", {{"invite", old_token}}}}).status == 403);
}

TEST_CASE("http: a slow client is cut off after the idle timeout; others are served meanwhile",
          "[architect][http][errors]") {
    served s;
    asio::io_context io;
    tcp::socket slow(io);
    slow.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
    asio::write(slow, asio::buffer(std::string("POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Le")));
    CHECK(register_as(s, "alice")["type"] == "agent_details");  // served while the slow one dawdles
    auto started = std::chrono::steady_clock::now();
    char byte;
    beast::error_code ec;
    slow.read_some(asio::buffer(&byte, 1), ec);  // blocks until the server gives up on it
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(ec);  // closed, not answered
    CHECK(waited < std::chrono::seconds(5));
    // The client can see its socket closed a moment before the server's handler counts the timeout.
    bool counted = false;
    for (int i = 0; i < 40 && !counted; ++i) {
        counted = request(s.port(), "GET", "/metrics").body.find("crowdline_http_timeouts_total 1") != std::string::npos;
        if (!counted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(counted);
}

TEST_CASE("http: connections past the limit get 503, but /healthz is still answered", "[architect][http][errors]") {
    served s;
    asio::io_context io;
    std::vector<tcp::socket> held;
    for (int i = 0; i < 8; ++i) {
        held.emplace_back(io);
        held.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto refused = request(s.port(), "GET", "/");
    CHECK(refused.status == 503);
    CHECK(refused.parsed()["error"]["reason"] == "too_many_connections");
    CHECK(request(s.port(), "GET", "/healthz").status == 200);  // a full server still says it is alive
    held.clear();
    // The server frees the slots once it has seen the closes; give a loaded machine a few seconds.
    unsigned status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        status = request(s.port(), "GET", "/healthz").status;
    }
    CHECK(status == 200);
}

TEST_CASE("http: metrics in Prometheus text", "[architect][http]") {
    served s;
    (void)register_as(s, "alice");
    auto m = request(s.port(), "GET", "/metrics");
    CHECK(m.status == 200);
    for (auto name : {"crowdline_units{status=\"assigned\"} 1", "crowdline_workers_active 1", "crowdline_steals_total 0",
                      "crowdline_request_duration_seconds_bucket{le=\"+Inf\"}", "crowdline_http_connections_open"}) {
        INFO(name);
        CHECK(m.body.find(name) != std::string::npos);
    }
}

namespace {

/// A WebSocket page.
struct ws_page {
    asio::io_context io;
    beast::websocket::stream<tcp::socket> ws{io};
    int next_id = 1;

    explicit ws_page(std::uint16_t port) {
        ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        ws.handshake("127.0.0.1", "/ws");
    }
    json ask(std::string type, json data, std::optional<std::int64_t> agent = std::nullopt) {
        json msg{{"id", next_id++}, {"type", std::move(type)}, {"data", std::move(data)}};
        if (agent) msg["agent"] = *agent;
        ws.write(asio::buffer(msg.dump()));
        beast::flat_buffer buffer;
        ws.read(buffer);
        return json::parse(beast::buffers_to_string(buffer.data()));
    }
    void drop() {
        beast::error_code ec;
        ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
        ws.next_layer().close(ec);
    }
};

}  // namespace

TEST_CASE("http: WebSocket requests carry their id; a reload within the grace period keeps the unit",
          "[architect][http][websocket]") {
    served s{5};
    std::int64_t agent;
    std::string token;
    {
        ws_page page(s.port());
        auto r = page.ask("register", {{"invite", s.invite("alice")}});
        REQUIRE(r["type"] == "agent_details");
        CHECK(r["id"] == 1);
        agent = r["data"]["agent_id"];
        token = r["data"]["token"];
        page.drop();  // the page reloads
    }
    ws_page again(s.port());
    auto r = again.ask("init", {{"token", token}}, agent);
    REQUIRE(r["type"] == "agent_details");
    CHECK(r["data"]["agent_id"] == agent);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the grace period: still held
    auto ok = again.ask("submit", {{"token", token}, {"submission", {{"sentiment", "pos"}}}}, agent);
    CHECK(ok["type"] == "submitted");
    CHECK(s.completed() == 1);
}

TEST_CASE("http: a closed page's unit goes back after the grace period and another reader takes it",
          "[architect][http][websocket]") {
    served s{5};
    std::int64_t agent;
    {
        ws_page page(s.port());
        auto r = page.ask("register", {{"invite", s.invite("bob")}});
        REQUIRE(r["type"] == "agent_details");
        REQUIRE(r["data"]["init_data"]["unit_data"]["lang"] == "fr");
        agent = r["data"]["agent_id"];
        page.drop();
    }
    // Not before the grace period (1 s), and soon after it.
    auto status_now = [&] {
        return s.run->locked([&](auto& db, auto&, auto const&) { return db.get_agent(agent_id{agent}).status; });
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    CHECK(status_now() == agent_status::in_task);
    auto status = status_now();
    for (int i = 0; i < 100 && status != agent_status::disconnect; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        status = status_now();
    }
    CHECK(status == agent_status::disconnect);
    // carol reads fr and en; both fr texts are open again to her
    ws_page carol(s.port());
    auto r = carol.ask("register", {{"invite", s.invite("carol")}});
    REQUIRE(r["type"] == "agent_details");
}

namespace {

/// A worker-side request about an agent's unit, as the page sends it.
reply ask_about(served& s, std::string const& type, std::int64_t agent, std::string const& token, json extra = json::object()) {
    extra["token"] = token;
    return post(s.port(), "/api/" + type, {{"agent", agent}, {"data", std::move(extra)}});
}

/// 403, reason "revoked", and a message that names neither the invite token nor the agent's.
void require_revoked(reply const& r, std::string const& invite, std::string const& token) {
    INFO(r.body);
    CHECK(r.status == 403);
    auto const j = r.parsed();
    CHECK(j["type"] == "error");
    CHECK(j["data"]["reason"] == "revoked");
    CHECK_THAT(j["data"]["message"].get<std::string>(), Catch::Contains("revoked or replaced"));
    CHECK(r.body.find(invite) == std::string::npos);
    CHECK(r.body.find(token) == std::string::npos);
}

/// carol (en and fr) registers and submits until she is served `unit`; true when she is.
bool carol_gets(served& s, std::int64_t unit) {
    for (int i = 0; i < 4; ++i) {
        auto r = register_as(s, "carol");
        if (r["type"] != "agent_details") return false;
        bool const it = r["data"]["unit_id"] == unit;
        auto done = post(s.port(), "/api/submit",
                         {{"agent", r["data"]["agent_id"]},
                          {"data", {{"token", r["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}});
        if (done.status != 200) return false;
        if (it) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("http: a revoked link's held unit is refused with 403 revoked, not recorded, and goes to another worker",
          "[architect][http][errors][revoke]") {
    served s;
    auto const invite = s.invite("alice");
    auto alice = register_as(s, "alice");
    REQUIRE(alice["type"] == "agent_details");
    auto const agent = alice["data"]["agent_id"].get<std::int64_t>();
    auto const token = alice["data"]["token"].get<std::string>();
    auto const unit = alice["data"]["unit_id"].get<std::int64_t>();
    s.crowd.revoke_link("alice");

    SECTION("the first request after the revoke finds it: refused, and the unit goes back") {
        auto submit = ask_about(s, "submit", agent, token, {{"submission", {{"sentiment", "pos"}}}});
        require_revoked(submit, invite, token);
        CHECK(s.completed() == 0);
        CHECK(s.unit_row(unit).status == unit_status::launched);  // back in the pool, nobody's
        CHECK_FALSE(s.unit_row(unit).agent);
        CHECK(s.agent_row(agent).status == agent_status::expired);
        auto const state = s.agent_row(agent).state;  // nothing of the refused submission was saved
        CHECK((!state.is_object() || !state.contains("outputs") || state["outputs"].is_null()));
    }
    SECTION("a tick finds it first: the unit goes back, and every later request is refused, changing nothing") {
        s.run->tick();
        CHECK(s.unit_row(unit).status == unit_status::launched);
        CHECK(s.agent_row(agent).status == agent_status::expired);
        auto const before = s.store_snapshot();
        require_revoked(ask_about(s, "submit", agent, token, {{"submission", {{"sentiment", "pos"}}}}), invite, token);
        require_revoked(ask_about(s, "heartbeat", agent, token), invite, token);
        require_revoked(ask_about(s, "init", agent, token), invite, token);
        require_revoked(ask_about(s, "release", agent, token), invite, token);
        require_revoked(ask_about(s, "live_update", agent, token, {{"update", 1}}), invite, token);
        CHECK(s.store_snapshot() == before);
        // the agent's token is what identifies the holder: a wrong one is told nothing about the revoke
        auto wrong = ask_about(s, "submit", agent, std::string(32, '0'), {{"submission", {{"sentiment", "pos"}}}});
        CHECK(wrong.status == 404);
        CHECK(wrong.parsed()["data"]["reason"] == "unknown_agent");
    }
    // The link cannot fetch more work either, and the unit it held is served to another reader.
    auto again = post(s.port(), "/api/register", {{"data", {{"invite", invite}}}});
    CHECK(again.status == 403);
    CHECK(again.parsed()["data"]["reason"] == "revoked");
    CHECK(carol_gets(s, unit));
    CHECK(s.unit_row(unit).status == unit_status::completed);
    CHECK(s.unit_row(unit).worker != s.agent_row(agent).worker);
}

TEST_CASE("http: a renewed link works with its new token; what the replaced one held is refused",
          "[architect][http][errors][revoke]") {
    served s;
    auto const old_invite = s.invite("alice");
    auto first = register_as(s, "alice");
    REQUIRE(first["type"] == "agent_details");
    auto const agent = first["data"]["agent_id"].get<std::int64_t>();
    auto const token = first["data"]["token"].get<std::string>();
    auto const fresh = s.crowd.renew_link("alice");

    // The new link is served at once (the unit of the replaced one does not count against
    // allowed_concurrent = 1: it went back when the new link registered).
    auto renewed = post(s.port(), "/api/register", {{"data", {{"invite", fresh}}}});
    REQUIRE(renewed.status == 200);
    auto const r = renewed.parsed();
    REQUIRE(r["type"] == "agent_details");
    CHECK(r["data"]["worker_name"] == "alice");
    CHECK(r["data"]["agent_id"] != agent);
    CHECK(s.agent_row(agent).status == agent_status::expired);

    require_revoked(ask_about(s, "submit", agent, token, {{"submission", {{"sentiment", "neg"}}}}), old_invite, token);
    auto old = post(s.port(), "/api/register", {{"data", {{"invite", old_invite}}}});
    CHECK(old.status == 403);
    CHECK(old.parsed()["data"]["reason"] == "revoked");
    CHECK(s.completed() == 0);

    auto ok = ask_about(s, "submit", r["data"]["agent_id"].get<std::int64_t>(), r["data"]["token"].get<std::string>(),
                        {{"submission", {{"sentiment", "pos"}}}});
    CHECK(ok.status == 200);
    CHECK(ok.parsed()["type"] == "submitted");
    CHECK(s.completed() == 1);
}

TEST_CASE("http: a second decision on a decided unit is refused with 409, nothing changed", "[architect][http][review]") {
    served s;
    auto alice = register_as(s, "alice");
    REQUIRE(post(s.port(), "/api/submit",
                 {{"agent", alice["data"]["agent_id"]},
                  {"data", {{"token", alice["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}})
                .status == 200);
    auto const bearer = std::string("Bearer ") + requester_token;
    auto const agent = alice["data"]["agent_id"];
    REQUIRE(post(s.port(), "/api/review/decide", {{"agent_id", agent}, {"action", "soft_reject"}}, bearer).status == 200);
    auto const before = s.store_snapshot();
    for (auto action : {"approve", "reject", "soft_reject"}) {
        INFO(action);
        auto again = post(s.port(), "/api/review/decide",
                          {{"agent_id", agent}, {"action", action}, {"bonus", 1.0}, {"block", true}}, bearer);
        CHECK(again.status == 409);
        CHECK(again.parsed()["error"]["reason"] == "conflict");
        CHECK_THAT(again.parsed()["error"]["message"].get<std::string>(),
                   Catch::Contains("it is soft_rejected, not completed"));
    }
    CHECK(s.store_snapshot() == before);
    CHECK(s.crowd.approved().empty());
    CHECK(s.crowd.rejected().empty());
    CHECK(s.crowd.soft_rejected().size() == 1);
    CHECK(s.crowd.blocked().empty());
    // The units list says which are decided: the review page shows buttons only on `completed` ones.
    auto units = request(s.port(), "GET", "/api/review/units?status=all", {}, bearer).parsed()["units"];
    REQUIRE(units.size() == 1);
    CHECK(units[0]["status"] == "soft_rejected");
}

namespace {

/// The first thing in `html` that `script-src 'self'; style-src 'self'` blocks — an inline <script> or a
/// <style> block, a style="…" or on…="…" attribute — or "" when there is none.
std::string blocked_by_csp(std::string html) {
    auto const lower = [](unsigned char c) { return static_cast<char>(std::tolower(c)); };
    auto const space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    for (auto& c : html) c = lower(static_cast<unsigned char>(c));
    for (auto at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
        auto const end = html.find('>', at);
        if (end == std::string::npos) break;
        std::string_view const tag(html.data() + at, end - at + 1);
        if (tag.starts_with("<style")) return "a <style> block";
        if (tag.starts_with("<script") && tag.find(" src=") == std::string_view::npos) return "an inline <script>";
        for (std::size_t i = 0; i < tag.size(); ++i) {  // attributes: blank, letters, blanks, '='
            if (!space(tag[i])) continue;
            std::size_t k = i + 1;
            while (k < tag.size() && std::isalpha(static_cast<unsigned char>(tag[k]))) ++k;
            auto const name = tag.substr(i + 1, k - i - 1);
            while (k < tag.size() && space(tag[k])) ++k;
            if (k < tag.size() && tag[k] == '=' && (name == "style" || (name.size() > 2 && name.starts_with("on"))))
                return "a " + std::string(name) + "= attribute";
        }
    }
    return {};
}

}  // namespace

TEST_CASE("http: every page, asset and reply carries the Content-Security-Policy and the other security headers",
          "[architect][http][csp]") {
    // the check below can fail
    CHECK(blocked_by_csp("<p class=\"a\"><b STYLE = \"color:red\">x</b></p>") == "a style= attribute");
    CHECK(blocked_by_csp("<button onclick=\"go()\">") == "a onclick= attribute");
    CHECK(blocked_by_csp("<SCRIPT>alert(1)</SCRIPT>") == "an inline <script>");
    CHECK(blocked_by_csp("<style>p{}</style>") == "a <style> block");
    CHECK(blocked_by_csp("<script src=\"/a.js\"></script><p data-one=\"1\" id=x>").empty());

    served s;
    auto const port = std::to_string(s.port());
    auto const host = "127.0.0.1:" + port;
    auto check_headers = [&](reply const& r) {
        auto csp = r.header("Content-Security-Policy");
        REQUIRE(csp);
        for (auto directive : {"default-src 'self'", "script-src 'self';", "style-src 'self';",
                               "img-src 'self' data:", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"}) {
            INFO(directive);
            CHECK_THAT(*csp, Catch::Contains(directive));
        }
        CHECK_THAT(*csp, !Catch::Contains("unsafe"));  // neither 'unsafe-inline' nor 'unsafe-eval'
        CHECK(r.header("Referrer-Policy") == "no-referrer");
        CHECK(r.header("X-Frame-Options") == "DENY");
        CHECK(r.header("X-Content-Type-Options") == "nosniff");
        return *csp;
    };
    std::vector<std::pair<std::string, std::string>> const served_files{
        {"/", "text/html"},           {"/worker.html", "text/html"},      {"/review", "text/html"},
        {"/review.html", "text/html"}, {"/worker.js", "text/javascript"}, {"/review.js", "text/javascript"},
        {"/worker.css", "text/css"},   {"/review.css", "text/css"}};
    for (auto const& [target, type] : served_files) {
        INFO(target);
        auto r = test::http_request(s.port(), "GET", target, {}, {}, host);
        REQUIRE(r.status == 200);
        CHECK_THAT(r.header("Content-Type").value_or(""), Catch::StartsWith(type));
        auto csp = check_headers(r);
        // the page's WebSocket goes to the host it was loaded from
        CHECK_THAT(csp, Catch::Contains("connect-src 'self' ws://" + host + " wss://" + host + ";"));
        if (type == "text/html") {
            // Nothing the policy would block: no inline script or style, no style or event-handler attribute.
            CHECK(blocked_by_csp(r.body).empty());
        }
        if (type == "text/javascript") {
            CHECK(r.body.find("eval(") == std::string::npos);
            CHECK(r.body.find("new Function") == std::string::npos);
        }
    }
    // The scripts and styles the pages load are all served.
    for (auto const& [page, assets] : {std::pair{"/", std::vector<std::string>{"/worker.js", "/worker.css"}},
                                       std::pair{"/review", std::vector<std::string>{"/review.js", "/review.css"}}}) {
        auto body = request(s.port(), "GET", page).body;
        for (auto const& a : assets) {
            INFO(page << " loads " << a);
            CHECK(body.find("\"" + a + "\"") != std::string::npos);
        }
    }
    // The form a unit's page shows has no inline style either.
    auto alice = register_as(s, "alice");
    REQUIRE(alice["type"] == "agent_details");
    auto const page = alice["data"]["page"].get<std::string>();
    CHECK(page.find("crowdline-text") != std::string::npos);
    CHECK(blocked_by_csp(page).empty());
    // Refusals, API replies and unknown paths carry the headers too.
    check_headers(request(s.port(), "GET", "/no-such-page"));
    check_headers(request(s.port(), "GET", "/api/review/units"));
    check_headers(post(s.port(), "/api/register", {{"data", {{"invite", s.invite("bob")}}}}));
    // A Host header cannot add directives: anything but a plain host leaves only 'self'.
    auto hostile = test::http_request(s.port(), "GET", "/", {}, {}, "x; script-src *");
    REQUIRE(hostile.status == 200);
    auto const csp = check_headers(hostile);
    CHECK_THAT(csp, Catch::Contains("connect-src 'self';"));
    CHECK_THAT(csp, !Catch::Contains("script-src *"));
}

}  // namespace tu_http_server
