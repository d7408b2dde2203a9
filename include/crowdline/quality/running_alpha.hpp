#pragma once
/// Krippendorff's nominal alpha kept up to date one annotation at a time, for figures a server shows
/// while answers arrive (`/metrics`): `running_alpha` for one field, `running_agreement` for every label
/// field of a run's answers. Each `add` is O(labels on the item); reading the value is O(largest number of
/// annotations on one item). The value is computed from the same integer sums, by the same function, as
/// the batch `krippendorff_alpha` (quality/agreement.hpp), so the two give the same double on the same
/// annotations, in any order.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/output_label.hpp>

namespace crowdline::quality {

/// Nominal alpha over `(item, label)` annotations added one by one (who gave them does not matter to
/// alpha). Item and label are `annotation_key`s. Keeps, per item, its label counts; in all, the sums of
/// `detail::alpha_of_counts`: n (values on items with at least two), Σ_c n_c² and, per item size m,
/// Σ_c n_uc (n_uc − 1). Memory: O(items + annotations).
template <class Item, class Label>
class running_alpha {
    static_assert(annotation_key<Item>, "crowdline::quality::running_alpha: Item must be an annotation_key (ordered, hashable)");
    static_assert(annotation_key<Label>, "crowdline::quality::running_alpha: Label must be an annotation_key (ordered, hashable)");

public:
    /// One more annotation: `label` on `item`.
    void add(Item const& item, Label const& label) {
        auto const l = intern(label);
        auto& u = items_[item];
        std::uint64_t* count = nullptr;
        for (auto& [c, n] : u.labels)
            if (c == l) count = &n;
        std::uint64_t const before = count ? *count : 0;
        auto const m = u.size;
        if (m >= 2) same_by_size_[m] -= u.same;
        u.same += 2 * before;  // (k + 1) k − k (k − 1)
        if (count) ++*count;
        else u.labels.emplace_back(l, 1);
        u.size = m + 1;
        if (u.size >= 2) {
            if (same_by_size_.size() <= u.size) same_by_size_.resize(u.size + 1, 0);
            same_by_size_[u.size] += u.same;
        }
        if (m == 1) {  // the item's values become pairable: both count from now on
            for (auto const& [c, n] : u.labels) bump(c, n);
            pairable_ += 2;
        } else if (m >= 2) {
            bump(l, 1);
            ++pairable_;
        }
        ++annotations_;
    }

    /// Alpha of the annotations so far; std::nullopt where `krippendorff_alpha` has none (fewer than two
    /// pairable values, or every pairable value the same label).
    [[nodiscard]] std::optional<double> value() const {
        return detail::alpha_of_counts(pairable_, sum_squares_, same_by_size_);
    }
    /// Items with at least one annotation.
    [[nodiscard]] std::size_t items() const noexcept { return items_.size(); }
    /// Annotations added.
    [[nodiscard]] std::size_t annotations() const noexcept { return annotations_; }

private:
    struct item_counts {
        std::uint64_t size = 0;                                      ///< m_u
        std::uint64_t same = 0;                                      ///< Σ_c n_uc (n_uc − 1)
        std::vector<std::pair<std::uint32_t, std::uint64_t>> labels;  ///< (label, n_uc); few per item
    };

    std::uint32_t intern(Label const& label) {
        auto [it, fresh] = labels_.try_emplace(label, static_cast<std::uint32_t>(totals_.size()));
        if (fresh) totals_.push_back(0);
        return it->second;
    }
    /// n_c += by, keeping Σ_c n_c².
    void bump(std::uint32_t c, std::uint64_t by) {
        auto& n = totals_[c];
        sum_squares_ += 2 * n * by + by * by;
        n += by;
    }

    std::unordered_map<Item, item_counts> items_;
    std::unordered_map<Label, std::uint32_t> labels_;
    std::vector<std::uint64_t> totals_;        ///< n_c over pairable values
    std::vector<std::uint64_t> same_by_size_;  ///< [m]: Σ over items of size m of Σ_c n_uc (n_uc − 1)
    std::uint64_t pairable_ = 0;
    std::uint64_t sum_squares_ = 0;
    std::uint64_t annotations_ = 0;
};

/// One label field's agreement so far.
struct field_agreement {
    std::string field;
    std::size_t items = 0;        ///< items with at least one answer on the field
    std::size_t annotations = 0;  ///< answers on the field
    std::optional<double> krippendorff_alpha;
};

inline void to_json(nlohmann::json& j, field_agreement const& f) {
    j = nlohmann::json{{"field", f.field},
                       {"items", f.items},
                       {"annotations", f.annotations},
                       {"krippendorff_alpha", f.krippendorff_alpha ? nlohmann::json(*f.krippendorff_alpha) : nlohmann::json(nullptr)}};
}

/// Alpha per label field of a run's answers, answer by answer: each answer is an item (the unit's
/// assignment) and the object the worker sent. The fields are those `label_fields` finds in the same
/// answers (quality/run_report.hpp): a field counts while every value sent on it is a label
/// (`output_label::of`); the first value that is not (a list, a fraction, null) drops the field for good.
/// So `fields()` equals `run_report`'s `items`, `annotations` and `krippendorff_alpha` per field.
class running_agreement {
public:
    /// One answer: `outputs` is what the worker sent (an answer that is not an object has no fields).
    void add(std::int64_t item, nlohmann::json const& outputs) {
        if (!outputs.is_object()) return;
        for (auto const& [key, value] : outputs.items()) {
            auto it = fields_.find(key);
            if (it == fields_.end()) it = fields_.emplace(key, std::optional<alpha>{std::in_place}).first;
            if (!it->second) continue;  // not a label field
            if (auto label = output_label::of(value)) it->second->add(item, *label);
            else it->second.reset();
        }
    }

    /// The label fields, by name.
    [[nodiscard]] std::vector<field_agreement> fields() const {
        std::vector<field_agreement> out;
        for (auto const& [name, a] : fields_)
            if (a) out.push_back({name, a->items(), a->annotations(), a->value()});
        return out;
    }

private:
    using alpha = running_alpha<std::int64_t, output_label>;
    std::map<std::string, std::optional<alpha>, std::less<>> fields_;  ///< nullopt: a field that is not a label field
};

}  // namespace crowdline::quality
