#pragma once
/// `json_items`: a type-erased, single-pass view of JSON items over any input range whose elements convert
/// to JSON (a vector, a std or range-v3 view, an infinite generator), so that a blueprint's type does not
/// depend on where its items come from. Items are pulled one at a time, never copied up front.
///
/// Not `ranges::any_view`: an input `any_view` is one pass shared by every copy (a blueprint copied, or
/// read twice, would find its items gone), and a forward one refuses generators; here each `begin()` starts
/// a pass of its own over the source, whatever the source's category.

#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <utility>

#include <nlohmann/json.hpp>

namespace crowdline::blueprints::detail {

/// A range whose elements can become JSON items.
template <class R>
concept json_item_range =
    std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, nlohmann::json>;

class json_items : public std::ranges::view_interface<json_items> {
    /// Writes the next item into its argument; false at the end.
    using pull_fn = std::function<bool(nlohmann::json&)>;

    /// Reads lazily: an item is pulled when it is looked at (or compared with the end), never on `++`
    /// alone, so `take(5)` pulls five items and not a sixth.
    struct cursor {
        pull_fn pull;
        nlohmann::json current{};
        bool at_end = false;
        bool pending = true;

        void settle() {
            if (!pending) return;
            pending = false;
            at_end = !pull(current);
        }
    };

public:
    /// An input iterator; copies share one position, as input iterators may.
    class iterator {
    public:
        using value_type = nlohmann::json;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        explicit iterator(std::shared_ptr<cursor> c) : cursor_(std::move(c)) {}

        const nlohmann::json& operator*() const {
            cursor_->settle();
            return cursor_->current;
        }
        const nlohmann::json* operator->() const { return &**this; }
        iterator& operator++() {
            cursor_->settle();  // the item being skipped, if nobody looked at it
            cursor_->pending = true;
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            if (!it.cursor_) return true;
            it.cursor_->settle();
            return it.cursor_->at_end;
        }

    private:
        std::shared_ptr<cursor> cursor_;
    };

    /// No items.
    json_items() = default;

    /// Takes `items` as `std::views::all` does: an lvalue range is referenced (it must outlive every pass),
    /// an rvalue range is moved in.
    template <json_item_range R>
        requires(!std::same_as<std::remove_cvref_t<R>, json_items> && std::ranges::viewable_range<R>)
    explicit json_items(R&& items) {
        using view = std::views::all_t<R>;
        auto source = std::make_shared<view>(std::views::all(std::forward<R>(items)));
        open_ = [source]() -> pull_fn {
            struct position {
                std::shared_ptr<view> keep;
                std::ranges::iterator_t<view> it;
                std::ranges::sentinel_t<view> end;
                bool started = false;
            };
            auto at = std::make_shared<position>(position{source, std::ranges::begin(*source), std::ranges::end(*source)});
            // Advances only when the next item is asked for, so a generator never runs ahead of its reader.
            return [at](nlohmann::json& out) {
                if (at->started) ++at->it;
                at->started = true;
                if (at->it == at->end) return false;
                out = *at->it;
                return true;
            };
        };
    }

    /// Starts a pass over the items (reading none yet).
    iterator begin() const {
        if (!open_) return iterator{};
        return iterator{std::make_shared<cursor>(cursor{open_()})};
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::function<pull_fn()> open_;
};

}  // namespace crowdline::blueprints::detail
