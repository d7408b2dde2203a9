#pragma once
/// `crowdline::protocol`: the packets a worker's page sends, each decoded into a typed request, and
/// `protocol::dispatch`, a table fixed at compile time from a packet's `type` to the handler's overload for
/// that request. Adding a packet type is adding a request struct to `worker_requests`; a handler that lacks
/// an overload for one fails to compile, naming the request (`protocol::handles`).
///
/// Requests point into the packet they were decoded from: they live for one `dispatch` call. A field a
/// request needs but may lack (a submission, an onboarding id) is decoded as absent and refused by the
/// handler, so refusals keep their order: who you are is checked before what you sent.
///
/// The error packets (`reason`s) are those of docs/pipeline.md: `unknown_packet` for a type outside the
/// table, `bad_request` for a request whose fields have the wrong shape, and each handler's own.

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/ops/detail/submission_receipt.hpp>

namespace crowdline::protocol {

/// What every request about a held unit carries: the agent it names and the token that proves it.
struct agent_fields {
    std::string_view type;           ///< the packet's type, for messages
    std::optional<agent_id> agent;   ///< absent: the packet names no agent
    std::string token;               ///< empty when the packet has none (or not a string)
};

namespace detail {
/// The string at `data[key]`, or empty when `data` is not an object or holds none there.
[[nodiscard]] inline std::string string_field(nlohmann::json const& data, char const* key) {
    if (!data.is_object()) return {};
    auto const it = data.find(key);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string{};
}
/// `data[key]` when `data` is an object that has it, else null.
[[nodiscard]] inline nlohmann::json const* field(nlohmann::json const& data, char const* key) {
    if (!data.is_object()) return nullptr;
    auto const it = data.find(key);
    return it == data.end() ? nullptr : &*it;
}
[[nodiscard]] inline agent_fields agent_fields_of(packet const& p, std::string_view type) {
    return agent_fields{type, p.agent, string_field(p.data, "token")};
}
}  // namespace detail

/// `register`: a worker asks for work; `registration` is what the provider reads identity from.
struct register_request {
    static constexpr std::string_view type = "register";
    nlohmann::json const& registration;
    static register_request decode(packet const& p) { return {p.data}; }
};

/// `submit`: the answer for the unit the agent holds, with an optional idempotency key (`data.key`).
struct submit_request : agent_fields {
    static constexpr std::string_view type = "submit";
    nlohmann::json const* submission;   ///< `data.submission`; absent → refused after the agent is checked
    std::optional<std::string> key;     ///< a malformed key is refused at decoding
    nlohmann::json const& data;         ///< the whole payload: a resend is compared with the saved one
    static submit_request decode(packet const& p) {
        auto key = crowdline::detail::submission_key(p.data);
        return {detail::agent_fields_of(p, type), detail::field(p.data, "submission"), std::move(key), p.data};
    }
};

/// `submit_onboarding`: the answer to an onboarding page.
struct submit_onboarding_request {
    static constexpr std::string_view type = "submit_onboarding";
    std::optional<onboarding_agent_id> onboarding_agent;  ///< absent when missing or not an integer
    std::string token;
    nlohmann::json const* answer;  ///< `data.answer`
    static submit_onboarding_request decode(packet const& p) {
        std::optional<onboarding_agent_id> id;
        if (auto const* f = detail::field(p.data, "onboarding_agent_id"); f && f->is_number_integer())
            id = onboarding_agent_id{f->get<std::int64_t>()};
        return {id, detail::string_field(p.data, "token"), detail::field(p.data, "answer")};
    }
};

/// `init`: a reloaded page asks again for the unit its agent holds.
struct init_request : agent_fields {
    static constexpr std::string_view type = "init";
    static init_request decode(packet const& p) { return {detail::agent_fields_of(p, type)}; }
};

/// `heartbeat`: the page is still there.
struct heartbeat_request : agent_fields {
    static constexpr std::string_view type = "heartbeat";
    static heartbeat_request decode(packet const& p) { return {detail::agent_fields_of(p, type)}; }
};

/// `release`: the worker gives the unit back.
struct release_request : agent_fields {
    static constexpr std::string_view type = "release";
    static release_request decode(packet const& p) { return {detail::agent_fields_of(p, type)}; }
};

/// `live_update`: one call from an interactive page (`data.update`).
struct live_update_request : agent_fields {
    static constexpr std::string_view type = "live_update";
    nlohmann::json const* update;
    static live_update_request decode(packet const& p) {
        return {detail::agent_fields_of(p, type), detail::field(p.data, "update")};
    }
};

/// The table: every packet type a worker's page may send.
using worker_requests = std::tuple<register_request, submit_request, submit_onboarding_request, init_request,
                                   heartbeat_request, release_request, live_update_request>;

/// A handler of request `R`: `h.handle(r, now) -> packet`.
template <class H, class R>
concept handles = requires(H& h, R const& r, time_point now) {
    { h.handle(r, now) } -> std::same_as<packet>;
};

namespace detail {
template <class H, class Requests>
struct handles_all;
template <class H, class... R>
struct handles_all<H, std::tuple<R...>> : std::bool_constant<(handles<H, R> && ...)> {};

/// Named so that the compiler's note names the request a handler lacks.
template <class Handler, class Request>
consteval bool check_handles() {
    static_assert(handles<Handler, Request>, "crowdline::protocol::dispatch: the handler lacks "
                                             "handle(Request const&, time_point) -> packet for the request named in "
                                             "check_handles<Handler, Request>");
    return handles<Handler, Request>;
}
}  // namespace detail

/// Handles every request of the table.
template <class H>
concept worker_request_handler = detail::handles_all<H, worker_requests>::value;

/// Decodes `p` as the request its type names and hands it to `h`; the reply is `h`'s. A type outside the
/// table → `unknown_packet`; a request whose fields have the wrong shape → `bad_request` (or the reason a
/// `bad_packet` carries, e.g. a provider refusing an invite link). Other exceptions pass through.
template <class Handler>
packet dispatch(Handler& h, packet const& p, time_point now) {
    static_assert([]<class... R>(std::tuple<R...>*) { return (detail::check_handles<Handler, R>() && ...); }(
        static_cast<worker_requests*>(nullptr)));
    try {
        std::optional<packet> reply;
        [&]<class... R>(std::tuple<R...>*) {
            (void)((p.type == R::type ? (reply.emplace(h.handle(R::decode(p), now)), true) : false) || ...);
        }(static_cast<worker_requests*>(nullptr));
        if (reply) return std::move(*reply);
        return packet::error("unknown_packet", "unknown packet type \"" + p.type + "\"");
    } catch (bad_packet const& e) {
        return packet::error(e.reason, e.what());
    } catch (invalid_argument const& e) {
        return packet::error("bad_request", e.what());
    } catch (nlohmann::json::exception const& e) {
        return packet::error("bad_request", e.what());
    }
}

}  // namespace crowdline::protocol
