#pragma once
/// Config binding: an args struct reflected with Boost.Hana (CROWDLINE_REFLECT, or Hana's
/// BOOST_HANA_DEFINE_STRUCT / BOOST_HANA_ADAPT_STRUCT) gets, from that one definition, JSON load and dump, `key=value` overrides
/// (`task.task_reward=0.5`, nested structs by dotted path), `--help` text with each default, and
/// `validate()` that names the bad key. Descriptions are optional: a static member
/// `descriptions` of `{key, text}` pairs.

#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/adapt_struct.hpp>   // an application's args may use Hana's own macros
#include <boost/hana/define_struct.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/detail/members.hpp>
#include <crowdline/detail/traits.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline::config {

/// A struct whose members Hana can enumerate.
template <class T>
concept args_struct = crowdline::detail::hana_struct<T>;

/// One `{key, text}` description entry.
struct description {
    std::string_view key;
    std::string_view text;
};

namespace detail {

using crowdline::detail::is_optional_v;
using crowdline::detail::is_vector_v;

template <class T>
std::string type_name() {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_integral_v<T>) return "integer";
    else if constexpr (std::is_floating_point_v<T>) return "number";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else if constexpr (is_optional_v<T>) return type_name<typename T::value_type>() + ", optional";
    else if constexpr (is_vector_v<T>) return "list of " + type_name<typename T::value_type>();
    else if constexpr (std::is_same_v<T, nlohmann::json>) return "JSON";
    else if constexpr (args_struct<T>) return "group";
    else return "value";
}

template <class T>
std::string_view describe(std::string_view key) {
    if constexpr (requires { T::descriptions; }) {
        for (auto const& d : T::descriptions)
            if (d.key == key) return d.text;
    }
    return {};
}

inline std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

/// JSON → one member, strictly: the JSON type must fit the member's type, and the error names the key.
template <class T>
void read_value(nlohmann::json const& j, T& out, std::string const& key);

template <args_struct T>
void read_struct(nlohmann::json const& j, T& out, std::string const& prefix) {
    if (!j.is_object())
        throw config_error((prefix.empty() ? std::string("config") : prefix) + ": expected an object, got " + j.dump());
    for (auto const& item : j.items()) {
        // Named references, not a structured binding: clang 14 cannot capture bindings in the lambda below.
        auto const& k = item.key();
        auto const& v = item.value();
        bool known = false;
        crowdline::detail::for_each_member(out, [&](std::string_view name, auto& member) {
            if (name != k) return;
            known = true;
            read_value(v, member, join(prefix, name));
        });
        if (!known) throw config_error(join(prefix, k) + ": unknown key");
    }
}

template <class T>
void read_value(nlohmann::json const& j, T& out, std::string const& key) {
    auto fail = [&] {
        throw config_error(key + ": expected " + type_name<T>() + ", got " + j.dump());
    };
    if constexpr (std::is_same_v<T, bool>) {
        if (!j.is_boolean()) fail();
        out = j.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
        if (!j.is_number_integer()) fail();
        auto v = j.get<std::int64_t>();
        if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
            (v > 0 && static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
            throw config_error(key + ": " + j.dump() + " is out of range");
        out = static_cast<T>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!j.is_number()) fail();
        out = j.get<T>();
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!j.is_string()) fail();
        out = j.get<std::string>();
    } else if constexpr (std::is_same_v<T, nlohmann::json>) {
        out = j;
    } else if constexpr (is_optional_v<T>) {
        if (j.is_null()) {
            out.reset();
        } else {
            typename T::value_type v{};
            read_value(j, v, key);
            out = std::move(v);
        }
    } else if constexpr (is_vector_v<T>) {
        if (!j.is_array()) fail();
        T values;
        for (std::size_t i = 0; i < j.size(); ++i) {
            typename T::value_type v{};
            read_value(j[i], v, key + "[" + std::to_string(i) + "]");
            values.push_back(std::move(v));
        }
        out = std::move(values);
    } else if constexpr (args_struct<T>) {
        read_struct(j, out, key);
    } else {
        out = j.get<T>();  // a user type with its own from_json
    }
}

template <class T>
nlohmann::json write_value(T const& v) {
    if constexpr (is_optional_v<T>) {
        return v ? write_value(*v) : nlohmann::json(nullptr);
    } else if constexpr (is_vector_v<T>) {
        auto out = nlohmann::json::array();
        for (auto const& x : v) out.push_back(write_value(x));
        return out;
    } else if constexpr (args_struct<T> && !std::is_same_v<T, nlohmann::json>) {
        auto out = nlohmann::json::object();
        crowdline::detail::for_each_member(v, [&](std::string_view name, auto const& member) { out[name.data()] = write_value(member); });
        return out;
    } else {
        return nlohmann::json(v);
    }
}

