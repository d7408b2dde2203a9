// A type with every blueprint piece except on_submit, checked at an entry point: the message names the
// missing member.
// build error: crowdline::blueprint: the type lacks on_submit(const nlohmann::json& unit_data, const nlohmann::json& submission) -> submission_check
// build error: crowdline::with_mixins: argument 1 (blueprint) must model crowdline::blueprint
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>

struct almost_a_blueprint : private crowdline::blueprints::mock {
    using mock::args_type, mock::blueprint_type, mock::validate, mock::initialization_data, mock::page;
};

int main() {
    crowdline::detail::check_blueprint<almost_a_blueprint>();
    auto bp = crowdline::with_mixins(almost_a_blueprint{});
    (void)bp;
}
