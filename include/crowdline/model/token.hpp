#pragma once
/// Secret tokens — an agent's proof that a packet comes from the page it was given, an invite link, the
/// requester's review link — made and compared in one place. Public: a program that keeps links of its
/// own (`crowdline serve`'s secrets file) makes and checks them with the same functions.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace crowdline {

/// Random bits per token: 128, hex encoded as 32 characters.
inline constexpr std::size_t token_bytes = 16;
inline constexpr std::size_t token_chars = 2 * token_bytes;

/// A fresh token: `token_chars` lowercase hex characters drawn straight from the OS's entropy
/// (`random_device`), never from a seeded engine whose state could be rebuilt from tokens it printed.
/// One `random_device` per thread, so concurrent callers never share (or race on) its state.
[[nodiscard]] inline std::string random_token() {
    static thread_local std::random_device rng;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(token_chars);
    std::uint32_t word = 0;
    for (std::size_t i = 0; i < token_chars; ++i, word >>= 4) {
        if (i % 8 == 0) word = rng();  // 8 nibbles per 32-bit draw
        out += hex[word & 15];
    }
    return out;
}

/// Whether `token` looks like one `random_token` makes.
[[nodiscard]] inline bool is_token_shaped(std::string_view token) noexcept {
    if (token.size() != token_chars) return false;
    for (char c : token)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

/// Equality whose time depends only on the lengths, never on where the texts first differ, so a token
/// cannot be found one character at a time by timing refusals.
[[nodiscard]] inline bool same_token(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

/// A keyed 64-bit fingerprint of `token`, to find it in a table of issued tokens without comparing it with
/// every one: a table draws its own random `key`, so which entry a guess lands on tells a guesser nothing,
/// and the entry found is still confirmed with `same_token`. Time depends only on the length.
[[nodiscard]] inline std::uint64_t token_fingerprint(std::string_view token, std::uint64_t key) noexcept {
    std::uint64_t h = key ^ (token.size() * 0x9e3779b97f4a7c15ull);
    for (char c : token) {
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    h ^= h >> 33;  // a 64-bit finalizer (MurmurHash3's): every input bit reaches every output bit
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/// A random key for `token_fingerprint`, drawn from the OS's entropy.
[[nodiscard]] inline std::uint64_t random_fingerprint_key() {
    std::random_device rng;
    return (std::uint64_t{rng()} << 32) ^ rng();
}

}  // namespace crowdline
