#pragma once
/// `basic_ws_session`: one WebSocket — the packets a page sends, in order through the group commit, the
/// replies back, and the server's pushes to the agents the socket holds.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_limits.hpp>
#include <crowdline/architect/detail/http_state.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

/// A WebSocket: reads packets, replies in order, and carries the server's pushes, all on one strand.
/// Messages are read frame by frame against `max_body_bytes`, so one over it gets the `too_large` packet
/// before the close. What waits to be sent is capped (`max_queued_bytes`); past a quarter of it, reading
/// pauses until the client has read. A watchdog closes it when it stays silent past
/// `ws_silence_timeout_seconds` or does not read for `idle_timeout_seconds` while replies wait. `Stream`
/// is the connection's stream (a `beast::basic_stream`), made from the socket the HTTP session hands over.
template <class Stream>
class basic_ws_session : public std::enable_shared_from_this<basic_ws_session<Stream>> {
public:
    using state_type = basic_http_state<Stream>;

    basic_ws_session(std::shared_ptr<state_type> st, typename Stream::socket_type&& socket, std::uint64_t id,
                     connection_slot slot)
        : state_(std::move(st)), ws_(std::move(socket)), id_(id), slot_(std::move(slot)),
          watchdog_(ws_.get_executor()) {}

    ~basic_ws_session() {
        state_->counters.websockets_open.fetch_sub(1);
        if (!state_->stopping.load()) state_->closed(id_, {agents_.begin(), agents_.end()});
    }

    template <class Request>
    void start(Request req) {
        state_->counters.websockets_open.fetch_add(1);
        beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts take over
        websocket::stream_base::timeout t{};
        t.handshake_timeout = std::chrono::seconds(state_->args.idle_timeout_seconds);
        t.idle_timeout = std::chrono::seconds(state_->args.idle_timeout_seconds);
        t.keep_alive_pings = true;  // a live page answers pings; a dead one is closed after idle_timeout
        ws_.set_option(t);
        ws_.read_message_max(0);  // no limit in Beast: read() checks the size itself, to answer too_large first
        last_heard_ = last_sent_ = std::chrono::steady_clock::now();
        ws_.async_accept(req, beast::bind_front_handler(&basic_ws_session::on_accept, this->shared_from_this()));
    }

    /// From any thread: queue a text for this socket.
    void push(std::string text) {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), text = std::move(text)]() mutable {
            self->guarded([&] { self->queue(std::move(text)); });
        });
    }

