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

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_assets.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects {

/// Settings of an `http` architect (reflected: loads from JSON / `key=value` like any args struct).
struct http_args {
    std::string host = "127.0.0.1";               ///< address to listen on
    std::uint16_t port = 8080;                    ///< 0 picks a free port (see `http::port()`)
    std::string public_url{};                     ///< what deploy() returns; empty → http://host:port
    std::size_t threads = 2;                      ///< I/O threads
    std::size_t max_body_bytes = std::size_t{1} << 20;  ///< larger bodies and messages → 413 / too_large
    std::size_t max_header_bytes = 8192;          ///< larger request headers → 431
    std::size_t max_json_depth = 64;              ///< deeper JSON → 400 / too_deep
    std::size_t max_connections = 1024;           ///< more open connections → 503 and closed
    std::size_t idle_timeout_seconds = 30;        ///< a request (or WebSocket silence) longer than this is cut off
    std::size_t disconnect_grace_seconds = 10;    ///< a closed WebSocket's units wait this long for a reload
    std::size_t max_connections_per_address = 64;  ///< more from one client address → 503 and closed
    std::size_t max_queued_bytes = std::size_t{4} << 20;  ///< more waiting to be sent to one WebSocket → closed
    std::size_t ws_silence_timeout_seconds = 120;  ///< a WebSocket that sends no message this long is closed
    std::string metrics_token{};                  ///< when set, `/metrics` needs `Authorization: Bearer <it>`

    /// Beast's `basic_fields` keeps a field's name and value lengths in 16 bits and throws past them; a
    /// header block no longer than this cannot hold such a field.
    static constexpr std::size_t max_header_limit = 65535;
    /// The worker page (assets/worker.js) sends a heartbeat this often; the silence timeout must stay well above it.
    static constexpr std::size_t page_heartbeat_seconds = 10;

    static constexpr std::array<config::description, 14> descriptions{{
        {"host", "address to listen on (127.0.0.1 for this machine only, 0.0.0.0 for every interface)"},
        {"port", "TCP port; 0 picks a free one"},
        {"public_url", "the URL workers open, when the server is behind a proxy; empty: http://host:port"},
        {"threads", "I/O threads"},
        {"max_body_bytes", "largest request body or WebSocket message, in bytes"},
        {"max_header_bytes", "largest request header block, in bytes"},
        {"max_json_depth", "deepest JSON nesting accepted in a request"},
        {"max_connections", "most connections open at once; more are refused with 503"},
        {"idle_timeout_seconds", "longest time a request may take to arrive, or a WebSocket may stay silent"},
        {"disconnect_grace_seconds", "how long a closed page keeps its unit, waiting for a reload"},
        {"max_connections_per_address", "most connections open at once from one client address; more get 503"},
        {"max_queued_bytes", "most bytes waiting to be sent to one WebSocket; a client that does not read past it is closed"},
        {"ws_silence_timeout_seconds",
         "a WebSocket that sends no message for this long is closed, even if it answers pings (the page sends a "
         "heartbeat every 10 s)"},
        {"metrics_token", "when set, /metrics answers only requests with Authorization: Bearer <this token>"},
    }};

    /// Each problem names its key.
    void validate() const {
        if (host.empty()) throw config_error("host: must not be empty");
        if (threads == 0 || threads > 64) throw config_error("threads: must be between 1 and 64");
        if (max_body_bytes < 1024) throw config_error("max_body_bytes: must be at least 1024");
        if (max_header_bytes < 1024) throw config_error("max_header_bytes: must be at least 1024");
        if (max_header_bytes > max_header_limit)
            throw config_error("max_header_bytes: must be at most " + std::to_string(max_header_limit) +
                               " (the most Beast's parser holds in one header field)");
        if (max_json_depth == 0) throw config_error("max_json_depth: must be > 0");
        if (max_connections == 0) throw config_error("max_connections: must be > 0");
        if (idle_timeout_seconds == 0) throw config_error("idle_timeout_seconds: must be > 0");
        if (max_connections_per_address == 0) throw config_error("max_connections_per_address: must be > 0");
        if (max_queued_bytes < 65536) throw config_error("max_queued_bytes: must be at least 65536");
        if (ws_silence_timeout_seconds == 0) throw config_error("ws_silence_timeout_seconds: must be > 0");
    }
};

/// A request as a route handler sees it.
struct http_request {
    std::string method;         ///< "GET", "POST", …
    std::string path;           ///< the target before '?'
    std::string query;          ///< the target after '?', undecoded
    std::string body;
    std::string authorization;  ///< the Authorization header, as sent

    /// The value of `name` in the query string, percent-decoded; nullopt when absent.
    [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
    /// The token of an `Authorization: Bearer <token>` header; empty when there is none.
    [[nodiscard]] std::string bearer_token() const {
        constexpr std::string_view scheme = "Bearer ";
        if (authorization.size() <= scheme.size() || authorization.compare(0, scheme.size(), scheme) != 0) return {};
        return authorization.substr(scheme.size());
    }
};

/// What a route handler answers.
struct http_response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;

    [[nodiscard]] static http_response json(unsigned status, nlohmann::json const& j) {
        return {status, "application/json", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    }
    /// `{"error": {"reason", "message"}}` — the shape every refusal of the HTTP API has.
    [[nodiscard]] static http_response error(unsigned status, std::string_view reason, std::string_view message) {
        return json(status, {{"error", {{"reason", reason}, {"message", message}}}});
    }
};

using route_handler = std::function<http_response(http_request const&)>;

/// The HTTP status an error packet maps to (a non-error reply is 200).
[[nodiscard]] inline unsigned status_for(packet const& reply) {
    if (!reply.is_error()) return 200;
    auto reason = reply.data.value("reason", std::string{});
    if (reason == packet_errors::too_large) return 413;
    if (reason == "forbidden" || reason == "revoked" || reason == "not_your_unit") return 403;
    if (reason == "unknown_agent" || reason == packet_errors::not_found) return 404;
    if (reason == packet_errors::conflict) return 409;
    if (reason == packet_errors::unavailable || reason == packet_errors::no_handler) return 503;
    if (reason == packet_errors::internal_error) return 500;
    return 400;
}

namespace detail {

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Percent-decoding ('+' is a space); a broken escape is kept as written.
inline std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

/// Whether `host` is a host name, an IPv4 or a bracketed IPv6 address, with an optional port: nothing that
/// could add a directive to a Content-Security-Policy.
inline bool is_plain_host(std::string_view host) noexcept {
    if (host.empty() || host.size() > 261) return false;
    for (char c : host)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']'))
            return false;
    return true;
}

/// The host (and port) the pages' WebSocket connects to: that of `public_url` when one is set (behind a
/// proxy, the Host header the server sees may be the proxy's upstream), else the request's Host header.
/// Empty when it is not a plain host (`is_plain_host`).
inline std::string websocket_host(std::string_view public_url, std::string_view host_header) {
    std::string_view host = host_header;
    if (!public_url.empty()) {
        host = public_url;
        if (auto scheme = host.find("://"); scheme != std::string_view::npos) host.remove_prefix(scheme + 3);
        host = host.substr(0, host.find_first_of("/?#"));
    }
    return is_plain_host(host) ? std::string(host) : std::string{};
}

/// The Content-Security-Policy of every response: the served files only, no inline script or style, no
/// eval, connections to this origin and its WebSocket (`ws://` and `wss://` of `websocket_host`, since not
/// every browser counts those as 'self'), images from here or `data:`, no framing, no `<base>`, forms
/// posted here only.
inline std::string content_security_policy(std::string_view websocket_host) {
    std::string connect = "'self'";
    if (is_plain_host(websocket_host)) {
        connect += " ws://" + std::string(websocket_host);
        connect += " wss://" + std::string(websocket_host);
    }
    return "default-src 'self'; script-src 'self'; style-src 'self'; connect-src " + connect +
           "; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
}

/// Request latency buckets (seconds) of the `/metrics` histogram.
inline constexpr std::array<double, 10> latency_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5};

