#pragma once
/// `architects::http`: the architect a team runs — HTTP/1.1 and WebSocket on Boost.Beast/Asio, serving the
/// worker and review pages (embedded in the header: nothing to deploy), the packet API, `/healthz` and
/// Prometheus `/metrics`. It models `crowdline::architect`, so it drops into the same pipeline as
/// `in_process`.
///
/// Endpoints:
///  - `GET /`, `/worker.html`, `/review`, `/review.html`: the embedded pages, and their scripts and styles
///    (`/worker.js`, `/worker.css`, `/review.js`, `/review.css`); any other path is 404: the asset table is
///    the only thing served, so `..` can reach nothing;
///  - `GET /ws`: WebSocket; each text message is a packet `{id?, type, agent?, data}`, each reply carries
///    the request's `id`; the server's pushes (`channel().send`) arrive without one;
///  - `POST /api/packet` (body: a packet) and `POST /api/<type>` (body: `{agent?, data?}`): one request,
///    one reply packet; error replies map to HTTP statuses (`status_for`);
///  - `GET /healthz`, `GET /metrics`, and whatever the application adds with `route` (the review API).
///
/// Every response carries a Content-Security-Policy that lets a page run only the scripts and styles the
/// server serves (no inline code: the pages load `/worker.js`, `/review.css`, …), talk only to this host
/// (its WebSocket included) and never be framed; `Referrer-Policy: no-referrer`, since an invite token is
/// in the worker page's URL; `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`.
///
/// Limits (docs/server.md, "Limits and what a hostile client gets"): body size (413), header size, chunk
/// extensions and trailers (431 / 400; the read buffer is capped, so no part of a request grows memory
/// unbounded), JSON depth (400), connections (503 past `max_connections` or `max_connections_per_address`,
/// but `GET /healthz` is still answered), a deadline on every read, so a slow or silent client is cut off
/// after `idle_timeout_seconds`, a byte cap on what waits to be sent to a WebSocket (`max_queued_bytes`;
/// reading pauses before it), WebSockets that send nothing for `ws_silence_timeout_seconds` are closed, and
/// an address that keeps sending bad tokens gets its refusals more and more slowly. No input ends the
/// process: an exception on an I/O thread closes that one connection and is counted. A WebSocket that
/// closes counts as a disconnect only after `disconnect_grace_seconds`: a reloaded page that comes back
/// with `init` keeps its unit.
///
/// Threads: `threads` I/O threads run the sessions; handlers run on them (the pipeline serialises itself).
///
/// Its parts, in the order a packet meets them: `detail/http_listener.hpp` accepts the connection and takes
/// its slot in the limits (`detail/http_limits.hpp`); `detail/http_session.hpp` reads the request, or hands
/// the connection to `detail/ws_session.hpp`; `detail/http_router.hpp` answers what is not a packet; a
/// packet joins the group commit of `detail/http_state.hpp`, whose one transaction runs the handler
/// installed on `http_channel` (the pipeline, then the store). Settings: `http_args`; what a route sees and
/// answers: `architect/http_route.hpp`; the counters and `/metrics`: `detail/http_metrics.hpp`.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_listener.hpp>
#include <crowdline/architect/detail/http_state.hpp>
#include <crowdline/architect/detail/ws_session.hpp>
#include <crowdline/architect/http_args.hpp>
#include <crowdline/architect/http_channel.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects {

/// How `basic_http` carries its connections: a TCP socket in a `beast::tcp_stream` (deadlines on every
/// read and write). The server and its sessions are templates on it, so a TU that includes this header
/// but runs no server compiles none of the Asio and Beast operations behind them.
struct tcp_transport {
    using stream = boost::beast::tcp_stream;
};

/// The HTTP/WebSocket architect (`http` is `basic_http<tcp_transport>`). prepare() binds the port (so a busy
/// port fails early, and `port()` is known), deploy() starts the I/O threads and returns the URL, shutdown()
/// stops and joins them (final).
template <class Transport>
class basic_http {
    using stream_type = typename Transport::stream;
    using state_type = detail::basic_http_state<stream_type>;
    using listener_type = detail::basic_http_listener<stream_type>;

public:
    using args_type = http_args;

    /// Refuses invalid args with `config_error` naming the key.
    explicit basic_http(args_type args = {}) : args_{(args.validate(), std::move(args))} {}
    basic_http(basic_http const&) = delete;
    basic_http& operator=(basic_http const&) = delete;
    ~basic_http() { shutdown(); }

    /// Binds and listens. A port in use (or an address that is not this machine's) → `crowdline::error`.
    void prepare() {
        std::lock_guard l{mutex_};
        if (stage_ == stage::shut_down) throw error("architects::http: prepare() after shutdown()");
        if (stage_ != stage::created) return;
        io_ = std::make_unique<boost::asio::io_context>(static_cast<int>(args_.threads));
        state_ = std::make_shared<state_type>(args_, channel_);
        state_->io = io_.get();
        state_->routes = std::move(pending_routes_);
        state_->metrics_source = std::move(pending_metrics_);
        boost::system::error_code ec;
        auto address = boost::asio::ip::make_address(args_.host, ec);
        if (ec) {  // a host name: its first address (one that does not resolve fails here, before anything else)
            boost::asio::ip::tcp::resolver resolver{*io_};
            auto const found = resolver.resolve(args_.host, "", ec);
            if (ec || found.empty())
                throw config_error("host: \"" + args_.host + "\" is neither an IP address nor a name that resolves (" +
                                   (ec ? ec.message() : std::string("no address")) + ")");
            address = found.begin()->endpoint().address();
        }
        listener_ = std::make_shared<listener_type>(state_, *io_, detail::tcp::endpoint{address, args_.port});
        channel_.state_ = state_;
        channel_.push_ = [](void* state, agent_id agent, packet const& p) {
            auto session = static_cast<state_type*>(state)->session_of(agent);
            if (!session) return false;
            session->push(detail::reply_text(p, nullptr));
            return true;
        };
        stage_ = stage::prepared;
    }

