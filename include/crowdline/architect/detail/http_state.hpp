#pragma once
/// What every session shares with the server (`basic_http_state`): settings, routes, counters and limits, which
/// WebSocket holds which agent, and the group commit — the packets that arrive together are handled as
/// one store transaction, and none is answered before it commits.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_limits.hpp>
#include <crowdline/architect/detail/http_metrics.hpp>
#include <crowdline/architect/http_args.hpp>
#include <crowdline/architect/http_channel.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/model/ids.hpp>

namespace crowdline::architects::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

template <class Stream>
class basic_ws_session;

/// What every session shares with the server: settings, routes, counters, and which WebSocket holds
/// which agent. Held by shared_ptr, so a session outliving `http::shutdown` touches nothing freed. A
/// template on the connections' stream (as the sessions are), so a TU that includes the server but never
/// runs one compiles none of its Asio operations.
template <class Stream>
class basic_http_state : public std::enable_shared_from_this<basic_http_state<Stream>> {
public:
    using ws_session = basic_ws_session<Stream>;

    basic_http_state(http_args a, http_channel& ch) : args(std::move(a)), channel(ch) {}

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

    // --- limits ----------------------------------------------------------------------------------------
    connection_limits connections{args.max_connections, args.max_connections_per_address, counters};
    auth_failure_table auth_failures{counters};
    /// Takes a slot for a new connection from `a`; `refusal` says why it is over a limit (empty when not).
    connection_slot open_connection(asio::ip::address const& a, std::optional<http_response>& refusal) {
        return connection_limits::open(std::shared_ptr<connection_limits>(this->shared_from_this(), &connections), a,
                                       refusal);
    }

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
};

/// A reply packet as text, with the request's id when it had one.
inline std::string reply_text(packet const& reply, nlohmann::json const* id) {
    nlohmann::json j{{"type", reply.type}, {"data", reply.data}};
    j["agent"] = reply.agent ? nlohmann::json(reply.agent->value()) : nlohmann::json(nullptr);
    if (id) j["id"] = *id;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Reads one packet text: true and the request in `out`, or false and the error reply that refuses it in
/// `out` (the handler never sees bad input). `id_out` receives the request id (when the text had one) so
/// the caller can echo it.
template <class State>
bool read_packet_text(State& st, std::string_view text, nlohmann::json& id_out,
                             std::optional<std::string_view> forced_type, packet& out) {
    try {
        auto j = parse_message_json(text, st.args.max_body_bytes, st.args.max_json_depth);
        if (j.is_object()) {
            if (auto id = j.find("id"); id != j.end() && (id->is_number_integer() || id->is_string())) id_out = *id;
            if (forced_type) j["type"] = *forced_type;
        }
        out = packet_from_json(std::move(j));
        return true;
    } catch (bad_packet const& e) {
        out = packet::error(e.reason, e.what());
    } catch (...) {
        out = crowdline::detail::error_reply_for_current_exception();
    }
    return false;
}

/// Handles one packet text on its own (no group); its reply.
template <class State>
packet handle_packet_text(State& st, std::string_view text, nlohmann::json& id_out,
                                 std::optional<std::string_view> forced_type = std::nullopt) {
    auto const started = std::chrono::steady_clock::now();
    packet reply;
    if (read_packet_text(st, text, id_out, forced_type, reply)) reply = st.channel.request(reply);
    st.counters.observe(std::chrono::steady_clock::now() - started);
    return reply;
}

template <class Stream>
void basic_http_state<Stream>::enqueue(queued_packet p) {
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
    if (post) asio::post(*io, [self = this->shared_from_this()] { self->flush(); });
}

template <class Stream>
void basic_http_state<Stream>::flush() {
    std::vector<queued_packet> group;
    {
        std::lock_guard l{queue_mutex_};
        group.swap(queue_);
        flush_posted_ = false;
    }
    if (group.empty()) return;
    auto const started = std::chrono::steady_clock::now();
    std::vector<packet> replies(group.size());
    std::vector<nlohmann::json> ids(group.size());
    // The well-formed requests go to the channel together, in one call; the others are answered as read.
    std::vector<packet> requests;
    std::vector<std::size_t> slots;
    requests.reserve(group.size());
    slots.reserve(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
        packet p;
        if (read_packet_text(*this, group[i].text, ids[i], group[i].type, p)) {
            requests.push_back(std::move(p));
            slots.push_back(i);
        } else {
            replies[i] = std::move(p);
        }
    }
    std::vector<packet> answers(requests.size());
    bool const saved = requests.empty() || channel.handle_group(requests, answers);
    auto const took = std::chrono::steady_clock::now() - started;
    counters.groups.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < slots.size(); ++k) replies[slots[k]] = std::move(answers[k]);
    for (std::size_t i = 0; i < group.size(); ++i) {
        counters.observe(took);
        if (!saved && !replies[i].is_error())
            replies[i] = packet::error(std::string(packet_errors::unavailable),
                                       "the server could not save this request (its store refused the commit); "
                                       "nothing of it was kept");
        group[i].done(std::move(replies[i]), std::move(ids[i]));
    }
}

template <class Stream>
void basic_http_state<Stream>::closed(std::uint64_t session, std::vector<agent_id> agents) {
    if (agents.empty() || !io) return;
    auto timer = std::make_shared<asio::steady_timer>(*io, std::chrono::seconds(args.disconnect_grace_seconds));
    timer->async_wait([self = this->shared_from_this(), timer, session, agents = std::move(agents)](beast::error_code ec) {
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
        for (auto a : gone) self->channel.disconnected(a);
    });
}

/// Runs a session's handler body; an exception closes that one connection (`close`) and is counted: no
/// input ends the process.
template <class Body, class Close>
void run_guarded(http_counters& counters, Body&& body, Close&& close) {
    try {
        body();
    } catch (...) {
        counters.exceptions.fetch_add(1);
        close();
    }
}

}  // namespace crowdline::architects::detail
