#pragma once
// A small synchronous HTTP/1.1 client on Beast for the architects::http tests: one keep-alive connection,
// or one request on a fresh connection.

#include <cstdint>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace test {

/// A status and a body.
struct http_reply {
    unsigned status = 0;
    std::string body;
    nlohmann::json parsed() const { return nlohmann::json::parse(body); }
};

/// One keep-alive connection to 127.0.0.1:`port`.
class http_client {
public:
    explicit http_client(std::uint16_t port) {
        stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    }
    http_reply call(std::string const& method, std::string target, std::string body = {}, std::string authorization = {}) {
        namespace http = boost::beast::http;
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, "127.0.0.1");
        if (!authorization.empty()) req.set(http::field::authorization, authorization);
        req.keep_alive(true);
        req.body() = std::move(body);
        req.prepare_payload();
        http::write(stream_, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        http::read(stream_, buffer_, parser);
        return {parser.get().result_int(), parser.get().body()};
    }

private:
    boost::asio::io_context io_;
    boost::beast::tcp_stream stream_{io_};
    boost::beast::flat_buffer buffer_;
};

/// One request on a fresh connection.
inline http_reply http_request(std::uint16_t port, std::string const& method, std::string target, std::string body = {},
                               std::string authorization = {}) {
    return http_client(port).call(method, std::move(target), std::move(body), std::move(authorization));
}

}  // namespace test
