#pragma once
/// `blueprints::static_form`: a form described by fields (display text, single choice, multiple choice,
/// free text), shown once per item, each item's JSON filling `{{key}}` placeholders. The page is an
/// escaped, self-contained HTML `<form>`; a submission is checked against the fields and every problem is
/// reported per field. The form also has a JSON description (`spec()` / `from_json`) so it can live in a file.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/blueprint/detail/json_items.hpp>
#include <crowdline/blueprint/detail/text.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/reflect.hpp>

namespace crowdline::blueprints {

/// The kinds of field a `static_form` is made of. `name` is the field's key in the submission; `label`
/// (may hold `{{key}}` placeholders) is what the worker reads.
namespace fields {

/// Shown, not answered: `text` with `{{key}}` placeholders filled from the unit's data (escaped).
struct display_text {
    static constexpr std::string_view kind = "display_text";
    std::string name{};
    std::string label{};
    std::string text{};
};

/// Exactly one of `options` (the answer is the option's text).
struct single_choice {
    static constexpr std::string_view kind = "single_choice";
    std::string name{};
    std::string label{};
    std::vector<std::string> options{};
    bool required = true;
};

/// A list of distinct options, at least `min_selected` and at most `max_selected` of them (and at least
/// one when `required`).
struct multiple_choice {
    static constexpr std::string_view kind = "multiple_choice";
    std::string name{};
    std::string label{};
    std::vector<std::string> options{};
    bool required = true;
    std::size_t min_selected = 0;
    std::optional<std::size_t> max_selected{};
};

/// Text whose length, in characters (UTF-8 code points, as the worker counts them), lies in
/// [min_length, max_length]; `max_length` unset means the form's `max_text_length`.
struct free_text {
    static constexpr std::string_view kind = "free_text";
    std::string name{};
    std::string label{};
    bool required = true;
    std::size_t min_length = 0;
    std::optional<std::size_t> max_length{};
    bool multiline = false;
    std::string placeholder{};
};

}  // namespace fields

/// One field of a form.
using form_field = std::variant<fields::display_text, fields::single_choice, fields::multiple_choice, fields::free_text>;

/// The name of any field.
inline const std::string& field_name(const form_field& f) {
    return std::visit([](auto const& x) -> const std::string& { return x.name; }, f);
}

/// The settings of a static form (the blueprint's `args_type`).
struct static_form_args {
    std::int64_t units_per_assignment = 1;
    std::string submit_label = "Submit";
    std::int64_t max_text_length = 10000;
    bool allow_extra_keys = false;

    static constexpr std::array<config::description, 4> descriptions{{
        {"units_per_assignment", "units (workers) per item: each item is one assignment with this many units"},
        {"submit_label", "text of the submit button"},
        {"max_text_length", "longest free-text answer, in characters, for fields that set no max_length"},
        {"allow_extra_keys", "accept submissions with keys that name no field (otherwise each is an error)"},
    }};

    /// Names the bad key.
    void validate() const {
        if (units_per_assignment < 1)
            throw config_error("units_per_assignment: must be ≥ 1, got " + std::to_string(units_per_assignment));
        if (submit_label.empty()) throw config_error("submit_label: must not be empty (workers click it)");
        if (max_text_length < 1) throw config_error("max_text_length: must be ≥ 1, got " + std::to_string(max_text_length));
    }
};

}  // namespace crowdline::blueprints

CROWDLINE_REFLECT(crowdline::blueprints::fields::display_text, name, label, text);
CROWDLINE_REFLECT(crowdline::blueprints::fields::single_choice, name, label, options, required);
CROWDLINE_REFLECT(crowdline::blueprints::fields::multiple_choice, name, label, options, required, min_selected,
                  max_selected);
CROWDLINE_REFLECT(crowdline::blueprints::fields::free_text, name, label, required, min_length, max_length,
                  multiline, placeholder);
CROWDLINE_REFLECT(crowdline::blueprints::static_form_args, units_per_assignment, submit_label, max_text_length,
                  allow_extra_keys);

