// A type with prepare, shutdown and a channel but no deploy, checked where an architect is required: the
// error must name deploy.
// build error: crowdline::architect: the type lacks deploy() -> std::string
#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/in_process.hpp>

struct no_deploy {
    void prepare() {}
    void shutdown() {}
    crowdline::architects::in_process_channel& channel() { return channel_; }
    crowdline::architects::in_process_channel channel_;
};

int main() { static_assert(crowdline::assert_architect<no_deploy>()); }
