// Idempotent submit: a page resends a submission whose reply it never got (a lost reply, a reload, a server
// restart) with the same `data.key`; the server answers as it did the first time and writes nothing again.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>

#include <crowdline/ops/data_browser.hpp>

#include "pipeline_common.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_pipeline_idempotent_submit {

using namespace crowdline;
using namespace std::chrono_literals;

namespace {

constexpr auto key_a = "k3y-0123456789abcdef-A";
constexpr auto key_b = "k3y-0123456789abcdef-B";

/// One pipeline on a store, with its own in-process architect: dropping it without a shutdown is a process
/// that died, and a new one on the same store resumes the run.
template <class Store>
struct server {
    architects::in_process arch;
    providers::mock prov;
    test::manual_clock clock;
    pipeline<blueprints::mock, architects::in_process&, providers::mock&,
             decltype(test::make_test_dispatcher()), Store>
        p;
    explicit server(Store& db) : p{blueprints::mock{6}, arch, prov, test::make_test_dispatcher(), db, test::run_args()} {
        p.set_clock(clock);
        p.launch();
    }
};

/// A submit as the page sends it: the agent, its token, the answer and (when given) the submission key.
packet submit_packet(test::page const& w, nlohmann::json submission, std::string const& key) {
    nlohmann::json data{{"token", w.token}, {"submission", std::move(submission)}};
    if (!key.empty()) data["key"] = key;
    return packet{"submit", w.agent, std::move(data)};
}

/// The completed agents of a unit: one per saved submission.
template <class Store>
std::size_t saved_for(Store& db, unit_id u) {
    return db.find_agents({.unit = u, .status = agent_status::completed}).size();
}

/// A fresh store of the backend; `reopen` gives what a restarted process sees (the same object for the
/// memory store, a new connection to the same file for SQLite).
template <class Backend>
struct store_of {
    Backend backend;
    std::unique_ptr<typename Backend::store_type> db = backend.open();
    typename Backend::store_type& reopen() {
        if constexpr (Backend::persistent) db = backend.reopen();
        return *db;
    }
};

}  // namespace

TEMPLATE_TEST_CASE("a resend with the same submission key gets the first reply and writes nothing", "[pipeline][submit]",
                   STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto const first_agent = *alice.agent;
    auto const unit = s.db->get_agent(first_agent).unit;

    auto const sent = submit_packet(alice, {{"label", "first"}}, key_a);
    auto const first = srv.arch.channel().request(sent);
    REQUIRE(first.type == "submitted");
    auto const saved = s.db->get_agent(first_agent).state;

    SECTION("the reply was lost: the same packet again") {
        auto const again = srv.arch.channel().request(sent);
        CHECK(again == first);
    }
    SECTION("the resend carries other answers: the first ones stay") {
        auto const again = srv.arch.channel().request(submit_packet(alice, {{"label", "second"}}, key_a));
        CHECK(again == first);
    }
    SECTION("the worker already holds a new unit: the resend leaves it alone") {
        REQUIRE(alice.register_().type == "agent_details");
        auto const second_agent = *alice.agent;
        REQUIRE(second_agent != first_agent);
        auto const again = srv.arch.channel().request(sent);
        CHECK(again == first);
        CHECK(s.db->get_agent(second_agent).status == agent_status::in_task);
        CHECK(alice.send("heartbeat").type == "ok");
        CHECK(alice.submit({{"label", "next"}}).type == "submitted");
        CHECK(s.db->get_agent(second_agent).state["outputs"] == nlohmann::json{{"label", "next"}});
    }
    CHECK(saved_for(*s.db, unit) == 1);
    CHECK(s.db->get_agent(first_agent).state == saved);
    CHECK(s.db->get_agent(first_agent).state["outputs"] == nlohmann::json{{"label", "first"}});
    CHECK(s.db->get_unit(unit).status == unit_status::completed);
}

TEMPLATE_TEST_CASE("a resend after a restart is acknowledged as saved", "[pipeline][submit][resume]", STORE_BACKENDS) {
    store_of<TestType> s;
    packet sent, first;
    unit_id unit;
    std::optional<agent_id> bob_agent;
    std::string bob_token;
    {
        server srv{*s.db};
        test::page alice{srv.arch, "alice"}, bob{srv.arch, "bob"};
        REQUIRE(alice.register_().type == "agent_details");
        unit = s.db->get_agent(*alice.agent).unit;
        sent = submit_packet(alice, {{"label", "before the crash"}}, key_a);
        first = srv.arch.channel().request(sent);
        REQUIRE(first.type == "submitted");
        // bob's submission never reached the store: the process died first.
        REQUIRE(bob.register_().type == "agent_details");
        bob_agent = bob.agent;
        bob_token = bob.token;
    }  // no shutdown: the process is gone

    auto& db = s.reopen();
    auto const saved = db.get_agent(*sent.agent).state;
    server srv{db};
    auto const again = srv.arch.channel().request(sent);
    CHECK(again == first);
    CHECK(saved_for(db, unit) == 1);
    CHECK(db.get_agent(*sent.agent).state == saved);

    // Her next unit's page counts the answer given before the restart.
    test::page alice{srv.arch, "alice"};
    auto const next = alice.register_();
    REQUIRE(next.type == "agent_details");
    CHECK(next.data["done"] == first.data["done"]);
    CHECK(srv.arch.channel().request(sent) == first);  // and a resend now still leaves her new unit alone
    CHECK(alice.send("heartbeat").type == "ok");

    // What was never saved is not acknowledged: the page hears its unit is gone, as before.
    test::page bob{srv.arch, "bob", nlohmann::json::object(), bob_agent, bob_token};
    auto const lost = srv.arch.channel().request(submit_packet(bob, {{"label", "lost"}}, key_b));
    CHECK(lost.is_error());
    CHECK(lost.data["reason"] == "unknown_agent");
    CHECK(db.get_agent(*bob.agent).status == agent_status::expired);
}

