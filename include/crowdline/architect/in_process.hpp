#pragma once
/// `architects::in_process`: an architect whose channel is direct function calls. For tests, simulations
/// and applications that embed the worker's side themselves: a "worker" calls `request`/`request_text`
/// and reads its `inbox`, the server side installs handlers and `send`s, exactly as over a network.
/// Thread-safe: one mutex guards the state, and handlers run without holding it, so a handler may
/// `send` (or make requests) without deadlocking.

#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>


#include <crowdline/architect/architect.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline::architects {

/// Settings of an `in_process` architect (reflected: loads from JSON / `key=value` like any args struct).
struct in_process_args {
    std::string name = "crowdline";               ///< deploy() answers "inproc://<name>"
    std::size_t max_body_bytes = std::size_t{1} << 20;  ///< request_text refuses longer texts
    std::size_t max_json_depth = 64;             ///< request_text refuses deeper JSON

    static constexpr std::array<config::description, 3> descriptions{{
        {"name", "server name; the URL is inproc://<name>"},
        {"max_body_bytes", "longest request text accepted, in bytes"},
        {"max_json_depth", "deepest JSON nesting accepted in a request"},
    }};

    /// Each problem names its key.
    void validate() const {
        if (name.empty()) throw config_error("name: must not be empty (it makes the URL)");
        if (max_body_bytes == 0) throw config_error("max_body_bytes: must be > 0");
        if (max_json_depth == 0) throw config_error("max_json_depth: must be > 0");
    }
};

/// The channel of an `in_process` architect: server side (`send`, `on_message`, `is_alive`) and the worker side tests drive (`request`, `request_text`, `inbox`, `disconnect`).
class in_process_channel {
public:
    explicit in_process_channel(std::size_t max_body_bytes = std::size_t{1} << 20, std::size_t max_json_depth = 64)
        : max_body_bytes_{max_body_bytes}, max_json_depth_{max_json_depth} {}
    in_process_channel(in_process_channel const&) = delete;
    in_process_channel& operator=(in_process_channel const&) = delete;

    // --- server side ------------------------------------------------------------------------------
    /// Queues `p` for the agent's page; false when the channel is down or the agent disconnected.
    bool send(agent_id agent, packet const& p) {
        std::lock_guard l{mutex_};
        if (!alive_ || gone_.contains(agent)) return false;
        inboxes_[agent].push_back(p);
        return true;
    }
    /// Installs (or replaces) what answers requests and hears about disconnected agents, kept by reference.
    template <packet_handler H>
    void on_message(H& handler) {
        std::lock_guard l{mutex_};
        handler_ = crowdline::detail::handler_ref::to(handler);
    }
    /// Removes the handler: requests get `no_handler`, disconnects go unheard.
    void on_message(std::nullptr_t) {
        std::lock_guard l{mutex_};
        handler_ = {};
    }
    /// True between the architect's deploy() and shutdown().
    [[nodiscard]] bool is_alive() const {
        std::lock_guard l{mutex_};
        return alive_;
    }

    // --- worker side ------------------------------------------------------------------------------
    /// Sends a request and returns the reply. Never throws for the server's failures: a channel that is
    /// down, a missing handler or a handler that throws become error packets, as a network would give.
    packet request(packet const& p) {
        crowdline::detail::handler_ref handler;
        {
            std::lock_guard l{mutex_};
            if (!alive_) return packet::error(std::string(packet_errors::unavailable), unavailable_message_);
            if (p.agent) gone_.erase(*p.agent);  // a request from a disconnected agent is a reconnect
            handler = handler_;
        }
        if (!handler)
            return packet::error(std::string(packet_errors::no_handler), "the server does not serve requests yet");
        try {
            return handler.handle(handler.target, p);
        } catch (...) {
            return crowdline::detail::error_reply_for_current_exception();
        }
    }
    /// Like `request`, from raw text as a page would send it: bad input (too long, not JSON, too deep,
    /// not a packet) becomes an error packet whose reason says which, and never reaches the handler.
    packet request_text(std::string_view raw) {
        packet p;
        try {
            p = parse_packet(raw, max_body_bytes_, max_json_depth_);
        } catch (bad_packet const& e) {
            return packet::error(e.reason, e.what());
        }
        return request(p);
    }
    /// What the server pushed to `agent` since the last call, oldest first (drains it).
    std::vector<packet> inbox(agent_id agent) {
        std::lock_guard l{mutex_};
        auto it = inboxes_.find(agent);
        if (it == inboxes_.end()) return {};
        std::vector<packet> out(std::make_move_iterator(it->second.begin()), std::make_move_iterator(it->second.end()));
        inboxes_.erase(it);
        return out;
    }
    /// The agent's page went away: drops its unread pushes, refuses further sends until it makes a
    /// request again, and tells the disconnect handler.
    void disconnect(agent_id agent) {
        crowdline::detail::handler_ref handler;
        {
            std::lock_guard l{mutex_};
            gone_.insert(agent);
            inboxes_.erase(agent);
            handler = handler_;
        }
        if (handler) handler.disconnect(handler.target, agent);
    }

