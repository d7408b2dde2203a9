#pragma once
/// Running SQL on one `stores::sqlite` connection: statements prepared once per connection and kept by
/// their text, reset when the call using them ends, and failures reported as `db_error` naming the file.

#include <memory>
#include <string>
#include <unordered_map>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <crowdline/errors.hpp>

namespace crowdline::stores::detail {

/// Resets a cached statement when the call using it ends, so no read transaction stays open.
struct reset_guard {
    SQLite::Statement& st;
    ~reset_guard() { st.tryReset(); }
};

/// The prepared statements of one connection, by text: each is parsed on its first use only. Destroy it
/// before the connection it was prepared on.
class sqlite_statement_cache {
public:
    SQLite::Statement& prepare(SQLite::Database& db, std::string const& path, std::string const& text) {
        auto it = cache_.find(text);
        if (it == cache_.end()) {
            try {
                it = cache_.emplace(text, std::make_unique<SQLite::Statement>(db, text)).first;
            } catch (SQLite::Exception const& e) {
                throw db_error(path + ": " + e.what() + " (preparing: " + text.substr(0, 80) + ")");
            }
        }
        return *it->second;
    }

private:
    std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
};

/// Runs SQL text once, unprepared (schema steps and PRAGMAs); a failure names the file and the statement.
inline void sqlite_exec(SQLite::Database& db, std::string const& path, std::string const& text) {
    try {
        db.exec(text);
    } catch (SQLite::Exception const& e) {
        throw db_error(path + ": " + e.what() + " (in: " + text.substr(0, 80) + ")");
    }
}

}  // namespace crowdline::stores::detail
