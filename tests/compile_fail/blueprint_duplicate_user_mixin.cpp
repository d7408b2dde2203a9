// Two user-written mixins declaring the same mixin_kind: a duplicate kind even when it is not a built-in.
// build error: crowdline::with_mixins: duplicate mixin kind (two mixins declare the same mixin_kind)
// build error: crowdline::detail::argument_kind<note::kind, 2, 3>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>

struct note {
    struct kind {};
    using mixin_kind = kind;
    void assert_args() const {}
    std::vector<std::string> qualifications() const { return {}; }
};

int main() {
    auto bp = crowdline::with_mixins(crowdline::blueprints::mock(3), note{}, note{});
    (void)bp;
}
