// Threads sharing ONE stores::sqlite (one connection, one lock), as crowdline::operator_ runs several task
// runs over one store: each call and each whole transaction is exclusive to the thread that runs it, so
// transactions commit or roll back whole, readers never see another thread's half-done transaction, and
// of two threads claiming one unit exactly one wins. Built under ThreadSanitizer in CI.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"
#include "fixtures.hpp"

using namespace crowdline;

namespace {

/// What a test throws on purpose to roll a transaction back.
struct intended_rollback {};

std::string name_of(char const* kind, int thread, int round) {
    return std::string(kind) + "-" + std::to_string(thread) + "-" + std::to_string(round);
}

}  // namespace

TEST_CASE("threads sharing one sqlite store: each transaction commits or rolls back whole",
          "[store][sqlite][concurrency]") {
    test::sqlite_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);

    constexpr int threads = 4;
    constexpr int rounds = 30;
    std::vector<worker_id> workers;
    for (int t = 0; t < threads; ++t) workers.push_back(db->new_worker(name_of("claimer", t, 0), "mock"));

    std::atomic<int> unexpected{0};  // any exception other than intended_rollback
    std::atomic<int> rolled_back{0};
    std::atomic<bool> writers_done{false};
    std::atomic<int> torn_reads{0};
    std::atomic<int> reads{0};
    std::barrier start(threads + 1);

    auto writer = [&](int t) {
        start.arrive_and_wait();
        for (int r = 0; r < rounds; ++r) {
            bool const roll_back = r % 3 == 2;
            try {
                db->transaction([&] {
                    db->new_worker(name_of("outer", t, r), "mock");
                    auto a = db->new_assignment(c.run);
                    for (int k = 0; k < 2; ++k) {
                        auto u = db->new_unit(a, k, 1.0);
                        db->update_unit(u, unit_status::launched);
                        auto agent = db->new_agent(workers[static_cast<std::size_t>(t)], u);
                        db->update_agent(agent, agent_status::in_task);
                    }
                    // A nested transaction (a savepoint) that fails: only its own write goes.
                    try {
                        db->transaction([&] {
                            db->new_worker(name_of("inner", t, r), "mock");
                            throw intended_rollback{};
                        });
                    } catch (intended_rollback const&) {
                    }
                    if (roll_back) throw intended_rollback{};
                });
            } catch (intended_rollback const&) {
                if (roll_back) ++rolled_back;
                else ++unexpected;
            } catch (...) {
                ++unexpected;
            }
        }
    };
    // A reader on the same object: if its statements could run inside another thread's open transaction
    // it would see that transaction's rows, e.g. an assignment with one unit of its two.
    auto reader = [&] {
        start.arrive_and_wait();
        while (!writers_done) {
            try {
                auto units = db->find_units({.task_run = c.run});
                auto agents = db->find_agents({.task_run = c.run});
                if (units.size() % 2 != 0 || agents.size() % 2 != 0) ++torn_reads;
                ++reads;
            } catch (...) {
                ++unexpected;
            }
        }
    };

    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(writer, t);
    std::thread watcher(reader);
    for (auto& th : pool) th.join();
    writers_done = true;
    watcher.join();

    CHECK(unexpected == 0);
    CHECK(torn_reads == 0);
    CHECK(reads > 0);

    int committed_per_thread = 0;
    for (int r = 0; r < rounds; ++r)
        if (r % 3 != 2) ++committed_per_thread;
    int const committed = threads * committed_per_thread;
    CHECK(rolled_back == threads * rounds - committed);

    // Exact counts: every committed transaction's rows are there, no rolled-back one's.
    CHECK(db->find_assignments({.task_run = c.run}).size() == static_cast<std::size_t>(1 + committed));
    auto units = db->find_units({.task_run = c.run});
    REQUIRE(units.size() == static_cast<std::size_t>(2 * committed));
    auto agents = db->find_agents({.task_run = c.run});
    REQUIRE(agents.size() == static_cast<std::size_t>(2 * committed));
    for (auto const& u : units) {
        CHECK(u.status == unit_status::assigned);
        REQUIRE(u.agent);
        auto a = db->get_agent(*u.agent);
        CHECK(a.unit == u.id);
        CHECK(a.status == agent_status::in_task);
        CHECK(u.worker == a.worker);
    }
    for (int t = 0; t < threads; ++t) {
        CHECK(db->find_agents({.worker = workers[static_cast<std::size_t>(t)]}).size() ==
              static_cast<std::size_t>(2 * committed_per_thread));
        for (int r = 0; r < rounds; ++r) {
            INFO("thread " << t << ", round " << r);
            CHECK(db->find_workers({.name = name_of("outer", t, r)}).size() == (r % 3 == 2 ? 0u : 1u));
            CHECK(db->find_workers({.name = name_of("inner", t, r)}).empty());
        }
    }
    CHECK(db->find_workers().size() == static_cast<std::size_t>(1 + threads + committed));

    // And the file says the same to a fresh connection (everything committed, nothing left open).
    auto other = backend.reopen();
    CHECK(other->find_units({.task_run = c.run}).size() == units.size());
    CHECK(other->find_workers().size() == db->find_workers().size());
}

TEST_CASE("two threads racing new_agent on one sqlite store: exactly one wins", "[store][sqlite][concurrency]") {
    test::sqlite_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto rival = db->new_worker("rival", "mock");
    std::array<worker_id, 2> const claimers{c.worker, rival};
    constexpr int rounds = 200;

    for (int i = 0; i < rounds; ++i) {
        auto u = test::launched_unit(*db, c.assignment, i);
        std::atomic<int> wins{0}, refusals{0}, others{0};
        std::barrier start(2);
        auto claim = [&](worker_id w) {
            start.arrive_and_wait();
            try {
                db->new_agent(w, u);
                ++wins;
            } catch (invalid_transition const&) {
                ++refusals;
            } catch (...) {
                ++others;
            }
        };
        std::thread a(claim, claimers[0]);
        std::thread b(claim, claimers[1]);
        a.join();
        b.join();
        INFO("round " << i);
        REQUIRE(wins == 1);
        REQUIRE(refusals == 1);
        REQUIRE(others == 0);
        auto unit = db->get_unit(u);
        CHECK(unit.status == unit_status::assigned);
        auto agents = db->find_agents({.unit = u});
        REQUIRE(agents.size() == 1);
        CHECK(unit.agent == agents[0].id);
        CHECK(unit.worker == agents[0].worker);
    }
    CHECK(db->find_agents().size() == static_cast<std::size_t>(rounds));
}

TEST_CASE("another thread's call on one sqlite store waits for a transaction to end", "[store][sqlite][concurrency]") {
    test::sqlite_backend backend;
    auto db = backend.open();
    std::atomic<bool> inside{false};
    std::atomic<bool> committed{false};
    std::thread holder([&] {
        db->transaction([&] {
            db->new_project("held");
            inside = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            committed = true;  // still inside: the COMMIT follows, under the same lock
        });
    });
    while (!inside) std::this_thread::yield();
    // Without the lock this would run on the connection inside the open transaction and see "held" early.
    auto projects = db->find_projects();
    CHECK(committed.load());
    REQUIRE(projects.size() == 1);
    CHECK(projects[0].name == "held");
    holder.join();
}
