// An argument to make_dispatcher that is no routing policy: the message names its position, the note its type.
// build error: crowdline::routing::make_dispatcher: an argument is not a routing policy
// build error: crowdline::detail::argument<3, int>
#include <crowdline/routing/dispatcher.hpp>

struct item {};
struct profile {};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(crowdline::routing::average_per_task{2},
                                                                crowdline::routing::no_stealing{}, 3);
    (void)d;
}
