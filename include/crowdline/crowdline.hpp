#pragma once
/// The umbrella header: everything that needs no optional dependency (PostgreSQL, Beast) pulled in.

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>
