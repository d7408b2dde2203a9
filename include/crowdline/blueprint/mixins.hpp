#pragma once
/// Blueprint mixins (Mephisto's OnboardingRequired, ScreenTaskRequired, UseGoldUnit), composed with a
/// blueprint at compile time: `with_mixins(blueprint, mixins...)` returns a type that still models
/// `crowdline::blueprint` and holds the mixins in a `boost::hana::tuple`, one per kind, reachable by kind
/// (`bp.mixin<mixins::onboarding_tag>()`). Each mixin checks its own args (`assert_args()`, called by the
/// composed blueprint's `validate`) and names the qualifications it adds.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/at.hpp>
#include <boost/hana/equal.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/index_if.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/detail/argument_check.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/fwd.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline {

/// A mixin: declares its kind (`mixin_kind`, at most one mixin per kind), checks its args
/// (`assert_args()` throws `config_error` naming the key), and names the qualifications it adds.
template <class M>
concept blueprint_mixin = requires(const M& m) {
    typename M::mixin_kind;
    m.assert_args();
    { m.qualifications() } -> std::convertible_to<std::vector<std::string>>;
};

namespace mixins {

/// JSON for the reflected types below (`gold_unit`, `qualification_grant`), found by ADL from here.
using ::crowdline::from_json;
using ::crowdline::to_json;

/// The built-in mixin kinds.
struct onboarding_tag {};
struct screening_tag {};
struct gold_units_tag {};

/// A qualification value to store for a worker (`store.grant_qualification`).
struct qualification_grant {
    std::string qualification{};
    int value = 1;

    friend bool operator==(const qualification_grant&, const qualification_grant&) = default;
};

namespace detail {
/// Runs a requester's check on a worker's answer. A malformed answer that makes it throw a JSON error
/// (wrong type, missing key) is a wrong answer, not a crash.
template <class Check, class... Args>
bool run_check(const Check& check, const Args&... args) {
    try {
        return static_cast<bool>(std::invoke(check, args...));
    } catch (nlohmann::json::exception const&) {
        return false;
    }
}

inline void require_name(const std::string& value, std::string_view key) {
    if (value.empty()) throw config_error(std::string(key) + ": must not be empty (it names a qualification)");
}
}  // namespace detail

/// Mephisto's OnboardingRequired: a worker first does an onboarding task on `data`; `validate(answer)`
/// decides. Pass grants `qualification` = 1; fail grants it 0 and `<qualification>-failed`, which bars the
/// worker from the task for good.
template <class Validate>
struct onboarding {
    using mixin_kind = onboarding_tag;
    static_assert(std::predicate<const Validate&, const nlohmann::json&>,
                  "crowdline::mixins::onboarding: validate must be callable as bool(const nlohmann::json& answer)");

    std::string qualification{};
    nlohmann::json data{};
    Validate validate{};

    [[nodiscard]] const std::string& qualification_name() const noexcept { return qualification; }
    [[nodiscard]] std::string failed_qualification_name() const { return qualification + "-failed"; }
    [[nodiscard]] const nlohmann::json& onboarding_data() const noexcept { return data; }
    /// The onboarding task as one unit whose data is `data` (render it with the blueprint's `page`).
    [[nodiscard]] ::crowdline::initialization_data initialization() const { return {nlohmann::json::object(), {data}}; }
    /// Never throws on a malformed answer: a JSON error inside `validate` counts as a fail.
    [[nodiscard]] bool validate_onboarding(const nlohmann::json& answer) const { return detail::run_check(validate, answer); }
    /// What to store after the onboarding task.
    [[nodiscard]] std::vector<qualification_grant> grants_for(bool passed) const {
        if (passed) return {{qualification, 1}};
        return {{qualification, 0}, {failed_qualification_name(), 1}};
    }

    void assert_args() const { detail::require_name(qualification, "onboarding.qualification"); }
    [[nodiscard]] std::vector<std::string> qualifications() const { return {qualification, failed_qualification_name()}; }
};
template <class Validate>
onboarding(std::string, nlohmann::json, Validate) -> onboarding<Validate>;

/// Mephisto's ScreenTaskRequired: a worker without `passed_qualification` gets screening units (extra
/// units on `data`, at most `max_screening_units` of them over the run) until `validate(answer)` decides:
/// pass grants the qualification 1, fail grants it 0 (the worker is no longer eligible).
template <class Validate>
struct screening {
    using mixin_kind = screening_tag;
    static_assert(std::predicate<const Validate&, const nlohmann::json&>,
                  "crowdline::mixins::screening: validate must be callable as bool(const nlohmann::json& answer)");

    std::string passed_qualification{};
    std::size_t max_screening_units = 0;
    nlohmann::json data{};
    Validate validate{};

