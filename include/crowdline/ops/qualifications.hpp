#pragma once
/// Qualification requirements with Mephisto's comparators: who may work on a run. A missing grant fails
/// every comparator except `does_not_exist`; a requirement naming a qualification the store does not know
/// is skipped (Mephisto's rule: it cannot have been granted to anyone, and `does_not_exist` holds anyway).

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline {

/// How a granted value is compared with a requirement's value.
enum class comparator {
    greater_than,
    greater_than_or_equal,
    less_than,
    less_than_or_equal,
    equal,
    not_equal,
    exists,
    does_not_exist,
    in,
    not_in
};

/// The text of a comparator, as written in configs (`">="`, `"exists"`, `"in"` …).
[[nodiscard]] constexpr std::string_view to_string(comparator c) noexcept {
    constexpr std::string_view names[] = {">", ">=", "<", "<=", "==", "!=", "exists", "does_not_exist", "in", "not_in"};
    return names[static_cast<int>(c)];
}

/// Parses a comparator's text; `config_error` naming the text otherwise.
[[nodiscard]] inline comparator parse_comparator(std::string_view text) {
    for (int i = 0; i <= static_cast<int>(comparator::not_in); ++i)
        if (to_string(static_cast<comparator>(i)) == text) return static_cast<comparator>(i);
    throw config_error("comparator: unknown \"" + std::string(text) +
                       "\" (expected >, >=, <, <=, ==, !=, exists, does_not_exist, in or not_in)");
}

/// One condition a worker must meet: `{qualification, comparator, value}`.
struct qualification_requirement {
    std::string qualification;
    comparator op = comparator::exists;
    nlohmann::json value;  ///< a number, or a list of numbers for in / not_in; unused for exists / does_not_exist

    /// Refuses a requirement that cannot be evaluated, naming it.
    void validate() const {
        if (qualification.empty()) throw config_error("qualification requirement: empty qualification name");
        bool const list = op == comparator::in || op == comparator::not_in;
        bool const none = op == comparator::exists || op == comparator::does_not_exist;
        if (list && !(value.is_array() && std::all_of(value.begin(), value.end(), [](auto const& v) { return v.is_number(); })))
            throw config_error("qualification requirement " + qualification + ": " + std::string(to_string(op)) +
                               " needs a list of numbers, got " + value.dump());
        if (!list && !none && !value.is_number())
            throw config_error("qualification requirement " + qualification + ": " + std::string(to_string(op)) +
                               " needs a number, got " + value.dump());
    }
};

/// Whether a granted value (nullopt: not granted) meets one requirement.
[[nodiscard]] inline bool satisfies(std::optional<int> granted, qualification_requirement const& r) {
    if (r.op == comparator::does_not_exist) return !granted;
    if (!granted) return false;
    double const v = *granted;
    auto in_list = [&] {
        for (auto const& x : r.value)
            if (x.get<double>() == v) return true;
        return false;
    };
    switch (r.op) {
        case comparator::greater_than: return v > r.value.get<double>();
        case comparator::greater_than_or_equal: return v >= r.value.get<double>();
        case comparator::less_than: return v < r.value.get<double>();
        case comparator::less_than_or_equal: return v <= r.value.get<double>();
        case comparator::equal: return v == r.value.get<double>();
        case comparator::not_equal: return v != r.value.get<double>();
        case comparator::exists: return true;
        case comparator::in: return in_list();
        case comparator::not_in: return !in_list();
        case comparator::does_not_exist: break;
    }
    return false;
}

/// The value of `qualification` granted to `worker`, or nullopt when it is not granted.
template <class Store>
[[nodiscard]] std::optional<int> granted_value(Store& db, worker_id worker, qualification_id qualification) {
    auto g = db.find_granted_qualifications({.worker = worker, .qualification = qualification});
    if (g.empty()) return std::nullopt;
    return g.front().value;
}

/// The first requirement the worker fails, or nullopt when it meets them all.
template <class Store>
[[nodiscard]] std::optional<qualification_requirement> first_unmet(Store& db, worker_id worker,
                                                                   std::span<qualification_requirement const> requirements) {
    for (auto const& r : requirements) {
        auto q = db.find_qualifications({.name = r.qualification});
        if (q.empty()) continue;  // unknown qualification: skipped, as in Mephisto
        if (!satisfies(granted_value(db, worker, q.front().id), r)) return r;
    }
    return std::nullopt;
}

}  // namespace crowdline