namespace crowdline::blueprints {

namespace detail {

/// `fields[i] ("name")`: how errors about a field's definition start.
inline std::string field_context(std::size_t index, std::string_view name) {
    return "fields[" + std::to_string(index) + "] (" + preview(name) + ")";
}

/// Field names become submission keys and HTML attributes: keep them plain.
inline bool plain_name(std::string_view name) {
    if (name.empty() || name.size() > 100) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  c == '.';
        if (!ok) return false;
    }
    return true;
}

inline void check_options(const std::vector<std::string>& options, const std::string& context) {
    if (options.empty()) throw config_error(context + ": options: must not be empty");
    for (std::size_t i = 0; i < options.size(); ++i) {
        if (options[i].empty()) throw config_error(context + ": options[" + std::to_string(i) + "]: must not be empty");
        for (std::size_t j = 0; j < i; ++j)
            if (options[j] == options[i])
                throw config_error(context + ": options[" + std::to_string(i) + "]: " + preview(options[i]) +
                                   " appears twice");
    }
}

/// A definition that cannot work is a `config_error` naming the field and the key.
inline void check_field(const form_field& field, std::size_t index) {
    auto context = field_context(index, field_name(field));
    if (!plain_name(field_name(field)))
        throw config_error(context + ": name: must be 1 to 100 of the characters A-Z a-z 0-9 _ - .");
    std::visit(
        [&](auto const& f) {
            using F = std::remove_cvref_t<decltype(f)>;
            if constexpr (std::is_same_v<F, fields::single_choice>) {
                check_options(f.options, context);
            } else if constexpr (std::is_same_v<F, fields::multiple_choice>) {
                check_options(f.options, context);
                if (f.min_selected > f.options.size())
                    throw config_error(context + ": min_selected: " + std::to_string(f.min_selected) + " exceeds the " +
                                       std::to_string(f.options.size()) + " options");
                if (f.max_selected && *f.max_selected < std::max<std::size_t>(f.min_selected, 1))
                    throw config_error(context + ": max_selected: must be ≥ 1 and ≥ min_selected (" +
                                       std::to_string(f.min_selected) + "), got " + std::to_string(*f.max_selected));
            } else if constexpr (std::is_same_v<F, fields::free_text>) {
                if (f.max_length && *f.max_length < std::max<std::size_t>(f.min_length, 1))
                    throw config_error(context + ": max_length: must be ≥ 1 and ≥ min_length (" +
                                       std::to_string(f.min_length) + "), got " + std::to_string(*f.max_length));
            }
        },
        field);
}

inline void check_fields(const std::vector<form_field>& all) {
    for (std::size_t i = 0; i < all.size(); ++i) {
        check_field(all[i], i);
        for (std::size_t j = 0; j < i; ++j)
            if (field_name(all[j]) == field_name(all[i]))
                throw config_error(field_context(i, field_name(all[i])) + ": name: already used by fields[" +
                                   std::to_string(j) + "]");
    }
}

/// A JSON field description → the field of the kind named by its "type" key, read with config::load (so
/// a wrong type or unknown key names its key) and checked.
template <class F>
form_field read_field(nlohmann::json spec, const std::string& context) {
    spec.erase("type");
    F f{};
    try {
        config::load(f, spec);
    } catch (config_error const& e) {
        throw config_error(context + ": " + e.what());
    }
    return f;
}

inline form_field field_from_json(const nlohmann::json& spec, std::size_t index) {
    std::string context = "fields[" + std::to_string(index) + "]";
    if (!spec.is_object()) throw config_error(context + ": expected an object, got " + std::string(spec.type_name()));
    if (auto name = spec.find("name"); name != spec.end() && name->is_string())
        context = field_context(index, name->get_ref<const std::string&>());
    auto type = spec.find("type");
    if (type == spec.end() || !type->is_string())
        throw config_error(context + ": type: expected one of display_text, single_choice, multiple_choice, free_text");
    auto const& kind = type->get_ref<const std::string&>();
    if (kind == fields::display_text::kind) return read_field<fields::display_text>(spec, context);
    if (kind == fields::single_choice::kind) return read_field<fields::single_choice>(spec, context);
    if (kind == fields::multiple_choice::kind) return read_field<fields::multiple_choice>(spec, context);
    if (kind == fields::free_text::kind) return read_field<fields::free_text>(spec, context);
    throw config_error(context + ": type: " + preview(kind) +
                       " is not one of display_text, single_choice, multiple_choice, free_text");
}

/// At most this many unknown keys are named one by one; the rest are counted in one message.
inline constexpr std::size_t max_named_unknown_keys = 10;

/// "a number", "an object", …: the JSON type of a worker's value, for messages.
inline std::string a_json_type(const nlohmann::json& value) {
    std::string_view name = value.type_name();
    bool vowel = !name.empty() && (name[0] == 'a' || name[0] == 'o');
    return (vowel ? "an " : "a ") + std::string(name);
}

inline std::string option_list(const std::vector<std::string>& options) {
    std::string out;
    for (std::size_t i = 0; i < options.size() && i < 10; ++i) out += (i ? ", " : "") + preview(options[i]);
    if (options.size() > 10) out += ", …";
    return out;
}

inline bool is_option(const std::vector<std::string>& options, const std::string& value) {
    for (auto const& o : options)
        if (o == value) return true;
    return false;
}

/// The first problem with one answer (empty: none). `value` is never null here.
inline std::string answer_problem(const fields::single_choice& f, const nlohmann::json& value, const static_form_args&) {
    if (!value.is_string()) return "expected one of the options (a string), got " + a_json_type(value);
    if (!is_option(f.options, value.get_ref<const std::string&>()))
        return preview(value.get_ref<const std::string&>()) + " is not one of the options (" + option_list(f.options) + ")";
    return {};
}

inline std::string answer_problem(const fields::multiple_choice& f, const nlohmann::json& value, const static_form_args&) {
    if (!value.is_array()) return "expected a list of options, got " + a_json_type(value);
    // Checked before looking at any element, so a huge list costs nothing.
    if (value.size() > f.options.size())
        return std::to_string(value.size()) + " selections, but there are only " + std::to_string(f.options.size()) +
               " options";
    for (std::size_t i = 0; i < value.size(); ++i) {
        auto const& v = value[i];
        if (!v.is_string())
            return "selection " + std::to_string(i + 1) + ": expected an option (a string), got " + a_json_type(v);
        auto const& text = v.get_ref<const std::string&>();
        if (!is_option(f.options, text))
            return preview(text) + " is not one of the options (" + option_list(f.options) + ")";
        for (std::size_t j = 0; j < i; ++j)
            if (value[j].get_ref<const std::string&>() == text) return preview(text) + " is selected twice";
    }
    auto least = std::max<std::size_t>(f.min_selected, f.required ? 1 : 0);
    if (value.empty() && f.required) return "required: choose at least " + std::to_string(least);
    if (!value.empty() && value.size() < least)
        return "choose at least " + std::to_string(least) + " (got " + std::to_string(value.size()) + ")";
    if (f.max_selected && value.size() > *f.max_selected)
        return "choose at most " + std::to_string(*f.max_selected) + " (got " + std::to_string(value.size()) + ")";
    return {};
}

inline std::string answer_problem(const fields::free_text& f, const nlohmann::json& value, const static_form_args& args) {
    if (!value.is_string()) return "expected text (a string), got " + a_json_type(value);
    auto const& text = value.get_ref<const std::string&>();
    if (is_blank(text)) return f.required ? "required: write an answer" : std::string{};
    auto longest = f.max_length.value_or(static_cast<std::size_t>(args.max_text_length));
    auto length = code_points(text);
    if (length > longest)
        return "too long: at most " + std::to_string(longest) + " characters (got " + std::to_string(length) + ")";
    if (length < f.min_length)
        return "too short: at least " + std::to_string(f.min_length) + " characters (got " + std::to_string(length) + ")";
    return {};
}

}  // namespace detail

