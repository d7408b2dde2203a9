// A non-mixin after ten mixins: no limit on the number of arguments, and the note still names the position.
// build error: crowdline::with_mixins: an argument is not a blueprint mixin
// build error: crowdline::detail::argument<12, double>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>

/// A mixin with a kind of its own per N.
template <int N>
struct note : crowdline::mixins::gold_units<> {
    struct kind {};
    using mixin_kind = kind;
};

int main() {
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(3), note<1>{}, note<2>{}, note<3>{}, note<4>{},
                                     note<5>{}, note<6>{}, note<7>{}, note<8>{}, note<9>{}, note<10>{}, 0.5);
    (void)bp;
}
