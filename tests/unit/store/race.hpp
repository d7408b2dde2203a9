#pragma once
// Two calls released at once (a barrier), counted: who won, who was refused with invalid_transition, and
// anything else (its message kept). The store race tests (concurrency_store.cpp, postgres_store.cpp) use it.
#include <atomic>
#include <barrier>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <crowdline/errors.hpp>

namespace test {

struct race_result {
    int wins = 0;
    int refusals = 0;
    int other_errors = 0;
    std::string other;
};

/// Runs both calls at once (a barrier releases them together); counts who won and who was refused.
inline race_result race(std::function<void()> const& a, std::function<void()> const& b) {
    std::atomic<int> wins{0}, refusals{0}, others{0};
    std::string other;
    std::mutex other_mutex;
    std::barrier start(2);
    auto run = [&](std::function<void()> const& claim) {
        start.arrive_and_wait();
        try {
            claim();
            ++wins;
        } catch (crowdline::invalid_transition const&) {
            ++refusals;
        } catch (std::exception const& e) {
            ++others;
            std::lock_guard lock(other_mutex);
            other = e.what();
        }
    };
    std::thread first([&] { run(a); });
    std::thread second([&] { run(b); });
    first.join();
    second.join();
    return {wins.load(), refusals.load(), others.load(), other};
}

}  // namespace test