/// A form blueprint: fields + items. Each item (any JSON) is one assignment of `units_per_assignment`
/// units, each unit's data being the item.
class static_form {
public:
    using args_type = static_form_args;
    static constexpr std::string_view blueprint_type = "static_form";

    /// `items`: any input range of JSON-convertible values, possibly lazy and infinite. Taken as
    /// `std::views::all` takes it: an lvalue container is referenced (keep it alive), an rvalue is moved in;
    /// nothing is copied up front. A malformed field is a `config_error` naming it.
    template <detail::json_item_range Items>
        requires std::ranges::viewable_range<Items>
    static_form(std::vector<form_field> form_fields, Items&& items, args_type args = {})
        : fields_(std::move(form_fields)), items_(std::forward<Items>(items)), args_(std::move(args)) {
        detail::check_fields(fields_);
    }

    /// A form from its JSON description: `{"fields": [...], "args": {...}, "items": [...]}` ("args" and
    /// "items" optional). A malformed spec is a `config_error` naming the bad field and key.
    /// The same description with the items given apart (`spec` must hold none): a lazy range, e.g. tasks
    /// read one line at a time from a file, so the form never holds them all.
    template <detail::json_item_range Items>
        requires std::ranges::viewable_range<Items>
    static static_form from_json(const nlohmann::json& spec, Items&& items) {
        if (spec.is_object() && spec.contains("items"))
            throw config_error("items: given twice (in the form's description and apart)");
        auto form = from_json(spec);
        return static_form(std::move(form.fields_), std::forward<Items>(items), std::move(form.args_));
    }

