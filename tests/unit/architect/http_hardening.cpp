// architects::http against a hostile client, over real sockets (issue 13): requests Beast does not count
// against its limits (chunk extensions, trailers, giant fields), a handler that throws, WebSocket floods
// and silent sockets, one address holding every slot, token guessing, HEAD, an oversized WebSocket message,
// and the metrics token. After each the server must still answer /healthz. No pipeline here: a small
// channel handler stands in, so this TU compiles quickly.

#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define CROWDLINE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CROWDLINE_TEST_ASAN 1
#endif
#endif
#if CROWDLINE_TEST_ASAN
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();  // the ASan runtime's (its header is not installed with gcc)
#endif
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <chrono>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <crowdline/architect/http.hpp>
#include <crowdline/config/args.hpp>

#include "http_client.hpp"

// Everything below is this file's own: test files are compiled in unity batches.
namespace tu_http_hardening {

using namespace crowdline;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

/// A server with a small stand-in handler: `secret` needs token "right" (403 "forbidden" otherwise),
/// `bind` hands out agent 7 (so pushes reach this socket), anything else is echoed with `pad` bytes.
struct hostile_fixture {
    architects::http server;
    std::atomic<int> disconnects{0};

    static architects::http_args defaults() {
        architects::http_args a;
        a.port = 0;
        a.threads = 2;
        a.idle_timeout_seconds = 5;
        a.disconnect_grace_seconds = 1;
        return a;
    }
    explicit hostile_fixture(architects::http_args a = defaults()) : server(std::move(a)) {
        server.channel().on_message(*this);
        server.route("GET", "/secret", [](architects::http_request const& r) {
            return r.bearer_token() == "right" ? architects::http_response::json(200, {{"secret", 42}})
                                               : architects::http_response::error(403, "forbidden", "bad token");
        });
        server.prepare();
        server.deploy();
    }
    ~hostile_fixture() { server.shutdown(); }
    /// The server's handler: a token check, a bind, an echo padded on demand.
    packet handle(packet const& p) {
        if (p.type == "secret")
            return p.data.value("token", "") == "right" ? packet{"ok", std::nullopt, {}}
                                                        : packet::error("forbidden", "the token is not valid");
        if (p.type == "bind") return packet{"agent_details", agent_id{7}, {}};
        return packet{"echo", p.agent, {{"pad", std::string(p.data.value("pad", std::size_t{0}), 'x')}}};
    }
    void disconnect(agent_id) { ++disconnects; }
    std::uint16_t port() const { return server.port(); }
    unsigned health() { return test::http_request(port(), "GET", "/healthz").status; }
    std::string metrics() { return test::http_request(port(), "GET", "/metrics").body; }
};

/// A socket to the server from `source` (any 127.x.y.z is this machine), with a 10 s receive timeout.
tcp::socket connect_from(asio::io_context& io, std::uint16_t port, std::string const& source = "127.0.0.1") {
    tcp::socket s(io);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(asio::ip::make_address(source), 0));
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

/// Everything the server sends until it closes (or 10 s pass).
std::string read_until_closed(tcp::socket& s) {
    std::string out;
    std::array<char, 4096> chunk{};
    for (;;) {
        beast::error_code ec;
        auto n = s.read_some(asio::buffer(chunk), ec);
        out.append(chunk.data(), n);
        if (ec) return out;
    }
}

/// The status code of a raw response text; 0 when there is none.
unsigned status_of(std::string_view response) {
    if (response.size() < 12 || !response.starts_with("HTTP/1.1 ")) return 0;
    return static_cast<unsigned>(std::stoi(std::string(response.substr(9, 3))));
}

/// Sends `head`, then `filler` over and over (up to `most` bytes) until the server stops taking it;
/// returns the bytes it took.
std::size_t send_endless(tcp::socket& s, std::string const& head, std::string const& filler, std::size_t most) {
    beast::error_code ec;
    asio::write(s, asio::buffer(head), ec);
    std::size_t sent = head.size();
    timeval tv{3, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (!ec && sent < most) sent += asio::write(s, asio::buffer(filler), ec);
    return sent;
}

/// Memory this process (the server runs inside the test) holds now, in KiB: its heap in use under
/// AddressSanitizer, whose quarantine keeps freed memory resident; else VmRSS from /proc/self/status.
std::size_t memory_kib() {
#if CROWDLINE_TEST_ASAN
    return __sanitizer_get_current_allocated_bytes() / 1024;
#else
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
    return 0;
#endif
}

/// The most `memory_kib` reached while it lives, sampled every 5 ms.
class memory_peak {
public:
    memory_peak() : start_(memory_kib()), peak_(start_), sampler_([this] {
        while (!done_) {
            peak_ = std::max(peak_.load(), memory_kib());
            std::this_thread::sleep_for(5ms);
        }
    }) {}
    ~memory_peak() { stop(); }
    /// KiB over what was held at the start.
    std::size_t grown() {
        stop();
        return peak_ - start_;
    }

private:
    void stop() {
        done_ = true;
        if (sampler_.joinable()) sampler_.join();
    }
    std::size_t start_;
    std::atomic<std::size_t> peak_;
    std::atomic<bool> done_{false};
    std::thread sampler_;
};

std::string const chunked_head = "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_CASE("http hardening: chunk extensions and trailers and giant fields cannot end the process or grow memory",
          "[architect][http][hostile]") {
    auto args = hostile_fixture::defaults();
    args.max_header_bytes = architects::http_args::max_header_limit;  // the largest Beast itself accepts
    hostile_fixture f{args};
    asio::io_context io;

    SECTION("a huge chunk extension") {
        auto s = connect_from(io, f.port());
        send_endless(s, chunked_head + "5;ext=" + std::string(100'000, 'a') + "\r\nhello\r\n0\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 400);
    }
    SECTION("a chunk extension that never ends is cut off; memory stays put") {
        auto s = connect_from(io, f.port());
        memory_peak memory;
        auto const sent = send_endless(s, chunked_head + "5;ext=", std::string(65536, 'a'), std::size_t{256} << 20);
        CHECK(sent < (std::size_t{64} << 20));  // the server stopped reading long before
        CHECK(memory.grown() < 8 * 1024);
    }
    SECTION("a long extension on the last chunk") {
        auto s = connect_from(io, f.port());
        send_endless(s, chunked_head + "5\r\nhello\r\n0;" + std::string(600, 'e') + "\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 400);
    }
    SECTION("many trailers") {
        auto s = connect_from(io, f.port());
        std::string trailers;
        for (int i = 0; i < 20'000; ++i) trailers += "X-T" + std::to_string(i) + ": v\r\n";
        send_endless(s, chunked_head + "5\r\nhello\r\n0\r\n" + trailers + "\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 400);
    }
    SECTION("one trailer longer than a header field can be") {
        auto s = connect_from(io, f.port());
        send_endless(s, chunked_head + "5\r\nhello\r\n0\r\nX-Big: " + std::string(70'000, 'b') + "\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 400);
    }
    SECTION("a trailer field a little longer than Beast holds, within the header limit's reach") {
        auto s = connect_from(io, f.port());
        send_endless(s, chunked_head + "5\r\nhello\r\n0\r\nX-Big: " + std::string(66'000, 'b') + "\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 400);
    }
    SECTION("a trailer that never ends") {
        auto s = connect_from(io, f.port());
        auto const sent = send_endless(s, chunked_head + "5\r\nhello\r\n0\r\nX-T: ", std::string(65536, 't'),
                                       std::size_t{256} << 20);
        CHECK(sent < (std::size_t{64} << 20));
    }
    SECTION("a header field as long as the header limit allows, and one longer") {
        auto s = connect_from(io, f.port());
        send_endless(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(65'600, 'g') + "\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(s)) == 431);
        auto t = connect_from(io, f.port());
        send_endless(t, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + std::string(65'400, 'g') + "\r\n\r\n", "", 0);
        CHECK(status_of(read_until_closed(t)) == 200);
    }
    SECTION("a header that never ends") {
        auto s = connect_from(io, f.port());
        auto const sent =
            send_endless(s, "GET / HTTP/1.1\r\nX: ", std::string(65536, 'h'), std::size_t{256} << 20);
        CHECK(sent < (std::size_t{64} << 20));
    }
    CHECK(f.health() == 200);
    CHECK(f.metrics().find("crowdline_http_exceptions_total 0") != std::string::npos);
}

TEST_CASE("http hardening: a header limit above what Beast accepts is refused naming the key and the maximum",
          "[architect][http][hostile][config]") {
    architects::http_args a;
    a.max_header_bytes = std::size_t{1} << 20;
    CHECK_THROWS_WITH(a.validate(), Catch::Contains("max_header_bytes") && Catch::Contains("65535"));
    a.max_header_bytes = 65535;
    CHECK_NOTHROW(a.validate());
    for (std::string key : {"max_connections_per_address", "max_queued_bytes", "ws_silence_timeout_seconds"}) {
        architects::http_args b;
        config::apply_override(b, key + "=0");
        CHECK_THROWS_WITH(b.validate(), Catch::Contains(key));
    }
    architects::http_args c;
    config::apply_override(c, "max_connections_per_address=5");
    config::apply_override(c, "max_queued_bytes=100000");
    config::apply_override(c, "ws_silence_timeout_seconds=300");
    config::apply_override(c, "metrics_token=abc");
    CHECK(c.max_connections_per_address == 5);
    CHECK(c.max_queued_bytes == 100000);
    CHECK(c.ws_silence_timeout_seconds == 300);
    CHECK(c.metrics_token == "abc");
    CHECK(c.ws_silence_timeout_seconds > 2 * architects::http_args::page_heartbeat_seconds);
    CHECK(architects::http_args{}.ws_silence_timeout_seconds > 2 * architects::http_args::page_heartbeat_seconds);
}

TEST_CASE("http hardening: an exception in a handler closes that connection only; the server goes on",
          "[architect][http][hostile]") {
    hostile_fixture f;
    f.server.set_metrics_source([]() -> std::string { throw std::runtime_error("metrics source failed"); });
    asio::io_context io;
    for (int i = 0; i < 3; ++i) {
        auto s = connect_from(io, f.port());
        asio::write(s, asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")));
        CHECK(read_until_closed(s).empty());  // closed, nothing sent
    }
    CHECK(f.health() == 200);
    f.server.set_metrics_source({});
    CHECK(f.metrics().find("crowdline_http_exceptions_total 3") != std::string::npos);
}

namespace {

/// A raw WebSocket client on its own io_context.
struct ws_client {
    asio::io_context io;
    beast::websocket::stream<tcp::socket> ws{io};
    /// `small_buffers`: kernel buffers of 64 KiB, so a client that does not read is felt at once.
    explicit ws_client(std::uint16_t port, bool small_buffers = false) {
        ws.next_layer().open(tcp::v4());
        if (small_buffers) {
            ws.next_layer().set_option(asio::socket_base::receive_buffer_size(65536));
            ws.next_layer().set_option(asio::socket_base::send_buffer_size(65536));
        }
        timeval tv{8, 0};  // a read the server never ends fails the test instead of hanging it
        ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        ws.handshake("127.0.0.1", "/ws");
    }
    json read_json() {
        beast::flat_buffer b;
        ws.read(b);
        return json::parse(beast::buffers_to_string(b.data()));
    }
};

}  // namespace

TEST_CASE("http hardening: a WebSocket that floods small packets and never reads is paused then closed; memory stays bounded",
          "[architect][http][hostile][websocket]") {
    auto args = hostile_fixture::defaults();
    args.idle_timeout_seconds = 1;
    args.max_queued_bytes = 65536;
    hostile_fixture f{args};
    ws_client c(f.port(), true);
    c.ws.text(true);
    memory_peak memory;
    std::string const msg = R"({"type":"echo","data":{"pad":1000}})" + std::string(1000, ' ');  // 1 KiB each way
    beast::error_code ec;
    int sent = 0;
    ::timeval tv{3, 0};
    ::setsockopt(c.ws.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto const started = std::chrono::steady_clock::now();
    for (; sent < 200'000 && !ec; ++sent) c.ws.write(asio::buffer(msg), ec);
    auto const grown = memory.grown();
    INFO("sent " << sent << " packets, server grew " << grown << " KiB");
    CHECK(ec);                 // the server closed the socket...
    CHECK(sent < 200'000);     // ... before the client was done
    CHECK(grown < 8 * 1024);  // unbounded, the replies alone would be 200 MiB
    CHECK(std::chrono::steady_clock::now() - started < 30s);
    CHECK(f.health() == 200);
    CHECK(f.metrics().find("crowdline_http_websockets_open 0") != std::string::npos);
}

TEST_CASE("http hardening: pushes to a WebSocket that does not read close it at max_queued_bytes; its agent disconnects",
          "[architect][http][hostile][websocket]") {
    auto args = hostile_fixture::defaults();
    args.max_queued_bytes = 65536;
    hostile_fixture f{args};
    ws_client c(f.port(), true);
    c.ws.write(asio::buffer(std::string(R"({"type":"bind"})")));
    CHECK(c.read_json()["type"] == "agent_details");
    packet const big{"news", std::nullopt, {{"pad", std::string(32 * 1024, 'p')}}};
    bool delivered = true;
    for (int i = 0; i < 1000 && delivered; ++i) delivered = f.server.channel().send(agent_id{7}, big);
    // 32 MiB pushed into a socket nobody reads: the server must have closed it long before.
    std::string metrics;
    for (int i = 0; i < 100; ++i) {
        metrics = f.metrics();
        if (metrics.find("crowdline_http_websocket_overflows_total 1") != std::string::npos) break;
        std::this_thread::sleep_for(50ms);
    }
    CHECK(metrics.find("crowdline_http_websocket_overflows_total 1") != std::string::npos);
    for (int i = 0; i < 100 && f.disconnects == 0; ++i) std::this_thread::sleep_for(50ms);
    CHECK(f.disconnects == 1);  // the normal path: after the grace period, its agent is a disconnect
    CHECK(f.health() == 200);
}

TEST_CASE("http hardening: a WebSocket that answers pings but never speaks is closed after the silence timeout",
          "[architect][http][hostile][websocket]") {
    auto args = hostile_fixture::defaults();
    args.idle_timeout_seconds = 1;  // pings every half second, which the client answers
    args.ws_silence_timeout_seconds = 2;
    hostile_fixture f{args};
    ws_client silent(f.port());
    ws_client talking(f.port());
    std::atomic<bool> talking_ok{true};
    std::thread talker([&] {
        // Speaks every 200 ms for 4 s, past the silence timeout: a margin of 800 ms under the 1 s idle
        // timeout (this client answers the server's pings only while it reads), so a loaded CI machine
        // that delays this thread does not make a speaking socket look idle.
        for (int i = 0; i < 20 && talking_ok; ++i) {
            beast::error_code ec;
            talking.ws.write(asio::buffer(std::string(R"({"type":"heartbeat"})")), ec);
            beast::flat_buffer b;
            if (!ec) talking.ws.read(b, ec);
            if (ec) talking_ok = false;
            std::this_thread::sleep_for(200ms);
        }
    });
    auto const started = std::chrono::steady_clock::now();
    beast::flat_buffer b;
    beast::error_code ec;
    silent.ws.read(b, ec);  // answers pings while it waits; returns when the server closes
    auto const waited = std::chrono::steady_clock::now() - started;
    talker.join();
    CHECK(ec);
    CHECK(waited >= 1500ms);
    CHECK(waited < 6s);
    CHECK(talking_ok);  // one that speaks stays open past the timeout
    CHECK(f.metrics().find("crowdline_http_websocket_silent_total 1") != std::string::npos);
}

TEST_CASE("http hardening: one address cannot hold every slot; others and /healthz are still served",
          "[architect][http][hostile]") {
    auto args = hostile_fixture::defaults();
    args.max_connections_per_address = 3;
    hostile_fixture f{args};
    asio::io_context io;
    std::vector<tcp::socket> held;
    for (int i = 0; i < 3; ++i) held.push_back(connect_from(io, f.port(), "127.0.0.3"));
    std::this_thread::sleep_for(100ms);
    {
        auto s = connect_from(io, f.port(), "127.0.0.3");
        asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
        auto r = read_until_closed(s);
        CHECK(status_of(r) == 503);
        CHECK(r.find("too_many_connections") != std::string::npos);
    }
    {
        auto s = connect_from(io, f.port(), "127.0.0.3");
        asio::write(s, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
        CHECK(status_of(read_until_closed(s)) == 200);
    }
    {
        auto s = connect_from(io, f.port(), "127.0.0.4");  // another address is not affected
        asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        CHECK(status_of(read_until_closed(s)) == 200);
    }
    CHECK(f.metrics().find("crowdline_http_connections_refused_per_address_total 2") != std::string::npos);
    held.clear();
    unsigned status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
        auto s = connect_from(io, f.port(), "127.0.0.3");
        asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        status = status_of(read_until_closed(s));
        if (status != 200) std::this_thread::sleep_for(50ms);
    }
    CHECK(status == 200);  // the slots come back once closed
}

TEST_CASE("http hardening: /metrics needs the bearer token when metrics_token is set", "[architect][http][hostile]") {
    auto args = hostile_fixture::defaults();
    args.metrics_token = "0123456789abcdef0123456789abcdef";
    hostile_fixture f{args};
    CHECK(test::http_request(f.port(), "GET", "/metrics").status == 401);
    CHECK(test::http_request(f.port(), "GET", "/metrics", {}, "Bearer wrong").status == 401);
    CHECK(test::http_request(f.port(), "GET", "/metrics", {}, "Bearer 0123456789abcdef0123456789abcdee").status == 401);
    auto ok = test::http_request(f.port(), "GET", "/metrics", {}, "Bearer " + args.metrics_token);
    CHECK(ok.status == 200);
    CHECK(ok.body.find("crowdline_http_auth_failures_total 3") != std::string::npos);
    CHECK(f.health() == 200);  // the health check needs no token
}

TEST_CASE("http hardening: HEAD answers the GET's headers without a body on every route", "[architect][http]") {
    hostile_fixture f;
    asio::io_context io;
    for (std::string target : {"/", "/worker.js", "/healthz", "/metrics", "/secret", "/nowhere"}) {
        INFO(target);
        auto get = connect_from(io, f.port());
        asio::write(get, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        auto const got = read_until_closed(get);
        auto head = connect_from(io, f.port());
        asio::write(head, asio::buffer("HEAD " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        auto const headed = read_until_closed(head);
        CHECK(status_of(headed) == status_of(got));
        auto const end = headed.find("\r\n\r\n");
        REQUIRE(end != std::string::npos);
        CHECK(headed.size() == end + 4);  // nothing after the header
        auto length = [](std::string const& r) {
            auto at = r.find("Content-Length: ");
            return at == std::string::npos ? std::string{} : r.substr(at + 16, r.find("\r\n", at) - at - 16);
        };
        CHECK(!length(headed).empty());
        if (target != "/metrics") CHECK(length(headed) == length(got));  // metrics change between the two
        CHECK(got.size() > got.find("\r\n\r\n") + 4);
    }
}

TEST_CASE("http hardening: a WebSocket message over the limit gets the too_large packet before the close",
          "[architect][http][websocket]") {
    auto args = hostile_fixture::defaults();
    args.max_body_bytes = 4096;
    hostile_fixture f{args};
    SECTION("in one frame") {
        ws_client c(f.port());
        c.ws.write(asio::buffer(std::string(5000, ' ')));
        auto reply = c.read_json();
        CHECK(reply["data"]["reason"] == "too_large");
        CHECK_THAT(reply["data"]["message"].get<std::string>(), Catch::Contains("4096"));
        beast::flat_buffer b;
        beast::error_code ec;
        c.ws.read(b, ec);
        CHECK(ec == beast::websocket::error::closed);
        CHECK(c.ws.reason().code == beast::websocket::close_code::too_big);
    }
    SECTION("in small fragments") {
        ws_client c(f.port());
        beast::error_code ec;
        for (int i = 0; i < 10 && !ec; ++i) c.ws.write_some(false, asio::buffer(std::string(1000, ' ')), ec);
        CHECK(c.read_json()["data"]["reason"] == "too_large");
    }
    SECTION("one at the limit is still a packet") {
        ws_client c(f.port());
        std::string msg = R"({"type":"echo","data":{}})";
        msg += std::string(4096 - msg.size(), ' ');
        c.ws.write(asio::buffer(msg));
        CHECK(c.read_json()["type"] == "echo");
    }
    CHECK(f.health() == 200);
}

TEST_CASE("http hardening: repeated bad tokens from one address get slower replies; other addresses do not",
          "[architect][http][hostile]") {
    hostile_fixture f;
    asio::io_context io;
    auto ask = [&](std::string const& source, std::string const& target, std::string const& token) {
        auto s = connect_from(io, f.port(), source);
        auto const started = std::chrono::steady_clock::now();
        asio::write(s, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                                    "\r\nConnection: close\r\n\r\n"));
        auto status = status_of(read_until_closed(s));
        return std::pair{status, std::chrono::steady_clock::now() - started};
    };
    std::vector<std::chrono::steady_clock::duration> took;
    for (int i = 0; i < 8; ++i) {
        auto [status, t] = ask("127.0.0.5", "/secret", "guess" + std::to_string(i));
        CHECK(status == 403);
        took.push_back(t);
    }
    for (int i = 0; i < 3; ++i) CHECK(took[static_cast<std::size_t>(i)] < 300ms);
    CHECK(took[7] >= 700ms);  // progressively slower
    CHECK(took[7] > took[4]);
    auto [good, good_took] = ask("127.0.0.5", "/secret", "right");
    CHECK(good == 200);
    CHECK(good_took < 300ms);  // only refusals wait: its other requests are not slowed
    auto [other, other_took] = ask("127.0.0.6", "/secret", "guess");
    CHECK(other == 403);
    CHECK(other_took < 300ms);  // another address is not slowed
    // Over the WebSocket too: a bad token there is counted and slowed like the others.
    ws_client c(f.port());
    auto const started = std::chrono::steady_clock::now();
    c.ws.write(asio::buffer(std::string(R"({"type":"secret","data":{"token":"guess"}})")));
    CHECK(c.read_json()["data"]["reason"] == "forbidden");
    CHECK(std::chrono::steady_clock::now() - started < 300ms);  // 127.0.0.1 has no failures yet
    auto m = f.metrics();
    CHECK(m.find("crowdline_http_auth_failures_total 10") != std::string::npos);
    CHECK(m.find("crowdline_http_addresses_slowed 1") != std::string::npos);
}

}  // namespace tu_http_hardening
