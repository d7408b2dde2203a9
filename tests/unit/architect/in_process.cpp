// architects::in_process: Mephisto's ArchitectTests lifecycle (prepare → deploy → up → shutdown → down),
// request/reply through the installed handler, server pushes into an agent's inbox, disconnects.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <crowdline/architect/in_process.hpp>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_in_process {

using namespace crowdline;
using architects::in_process;

namespace {
packet ping(std::optional<agent_id> agent = std::nullopt) { return packet{"ping", agent, {{"n", 1}}}; }
}  // namespace

TEST_CASE("in_process lifecycle: prepare, deploy (up), shutdown (down)", "[architect]") {
    in_process a{{.name = "lifecycle"}};
    CHECK_FALSE(a.is_prepared());
    CHECK_FALSE(a.is_up());
    CHECK_FALSE(a.channel().is_alive());

    a.prepare();
    CHECK(a.is_prepared());
    CHECK_FALSE(a.is_up());  // prepared is not serving yet

    CHECK(a.deploy() == "inproc://lifecycle");
    CHECK(a.is_up());
    CHECK(a.channel().is_alive());
    crowdline::handler_of handler{[](packet const& p) { return packet{"pong", p.agent, p.data}; }};
    a.channel().on_message(handler);
    CHECK(a.request(ping()).type == "pong");

    a.shutdown();
    CHECK_FALSE(a.is_up());
    CHECK_FALSE(a.channel().is_alive());
    CHECK_FALSE(a.is_prepared());
    auto after = a.request(ping());
    CHECK(after.is_error());
    CHECK(after.data["reason"] == "unavailable");
    CHECK_THAT(after.data["message"].get<std::string>(), Catch::Contains("shut down"));
    CHECK_FALSE(a.channel().send(agent_id{1}, ping()));
}

TEST_CASE("in_process refuses deploy before prepare, and anything after shutdown", "[architect][errors]") {
    in_process a;
    CHECK_THROWS_AS(a.deploy(), crowdline::error);
    CHECK_THROWS_WITH(a.deploy(), Catch::Contains("deploy() before prepare()"));
    CHECK_FALSE(a.is_up());  // the refusal changed nothing
    a.prepare();
    a.prepare();  // idempotent
    CHECK(a.deploy() == "inproc://crowdline");
    a.shutdown();
    CHECK_THROWS_WITH(a.prepare(), Catch::Contains("after shutdown"));
    CHECK_THROWS_WITH(a.deploy(), Catch::Contains("after shutdown"));
    CHECK_FALSE(a.is_up());
}

TEST_CASE("in_process args are validated, naming the key", "[architect][errors]") {
    CHECK_THROWS_WITH(in_process({.name = ""}), Catch::Contains("name"));
    CHECK_THROWS_AS(in_process({.name = "x", .max_body_bytes = 0}), config_error);
    CHECK_THROWS_WITH(in_process({.name = "x", .max_json_depth = 0}), Catch::Contains("max_json_depth"));
}

TEST_CASE("in_process before deploy answers requests with an error, and sends fail", "[architect]") {
    in_process a;
    crowdline::handler_of handler2{[](packet const& p) { return p; }};
    a.channel().on_message(handler2);
    auto reply = a.request(ping());
    CHECK(reply.is_error());
    CHECK(reply.data["reason"] == "unavailable");
    CHECK_FALSE(a.channel().send(agent_id{1}, ping()));
}

TEST_CASE("in_process requests reach the handler and return its reply", "[architect]") {
    in_process a;
    a.prepare();
    (void)a.deploy();

    SECTION("no handler yet: an error reply, not an exception") {
        auto r = a.request(ping());
        CHECK(r.is_error());
        CHECK(r.data["reason"] == "no_handler");
    }
    SECTION("the handler sees the packet as sent and its reply comes back") {
        std::vector<packet> seen;
        crowdline::handler_of handler3{[&](packet const& p) {
            seen.push_back(p);
            return packet{"sum", p.agent, {{"sum", p.data["a"].get<int>() + p.data["b"].get<int>()}}};
        }};
        a.channel().on_message(handler3);
        auto r = a.request(packet{"add", agent_id{7}, {{"a", 2}, {"b", 40}}});
        CHECK(r == packet{"sum", agent_id{7}, {{"sum", 42}}});
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].type == "add");
        CHECK(seen[0].agent == agent_id{7});
    }
    SECTION("a replaced handler serves the next request") {
        crowdline::handler_of handler4{[](packet const&) { return packet{"first"}; }};
        a.channel().on_message(handler4);
        crowdline::handler_of handler5{[](packet const&) { return packet{"second"}; }};
        a.channel().on_message(handler5);
        CHECK(a.request(ping()).type == "second");
    }
    SECTION("request_text parses a good packet and serves it") {
        crowdline::handler_of handler6{[](packet const& p) { return packet{"echo", p.agent, p.data}; }};
        a.channel().on_message(handler6);
        auto r = a.request_text(R"({"type":"hello","agent":5,"data":{"text":"bonjour"}})");
        CHECK(r == packet{"echo", agent_id{5}, {{"text", "bonjour"}}});
        auto no_data = a.request_text(R"({"type":"hello"})");
        CHECK(no_data.type == "echo");
        CHECK_FALSE(no_data.agent);
        CHECK(no_data.data == nlohmann::json::object());
    }
    SECTION("a handler that throws gives an error reply whose reason fits the exception") {
        crowdline::handler_of handler7{[](packet const& p) -> packet {
            if (p.type == "bad") throw invalid_argument("field \"label\" is missing");
            if (p.type == "missing") throw entry_does_not_exist("unit 9: does not exist");
            if (p.type == "late") throw invalid_transition("unit 9: cannot be claimed: it is assigned, not launched");
            throw std::runtime_error("disk full");
        }};
        a.channel().on_message(handler7);
        auto bad = a.request(packet{"bad"});
        CHECK(bad.data["reason"] == "bad_request");
        CHECK_THAT(bad.data["message"].get<std::string>(), Catch::Contains("label"));
        CHECK(a.request(packet{"missing"}).data["reason"] == "not_found");
        CHECK(a.request(packet{"late"}).data["reason"] == "conflict");
        CHECK(a.request(packet{"other"}).data["reason"] == "internal_error");
    }
}

