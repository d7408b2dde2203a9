#pragma once
/// What the server counts (`http_counters`: atomics any session updates without a lock) and the
/// Prometheus text `/metrics` prints from them.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace crowdline::architects::detail {

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

/// The server's own lines of `/metrics` (Prometheus text format); `addresses_slowed` comes from the
/// auth-failure table (`auth_failure_table::addresses_slowed`).
inline std::string metrics_text(http_counters const& c, std::size_t addresses_slowed) {
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
         addresses_slowed);
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
    return out;
}

}  // namespace crowdline::architects::detail
