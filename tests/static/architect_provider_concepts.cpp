// Type-level tests: each architect, channel and provider concept accepts the built-ins and rejects a type
// missing exactly its piece.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/in_process.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/provider/provider.hpp>

namespace {
using crowdline::agent_id;
using crowdline::packet;

// --- channels: a full one, then one missing each piece ---------------------------------------------
struct full_channel {
    bool send(agent_id, packet const&) { return true; }
    template <crowdline::packet_handler H>
    void on_message(H&) {}
    void on_message(std::nullptr_t) {}
    bool is_alive() const { return true; }
};
struct no_send {
    template <crowdline::packet_handler H>
    void on_message(H&) {}
    void on_message(std::nullptr_t) {}
    bool is_alive() const { return true; }
};
struct send_returns_void : no_send {
    void send(agent_id, packet const&) {}
};
struct no_on_message {
    bool send(agent_id, packet const&) { return true; }
    bool is_alive() const { return true; }
};
/// The old shape: a type-erased callable instead of a handler of known type.
struct function_on_message : no_on_message {
    void on_message(std::function<packet(packet const&)>) {}
};
/// A handler can be installed but never removed.
struct no_detach : no_on_message {
    template <crowdline::packet_handler H>
    void on_message(H&) {}
};
struct no_is_alive {
    bool send(agent_id, packet const&) { return true; }
    template <crowdline::packet_handler H>
    void on_message(H&) {}
    void on_message(std::nullptr_t) {}
};
struct is_alive_not_const : no_is_alive {
    bool is_alive() { return true; }
};

// --- architects ----------------------------------------------------------------------------------
struct full_architect {
    void prepare() {}
    std::string deploy() { return "x://"; }
    void shutdown() {}
    full_channel& channel() { return channel_; }
    full_channel channel_;
};
struct no_prepare {
    std::string deploy() { return ""; }
    void shutdown() {}
    full_channel& channel() { return channel_; }
    full_channel channel_;
};
struct no_deploy {
    void prepare() {}
    void shutdown() {}
    full_channel& channel() { return channel_; }
    full_channel channel_;
};
struct deploy_returns_int : no_deploy {
    int deploy() { return 0; }
};
struct no_shutdown {
    void prepare() {}
    std::string deploy() { return ""; }
    full_channel& channel() { return channel_; }
    full_channel channel_;
};
struct no_channel {
    void prepare() {}
    std::string deploy() { return ""; }
    void shutdown() {}
};
struct channel_by_value : no_channel {
    full_channel channel() { return {}; }
};
struct channel_not_a_channel : no_channel {
    no_send& channel() { return c_; }
    no_send c_;
};

// --- providers: the mock minus one group at a time -------------------------------------------------
using crowdline::providers::mock;
struct no_provider_type : private mock {
    using mock::register_requester, mock::is_registered, mock::budget, mock::block, mock::unblock, mock::is_blocked,
        mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject, mock::soft_reject, mock::mark_done,
        mock::launch, mock::expire, mock::is_expired, mock::setup_resources, mock::cleanup_resources,
        mock::worker_name;
};
struct no_budget : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::block, mock::unblock,
        mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject, mock::soft_reject,
        mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};
struct no_block : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::unblock,
        mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject, mock::soft_reject,
        mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};
struct block_restored : no_block {
    void block(crowdline::worker_id, std::string_view) {}
};
struct no_soft_reject : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::block,
        mock::unblock, mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject,
        mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};
struct no_is_expired : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::block,
        mock::unblock, mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject,
        mock::soft_reject, mock::mark_done, mock::launch, mock::expire, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};
struct no_cleanup : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::block,
        mock::unblock, mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject,
        mock::soft_reject, mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::worker_name;
};
struct no_worker_name : private mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::block,
        mock::unblock, mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject,
        mock::soft_reject, mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources;
};
struct worker_name_returns_view : no_worker_name {
    std::string_view worker_name(nlohmann::json const&) { return "x"; }
};
struct not_a_provider {};

// --- revocable identity: in_house has it, the mock does not -----------------------------------------
struct link_id_only {
    std::uint64_t link_id(nlohmann::json const&) const { return 1; }
};
struct link_liveness_returns_int : link_id_only {
    int is_link_live(std::uint64_t) const { return 1; }
};
struct full_revocable : link_id_only {
    bool is_link_live(std::uint64_t) const { return true; }
};

// --- packet handlers -------------------------------------------------------------------------------
struct replies_only {
    packet handle(packet const& p) { return p; }
};
struct replies_text {
    std::string handle(packet const& p) { return p.type; }
    void disconnect(agent_id) {}
};
struct with_group {
    packet handle(packet const& p) { return p; }
    void disconnect(agent_id) {}
    void handle_group(std::span<packet const>, std::span<packet>) {}
};
}  // namespace

TEST_CASE("packet_handler: handle(packet) -> packet and disconnect(agent_id); a group handler adds handle_group",
          "[static]") {
    using namespace crowdline;
    auto echo = [](packet const& p) { return p; };
    STATIC_REQUIRE(packet_handler<handler_of<decltype(echo)>>);
    STATIC_REQUIRE_FALSE(group_packet_handler<handler_of<decltype(echo)>>);
    STATIC_REQUIRE_FALSE(packet_handler<replies_only>);  // no disconnect
    STATIC_REQUIRE_FALSE(packet_handler<replies_text>);  // the reply is not a packet
    STATIC_REQUIRE(group_packet_handler<with_group>);
    STATIC_REQUIRE_FALSE(packet_handler<decltype(echo)>);  // a bare callable: wrap it in handler_of
}

