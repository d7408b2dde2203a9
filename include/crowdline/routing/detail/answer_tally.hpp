#pragma once
/// What adaptive overlap needs to know of an item's answers: how many, and how often the most common one
/// was given. Kept per item index, only by a dispatcher whose router grows on answers.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace crowdline::routing::detail {

/// Answer counts by item: (label, times given) pairs, few per item.
class answer_tally {
public:
    /// One more answer `label` for item `item`.
    void record(std::uint32_t item, std::string_view label) {
        auto& counts = by_item_[item];
        for (auto& [l, n] : counts)
            if (l == label) {
                ++n;
                return;
            }
        counts.emplace_back(std::string(label), 1U);
    }
    /// The item's answers so far, and the count of its most common one.
    struct summary {
        std::uint32_t answers = 0;
        std::uint32_t top = 0;
    };
    [[nodiscard]] summary of(std::uint32_t item) const {
        summary s;
        if (const auto it = by_item_.find(item); it != by_item_.end())
            for (const auto& [l, n] : it->second) {
                s.answers += n;
                s.top = std::max(s.top, n);
            }
        return s;
    }

private:
    std::unordered_map<std::uint32_t, std::vector<std::pair<std::string, std::uint32_t>>> by_item_;
};

/// In place of `answer_tally` for routers that do not grow on answers: nothing kept.
struct no_answer_tally {};

}  // namespace crowdline::routing::detail
