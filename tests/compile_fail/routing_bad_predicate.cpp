// An eligibility predicate with its arguments the wrong way round.
// build error: crowdline::routing::make_dispatcher: the eligibility predicate is not callable as bool(const Profile&, const Item&)
#include <crowdline/routing/dispatcher.hpp>

struct item {};
struct profile {};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(
        crowdline::routing::eligible_when{[](const item&, const profile&) { return true; }});
    (void)d;
}
