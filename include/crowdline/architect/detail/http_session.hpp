#pragma once
/// `basic_http_session`: one HTTP/1.1 connection — parse a request under the limits, route it (or hand a
/// packet to the group commit, or the connection to a WebSocket), write the answer with the security
/// headers, keep alive. `architects::http` runs it on `beast::tcp_stream`, the fuzz harness on an in-memory stream.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_limits.hpp>
#include <crowdline/architect/detail/http_router.hpp>
#include <crowdline/architect/detail/http_state.hpp>
#include <crowdline/architect/detail/http_text.hpp>
#include <crowdline/architect/detail/ws_session.hpp>
#include <crowdline/architect/http_args.hpp>
#include <crowdline/architect/http_route.hpp>

namespace crowdline::architects::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

/// Longest chunk extension accepted: the server uses none, so they only cost memory and time.
inline constexpr std::size_t max_chunk_extension_bytes = 256;
/// Room in the read buffer past the header limit, for a chunk-size line or what follows the last chunk;
/// never past `http_args::max_header_limit`, so no trailer field can be longer than Beast holds.
inline constexpr std::size_t read_buffer_slack = 1024;
/// How long a connection over a limit has to send `GET /healthz` before it is closed.
inline constexpr std::chrono::seconds refused_read_deadline{2};

/// Sets a deadline on a socket stream; other streams (the fuzz harness's in-memory one) have none.
template <class Protocol, class Executor, class RatePolicy>
void set_deadline(beast::basic_stream<Protocol, Executor, RatePolicy>& s, std::chrono::steady_clock::duration d) {
    s.expires_after(d);
}
template <class Stream>
void set_deadline(Stream&, std::chrono::steady_clock::duration) {}
/// Ends the sending side (the client sees the end of the response); the socket closes with the session.
template <class Protocol, class Executor, class RatePolicy>
void shutdown_send(beast::basic_stream<Protocol, Executor, RatePolicy>& s) {
    beast::error_code ec;
    s.socket().shutdown(Protocol::socket::shutdown_send, ec);
}
template <class Stream>
void shutdown_send(Stream& s) {
    s.close();
}

/// An HTTP/1.1 connection: reads requests one at a time under a deadline, answers, keeps alive. A
/// template on its stream so the fuzz target drives this same code over an in-memory stream.
template <class Stream>
class basic_http_session : public std::enable_shared_from_this<basic_http_session<Stream>> {
public:
    using state_type = basic_http_state<Stream>;

    basic_http_session(std::shared_ptr<state_type> st, Stream&& stream, std::uint64_t id, connection_slot slot)
        : state_(std::move(st)), stream_(std::move(stream)), id_(id), slot_(std::move(slot)),
          buffer_(std::min(state_->args.max_header_bytes + read_buffer_slack, http_args::max_header_limit)) {}

    void start() {
        asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&basic_http_session::read, this->shared_from_this()));
    }
    /// Over a connection limit: the one request it may make, within a short deadline, is `GET /healthz`
    /// (so a full server still answers its health check); anything else gets `why` (503), then a close.
    void refuse(http_response why) {
        refusal_ = std::move(why);
        start();
    }

