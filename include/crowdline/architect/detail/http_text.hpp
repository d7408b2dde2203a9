#pragma once
/// The text of requests and of the headers every response carries: percent-decoding of query strings,
/// the check that a host is plain, and the Content-Security-Policy built from it.

#include <cstddef>
#include <string>
#include <string_view>

namespace crowdline::architects::detail {

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

}  // namespace crowdline::architects::detail
