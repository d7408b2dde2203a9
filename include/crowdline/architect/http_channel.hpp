#pragma once
/// `architects::http_channel`: how the pipeline talks to an `http` architect — its handlers for requests,
/// disconnects and groups of requests, and its pushes to a page.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include <crowdline/architect/architect.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects {

template <class Transport>
class basic_http;

namespace detail {
template <class Stream>
class basic_http_state;
struct http_harness;
}  // namespace detail

/// The channel of an `http` architect: pushes go to the WebSocket that holds the agent; requests from any
/// endpoint reach the one `on_message` handler; a closed WebSocket's agents reach the handler's `disconnect` after
/// the grace period.
class http_channel {
public:
    http_channel() = default;
    http_channel(http_channel const&) = delete;
    http_channel& operator=(http_channel const&) = delete;

    /// Queues `p` on the WebSocket of the agent's page; false when it has none open, or the server is down.
    bool send(agent_id agent, packet const& p) {
        if (!alive_.load()) return false;
        auto const st = state_.lock();
        return st && push_(st.get(), agent, p);
    }
    /// Installs (or replaces) the handler of requests and disconnects, kept by reference. A handler that
    /// also has `handle_group` (a `group_packet_handler`) gets each group of requests that arrived together
    /// in one call: the pipeline or operator makes it one store transaction per run, so packets that arrive
    /// together cost one commit, and none is answered before that commit (group commit).
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
    /// True between deploy() and shutdown().
    [[nodiscard]] bool is_alive() const { return alive_.load(); }

    /// Answers a group of requests in one call of the handler's `handle_group`, or one by one through
    /// `request` when it has none. False when the group failed as a whole (the handler threw): nothing of
    /// it was kept, so no success may be sent for it (the caller turns the replies into errors).
    bool handle_group(std::span<packet const> requests, std::span<packet> replies) {
        auto const h = handler();
        if (!h || !h.handle_group || !alive_.load()) {
            for (std::size_t i = 0; i < requests.size(); ++i) replies[i] = answer(h, requests[i]);
            return true;
        }
        try {
            h.handle_group(h.target, requests, replies);
            return true;
        } catch (...) {
            return false;
        }
    }

    /// One request through the handler; never throws (a failure is an error packet, as for `in_process`).
    packet request(packet const& p) { return answer(handler(), p); }

private:
    /// `p` answered by `h` (the handler read once for a whole group); an error packet when the server is
    /// down, there is no handler, or it throws.
    packet answer(crowdline::detail::handler_ref const& h, packet const& p) {
        if (!alive_.load()) return packet::error(std::string(packet_errors::unavailable), "the server is not deployed");
        if (!h) return packet::error(std::string(packet_errors::no_handler), "the server does not serve requests yet");
        try {
            return h.handle(h.target, p);
        } catch (...) {
            return crowdline::detail::error_reply_for_current_exception();
        }
    }

    /// Tells the handler that `agent`'s page is gone; a handler that throws is ignored (an I/O thread calls this).
    void disconnected(agent_id agent) noexcept {
        auto const h = handler();
        if (!h) return;
        try {
            h.disconnect(h.target, agent);
        } catch (...) {
        }
    }

    template <class>
    friend class basic_http;
    template <class>
    friend class detail::basic_http_state;
    friend struct detail::http_harness;
    std::atomic<bool> alive_{false};
    [[nodiscard]] crowdline::detail::handler_ref handler() {
        std::lock_guard l{mutex_};
        return handler_;
    }

    std::mutex mutex_;
    crowdline::detail::handler_ref handler_;
    /// The server's shared state and how to push to one of its WebSockets, set by the server that owns
    /// this channel (its session types are known there, not here).
    std::weak_ptr<void> state_;
    bool (*push_)(void* state, agent_id agent, packet const& p) = nullptr;
};

}  // namespace crowdline::architects
