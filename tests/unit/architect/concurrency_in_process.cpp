// architects::in_process under contention (also built alone under ThreadSanitizer): several worker
// threads request while another thread pushes to their inboxes, a handler pushes from inside requests,
// and disconnects and handler replacement happen mid-flight. Every request gets the right reply and every
// accepted push is delivered exactly once.
#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include <crowdline/architect/in_process.hpp>

using namespace crowdline;

TEST_CASE("in_process: concurrent requests, pushes, reads and disconnects", "[architect][concurrency]") {
    constexpr int workers = 4;
    constexpr int requests_each = 500;
    constexpr int pushes_each = 500;

    architects::in_process a;
    a.prepare();
    (void)a.deploy();
    std::atomic<int> served{0};
    std::atomic<int> disconnects{0};
    handler_of handler{[&](packet const& p) {
                           ++served;
                           // a handler that pushes while serving: must not deadlock nor race
                           (void)a.channel().send(*p.agent, packet{"ack", p.agent, {{"n", p.data["n"]}}});
                           return packet{"reply", p.agent, {{"n", p.data["n"]}}};
                       },
                       [&](agent_id) { ++disconnects; }};
    a.channel().on_message(handler);

    std::barrier start(workers + 1);
    std::atomic<int> wrong_replies{0};
    std::vector<std::vector<packet>> received(workers);
    std::atomic<int> pushes_accepted{0};

    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            agent_id const me{w + 1};
            start.arrive_and_wait();
            for (int i = 0; i < requests_each; ++i) {
                auto reply = a.request(packet{"work", me, {{"n", i}}});
                if (reply.type != "reply" || reply.agent != me || reply.data["n"] != i) ++wrong_replies;
                if (i % 50 == 0) {
                    auto got = a.inbox(me);
                    received[static_cast<std::size_t>(w)].insert(received[static_cast<std::size_t>(w)].end(),
                                                                  got.begin(), got.end());
                }
            }
        });
    }
    threads.emplace_back([&] {  // the server pushing to everyone at once
        start.arrive_and_wait();
        for (int i = 0; i < pushes_each; ++i)
            for (int w = 0; w < workers; ++w)
                if (a.channel().send(agent_id{w + 1}, packet{"push", agent_id{w + 1}, {{"n", i}}})) ++pushes_accepted;
    });
    for (auto& t : threads) t.join();
    for (int w = 0; w < workers; ++w) {
        auto rest = a.inbox(agent_id{w + 1});
        received[static_cast<std::size_t>(w)].insert(received[static_cast<std::size_t>(w)].end(), rest.begin(), rest.end());
    }

    CHECK(wrong_replies == 0);
    CHECK(served == workers * requests_each);
    CHECK(pushes_accepted == workers * pushes_each);  // nobody disconnected: every push is accepted
    std::size_t acks = 0, pushes = 0;
    for (int w = 0; w < workers; ++w) {
        int last_push = -1, last_ack = -1;
        bool ordered = true;
        for (auto const& p : received[static_cast<std::size_t>(w)]) {
            int n = p.data["n"].get<int>();
            if (p.type == "push") {
                ++pushes;
                ordered = ordered && n == last_push + 1;
                last_push = n;
            } else if (p.type == "ack") {
                ++acks;
                ordered = ordered && n == last_ack + 1;
                last_ack = n;
            }
        }
        CHECK(ordered);  // each agent's pushes arrive once each, in the order they were sent
    }
    CHECK(acks == static_cast<std::size_t>(workers * requests_each));
    CHECK(pushes == static_cast<std::size_t>(workers * pushes_each));
    CHECK(disconnects == 0);
}

TEST_CASE("in_process: disconnects, handler swaps and shutdown while requests are in flight", "[architect][concurrency]") {
    architects::in_process a;
    a.prepare();
    (void)a.deploy();
    std::atomic<int> disconnects{0};
    auto const count = [&](agent_id) { ++disconnects; };
    handler_of v1{[](packet const& p) { return packet{"v1", p.agent}; }, count};
    handler_of v2{[](packet const& p) { return packet{"v2", p.agent}; }, count};
    a.channel().on_message(v1);

    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 3; ++w)
        threads.emplace_back([&, w] {
            agent_id const me{w + 1};
            while (!stop) {
                auto r = a.request(packet{"work", me});
                // a reply from either handler version, or "unavailable" once shut down: never anything else
                bool fine = r.type == "v1" || r.type == "v2" || (r.is_error() && r.data["reason"] == "unavailable");
                if (!fine) ++bad;
                (void)a.inbox(me);
            }
        });
    threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
            a.disconnect(agent_id{i % 3 + 1});
            (void)a.channel().send(agent_id{i % 3 + 1}, packet{"push"});
            if (i == 100) a.channel().on_message(v2);
        }
        a.shutdown();
        stop = true;
    });
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    CHECK(disconnects == 200);
    CHECK_FALSE(a.is_up());
    CHECK(a.request(packet{"late"}).data["reason"] == "unavailable");
}
