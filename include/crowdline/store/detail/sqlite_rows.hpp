#pragma once
/// Between C++ values and SQLite columns for `stores::sqlite`: binding a parameter, reading a column, reading
/// a row into a record (members in declaration order), and the filtered SELECT every `find_*` runs.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Statement.h>
#include <nlohmann/json.hpp>

#include <crowdline/detail/members.hpp>
#include <crowdline/detail/traits.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline::stores::detail {

// Binding and reading values: one overload per column type.
inline void bind_value(SQLite::Statement& st, int i, std::int64_t v) { st.bind(i, v); }
inline void bind_value(SQLite::Statement& st, int i, int v) { st.bind(i, v); }
inline void bind_value(SQLite::Statement& st, int i, bool v) { st.bind(i, v ? 1 : 0); }
inline void bind_value(SQLite::Statement& st, int i, double v) { st.bind(i, v); }
inline void bind_value(SQLite::Statement& st, int i, std::string const& v) { st.bind(i, v); }
template <class Tag, class Rep>
void bind_value(SQLite::Statement& st, int i, strong_id<Tag, Rep> v) { st.bind(i, static_cast<std::int64_t>(v.value())); }
inline void bind_value(SQLite::Statement& st, int i, unit_status v) { st.bind(i, std::string(to_string(v))); }
inline void bind_value(SQLite::Statement& st, int i, agent_status v) { st.bind(i, std::string(to_string(v))); }
template <class T>
void bind_optional(SQLite::Statement& st, int i, std::optional<T> const& v) {
    if (v)
        bind_value(st, i, *v);
    else
        st.bind(i);
}

template <class T>
void read_column(SQLite::Column const& c, T& out) {
    if constexpr (is_strong_id_v<T>) out = T{c.getInt64()};
    else if constexpr (std::is_same_v<T, std::string>) out = c.getString();
    else if constexpr (std::is_same_v<T, bool>) out = c.getInt() != 0;
    else if constexpr (std::is_same_v<T, int>) out = c.getInt();
    else if constexpr (std::is_same_v<T, double>) out = c.getDouble();
    else if constexpr (std::is_same_v<T, unit_status> || std::is_same_v<T, agent_status>) out = parse<T>(c.getText());
    else if constexpr (std::is_same_v<T, nlohmann::json>) out = c.isNull() ? nlohmann::json() : nlohmann::json::parse(c.getText());
    else if constexpr (crowdline::detail::is_optional_v<T>) {
        if (c.isNull()) out.reset();
        else {
            typename T::value_type v{};
            read_column(c, v);
            out = std::move(v);
        }
    } else static_assert(sizeof(T) == 0, "no column reader for this member type");
}

/// Reads one row into a record: the SELECT lists the record's members in declaration order.
template <class Row>
Row read_row(SQLite::Statement& st) {
    Row row{};
    int i = 0;
    crowdline::detail::for_each_member(row, [&](std::string_view, auto& member) { read_column(st.getColumn(i++), member); });
    return row;
}

/// A SELECT over one table with optional equality filters, in creation order.
struct sqlite_query {
    std::string sql;
    std::string order_by;
    std::vector<std::function<void(SQLite::Statement&, int)>> binds;
    sqlite_query(std::string_view columns, std::string_view table, std::string_view id_column)
        : sql("SELECT " + std::string(columns) + " FROM " + std::string(table)), order_by(id_column) {}
    template <class T>
    void where(std::string_view column, std::optional<T> const& value) {
        if (!value) return;
        sql += binds.empty() ? " WHERE " : " AND ";
        sql += column;
        sql += " = ?";
        binds.push_back([v = *value](SQLite::Statement& st, int i) { bind_value(st, i, v); });
    }
};

}  // namespace crowdline::stores::detail
