// Racing claims: two connections (or two threads on one memory store) call new_agent on the same unit.
// Exactly one wins; the other gets invalid_transition; the unit names the winner. Built under TSan in CI.
#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <thread>

#include "backends.hpp"
#include "fixtures.hpp"
#include "race.hpp"

using namespace crowdline;

TEST_CASE("two SQLite connections racing new_agent: exactly one wins", "[store][sqlite][concurrency]") {
    test::sqlite_backend backend;
    auto setup = backend.open();
    auto c = test::make_chain(*setup);
    auto rival = setup->new_worker("rival", "mock");
    constexpr int rounds = 40;
    std::vector<unit_id> units;
    for (int i = 0; i < rounds; ++i) units.push_back(test::launched_unit(*setup, c.assignment, i));

    auto first = backend.reopen();
    auto second = backend.reopen();
    for (auto u : units) {
        std::function<void()> a = [&] { first->new_agent(c.worker, u); };
        std::function<void()> b = [&] { second->new_agent(rival, u); };
        auto r = test::race(a, b);
        REQUIRE(r.wins == 1);
        REQUIRE(r.refusals == 1);
        REQUIRE(r.other_errors == 0);
        auto unit = setup->get_unit(u);
        CHECK(unit.status == unit_status::assigned);
        auto agents = setup->find_agents({.unit = u});
        REQUIRE(agents.size() == 1);
        CHECK(unit.agent == agents[0].id);
        CHECK(unit.worker == agents[0].worker);
    }
}

TEST_CASE("two threads racing new_agent on one memory store: exactly one wins", "[store][memory][concurrency]") {
    stores::memory db;
    auto c = test::make_chain(db);
    auto rival = db.new_worker("rival", "mock");
    for (int i = 0; i < 200; ++i) {
        auto u = test::launched_unit(db, c.assignment, i);
        std::function<void()> a = [&] { db.new_agent(c.worker, u); };
        std::function<void()> b = [&] { db.new_agent(rival, u); };
        auto r = test::race(a, b);
        REQUIRE(r.wins == 1);
        REQUIRE(r.refusals == 1);
        REQUIRE(db.find_agents({.unit = u}).size() == 1);
    }
}

TEST_CASE("a transaction on one thread is atomic to readers on another", "[store][memory][concurrency]") {
    stores::memory db;
    auto c = test::make_chain(db);
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        while (!done) {
            auto n = db.find_units({.assignment = c.assignment}).size();
            if (n % 2 != 0) ++torn;  // units are always added in pairs inside one transaction
        }
    });
    for (int i = 0; i < 300; ++i)
        db.transaction([&] {
            db.new_unit(c.assignment, 2 * i, 1.0);
            db.new_unit(c.assignment, 2 * i + 1, 1.0);
        });
    done = true;
    reader.join();
    CHECK(torn == 0);
    CHECK(db.find_units().size() == 600);
}

TEST_CASE("a writer waits for another connection's transaction instead of failing", "[store][sqlite][concurrency]") {
    test::sqlite_backend backend;
    auto holder = backend.open();
    auto waiter = backend.reopen();
    std::atomic<bool> inside{false};
    std::atomic<bool> released{false};
    std::thread t([&] {
        holder->transaction([&] {
            holder->new_project("held");
            inside = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            released = true;
        });
    });
    while (!inside) std::this_thread::yield();
    // The other connection's write lock is held for 300 ms; the busy timeout (5 s) makes this wait.
    auto id = waiter->new_project("waited");
    CHECK(released.load());
    t.join();
    CHECK(waiter->get_project(id).name == "waited");
    CHECK(waiter->find_projects().size() == 2);
}