    static static_form from_json(const nlohmann::json& spec) {
        if (!spec.is_object()) throw config_error("static_form: expected an object, got " + std::string(spec.type_name()));
        for (auto const& [key, value] : spec.items())
            if (key != "fields" && key != "args" && key != "items")
                throw config_error(detail::preview(key) + ": unknown key (expected fields, args, items)");
        auto found = spec.find("fields");
        if (found == spec.end()) throw config_error("fields: missing");
        args_type args{};
        if (auto a = spec.find("args"); a != spec.end()) {
            try {
                config::load(args, *a);
            } catch (config_error const& e) {
                throw config_error(std::string("args.") + e.what());
            }
        }
        std::vector<nlohmann::json> items;
        if (auto i = spec.find("items"); i != spec.end()) {
            if (!i->is_array()) throw config_error("items: expected a list, got " + std::string(i->type_name()));
            items = i->get<std::vector<nlohmann::json>>();
        }
        return static_form(fields_from_json(*found), std::move(items), std::move(args));
    }

    /// The fields of a JSON list of field descriptions, each `{"type": "single_choice", "name": …, …}`.
    static std::vector<form_field> fields_from_json(const nlohmann::json& list) {
        if (!list.is_array()) throw config_error("fields: expected a list, got " + std::string(list.type_name()));
        std::vector<form_field> out;
        out.reserve(list.size());
        for (std::size_t i = 0; i < list.size(); ++i) out.push_back(detail::field_from_json(list[i], i));
        detail::check_fields(out);
        return out;
    }

