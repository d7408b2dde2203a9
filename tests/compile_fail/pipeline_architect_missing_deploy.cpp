// An architect without deploy() passed to crowdline::pipeline: the error must name the argument position,
// the concept and the missing member.
// build error: crowdline::architect: the type lacks deploy() -> std::string
// build error: crowdline::pipeline: argument 2 (architect) must model crowdline::architect
#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/store/memory.hpp>

struct no_deploy {
    void prepare() {}
    void shutdown() {}
    crowdline::architects::in_process_channel& channel() { return channel_; }
    crowdline::architects::in_process_channel channel_;
};

int main() {
    crowdline::stores::memory db;
    no_deploy arch;
    crowdline::providers::mock prov;
    crowdline::pipeline p{crowdline::blueprints::mock{1}, arch, prov,
                          crowdline::routing::make_dispatcher<crowdline::initialization_data, nlohmann::json>(), db,
                          crowdline::task_run_args{}};
    (void)p;
}