private:
    /// Runs a handler's body; an exception closes this socket only (and is counted).
    template <class Body>
    void guarded(Body&& body) {
        run_guarded(state_->counters, body, [this] { drop(); });
    }
    /// Closes the socket at once: pending operations end, and with them the session (a normal disconnect).
    void drop() {
        dropped_ = true;
        watchdog_.cancel();
        beast::get_lowest_layer(ws_).close();
    }

    void on_accept(beast::error_code ec) {
        if (ec) return;
        watch();
        read();
    }
    void watch() {
        watchdog_.expires_after(std::chrono::seconds(1));
        watchdog_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->guarded([&] { self->on_watch(); });
        });
    }
    void on_watch() {
        if (dropped_) return;
        auto const now = std::chrono::steady_clock::now();
        if (now - last_heard_ >= std::chrono::seconds(state_->args.ws_silence_timeout_seconds)) {
            state_->counters.ws_silent.fetch_add(1);
            return drop();
        }
        if (!outbox_.empty() && now - last_sent_ >= std::chrono::seconds(state_->args.idle_timeout_seconds)) {
            state_->counters.timeouts.fetch_add(1);  // replies wait and the client does not read them
            return drop();
        }
        watch();
    }

    void read() {
        if (dropped_ || closing_) return;
        if (outbox_bytes_ > high_water()) {
            paused_ = true;  // on_write resumes once the client has read
            return;
        }
        buffer_.clear();
        read_more();
    }
    void read_more() {
        auto const limit = state_->args.max_body_bytes + 1 - buffer_.size();
        ws_.async_read_some(buffer_, limit, beast::bind_front_handler(&basic_ws_session::on_read, this->shared_from_this()));
    }
    void on_read(beast::error_code ec, std::size_t) {
        guarded([&] { handle_read(ec); });
    }
    void handle_read(beast::error_code ec) {
        if (ec) {
            if (ec == beast::error::timeout) state_->counters.timeouts.fetch_add(1);
            return;
        }
        if (buffer_.size() > state_->args.max_body_bytes) {
            // The limit is part of the protocol: say why, then close (the message's rest is not read).
            queue(reply_text(packet::error(std::string(packet_errors::too_large),
                                           "message over the limit of " + std::to_string(state_->args.max_body_bytes) +
                                               " bytes"),
                             nullptr));
            closing_ = true;
            return;
        }
        if (!ws_.is_message_done()) return read_more();
        last_heard_ = std::chrono::steady_clock::now();
        if (!ws_.got_text())
            return answered(packet::error(std::string(packet_errors::invalid_json), "binary messages are not packets"), {});
        state_->enqueue({beast::buffers_to_string(buffer_.data()), std::nullopt,
                         [self = this->shared_from_this()](packet reply, nlohmann::json id) {
                             asio::post(self->ws_.get_executor(), [self, reply = std::move(reply), id = std::move(id)] {
                                 self->guarded([&] { self->answered(reply, id); });
                             });
                         }});
    }
    /// The reply to the last packet read: sent, and only then is the next one read (replies stay in order).
    /// A refused token from an address that keeps sending bad ones waits first.
    void answered(packet const& reply, nlohmann::json const& id) {
        auto const delay = state_->auth_failures.reply_delay(slot_.address(), is_auth_failure(status_for(reply)));
        if (delay.count() > 0) {
            auto timer = std::make_shared<asio::steady_timer>(ws_.get_executor(), delay);
            timer->async_wait([self = this->shared_from_this(), timer, reply, id](beast::error_code) {
                self->guarded([&] { self->send_reply(reply, id); });
            });
            return;
        }
        send_reply(reply, id);
    }
    void send_reply(packet const& reply, nlohmann::json const& id) {
        track(reply);
        queue(reply_text(reply, id.is_null() ? nullptr : &id));
        read();
    }
    /// Which agents this socket holds: a unit handed out or picked up again binds it; a finished one unbinds.
    void track(packet const& reply) {
        if (!reply.agent || reply.is_error()) return;
        auto a = *reply.agent;
        if (reply.type == "submitted" || reply.type == "released") {
            agents_.erase(a);
            state_->unbind(a);
        } else {
            agents_.insert(a);
            state_->bind(a, id_, this->weak_from_this());
        }
    }
    [[nodiscard]] std::size_t high_water() const noexcept { return state_->args.max_queued_bytes / 4; }
    void queue(std::string text) {
        if (dropped_ || closing_) return;
        if (!outbox_.empty() && outbox_bytes_ + text.size() > state_->args.max_queued_bytes) {
            state_->counters.ws_overflows.fetch_add(1);  // a client that does not read its replies
            return drop();
        }
        if (outbox_.empty()) last_sent_ = std::chrono::steady_clock::now();
        outbox_bytes_ += text.size();
        outbox_.push_back(std::move(text));
        if (outbox_.size() == 1) write();
    }
    void write() {
        ws_.text(true);
        ws_.async_write(asio::buffer(outbox_.front()), beast::bind_front_handler(&basic_ws_session::on_write, this->shared_from_this()));
    }
    void on_write(beast::error_code ec, std::size_t) {
        guarded([&] {
            if (ec) return;
            last_sent_ = std::chrono::steady_clock::now();
            outbox_bytes_ -= outbox_.front().size();
            outbox_.pop_front();
            if (!outbox_.empty()) write();
            if (paused_ && outbox_bytes_ <= high_water()) {
                paused_ = false;
                read();
            }
            if (outbox_.empty() && closing_)
                ws_.async_close(websocket::close_code::too_big, [self = this->shared_from_this()](beast::error_code) {});
        });
    }

    std::shared_ptr<state_type> state_;
    websocket::stream<Stream> ws_;
    std::uint64_t id_;
    connection_slot slot_;
    asio::steady_timer watchdog_;
    beast::flat_buffer buffer_;
    std::deque<std::string> outbox_;
    std::size_t outbox_bytes_ = 0;
    std::set<agent_id> agents_;
    std::chrono::steady_clock::time_point last_heard_{};  ///< last whole message read
    std::chrono::steady_clock::time_point last_sent_{};   ///< last write finished (or the outbox filled)
    bool paused_ = false;   ///< reading waits for the outbox to drain
    bool closing_ = false;  ///< too_large sent: close after the outbox
    bool dropped_ = false;
};

}  // namespace crowdline::architects::detail
