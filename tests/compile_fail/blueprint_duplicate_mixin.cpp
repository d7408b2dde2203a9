// Two gold_units mixins given to with_mixins: the message says so, the note names the kind and both positions.
// build error: crowdline::with_mixins: duplicate mixin kind
// build error: crowdline::detail::argument_kind<crowdline::mixins::gold_units_tag, 2, 4>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>

int main() {
    namespace mixins = crowdline::mixins;
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(3), mixins::gold_units{{}, 0.1, "accuracy"},
                                     mixins::onboarding{"tutorial", {}, [](const nlohmann::json&) { return true; }},
                                     mixins::gold_units{{}, 0.2, "accuracy-2"});
    (void)bp;
}