    /// The keys the page fills from an item (`{{key}}` in labels and display texts), each once, in the
    /// order they first appear: what every item should hold (`{{}}` names none).
    [[nodiscard]] std::vector<std::string> placeholders() const {
        std::vector<std::string> keys;
        auto collect = [&](std::string_view text) {
            detail::scan_placeholders(text, [](std::string_view) {}, [&](std::string_view key) {
                if (!key.empty() && std::ranges::find(keys, key) == keys.end()) keys.emplace_back(key);
            });
        };
        for (auto const& f : fields_)
            std::visit(
                [&](auto const& x) {
                    collect(x.label);
                    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(x)>, fields::display_text>) collect(x.text);
                },
                f);
        return keys;
    }

    /// The JSON description of the form (fields and args; not the items): `from_json` reads it back.
    [[nodiscard]] nlohmann::json spec() const {
        auto list = nlohmann::json::array();
        for (auto const& f : fields_) {
            std::visit(
                [&](auto const& x) {
                    auto j = config::dump(x);
                    j["type"] = std::string(std::remove_cvref_t<decltype(x)>::kind);
                    list.push_back(std::move(j));
                },
                f);
        }
        return {{"fields", std::move(list)}, {"args", config::dump(args_)}};
    }

    [[nodiscard]] const std::vector<form_field>& fields() const noexcept { return fields_; }
    [[nodiscard]] const args_type& args() const noexcept { return args_; }
    /// Mutable, so `config::apply_override(form.args(), "units_per_assignment=3")` works.
    [[nodiscard]] args_type& args() noexcept { return args_; }

    /// Checks `args` (names the bad key).
    void validate(const args_type& args) const { config::validate(args); }

    /// One `initialization_data` per item, pulled lazily: `unit_data` holds the item once per unit.
    [[nodiscard]] auto initialization_data() const {
        auto units = static_cast<std::size_t>(args_.units_per_assignment < 1 ? 1 : args_.units_per_assignment);
        return items_ | std::views::transform([units](const nlohmann::json& item) {
                   return ::crowdline::initialization_data{nlohmann::json::object(),
                                                           std::vector<nlohmann::json>(units, item)};
               });
    }

    /// The worker's page for one unit: a self-contained HTML `<form>` with every value escaped, `name`
    /// attributes equal to the field names, and `data-key` 1..9 on choices for keyboard shortcuts.
    [[nodiscard]] std::string page(const ::crowdline::initialization_data& init, std::size_t unit_index) const {
        if (unit_index >= init.unit_data.size())
            throw invalid_argument("static_form::page: unit_index " + std::to_string(unit_index) +
                                   " is out of range (the assignment has " + std::to_string(init.unit_data.size()) +
                                   " units)");
        auto const& unit = init.unit_data[unit_index];
        std::string out;
        out += "<form class=\"crowdline-form\" data-blueprint=\"static_form\"";
        detail::append_attribute(out, "data-unit-index", std::to_string(unit_index));
        out += " method=\"post\" autocomplete=\"off\">\n";
        for (auto const& field : fields_)
            std::visit([&](auto const& f) { render(out, f, unit, init.shared); }, field);
        out += "  <button type=\"submit\" class=\"crowdline-submit\">";
        detail::append_escaped(out, args_.submit_label);
        out += "</button>\n</form>\n";
        return out;
    }

    /// Checks a submission (a JSON object, one key per answered field) against the fields. Never throws
    /// on hostile input: each problem becomes a `field_error` naming the field (or the unknown key).
    [[nodiscard]] submission_check on_submit(const nlohmann::json& /*unit_data*/, const nlohmann::json& submission) const {
        submission_check check;
        if (!submission.is_object()) {
            check.errors.push_back({"", "expected an object with one key per field, got " + detail::a_json_type(submission)});
            return check;
        }
        for (auto const& field : fields_) {
            std::visit(
                [&](auto const& f) {
                    using F = std::remove_cvref_t<decltype(f)>;
                    if constexpr (!std::is_same_v<F, fields::display_text>) {
                        auto it = submission.find(f.name);
                        if (it == submission.end() || it->is_null()) {
                            if (f.required) check.errors.push_back({f.name, missing_message(f)});
                            return;
                        }
                        if (auto problem = detail::answer_problem(f, *it, args_); !problem.empty())
                            check.errors.push_back({f.name, std::move(problem)});
                    }
                },
                field);
        }
        if (!args_.allow_extra_keys) check_unknown_keys(submission, check);
        return check;
    }

