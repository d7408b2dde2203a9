// Two stealing policies given to make_dispatcher: the message names the duplicated kind.
// build error: crowdline::routing::make_dispatcher: duplicate policy kind: stealing
#include <crowdline/routing/dispatcher.hpp>

struct item {};
struct profile {};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(crowdline::routing::no_stealing{},
                                                                crowdline::routing::options{},
                                                                crowdline::routing::steal_eligible{});
    (void)d;
}