/// Counters `/metrics` prints; atomics, so sessions on any thread update them without a lock.
struct http_counters {
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::uint64_t> connections_refused{0};
    std::atomic<std::uint64_t> websockets_open{0};
    std::atomic<std::uint64_t> timeouts{0};
    std::array<std::atomic<std::uint64_t>, 6> responses_by_class{};  ///< 1xx … 5xx (index 1..5)
    std::array<std::atomic<std::uint64_t>, latency_buckets.size() + 1> packet_latency{};  ///< last: +Inf
    std::atomic<std::uint64_t> packet_latency_sum_ns{0};
    std::atomic<std::uint64_t> packets{0};
    std::atomic<std::uint64_t> groups{0};  ///< groups of packets handled together (one commit each)
    std::atomic<std::uint64_t> refused_per_address{0};  ///< refused at `max_connections_per_address`
    std::atomic<std::uint64_t> exceptions{0};        ///< exceptions caught on I/O threads (connection closed)
    std::atomic<std::uint64_t> ws_overflows{0};      ///< WebSockets closed at `max_queued_bytes`
    std::atomic<std::uint64_t> ws_silent{0};         ///< WebSockets closed after `ws_silence_timeout_seconds`
    std::atomic<std::uint64_t> auth_failures{0};     ///< 401/403 replies (bad or unknown tokens)

