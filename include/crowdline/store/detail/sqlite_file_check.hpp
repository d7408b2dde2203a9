#pragma once
/// The refusal of a file that is not a crowdline database (empty, not SQLite, another application's, or an
/// SQLite file with tables but none of crowdline's), before `stores::sqlite` writes a byte to it, so the
/// file is left as it was. A file made by an older crowdline (no application_id yet) is accepted.

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <sqlite3.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <crowdline/errors.hpp>
#include <crowdline/store/detail/sqlite_schema.hpp>

namespace crowdline::stores::detail {

/// Before anything opens `path` for writing: an existing file must be a crowdline database, checked
/// through a read-only connection, so a file that is not one (empty, not SQLite, another application's)
/// is refused and left byte-identical. Returns whether the file exists (false: this call creates it).
inline bool refuse_foreign_file_read_only(std::string const& path, std::chrono::milliseconds busy_timeout) {
    if (path.empty() || path == ":memory:" || path.starts_with("file:")) return true;  // nothing on disk to check
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    if (!std::filesystem::is_regular_file(path, ec)) return true;  // the caller's open says what is wrong
    auto refuse = [&](std::string const& why) {
        throw db_error(path + ": not a crowdline database (" + why + "); the file was left unchanged");
    };
    if (std::filesystem::file_size(path, ec) == 0 && !ec)
        refuse("the file is empty; if an interrupted first start left it, delete it");
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw db_error(path + ": cannot read (" + std::strerror(errno) + ")");
        char header[16] = {};
        in.read(header, sizeof header);
        if (in.gcount() != sizeof header || std::memcmp(header, "SQLite format 3", sizeof header) != 0)
            refuse("it is not an SQLite file");
    }
    std::int64_t app_id = 0;
    bool any_table = false, has_migrations = false;
    try {
        SQLite::Database ro(path, SQLite::OPEN_READONLY, static_cast<int>(busy_timeout.count()));
        app_id = ro.execAndGet("PRAGMA application_id").getInt64();
        SQLite::Statement st(ro, "SELECT name FROM sqlite_master WHERE type = 'table'");
        while (st.executeStep()) {
            any_table = true;
            if (st.getColumn(0).getString() == "crowdline_migrations") has_migrations = true;
        }
    } catch (SQLite::Exception const& e) {
        // A hot journal only a writer may roll back, a writer holding the file, or a log a reader
        // cannot map: the caller's read-write open decides (refuse_foreign_file() checks again once open).
        if (auto code = e.getErrorCode(); code == SQLITE_READONLY || code == SQLITE_BUSY || code == SQLITE_LOCKED ||
                                          code == SQLITE_CANTOPEN)
            return true;
        refuse(e.what());
    }
    if (app_id == sqlite_application_id) return true;
    if (app_id != 0) refuse("its header's application_id is " + std::to_string(app_id) + ", another application's");
    if (!has_migrations)
        refuse(any_table ? "it has tables, but no crowdline_migrations table" : "an SQLite file without crowdline's tables");
    return true;  // made by a crowdline older than the application_id
}

/// The same check once the read-write connection is open (the read-only one may have been unable to look).
inline void refuse_foreign_file(SQLite::Database& db, std::string const& path) {
    std::vector<std::string> tables;
    try {
        SQLite::Statement st(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
        while (st.executeStep()) tables.push_back(st.getColumn(0).getString());
    } catch (SQLite::Exception const& e) {
        throw db_error(path + ": not a crowdline database (" + e.what() + "); the file was left unchanged");
    }
    if (tables.empty()) return;
    for (auto const& t : tables)
        if (t == "crowdline_migrations") return;
    throw db_error(path + ": not a crowdline database (it has tables, but no crowdline_migrations table); "
                   "the file was left unchanged");
}

}  // namespace crowdline::stores::detail