    /// Starts serving; returns the URL workers open.
    std::string deploy() {
        std::lock_guard l{mutex_};
        if (stage_ == stage::created) throw error("architects::http: deploy() before prepare()");
        if (stage_ == stage::shut_down) throw error("architects::http: deploy() after shutdown()");
        if (stage_ == stage::deployed) return url_locked();
        listener_->start();
        channel_.alive_ = true;
        // No input may end the process: an exception out of a handler (Beast's parser can throw) has closed
        // its connection by unwinding; the thread counts it and goes on serving.
        for (std::size_t i = 0; i < args_.threads; ++i)
            threads_.emplace_back([io = io_.get(), st = state_] {
                for (;;) {
                    try {
                        io->run();
                        return;
                    } catch (...) {
                        st->counters.exceptions.fetch_add(1);
                    }
                }
            });
        stage_ = stage::deployed;
        return url_locked();
    }

    /// Stops accepting, closes every connection, joins the threads. Later requests cannot connect.
    /// Called from one of the server's own threads (a pipeline finishing its run inside the handler of
    /// the last submission), it cannot join: it closes the door at once, lets the replies in flight go
    /// out for a moment, then stops the threads, which the next call from outside (or the destructor) joins.
    void shutdown() {
        std::lock_guard l{mutex_};
        channel_.alive_ = false;
        if (stage_ != stage::shut_down) {
            if (state_) state_->stopping = true;
            if (listener_) listener_->stop();
        }
        bool const on_own_thread = std::ranges::any_of(threads_, [](std::thread const& t) {
            return t.get_id() == std::this_thread::get_id();
        });
        if (on_own_thread) {
            if (stage_ != stage::shut_down && io_) {
                auto timer = std::make_shared<boost::asio::steady_timer>(*io_, std::chrono::milliseconds(200));
                timer->async_wait([timer, io = io_.get()](boost::system::error_code) { io->stop(); });
            }
            stage_ = stage::shut_down;
            return;
        }
        if (io_) io_->stop();
        for (auto& t : threads_) t.join();
        threads_.clear();
        listener_.reset();
        io_.reset();  // destroys pending handlers, and with them every session
        stage_ = stage::shut_down;
    }

    /// The channel the pipeline installs its handlers on.
    http_channel& channel() noexcept { return channel_; }

    /// Adds an endpoint (exact method and path), e.g. the review API. Before or after deploy().
    void route(std::string method, std::string path, route_handler handler) {
        auto h = std::make_shared<route_handler const>(std::move(handler));
        std::lock_guard l{mutex_};
        if (state_) {
            std::lock_guard r{state_->routes_mutex};
            state_->routes[{std::move(method), std::move(path)}] = std::move(h);
        } else {
            pending_routes_[{std::move(method), std::move(path)}] = std::move(h);
        }
    }
    /// More Prometheus text appended to `/metrics` (units by status, workers, steals …).
    void set_metrics_source(std::function<std::string()> source) {
        std::lock_guard l{mutex_};
        if (state_) {
            std::lock_guard r{state_->routes_mutex};
            state_->metrics_source = std::move(source);
        } else {
            pending_metrics_ = std::move(source);
        }
    }

    /// The port listened on (after prepare(); the real one when args said 0).
    [[nodiscard]] std::uint16_t port() const {
        std::lock_guard l{mutex_};
        if (!listener_) throw error("architects::http: port() before prepare()");
        return listener_->port();
    }
    [[nodiscard]] std::string url() const {
        std::lock_guard l{mutex_};
        return url_locked();
    }
    [[nodiscard]] args_type const& args() const noexcept { return args_; }

private:
    enum class stage { created, prepared, deployed, shut_down };

    std::string url_locked() const {
        if (!args_.public_url.empty()) return args_.public_url;
        if (!listener_) return "http://" + args_.host + ":" + std::to_string(args_.port);
        return "http://" + args_.host + ":" + std::to_string(listener_->port());
    }

    args_type args_;
    http_channel channel_;
    mutable std::mutex mutex_;
    stage stage_ = stage::created;
    std::unique_ptr<boost::asio::io_context> io_;
    std::shared_ptr<state_type> state_;
    std::shared_ptr<listener_type> listener_;
    std::vector<std::thread> threads_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<route_handler const>> pending_routes_;
    std::function<std::string()> pending_metrics_;
};

using http = basic_http<tcp_transport>;

static_assert(channel<http_channel>, "architects::http_channel must model crowdline::channel");
static_assert(architect<http>, "architects::http must model crowdline::architect");

}  // namespace crowdline::architects
