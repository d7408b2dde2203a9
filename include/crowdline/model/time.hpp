#pragma once
/// The one clock crowdline speaks. Time is always passed in (never read inside routing), so tests can
/// drive it.

#include <chrono>
#include <memory>
#include <type_traits>

namespace crowdline {

using clock = std::chrono::system_clock;
using time_point = clock::time_point;

/// Where a run reads the time: the system clock (default), a plain function, or any object `c` with
/// `c() -> time_point` kept by reference (a test's manual clock, a simulation's). One function pointer,
/// no allocation; a temporary is refused at compile time, as it would be gone before the first tick.
class clock_ref {
public:
    clock_ref() noexcept = default;
    clock_ref(time_point (*now)()) noexcept : source_{nullptr}, read_{nullptr}, plain_{now} {}
    template <class C>
        requires std::is_invocable_r_v<time_point, C const&>
    clock_ref(C const& source) noexcept
        : source_{std::addressof(source)},
          read_{[](void const* s) -> time_point { return (*static_cast<C const*>(s))(); }} {}
    template <class C>
    clock_ref(C const&&) = delete;

    time_point operator()() const { return read_ ? read_(source_) : plain_(); }

private:
    void const* source_ = nullptr;
    time_point (*read_)(void const*) = nullptr;
    time_point (*plain_)() = [] { return clock::now(); };
};

}  // namespace crowdline
