#pragma once
/// The `crowdline::architect` concept (the server workers connect to) and its `crowdline::channel` (how
/// packets travel between the server and a worker's page), plus the `packet` they carry and
/// `parse_packet`, the one gate every byte from a worker passes through.
///
/// One model: `crowdline::architects::in_process` (architect/in_process.hpp). One non-model: any type
/// without `deploy()`, e.g. `struct not_an_architect { void prepare(); void shutdown(); };` — see
/// tests/static/architect_provider_concepts.cpp.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/fwd.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/json_text.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline {

/// One message between the server and a worker's page: a type, the agent it concerns (if any) and a
/// JSON payload. Requests and replies, pushes and errors all have this shape.
struct packet {
    std::string type{};
    std::optional<agent_id> agent{};
    nlohmann::json data = nlohmann::json::object();

    /// The reply to a request that could not be served: `{type: "error", data: {reason, message}}`.
    /// `reason` is a short stable code a page can switch on; `message` is for people.
    /// Bytes that are not UTF-8 are replaced (U+FFFD), so an error packet can always be serialised.
    [[nodiscard]] static packet error(std::string reason, std::string message) {
        return packet{"error", std::nullopt,
                      nlohmann::json{{"reason", utf8(std::move(reason))}, {"message", utf8(std::move(message))}}};
    }

    /// Whether this packet is an error reply.
    [[nodiscard]] bool is_error() const noexcept { return type == "error"; }

