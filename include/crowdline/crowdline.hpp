#pragma once
/// The umbrella header: everything that needs no optional dependency (Boost headers, range-v3,
/// nlohmann/json and the standard library only: what `crowdline::core` brings). The rest comes in when
/// asked, with a macro defined before including this, or with its own header:
///   CROWDLINE_WITH_SQLITE  `stores::sqlite` (SQLiteCpp)                 <crowdline/store/sqlite.hpp>
///   CROWDLINE_WITH_HTTP    `architects::http` (Boost.Beast), review API  <crowdline/architect/http.hpp>,
///                                                                        <crowdline/ops/review_routes.hpp>

#include <crowdline/fwd.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/model/json_text.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/store/filters.hpp>
#include <crowdline/store/memory.hpp>
#include <crowdline/store/store.hpp>
#include <crowdline/store/summary.hpp>
#include <crowdline/routing/types.hpp>
#include <crowdline/routing/router.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/in_process.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/ops/review.hpp>
#include <crowdline/ops/data_browser.hpp>
#include <crowdline/ops/qualifications.hpp>
#include <crowdline/ops/dashboard.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/ops/protocol.hpp>
#include <crowdline/ops/worker_pool.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/ops/operator.hpp>
#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/live.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/gold.hpp>
#include <crowdline/quality/run_report.hpp>

#if defined(CROWDLINE_WITH_SQLITE)
#include <crowdline/store/sqlite.hpp>
#endif

#if defined(CROWDLINE_WITH_HTTP)
#include <crowdline/architect/http.hpp>
#include <crowdline/ops/review_routes.hpp>
#endif
