#pragma once
/// The `crowdline::blueprint` concept: what a kind of task must provide — its type name, its args, a
/// (possibly lazy, possibly infinite) range of `initialization_data`, the worker-facing page, and the check
/// of a submission. Split into one concept per piece so a type missing a member is told which one.
///
/// One model: `crowdline::blueprints::mock` (blueprint/mock.hpp). One non-model: any type without
/// `on_submit`, e.g. `struct not_a_blueprint {};` — see tests/static/blueprint_concepts.cpp.

#include <concepts>
#include <cstddef>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/json.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline {

/// Mephisto's InitializationData: the data of one assignment — JSON every unit shares, and one JSON per unit.
struct initialization_data {
    nlohmann::json shared = nlohmann::json::object();
    std::vector<nlohmann::json> unit_data{};
};

/// One problem with a submission, for the worker: which field (empty: the submission as a whole) and why.
struct field_error {
    std::string field{};
    std::string message{};
};

/// The verdict on a submission: accepted when there is no error; otherwise one message per bad field.
struct submission_check {
    std::vector<field_error> errors{};

    /// True when the submission is accepted.
    [[nodiscard]] bool ok() const noexcept { return errors.empty(); }

    /// The message for `field`, if that field has a problem.
    [[nodiscard]] std::optional<std::string> message_for(std::string_view field) const {
        for (auto const& e : errors)
            if (e.field == field) return e.message;
        return std::nullopt;
    }

    /// What the worker's page gets back: `{"ok": bool, "errors": [{"field": …, "message": …}, …]}`.
    [[nodiscard]] nlohmann::json to_json() const {
        auto list = nlohmann::json::array();
        for (auto const& e : errors) list.push_back({{"field", e.field}, {"message", e.message}});
        return {{"ok", ok()}, {"errors", std::move(list)}};
    }
};

/// So that `nlohmann::json j = check;` gives the same object as `check.to_json()`.
inline void to_json(nlohmann::json& j, const submission_check& check) { j = check.to_json(); }

/// Mephisto's AgentState, saved per agent: the unit's init data, the final submission, and live updates.
struct agent_state {
    nlohmann::json inputs{};
    nlohmann::json outputs{};
    std::vector<nlohmann::json> updates{};
};

/// The JSON a unit sees: `init.shared` with `init.unit_data[unit_index]`'s keys laid over it (a
/// non-object unit datum replaces the whole). This is what `on_submit` receives as `unit_data`.
inline nlohmann::json unit_data_for(const initialization_data& init, std::size_t unit_index) {
    if (unit_index >= init.unit_data.size())
        throw invalid_argument("unit_index " + std::to_string(unit_index) + " is out of range (the assignment has " +
                               std::to_string(init.unit_data.size()) + " units)");
    auto const& unit = init.unit_data[unit_index];
    if (!unit.is_object() || !init.shared.is_object()) return unit.is_null() ? init.shared : unit;
    nlohmann::json merged = init.shared;
    for (auto const& [key, value] : unit.items()) merged[key] = value;
    return merged;
}

// ---- concept pieces ------------------------------------------------------------------------------------

/// `B::blueprint_type`: the name stored as the task type (Mephisto's BLUEPRINT_TYPE).
template <class B>
concept has_blueprint_type = requires {
    { B::blueprint_type } -> std::convertible_to<std::string_view>;
};

/// `B::args_type` is a struct reflected with CROWDLINE_REFLECT (or Hana's own struct macros).
template <class B>
concept declares_args_type = config::args_struct<typename B::args_type>;

/// `b.validate(args)` checks the args (throws `config_error` naming the key: Mephisto's assert_task_args).
template <class B>
concept validates_args = requires(const B& b, const typename B::args_type& args) { b.validate(args); };

/// Reflected args and their check.
template <class B>
concept has_blueprint_args = declares_args_type<B> && validates_args<B>;

