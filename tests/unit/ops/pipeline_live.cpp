// Live (multi-message) units through the channel: each call answered by the blueprint's handler and kept
// in order, saved with the submission; bad calls refused and not kept; min_turns holds a submission back;
// a worker who leaves mid-conversation keeps what was said in the agent's state; a blueprint without
// live handlers refuses live updates.
#include <catch2/catch.hpp>

#include <crowdline/blueprint/live.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_live {

using namespace crowdline;
using json = nlohmann::json;

namespace {
auto reply_handler() {
    return blueprints::handler{"reply", [](blueprints::live_call const& c) {
                                   return json{{"echo", c.args.value("text", "")}, {"turn", c.history.size()},
                                               {"about", c.unit_data.value("topic", "")}};
                               }};
}
blueprints::live<decltype(reply_handler().fn)> chat(std::size_t items) {
    std::vector<json> topics;
    for (std::size_t i = 0; i < items; ++i) topics.push_back({{"topic", "topic " + std::to_string(i)}});
    return blueprints::live{std::move(topics), blueprints::live_args{.title = "Chat", .max_turns = 3, .min_turns = 2},
                            reply_handler()};
}
json say(std::string text) { return {{"update", {{"handler", "reply"}, {"args", {{"text", std::move(text)}}}}}}; }
}  // namespace

TEMPLATE_TEST_CASE("a live unit: calls answered in order and saved with the submission", "[pipeline][live]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{chat(1), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    auto run = p.launch();
    test::page alice{arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");

    auto r1 = alice.send("live_update", say("hello"));
    REQUIRE(r1.type == "live_update");
    CHECK(r1.data["response"] == json{{"echo", "hello"}, {"turn", 0}, {"about", "topic 0"}});
    // Too early to finish (min_turns = 2): refused, nothing saved, the unit still hers.
    auto early = alice.submit({{"rating", 4}});
    CHECK(early.type == "submit_refused");
    CHECK(early.data["errors"][0]["message"].get<std::string>().find("at least 2 turns") != std::string::npos);
    // A bad call is an error and is not recorded.
    auto bad = alice.send("live_update", {{"update", {{"handler", "nope"}}}});
    CHECK(bad.is_error());
    CHECK(bad.data.dump().find("unknown handler") != std::string::npos);
    auto r2 = alice.send("live_update", say("again"));
    REQUIRE(r2.type == "live_update");
    CHECK(r2.data["response"]["turn"] == 1);  // the refused call did not count
    REQUIRE(alice.submit({{"rating", 4}}).type == "submitted");
    CHECK(p.is_complete());

    auto agents = db->find_agents({.task_run = run, .status = agent_status::completed});
    REQUIRE(agents.size() == 1);
    auto const& state = agents[0].state;
    CHECK(state["outputs"] == json{{"rating", 4}});
    REQUIRE(state["updates"].size() == 2);
    CHECK(state["updates"][0]["args"]["text"] == "hello");
    CHECK(state["updates"][1]["response"]["echo"] == "again");
}

TEMPLATE_TEST_CASE("a live unit past max_turns is refused; another worker's token is refused", "[pipeline][live]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{chat(2), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    test::page alice{arch, "alice"}, bob{arch, "bob"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(bob.register_().type == "agent_details");
    for (int i = 0; i < 3; ++i) REQUIRE(alice.send("live_update", say("x")).type == "live_update");
    auto over = alice.send("live_update", say("x"));
    CHECK(over.is_error());
    CHECK(over.data.dump().find("at most 3 turns") != std::string::npos);
    // bob's token on alice's agent
    auto hostile = arch.channel().request({"live_update", alice.agent, {{"token", bob.token}, {"update", say("x")["update"]}}});
    CHECK(hostile.is_error());
    CHECK(hostile.data.dump().find("not_your_unit") != std::string::npos);
    REQUIRE(alice.submit({{"ok", true}}).type == "submitted");
    for (auto const& a : db->find_agents({.status = agent_status::completed})) CHECK(a.state["updates"].size() == 3);
}

TEMPLATE_TEST_CASE("a worker who leaves mid-conversation keeps the conversation in the agent's state", "[pipeline][live]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{chat(1), arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    test::page alice{arch, "alice"}, bob{arch, "bob"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(alice.send("live_update", say("first")).type == "live_update");
    auto const gone = *alice.agent;
    arch.channel().disconnect(gone);
    auto a = db->get_agent(gone);
    CHECK(a.status == agent_status::disconnect);
    REQUIRE(a.state["updates"].size() == 1);
    CHECK(a.state["updates"][0]["args"]["text"] == "first");
    // bob gets the unit with a fresh conversation: alice's turns are not his.
    REQUIRE(bob.register_().type == "agent_details");
    auto r = bob.send("live_update", say("mine"));
    REQUIRE(r.type == "live_update");
    CHECK(r.data["response"]["turn"] == 0);
}

TEMPLATE_TEST_CASE("a blueprint without live handlers refuses live updates", "[pipeline][live]", STORE_BACKENDS) {
    TestType backend;
    auto db = backend.open();
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline p{blueprints::mock{1}, arch, prov, test::make_test_dispatcher(), *db, test::run_args()};
    p.set_clock(clock);
    p.launch();
    test::page alice{arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto r = alice.send("live_update", {{"update", {{"text", "hi"}}}});
    CHECK(r.is_error());
    CHECK(r.data.dump().find("takes no live updates") != std::string::npos);
    REQUIRE(alice.submit({{"label", "ok"}}).type == "submitted");
    for (auto const& a : db->find_agents({.status = agent_status::completed})) CHECK(a.state["updates"].empty());
}

}  // namespace tu_pipeline_live