    [[nodiscard]] const std::string& qualification_name() const noexcept { return passed_qualification; }
    [[nodiscard]] std::size_t max_units() const noexcept { return max_screening_units; }
    [[nodiscard]] const nlohmann::json& screening_data() const noexcept { return data; }
    /// True while the run may still launch a screening unit (`launched` so far is below the cap).
    [[nodiscard]] bool may_launch(std::size_t launched) const noexcept { return launched < max_screening_units; }
    /// The screening task as one unit whose data is `data`.
    [[nodiscard]] ::crowdline::initialization_data initialization() const { return {nlohmann::json::object(), {data}}; }
    /// Never throws on a malformed answer: a JSON error inside `validate` counts as a fail.
    [[nodiscard]] bool validate_screening(const nlohmann::json& answer) const { return detail::run_check(validate, answer); }
    [[nodiscard]] std::vector<qualification_grant> grants_for(bool passed) const {
        return {{passed_qualification, passed ? 1 : 0}};
    }

    void assert_args() const {
        detail::require_name(passed_qualification, "screening.passed_qualification");
        if (max_screening_units == 0) throw config_error("screening.max_screening_units: must be ≥ 1");
    }
    [[nodiscard]] std::vector<std::string> qualifications() const { return {passed_qualification}; }
};
template <class Validate>
screening(std::string, std::size_t, nlohmann::json, Validate) -> screening<Validate>;

/// A unit with a known answer.
struct gold_unit {
    nlohmann::json data{};
    nlohmann::json answer{};
};

/// The default gold comparison: an object answer matches when the submission has each of its keys with an
/// equal value (other keys are ignored); any other answer must equal the submission.
struct match_answer_keys {
    bool operator()(const nlohmann::json& answer, const nlohmann::json& submission) const {
        if (!answer.is_object()) return answer == submission;
        if (!submission.is_object()) return false;
        for (auto const& [key, expected] : answer.items()) {
            auto it = submission.find(key);
            if (it == submission.end() || !(*it == expected)) return false;
        }
        return true;
    }
};

/// Counts right and wrong gold answers for one worker.
struct accuracy_tally {
    std::size_t correct = 0;
    std::size_t total = 0;

    void record(bool was_correct) noexcept {
        ++total;
        if (was_correct) ++correct;
    }
    [[nodiscard]] int percent() const;
};

/// Mephisto's UseGoldUnit: units with known `answer`s are mixed into a worker's stream at `rate`
/// (0 < rate ≤ 1) and scored; the worker's accuracy is stored as the `accuracy_qualification` grant.
template <class Compare>  // = match_answer_keys (the default is in fwd.hpp)
struct gold_units {
    using mixin_kind = gold_units_tag;
    static_assert(std::predicate<const Compare&, const nlohmann::json&, const nlohmann::json&>,
                  "crowdline::mixins::gold_units: compare must be callable as bool(const nlohmann::json& answer, "
                  "const nlohmann::json& submission)");

    std::vector<gold_unit> units{};
    double rate = 0.1;
    std::string accuracy_qualification{};
    Compare compare{};

    /// Whether the next unit for a worker who has done `units_done_by_worker` units (gold included) is
    /// gold: yes when floor(done × rate) goes up, so floor(n × rate) of the first n units are gold, evenly
    /// spread. Integer arithmetic on the rate rounded to billionths: the same answer on every run and platform.
    [[nodiscard]] bool should_serve_gold(std::size_t units_done_by_worker) const noexcept {
        auto const per = rate_per_billion();
        auto const done = static_cast<std::uint64_t>(units_done_by_worker);
        return gold_before(done + 1, per) > gold_before(done, per);
    }

    /// The gold unit to serve as a worker's `n`-th gold unit: a rotation, so each is seen before any repeats.
    [[nodiscard]] const gold_unit& pick(std::size_t n) const {
        if (units.empty()) throw invalid_argument("gold_units.pick: there are no gold units");
        return units[n % units.size()];
    }

    /// A gold unit as one unit whose data is its `data` (never its answer).
    [[nodiscard]] ::crowdline::initialization_data initialization(const gold_unit& gold) const {
        return {nlohmann::json::object(), {gold.data}};
    }

    /// Whether `submission` matches the gold answer. Never throws on a malformed submission.
    [[nodiscard]] bool score(const gold_unit& gold, const nlohmann::json& submission) const {
        return detail::run_check(compare, gold.answer, submission);
    }

    /// The accuracy to store: `correct` of `total`, in percent, rounded to nearest (0 when `total` is 0).
    [[nodiscard]] static constexpr int accuracy_percent(std::size_t correct, std::size_t total) {
        if (correct > total) throw invalid_argument("accuracy_percent: correct exceeds total");
        if (total == 0) return 0;
        // Split so that correct * 100 cannot overflow.
        auto const whole = correct / total * 100 + (correct % total) * 100 / total;
        auto const rest = (correct % total) * 100 % total;
        return static_cast<int>(whole + (rest * 2 >= total ? 1 : 0));
    }

