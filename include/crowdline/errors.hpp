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

}  // namespace crowdline