private:
    /// Runs a handler's body; an exception closes this connection only (and is counted).
    template <class Body>
    void guarded(Body&& body) {
        run_guarded(state_->counters, body, [this] { beast::get_lowest_layer(stream_).close(); });
    }

    void read() {
        guarded([&] {
            head_ = false;
            parser_.emplace();
            parser_->body_limit(state_->args.max_body_bytes);
            parser_->header_limit(static_cast<std::uint32_t>(state_->args.max_header_bytes));
            // Chunk extensions are not counted by Beast's limits; the server uses none, so a long one is refused.
            parser_->on_chunk_header(refuse_long_extensions_);
            if (refusal_) set_deadline(stream_, refused_read_deadline);
            else set_deadline(stream_, std::chrono::seconds(state_->args.idle_timeout_seconds));
            bhttp::async_read(stream_, buffer_, *parser_,
                              beast::bind_front_handler(&basic_http_session::on_read, this->shared_from_this()));
        });
    }

    void on_read(beast::error_code ec, std::size_t) {
        guarded([&] { handle_read(ec); });
    }
    void handle_read(beast::error_code ec) {
        if (ec == bhttp::error::end_of_stream) return close();
        if (ec == beast::error::timeout) {
            state_->counters.timeouts.fetch_add(1);
            return;  // the stream is closed by its deadline
        }
        if (ec == bhttp::error::body_limit)
            return respond(http_response::error(413, std::string(packet_errors::too_large),
                                                "request body over the limit of " +
                                                    std::to_string(state_->args.max_body_bytes) + " bytes"),
                           false, 11);
        // The read buffer holds at most the header limit (and a little): a header, or a chunk-size line or
        // trailer part, that does not fit in it overflows it.
        bool const in_body = ec == bhttp::error::buffer_overflow && parser_->is_header_done();
        if (ec == bhttp::error::header_limit || (ec == bhttp::error::buffer_overflow && !in_body))
            return respond(http_response::error(431, "header_too_large",
                                                "request header over the limit of " +
                                                    std::to_string(state_->args.max_header_bytes) + " bytes"),
                           false, 11);
        if (in_body || ec == bhttp::error::bad_chunk_extension)
            return respond(http_response::error(400, "bad_request",
                                                "chunk extension or trailer over the limit (extensions: " +
                                                    std::to_string(max_chunk_extension_bytes) + " bytes, trailers: " +
                                                    std::to_string(state_->args.max_header_bytes) + " bytes)"),
                           false, 11);
        if (ec) {
            if (ec == asio::error::operation_aborted || ec == asio::error::eof || ec == asio::error::connection_reset) return;
            return respond(http_response::error(400, "bad_request", "malformed HTTP request"), false, 11);
        }
        auto req = parser_->release();
        host_.clear();
        if (auto h = req.find(bhttp::field::host); h != req.end()) host_ = std::string(h->value());
        head_ = req.method() == bhttp::verb::head;
        if (refusal_) {
            bool const health = (req.method() == bhttp::verb::get || head_) && req.target() == "/healthz";
            return respond(health ? route(*state_, http_request{std::string(req.method_string()), "/healthz", {}, {}, {}, {}})
                                  : *refusal_,
                           false, req.version());
        }
        if (websocket::is_upgrade(req)) {
            if (req.target() != "/ws")
                return respond(http_response::error(404, "not_found", "WebSocket endpoint is /ws"), false, req.version());
            if constexpr (requires { stream_.release_socket(); }) {
                // The connection and its slot now belong to the WebSocket.
                std::make_shared<basic_ws_session<Stream>>(state_, stream_.release_socket(), id_, std::move(slot_))
                    ->start(std::move(req));
                return;
            } else {
                return respond(http_response::error(501, "not_implemented", "no WebSocket on this stream"), false,
                               req.version());
            }
        }
        serve(req);
    }

    void serve(bhttp::request<bhttp::string_body>& req) {
        bool const keep_alive = req.keep_alive();
        unsigned const version = req.version();
        http_request r;
        r.method = std::string(req.method_string());
        auto const raw_target = req.target();
        std::string_view target{raw_target.data(), raw_target.size()};
        auto q = target.find('?');
        r.path = std::string(target.substr(0, q));
        if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
        r.body = std::move(req.body());
        if (auto it = req.find(bhttp::field::authorization); it != req.end()) r.authorization = std::string(it->value());
        for (auto const& field : req) {
            auto name = field.name_string();
            if (name.size() > 2 && (name[0] == 'x' || name[0] == 'X') && name[1] == '-') {
                std::string lower(name.data(), name.size());
                for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                r.x_headers.emplace_back(std::move(lower), std::string(field.value()));
            }
        }
        if (auto type = packet_endpoint(r)) {
            // A packet joins the group being gathered; its reply comes back on this connection's strand.
            state_->enqueue({std::move(r.body), *type, [self = this->shared_from_this(), keep_alive, version](packet reply, nlohmann::json id) {
                                 http_response res{status_for(reply), "application/json",
                                                   reply_text(reply, id.is_null() ? nullptr : &id)};
                                 asio::dispatch(self->stream_.get_executor(), [self, res = std::move(res), keep_alive, version]() mutable {
                                     self->guarded([&] { self->respond(std::move(res), keep_alive, version); });
                                 });
                             }});
            return;
        }
        respond(route(*state_, r), keep_alive, version);
    }

    /// Sends `r`; a refused token from an address that keeps sending bad ones waits first (`reply_delay`).
    void respond(http_response r, bool keep_alive, unsigned version) {
        auto const delay = state_->auth_failures.reply_delay(slot_.address(), is_auth_failure(r.status));
        if (delay.count() > 0) {
            set_deadline(stream_, delay + std::chrono::seconds(state_->args.idle_timeout_seconds));
            auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), delay);
            timer->async_wait([self = this->shared_from_this(), timer, r = std::move(r), keep_alive, version](beast::error_code) mutable {
                self->guarded([&] { self->write(std::move(r), keep_alive, version); });
            });
            return;
        }
        write(std::move(r), keep_alive, version);
    }

    void write(http_response r, bool keep_alive, unsigned version) {
        state_->counters.response(r.status);
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
        res->set(bhttp::field::server, "crowdline");
        res->set(bhttp::field::content_type, r.content_type);
        res->set(bhttp::field::cache_control, "no-store");
        res->set("X-Content-Type-Options", "nosniff");
        res->set("Content-Security-Policy",
                 content_security_policy(websocket_host(state_->args.public_url, host_)));
        res->set("Referrer-Policy", "no-referrer");
        res->set("X-Frame-Options", "DENY");
        res->keep_alive(keep_alive);
        res->body() = std::move(r.body);
        res->prepare_payload();
        if (head_) res->body().clear();  // HEAD: the GET's Content-Length, no body
        set_deadline(stream_, std::chrono::seconds(state_->args.idle_timeout_seconds));
        bhttp::async_write(stream_, *res,
                           [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
                               if (ec) return;
                               self->guarded([&] {
                                   if (!keep_alive) return self->close();
                                   self->read();
                               });
                           });
    }

    void close() { shutdown_send(stream_); }

    std::shared_ptr<state_type> state_;
    Stream stream_;
    std::uint64_t id_;
    connection_slot slot_;
    beast::flat_buffer buffer_;  ///< capped: no part of a request that Beast does not count grows it
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::string host_;  ///< the Host header of the request being answered (for the CSP's WebSocket source)
    bool head_ = false;  ///< the request being answered is HEAD
    std::optional<http_response> refusal_;  ///< over a limit: what anything but /healthz gets
    /// The parser keeps a reference to its chunk-header callback, so it lives here.
    struct {
        void operator()(std::uint64_t, beast::string_view extensions, beast::error_code& ec) const {
            if (extensions.size() > max_chunk_extension_bytes) ec = bhttp::error::bad_chunk_extension;
        }
    } refuse_long_extensions_;
};

}  // namespace crowdline::architects::detail
