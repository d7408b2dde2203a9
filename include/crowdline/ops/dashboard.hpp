#pragma once
/// The rows a dashboard shows of a running pipeline besides its `run_summary`: units made and done per
/// group of items (`pipeline::progress`) and each worker's units held, done and reserved
/// (`pipeline::workers`).

#include <cstddef>
#include <string>

#include <crowdline/model/ids.hpp>

namespace crowdline {

/// One group's progress (see `pipeline::progress`).
struct key_progress {
    std::string key;
    std::size_t done = 0;   ///< units completed
    std::size_t total = 0;  ///< units made so far (assignments are made lazily, so this grows)
};

/// One worker as a dashboard shows it (see `pipeline::workers`).
struct worker_progress {
    worker_id id{};
    std::string name;
    std::size_t held = 0;   ///< units in hand now
    std::size_t done = 0;   ///< units finished in this run
    std::size_t queue = 0;  ///< units the dispatcher has reserved for them
    bool joined = false;    ///< whether the dispatcher counts them as present
};

}  // namespace crowdline
