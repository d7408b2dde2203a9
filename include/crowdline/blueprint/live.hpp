#pragma once
/// `blueprints::live`: an interactive, multi-turn task. The worker's page calls named C++ handlers
/// (Mephisto's remote-procedure blueprint): each call is a `live_update` packet
/// `{"update": {"handler": name, "args": …}}`, answered with the handler's result, and every call with its
/// answer is kept in the agent's state (`updates`) next to the final submission. Handlers are held in a
/// Boost.Hana tuple and found by name without virtual dispatch; a page naming an unknown handler, a call
/// past `max_turns` or a handler that throws `invalid_argument` gets an error and nothing is recorded.

#include <array>
#include <cstddef>
#include <cstdint>
#include <concepts>
#include <functional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/detail/json_items.hpp>
#include <crowdline/blueprint/detail/text.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline::blueprints {

/// The settings of a live task.
struct live_args {
    std::string title = "";
    std::int64_t max_turns = 50;  ///< handler calls per unit (0: no limit)
    std::int64_t min_turns = 0;   ///< handler calls before a submission is accepted

    static constexpr std::array<config::description, 3> descriptions{{
        {"title", "heading shown above the conversation"},
        {"max_turns", "handler calls one worker may make on a unit (0: no limit)"},
        {"min_turns", "handler calls a worker must make before submitting"},
    }};

    void validate() const {
        if (max_turns < 0) throw config_error("max_turns: must be ≥ 0, got " + std::to_string(max_turns));
        if (min_turns < 0) throw config_error("min_turns: must be ≥ 0, got " + std::to_string(min_turns));
        if (max_turns > 0 && min_turns > max_turns)
            throw config_error("min_turns: " + std::to_string(min_turns) + " is more than max_turns (" +
                               std::to_string(max_turns) + ")");
    }
};

}  // namespace crowdline::blueprints

CROWDLINE_REFLECT(crowdline::blueprints::live_args, title, max_turns, min_turns);

namespace crowdline::blueprints {

/// What a handler sees: the unit's data, the call's arguments, and the calls made on this unit so far
/// (each `{"handler": …, "args": …, "response": …}`, oldest first).
struct live_call {
    const nlohmann::json& unit_data;
    const nlohmann::json& args;
    std::span<const nlohmann::json> history;
};

/// A named handler: `fn(const live_call&)` returns the JSON sent back to the page.
template <class F>
struct handler {
    std::string name;
    F fn;
};
template <class F>
handler(std::string, F) -> handler<F>;
template <class F>
handler(const char*, F) -> handler<F>;

namespace detail {
template <class T>
struct is_handler : std::false_type {};
template <class F>
struct is_handler<handler<F>> : std::true_type {};
}  // namespace detail

/// An interactive blueprint over `items` (any input range of JSON values, possibly lazy and infinite; each
/// item is one assignment, every unit of it seeing the item) with handlers called by name.
template <class... Fs>
class live {
    static_assert(sizeof...(Fs) > 0, "crowdline::blueprints::live: give at least one handler");
    static_assert((std::is_invocable_r_v<nlohmann::json, const Fs&, const live_call&> && ...),
                  "crowdline::blueprints::live: every handler must be callable as nlohmann::json(const live_call&)");

public:
    using args_type = live_args;
    static constexpr std::string_view blueprint_type = "live";

    /// A malformed handler list (an empty or repeated name) is a `config_error` naming it.
    template <detail::json_item_range Items>
        requires std::ranges::viewable_range<Items>
    live(Items&& items, args_type args, handler<Fs>... handlers)
        : items_(std::forward<Items>(items)), args_(std::move(args)), handlers_(std::move(handlers)...) {
        std::vector<std::string_view> seen;
        boost::hana::for_each(handlers_, [&](auto const& h) {
            if (h.name.empty()) throw config_error("live: a handler has an empty name");
            for (auto s : seen)
                if (s == h.name) throw config_error("live: handler \"" + h.name + "\" is given twice");
            seen.push_back(h.name);
        });
    }

    [[nodiscard]] const args_type& args() const noexcept { return args_; }
    [[nodiscard]] args_type& args() noexcept { return args_; }
    void validate(const args_type& args) const { config::validate(args); }

    /// The handler names, in the order given.
    [[nodiscard]] std::vector<std::string> handler_names() const {
        std::vector<std::string> out;
        boost::hana::for_each(handlers_, [&](auto const& h) { out.push_back(h.name); });
        return out;
    }

