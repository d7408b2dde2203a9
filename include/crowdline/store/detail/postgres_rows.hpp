#pragma once
/// Between C++ values and PostgreSQL for `stores::postgres`: the parameters of one statement (text, or null
/// for an empty optional), reading a field, reading a row into a record (members in declaration order), and
/// the filtered SELECT every `find_*` runs.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>
#include <nlohmann/json.hpp>

#include <crowdline/detail/members.hpp>
#include <crowdline/detail/traits.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline::stores::detail {

/// The parameters of one statement, in order, as libpq takes them: text, or a null pointer for NULL.
/// PostgreSQL converts the text to each parameter's type (an id to BIGINT, "true" to BOOLEAN).
class pg_params {
public:
    pg_params() = default;
    pg_params(pg_params const&) = delete;  // `pointers_` point into `values_`; a moved deque keeps its strings
    pg_params& operator=(pg_params const&) = delete;
    pg_params(pg_params&&) noexcept = default;
    pg_params& operator=(pg_params&&) noexcept = default;
    ~pg_params() = default;

    pg_params& add(std::int64_t v) { return text(std::to_string(v)); }
    pg_params& add(int v) { return text(std::to_string(v)); }
    pg_params& add(bool v) { return text(v ? "true" : "false"); }
    pg_params& add(double v) { return text(pqxx::to_string(v)); }
    pg_params& add(std::string v) { return text(std::move(v)); }
    pg_params& add(std::string_view v) { return text(std::string(v)); }
    pg_params& add(char const* v) { return text(v); }
    template <class Tag, class Rep>
    pg_params& add(strong_id<Tag, Rep> v) { return add(static_cast<std::int64_t>(v.value())); }
    pg_params& add(unit_status v) { return text(std::string(to_string(v))); }
    pg_params& add(agent_status v) { return text(std::string(to_string(v))); }
    template <class T>
    pg_params& add(std::optional<T> const& v) {
        if (v) return add(*v);
        values_.emplace_back();
        pointers_.push_back(nullptr);
        return *this;
    }

    [[nodiscard]] std::size_t size() const noexcept { return pointers_.size(); }
    /// What `exec_prepared` takes: a deque keeps each string where it is as more are added.
    [[nodiscard]] auto dynamic() const { return pqxx::prepare::make_dynamic_params(pointers_); }

private:
    /// PostgreSQL's text holds no NUL byte (libpq would cut the value there, silently): refused instead.
    pg_params& text(std::string v) {
        if (v.find('\0') != std::string::npos)
            throw invalid_argument("a text value holds a NUL byte, which PostgreSQL text cannot store: \"" +
                                   v.substr(0, v.find('\0')) + "\\0…\"");
        values_.push_back(std::move(v));
        pointers_.push_back(values_.back().c_str());
        return *this;
    }
    std::deque<std::string> values_;
    std::vector<char const*> pointers_;
};

template <class T>
void read_field(pqxx::field const& f, T& out) {
    if constexpr (is_strong_id_v<T>) out = T{f.as<long>()};
    else if constexpr (std::is_same_v<T, std::string>) out = f.c_str();
    else if constexpr (std::is_same_v<T, bool>) out = f.as<bool>();
    else if constexpr (std::is_same_v<T, int>) out = f.as<int>();
    else if constexpr (std::is_same_v<T, double>) out = f.as<double>();
    else if constexpr (std::is_same_v<T, unit_status> || std::is_same_v<T, agent_status>) out = parse<T>(f.c_str());
    else if constexpr (std::is_same_v<T, nlohmann::json>) out = f.is_null() ? nlohmann::json() : nlohmann::json::parse(f.c_str());
    else if constexpr (crowdline::detail::is_optional_v<T>) {
        if (f.is_null()) out.reset();
        else {
            typename T::value_type v{};
            read_field(f, v);
            out = std::move(v);
        }
    } else static_assert(sizeof(T) == 0, "no field reader for this member type");
}

/// Reads one row into a record: the SELECT lists the record's members in declaration order.
template <class Row>
Row read_row(pqxx::row const& r) {
    Row row{};
    pqxx::row::size_type i = 0;
    crowdline::detail::for_each_member(row, [&](std::string_view, auto& member) { read_field(r[i++], member); });
    return row;
}

/// A SELECT over one table with optional equality filters, in creation order.
struct pg_query {
    std::string sql;
    std::string order_by;
    pg_params params;
    pg_query(std::string_view columns, std::string_view table, std::string_view id_column)
        : sql("SELECT " + std::string(columns) + " FROM " + std::string(table)), order_by(id_column) {}
    template <class T>
    void where(std::string_view column, std::optional<T> const& value) {
        if (!value) return;
        sql += params.size() == 0 ? " WHERE " : " AND ";
        sql += column;
        sql += " = $" + std::to_string(params.size() + 1);
        params.add(*value);
    }
};

}  // namespace crowdline::stores::detail
