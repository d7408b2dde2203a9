#pragma once
/// `task_run_args`: the settings of one task run, with Mephisto's names and defaults.

#include <cstdint>
#include <string>
#include <vector>

#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline {

/// Mephisto's TaskRunArgs. Durations are in seconds; 0 means "no limit" for the caps.
struct task_run_args {
    std::string task_name;
    std::string task_title;
    std::string task_description;
    double task_reward;
    std::vector<std::string> task_tags;
    std::int64_t assignment_duration_in_seconds;
    std::int64_t no_submission_patience;
    std::int64_t allowed_concurrent;
    std::int64_t maximum_units_per_worker;
    std::int64_t max_num_concurrent_units;
    std::int64_t submission_timeout;

    task_run_args()
        : task_reward(0.3), assignment_duration_in_seconds(30 * 60), no_submission_patience(12 * 60 * 60),
          allowed_concurrent(0), maximum_units_per_worker(0), max_num_concurrent_units(0), submission_timeout(600) {}

    static constexpr std::array<config::description, 11> descriptions{{
        {"task_name", "name shared by every run of this task (limits like maximum_units_per_worker span them)"},
        {"task_title", "title shown to workers (required)"},
        {"task_description", "what workers are asked to do (required)"},
        {"task_reward", "pay per unit, in the provider's currency"},
        {"task_tags", "keywords shown to workers"},
        {"assignment_duration_in_seconds", "time a worker has for one unit before it returns to the pool"},
        {"no_submission_patience", "seconds without any submission after which the run shuts down"},
        {"allowed_concurrent", "units one worker may hold at once (0: no limit)"},
        {"maximum_units_per_worker", "units one worker may do across every run of the task (0: no limit)"},
        {"max_num_concurrent_units", "units launched at once (0: no limit)"},
        {"submission_timeout", "seconds to wait for a submission after a unit's work ends"},
    }};

    /// Mephisto's assert_task_args: every problem names its key.
    void validate() const {
        if (task_name.empty()) throw config_error("task_name: must not be empty");
        if (task_title.empty()) throw config_error("task_title: must not be empty (workers see it)");
        if (task_description.empty()) throw config_error("task_description: must not be empty (workers see it)");
        if (!(task_reward >= 0)) throw config_error("task_reward: must be ≥ 0, got " + std::to_string(task_reward));
        if (assignment_duration_in_seconds <= 0) throw config_error("assignment_duration_in_seconds: must be > 0");
        if (no_submission_patience <= 0) throw config_error("no_submission_patience: must be > 0");
        if (allowed_concurrent < 0) throw config_error("allowed_concurrent: must be ≥ 0 (0: no limit)");
        if (maximum_units_per_worker < 0) throw config_error("maximum_units_per_worker: must be ≥ 0 (0: no limit)");
        if (max_num_concurrent_units < 0) throw config_error("max_num_concurrent_units: must be ≥ 0 (0: no limit)");
        if (submission_timeout <= 0) throw config_error("submission_timeout: must be > 0");
    }
};

}  // namespace crowdline

CROWDLINE_REFLECT(crowdline::task_run_args, task_name, task_title, task_description, task_reward, task_tags,
                  assignment_duration_in_seconds, no_submission_patience, allowed_concurrent, maximum_units_per_worker,
                  max_num_concurrent_units, submission_timeout);
