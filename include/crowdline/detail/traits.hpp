#pragma once
// Type traits shared by the JSON reflection (model/json.hpp) and the config binding (config/args.hpp).

#include <optional>
#include <vector>

namespace crowdline::detail {

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;

template <class T>
inline constexpr bool is_vector_v = false;
template <class T>
inline constexpr bool is_vector_v<std::vector<T>> = true;

}  // namespace crowdline::detail