    void observe(std::chrono::nanoseconds took) noexcept {
        auto seconds = std::chrono::duration<double>(took).count();
        std::size_t b = 0;
        while (b < latency_buckets.size() && seconds > latency_buckets[b]) ++b;
        packet_latency[b].fetch_add(1, std::memory_order_relaxed);
        packet_latency_sum_ns.fetch_add(static_cast<std::uint64_t>(took.count()), std::memory_order_relaxed);
        packets.fetch_add(1, std::memory_order_relaxed);
    }
    void response(unsigned status) noexcept {
        auto c = status / 100;
        if (c >= 1 && c <= 5) responses_by_class[c].fetch_add(1, std::memory_order_relaxed);
    }
};

class http_state;
struct http_harness;

}  // namespace detail

inline std::optional<std::string> http_request::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto pair = q.substr(0, amp);
        auto eq = pair.find('=');
        if (detail::percent_decode(pair.substr(0, eq)) == name)
            return eq == std::string_view::npos ? std::string{} : detail::percent_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

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
    bool send(agent_id agent, packet const& p);
    void on_message(message_handler handler) {
        std::lock_guard l{mutex_};
        message_ = handler ? std::make_shared<message_handler const>(std::move(handler)) : nullptr;
    }
    void on_disconnect(disconnect_handler handler) {
        std::lock_guard l{mutex_};
        disconnect_ = handler ? std::make_shared<disconnect_handler const>(std::move(handler)) : nullptr;
    }
    /// Runs a group of requests as one: the handler calls its argument (which makes the requests) once,
    /// and throws if the group as a whole failed. The pipeline makes it one store transaction, so packets
    /// that arrive together cost one commit, and none is answered before that commit (group commit).
    using batch_handler = std::function<void(std::function<void()> const&)>;
    void on_batch(batch_handler handler) {
        std::lock_guard l{mutex_};
        batch_ = handler ? std::make_shared<batch_handler const>(std::move(handler)) : nullptr;
    }
    /// True between deploy() and shutdown().
    [[nodiscard]] bool is_alive() const { return alive_.load(); }

    /// Runs `body` (which calls `request`) inside the batch handler, or plainly when there is none. False
    /// when the group failed as a whole: nothing of it was kept, so no success may be sent for it.
    bool batch(std::function<void()> const& body) {
        std::shared_ptr<batch_handler const> handler;
        {
            std::lock_guard l{mutex_};
            handler = batch_;
        }
        if (!handler) {
            body();
            return true;
        }
        try {
            (*handler)(body);
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
    std::shared_ptr<batch_handler const> batch_;
    std::weak_ptr<detail::http_state> state_;
};

namespace detail {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

class ws_session;
class http_state;

/// Longest chunk extension accepted: the server uses none, so they only cost memory and time.
inline constexpr std::size_t max_chunk_extension_bytes = 256;
/// Room in the read buffer past the header limit, for a chunk-size line or what follows the last chunk;
/// never past `http_args::max_header_limit`, so no trailer field can be longer than Beast holds.
inline constexpr std::size_t read_buffer_slack = 1024;
/// How long a connection over a limit has to send `GET /healthz` before it is closed.
inline constexpr std::chrono::seconds refused_read_deadline{2};
/// Bad-token replies an address gets at full speed; after them each refusal waits `auth_delay_step`,
/// doubled on each further failure, up to `max_auth_delay`. A failure older than `auth_failure_memory` is forgotten.
inline constexpr std::uint64_t free_auth_failures = 3;
inline constexpr std::chrono::milliseconds auth_delay_step{50};
inline constexpr std::chrono::milliseconds max_auth_delay{2000};
inline constexpr std::chrono::minutes auth_failure_memory{15};
/// Addresses whose failures are remembered; past it the one whose last failure is oldest is forgotten.
inline constexpr std::size_t max_tracked_addresses = 4096;

/// Whether a reply refuses a token (an unknown or wrong invite, agent or requester token): what guessing gets.
[[nodiscard]] inline bool is_auth_failure(unsigned status) noexcept { return status == 401 || status == 403; }

/// One connection's place in the limits: counted in `connections_open` and in its address's count while it
/// lives; moves from the HTTP session to the WebSocket it becomes.
class connection_slot {
public:
    connection_slot() = default;
    connection_slot(std::shared_ptr<http_state> st, asio::ip::address a) : state_(std::move(st)), address_(std::move(a)) {}
    connection_slot(connection_slot&& o) noexcept : state_(std::move(o.state_)), address_(o.address_) {}
    connection_slot& operator=(connection_slot&& o) noexcept {
        if (this != &o) {
            release();
            state_ = std::move(o.state_);
            address_ = o.address_;
        }
        return *this;
    }
    connection_slot(connection_slot const&) = delete;
    connection_slot& operator=(connection_slot const&) = delete;
    ~connection_slot() { release(); }
    /// The client's address; unspecified for a connection that is not a socket (the fuzz harness).
    [[nodiscard]] asio::ip::address const& address() const noexcept { return address_; }

private:
    void release() noexcept;
    std::shared_ptr<http_state> state_;
    asio::ip::address address_;
};

/// What every session shares with the server: settings, routes, counters, and which WebSocket holds
/// which agent. Held by shared_ptr, so a session outliving `http::shutdown` touches nothing freed.
class http_state : public std::enable_shared_from_this<http_state> {
public:
    http_state(http_args a, http_channel& ch) : args(std::move(a)), channel(ch) {}

    http_args args;
    http_channel& channel;
    http_counters counters;
    std::atomic<bool> stopping{false};
    asio::io_context* io = nullptr;

    std::mutex routes_mutex;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<route_handler const>> routes;
    std::function<std::string()> metrics_source;

    // --- agent ↔ WebSocket bindings ------------------------------------------------------------------
    /// The session that last served `agent`; a reload re-binds it to the new socket.
    void bind(agent_id agent, std::uint64_t session, std::weak_ptr<ws_session> s) {
        std::lock_guard l{bind_mutex_};
        bound_[agent] = {session, std::move(s)};
    }
    /// The agent is finished (submitted, released): nothing to tell when its socket closes.
    void unbind(agent_id agent) {
        std::lock_guard l{bind_mutex_};
        bound_.erase(agent);
    }
    std::shared_ptr<ws_session> session_of(agent_id agent) {
        std::lock_guard l{bind_mutex_};
        auto it = bound_.find(agent);
        return it == bound_.end() ? nullptr : it->second.second.lock();
    }
    /// A WebSocket closed: after the grace period, each agent it still holds is a disconnect.
    void closed(std::uint64_t session, std::vector<agent_id> agents);

    // --- connection slots ------------------------------------------------------------------------------
    /// Takes a slot for a new connection from `a`; `refusal` says why it is over a limit (empty when not).
    connection_slot open_connection(asio::ip::address const& a, std::optional<http_response>& refusal) {
        counters.connections_total.fetch_add(1);
        auto const open = counters.connections_open.fetch_add(1) + 1;
        std::size_t from_address = 0;
        {
            std::lock_guard l{slots_mutex_};
            from_address = ++per_address_[a];
        }
        connection_slot slot{shared_from_this(), a};
        if (open > args.max_connections) {
            counters.connections_refused.fetch_add(1);
            refusal = http_response::error(503, "too_many_connections", "the server is at its connection limit");
        } else if (from_address > args.max_connections_per_address) {
            counters.connections_refused.fetch_add(1);
            counters.refused_per_address.fetch_add(1);
            refusal = http_response::error(503, "too_many_connections",
                                           "too many connections from " + a.to_string() + " (limit " +
                                               std::to_string(args.max_connections_per_address) + ")");
        }
        return slot;
    }
    void close_connection(asio::ip::address const& a) noexcept {
        counters.connections_open.fetch_sub(1);
        std::lock_guard l{slots_mutex_};
        if (auto it = per_address_.find(a); it != per_address_.end() && --it->second == 0) per_address_.erase(it);
    }

    // --- guessing ----------------------------------------------------------------------------------------
    /// How long a reply to `a` waits; `failed`: this reply refuses a token. Only refusals wait: the
    /// guesser is slowed, while the other requests from its address (a NAT, the requester's dashboard on
    /// the same machine as a page with a stale token) are not.
    std::chrono::milliseconds reply_delay(asio::ip::address const& a, bool failed) {
        if (!failed || a.is_unspecified()) return std::chrono::milliseconds{0};
        counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
        auto const now = std::chrono::steady_clock::now();
        auto const key = a.to_string();
        std::lock_guard l{auth_mutex_};
        auto it = auth_.find(key);
        if (it == auth_.end()) {
            if (auth_.size() >= max_tracked_addresses) forget(auth_order_.begin()->second);
            it = auth_.emplace(key, auth_entry{}).first;
        }
        auto& e = it->second;
        if (now - e.last > auth_failure_memory) {
            if (e.failures > free_auth_failures) slowed_.fetch_sub(1);
            e.failures = 0;
        }
        if (++e.failures == free_auth_failures + 1) slowed_.fetch_add(1);
        auth_order_.erase(e.order);
        e.order = ++auth_sequence_;
        auth_order_[e.order] = key;
        e.last = now;
        if (e.failures <= free_auth_failures) return std::chrono::milliseconds{0};
        auto const doublings = std::min<std::uint64_t>(e.failures - free_auth_failures - 1, 16);
        return std::min(max_auth_delay, auth_delay_step * (std::int64_t{1} << doublings));
    }
    /// Addresses whose replies are being slowed now.
    [[nodiscard]] std::size_t addresses_slowed() const noexcept { return slowed_.load(std::memory_order_relaxed); }

    // --- group commit ----------------------------------------------------------------------------------
    /// A packet waiting for its group; `done` gets the reply and the request's id (it posts to its session).
    struct queued_packet {
        std::string text;
        std::optional<std::string_view> type;
        std::function<void(packet, nlohmann::json)> done;
    };
    /// Queues a packet; the first of a group posts the flush, which runs after the I/O completions already
    /// waiting, so every request that arrived meanwhile joins the same group. No timer: an idle server
    /// answers a lone packet as soon as before, a busy one answers many per commit.
    void enqueue(queued_packet p);

private:
    void flush();

    std::mutex queue_mutex_;
    std::vector<queued_packet> queue_;
    bool flush_posted_ = false;
    std::mutex bind_mutex_;
    std::unordered_map<agent_id, std::pair<std::uint64_t, std::weak_ptr<ws_session>>> bound_;

    std::mutex slots_mutex_;
    std::map<asio::ip::address, std::size_t> per_address_;

    struct auth_entry {
        std::uint64_t failures = 0;
        std::uint64_t order = 0;  ///< key in `auth_order_`
        std::chrono::steady_clock::time_point last{};
    };
    void forget(std::string const& key) {
        auto it = auth_.find(key);
        if (it == auth_.end()) return;
        if (it->second.failures > free_auth_failures) slowed_.fetch_sub(1);
        auth_order_.erase(it->second.order);
        auth_.erase(it);
    }
    std::mutex auth_mutex_;
    std::unordered_map<std::string, auth_entry> auth_;
    std::map<std::uint64_t, std::string> auth_order_;  ///< oldest failure first: what is evicted
    std::uint64_t auth_sequence_ = 0;
    std::atomic<std::size_t> slowed_{0};
};

inline void connection_slot::release() noexcept {
    if (state_) state_->close_connection(address_);
    state_.reset();
}

/// A reply packet as text, with the request's id when it had one.
inline std::string reply_text(packet const& reply, nlohmann::json const* id) {
    nlohmann::json j{{"type", reply.type}, {"data", reply.data}};
    j["agent"] = reply.agent ? nlohmann::json(reply.agent->value()) : nlohmann::json(nullptr);
    if (id) j["id"] = *id;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Handles one packet text; `id_out` receives the request id (when the text had one) so the caller can
/// echo it. Every refusal is an error packet; the handler never sees bad input.
inline packet handle_packet_text(http_state& st, std::string_view text, nlohmann::json& id_out,
                                 std::optional<std::string_view> forced_type = std::nullopt) {
    auto const started = std::chrono::steady_clock::now();
    packet reply;
    try {
        auto j = parse_message_json(text, st.args.max_body_bytes, st.args.max_json_depth);
        if (j.is_object()) {
            if (auto id = j.find("id"); id != j.end() && (id->is_number_integer() || id->is_string())) id_out = *id;
            if (forced_type) j["type"] = *forced_type;
        }
        reply = st.channel.request(packet_from_json(std::move(j)));
    } catch (bad_packet const& e) {
        reply = packet::error(e.reason, e.what());
    } catch (...) {
        reply = crowdline::detail::error_reply_for_current_exception();
    }
    st.counters.observe(std::chrono::steady_clock::now() - started);
    return reply;
}

inline void http_state::enqueue(queued_packet p) {
    if (io == nullptr) {  // not serving: nothing to group with
        nlohmann::json id;
        auto reply = handle_packet_text(*this, p.text, id, p.type);
        p.done(std::move(reply), std::move(id));
        return;
    }
    bool post = false;
    {
        std::lock_guard l{queue_mutex_};
        queue_.push_back(std::move(p));
        post = !std::exchange(flush_posted_, true);
    }
    if (post) asio::post(*io, [self = shared_from_this()] { self->flush(); });
}

inline void http_state::flush() {
    std::vector<queued_packet> group;
    {
        std::lock_guard l{queue_mutex_};
        group.swap(queue_);
        flush_posted_ = false;
    }
    if (group.empty()) return;
    std::vector<packet> replies(group.size());
    std::vector<nlohmann::json> ids(group.size());
    bool const saved = channel.batch([&] {
        for (std::size_t i = 0; i < group.size(); ++i)
            replies[i] = handle_packet_text(*this, group[i].text, ids[i], group[i].type);
    });
    counters.groups.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < group.size(); ++i) {
        if (!saved && !replies[i].is_error())
            replies[i] = packet::error(std::string(packet_errors::unavailable),
                                       "the server could not save this request (its store refused the commit); "
                                       "nothing of it was kept");
        group[i].done(std::move(replies[i]), std::move(ids[i]));
    }
}

/// A WebSocket: reads packets, replies in order, and carries the server's pushes, all on one strand.
/// Messages are read frame by frame against `max_body_bytes`, so one over it gets the `too_large` packet
/// before the close. What waits to be sent is capped (`max_queued_bytes`); past a quarter of it, reading
/// pauses until the client has read. A watchdog closes it when it stays silent past
/// `ws_silence_timeout_seconds` or does not read for `idle_timeout_seconds` while replies wait.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
    ws_session(std::shared_ptr<http_state> st, tcp::socket&& socket, std::uint64_t id, connection_slot slot)
        : state_(std::move(st)), ws_(std::move(socket)), id_(id), slot_(std::move(slot)),
          watchdog_(ws_.get_executor()) {}

    ~ws_session() {
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
        ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
    }

    /// From any thread: queue a text for this socket.
    void push(std::string text) {
        asio::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
            self->guarded([&] { self->queue(std::move(text)); });
        });
    }