private:
    static std::string missing_message(const fields::single_choice&) { return "required: choose one option"; }
    static std::string missing_message(const fields::multiple_choice& f) {
        return "required: choose at least " + std::to_string(std::max<std::size_t>(f.min_selected, 1));
    }
    static std::string missing_message(const fields::free_text&) { return "required: write an answer"; }

    void check_unknown_keys(const nlohmann::json& submission, submission_check& check) const {
        std::size_t unknown = 0;
        for (auto const& [key, value] : submission.items()) {
            const form_field* match = nullptr;
            for (auto const& f : fields_)
                if (field_name(f) == key) match = &f;
            if (match != nullptr && !std::holds_alternative<fields::display_text>(*match)) continue;
            if (++unknown > detail::max_named_unknown_keys) continue;
            auto name = detail::sanitized(key, 100);
            check.errors.push_back({std::move(name), match != nullptr ? "this field is display text; it takes no answer"
                                                                      : "unknown field: the form has no field of this name"});
        }
        if (unknown > detail::max_named_unknown_keys)
            check.errors.push_back({"", "and " + std::to_string(unknown - detail::max_named_unknown_keys) +
                                            " more unknown fields"});
    }

    static void open_field(std::string& out, std::string_view tag, std::string_view kind, std::string_view name,
                           bool required) {
        out += "  <";
        out += tag;
        out += " class=\"crowdline-field crowdline-";
        out += kind;
        out += '"';
        detail::append_attribute(out, "data-field", name);
        if (required) out += " data-required=\"true\"";
    }

    static void render(std::string& out, const fields::display_text& f, const nlohmann::json& unit,
                       const nlohmann::json& shared) {
        open_field(out, "div", "display-text", f.name, false);
        out += ">\n";
        if (!f.label.empty()) {
            out += "    <div class=\"crowdline-label\">";
            detail::append_filled(out, f.label, unit, shared);
            out += "</div>\n";
        }
        out += "    <p class=\"crowdline-text\">";  // line breaks kept by the page's stylesheet (no inline style: CSP)
        detail::append_filled(out, f.text, unit, shared);
        out += "</p>\n  </div>\n";
    }

    template <class Choice>
    static void render_choices(std::string& out, const Choice& f, std::string_view input_type, const nlohmann::json& unit,
                               const nlohmann::json& shared) {
        out += "    <legend>";
        detail::append_filled(out, f.label, unit, shared);
        out += "</legend>\n";
        for (std::size_t i = 0; i < f.options.size(); ++i) {
            out += "    <label class=\"crowdline-option\"><input";
            detail::append_attribute(out, "type", input_type);
            detail::append_attribute(out, "name", f.name);
            detail::append_attribute(out, "value", f.options[i]);
            if (i < 9) detail::append_attribute(out, "data-key", std::to_string(i + 1));
            if (input_type == "radio" && f.required) out += " required";
            out += '>';
            if (i < 9) out += " <kbd>" + std::to_string(i + 1) + "</kbd>";
            out += ' ';
            detail::append_escaped(out, f.options[i]);
            out += "</label>\n";
        }
    }

    static void render(std::string& out, const fields::single_choice& f, const nlohmann::json& unit,
                       const nlohmann::json& shared) {
        open_field(out, "fieldset", "single-choice", f.name, f.required);
        out += ">\n";
        render_choices(out, f, "radio", unit, shared);
        out += "  </fieldset>\n";
    }

    static void render(std::string& out, const fields::multiple_choice& f, const nlohmann::json& unit,
                       const nlohmann::json& shared) {
        open_field(out, "fieldset", "multiple-choice", f.name, f.required);
        auto least = std::max<std::size_t>(f.min_selected, f.required ? 1 : 0);
        if (least > 0) detail::append_attribute(out, "data-min-selected", std::to_string(least));
        if (f.max_selected) detail::append_attribute(out, "data-max-selected", std::to_string(*f.max_selected));
        out += ">\n";
        render_choices(out, f, "checkbox", unit, shared);
        out += "  </fieldset>\n";
    }

    void render(std::string& out, const fields::free_text& f, const nlohmann::json& unit,
                const nlohmann::json& shared) const {
        open_field(out, "div", "free-text", f.name, f.required);
        out += ">\n    <label";
        detail::append_attribute(out, "for", "crowdline-field-" + f.name);
        out += '>';
        detail::append_filled(out, f.label, unit, shared);
        out += "</label>\n    ";
        out += f.multiline ? "<textarea" : "<input type=\"text\"";
        detail::append_attribute(out, "id", "crowdline-field-" + f.name);
        detail::append_attribute(out, "name", f.name);
        if (f.min_length > 0) detail::append_attribute(out, "minlength", std::to_string(f.min_length));
        auto longest = f.max_length.value_or(static_cast<std::size_t>(args_.max_text_length));
        detail::append_attribute(out, "maxlength", std::to_string(longest));
        if (!f.placeholder.empty()) detail::append_attribute(out, "placeholder", f.placeholder);
        if (f.required) out += " required";
        out += f.multiline ? "></textarea>\n" : ">\n";
        out += "  </div>\n";
    }

    std::vector<form_field> fields_;
    detail::json_items items_;
    args_type args_;
};

}  // namespace crowdline::blueprints
