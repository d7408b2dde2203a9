#pragma once
/// Reading JSON text that nobody vouches for — a worker's packet, a requester's tasks file: how deep it
/// nests, checked before parsing, and nlohmann's error message made fit to show back to its sender.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace crowdline {

/// Offset of the first `[` or `{` that goes deeper than `limit`, or nothing. One pass that skips strings,
/// with no recursion, so a hostile 100,000-level document is refused before any parser or walker (or the
/// destructor of a parsed tree) can exhaust the stack on it.
[[nodiscard]] inline std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t limit) noexcept {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char const c = text[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return std::nullopt;
}

/// nlohmann's message without its "[json.exception.…] " prefix and without the "; last read: …" echo of
/// the input (which could be megabytes, or someone else's secret pasted by mistake).
[[nodiscard]] inline std::string json_error_text(nlohmann::json::exception const& e) {
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what.erase(0, at + 2);
    if (auto at = what.find("; last read"); at != std::string::npos) what.erase(at);
    return what;
}

}  // namespace crowdline
