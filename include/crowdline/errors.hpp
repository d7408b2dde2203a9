#pragma once
/// The exceptions crowdline throws. Each message names the entity, the value and what was expected.

#include <stdexcept>
#include <string>

namespace crowdline {

/// Base of every crowdline exception.
struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A storage operation failed (the backend's own error, or one of the specific kinds below).
struct db_error : error {
    using error::error;
};

/// A create would duplicate a unique name or key.
struct entry_already_exists : db_error {
    using db_error::db_error;
};

/// An id or name does not name a stored entry.
struct entry_does_not_exist : db_error {
    using db_error::db_error;
};

/// A status change the state machine does not allow (including a claim on a unit that is not launched).
struct invalid_transition : db_error {
    using db_error::db_error;
};

/// An argument is malformed (empty name, unknown status text, …).
struct invalid_argument : error {
    using error::error;
};

/// A configuration key or value is wrong; the message names the key.
struct config_error : error {
    using error::error;
};

/// A crowd provider will not offer more units of a run (the requester's balance would not cover them):
/// thrown by a provider's `launch`. The pipeline stops launching that run, keeps serving the units it
/// has, and says why (`pipeline::launch_stopped`); other runs are not touched.
struct launch_refused : error {
    using error::error;
};

}  // namespace crowdline
