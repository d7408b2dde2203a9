#pragma once
// The command line bound to an args struct by crowdline/config/args.hpp: every key of the struct is also a
// flag. `key=value`, `--key value` and `--key=value` set it alike; in a flag's name `-` stands for `_`
// (`--new-run` is `new_run`); a true/false key given alone (`--new-run`) is true; `--` ends the flags.
// Nothing here is specific to the `crowdline` program: it only uses config::dump, apply_override and help.

#include <algorithm>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>

namespace crowdline_serve {

/// A flag spelled other than its key: `{"port", "server.port"}` makes `--port 80` mean `server.port=80`.
struct flag_alias {
    std::string_view flag;  ///< the name after `--`
    std::string_view key;
};

/// What a command line knows besides the struct's own keys.
struct command_line_options {
    std::span<flag_alias const> aliases{};
    std::string_view help_command{};  ///< named by the unknown-flag error: "(see crowdline --help)"
};

/// The key a flag's name sets: `-` read as `_`, then an alias replaced by its key.
inline std::string flag_key(std::string_view name, std::span<flag_alias const> aliases) {
    auto const underscored = [](std::string_view s) {
        std::string out(s);
        std::ranges::replace(out, '-', '_');
        return out;
    };
    auto key = underscored(name);
    for (auto const& a : aliases)
        if (underscored(a.flag) == key) return std::string(a.key);
    return key;
}

/// The value under a dotted key in a settings tree (`config::dump`'s), or null when there is no such key.
inline nlohmann::json const* find_setting(nlohmann::json const& tree, std::string_view key) {
    auto const* node = &tree;
    for (std::size_t start = 0;;) {
        auto const dot = key.find('.', start);
        auto const part = key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (!node->is_object()) return nullptr;
        auto const found = node->find(part);
        if (found == node->end()) return nullptr;
        node = &*found;
        if (dot == std::string_view::npos) return node;
        start = dot + 1;
    }
}

/// Binds `arguments` onto `args`, in order (a later setting wins); returns the others (the positional
/// arguments, and everything after `--`). Errors are `config_error`s: an unknown flag names the flag as
/// written, a bad value names its key (config::apply_override's message).
template <crowdline::config::args_struct T>
std::vector<std::string> bind_command_line(T& args, std::span<std::string const> arguments,
                                           command_line_options const& options = {}) {
    auto const settings = crowdline::config::dump(args);
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        auto const& a = arguments[i];
        if (a == "--") {
            positional.insert(positional.end(), arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1, arguments.end());
            break;
        }
        if (!a.starts_with("--")) {
            if (a.find('=') != std::string::npos && !a.starts_with("-")) crowdline::config::apply_override(args, a);
            else positional.push_back(a);
            continue;
        }
        auto const eq = a.find('=');
        auto const flag = a.substr(0, eq);
        auto const key = flag_key(std::string_view(flag).substr(2), options.aliases);
        auto const* setting = find_setting(settings, key);
        if (setting == nullptr)
            throw crowdline::config_error(flag + ": unknown option" +
                                          (options.help_command.empty() ? std::string()
                                                                        : " (see " + std::string(options.help_command) + ")"));
        std::string value;
        if (eq != std::string::npos) value = a.substr(eq + 1);
        else if (setting->is_boolean()) value = "true";
        else if (i + 1 < arguments.size()) value = arguments[++i];
        else throw crowdline::config_error(flag + ": needs a value");
        crowdline::config::apply_override(args, key + "=" + value);
    }
    return positional;
}

/// config::help's lines with the top-level keys written as the flags they also are (`--new-run=false`),
/// after a line saying how keys are given and which flags are aliases. Every line is a valid argument.
template <crowdline::config::args_struct T>
std::string command_line_help(T const& defaults = T{}, std::span<flag_alias const> aliases = {}) {
    std::ostringstream out;
    out << "Each key is set by key=value, --key value or --key=value (in a --key, - stands for _; a true/false\n"
           "key alone is true).";
    for (std::size_t i = 0; i < aliases.size(); ++i)
        out << (i == 0 ? " " : ", ") << "--" << aliases[i].flag << " is " << aliases[i].key
            << (i + 1 == aliases.size() ? "." : "");
    out << "\n";
    std::istringstream lines(crowdline::config::help(defaults));
    for (std::string line; std::getline(lines, line);) {
        auto const eq = line.find('=');
        auto const key = eq == std::string::npos || !line.starts_with("  ") ? std::string() : line.substr(2, eq - 2);
        if (!key.empty() && key.find('.') == std::string::npos) {
            auto flag = key;
            std::ranges::replace(flag, '_', '-');
            line = "  --" + flag + line.substr(eq);
        }
        out << line << '\n';
    }
    return out.str();
}

}  // namespace crowdline_serve
