#pragma once
/// The umbrella header: everything that needs no optional dependency (PostgreSQL, Beast) pulled in.

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/store/filters.hpp>
#include <crowdline/store/memory.hpp>
#include <crowdline/store/sqlite.hpp>
#include <crowdline/store/store.hpp>
#include <crowdline/store/summary.hpp>
#include <crowdline/routing/types.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>
