#pragma once
// A memory store whose outermost commit can be made to fail (as a full disk would), and which counts the
// outermost commits: what a test of group commits and their failure needs.

#include <functional>
#include <type_traits>

#include <crowdline/errors.hpp>
#include <crowdline/store/memory.hpp>

namespace test {

struct failing_store : crowdline::stores::memory {
    bool fail_commit = false;
    int commits = 0;  ///< outermost transactions that committed
    int depth = 0;
    template <class F>
    decltype(auto) transaction(F&& f) {
        return crowdline::stores::memory::transaction([&]() -> decltype(auto) {
            ++depth;
            struct leave {
                int& d;
                ~leave() { --d; }
            } guard{depth};
            if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
                std::invoke(f);
                finish();
            } else {
                decltype(auto) result = std::invoke(f);
                finish();
                return result;
            }
        });
    }

private:
    void finish() {
        if (depth != 1) return;
        if (fail_commit) throw crowdline::db_error("disk I/O error (test): the commit failed");
        ++commits;
    }
};

}  // namespace test
