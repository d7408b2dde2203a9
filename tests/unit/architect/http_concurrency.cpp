// architects::http under concurrent clients (run under ThreadSanitizer in CI): four threads play eight
// annotators over keep-alive HTTP while another reads the dashboard and the metrics and a fifth opens and
// drops WebSockets. Every acknowledged submission is saved exactly once; nothing else is.
// Group commit: packets that arrive while a group is being handled form the next group, handled in one
// call of the channel's batch handler, and each gets its own reply; a group whose commit fails sends no
// success, keeps nothing, and stops the run.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <crowdline/architect/http.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/ops/review_routes.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/memory.hpp>

#include "../store/failing_store.hpp"
#include "http_client.hpp"

using namespace crowdline;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr char const* review_token = "fedcba9876543210fedcba9876543210";

/// The run's settings every test here shares: one unit at a time per worker, long assignments.
task_run_args run_args_named(std::string name) {
    task_run_args run_args;
    run_args.task_name = std::move(name);
    run_args.task_title = "t";
    run_args.task_description = "d";
    run_args.allowed_concurrent = 1;
    run_args.assignment_duration_in_seconds = 600;
    return run_args;
}

/// A keep-alive connection whose request is written first and read later, so a test knows it was sent.
class split_client {
public:
    explicit split_client(std::uint16_t port) {
        stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    void send(std::string const& target, json const& body, bhttp::verb verb = bhttp::verb::post) {
        bhttp::request<bhttp::string_body> req{verb, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        req.keep_alive(true);
        if (!body.is_null()) req.body() = body.dump();
        req.prepare_payload();
        bhttp::write(stream_, req);
    }
    test::http_reply receive() {
        bhttp::response<bhttp::string_body> res;
        bhttp::read(stream_, buffer_, res);
        return {res.result_int(), res.body()};
    }

private:
    asio::io_context io_;
    beast::tcp_stream stream_{io_};
    beast::flat_buffer buffer_;
};

using test::failing_store;  // a memory store whose outermost commit fails on demand

}  // namespace

TEST_CASE("http concurrency: parallel annotators, readers and dropped sockets", "[architect][http][concurrency]") {
    struct item {
        explicit item(initialization_data const&) {}
    };
    std::vector<providers::in_house_worker> roster;
    for (int i = 0; i < 8; ++i) roster.push_back({"w" + std::to_string(i), json::object(), {}});
    providers::in_house crowd{roster};
    std::vector<json> items;
    for (int i = 0; i < 60; ++i) items.push_back({{"text", "t" + std::to_string(i)}});
    blueprints::static_form form{
        {blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment", .options = {"neg", "pos"}}}, items};
    stores::memory db;
    architects::http_args args;
    args.port = 0;
    args.threads = 3;
    args.disconnect_grace_seconds = 0;
    architects::http server{args};
    auto dispatcher = routing::make_dispatcher<item, json>(routing::average_per_task{2.0},
                                                           routing::options{.lease = std::chrono::seconds(600)});
    pipeline run{std::move(form), server, crowd, dispatcher, db, run_args_named("http-concurrency")};
    server.prepare();
    add_review_routes(server, run, {.requester_token = review_token});
    run.launch();
    auto const port = server.port();

    std::mutex m;
    std::vector<std::int64_t> acknowledged;
    std::atomic<bool> done{false};
    std::atomic<int> errors{0};

    std::vector<std::thread> annotators;
    for (int t = 0; t < 4; ++t)
        annotators.emplace_back([&, t] {
            test::http_client c(port);
            for (int round = 0; round < 40; ++round) {
                auto who = "w" + std::to_string(2 * t + round % 2);
                auto const reg = c.call("POST", "/api/register",
                                        json{{"data", {{"invite", crowd.invite_token(who)}}}}.dump());
                auto r = json::parse(reg.body);
                if (r["type"] != "agent_details") continue;
                auto const sub = c.call(
                    "POST", "/api/submit",
                    json{{"agent", r["data"]["agent_id"]},
                         {"data", {{"token", r["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}}
                        .dump());
                auto ok = json::parse(sub.body);
                if (sub.status == 200 && ok["type"] == "submitted") {
                    std::lock_guard l{m};
                    acknowledged.push_back(ok["data"]["unit_id"].get<std::int64_t>());
                } else {
                    ++errors;
                }
            }
        });
    std::thread reader([&] {
        test::http_client c(port);
        while (!done) {
            auto const dashboard = c.call("GET", "/api/review/dashboard", {}, std::string("Bearer ") + review_token);
            auto const metrics = c.call("GET", "/metrics");
            if (dashboard.status != 200 || metrics.status != 200) ++errors;
        }
    });
    std::thread dropper([&] {
        for (int i = 0; i < 10 && !done; ++i) {
            asio::io_context io;
            beast::websocket::stream<tcp::socket> ws{io};
            ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
            ws.handshake("127.0.0.1", "/ws");
            ws.write(asio::buffer(json{{"id", 1}, {"type", "heartbeat"}, {"agent", 1}, {"data", {{"token", "x"}}}}.dump()));
            beast::flat_buffer b;
            ws.read(b);
            beast::error_code ec;
            ws.next_layer().close(ec);  // dropped without a close frame
        }
    });
    for (auto& a : annotators) a.join();
    done = true;
    reader.join();
    dropper.join();
    run.shutdown();
    server.shutdown();

    CHECK(errors == 0);
    std::set<std::int64_t> unique(acknowledged.begin(), acknowledged.end());
    CHECK(unique.size() == acknowledged.size());  // no unit acknowledged twice
    auto completed = db.find_units({.status = unit_status::completed});
    CHECK(completed.size() == acknowledged.size());
    for (auto const& u : completed) CHECK(unique.contains(u.id.value()));
    CHECK(acknowledged.size() > 50);
}

TEST_CASE("http groups: packets that arrive during a group form the next one, each with its own reply",
          "[architect][http][concurrency]") {
    architects::http_args args;
    args.port = 0;
    args.threads = 2;
    architects::http server{args};
    auto& channel = server.channel();
    std::mutex pipeline_lock;  // what a pipeline's mutex does: one group at a time
    std::mutex m;
    std::vector<std::size_t> groups;
    std::size_t in_group = 0;
    std::latch first_in_handler(1);
    std::latch others_sent(1);
    std::atomic<bool> first{true};
    auto one = [&](packet const& p) {
        {
            std::lock_guard l{m};
            ++in_group;
        }
        if (first.exchange(false)) {
            first_in_handler.count_down();
            others_sent.wait();  // the other packets queue up meanwhile
            std::this_thread::sleep_for(std::chrono::milliseconds(150));  // ... and reach the server's queue
        }
        return packet{"echo", std::nullopt, p.data};
    };
    auto many = [&](std::span<packet const> requests, std::span<packet> replies) {
        std::lock_guard l{pipeline_lock};
        {
            std::lock_guard g{m};
            in_group = 0;
        }
        for (std::size_t i = 0; i < requests.size(); ++i) replies[i] = channel.request(requests[i]);
        std::lock_guard g{m};
        groups.push_back(in_group);
    };
    /// A group_packet_handler: packets one by one through `one`, groups through `many`.
    struct grouping {
        decltype(one)& one_;
        decltype(many)& many_;
        packet handle(packet const& p) { return one_(p); }
        void disconnect(agent_id) {}
        void handle_group(std::span<packet const> rq, std::span<packet> rp) { many_(rq, rp); }
    } handler{one, many};
    static_assert(group_packet_handler<grouping>);
    channel.on_message(handler);
    server.prepare();
    server.deploy();
    auto const port = server.port();

    constexpr int others = 8;
    // Every connection is open, accepted and served once before the test: the server is reading all of them.
    split_client lead(port);
    std::vector<std::unique_ptr<split_client>> clients;
    for (int i = 0; i < others; ++i) clients.push_back(std::make_unique<split_client>(port));
    auto warm_up = [](split_client& c) {
        c.send("/healthz", nullptr, bhttp::verb::get);
        return c.receive().status;
    };
    REQUIRE(warm_up(lead) == 200);
    for (auto& c : clients) REQUIRE(warm_up(*c) == 200);

    lead.send("/api/packet", {{"type", "ping"}, {"data", {{"n", -1}}}});
    first_in_handler.wait();
    for (int i = 0; i < others; ++i)
        clients[static_cast<std::size_t>(i)]->send("/api/packet", {{"type", "ping"}, {"data", {{"n", i}}}});
    others_sent.count_down();

    auto const lead_reply = lead.receive();
    CHECK(lead_reply.status == 200);
    CHECK(lead_reply.parsed()["data"]["n"] == -1);
    for (int i = 0; i < others; ++i) {
        auto const r = clients[static_cast<std::size_t>(i)]->receive();
        CHECK(r.status == 200);
        CHECK(r.parsed()["type"] == "echo");
        CHECK(r.parsed()["data"]["n"] == i);  // its own reply, not a neighbour's
    }
    server.shutdown();

    std::lock_guard g{m};
    std::size_t total = 0, largest = 0;
    for (auto n : groups) {
        total += n;
        largest = std::max(largest, n);
    }
    INFO("groups: " << groups.size() << ", largest " << largest);
    CHECK(total == others + 1);
    CHECK(groups.size() < static_cast<std::size_t>(others + 1));  // fewer commits than packets
    CHECK(largest >= 2);
}

TEST_CASE("http groups: a group whose commit fails sends no success, keeps nothing and stops the run",
          "[architect][http][concurrency][errors]") {
    struct item {
        explicit item(initialization_data const&) {}
    };
    providers::in_house crowd{{{"alice", json::object(), {}}}};
    std::vector<json> items{{{"text", "one"}}, {{"text", "two"}}};
    blueprints::static_form form{
        {blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment", .options = {"neg", "pos"}}}, items};
    failing_store db;
    architects::http_args args;
    args.port = 0;
    args.threads = 2;
    architects::http server{args};
    auto dispatcher = routing::make_dispatcher<item, json>(routing::average_per_task{1.0},
                                                           routing::options{.lease = std::chrono::seconds(600)});
    pipeline run{std::move(form), server, crowd, dispatcher, db, run_args_named("http-groups")};
    server.prepare();
    run.launch();
    auto const port = server.port();

    test::http_client alice(port);
    auto const reg = alice.call("POST", "/api/register", json{{"data", {{"invite", crowd.invite_token("alice")}}}}.dump());
    REQUIRE(reg.status == 200);
    auto const details = reg.parsed();
    REQUIRE(details["type"] == "agent_details");
    auto const agent = details["data"]["agent_id"].get<std::int64_t>();
    auto const assigned = db.find_units({.status = unit_status::assigned});
    REQUIRE(assigned.size() == 1);
    auto const unit = assigned.front().id;

    db.fail_commit = true;
    auto const sub = alice.call(
        "POST", "/api/submit",
        json{{"agent", agent}, {"data", {{"token", details["data"]["token"]}, {"submission", {{"sentiment", "pos"}}}}}}.dump());
    CHECK(sub.status == 503);
    CHECK(sub.parsed()["data"]["reason"] == "unavailable");
    CHECK_THAT(sub.parsed()["data"]["message"].get<std::string>(), Catch::Matchers::Contains("nothing of it was kept"));
    db.fail_commit = false;

    // Nothing of the submission was kept: the unit is still assigned, its agent has no answer.
    CHECK(db.get_unit(unit).status == unit_status::assigned);
    CHECK(db.get_agent(agent_id{agent}).status != agent_status::completed);
    REQUIRE(run.failure().has_value());
    CHECK_THAT(*run.failure(), Catch::Matchers::Contains("disk I/O error"));
    CHECK_FALSE(run.is_active());
    server.shutdown();
}

TEST_CASE("http hardening under load: per-address slots and the bad-token table shared by every I/O thread",
          "[architect][http][concurrency][hostile]") {
    architects::http_args args;
    args.port = 0;
    args.threads = 3;
    args.max_connections_per_address = 4;
    architects::http server{args};
    crowdline::handler_of handler{[](packet const& p) {
        return p.data.value("token", "") == "right" ? packet{"ok", agent_id{1}, {}}
                                                    : packet::error("forbidden", "the token is not valid");
    }};
    server.channel().on_message(handler);
    server.route("GET", "/secret", [](architects::http_request const& r) {
        return r.bearer_token() == "right" ? architects::http_response::json(200, {{"secret", 1}})
                                           : architects::http_response::error(403, "forbidden", "bad token");
    });
    server.prepare();
    (void)server.deploy();
    auto const port = server.port();
    constexpr int clients = 4, bad_each = 6;
    std::atomic<int> wrong_status{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
        threads.emplace_back([&, t] {
            asio::io_context io;
            auto const source = asio::ip::make_address("127.0.0." + std::to_string(20 + t));
            auto call = [&](std::string const& target, std::string const& token) {
                beast::tcp_stream s(io);
                s.socket().open(tcp::v4());
                s.socket().bind(tcp::endpoint(source, 0));
                s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
                beast::http::request<beast::http::empty_body> req{beast::http::verb::get, target, 11};
                req.set(beast::http::field::authorization, "Bearer " + token);
                req.keep_alive(false);  // the server closes at once: its slot is free for the next call
                beast::http::write(s, req);
                beast::flat_buffer b;
                beast::http::response<beast::http::string_body> res;
                beast::http::read(s, b, res);
                return res.result_int();
            };
            // A WebSocket from the same address holds a slot meanwhile and sends a bad and a good token.
            beast::websocket::stream<tcp::socket> ws(io);
            ws.next_layer().open(tcp::v4());
            ws.next_layer().bind(tcp::endpoint(source, 0));
            ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
            ws.handshake("127.0.0.1", "/ws");
            for (std::string token : {"guess", "right"}) {
                ws.write(asio::buffer(json{{"type", "x"}, {"data", {{"token", token}}}}.dump()));
                beast::flat_buffer b;
                ws.read(b);
            }
            for (int i = 0; i < bad_each; ++i) {
                if (call("/secret", "guess" + std::to_string(i)) != 403) ++wrong_status;
                if (call("/secret", "right") != 200) ++wrong_status;
            }
            ws.close(beast::websocket::close_code::normal);
        });
    for (auto& t : threads) t.join();
    CHECK(wrong_status == 0);
    // Every refusal counted once, each address slowed (more than 3 failures), and every slot given back.
    std::string metrics;
    for (int i = 0; i < 100; ++i) {
        metrics = test::http_request(port, "GET", "/metrics").body;
        if (metrics.find("crowdline_http_connections_open 1\n") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(metrics.find("crowdline_http_auth_failures_total " + std::to_string(clients * (bad_each + 1)) + "\n") !=
          std::string::npos);
    CHECK(metrics.find("crowdline_http_addresses_slowed " + std::to_string(clients) + "\n") != std::string::npos);
    CHECK(metrics.find("crowdline_http_connections_open 1\n") != std::string::npos);  // the metrics request itself
    CHECK(metrics.find("crowdline_http_connections_refused_total 0\n") != std::string::npos);
    server.shutdown();
}
