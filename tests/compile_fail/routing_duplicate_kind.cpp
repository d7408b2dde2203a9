// Two stealing policies given to make_dispatcher: the message says so, the note names the kind and both positions.
// build error: crowdline::routing::make_dispatcher: duplicate policy kind
// build error: crowdline::detail::argument_kind<crowdline::routing::kinds::stealing, 1, 3>
#include <crowdline/routing/dispatcher.hpp>

struct item {};
struct profile {};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(crowdline::routing::no_stealing{},
                                                                crowdline::routing::options{},
                                                                crowdline::routing::steal_eligible{});
    (void)d;
}