/// The text after `=` in an override → JSON of the member's type. Strings need no quotes; lists take
/// JSON (`["a","b"]`) or commas (`a,b`).
template <class T>
nlohmann::json parse_text(std::string_view text, std::string const& key) {
    if constexpr (std::is_same_v<T, std::string>) {
        nlohmann::json s = std::string(text);
        try {  // refused here, not when the settings are first written out as JSON (help, a run's init_params)
            (void)s.dump();
        } catch (nlohmann::json::type_error const&) {
            throw config_error(key + ": the value is not valid UTF-8");
        }
        return s;
    } else if constexpr (is_optional_v<T>) {
        if (text == "null" || text.empty()) return nullptr;
        return parse_text<typename T::value_type>(text, key);
    } else if constexpr (is_vector_v<T>) {
        if (!text.empty() && text.front() == '[') {
            auto j = nlohmann::json::parse(text, nullptr, false);
            if (j.is_discarded()) throw config_error(key + ": \"" + std::string(text) + "\" is not a JSON list");
            return j;
        }
        auto out = nlohmann::json::array();
        std::size_t start = 0;
        while (start <= text.size() && !text.empty()) {
            auto comma = text.find(',', start);
            auto part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            out.push_back(parse_text<typename T::value_type>(part, key));
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return out;
    } else if constexpr (std::is_same_v<T, bool>) {
        if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
        if (text == "false" || text == "0" || text == "no" || text == "off") return false;
        throw config_error(key + ": expected true or false, got \"" + std::string(text) + "\"");
    } else {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded())
            throw config_error(key + ": expected " + type_name<T>() + ", got \"" + std::string(text) + "\"");
        return j;
    }
}

template <args_struct T>
bool apply_path(T& args, std::string_view path, std::string_view text, std::string const& prefix) {
    auto dot = path.find('.');
    auto head = path.substr(0, dot);
    bool found = false;
    crowdline::detail::for_each_member(args, [&](std::string_view name, auto& member) {
        if (found || name != head) return;
        found = true;
        using member_type = std::remove_cvref_t<decltype(member)>;
        auto key = join(prefix, name);
        if constexpr (args_struct<member_type> && !std::is_same_v<member_type, nlohmann::json>) {
            if (dot == std::string_view::npos) throw config_error(key + ": is a group; set one of its keys (" + key + ".…)");
            if (!apply_path(member, path.substr(dot + 1), text, key))
                throw config_error(join(key, path.substr(dot + 1)) + ": unknown key");
        } else {
            if (dot != std::string_view::npos) throw config_error(key + ": has no sub-keys");
            read_value(parse_text<member_type>(text, key), member, key);
        }
    });
    return found;
}

template <args_struct T>
void help_lines(T const& defaults, std::string const& prefix, std::ostringstream& out) {
    crowdline::detail::for_each_member(defaults, [&](std::string_view name, auto const& member) {
        using member_type = std::remove_cvref_t<decltype(member)>;
        auto key = join(prefix, name);
        if constexpr (args_struct<member_type> && !std::is_same_v<member_type, nlohmann::json>) {
            help_lines(member, key, out);
        } else {
            out << "  " << key << '=' << write_value(member).dump() << "  (" << type_name<member_type>() << ')';
            if (auto d = describe<T>(name); !d.empty()) out << "  " << d;
            out << '\n';
        }
    });
}

template <class T>
void validate_tree(T const& args, std::string const& prefix) {
    if constexpr (requires { args.validate(); }) {
        try {
            args.validate();
        } catch (config_error const& e) {  // a nested struct names its own keys: put its path in front
            if (prefix.empty()) throw;
            throw config_error(prefix + "." + e.what());
        }
    }
    if constexpr (args_struct<T>) {
        crowdline::detail::for_each_member(args, [&](std::string_view name, auto const& member) {
            using member_type = std::remove_cvref_t<decltype(member)>;
            if constexpr (args_struct<member_type> && !std::is_same_v<member_type, nlohmann::json>) validate_tree(member, join(prefix, name));
        });
    }
}

}  // namespace detail

/// Args → JSON: one key per member, nested structs as objects.
template <args_struct T>
nlohmann::json dump(T const& args) {
    return detail::write_value(args);
}

/// JSON → args, over the defaults already in `args`. An unknown key or a value of the wrong type is a
/// `config_error` naming the dotted key.
template <args_struct T>
void load(T& args, nlohmann::json const& j) {
    detail::read_struct(j, args, "");
}

/// Applies one `key=value` override (`task.task_reward=0.5`); `config_error` names a bad key or value.
template <args_struct T>
void apply_override(T& args, std::string_view assignment) {
    auto eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0)
        throw config_error("\"" + std::string(assignment) + "\": expected key=value");
    auto path = assignment.substr(0, eq);
    if (!detail::apply_path(args, path, assignment.substr(eq + 1), ""))
        throw config_error(std::string(path) + ": unknown key");
}

/// Applies every `key=value` argument in order; returns the arguments that are not overrides.
template <args_struct T>
std::vector<std::string> apply_overrides(T& args, std::vector<std::string> const& arguments) {
    std::vector<std::string> rest;
    for (auto const& a : arguments) {
        if (a.find('=') != std::string::npos && a.rfind("--", 0) != 0)
            apply_override(args, a);
        else
            rest.push_back(a);
    }
    return rest;
}

/// One line per key: `key=default  (type)  description`.
template <args_struct T>
std::string help(T const& defaults = T{}, std::string const& prefix = "") {
    std::ostringstream out;
    detail::help_lines(defaults, prefix, out);
    return out.str();
}

/// Calls `validate()` on the struct and on every nested struct that has one (Mephisto's assert_task_args).
template <args_struct T>
void validate(T const& args) {
    detail::validate_tree(args, "");
}

}  // namespace crowdline::config
