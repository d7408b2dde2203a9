#pragma once
// A global operator new/delete that counts the live heap bytes (and their peak), for the benchmarks that
// report memory per item. It defines the replaceable allocation functions: include it in exactly one
// translation unit of a program.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace bench {
/// Bytes allocated and not freed yet.
inline std::atomic<std::int64_t> live_bytes{0};
/// The highest `live_bytes` seen since it was last set (relaxed: exact in a single-threaded program).
inline std::atomic<std::int64_t> peak_bytes{0};
namespace detail {
inline constexpr std::size_t header = 16;  // keeps max_align_t alignment; holds the block's size
}
}  // namespace bench

void* operator new(std::size_t n) {
    void* p = std::malloc(n + bench::detail::header);
    if (p == nullptr) throw std::bad_alloc{};
    std::memcpy(p, &n, sizeof n);
    auto const now = bench::live_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed) +
                     static_cast<std::int64_t>(n);
    if (now > bench::peak_bytes.load(std::memory_order_relaxed)) bench::peak_bytes.store(now, std::memory_order_relaxed);
    return static_cast<char*>(p) + bench::detail::header;
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
    if (p == nullptr) return;
    char* block = static_cast<char*>(p) - bench::detail::header;
    std::size_t n;
    std::memcpy(&n, block, sizeof n);
    bench::live_bytes.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    std::free(block);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { operator delete(p); }
