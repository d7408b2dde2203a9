// A type that says it is a router but has no usable route().
// build error: crowdline::routing::make_dispatcher: the router policy does not model crowdline::routing::router
#include <crowdline/routing/dispatcher.hpp>

struct item {};
struct profile {};
struct not_quite {
    using policy_kind = crowdline::routing::kinds::router;
    int route(const item&) const { return 1; }
};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(not_quite{});
    (void)d;
}
