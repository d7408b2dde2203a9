// architects::http under concurrent clients (run under ThreadSanitizer in CI): four threads play eight
// annotators over keep-alive HTTP while another reads the dashboard and the metrics and a fifth opens and
// drops WebSockets. Every acknowledged submission is saved exactly once; nothing else is.

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
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

#include "http_client.hpp"

using namespace crowdline;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr char const* review_token = "fedcba9876543210fedcba9876543210";

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
    task_run_args run_args;
    run_args.task_name = "http-concurrency";
    run_args.task_title = "t";
    run_args.task_description = "d";
    run_args.allowed_concurrent = 1;
    run_args.assignment_duration_in_seconds = 600;
    pipeline run{std::move(form), server, crowd, dispatcher, db, run_args};
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
