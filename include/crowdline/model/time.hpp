#pragma once
/// The one clock crowdline speaks. Time is always passed in (never read inside routing), so tests can
/// drive it.

#include <chrono>

namespace crowdline {

using clock = std::chrono::system_clock;
using time_point = clock::time_point;

}  // namespace crowdline