TEST_CASE("channel concepts accept the built-in and a full type, and name each missing piece", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE(channel<architects::in_process_channel>);
    STATIC_REQUIRE(channel<full_channel>);

    STATIC_REQUIRE_FALSE(push_channel<no_send>);
    STATIC_REQUIRE_FALSE(push_channel<send_returns_void>);
    STATIC_REQUIRE(request_channel<no_send>);
    STATIC_REQUIRE_FALSE(channel<no_send>);

    STATIC_REQUIRE_FALSE(request_channel<no_on_message>);
    STATIC_REQUIRE(push_channel<no_on_message>);
    STATIC_REQUIRE_FALSE(channel<no_on_message>);

    STATIC_REQUIRE_FALSE(request_channel<function_on_message>);
    STATIC_REQUIRE_FALSE(channel<function_on_message>);
    STATIC_REQUIRE_FALSE(request_channel<no_detach>);

    STATIC_REQUIRE_FALSE(liveness_channel<no_is_alive>);
    STATIC_REQUIRE_FALSE(liveness_channel<is_alive_not_const>);
    STATIC_REQUIRE(request_channel<no_is_alive>);
    STATIC_REQUIRE_FALSE(channel<no_is_alive>);
    STATIC_REQUIRE_FALSE(channel<int>);
}

TEST_CASE("architect concepts accept the built-in and a full type, and name each missing piece", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE(architect<architects::in_process>);
    STATIC_REQUIRE(architect<full_architect>);
    STATIC_REQUIRE(assert_architect<architects::in_process>());

    STATIC_REQUIRE_FALSE(architect_lifecycle<no_prepare>);
    STATIC_REQUIRE(architect_with_channel<no_prepare>);
    STATIC_REQUIRE_FALSE(architect_lifecycle<no_deploy>);
    STATIC_REQUIRE_FALSE(architect_lifecycle<deploy_returns_int>);
    STATIC_REQUIRE_FALSE(architect<no_deploy>);
    STATIC_REQUIRE_FALSE(architect_lifecycle<no_shutdown>);
    STATIC_REQUIRE_FALSE(architect<no_shutdown>);

    STATIC_REQUIRE(architect_lifecycle<no_channel>);
    STATIC_REQUIRE_FALSE(architect_with_channel<no_channel>);
    STATIC_REQUIRE_FALSE(architect_with_channel<channel_by_value>);  // the pipeline needs the server's own channel
    STATIC_REQUIRE_FALSE(architect_with_channel<channel_not_a_channel>);
    STATIC_REQUIRE_FALSE(architect<channel_not_a_channel>);
    STATIC_REQUIRE_FALSE(architect<int>);
}

TEST_CASE("provider concepts accept the mock, and name each missing piece", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE(provider<providers::mock>);
    STATIC_REQUIRE(assert_provider<providers::mock>());
    STATIC_REQUIRE(provider<providers::in_house>);

    STATIC_REQUIRE_FALSE(typed_provider<no_provider_type>);
    STATIC_REQUIRE(requester_provider<no_provider_type>);
    STATIC_REQUIRE_FALSE(provider<no_provider_type>);

    STATIC_REQUIRE_FALSE(requester_provider<no_budget>);
    STATIC_REQUIRE(worker_provider<no_budget>);
    STATIC_REQUIRE_FALSE(provider<no_budget>);

    STATIC_REQUIRE_FALSE(worker_provider<no_block>);
    STATIC_REQUIRE(agent_provider<no_block>);
    STATIC_REQUIRE(worker_provider<block_restored>);  // block restored: the group is whole again
    STATIC_REQUIRE_FALSE(provider<no_block>);

    STATIC_REQUIRE_FALSE(agent_provider<no_soft_reject>);
    STATIC_REQUIRE(unit_provider<no_soft_reject>);
    STATIC_REQUIRE_FALSE(provider<no_soft_reject>);

    STATIC_REQUIRE_FALSE(unit_provider<no_is_expired>);
    STATIC_REQUIRE(resource_provider<no_is_expired>);
    STATIC_REQUIRE_FALSE(provider<no_is_expired>);

    STATIC_REQUIRE_FALSE(resource_provider<no_cleanup>);
    STATIC_REQUIRE(identity_provider<no_cleanup>);
    STATIC_REQUIRE_FALSE(provider<no_cleanup>);

    STATIC_REQUIRE_FALSE(identity_provider<no_worker_name>);
    STATIC_REQUIRE_FALSE(identity_provider<worker_name_returns_view>);
    STATIC_REQUIRE(typed_provider<no_worker_name>);
    STATIC_REQUIRE_FALSE(provider<no_worker_name>);

    STATIC_REQUIRE_FALSE(provider<not_a_provider>);
    STATIC_REQUIRE_FALSE(provider<int>);
}

TEST_CASE("revocable_identity accepts in_house and a full type, and rejects the mock and partial types", "[static]") {
    using namespace crowdline;
    STATIC_REQUIRE(revocable_identity<providers::in_house>);
    STATIC_REQUIRE(revocable_identity<full_revocable>);
    STATIC_REQUIRE_FALSE(revocable_identity<providers::mock>);  // a mock worker cannot lose their identity
    STATIC_REQUIRE_FALSE(revocable_identity<link_id_only>);
    STATIC_REQUIRE_FALSE(revocable_identity<link_liveness_returns_int>);
    STATIC_REQUIRE_FALSE(revocable_identity<int>);
}