TEST_CASE("in_process pushes land in the agent's inbox, in order, drained on read", "[architect]") {
    in_process a;
    a.prepare();
    (void)a.deploy();
    agent_id const alice{1}, bob{2};
    CHECK(a.channel().send(alice, packet{"first", alice}));
    CHECK(a.channel().send(bob, packet{"for bob", bob}));
    CHECK(a.channel().send(alice, packet{"second", alice}));

    auto inbox = a.inbox(alice);
    REQUIRE(inbox.size() == 2);
    CHECK(inbox[0].type == "first");
    CHECK(inbox[1].type == "second");
    CHECK(a.inbox(alice).empty());  // drained
    REQUIRE(a.inbox(bob).size() == 1);
    CHECK(a.inbox(agent_id{99}).empty());

    SECTION("a handler may push while serving a request (no deadlock: handlers run unlocked)") {
        crowdline::handler_of handler8{[&](packet const& p) {
            a.channel().send(*p.agent, packet{"pushed during request", p.agent});
            return packet{"ok", p.agent};
        }};
        a.channel().on_message(handler8);
        CHECK(a.request(packet{"go", alice}).type == "ok");
        auto pushed = a.inbox(alice);
        REQUIRE(pushed.size() == 1);
        CHECK(pushed[0].type == "pushed during request");
    }
}

TEST_CASE("in_process disconnect: the handler hears it, pushes stop until the agent returns", "[architect]") {
    in_process a;
    a.prepare();
    (void)a.deploy();
    std::vector<agent_id> gone;
    crowdline::handler_of handler{[](packet const& p) { return packet{"ok", p.agent}; },
                                  [&](agent_id who) { gone.push_back(who); }};
    a.channel().on_message(handler);
    agent_id const alice{1};

    CHECK(a.channel().send(alice, packet{"unread"}));
    a.disconnect(alice);
    REQUIRE(gone == std::vector<agent_id>{alice});
    CHECK(a.inbox(alice).empty());  // unread pushes are dropped with the page
    CHECK_FALSE(a.channel().send(alice, packet{"lost"}));
    CHECK(a.channel().send(agent_id{2}, packet{"others unaffected"}));

    CHECK(a.request(packet{"reconnect", alice}).type == "ok");
    CHECK(a.channel().send(alice, packet{"welcome back"}));
    CHECK(a.inbox(alice).size() == 1);

    SECTION("without a disconnect handler, disconnect still stops pushes") {
        in_process b;
        b.prepare();
        (void)b.deploy();
        b.disconnect(alice);
        CHECK_FALSE(b.channel().send(alice, packet{"x"}));
    }
}

TEST_CASE("packets round-trip through JSON and the error helper has the documented shape", "[architect]") {
    packet p{"submit", agent_id{12}, {{"label", "cat"}}};
    nlohmann::json j = p;
    CHECK(j == nlohmann::json{{"type", "submit"}, {"agent", 12}, {"data", {{"label", "cat"}}}});
    CHECK(j.get<packet>() == p);
    CHECK(parse_packet(j.dump(), 1000, 8) == p);

    auto e = packet::error("no_units", "nothing left for you");
    CHECK(e.is_error());
    CHECK_FALSE(e.agent);
    CHECK(nlohmann::json(e) ==
          nlohmann::json{{"type", "error"}, {"agent", nullptr}, {"data", {{"reason", "no_units"}, {"message", "nothing left for you"}}}});
}

}  // namespace tu_in_process