/// The range type `b.initialization_data()` returns.
template <class B>
using initialization_range_t = decltype(std::declval<B&>().initialization_data());

/// `b.initialization_data()` returns an input range (may be lazy and infinite), whatever its elements.
template <class B>
concept returns_initialization_range = requires(B& b) {
    { b.initialization_data() } -> std::ranges::input_range;
};

/// The elements of `b.initialization_data()` convert to `crowdline::initialization_data`.
template <class B>
concept yields_initialization_data =
    std::convertible_to<std::ranges::range_reference_t<initialization_range_t<B>>, initialization_data>;

/// `b.initialization_data()`: one `crowdline::initialization_data` per assignment.
template <class B>
concept provides_initialization_data = returns_initialization_range<B> && yields_initialization_data<B>;

/// `b.page(init, unit_index)` renders the worker-facing page (an HTML fragment) for one unit.
template <class B>
concept renders_page = requires(const B& b, const initialization_data& init, std::size_t unit_index) {
    { b.page(init, unit_index) } -> std::convertible_to<std::string>;
};

/// `b.on_submit(unit_data, submission)` checks what a worker sent; refusals carry one message per field.
template <class B>
concept validates_submission = requires(const B& b, const nlohmann::json& unit_data, const nlohmann::json& submission) {
    { b.on_submit(unit_data, submission) } -> std::convertible_to<submission_check>;
};

/// A kind of task: every piece above.
template <class B>
concept blueprint = has_blueprint_type<B> && has_blueprint_args<B> && provides_initialization_data<B> &&
                    renders_page<B> && validates_submission<B>;

namespace detail {
template <class B>
struct blueprint_state {
    using type = agent_state;
};
template <class B>
    requires requires { typename B::state_type; }
struct blueprint_state<B> {
    using type = typename B::state_type;
};
}  // namespace detail

/// What is saved per agent: `B::state_type` when the blueprint declares one, else `agent_state`.
template <class B>
using blueprint_state_t = typename detail::blueprint_state<B>::type;

namespace detail {
/// Names each missing piece of `blueprint` for the entry-point message.
template <class B>
constexpr void check_blueprint() {
    static_assert(has_blueprint_type<B>,
                  "crowdline::blueprint: the type lacks blueprint_type (a static member convertible to std::string_view)");
    static_assert(declares_args_type<B>,
                  "crowdline::blueprint: the type lacks args_type (a struct reflected with CROWDLINE_REFLECT "
                  "or Hana's BOOST_HANA_ADAPT_STRUCT)");
    static_assert(!declares_args_type<B> || validates_args<B>,
                  "crowdline::blueprint: the type lacks validate(const args_type&) const");
    static_assert(returns_initialization_range<B>, "crowdline::blueprint: the type lacks initialization_data() -> an "
                                                   "input range of crowdline::initialization_data");
    static_assert(!returns_initialization_range<B> || yields_initialization_data<B>,
                  "crowdline::blueprint: the elements of initialization_data() do not convert to "
                  "crowdline::initialization_data");
    static_assert(renders_page<B>, "crowdline::blueprint: the type lacks page(const initialization_data&, std::size_t "
                                   "unit_index) const -> std::string");
    static_assert(validates_submission<B>,
                  "crowdline::blueprint: the type lacks on_submit(const nlohmann::json& unit_data, const nlohmann::json& "
                  "submission) -> submission_check");
}
}  // namespace detail

/// Entry-point check: `static_assert`s with a message naming what `B` lacks, then true.
template <class B>
constexpr bool assert_blueprint() {
    detail::check_blueprint<B>();
    return blueprint<B>;
}

}  // namespace crowdline

CROWDLINE_REFLECT(crowdline::initialization_data, shared, unit_data);
CROWDLINE_REFLECT(crowdline::field_error, field, message);
CROWDLINE_REFLECT(crowdline::agent_state, inputs, outputs, updates);
