#pragma once
/// JSON for every crowdline value type, from one definition: a Hana-reflected struct becomes an object with
/// one key per member (both directions), a strong id an integer, a status its text, an optional null or
/// the value. Found by nlohmann/json through ADL, so `nlohmann::json j = unit;` and `j.get<unit>()` work.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <crowdline/detail/members.hpp>
#include <crowdline/detail/traits.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline {

/// Types reflected with CROWDLINE_REFLECT (or BOOST_HANA_ADAPT_STRUCT / BOOST_HANA_DEFINE_STRUCT).
template <class T>
concept reflected = detail::hana_struct<T>;

template <class Tag, class Rep>
void to_json(nlohmann::json& j, strong_id<Tag, Rep> id) {
    j = id.value();
}
template <class Tag, class Rep>
void from_json(const nlohmann::json& j, strong_id<Tag, Rep>& id) {
    if (!j.is_number_integer()) throw invalid_argument(std::string(Tag::name) + " id: expected an integer, got " + j.dump());
    id = strong_id<Tag, Rep>{j.get<Rep>()};
}

inline void to_json(nlohmann::json& j, unit_status s) { j = std::string(to_string(s)); }
inline void from_json(const nlohmann::json& j, unit_status& s) { s = parse<unit_status>(j.get<std::string>()); }
inline void to_json(nlohmann::json& j, agent_status s) { j = std::string(to_string(s)); }
inline void from_json(const nlohmann::json& j, agent_status& s) { s = parse<agent_status>(j.get<std::string>()); }

namespace detail {

template <class Member>
void member_to_json(nlohmann::json& out, const Member& value) {
    if constexpr (is_optional_v<Member>) {
        if (value)
            out = *value;
        else
            out = nullptr;
    } else {
        out = value;
    }
}

template <class Member>
void member_from_json(const nlohmann::json& in, Member& value) {
    if constexpr (is_optional_v<Member>) {
        if (in.is_null())
            value.reset();
        else
            value = in.get<typename Member::value_type>();
    } else {
        in.get_to(value);
    }
}

}  // namespace detail

/// Any reflected struct → a JSON object with one key per member.
template <reflected T>
void to_json(nlohmann::json& j, const T& value) {
    j = nlohmann::json::object();
    detail::for_each_member(value, [&](std::string_view key, auto const& member) { detail::member_to_json(j[key.data()], member); });
}

/// A JSON object → a reflected struct. A missing key keeps the member's default, so older exports load;
/// a value of the wrong type is an `invalid_argument` naming the key.
template <reflected T>
void from_json(const nlohmann::json& j, T& value) {
    if (!j.is_object()) throw invalid_argument("expected a JSON object, got " + j.dump());
    detail::for_each_member(value, [&](std::string_view key, auto& member) {
        auto it = j.find(key.data());
        if (it == j.end()) return;
        try {
            detail::member_from_json(*it, member);
        } catch (nlohmann::json::exception const& e) {
            throw invalid_argument("key \"" + std::string(key) + "\": " + e.what());
        } catch (invalid_argument const& e) {
            throw invalid_argument("key \"" + std::string(key) + "\": " + e.what());
        }
    });
}

}  // namespace crowdline