    // --- for the architect ------------------------------------------------------------------------
    /// Opens (true) or closes (false) the channel; `why` is the message of replies while closed.
    void set_alive(bool alive, std::string why = "the server is not deployed") {
        std::lock_guard l{mutex_};
        alive_ = alive;
        unavailable_message_ = std::move(why);
        if (!alive) inboxes_.clear();
    }

private:
    std::size_t max_body_bytes_;
    std::size_t max_json_depth_;
    mutable std::mutex mutex_;
    bool alive_ = false;
    std::string unavailable_message_ = "the server is not deployed";
    crowdline::detail::handler_ref handler_;
    std::unordered_map<agent_id, std::deque<packet>> inboxes_;
    std::unordered_set<agent_id> gone_;
};

/// An architect without a network: prepare → deploy ("inproc://<name>") → requests served → shutdown.
/// Shutdown is final: the channel stays down and later prepare/deploy calls are refused.
class in_process {
public:
    using args_type = in_process_args;

    /// Refuses invalid args with `config_error` naming the key.
    explicit in_process(args_type args = {})
        : args_{(args.validate(), std::move(args))}, channel_{args_.max_body_bytes, args_.max_json_depth} {}
    in_process(in_process const&) = delete;
    in_process& operator=(in_process const&) = delete;

    /// Nothing to build in process; marks the server ready to deploy. Idempotent before shutdown.
    void prepare() {
        std::lock_guard l{mutex_};
        if (state_ == state::shut_down) throw error("architect \"" + args_.name + "\": prepare() after shutdown()");
        if (state_ == state::created) state_ = state::prepared;
    }
    /// Opens the channel; returns the URL workers open. Before prepare() → `crowdline::error`.
    std::string deploy() {
        std::lock_guard l{mutex_};
        if (state_ == state::created)
            throw error("architect \"" + args_.name + "\": deploy() before prepare()");
        if (state_ == state::shut_down) throw error("architect \"" + args_.name + "\": deploy() after shutdown()");
        state_ = state::deployed;
        channel_.set_alive(true);
        return url();
    }
    /// Closes the channel for good: requests get an `unavailable` error reply, sends return false.
    void shutdown() {
        std::lock_guard l{mutex_};
        state_ = state::shut_down;
        channel_.set_alive(false, "architect \"" + args_.name + "\" is shut down");
    }

    /// The channel the server side installs its handlers on.
    in_process_channel& channel() noexcept { return channel_; }

    /// Whether prepare() has run (and shutdown() has not).
    [[nodiscard]] bool is_prepared() const {
        std::lock_guard l{mutex_};
        return state_ == state::prepared || state_ == state::deployed;
    }
    /// Whether the server is up: deployed and not shut down (Mephisto's "GET /is_alive returns 200").
    [[nodiscard]] bool is_up() const { return channel_.is_alive(); }
    /// "inproc://<name>", the URL deploy() returns.
    [[nodiscard]] std::string url() const { return "inproc://" + args_.name; }
    [[nodiscard]] args_type const& args() const noexcept { return args_; }

    // --- worker side, forwarded to the channel ------------------------------------------------------
    /// See `in_process_channel::request`.
    packet request(packet const& p) { return channel_.request(p); }
    /// See `in_process_channel::request_text`; limits come from the args.
    packet request_text(std::string_view raw) { return channel_.request_text(raw); }
    /// See `in_process_channel::inbox`.
    std::vector<packet> inbox(agent_id agent) { return channel_.inbox(agent); }
    /// See `in_process_channel::disconnect`.
    void disconnect(agent_id agent) { channel_.disconnect(agent); }

private:
    enum class state { created, prepared, deployed, shut_down };
    args_type args_;
    in_process_channel channel_;
    mutable std::mutex mutex_;
    state state_ = state::created;
};

static_assert(channel<in_process_channel>, "architects::in_process_channel must model crowdline::channel");
static_assert(architect<in_process>, "architects::in_process must model crowdline::architect");

}  // namespace crowdline::architects

CROWDLINE_REFLECT(crowdline::architects::in_process_args, name, max_body_bytes, max_json_depth);