TEMPLATE_TEST_CASE("a resend naming a unit that is not the sender's is refused", "[pipeline][submit]", STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"}, bob{srv.arch, "bob"};
    REQUIRE(alice.register_().type == "agent_details");
    REQUIRE(bob.register_().type == "agent_details");
    auto const unit = s.db->get_agent(*alice.agent).unit;
    REQUIRE(srv.arch.channel().request(submit_packet(alice, {{"label", "alice's"}}, key_a)).type == "submitted");
    auto const saved = s.db->get_agent(*alice.agent);

    test::page mallory = bob;  // bob's token, alice's agent and key
    mallory.agent = alice.agent;
    auto const refused = srv.arch.channel().request(submit_packet(mallory, {{"label", "bob's"}}, key_a));
    CHECK(refused.is_error());
    CHECK(refused.data["reason"] == "not_your_unit");
    CHECK(s.db->get_agent(*alice.agent).state == saved.state);
    CHECK(saved_for(*s.db, unit) == 1);
    CHECK(s.db->get_agent(*bob.agent).status == agent_status::in_task);  // bob's own unit is untouched
}

TEMPLATE_TEST_CASE("another key for a submitted unit is a conflict", "[pipeline][submit]", STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto const unit = s.db->get_agent(*alice.agent).unit;
    REQUIRE(srv.arch.channel().request(submit_packet(alice, {{"label", "first"}}, key_a)).type == "submitted");
    auto const saved = s.db->get_agent(*alice.agent);
    auto const other = srv.arch.channel().request(submit_packet(alice, {{"label", "second"}}, key_b));
    CHECK(other.is_error());
    CHECK(other.data["reason"] == packet_errors::conflict);
    CHECK(s.db->get_agent(*alice.agent).state == saved.state);
    CHECK(saved_for(*s.db, unit) == 1);
}

TEMPLATE_TEST_CASE("a malformed submission key is refused and nothing is saved", "[pipeline][submit]", STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto const agent = *alice.agent;
    for (auto const& bad : {nlohmann::json(42), nlohmann::json("short"), nlohmann::json(std::string(129, 'k')),
                            nlohmann::json("spaces are not allowed in a key"), nlohmann::json::array()}) {
        INFO("key " << bad.dump());
        auto reply = srv.arch.channel().request(
            packet{"submit", agent, {{"token", alice.token}, {"submission", {{"label", "x"}}}, {"key", bad}}});
        CHECK(reply.is_error());
        CHECK(reply.data["reason"] == "bad_request");
        CHECK(reply.data["message"].template get<std::string>().find("\"key\"") != std::string::npos);
        CHECK(s.db->get_agent(agent).status == agent_status::in_task);
    }
}

TEMPLATE_TEST_CASE("a submit without a key behaves as before", "[pipeline][submit]", STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto const agent = *alice.agent;
    auto const sent = submit_packet(alice, {{"label", "plain"}}, "");
    REQUIRE(srv.arch.channel().request(sent).type == "submitted");
    auto const state = s.db->get_agent(agent).state;
    CHECK(state == nlohmann::json{{"inputs", state["inputs"]}, {"outputs", {{"label", "plain"}}}, {"updates", nlohmann::json::array()}});
    auto const again = srv.arch.channel().request(sent);
    CHECK(again.is_error());
    CHECK(again.data["reason"] == "unknown_agent");
    CHECK(saved_for(*s.db, s.db->get_agent(agent).unit) == 1);
}

TEMPLATE_TEST_CASE("a keyed submit's receipt stays out of results and exports", "[pipeline][submit][export]",
                   STORE_BACKENDS) {
    store_of<TestType> s;
    server srv{*s.db};
    test::page alice{srv.arch, "alice"};
    REQUIRE(alice.register_().type == "agent_details");
    auto const agent = *alice.agent;
    auto const unit = s.db->get_agent(agent).unit;
    REQUIRE(srv.arch.channel().request(submit_packet(alice, {{"label", "kept"}}, key_a)).type == "submitted");
    REQUIRE(s.db->get_agent(agent).state.contains("receipt"));  // the store keeps it for resends

    auto const result = data_browser{*s.db}.result_for_unit(unit);
    CHECK_FALSE(result.agent_state.contains("receipt"));
    CHECK(result.agent_state.dump().find("kept") != std::string::npos);  // the answer itself is there
    auto const line = to_export_json(result).dump();
    CHECK(line.find(alice.token) == std::string::npos);
    CHECK(line.find(key_a) == std::string::npos);
}

}  // namespace tu_pipeline_idempotent_submit
