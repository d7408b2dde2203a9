#pragma once
/// `blueprints::mock`: a blueprint for tests and simulations. It generates its items lazily (a count, or
/// without end), renders a trivial page, and accepts every submission except one holding `"fail": true`.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/detail/text.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline::blueprints {

/// The settings of the mock blueprint.
struct mock_args {
    std::int64_t units_per_assignment = 1;

    static constexpr std::array<config::description, 1> descriptions{{
        {"units_per_assignment", "units per generated item"},
    }};

    void validate() const {
        if (units_per_assignment < 1)
            throw config_error("units_per_assignment: must be ≥ 1, got " + std::to_string(units_per_assignment));
    }
};

}  // namespace crowdline::blueprints

CROWDLINE_REFLECT(crowdline::blueprints::mock_args, units_per_assignment);

namespace crowdline::blueprints {

/// Item i is `{"index": i, "text": "mock item i"}`; `std::nullopt` items means an infinite stream.
class mock {
public:
    using args_type = mock_args;
    static constexpr std::string_view blueprint_type = "mock";

    explicit mock(std::optional<std::size_t> items = std::nullopt, args_type args = {}) : items_(items), args_(args) {}

    [[nodiscard]] const args_type& args() const noexcept { return args_; }
    [[nodiscard]] args_type& args() noexcept { return args_; }
    [[nodiscard]] std::optional<std::size_t> item_count() const noexcept { return items_; }

    void validate(const args_type& args) const { config::validate(args); }

    /// Generated on demand from `std::views::iota`: nothing is stored, and an unbounded mock never ends.
    [[nodiscard]] auto initialization_data() const {
        auto limit = items_;
        auto units = static_cast<std::size_t>(args_.units_per_assignment < 1 ? 1 : args_.units_per_assignment);
        return std::views::iota(std::size_t{0}) |
               std::views::take_while([limit](std::size_t i) { return !limit || i < *limit; }) |
               std::views::transform([units](std::size_t i) {
                   nlohmann::json item = {{"index", i}, {"text", "mock item " + std::to_string(i)}};
                   return ::crowdline::initialization_data{nlohmann::json::object(),
                                                           std::vector<nlohmann::json>(units, item)};
               });
    }

    /// A one-line page naming the unit (escaped).
    [[nodiscard]] std::string page(const ::crowdline::initialization_data& init, std::size_t unit_index) const {
        auto data = unit_data_for(init, unit_index);
        const nlohmann::json* text = detail::lookup(data, "text");
        std::string out = "<div class=\"crowdline-mock\">";
        detail::append_escaped(out, text != nullptr ? detail::placeholder_text(*text) : std::string("mock unit"));
        out += "</div>\n";
        return out;
    }

    /// Accepts everything but an object with `"fail": true`, which gets an error on the field "fail".
    [[nodiscard]] submission_check on_submit(const nlohmann::json& /*unit_data*/, const nlohmann::json& submission) const {
        submission_check check;
        if (submission.is_object()) {
            auto it = submission.find("fail");
            if (it != submission.end() && it->is_boolean() && it->get<bool>())
                check.errors.push_back({"fail", "the mock blueprint refuses submissions with \"fail\": true"});
        }
        return check;
    }

private:
    std::optional<std::size_t> items_;
    args_type args_;
};

}  // namespace crowdline::blueprints