    [[nodiscard]] std::vector<qualification_grant> grants_for(const accuracy_tally& tally) const {
        return {{accuracy_qualification, accuracy_percent(tally.correct, tally.total)}};
    }

    void assert_args() const {
        if (units.empty()) throw config_error("gold_units.units: must not be empty");
        if (!(rate > 0.0 && rate <= 1.0)) throw config_error("gold_units.rate: must be in (0, 1], got " + std::to_string(rate));
        if (rate_per_billion() == 0) throw config_error("gold_units.rate: must be at least 1e-9, got " + std::to_string(rate));
        detail::require_name(accuracy_qualification, "gold_units.accuracy_qualification");
        for (std::size_t i = 0; i < units.size(); ++i)
            if (units[i].answer.is_null())
                throw config_error("gold_units.units[" + std::to_string(i) + "].answer: must not be null");
    }
    [[nodiscard]] std::vector<std::string> qualifications() const { return {accuracy_qualification}; }

private:
    static constexpr std::uint64_t billion = 1'000'000'000;

    [[nodiscard]] std::uint64_t rate_per_billion() const noexcept {
        if (!(rate > 0.0)) return 0;
        if (rate >= 1.0) return billion;
        return static_cast<std::uint64_t>(rate * static_cast<double>(billion) + 0.5);
    }
    /// floor(n × per / billion), without overflow for any realistic n.
    static constexpr std::uint64_t gold_before(std::uint64_t n, std::uint64_t per) noexcept {
        return n / billion * per + n % billion * per / billion;
    }
};
gold_units(std::vector<gold_unit>, double, std::string) -> gold_units<match_answer_keys>;
template <class Compare>
gold_units(std::vector<gold_unit>, double, std::string, Compare) -> gold_units<Compare>;

inline int accuracy_tally::percent() const { return gold_units<>::accuracy_percent(correct, total); }

}  // namespace mixins

// ---- composition ---------------------------------------------------------------------------------------

/// A blueprint with mixins: forwards every piece of `crowdline::blueprint` to `B`, and adds the mixins.
template <class B, class... Mixins>
class blueprint_with_mixins {
public:
    using base_type = B;
    using args_type = typename B::args_type;
    using state_type = blueprint_state_t<B>;
    static constexpr std::string_view blueprint_type = B::blueprint_type;

    explicit blueprint_with_mixins(B base, Mixins... mixins) : base_(std::move(base)), mixins_(std::move(mixins)...) {}

