#pragma once
/// The prepared statements of one `stores::postgres` connection: each statement text is prepared once per
/// connection, under a name of its own (libpqxx sends the PREPARE on its first use), so the server parses
/// and plans it once.

#include <string>
#include <unordered_map>
#include <utility>

#include <pqxx/pqxx>

namespace crowdline::stores::detail {

/// The names of one connection's prepared statements, by text.
class pg_statement_cache {
public:
    /// The name `text` is prepared under on `connection`.
    std::string const& name(pqxx::connection& connection, std::string const& text) {
        auto it = names_.find(text);
        if (it == names_.end()) {
            auto name = "crowdline_" + std::to_string(names_.size());
            connection.prepare(name, text);
            it = names_.emplace(text, std::move(name)).first;
        }
        return it->second;
    }

private:
    std::unordered_map<std::string, std::string> names_;
};

}  // namespace crowdline::stores::detail