private:
    /// Runs a handler's body; an exception closes this socket only (and is counted).
    template <class Body>
    void guarded(Body&& body) {
        try {
            body();
        } catch (...) {
            state_->counters.exceptions.fetch_add(1);
            drop();
        }
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
        watchdog_.async_wait([weak = weak_from_this()](beast::error_code ec) {
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
        ws_.async_read_some(buffer_, limit, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
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
                         [self = shared_from_this()](packet reply, nlohmann::json id) {
                             asio::post(self->ws_.get_executor(), [self, reply = std::move(reply), id = std::move(id)] {
                                 self->guarded([&] { self->answered(reply, id); });
                             });
                         }});
    }
    /// The reply to the last packet read: sent, and only then is the next one read (replies stay in order).
    /// A refused token from an address that keeps sending bad ones waits first.
    void answered(packet const& reply, nlohmann::json const& id) {
        auto const delay = state_->reply_delay(slot_.address(), is_auth_failure(status_for(reply)));
        if (delay.count() > 0) {
            auto timer = std::make_shared<asio::steady_timer>(ws_.get_executor(), delay);
            timer->async_wait([self = shared_from_this(), timer, reply, id](beast::error_code) {
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
            state_->bind(a, id_, weak_from_this());
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
        ws_.async_write(asio::buffer(outbox_.front()), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
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
                ws_.async_close(websocket::close_code::too_big, [self = shared_from_this()](beast::error_code) {});
        });
    }

    std::shared_ptr<http_state> state_;
    websocket::stream<beast::tcp_stream> ws_;
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

inline void http_state::closed(std::uint64_t session, std::vector<agent_id> agents) {
    if (agents.empty() || !io) return;
    auto timer = std::make_shared<asio::steady_timer>(*io, std::chrono::seconds(args.disconnect_grace_seconds));
    timer->async_wait([self = shared_from_this(), timer, session, agents = std::move(agents)](beast::error_code ec) {
        if (ec || self->stopping.load()) return;
        std::vector<agent_id> gone;
        {
            std::lock_guard l{self->bind_mutex_};
            for (auto a : agents)
                if (auto it = self->bound_.find(a); it != self->bound_.end() && it->second.first == session) {
                    self->bound_.erase(it);  // no reload picked it up on another socket
                    gone.push_back(a);
                }
        }
        std::shared_ptr<http_channel::disconnect_handler const> handler;
        {
            std::lock_guard l{self->channel.mutex_};
            handler = self->channel.disconnect_;
        }
        if (!handler) return;
        for (auto a : gone) {
            try {
                (*handler)(a);
            } catch (...) {  // a failing handler must not take the I/O thread down
            }
        }
    });
}

/// Sets a deadline on a socket stream; other streams (the fuzz harness's in-memory one) have none.
inline void set_deadline(beast::tcp_stream& s, std::chrono::steady_clock::duration d) { s.expires_after(d); }
template <class Stream>
void set_deadline(Stream&, std::chrono::steady_clock::duration) {}
/// Ends the sending side (the client sees the end of the response); the socket closes with the session.
inline void shutdown_send(beast::tcp_stream& s) {
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_send, ec);
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
    basic_http_session(std::shared_ptr<http_state> st, Stream&& stream, std::uint64_t id, connection_slot slot)
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
        try {
            body();
        } catch (...) {
            state_->counters.exceptions.fetch_add(1);
            beast::get_lowest_layer(stream_).close();
        }
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
            return respond(health ? route(http_request{std::string(req.method_string()), "/healthz", {}, {}, {}})
                                  : *refusal_,
                           false, req.version());
        }
        if (websocket::is_upgrade(req)) {
            if (req.target() != "/ws")
                return respond(http_response::error(404, "not_found", "WebSocket endpoint is /ws"), false, req.version());
            if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                // The connection and its slot now belong to the WebSocket.
                std::make_shared<ws_session>(state_, stream_.release_socket(), id_, std::move(slot_))->start(std::move(req));
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
        respond(route(r), keep_alive, version);
    }

    /// POST /api/packet (type from the body) or /api/<type>: the packet endpoints, answered by the channel.
    static std::optional<std::optional<std::string_view>> packet_endpoint(http_request const& r) {
        if (r.method != "POST" || !r.path.starts_with("/api/")) return std::nullopt;
        std::string_view rest = std::string_view(r.path).substr(5);
        if (rest == "packet") return std::optional<std::string_view>{};
        static constexpr std::array<std::string_view, 7> types{"register", "init",        "submit",           "heartbeat",
                                                               "release",  "live_update", "submit_onboarding"};
        for (auto t : types)
            if (rest == t) return std::optional<std::string_view>{t};
        return std::nullopt;
    }

    /// HEAD is answered as GET is, without the body (`respond`), on every route.
    http_response route(http_request const& r) {
        bool const get = r.method == "GET" || r.method == "HEAD";
        if (get) {
            if (r.path == "/healthz")
                return state_->channel.is_alive() ? http_response::json(200, {{"status", "ok"}})
                                                  : http_response::error(503, "unavailable", "not deployed");
            if (r.path == "/metrics") {
                auto const& token = state_->args.metrics_token;
                if (!token.empty() && !crowdline::same_token(r.bearer_token(), token))
                    return http_response::error(401, "unauthorized",
                                                "/metrics needs Authorization: Bearer <server.metrics_token>");
                return metrics();
            }
            std::string_view asset = r.path;
            if (asset == "/") asset = "/worker.html";
            else if (asset == "/review") asset = "/review.html";
            for (auto const& a : http_assets)
                if (a.path == asset) return {200, std::string(a.content_type), std::string(a.body)};
        }
        std::shared_ptr<route_handler const> handler;
        bool path_known = false;  ///< another method is served there: 405, not 404
        {
            std::lock_guard l{state_->routes_mutex};
            auto it = state_->routes.find({r.method, r.path});
            if (it == state_->routes.end() && r.method == "HEAD") it = state_->routes.find({"GET", r.path});
            if (it != state_->routes.end()) handler = it->second;
            else path_known = std::ranges::any_of(state_->routes, [&](auto const& route) { return route.first.second == r.path; });
        }
        if (handler) {
            try {
                return (*handler)(r);
            } catch (...) {
                auto e = crowdline::detail::error_reply_for_current_exception();
                return http_response::error(status_for(e), e.data.value("reason", ""), e.data.value("message", ""));
            }
        }
        if (path_known) return http_response::error(405, "method_not_allowed", r.method + " is not allowed on " + r.path);
        return http_response::error(404, "not_found", "no such page or endpoint");
    }

    http_response metrics() {
        auto& c = state_->counters;
        std::string out;
        auto line = [&](std::string_view name, std::string_view help, std::string_view type, auto value) {
            out += "# HELP " + std::string(name) + ' ' + std::string(help) + "\n# TYPE " + std::string(name) + ' ' +
                   std::string(type) + '\n' + std::string(name) + ' ' + std::to_string(value) + '\n';
        };
        line("crowdline_http_connections_open", "Connections open now.", "gauge", c.connections_open.load());
        line("crowdline_http_connections_total", "Connections accepted.", "counter", c.connections_total.load());
        line("crowdline_http_connections_refused_total", "Connections refused at the limit.", "counter",
             c.connections_refused.load());
        line("crowdline_http_connections_refused_per_address_total",
             "Connections refused at the limit per client address.", "counter", c.refused_per_address.load());
        line("crowdline_http_websockets_open", "WebSockets open now.", "gauge", c.websockets_open.load());
        line("crowdline_http_timeouts_total", "Requests or sockets cut off by the idle timeout.", "counter",
             c.timeouts.load());
        line("crowdline_http_websocket_overflows_total", "WebSockets closed because their replies were not read.",
             "counter", c.ws_overflows.load());
        line("crowdline_http_websocket_silent_total", "WebSockets closed after the silence timeout.", "counter",
             c.ws_silent.load());
        line("crowdline_http_exceptions_total", "Exceptions caught on I/O threads (each closed its connection).",
             "counter", c.exceptions.load());
        line("crowdline_http_auth_failures_total", "Replies refusing a token (401 and 403).", "counter",
             c.auth_failures.load());
        line("crowdline_http_addresses_slowed", "Client addresses whose token refusals are delayed.", "gauge",
             state_->addresses_slowed());
        out += "# HELP crowdline_http_responses_total HTTP responses by status class.\n"
               "# TYPE crowdline_http_responses_total counter\n";
        for (int k = 1; k <= 5; ++k)
            out += "crowdline_http_responses_total{class=\"" + std::to_string(k) + "xx\"} " +
                   std::to_string(c.responses_by_class[static_cast<std::size_t>(k)].load()) + '\n';
        out += "# HELP crowdline_request_duration_seconds Time to handle one packet (HTTP or WebSocket).\n"
               "# TYPE crowdline_request_duration_seconds histogram\n";
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= latency_buckets.size(); ++b) {
            cumulative += c.packet_latency[b].load();
            std::string le = b < latency_buckets.size() ? nlohmann::json(latency_buckets[b]).dump() : "+Inf";
            out += "crowdline_request_duration_seconds_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + '\n';
        }
        out += "crowdline_request_duration_seconds_sum " +
               nlohmann::json(static_cast<double>(c.packet_latency_sum_ns.load()) / 1e9).dump() + '\n';
        out += "crowdline_request_duration_seconds_count " + std::to_string(c.packets.load()) + '\n';
        line("crowdline_packet_groups_total", "Groups of packets handled together, one store commit each.", "counter",
             c.groups.load());
        std::function<std::string()> more;
        {
            std::lock_guard l{state_->routes_mutex};
            more = state_->metrics_source;
        }
        if (more) out += more();
        return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(out)};
    }

    /// Sends `r`; a refused token from an address that keeps sending bad ones waits first (`reply_delay`).
    void respond(http_response r, bool keep_alive, unsigned version) {
        auto const delay = state_->reply_delay(slot_.address(), is_auth_failure(r.status));
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

    std::shared_ptr<http_state> state_;
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

using http_session = basic_http_session<beast::tcp_stream>;

/// Accepts connections, each on its own strand, and enforces the connection limits.
class http_listener : public std::enable_shared_from_this<http_listener> {
public:
    http_listener(std::shared_ptr<http_state> st, asio::io_context& io, tcp::endpoint at)
        : state_(std::move(st)), io_(io), acceptor_(asio::make_strand(io)) {
        beast::error_code ec;
        acceptor_.open(at.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(at, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            throw error("architects::http: cannot listen on " + at.address().to_string() + ":" +
                        std::to_string(at.port()) + " (" + ec.message() + ")");
    }
    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    void start() { accept(); }
    void stop() {
        asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
            beast::error_code ec;
            self->acceptor_.close(ec);
        });
    }

private:
    void accept() {
        acceptor_.async_accept(asio::make_strand(io_), beast::bind_front_handler(&http_listener::on_accept, shared_from_this()));
    }
    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || state_->stopping.load()) return;
        if (!ec) {
            try {
                beast::error_code peer_ec;
                auto const peer = socket.remote_endpoint(peer_ec);
                if (!peer_ec) {
                    std::optional<http_response> refusal;
                    auto slot = state_->open_connection(peer.address(), refusal);
                    auto session = std::make_shared<http_session>(state_, beast::tcp_stream(std::move(socket)), ++next_id_,
                                                                  std::move(slot));
                    if (refusal) session->refuse(std::move(*refusal));
                    else session->start();
                }
            } catch (...) {  // e.g. out of memory: that connection is lost, the server goes on
                state_->counters.exceptions.fetch_add(1);
            }
        }
        accept();
    }

    std::shared_ptr<http_state> state_;
    asio::io_context& io_;
    tcp::acceptor acceptor_;
    std::uint64_t next_id_ = 0;
};

}  // namespace detail

