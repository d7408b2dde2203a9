// Builds alone: clang++-16 -std=c++20 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/http_request.cpp -lpthread
// (needs Boost 1.74 headers, nlohmann/json; no library to link but pthread).
//
// Fuzz target: raw bytes as one client connection through architects::http's own session code
// (`detail::http_harness`: the HTTP parser with the server's limits, routing, the packet endpoints and
// their group commit, HEAD, the embedded pages, /metrics) over Beast's in-memory stream.
//
// Input: the first byte picks the limits (small or the largest allowed header limit; with or without a
// metrics token); the rest is what the client sends. Invariants (a broken one aborts):
//  - nothing throws in the session, whatever the bytes (neither out of it nor into its own backstop);
//  - the server answers only with whole, well-formed HTTP/1.x responses (a HEAD's without its body),
//    each with a status from 200 to 599;

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include <crowdline/architect/detail/http_harness.hpp>

#include "fuzz_common.hpp"

namespace {

using namespace crowdline;
namespace bhttp = boost::beast::http;

architects::http_channel& served_channel() {
    static architects::http_channel ch;
    static bool const installed = [] {
        static crowdline::handler_of handler{[](packet const& p) {
            if (p.type == "secret")
                return p.data.value("token", "") == "right" ? packet{"ok", std::nullopt, {}}
                                                            : packet::error("forbidden", "the token is not valid");
            if (p.type == "boom") throw std::runtime_error("a handler that throws");
            return packet{"echo", p.agent, p.data};
        }};
        ch.on_message(handler);
        return true;
    }();
    (void)installed;
    return ch;
}

/// Every response in `out`, parsed in turn; aborts on anything that is not one.
void check_responses(std::string_view out) {
    while (!out.empty()) {
        // A response to HEAD has a Content-Length and no body: when its header is followed by the end or
        // by another response (no body the server sends starts like one), it is read as such.
        std::size_t used = 0;
        bool whole = false;
        auto const header_end = out.find("\r\n\r\n");
        bool const bodiless = header_end != std::string_view::npos &&
                              (out.size() == header_end + 4 || out.substr(header_end + 4).starts_with("HTTP/1."));
        for (bool head : {bodiless, !bodiless}) {
            boost::beast::error_code ec;
            bhttp::response_parser<bhttp::string_body> parser;
            parser.body_limit(std::uint64_t{1} << 26);
            parser.eager(true);
            parser.skip(head);
            used = parser.put(boost::asio::buffer(out.data(), out.size()), ec);
            fuzz::check(!ec || ec == bhttp::error::need_more,
                        "the server sent something that is not an HTTP response: " + ec.message());
            if (!ec && parser.is_done()) {
                auto const status = parser.get().result_int();
                fuzz::check(status >= 200 && status < 600, "a response status out of range");
                whole = true;
                break;
            }
        }
        fuzz::check(whole, "the server sent an incomplete HTTP response");
        out.remove_prefix(used);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    architects::http_args args;
    args.max_body_bytes = 4096;
    args.max_header_bytes = (data[0] & 1) ? architects::http_args::max_header_limit : 1024;
    if (data[0] & 2) args.metrics_token = "0123456789abcdef0123456789abcdef";
    std::string_view input(reinterpret_cast<char const*>(data) + 1, size - 1);
    std::map<std::pair<std::string, std::string>, std::shared_ptr<architects::route_handler const>> routes;
    routes[{"GET", "/review/secret"}] = std::make_shared<architects::route_handler const>([](architects::http_request const& r) {
        if (r.bearer_token() != "right") return architects::http_response::error(401, "unauthorized", "no token");
        return architects::http_response::json(200, {{"q", r.query_param("q").value_or("")}});
    });
    routes[{"POST", "/review/throw"}] = std::make_shared<architects::route_handler const>(
        [](architects::http_request const&) -> architects::http_response { throw std::runtime_error("route failed"); });
    architects::detail::http_harness::result served;
    try {
        served = architects::detail::http_harness::serve(args, served_channel(), input, std::move(routes));
    } catch (...) {
        fuzz::unexpected_exception("serving one connection");
    }
    fuzz::check(served.exceptions == 0, "the session caught an exception (it would have closed the connection)");
    check_responses(served.output);
    return 0;
}
