// providers::mock from many threads (also built alone under ThreadSanitizer): concurrent bonuses never
// overspend the budget, and blocks, grants and judgements from several threads are all recorded.
#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include <crowdline/provider/mock.hpp>

using namespace crowdline;

TEST_CASE("mock: concurrent bonuses never overspend, every call is recorded", "[provider][concurrency]") {
    constexpr int threads_n = 4;
    constexpr int calls_each = 400;
    providers::mock p{{.budget = 1000}};
    requester_id const r{1};
    p.register_requester(r);

    std::barrier start(threads_n);
    std::atomic<int> paid{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            worker_id const w{t + 1};
            start.arrive_and_wait();
            for (int i = 0; i < calls_each; ++i) {
                if (p.bonus(w, 1.0, "per item", std::nullopt)) ++paid;
                p.block(w, "flapping");
                p.unblock(w);
                p.grant(w, "seen", i);
                p.approve(agent_id{t * calls_each + i + 1}, "ok");
                (void)p.is_blocked(w);
                (void)p.budget(r);
            }
        });
    for (auto& t : threads) t.join();

    CHECK(paid == 1000);  // 1600 asked for, exactly the budget paid
    CHECK(p.budget(r) == 0.0);
    CHECK(p.bonuses().size() == 1000u);
    CHECK(p.approved().size() == static_cast<std::size_t>(threads_n * calls_each));
    CHECK(p.blocked().empty());
    for (int t = 0; t < threads_n; ++t) CHECK(p.qualifications(worker_id{t + 1}).at("seen") == calls_each - 1);
}
