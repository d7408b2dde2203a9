#pragma once
/// `architects::http_args`: the settings of an `http` architect, their descriptions and their checks.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>


#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

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

}  // namespace crowdline::architects

CROWDLINE_REFLECT(crowdline::architects::http_args, host, port, public_url, threads, max_body_bytes,
                  max_header_bytes, max_json_depth, max_connections, idle_timeout_seconds,
                  disconnect_grace_seconds, max_connections_per_address, max_queued_bytes,
                  ws_silence_timeout_seconds, metrics_token);
