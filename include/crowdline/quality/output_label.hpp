#pragma once
/// `quality::output_label`: one value a worker sent on a field, as a label the quality measures can key
/// on (strings, booleans and integers; anything else is not a category).

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <crowdline/routing/detail/hash.hpp>

namespace crowdline::quality {

/// One answer's value of a field, as a label the measures can key on. Only values that name a category
/// qualify: strings, booleans and integers (a number with a fraction is a measurement, a list or an object
/// several labels, null no answer). Kept typed, not as text, so the integer 3 and the string "3" stay two
/// labels, integers order as numbers and strings as themselves: the smallest-label tie-break of
/// `majority_vote` is the one an implementation on the raw values makes.
struct output_label {
    enum class kind_t : std::uint8_t { boolean, integer, string };
    kind_t kind = kind_t::string;
    std::int64_t number = 0;  ///< a boolean's 0 / 1, or the integer
    std::string text{};       ///< the string

    friend bool operator==(output_label const&, output_label const&) = default;
    friend std::strong_ordering operator<=>(output_label const&, output_label const&) = default;

    /// The label of a JSON value; nothing when it is not a string, a boolean or an integer (64-bit signed).
    static std::optional<output_label> of(nlohmann::json const& v) {
        if (v.is_string()) return output_label{kind_t::string, 0, v.get<std::string>()};
        if (v.is_boolean()) return output_label{kind_t::boolean, v.get<bool>() ? 1 : 0, {}};
        if (v.is_number_integer()) {
            if (v.is_number_unsigned() &&
                v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return std::nullopt;
            return output_label{kind_t::integer, v.get<std::int64_t>(), {}};
        }
        return std::nullopt;
    }
    /// The value as the worker sent it.
    [[nodiscard]] nlohmann::json to_json() const {
        switch (kind) {
            case kind_t::boolean: return number != 0;
            case kind_t::integer: return number;
            case kind_t::string: break;
        }
        return text;
    }
};

}  // namespace crowdline::quality

template <>
struct std::hash<crowdline::quality::output_label> {
    std::size_t operator()(crowdline::quality::output_label const& l) const noexcept {
        auto const h = l.kind == crowdline::quality::output_label::kind_t::string ? std::hash<std::string>{}(l.text)
                                                                                  : static_cast<std::size_t>(l.number);
        return static_cast<std::size_t>(
            crowdline::routing::detail::mix64(static_cast<std::uint64_t>(h) ^ static_cast<std::uint64_t>(l.kind)));
    }
};

