// protocol::dispatch alone, with a hand-written handler that records which overload got what: the table
// from packet type to request, the decoded fields, and the error packets (unknown_packet, bad_request,
// a bad_packet's own reason).
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/ops/protocol.hpp>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_protocol {

using namespace crowdline;
using namespace std::chrono_literals;

namespace protocol_test {

constexpr time_point t0 = time_point{} + 1000h;

/// One handle(...) call, as the handler saw it.
struct call {
    std::string request;  ///< which overload
    std::string type;     ///< agent_fields::type, when the request has it
    std::optional<agent_id> agent;
    std::string token;
    nlohmann::json const* payload = nullptr;  ///< registration / submission / answer / update (points into the packet)
    nlohmann::json const* data = nullptr;     ///< submit: the whole payload
    std::optional<std::string> key;
    std::optional<onboarding_agent_id> onboarding_agent;
    time_point now{};
};

/// Handles every request of the table: records the call, then throws `fail` when set, else answers
/// `{type: "handled_<request>"}`.
struct recorder {
    std::vector<call> calls;
    std::function<void()> fail;

    packet answer(call c) {
        calls.push_back(std::move(c));
        if (fail) fail();
        return packet{"handled_" + calls.back().request, calls.back().agent, nlohmann::json{{"n", calls.size()}}};
    }
    static call of(char const* name, protocol::agent_fields const& f, time_point now) {
        call c;
        c.request = name;
        c.type = std::string(f.type);
        c.agent = f.agent;
        c.token = f.token;
        c.now = now;
        return c;
    }

    packet handle(protocol::register_request const& r, time_point now) {
        call c;
        c.request = "register";
        c.payload = &r.registration;
        c.now = now;
        return answer(std::move(c));
    }
    packet handle(protocol::submit_request const& r, time_point now) {
        auto c = of("submit", r, now);
        c.payload = r.submission;
        c.data = &r.data;
        c.key = r.key;
        return answer(std::move(c));
    }
    packet handle(protocol::submit_onboarding_request const& r, time_point now) {
        call c;
        c.request = "submit_onboarding";
        c.onboarding_agent = r.onboarding_agent;
        c.token = r.token;
        c.payload = r.answer;
        c.now = now;
        return answer(std::move(c));
    }
    packet handle(protocol::init_request const& r, time_point now) { return answer(of("init", r, now)); }
    packet handle(protocol::heartbeat_request const& r, time_point now) { return answer(of("heartbeat", r, now)); }
    packet handle(protocol::release_request const& r, time_point now) { return answer(of("release", r, now)); }
    packet handle(protocol::live_update_request const& r, time_point now) {
        auto c = of("live_update", r, now);
        c.payload = r.update;
        return answer(std::move(c));
    }
};

/// Every overload but live_update's (declarations only: checked, never called).
struct lacks_live_update {
    packet handle(protocol::register_request const&, time_point);
    packet handle(protocol::submit_request const&, time_point);
    packet handle(protocol::submit_onboarding_request const&, time_point);
    packet handle(protocol::init_request const&, time_point);
    packet handle(protocol::heartbeat_request const&, time_point);
    packet handle(protocol::release_request const&, time_point);
};

/// Every overload, but heartbeat's answers JSON instead of a packet.
struct wrong_return {
    packet handle(protocol::register_request const&, time_point);
    packet handle(protocol::submit_request const&, time_point);
    packet handle(protocol::submit_onboarding_request const&, time_point);
    packet handle(protocol::init_request const&, time_point);
    nlohmann::json handle(protocol::heartbeat_request const&, time_point);
    packet handle(protocol::release_request const&, time_point);
    packet handle(protocol::live_update_request const&, time_point);
};

constexpr auto good_key = "0123456789abcdef-_XY";

}  // namespace protocol_test

using namespace protocol_test;

TEST_CASE("protocol: a handler of every request is a worker_request_handler, one missing an overload is not",
          "[protocol]") {
    STATIC_REQUIRE(protocol::worker_request_handler<recorder>);
    STATIC_REQUIRE_FALSE(protocol::worker_request_handler<lacks_live_update>);
    STATIC_REQUIRE_FALSE(protocol::handles<lacks_live_update, protocol::live_update_request>);
    STATIC_REQUIRE(protocol::handles<lacks_live_update, protocol::register_request>);
    STATIC_REQUIRE_FALSE(protocol::worker_request_handler<wrong_return>);
    STATIC_REQUIRE_FALSE(protocol::handles<wrong_return, protocol::heartbeat_request>);
    STATIC_REQUIRE(std::tuple_size_v<protocol::worker_requests> == 7);
}

TEST_CASE("protocol::dispatch routes each packet type to its overload with the decoded fields", "[protocol]") {
    recorder h;
    auto const now = t0 + 5s;

    SECTION("register: the registration is the packet's data") {
        packet const p{"register", std::nullopt, {{"worker_name", "alice"}, {"profile", {{"lang", "fr"}}}}};
        auto const reply = protocol::dispatch(h, p, now);
        CHECK(reply.type == "handled_register");
        REQUIRE(h.calls.size() == 1);
        CHECK(h.calls[0].request == "register");
        CHECK(h.calls[0].payload == &p.data);  // points into the packet, not a copy
        CHECK(h.calls[0].now == now);
    }
    SECTION("submit: agent, token, submission, key and the whole payload") {
        packet const p{"submit", agent_id{7},
                       {{"token", "t0k"}, {"submission", {{"label", "cat"}}}, {"key", good_key}, {"extra", 1}}};
        auto const reply = protocol::dispatch(h, p, now);
        CHECK(reply.type == "handled_submit");
        CHECK(reply.agent == agent_id{7});
        REQUIRE(h.calls.size() == 1);
        auto const& c = h.calls[0];
        CHECK(c.request == "submit");
        CHECK(c.type == "submit");
        CHECK(c.agent == agent_id{7});
        CHECK(c.token == "t0k");
        REQUIRE(c.payload != nullptr);
        CHECK(c.payload == &p.data["submission"]);
        CHECK(*c.payload == nlohmann::json{{"label", "cat"}});
        CHECK(c.data == &p.data);
        CHECK(c.key == std::optional<std::string>{good_key});
    }
    SECTION("submit without submission or key: both absent, still handled") {
        packet const p{"submit", agent_id{7}, {{"token", "t0k"}, {"key", nullptr}}};
        CHECK(protocol::dispatch(h, p, now).type == "handled_submit");
        REQUIRE(h.calls.size() == 1);
        CHECK(h.calls[0].payload == nullptr);
        CHECK_FALSE(h.calls[0].key);
    }
    SECTION("submit_onboarding: an integer id, the token and the answer") {
        packet const p{"submit_onboarding", std::nullopt, {{"onboarding_agent_id", 12}, {"token", "ob"}, {"answer", {1, 2}}}};
        CHECK(protocol::dispatch(h, p, now).type == "handled_submit_onboarding");
        REQUIRE(h.calls.size() == 1);
        CHECK(h.calls[0].onboarding_agent == onboarding_agent_id{12});
        CHECK(h.calls[0].token == "ob");
        CHECK(h.calls[0].payload == &p.data["answer"]);
    }
    SECTION("submit_onboarding: an id that is not an integer is absent") {
        packet const p{"submit_onboarding", std::nullopt, {{"onboarding_agent_id", "12"}, {"token", "ob"}}};
        CHECK(protocol::dispatch(h, p, now).type == "handled_submit_onboarding");
        REQUIRE(h.calls.size() == 1);
        CHECK_FALSE(h.calls[0].onboarding_agent);
        CHECK(h.calls[0].payload == nullptr);
    }
    SECTION("init, heartbeat, release: the agent and its token") {
        for (std::string type : {"init", "heartbeat", "release"}) {
            packet const p{type, agent_id{3}, {{"token", "abc"}}};
            CHECK(protocol::dispatch(h, p, now).type == "handled_" + type);
            REQUIRE_FALSE(h.calls.empty());
            CHECK(h.calls.back().request == type);
            CHECK(h.calls.back().type == type);
            CHECK(h.calls.back().agent == agent_id{3});
            CHECK(h.calls.back().token == "abc");
        }
        CHECK(h.calls.size() == 3);
    }
    SECTION("live_update: the update points into the packet") {
        packet const p{"live_update", agent_id{4}, {{"token", "abc"}, {"update", {{"q", "?"}}}}};
        CHECK(protocol::dispatch(h, p, now).type == "handled_live_update");
        REQUIRE(h.calls.size() == 1);
        CHECK(h.calls[0].payload == &p.data["update"]);
        CHECK(h.calls[0].agent == agent_id{4});
    }
    SECTION("a token that is not a string, or data that is not an object, decodes as no token") {
        packet const p{"heartbeat", agent_id{3}, {{"token", 42}}};
        CHECK(protocol::dispatch(h, p, now).type == "handled_heartbeat");
        packet const q{"release", agent_id{3}, nlohmann::json::array({1, 2})};
        CHECK(protocol::dispatch(h, q, now).type == "handled_release");
        REQUIRE(h.calls.size() == 2);
        CHECK(h.calls[0].token.empty());
        CHECK(h.calls[1].token.empty());
    }
}

TEST_CASE("protocol::dispatch: an unknown type is unknown_packet and reaches no handler", "[protocol]") {
    recorder h;
    for (std::string type : {"launch_missiles", "", "Submit", "register "}) {
        auto const reply = protocol::dispatch(h, packet{type, agent_id{1}, {{"token", "x"}}}, t0);
        CHECK(reply.is_error());
        CHECK(reply.data["reason"] == "unknown_packet");
        CHECK(reply.data["message"].get<std::string>().find('"' + type + '"') != std::string::npos);
    }
    CHECK(h.calls.empty());
}

TEST_CASE("protocol::dispatch: a missing agent reaches the handler as absent", "[protocol]") {
    recorder h;
    for (std::string type : {"submit", "init", "heartbeat", "release", "live_update"}) {
        auto const reply = protocol::dispatch(h, packet{type, std::nullopt, {{"token", "x"}}}, t0);
        CHECK_FALSE(reply.is_error());  // the protocol does not refuse it: the handler decides
        REQUIRE_FALSE(h.calls.empty());
        CHECK(h.calls.back().request == type);
        CHECK_FALSE(h.calls.back().agent);
        CHECK(h.calls.back().token == "x");
    }
}

TEST_CASE("protocol::dispatch: a malformed submission key is bad_request before the handler", "[protocol]") {
    recorder h;
    auto const bad = GENERATE(nlohmann::json("short"), nlohmann::json(12345678901234567),
                              nlohmann::json(std::string(129, 'a')), nlohmann::json("0123456789abcdef!"),
                              nlohmann::json("0123456789abcdef 0"), nlohmann::json::object(), nlohmann::json(true));
    packet const p{"submit", agent_id{7}, {{"token", "t0k"}, {"submission", {{"x", 1}}}, {"key", bad}}};
    auto const reply = protocol::dispatch(h, p, t0);
    CHECK(reply.is_error());
    CHECK(reply.data["reason"] == "bad_request");
    CHECK(reply.data["message"].get<std::string>().find("key") != std::string::npos);
    CHECK(h.calls.empty());
}

TEST_CASE("protocol::dispatch turns a handler's exceptions into error packets", "[protocol]") {
    recorder h;
    packet const p{"heartbeat", agent_id{2}, {{"token", "x"}}};

    SECTION("bad_packet: its own reason") {
        h.fail = [] { throw bad_packet("forbidden", "not for you"); };
        auto const reply = protocol::dispatch(h, p, t0);
        CHECK(reply.is_error());
        CHECK(reply.data["reason"] == "forbidden");
        CHECK(reply.data["message"] == "not for you");
        CHECK(h.calls.size() == 1);
    }
    SECTION("invalid_argument: bad_request") {
        h.fail = [] { throw invalid_argument("that is not a worker name"); };
        auto const reply = protocol::dispatch(h, p, t0);
        CHECK(reply.data["reason"] == "bad_request");
        CHECK(reply.data["message"] == "that is not a worker name");
    }
    SECTION("a JSON type error: bad_request") {
        h.fail = [] { (void)nlohmann::json("text").get<int>(); };
        auto const reply = protocol::dispatch(h, p, t0);
        CHECK(reply.data["reason"] == "bad_request");
    }
    SECTION("other exceptions pass through") {
        h.fail = [] { throw std::runtime_error("disk on fire"); };
        CHECK_THROWS_WITH(protocol::dispatch(h, p, t0), "disk on fire");
        h.fail = [] { throw db_error("locked"); };
        CHECK_THROWS_AS(protocol::dispatch(h, p, t0), db_error);
        h.fail = [] { throw config_error("no"); };
        CHECK_THROWS_AS(protocol::dispatch(h, p, t0), config_error);
    }
}

}  // namespace tu_protocol
