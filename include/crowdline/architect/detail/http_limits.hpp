#pragma once
/// Limits per client address: the connection slots (`max_connections`, `max_connections_per_address`)
/// and the auth-failure table that answers an address guessing tokens more and more slowly.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include <crowdline/architect/detail/http_metrics.hpp>
#include <crowdline/architect/http_route.hpp>

namespace crowdline::architects::detail {

namespace asio = boost::asio;

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

class connection_slot;

/// Connections open now from each client address; the totals are in `http_counters`.
class connection_limits {
public:
    connection_limits(std::size_t max_connections, std::size_t max_per_address, http_counters& counters) noexcept
        : max_connections_(max_connections), max_per_address_(max_per_address), counters_(counters) {}

    /// Takes a slot in `limits` for a new connection from `a`; `refusal` says why it is over a limit (empty
    /// when not). The slot keeps `limits` (and what owns it) alive.
    static connection_slot open(std::shared_ptr<connection_limits> limits, asio::ip::address const& a,
                                std::optional<http_response>& refusal);
    void close(asio::ip::address const& a) noexcept {
        counters_.connections_open.fetch_sub(1);
        std::lock_guard l{mutex_};
        if (auto it = per_address_.find(a); it != per_address_.end() && --it->second == 0) per_address_.erase(it);
    }

private:
    std::size_t max_connections_;
    std::size_t max_per_address_;
    http_counters& counters_;
    std::mutex mutex_;
    std::map<asio::ip::address, std::size_t> per_address_;
};

/// One connection's place in the limits: counted in `connections_open` and in its address's count while it
/// lives; moves from the HTTP session to the WebSocket it becomes.
class connection_slot {
public:
    connection_slot() = default;
    connection_slot(std::shared_ptr<connection_limits> limits, asio::ip::address a)
        : limits_(std::move(limits)), address_(std::move(a)) {}
    connection_slot(connection_slot&& o) noexcept : limits_(std::move(o.limits_)), address_(o.address_) {}
    connection_slot& operator=(connection_slot&& o) noexcept {
        if (this != &o) {
            release();
            limits_ = std::move(o.limits_);
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
    void release() noexcept {
        if (limits_) limits_->close(address_);
        limits_.reset();
    }
    std::shared_ptr<connection_limits> limits_;
    asio::ip::address address_;
};

inline connection_slot connection_limits::open(std::shared_ptr<connection_limits> limits, asio::ip::address const& a,
                                               std::optional<http_response>& refusal) {
    auto& self = *limits;
    self.counters_.connections_total.fetch_add(1);
    auto const open = self.counters_.connections_open.fetch_add(1) + 1;
    std::size_t from_address = 0;
    {
        std::lock_guard l{self.mutex_};
        from_address = ++self.per_address_[a];
    }
    connection_slot slot{std::move(limits), a};
    if (open > self.max_connections_) {
        self.counters_.connections_refused.fetch_add(1);
        refusal = http_response::error(503, "too_many_connections", "the server is at its connection limit");
    } else if (from_address > self.max_per_address_) {
        self.counters_.connections_refused.fetch_add(1);
        self.counters_.refused_per_address.fetch_add(1);
        refusal = http_response::error(503, "too_many_connections",
                                       "too many connections from " + a.to_string() + " (limit " +
                                           std::to_string(self.max_per_address_) + ")");
    }
    return slot;
}

/// Token refusals per client address, and how long the next reply to it waits.
class auth_failure_table {
public:
    explicit auth_failure_table(http_counters& counters) noexcept : counters_(counters) {}

    /// How long a reply to `a` waits; `failed`: this reply refuses a token. Only refusals wait: the
    /// guesser is slowed, while the other requests from its address (a NAT, the requester's dashboard on
    /// the same machine as a page with a stale token) are not.
    std::chrono::milliseconds reply_delay(asio::ip::address const& a, bool failed) {
        if (!failed || a.is_unspecified()) return std::chrono::milliseconds{0};
        counters_.auth_failures.fetch_add(1, std::memory_order_relaxed);
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

private:
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
    http_counters& counters_;
};

}  // namespace crowdline::architects::detail