inline bool http_channel::send(agent_id agent, packet const& p) {
    if (!alive_.load()) return false;
    auto st = state_.lock();
    if (!st) return false;
    auto session = st->session_of(agent);
    if (!session) return false;
    session->push(detail::reply_text(p, nullptr));
    return true;
}

/// The HTTP/WebSocket architect. prepare() binds the port (so a busy port fails early, and `port()` is
/// known), deploy() starts the I/O threads and returns the URL, shutdown() stops and joins them (final).
class http {
public:
    using args_type = http_args;

    /// Refuses invalid args with `config_error` naming the key.
    explicit http(args_type args = {}) : args_{(args.validate(), std::move(args))} {}
    http(http const&) = delete;
    http& operator=(http const&) = delete;
    ~http() { shutdown(); }

    /// Binds and listens. A port in use (or an address that is not this machine's) → `crowdline::error`.
    void prepare() {
        std::lock_guard l{mutex_};
        if (stage_ == stage::shut_down) throw error("architects::http: prepare() after shutdown()");
        if (stage_ != stage::created) return;
        io_ = std::make_unique<boost::asio::io_context>(static_cast<int>(args_.threads));
        state_ = std::make_shared<detail::http_state>(args_, channel_);
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
        listener_ = std::make_shared<detail::http_listener>(state_, *io_, detail::tcp::endpoint{address, args_.port});
        channel_.state_ = state_;
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
    std::shared_ptr<detail::http_state> state_;
    std::shared_ptr<detail::http_listener> listener_;
    std::vector<std::thread> threads_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<route_handler const>> pending_routes_;
    std::function<std::string()> pending_metrics_;
};

static_assert(channel<http_channel>, "architects::http_channel must model crowdline::channel");
static_assert(architect<http>, "architects::http must model crowdline::architect");

}  // namespace crowdline::architects

BOOST_HANA_ADAPT_STRUCT(crowdline::architects::http_args, host, port, public_url, threads, max_body_bytes,
                        max_header_bytes, max_json_depth, max_connections, idle_timeout_seconds,
                        disconnect_grace_seconds, max_connections_per_address, max_queued_bytes,
                        ws_silence_timeout_seconds, metrics_token);
