// Every byte from a worker is untrusted (ARCHITECTURE §9): parse_packet refuses each kind of bad input with
// an invalid_argument saying which, and request_text turns it into an error packet that never reaches the
// handler.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>

#include <crowdline/architect/in_process.hpp>

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_bad_input {

using namespace crowdline;

namespace {

/// A deployed architect with small limits whose handler counts the requests that reach it.
struct served {
    architects::in_process a{{.name = "bad-input", .max_body_bytes = 4096, .max_json_depth = 16}};
    std::atomic<int> handled{0};
    served() {
        a.prepare();
        (void)a.deploy();
        a.channel().on_message(*this);
    }
    packet handle(packet const& p) {
        ++handled;
        return packet{"ok", p.agent};
    }
    void disconnect(agent_id) {}
};

std::string nested(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

void require_refused(served& s, std::string_view text, std::string_view reason, std::string_view says) {
    auto reply = s.a.request_text(text);
    std::string wire;
    REQUIRE_NOTHROW(wire = nlohmann::json(reply).dump());  // the error reply itself is valid JSON text
    INFO("reply: " << wire);
    REQUIRE(reply.is_error());
    CHECK(reply.data["reason"] == reason);
    CHECK_THAT(reply.data["message"].get<std::string>(), Catch::Contains(std::string(says)));
    CHECK(s.handled == 0);  // bad input never reaches the server's handler
    CHECK(s.a.is_up());     // and does not take the server down
}

}  // namespace

TEST_CASE("request_text turns each kind of bad input into an error packet with a clear reason", "[architect][errors]") {
    served s;
    SECTION("oversized body") {
        std::string big = R"({"type":"x","data":")" + std::string(5000, 'a') + R"("})";
        require_refused(s, big, "too_large", "over the limit of 4096");
    }
    SECTION("invalid JSON") { require_refused(s, R"({"type": "x", )", "invalid_json", "invalid JSON"); }
    SECTION("not UTF-8") { require_refused(s, "{\"type\":\"\xff\xfe\"}", "invalid_json", "invalid JSON"); }
    SECTION("empty body") { require_refused(s, "", "invalid_json", "invalid JSON"); }
    SECTION("nested deeper than the limit") { require_refused(s, nested(17), "too_deep", "deeper than the limit of 16"); }
    SECTION("not an object") {
        require_refused(s, "[1,2,3]", "not_an_object", "got an array");
        require_refused(s, "\"type\"", "not_an_object", "got a string");
        require_refused(s, "null", "not_an_object", "got null");
    }
    SECTION("missing type") { require_refused(s, R"({"agent":1,"data":{}})", "missing_type", "missing \"type\""); }
    SECTION("type not a string") { require_refused(s, R"({"type":7})", "missing_type", "\"type\" must be a string, got an integer"); }
    SECTION("agent not an integer") {
        require_refused(s, R"({"type":"x","agent":"12"})", "bad_agent", "\"agent\" must be an integer agent id, got a string");
        require_refused(s, R"({"type":"x","agent":1.5})", "bad_agent", "got a number with a fraction");
        require_refused(s, R"({"type":"x","agent":18446744073709551615})", "bad_agent", "agent");
    }
}

TEST_CASE("deep nesting of 100,000 levels is refused without exhausting the stack", "[architect][errors]") {
    auto deep = nested(100'000);
    // Within the size limit of a default architect (1 MiB), so it is the depth check that refuses it.
    architects::in_process a;
    a.prepare();
    (void)a.deploy();
    crowdline::handler_of handler{[](packet const& p) { return p; }};
    a.channel().on_message(handler);
    auto reply = a.request_text(R"({"type":"x","data":)" + deep + "}");
    REQUIRE(reply.is_error());
    CHECK(reply.data["reason"] == "too_deep");
    CHECK_THAT(reply.data["message"].get<std::string>(), Catch::Contains("64 levels"));

    std::string objects;
    for (int i = 0; i < 100'000; ++i) objects += R"({"a":)";
    objects += "1" + std::string(100'000, '}');
    CHECK(a.request_text(objects).data["reason"] == "too_deep");
    CHECK_THROWS_AS(parse_packet(deep, deep.size(), 64), invalid_argument);
}

TEST_CASE("parse_packet: limits are exact and strings do not count as nesting", "[architect][errors]") {
    std::string const at_limit = R"({"type":"x","data":)" + nested(3) + "}";  // object + 3 arrays = depth 4
    CHECK(parse_packet(at_limit, 1000, 4).type == "x");
    CHECK_THROWS_WITH(parse_packet(at_limit, 1000, 3), Catch::Contains("deeper than the limit of 3"));
    CHECK_THROWS_WITH(parse_packet(at_limit, at_limit.size() - 1, 64), Catch::Contains("over the limit"));
    CHECK(parse_packet(at_limit, at_limit.size(), 64).type == "x");

    auto brackets_in_string = parse_packet(R"({"type":"[[[[{{{{\"]]]"})", 1000, 1);
    CHECK(brackets_in_string.type == R"([[[[{{{{"]]])");

    SECTION("every refusal is a crowdline::invalid_argument carrying its reason code") {
        try {
            (void)parse_packet(R"({"type":"x","agent":true})", 1000, 8);
            FAIL("accepted a boolean agent");
        } catch (bad_packet const& e) {
            CHECK(e.reason == "bad_agent");
            CHECK_THAT(e.what(), Catch::Contains("got a boolean"));
        }
        CHECK_THROWS_AS(parse_packet("{", 1000, 8), invalid_argument);
        CHECK_THROWS_AS(parse_packet("{}", 1000, 8), invalid_argument);
    }
    SECTION("a null agent means none; other keys are ignored") {
        auto p = parse_packet(R"({"type":"x","agent":null,"extra":[1],"data":[1,2]})", 1000, 8);
        CHECK_FALSE(p.agent);
        CHECK(p.data == nlohmann::json::array({1, 2}));
    }
}

TEST_CASE("a number out of range anywhere in a packet is refused as bad input, never an internal error",
          "[architect][errors]") {
    served s;
    for (std::string const text : {R"({"type":"submit","agent":5,"data":{"submission":{"n":1e400}}})",
                                   R"({"type":"register","data":{"n":-1e400}})", R"({"type":"x","agent":1e400})",
                                   R"({"type":"x","data":[1,2,1E+999]})", R"({"type":"x","extra":-1e309})"}) {
        INFO(text);
        require_refused(s, text, "invalid_json", "out of range");
    }
}

TEST_CASE("read_request: a request of the wrong shape is a bad request; the same error elsewhere stays internal",
          "[architect][errors]") {
    architects::in_process a;
    a.prepare();
    (void)a.deploy();
    crowdline::handler_of handler2{[](packet const& p) {
        if (p.type == "checked")  // reads the request through read_request: the sender's mistake
            return read_request("checked request", [&] {
                return packet{"ok", p.agent, {{"n", p.data.at("n").get<std::int64_t>()}}};
            });
        // an unchecked read: the handler's own bug, an internal error
        return packet{"ok", p.agent, {{"n", p.data.at("n").get<std::int64_t>()}}};
    }};
    a.channel().on_message(handler2);
    for (std::string const data : {R"({"n":"12"})", R"({"n":[1]})", R"({"m":1})", R"({"n":null})"}) {
        INFO(data);
        auto checked = a.request_text(R"({"type":"checked","data":)" + data + "}");
        REQUIRE(checked.is_error());
        CHECK(checked.data["reason"] == "bad_request");
        CHECK_THAT(checked.data["message"].get<std::string>(), Catch::StartsWith("checked request: a field"));
        auto unchecked = a.request_text(R"({"type":"unchecked","data":)" + data + "}");
        REQUIRE(unchecked.is_error());
        CHECK(unchecked.data["reason"] == "internal_error");
    }
    CHECK(a.request_text(R"({"type":"checked","data":{"n":7}})").data["n"] == 7);
}

}  // namespace tu_bad_input
