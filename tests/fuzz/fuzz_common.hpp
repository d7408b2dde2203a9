#pragma once
// What every fuzz target shares: how an input is cut into lines, and how a broken invariant is reported
// (a message naming it, then abort(), which libFuzzer records as a crash with the input that caused it).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

/// Stops the run on a broken invariant: the message says which, libFuzzer saves the input.
[[noreturn]] inline void fail(std::string const& what) {
    std::fprintf(stderr, "\n== fuzz invariant broken: %s\n", what.c_str());
    std::abort();
}

inline void check(bool holds, std::string const& what) {
    if (!holds) fail(what);
}

/// An exception that is not one of the documented kinds: the message names it and what was being done.
[[noreturn]] inline void unexpected_exception(std::string const& doing) {
    try {
        throw;
    } catch (std::exception const& e) {
        fail(doing + ": unexpected exception: " + e.what());
    } catch (...) {
        fail(doing + ": unexpected exception of a non-standard type");
    }
}

/// The input's lines ('\n'-separated; a trailing '\r' kept, as a file would have it).
inline std::vector<std::string_view> lines(std::uint8_t const* data, std::size_t size) {
    std::string_view text(reinterpret_cast<char const*>(data), size);
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto end = text.find('\n');
        out.push_back(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return out;
}

}  // namespace fuzz