    friend bool operator==(packet const&, packet const&) = default;

private:
    static std::string utf8(std::string text) {
        auto quoted = nlohmann::json(std::move(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return nlohmann::json::parse(std::string_view(quoted)).get<std::string>();  // the one parser instantiation
    }
};

/// Why `parse_packet` refused a text: an `invalid_argument` that also carries the short code
/// (`packet_errors::…`) an error reply uses, so servers need not parse messages.
struct bad_packet : invalid_argument {
    bad_packet(std::string_view code, std::string const& message) : invalid_argument(message), reason(code) {}
    std::string reason;
};

/// The `reason` codes of error packets crowdline itself produces.
namespace packet_errors {
inline constexpr std::string_view too_large = "too_large";          ///< body over the size limit
inline constexpr std::string_view invalid_json = "invalid_json";    ///< not JSON (or not UTF-8)
inline constexpr std::string_view too_deep = "too_deep";            ///< JSON nested over the depth limit
inline constexpr std::string_view not_an_object = "not_an_object";  ///< JSON, but not an object
inline constexpr std::string_view missing_type = "missing_type";    ///< no string `type`
inline constexpr std::string_view bad_agent = "bad_agent";          ///< `agent` present but not an integer id
inline constexpr std::string_view unavailable = "unavailable";      ///< the server is not deployed, or shut down
inline constexpr std::string_view no_handler = "no_handler";        ///< nothing serves requests yet
inline constexpr std::string_view bad_request = "bad_request";      ///< the handler refused the request's content
inline constexpr std::string_view not_found = "not_found";          ///< the request names an unknown entry
inline constexpr std::string_view conflict = "conflict";            ///< the request came too late or twice
inline constexpr std::string_view internal_error = "internal_error";  ///< the handler failed
}  // namespace packet_errors

namespace detail {

/// The JSON type of `j`, for messages ("got an array").
[[nodiscard]] inline std::string_view json_kind(nlohmann::json const& j) noexcept {
    switch (j.type()) {
        case nlohmann::json::value_t::null: return "null";
        case nlohmann::json::value_t::object: return "an object";
        case nlohmann::json::value_t::array: return "an array";
        case nlohmann::json::value_t::string: return "a string";
        case nlohmann::json::value_t::boolean: return "a boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned: return "an integer";
        case nlohmann::json::value_t::number_float: return "a number with a fraction";
        default: return "binary data";
    }
}

/// The error reply for the exception in flight, so a handler's failure reaches the worker as a packet
/// with a reason it can act on (and never as a dropped connection).
[[nodiscard]] inline packet error_reply_for_current_exception() {
    try {
        throw;
    } catch (bad_packet const& e) {
        return packet::error(e.reason, e.what());
    } catch (invalid_argument const& e) {
        return packet::error(std::string(packet_errors::bad_request), e.what());
    } catch (entry_does_not_exist const& e) {
        return packet::error(std::string(packet_errors::not_found), e.what());
    } catch (invalid_transition const& e) {
        return packet::error(std::string(packet_errors::conflict), e.what());
    } catch (std::exception const& e) {
        return packet::error(std::string(packet_errors::internal_error), e.what());
    } catch (...) {
        return packet::error(std::string(packet_errors::internal_error), "the request handler failed");
    }
}

}  // namespace detail

/// Reads the JSON of one message from a worker, before it is a packet: refuses (with a `bad_packet`) a
/// text over `max_bytes`, JSON nested deeper than `max_depth` and invalid JSON (or UTF-8). A server that
/// needs more of the message than the packet (a request id) parses once with this, then `packet_from_json`.
[[nodiscard]] inline nlohmann::json parse_message_json(std::string_view text, std::size_t max_bytes,
                                                       std::size_t max_depth) {
    if (text.size() > max_bytes)
        throw bad_packet(packet_errors::too_large, "packet: " + std::to_string(text.size()) +
                                                       " bytes is over the limit of " + std::to_string(max_bytes));
    if (json_too_deep_at(text, max_depth))
        throw bad_packet(packet_errors::too_deep,
                         "packet: JSON nested deeper than the limit of " + std::to_string(max_depth) + " levels");
    try {
        return nlohmann::json::parse(text);
    } catch (nlohmann::json::parse_error const& e) {
        throw bad_packet(packet_errors::invalid_json, "packet: invalid JSON (" + json_error_text(e) + ")");
    } catch (nlohmann::json::out_of_range const&) {  // a number no double holds (1e400): the sender's error
        throw bad_packet(packet_errors::invalid_json, "packet: a number in the JSON is out of range (beyond what a "
                                                      "64-bit floating-point number holds)");
    }
}

/// Runs `read`, code that takes values out of a request's JSON (`what` names the request). nlohmann's
/// `type_error` and `out_of_range` there mean the request does not have the shape expected (a string
/// where a number belongs, a number too large for its field): a `bad_packet` with reason "bad_request",
/// so the client gets 400. The same exceptions anywhere else stay internal errors (500): they are bugs.
template <class F>
decltype(auto) read_request(std::string_view what, F&& read) {
    try {
        return std::forward<F>(read)();
    } catch (nlohmann::json::type_error const& e) {
        throw bad_packet(packet_errors::bad_request, std::string(what) + ": a field has the wrong type (" +
                                                         json_error_text(e) + ")");
    } catch (nlohmann::json::out_of_range const& e) {
        throw bad_packet(packet_errors::bad_request, std::string(what) + ": a field is missing or out of range (" +
                                                         json_error_text(e) + ")");
    }
}

/// Makes a packet of parsed JSON. Refuses, with a `bad_packet`: a non-object, a missing or non-string
/// `type`, an `agent` that is not an integer id. `data` defaults to `{}`; other keys are ignored.
[[nodiscard]] inline packet packet_from_json(nlohmann::json j) {
    using namespace std::string_literals;
    if (!j.is_object())
        throw bad_packet(packet_errors::not_an_object,
                         "packet: expected a JSON object, got "s + std::string(detail::json_kind(j)));
    packet p;
    auto type = j.find("type");
    if (type == j.end()) throw bad_packet(packet_errors::missing_type, "packet: missing \"type\"");
    if (!type->is_string())
        throw bad_packet(packet_errors::missing_type,
                         "packet: \"type\" must be a string, got "s + std::string(detail::json_kind(*type)));
    p.type = type->get<std::string>();
    if (auto agent = j.find("agent"); agent != j.end() && !agent->is_null()) {
        bool fits = agent->is_number_integer() &&
                    (!agent->is_number_unsigned() ||
                     agent->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
        if (!fits)
            throw bad_packet(packet_errors::bad_agent, "packet: \"agent\" must be an integer agent id, got "s +
                                                           std::string(detail::json_kind(*agent)));
        p.agent = agent_id{agent->get<std::int64_t>()};
    }
    if (auto data = j.find("data"); data != j.end()) p.data = std::move(*data);
    return p;
}

/// Reads one packet sent by a worker: `parse_message_json`, then `packet_from_json`, each refusal a
/// `bad_packet` (an `invalid_argument`) whose `reason` says which limit or rule the text broke.
[[nodiscard]] inline packet parse_packet(std::string_view text, std::size_t max_bytes, std::size_t max_depth) {
    return packet_from_json(parse_message_json(text, max_bytes, max_depth));
}

/// Server → worker pushes: `send` returns false when the worker cannot be reached.
template <class C>
concept push_channel = requires(C& c, agent_id a, packet const& p) {
    { c.send(a, p) } -> std::same_as<bool>;
};

/// What a channel delivers a worker's requests to: `handle(p)` returns the reply; `disconnect(a)` hears
/// that an agent's page went away. `pipeline` and `operator_` model it; `handler_of` makes one of lambdas.
template <class H>
concept packet_handler = requires(H& h, packet const& p, agent_id a) {
    { h.handle(p) } -> std::same_as<packet>;
    h.disconnect(a);
};

/// A handler that also takes requests that arrived together in one call (`replies[i]` answers
/// `requests[i]`), so a server can make them one store transaction (group commit).
template <class H>
concept group_packet_handler = packet_handler<H> && requires(H& h, std::span<packet const> rq, std::span<packet> rp) {
    h.handle_group(rq, rp);
};

/// Does nothing with a disconnected agent (the default of `handler_of`).
struct ignore_disconnect {
    void operator()(agent_id) const noexcept {}
};

/// A `packet_handler` made of callables, for small servers, examples and tests: `reply(p) -> packet`
/// answers, `gone(agent)` hears disconnects. A channel holds it by reference: keep it alive while installed.
template <class Reply, class Gone>  // Gone = ignore_disconnect (the default is in fwd.hpp)
struct handler_of {
    Reply reply;
    Gone gone{};
    packet handle(packet const& p) { return reply(p); }
    void disconnect(agent_id a) { gone(a); }
};
template <class Reply>
handler_of(Reply) -> handler_of<Reply>;
template <class Reply, class Gone>
handler_of(Reply, Gone) -> handler_of<Reply, Gone>;

namespace detail {

/// How a channel holds its handler: the object and one plain function pointer per call, generated for
/// the handler's type when it is installed. The server's I/O code is compiled once for every handler, so
/// this one indirect call is the whole boundary: no allocation, no `std::function`, no virtual call.
struct handler_ref {
    void* target = nullptr;
    packet (*handle)(void*, packet const&) = nullptr;
    void (*disconnect)(void*, agent_id) = nullptr;
    /// Null when the handler takes requests one at a time only.
    void (*handle_group)(void*, std::span<packet const>, std::span<packet>) = nullptr;

    explicit operator bool() const noexcept { return target != nullptr; }

    template <packet_handler H>
    static handler_ref to(H& h) noexcept {
        handler_ref r;
        r.target = std::addressof(h);
        r.handle = [](void* t, packet const& p) -> packet { return static_cast<H*>(t)->handle(p); };
        r.disconnect = [](void* t, agent_id a) { static_cast<H*>(t)->disconnect(a); };
        if constexpr (group_packet_handler<H>)
            r.handle_group = [](void* t, std::span<packet const> rq, std::span<packet> rp) {
                static_cast<H*>(t)->handle_group(rq, rp);
            };
        return r;
    }
};

/// The least a `packet_handler` has: what the channel concept installs to check `on_message`.
struct packet_handler_archetype {
    packet handle(packet const&);
    void disconnect(agent_id);
};

}  // namespace detail

/// Worker → server requests and disconnects go to one handler: `on_message(h)` installs any
/// `packet_handler` (kept by reference, its type known where it is installed); `on_message(nullptr)`
/// removes it.
template <class C>
concept request_channel = requires(C& c, detail::packet_handler_archetype& h) {
    c.on_message(h);
    c.on_message(nullptr);
};

/// Says whether the channel carries packets at all.
template <class C>
concept liveness_channel = requires(C const& c) {
    { c.is_alive() } -> std::same_as<bool>;
};

/// How packets travel between the server and workers' pages (ARCHITECTURE §6).
template <class C>
concept channel = push_channel<C> && request_channel<C> && liveness_channel<C>;

/// Brings a server up and down: `prepare()` (build what it serves), `deploy()` → the URL workers
/// open, `shutdown()`.
template <class A>
concept architect_lifecycle = requires(A& a) {
    a.prepare();
    { a.deploy() } -> std::same_as<std::string>;
    a.shutdown();
};

/// Hands out its channel by reference: the pipeline installs handlers on the one the server uses.
template <class A>
concept architect_with_channel = requires(A& a) {
    a.channel();
    requires std::is_lvalue_reference_v<decltype(a.channel())>;
    requires channel<std::remove_cvref_t<decltype(a.channel())>>;
};

/// A server workers connect to, with its channel (ARCHITECTURE §6).
template <class A>
concept architect = architect_lifecycle<A> && architect_with_channel<A>;

namespace detail {

/// Names the first missing member of `channel` for an entry point's message.
template <class C>
constexpr void check_channel() {
    static_assert(push_channel<C>, "crowdline::channel: the type lacks send(agent_id, packet const&) -> bool");
    static_assert(request_channel<C>,
                  "crowdline::channel: the type lacks on_message(H& handler) for any crowdline::packet_handler H "
                  "(handle(packet const&) -> packet, disconnect(agent_id)), and on_message(nullptr)");
    static_assert(liveness_channel<C>, "crowdline::channel: the type lacks is_alive() const -> bool");
}

/// Names the first missing member of `architect` for an entry point's message.
template <class A>
constexpr void check_architect() {
    static_assert(requires(A& a) { a.prepare(); }, "crowdline::architect: the type lacks prepare()");
    static_assert(requires(A& a) {
        { a.deploy() } -> std::same_as<std::string>;
    }, "crowdline::architect: the type lacks deploy() -> std::string");
    static_assert(requires(A& a) { a.shutdown(); }, "crowdline::architect: the type lacks shutdown()");
    constexpr bool has_channel = requires(A& a) {
        a.channel();
        requires std::is_lvalue_reference_v<decltype(a.channel())>;
    };
    static_assert(has_channel, "crowdline::architect: the type lacks channel() returning a reference to its channel");
    if constexpr (has_channel) check_channel<std::remove_cvref_t<decltype(std::declval<A&>().channel())>>();
}

}  // namespace detail

/// Entry-point check: `static_assert`s naming what `A` lacks, then true.
template <class A>
constexpr bool assert_architect() {
    detail::check_architect<A>();
    return architect<A>;
}

}  // namespace crowdline

CROWDLINE_REFLECT(crowdline::packet, type, agent, data);
