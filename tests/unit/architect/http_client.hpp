#pragma once
// A small synchronous HTTP/1.1 client on Beast for the architects::http tests: one keep-alive connection,
// or one request on a fresh connection.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace test {

/// A status, the header fields and a body.
struct http_reply {
    unsigned status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers{};
    nlohmann::json parsed() const { return nlohmann::json::parse(body); }
    /// The value of header field `name` (any case); nullopt when absent.
    std::optional<std::string> header(std::string_view name) const {
        auto lower = [](std::string_view s) {
            std::string out(s);
            for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            return out;
        };
        for (auto const& [k, v] : headers)
            if (lower(k) == lower(name)) return v;
        return std::nullopt;
    }
};

/// One keep-alive connection to 127.0.0.1:`port`.
class http_client {
public:
    explicit http_client(std::uint16_t port) {
        stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    }
    http_reply call(std::string const& method, std::string target, std::string body = {}, std::string authorization = {},
                    std::string const& host = "127.0.0.1") {
        namespace http = boost::beast::http;
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, host);
        if (!authorization.empty()) req.set(http::field::authorization, authorization);
        req.keep_alive(true);
        req.body() = std::move(body);
        req.prepare_payload();
        http::write(stream_, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        http::read(stream_, buffer_, parser);
        http_reply reply{parser.get().result_int(), parser.get().body()};
        for (auto const& f : parser.get()) reply.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        return reply;
    }

private:
    boost::asio::io_context io_;
    boost::beast::tcp_stream stream_{io_};
    boost::beast::flat_buffer buffer_;
};

/// One request on a fresh connection.
inline http_reply http_request(std::uint16_t port, std::string const& method, std::string target, std::string body = {},
                               std::string authorization = {}, std::string const& host = "127.0.0.1") {
    return http_client(port).call(method, std::move(target), std::move(body), std::move(authorization), host);
}

}  // namespace test