    /// Checks the blueprint's args, then each mixin's (`assert_args`), then that no two mixins use the
    /// same qualification name. Each failure is a `config_error` naming the key.
    void validate(const args_type& args) const {
        base_.validate(args);
        boost::hana::for_each(mixins_, [](auto const& m) { m.assert_args(); });
        auto names = required_qualifications();
        for (std::size_t i = 0; i < names.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (names[i] == names[j])
                    throw config_error("mixins: qualification \"" + names[i] + "\" is used by two mixins");
    }

    /// The wrapped blueprint's own args, when it keeps them (`static_form`, `mock`).
    decltype(auto) args() const
        requires requires(const B& b) { b.args(); }
    {
        return base_.args();
    }
    decltype(auto) args()
        requires requires(B& b) { b.args(); }
    {
        return base_.args();
    }

    decltype(auto) initialization_data() { return base_.initialization_data(); }
    decltype(auto) initialization_data() const
        requires provides_initialization_data<const B>
    {
        return base_.initialization_data();
    }

    std::string page(const ::crowdline::initialization_data& init, std::size_t unit_index) const {
        return base_.page(init, unit_index);
    }

    submission_check on_submit(const nlohmann::json& unit_data, const nlohmann::json& submission) const {
        return base_.on_submit(unit_data, submission);
    }
    /// The forms a live blueprint adds, passed through when the wrapped blueprint has them.
    submission_check on_submit(const nlohmann::json& unit_data, const nlohmann::json& submission,
                               std::span<const nlohmann::json> history) const
        requires requires(const B& b) { b.on_submit(unit_data, submission, history); }
    {
        return base_.on_submit(unit_data, submission, history);
    }
    nlohmann::json on_live_update(const nlohmann::json& unit_data, const nlohmann::json& update,
                                  std::span<const nlohmann::json> history) const
        requires requires(const B& b) { b.on_live_update(unit_data, update, history); }
    {
        return base_.on_live_update(unit_data, update, history);
    }
    nlohmann::json on_live_update(const nlohmann::json& unit_data, const nlohmann::json& update) const
        requires requires(const B& b) { b.on_live_update(unit_data, update); }
    {
        return base_.on_live_update(unit_data, update);
    }

    /// Whether a mixin of kind `Kind` (e.g. `mixins::onboarding_tag`) is present.
    template <class Kind>
    static constexpr bool has_mixin() {
        return (std::is_same_v<typename Mixins::mixin_kind, Kind> || ... || false);
    }

    /// The mixin of kind `Kind`; a compile error when there is none.
    template <class Kind>
    const auto& mixin() const {
        return mixins_[index_of<Kind>()];
    }
    template <class Kind>
    auto& mixin() {
        return mixins_[index_of<Kind>()];
    }

    /// Every qualification name the mixins add, in mixin order.
    [[nodiscard]] std::vector<std::string> required_qualifications() const {
        std::vector<std::string> names;
        boost::hana::for_each(mixins_, [&](auto const& m) {
            for (auto& q : std::vector<std::string>(m.qualifications())) names.push_back(std::move(q));
        });
        return names;
    }

    [[nodiscard]] const B& base() const noexcept { return base_; }
    [[nodiscard]] B& base() noexcept { return base_; }
    [[nodiscard]] const boost::hana::tuple<Mixins...>& mixins() const noexcept { return mixins_; }

private:
    template <class Kind>
    static constexpr auto index_of() {
        static_assert(has_mixin<Kind>(), "crowdline::blueprint_with_mixins::mixin<Kind>(): no mixin of that kind "
                                         "(ask has_mixin<Kind>() first)");
        if constexpr (has_mixin<Kind>()) {
            return boost::hana::index_if(boost::hana::tuple_t<typename Mixins::mixin_kind...>,
                                         boost::hana::equal.to(boost::hana::type_c<Kind>))
                .value();
        } else {
            return boost::hana::size_c<0>;
        }
    }

    B base_;
    boost::hana::tuple<Mixins...> mixins_;
};

/// Whether blueprint type `B` carries a mixin of kind `Kind` (false for a blueprint without mixins).
template <class Kind, class B>
inline constexpr bool has_mixin_v = false;
template <class Kind, class B, class... Mixins>
inline constexpr bool has_mixin_v<Kind, blueprint_with_mixins<B, Mixins...>> =
    blueprint_with_mixins<B, Mixins...>::template has_mixin<Kind>();

/// The qualifications a blueprint's mixins add (none for a blueprint without mixins).
template <class B>
std::vector<std::string> required_qualifications(const B& b) {
    if constexpr (requires { b.required_qualifications(); })
        return b.required_qualifications();
    else
        return {};
}

namespace detail {

/// `with_mixins`' rule for `check_each_argument`: every argument after the blueprint is a mixin, each kind once.
struct with_mixins_arguments {
    template <class Argument>
    static consteval bool accepts() {
        static_assert(blueprint_mixin<typename Argument::type>,
                      "crowdline::with_mixins: an argument is not a blueprint mixin (it lacks mixin_kind, assert_args() "
                      "or qualifications()); the note naming crowdline::detail::argument<position, type> says which");
        return blueprint_mixin<typename Argument::type>;
    }

    template <class Mixin>
    using kind = typename Mixin::mixin_kind;

    template <class Kind>
    static consteval bool unique() {
        static_assert(Kind::is_unique,
                      "crowdline::with_mixins: duplicate mixin kind (two mixins declare the same mixin_kind); the note "
                      "naming crowdline::detail::argument_kind<kind, first position, position> says which");
        return Kind::is_unique;
    }
};

template <class B>
consteval bool check_mixin_base() {
    check_blueprint<B>();
    static_assert(blueprint<B>, "crowdline::with_mixins: argument 1 (blueprint) must model crowdline::blueprint");
    return blueprint<B>;
}

/// Returned instead of a blueprint when a static_assert above already failed (keeps the error list short).
struct invalid_blueprint_with_mixins {};

}  // namespace detail

/// `base` with `mixins` (each a `blueprint_mixin`, each kind at most once), checked at compile time.
template <class B, class... Mixins>
auto with_mixins(B base, Mixins... mixins) {
    constexpr bool base_ok = detail::check_mixin_base<B>();
    // Argument 1 is the blueprint; mixins are arguments 2, 3, ….
    constexpr bool arguments_ok = detail::check_each_argument<detail::with_mixins_arguments, 2, Mixins...>();
    if constexpr (!base_ok || !arguments_ok) {
        return detail::invalid_blueprint_with_mixins{};
    } else {
        return blueprint_with_mixins<B, Mixins...>(std::move(base), std::move(mixins)...);
    }
}

}  // namespace crowdline

CROWDLINE_REFLECT(crowdline::mixins::gold_unit, data, answer);
CROWDLINE_REFLECT(crowdline::mixins::qualification_grant, qualification, value);
