#pragma once
/// Which answer a request gets: the packet endpoints (answered through the group commit by the session),
/// and for the rest the embedded pages, `/healthz`, `/metrics` and the application's routes.

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_assets.hpp>
#include <crowdline/architect/detail/http_metrics.hpp>
#include <crowdline/architect/detail/http_state.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/model/token.hpp>

namespace crowdline::architects::detail {

/// POST /api/packet (type from the body) or /api/<type>: the packet endpoints, answered by the channel.
inline std::optional<std::optional<std::string_view>> packet_endpoint(http_request const& r) {
    if (r.method != "POST" || !r.path.starts_with("/api/")) return std::nullopt;
    std::string_view rest = std::string_view(r.path).substr(5);
    if (rest == "packet") return std::optional<std::string_view>{};
    static constexpr std::array<std::string_view, 7> types{"register", "init",        "submit",           "heartbeat",
                                                           "release",  "live_update", "submit_onboarding"};
    for (auto t : types)
        if (rest == t) return std::optional<std::string_view>{t};
    return std::nullopt;
}

/// `/metrics`: the server's counters, then what the application adds (`http::set_metrics_source`).
template <class State>
http_response metrics(State& st) {
    auto out = metrics_text(st.counters, st.auth_failures.addresses_slowed());
    std::function<std::string()> more;
    {
        std::lock_guard l{st.routes_mutex};
        more = st.metrics_source;
    }
    if (more) out += more();
    return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(out)};
}

/// HEAD is answered as GET is, without the body (`respond`), on every route.
template <class State>
http_response route(State& st, http_request const& r) {
    bool const get = r.method == "GET" || r.method == "HEAD";
    if (get) {
        if (r.path == "/healthz")
            return st.channel.is_alive() ? http_response::json(200, {{"status", "ok"}})
                                         : http_response::error(503, "unavailable", "not deployed");
        if (r.path == "/metrics") {
            auto const& token = st.args.metrics_token;
            if (!token.empty() && !crowdline::same_token(r.bearer_token(), token))
                return http_response::error(401, "unauthorized",
                                            "/metrics needs Authorization: Bearer <server.metrics_token>");
            return metrics(st);
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
        std::lock_guard l{st.routes_mutex};
        auto it = st.routes.find({r.method, r.path});
        if (it == st.routes.end() && r.method == "HEAD") it = st.routes.find({"GET", r.path});
        if (it != st.routes.end()) handler = it->second;
        else path_known = std::ranges::any_of(st.routes, [&](auto const& route) { return route.first.second == r.path; });
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

}  // namespace crowdline::architects::detail
