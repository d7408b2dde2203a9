#pragma once
/// `providers::detail::https_client`: one JSON request over HTTPS (Beast over OpenSSL) to a configurable
/// base URL, answered as a status and a body, never as an exception: a refused call, a broken connection
/// and a timeout are all values the caller reports. Each request opens its own connection on its own
/// `io_context`, on the calling thread, so nothing runs (or throws) on a thread the caller does not own,
/// and one deadline covers the whole exchange (a server that stalls costs `timeout`, not forever).

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>

namespace crowdline::providers::detail {

/// What came back: `status` 0 when no reply came, and then `failure` says why.
struct https_reply {
    unsigned status = 0;
    std::string body;
    std::string failure;

    [[nodiscard]] bool ok() const noexcept { return status >= 200 && status < 300; }
    /// A reply came, so the server decided (a refusal means the call did nothing).
    [[nodiscard]] bool answered() const noexcept { return status != 0; }
    /// "HTTP 400: <the server's error text>" or "no reply: <why>", for messages.
    [[nodiscard]] std::string describe() const {
        if (!answered()) return "no reply: " + failure;
        std::string text = body;
        auto parsed = nlohmann::json::parse(body, nullptr, false);
        if (parsed.is_object() && parsed.contains("error")) {  // Prolific: {"error": {"title", "detail", …}}
            auto const& e = parsed["error"];
            if (e.is_object()) {
                text.clear();
                for (auto const* key : {"title", "detail", "error_code"})
                    if (auto it = e.find(key); it != e.end())
                        text += (text.empty() ? "" : "; ") + (it->is_string() ? it->get<std::string>() : it->dump());
            } else {
                text = e.is_string() ? e.get<std::string>() : e.dump();
            }
        }
        if (text.size() > 500) text = text.substr(0, 500) + "…";
        return "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text);
    }
};

/// Where requests go and how they are trusted.
struct https_client_options {
    std::string base_url;       ///< "https://host[:port][/prefix]"
    std::string authorization;  ///< the Authorization header sent with every request ("Token …")
    std::chrono::milliseconds timeout{30000};
    std::string extra_ca_pem{};  ///< trusted besides the system's certificates (a test's own certificate)
    bool system_ca = true;       ///< trust the system's certificate store
};

class https_client {
public:
    /// A base URL that is not "https://host…" → `invalid_argument`; a CA that does not parse → `config_error`.
    explicit https_client(https_client_options options)
        : options_(std::move(options)), ctx_(boost::asio::ssl::context::tls_client) {
        std::string_view url = options_.base_url;
        constexpr std::string_view scheme = "https://";
        if (url.substr(0, scheme.size()) != scheme)
            throw invalid_argument("https client: the base URL must start with https://, got \"" + options_.base_url + "\"");
        url.remove_prefix(scheme.size());
        auto slash = url.find('/');
        std::string_view authority = url.substr(0, slash);
        prefix_ = slash == std::string_view::npos ? std::string() : std::string(url.substr(slash));
        while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
        auto colon = authority.rfind(':');
        host_ = std::string(authority.substr(0, colon));
        port_ = colon == std::string_view::npos ? "443" : std::string(authority.substr(colon + 1));
        if (host_.empty() || port_.empty())
            throw invalid_argument("https client: no host in the base URL \"" + options_.base_url + "\"");
        boost::system::error_code ec;
        ctx_.set_verify_mode(boost::asio::ssl::verify_peer);
        if (options_.system_ca) ctx_.set_default_verify_paths(ec);
        if (!options_.extra_ca_pem.empty()) {
            ctx_.add_certificate_authority(boost::asio::buffer(options_.extra_ca_pem), ec);
            if (ec) throw config_error("https client: the extra CA certificate does not load: " + ec.message());
        }
    }
    https_client(https_client const&) = delete;
    https_client& operator=(https_client const&) = delete;

    [[nodiscard]] std::string const& base_url() const noexcept { return options_.base_url; }

    /// Sends `method path` (after the base URL's own path) with `body` as JSON when it is not null.
    /// Never throws for what the network or the server does; only allocation failure escapes.
    [[nodiscard]] https_reply request(boost::beast::http::verb method, std::string_view path,
                                      nlohmann::json const& body = nullptr) {
        namespace beast = boost::beast;
        namespace http = beast::http;
        namespace net = boost::asio;
        https_reply reply;
        net::io_context ioc;
        beast::ssl_stream<beast::tcp_stream> stream{ioc, ctx_};
        net::ip::tcp::resolver resolver{ioc};
        http::request<http::string_body> req{method, prefix_ + std::string(path), 11};
        req.set(http::field::host, host_);
        req.set(http::field::user_agent, "crowdline");
        req.set(http::field::accept, "application/json");
        if (!options_.authorization.empty()) req.set(http::field::authorization, options_.authorization);
        if (!body.is_null()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body.dump();
        }
        req.prepare_payload();
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        auto fail = [&](char const* stage, beast::error_code const& ec) {
            reply.failure = std::string(stage) + ": " + ec.message();
        };

        boost::system::error_code parse_ec;
        (void)net::ip::make_address(host_, parse_ec);
        if (parse_ec)  // a name, not an address: tell the server which (SNI); RFC 6066 has no SNI for addresses
            SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str());
        stream.set_verify_callback(net::ssl::host_name_verification(host_));
        beast::get_lowest_layer(stream).expires_after(options_.timeout);  // one deadline for the whole exchange
        resolver.async_resolve(host_, port_, [&](beast::error_code resolved, net::ip::tcp::resolver::results_type results) {
            if (resolved) return fail("resolve", resolved);
            beast::get_lowest_layer(stream).async_connect(results, [&](beast::error_code connected, auto const&) {
                if (connected) return fail("connect", connected);
                stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code shaken) {
                    if (shaken) return fail("TLS handshake", shaken);
                    http::async_write(stream, req, [&](beast::error_code sent, std::size_t) {
                        if (sent) return fail("send", sent);
                        http::async_read(stream, buffer, res, [&](beast::error_code got, std::size_t) {
                            if (got) return fail("read", got);
                            reply.status = res.result_int();
                            reply.body = std::move(res.body());
                        });
                    });
                });
            });
        });
        try {
            ioc.run();
        } catch (std::exception const& e) {  // a handler above cannot throw but for memory; say so, do not escape
            reply = {};
            reply.failure = std::string("internal: ") + e.what();
        }
        return reply;
    }

private:
    https_client_options options_;
    boost::asio::ssl::context ctx_;
    std::string host_, port_, prefix_;
};

}  // namespace crowdline::providers::detail
