#pragma once
/// What a route of an `http` architect sees and answers (`http_request`, `http_response`,
/// `route_handler`), and the HTTP status a reply packet maps to (`status_for`).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/detail/http_text.hpp>

namespace crowdline::architects {

/// A request as a route handler sees it.
struct http_request {
    std::string method;         ///< "GET", "POST", …
    std::string path;           ///< the target before '?'
    std::string query;          ///< the target after '?', undecoded
    std::string body;
    std::string authorization;  ///< the Authorization header, as sent
    /// The `X-…` headers, names in lowercase (a signed webhook's signature and timestamp); the rest are not kept.
    std::vector<std::pair<std::string, std::string>> x_headers{};

    /// The value of the `X-…` header `lowercase_name`; nullopt when absent.
    [[nodiscard]] std::optional<std::string> header(std::string_view lowercase_name) const {
        for (auto const& [name, value] : x_headers)
            if (name == lowercase_name) return value;
        return std::nullopt;
    }

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

}  // namespace crowdline::architects
