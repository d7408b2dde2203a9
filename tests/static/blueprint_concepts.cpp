// Type-level tests: each blueprint concept piece accepts the built-ins and rejects a type missing exactly
// that piece (which the other pieces still accept).
#include <catch2/catch.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/blueprint/static_form.hpp>

#include <ranges>
#include <string>
#include <vector>

namespace {

struct bp_args {
    int n = 0;
};
struct not_reflected {
    int n = 0;
};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(bp_args, n);

namespace {


/// Every piece, written by hand: the smallest blueprint.
struct complete {
    static constexpr std::string_view blueprint_type = "complete";
    using args_type = bp_args;
    void validate(const args_type&) const {}
    std::vector<crowdline::initialization_data> initialization_data() const { return {}; }
    std::string page(const crowdline::initialization_data&, std::size_t) const { return {}; }
    crowdline::submission_check on_submit(const nlohmann::json&, const nlohmann::json&) const { return {}; }
};

struct no_type : complete {
    static constexpr int blueprint_type = 3;  // not a string
};
struct no_args {
    std::vector<crowdline::initialization_data> initialization_data() const { return {}; }
    std::string page(const crowdline::initialization_data&, std::size_t) const { return {}; }
    crowdline::submission_check on_submit(const nlohmann::json&, const nlohmann::json&) const { return {}; }
    static constexpr std::string_view blueprint_type = "x";
};
struct unreflected_args : complete {
    using args_type = not_reflected;
    void validate(const not_reflected&) const {}
};
struct no_validate : no_args {
    using args_type = bp_args;
};
struct no_data : no_args {
    using args_type = bp_args;
    void validate(const args_type&) const {}
    int initialization_data() const { return 0; }  // not a range
};
struct wrong_elements : complete {
    std::vector<int> initialization_data() const { return {}; }
};
/// Lazy and infinite is fine: a std view.
struct infinite : complete {
    auto initialization_data() const {
        return std::views::iota(0) | std::views::transform([](int) { return crowdline::initialization_data{}; });
    }
};
struct no_page : complete {
    void page() const {}
};
struct no_submit : complete {
    void on_submit() const {}
};
/// on_submit returning something that is not a verdict.
struct bool_submit : complete {
    bool on_submit(const nlohmann::json&, const nlohmann::json&) const { return true; }
};

}  // namespace

TEST_CASE("blueprint concepts accept the built-ins", "[static][blueprint]") {
    using crowdline::blueprint;
    STATIC_REQUIRE(blueprint<crowdline::blueprints::mock>);
    STATIC_REQUIRE(blueprint<crowdline::blueprints::static_form>);
    STATIC_REQUIRE(blueprint<complete>);
    STATIC_REQUIRE(blueprint<infinite>);
    STATIC_REQUIRE(crowdline::assert_blueprint<crowdline::blueprints::mock>());
    STATIC_REQUIRE(crowdline::has_blueprint_type<crowdline::blueprints::static_form>);
    STATIC_REQUIRE(crowdline::has_blueprint_args<crowdline::blueprints::static_form>);
    STATIC_REQUIRE(crowdline::provides_initialization_data<crowdline::blueprints::mock>);
    STATIC_REQUIRE(crowdline::renders_page<crowdline::blueprints::mock>);
    STATIC_REQUIRE(crowdline::validates_submission<crowdline::blueprints::static_form>);
    using composed = decltype(crowdline::with_mixins(crowdline::blueprints::mock{},
                                                     crowdline::mixins::gold_units{{}, 0.1, "acc"}));
    STATIC_REQUIRE(blueprint<composed>);
}

TEST_CASE("each blueprint piece rejects a type lacking it, and only that piece", "[static][blueprint]") {
    using namespace crowdline;

    STATIC_REQUIRE_FALSE(has_blueprint_type<no_type>);
    STATIC_REQUIRE(has_blueprint_args<no_type>);
    STATIC_REQUIRE(provides_initialization_data<no_type>);
    STATIC_REQUIRE_FALSE(blueprint<no_type>);

    STATIC_REQUIRE_FALSE(has_blueprint_args<no_args>);
    STATIC_REQUIRE_FALSE(has_blueprint_args<unreflected_args>);
    STATIC_REQUIRE_FALSE(has_blueprint_args<no_validate>);
    STATIC_REQUIRE(has_blueprint_type<no_args>);
    STATIC_REQUIRE(renders_page<no_args>);
    STATIC_REQUIRE(validates_submission<no_validate>);
    STATIC_REQUIRE_FALSE(blueprint<no_args>);
    STATIC_REQUIRE_FALSE(blueprint<unreflected_args>);
    STATIC_REQUIRE_FALSE(blueprint<no_validate>);

    STATIC_REQUIRE_FALSE(provides_initialization_data<no_data>);
    STATIC_REQUIRE_FALSE(provides_initialization_data<wrong_elements>);
    STATIC_REQUIRE(has_blueprint_args<no_data>);
    STATIC_REQUIRE(renders_page<wrong_elements>);
    STATIC_REQUIRE_FALSE(blueprint<no_data>);
    STATIC_REQUIRE_FALSE(blueprint<wrong_elements>);

    STATIC_REQUIRE_FALSE(renders_page<no_page>);
    STATIC_REQUIRE(validates_submission<no_page>);
    STATIC_REQUIRE(provides_initialization_data<no_page>);
    STATIC_REQUIRE_FALSE(blueprint<no_page>);

    STATIC_REQUIRE_FALSE(validates_submission<no_submit>);
    STATIC_REQUIRE_FALSE(validates_submission<bool_submit>);
    STATIC_REQUIRE(renders_page<no_submit>);
    STATIC_REQUIRE(has_blueprint_args<no_submit>);
    STATIC_REQUIRE(has_blueprint_type<no_submit>);
    STATIC_REQUIRE_FALSE(blueprint<no_submit>);
    STATIC_REQUIRE_FALSE(blueprint<bool_submit>);

    STATIC_REQUIRE_FALSE(blueprint<int>);
    STATIC_REQUIRE_FALSE(blueprint<crowdline::mixins::gold_units<>>);
}

TEST_CASE("the args and initialization pieces split into one concept per member", "[static][blueprint]") {
    using namespace crowdline;
    STATIC_REQUIRE(declares_args_type<blueprints::mock>);
    STATIC_REQUIRE(validates_args<blueprints::static_form>);
    STATIC_REQUIRE(returns_initialization_range<blueprints::static_form>);
    STATIC_REQUIRE(yields_initialization_data<blueprints::mock>);
    STATIC_REQUIRE(yields_initialization_data<infinite>);

    STATIC_REQUIRE_FALSE(declares_args_type<no_args>);
    STATIC_REQUIRE_FALSE(declares_args_type<unreflected_args>);
    STATIC_REQUIRE(validates_args<unreflected_args>);
    STATIC_REQUIRE(declares_args_type<no_validate>);
    STATIC_REQUIRE_FALSE(validates_args<no_validate>);

    STATIC_REQUIRE_FALSE(returns_initialization_range<no_data>);
    STATIC_REQUIRE_FALSE(yields_initialization_data<no_data>);
    STATIC_REQUIRE(returns_initialization_range<wrong_elements>);
    STATIC_REQUIRE_FALSE(yields_initialization_data<wrong_elements>);
}

TEST_CASE("the agent state type defaults to agent_state", "[static][blueprint]") {
    struct custom_state : complete {
        struct state_type {};
    };
    STATIC_REQUIRE(std::is_same_v<crowdline::blueprint_state_t<complete>, crowdline::agent_state>);
    STATIC_REQUIRE(std::is_same_v<crowdline::blueprint_state_t<custom_state>, custom_state::state_type>);
}
