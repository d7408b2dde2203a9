#pragma once
// Error texts shared by every backend, so the same mistake reads the same on memory, SQLite and PostgreSQL.

#include <string>
#include <string_view>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>

namespace crowdline::detail {

template <class Tag, class Rep>
std::string describe(strong_id<Tag, Rep> id) {
    return std::string(Tag::name) + ' ' + std::to_string(id.value());
}

template <class Tag, class Rep>
[[noreturn]] void throw_missing(strong_id<Tag, Rep> id) {
    throw entry_does_not_exist(describe(id) + ": does not exist");
}

[[noreturn]] inline void throw_duplicate_name(std::string_view entity, std::string_view name) {
    throw entry_already_exists(std::string(entity) + " \"" + std::string(name) + "\": already exists");
}

inline void require_name(std::string_view entity, std::string_view name) {
    if (name.empty()) throw invalid_argument(std::string(entity) + " name: must not be empty");
}

/// A `keyed_store` value needs a scope and a key.
inline void require_value_key(std::string_view scope, std::string_view key) {
    if (scope.empty()) throw invalid_argument("stored value: the scope must not be empty");
    if (key.empty()) throw invalid_argument("stored value in \"" + std::string(scope) + "\": the key must not be empty");
}

template <class Tag, class Rep, class Status>
[[noreturn]] void throw_transition(strong_id<Tag, Rep> id, Status from, Status to) {
    throw invalid_transition(describe(id) + ": cannot go from " + std::string(to_string(from)) + " to " +
                             std::string(to_string(to)));
}

[[noreturn]] inline void throw_claim(unit_id id, unit_status now) {
    throw invalid_transition(describe(id) + ": cannot be claimed: it is " + std::string(to_string(now)) +
                             ", not launched");
}

[[noreturn]] inline void throw_task_has_run(task_id id) {
    throw db_error(describe(id) + ": cannot be updated once it has a task run");
}

[[noreturn]] inline void throw_missing_grant(qualification_id q, worker_id w) {
    throw entry_does_not_exist(describe(q) + " is not granted to " + describe(w));
}

}  // namespace crowdline::detail
