#pragma once
/// Stable 64-bit mixing: routing choices must not change between runs or standard libraries.

#include <cstdint>

namespace crowdline::routing::detail {

/// splitmix64's finaliser: a bijective mix with good avalanche, identical everywhere.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/// A uniform number in [0, 1) from a hash (its top 53 bits).
constexpr double unit_interval(std::uint64_t h) noexcept {
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

/// The rendezvous score of one worker for one item: the highest scores win the item under pick::hash.
constexpr std::uint64_t rendezvous_score(std::uint64_t item, std::uint64_t worker) noexcept {
    return mix64(mix64(item) ^ (worker * 0xd6e8feb86659fd93ULL));
}

}  // namespace crowdline::routing::detail