    /// One `initialization_data` per item, pulled lazily; every unit of the assignment sees the item.
    [[nodiscard]] auto initialization_data() const {
        return items_ | std::views::transform([](const nlohmann::json& item) {
                   return ::crowdline::initialization_data{nlohmann::json::object(), std::vector<nlohmann::json>{item}};
               });
    }

    /// The worker's page: the title, the unit's data (escaped JSON, for the page's script) and the handlers
    /// it may call; the script sends `live_update` packets and shows each answer.
    [[nodiscard]] std::string page(const ::crowdline::initialization_data& init, std::size_t unit_index) const {
        auto const data = init.unit_data.size() <= 1 ? (init.unit_data.empty() ? init.shared : unit_data_for(init, 0))
                                                     : unit_data_for(init, unit_index);
        std::string out = "<section class=\"crowdline-live\" data-blueprint=\"live\"";
        detail::append_attribute(out, "data-unit-index", std::to_string(unit_index));
        auto names = nlohmann::json(handler_names());
        detail::append_attribute(out, "data-handlers", names.dump());
        detail::append_attribute(out, "data-unit", data.dump());
        if (args_.max_turns > 0) detail::append_attribute(out, "data-max-turns", std::to_string(args_.max_turns));
        out += ">\n  <h2>";
        detail::append_escaped(out, args_.title);
        out += "</h2>\n  <ol class=\"crowdline-turns\"></ol>\n"
               "  <form class=\"crowdline-live-input\"><input name=\"message\" autocomplete=\"off\">"
               "<button type=\"submit\">Send</button></form>\n"
               "  <button class=\"crowdline-submit\" type=\"button\">Finish</button>\n</section>\n";
        return out;
    }

    /// A final submission must be a JSON object (what the page sends on "Finish").
    [[nodiscard]] submission_check on_submit(const nlohmann::json&, const nlohmann::json& submission) const {
        if (!submission.is_object()) return {{{"", "expected an object, got " + std::string(submission.type_name())}}};
        return {};
    }

    /// The same, knowing the calls made on the unit: fewer than `min_turns` is refused.
    [[nodiscard]] submission_check on_submit(const nlohmann::json& unit_data, const nlohmann::json& submission,
                                             std::span<const nlohmann::json> history) const {
        auto check = on_submit(unit_data, submission);
        if (check.ok() && history.size() < static_cast<std::size_t>(args_.min_turns))
            check.errors.push_back({"", "at least " + std::to_string(args_.min_turns) + " turns are needed before finishing; " +
                                            std::to_string(history.size()) + " so far"});
        return check;
    }

    /// One call from the page: `{"handler": name, "args": …}` → `{"handler": name, "args": …, "response": …}`,
    /// which the pipeline records and sends back. Bad calls throw `invalid_argument` naming the problem.
    [[nodiscard]] nlohmann::json on_live_update(const nlohmann::json& unit_data, const nlohmann::json& update,
                                                std::span<const nlohmann::json> history) const {
        if (!update.is_object()) throw invalid_argument("live update: expected an object, got " + std::string(update.type_name()));
        auto const name_at = update.find("handler");
        if (name_at == update.end() || !name_at->is_string())
            throw invalid_argument("live update: \"handler\" must name one of " + nlohmann::json(handler_names()).dump());
        auto const& name = name_at->template get_ref<const std::string&>();
        if (args_.max_turns > 0 && history.size() >= static_cast<std::size_t>(args_.max_turns))
            throw invalid_argument("live update: the unit allows at most " + std::to_string(args_.max_turns) + " turns");
        static const nlohmann::json no_args = nlohmann::json::object();
        auto const args_at = update.find("args");
        const nlohmann::json& call_args = args_at == update.end() ? no_args : *args_at;
        const live_call call{unit_data, call_args, history};
        nlohmann::json response;
        bool found = false;
        boost::hana::for_each(handlers_, [&](auto const& h) {
            if (found || h.name != name) return;
            found = true;
            response = std::invoke(h.fn, call);
        });
        if (!found)
            throw invalid_argument("live update: unknown handler \"" + name + "\"; this task has " +
                                   nlohmann::json(handler_names()).dump());
        return {{"handler", name}, {"args", call_args}, {"response", std::move(response)}};
    }

private:
    detail::json_items items_;
    args_type args_;
    boost::hana::tuple<handler<Fs>...> handlers_;
};

template <class Items, class... Fs>
live(Items&&, live_args, handler<Fs>...) -> live<Fs...>;

}  // namespace crowdline::blueprints
