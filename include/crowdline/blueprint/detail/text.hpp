#pragma once
/// Text helpers for blueprints: HTML escaping, UTF-8 code-point counting, short safe previews of untrusted
/// values for error messages, and `{{key}}` placeholders filled from a unit's JSON.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace crowdline::blueprints::detail {

/// Appends `text` with the five HTML-significant characters escaped: safe in element text and in
/// double- or single-quoted attribute values.
inline void append_escaped(std::string& out, std::string_view text) {
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
}

/// Appends ` name="value"` with the value escaped.
inline void append_attribute(std::string& out, std::string_view name, std::string_view value) {
    out += ' ';
    out += name;
    out += "=\"";
    append_escaped(out, value);
    out += '"';
}

/// `text` HTML-escaped.
inline std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

/// True for the bytes that continue a UTF-8 sequence (they do not start a code point).
constexpr bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0u) == 0x80u; }

/// Characters as a worker counts them: UTF-8 code points, not bytes.
constexpr std::size_t code_points(std::string_view text) noexcept {
    std::size_t n = 0;
    for (char c : text) n += is_continuation(c) ? 0u : 1u;
    return n;
}

/// The longest prefix of `text` with at most `limit` code points, cut on a code-point boundary.
constexpr std::string_view prefix_code_points(std::string_view text, std::size_t limit) noexcept {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_continuation(text[i])) continue;
        if (seen == limit) return text.substr(0, i);
        ++seen;
    }
    return text;
}

/// An untrusted string for an error message: quoted, at most `limit` code points (then "…"), invalid
/// UTF-8 replaced, so a 1 MB or malformed value never ends up whole in a message or makes dump() throw.
inline std::string preview(std::string_view text, std::size_t limit = 40) {
    auto head = prefix_code_points(text, limit);
    auto quoted = nlohmann::json(std::string(head)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (head.size() < text.size()) quoted.insert(quoted.size() - 1, "…");
    return quoted;
}

/// `text`, at most `limit` code points, with invalid UTF-8 replaced by U+FFFD: safe to put in JSON that
/// will be dumped (nlohmann's dump throws on invalid UTF-8).
inline std::string sanitized(std::string_view text, std::size_t limit) {
    auto quoted = nlohmann::json(std::string(prefix_code_points(text, limit)))
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json::parse(std::string_view(quoted)).get<std::string>();  // the one parser instantiation
}

/// `true` when `text` is empty or only ASCII whitespace (an unanswered free-text field).
constexpr bool is_blank(std::string_view text) noexcept {
    for (char c : text)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
    return true;
}

/// Looks `path` (`key` or `a.b.c`) up in `data`; nullptr when absent.
inline const nlohmann::json* lookup(const nlohmann::json& data, std::string_view path) {
    const nlohmann::json* at = &data;
    while (true) {
        auto dot = path.find('.');
        auto key = path.substr(0, dot);
        if (!at->is_object()) return nullptr;
        auto it = at->find(key);
        if (it == at->end()) return nullptr;
        at = &*it;
        if (dot == std::string_view::npos) return at;
        path.remove_prefix(dot + 1);
    }
}

/// The text a placeholder shows: a string as is, null as nothing, any other value as compact JSON.
inline std::string placeholder_text(const nlohmann::json& value) {
    if (value.is_string()) return value.get_ref<const std::string&>();
    if (value.is_null()) return {};
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Walks `text_template` once, left to right: `literal(text)` for each stretch outside placeholders and
/// `placeholder(key)` for each `{{key}}` (the key without the spaces around it; the first `}}` after a
/// `{{` closes it, and an unclosed `{{` is literal). Linear in the text, however many braces it holds.
template <class Literal, class Placeholder>
void scan_placeholders(std::string_view text_template, Literal&& literal, Placeholder&& placeholder) {
    while (!text_template.empty()) {
        auto open = text_template.find("{{");
        auto close = open == std::string_view::npos ? open : text_template.find("}}", open + 2);
        if (close == std::string_view::npos) {
            literal(text_template);
            return;
        }
        literal(text_template.substr(0, open));
        auto key = text_template.substr(open + 2, close - open - 2);
        while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
        while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
        placeholder(key);
        text_template.remove_prefix(close + 2);
    }
}

/// Appends `text_template` HTML-escaped, with each `{{key}}` (spaces allowed inside the braces) replaced by
/// the escaped value of `key` in `unit` (or, when absent there, in `shared`); an unknown key shows nothing.
inline void append_filled(std::string& out, std::string_view text_template, const nlohmann::json& unit,
                          const nlohmann::json& shared) {
    scan_placeholders(
        text_template, [&](std::string_view literal) { append_escaped(out, literal); },
        [&](std::string_view key) {
            const nlohmann::json* value = lookup(unit, key);
            if (value == nullptr) value = lookup(shared, key);
            if (value != nullptr) append_escaped(out, placeholder_text(*value));
        });
}

}  // namespace crowdline::blueprints::detail
