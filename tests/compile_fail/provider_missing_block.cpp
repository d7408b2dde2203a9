// The mock provider minus block(), passed to a review action: the error must name the argument and block.
// build error: crowdline::provider: the type lacks block(worker_id, std::string_view reason)
// build error: crowdline::review: argument 2 (provider) must model crowdline::provider
#include <crowdline/ops/review.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/store/memory.hpp>

struct no_block : private crowdline::providers::mock {
    using mock::provider_type, mock::register_requester, mock::is_registered, mock::budget, mock::unblock,
        mock::is_blocked, mock::bonus, mock::grant, mock::revoke, mock::approve, mock::reject, mock::soft_reject,
        mock::mark_done, mock::launch, mock::expire, mock::is_expired, mock::setup_resources,
        mock::cleanup_resources, mock::worker_name;
};

int main() {
    crowdline::stores::memory db;
    no_block provider;
    crowdline::review::block(db, provider, crowdline::worker_id{1}, "spam");
}
