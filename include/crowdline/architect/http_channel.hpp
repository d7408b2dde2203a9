#pragma once
/// `architects::http_channel`: how the pipeline talks to an `http` architect — its handlers for requests,
/// disconnects and groups of requests, and its pushes to a page.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include <crowdline/architect/architect.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects {

class http;

namespace detail {
class http_state;
struct http_harness;
}  // namespace detail

/// The channel of an `http` architect: pushes go to the WebSocket that holds the agent; requests from any
/// endpoint reach the one `on_message` handler; a closed WebSocket's agents reach `on_disconnect` after
/// the grace period.
class http_channel {
public:
    using message_handler = std::function<packet(packet const&)>;
    using disconnect_handler = std::function<void(agent_id)>;

    http_channel() = default;
    http_channel(http_channel const&) = delete;
    http_channel& operator=(http_channel const&) = delete;

    /// Queues `p` on the WebSocket of the agent's page; false when it has none open, or the server is down.
    /// Defined in `architect/http.hpp`, once the WebSocket session it pushes to is known.
    bool send(agent_id agent, packet const& p);
    void on_message(message_handler handler) {
        std::lock_guard l{mutex_};
        message_ = handler ? std::make_shared<message_handler const>(std::move(handler)) : nullptr;
    }
    void on_disconnect(disconnect_handler handler) {
        std::lock_guard l{mutex_};
        disconnect_ = handler ? std::make_shared<disconnect_handler const>(std::move(handler)) : nullptr;
    }
    /// Handles a group of requests that arrived together, in one call: `replies[i]` answers `requests[i]`
    /// (the spans have one length). The pipeline or operator makes it one store transaction per run, so
    /// packets that arrive together cost one commit, and none is answered before that commit (group
    /// commit). A handler that throws failed the group as a whole: nothing of it was kept.
    using group_handler = std::function<void(std::span<packet const> requests, std::span<packet> replies)>;
    void on_batch(group_handler handler) {
        std::lock_guard l{mutex_};
        batch_ = handler ? std::make_shared<group_handler const>(std::move(handler)) : nullptr;
    }
    /// True between deploy() and shutdown().
    [[nodiscard]] bool is_alive() const { return alive_.load(); }

    /// Answers a group of requests through the group handler (one call for all of them), or one by one
    /// through `request` when there is none. False when the group failed as a whole: nothing of it was
    /// kept, so no success may be sent for it (the caller turns the replies into errors).
    bool handle_group(std::span<packet const> requests, std::span<packet> replies) {
        std::shared_ptr<group_handler const> handler;
        {
            std::lock_guard l{mutex_};
            handler = batch_;
        }
        if (!handler || !alive_.load()) {
            for (std::size_t i = 0; i < requests.size(); ++i) replies[i] = request(requests[i]);
            return true;
        }
        try {
            (*handler)(requests, replies);
            return true;
        } catch (...) {
            return false;
        }
    }

    /// One request through the handler; never throws (a failure is an error packet, as for `in_process`).
    packet request(packet const& p) {
        if (!alive_.load()) return packet::error(std::string(packet_errors::unavailable), "the server is not deployed");
        std::shared_ptr<message_handler const> handler;
        {
            std::lock_guard l{mutex_};
            handler = message_;
        }
        if (!handler)
            return packet::error(std::string(packet_errors::no_handler), "the server does not serve requests yet");
        try {
            return (*handler)(p);
        } catch (...) {
            return crowdline::detail::error_reply_for_current_exception();
        }
    }

private:
    friend class http;
    friend class detail::http_state;
    friend struct detail::http_harness;
    std::atomic<bool> alive_{false};
    std::mutex mutex_;
    std::shared_ptr<message_handler const> message_;
    std::shared_ptr<disconnect_handler const> disconnect_;
    std::shared_ptr<group_handler const> batch_;
    std::weak_ptr<detail::http_state> state_;
};

}  // namespace crowdline::architects
