#pragma once
/// An allocator whose arrays start on a cache line (64 bytes), through the ordinary `operator new` (so a
/// replaced global `operator new` still sees every byte). With 32-byte unit records, the two units of a
/// two-unit item then share one cache line.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>

namespace crowdline::routing::detail {

inline constexpr std::size_t cache_line = 64;

template <class T>
struct cache_aligned_allocator {
    using value_type = T;

    cache_aligned_allocator() noexcept = default;
    template <class U>
    cache_aligned_allocator(const cache_aligned_allocator<U>&) noexcept {}  // NOLINT: rebinding copy

    [[nodiscard]] T* allocate(std::size_t n) {
        constexpr std::size_t extra = cache_line + sizeof(void*);
        if (n > (std::numeric_limits<std::size_t>::max() - extra) / sizeof(T)) throw std::bad_array_new_length{};
        void* raw = ::operator new(n * sizeof(T) + extra);
        const auto at = (reinterpret_cast<std::uintptr_t>(raw) + extra) & ~std::uintptr_t{cache_line - 1};
        void* const aligned = reinterpret_cast<void*>(at);
        std::memcpy(static_cast<char*>(aligned) - sizeof(void*), &raw, sizeof(void*));  // where the block starts
        return static_cast<T*>(aligned);
    }
    void deallocate(T* p, std::size_t) noexcept {
        void* raw = nullptr;
        std::memcpy(&raw, reinterpret_cast<char*>(p) - sizeof(void*), sizeof(void*));
        ::operator delete(raw);
    }

    template <class U>
    friend bool operator==(const cache_aligned_allocator&, const cache_aligned_allocator<U>&) noexcept {
        return true;
    }
};

}  // namespace crowdline::routing::detail
