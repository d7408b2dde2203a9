#pragma once
/// The umbrella header: everything that needs no optional dependency (PostgreSQL, Beast) pulled in.

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/routing/types.hpp>
