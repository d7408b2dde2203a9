// An argument to with_mixins that is no mixin: the message names its position, the note its type.
// build error: crowdline::with_mixins: an argument is not a blueprint mixin
// build error: crowdline::detail::argument<3, double>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>

int main() {
    namespace mixins = crowdline::mixins;
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(3), mixins::gold_units{{}, 0.1, "accuracy"}, 0.5);
    (void)bp;
}
