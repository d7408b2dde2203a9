// The mock provider minus block(), passed to crowdline::pipeline: the error must name the argument
// position, the concept and the missing member.
// build error: crowdline::provider: the type lacks block(worker_id, std::string_view reason)
// build error: crowdline::pipeline: argument 3 (provider) must model crowdline::provider
#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/store/memory.hpp>

struct no_block : private crowdline::providers::mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::unblock,
        mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject, mock::soft_reject,
        mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};

int main() {
    crowdline::stores::memory db;
    crowdline::architects::in_process arch;
    no_block prov;
    crowdline::pipeline p{crowdline::blueprints::mock{1}, arch, prov,
                          crowdline::routing::make_dispatcher<crowdline::initialization_data, nlohmann::json>(), db,
                          crowdline::task_run_args{}};
    (void)p;
}
