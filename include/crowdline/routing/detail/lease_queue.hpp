#pragma once
/// The leases in force, in the order they were granted. With one lease length for the whole dispatcher that is
/// the order they end in, as long as time does not go backwards; when it does, the queue is sorted again at the
/// next `expire`. A lease that ends early (completed, given back) is marked dead at its position, which its
/// unit remembers, so nothing ever reads a unit to find out whether an entry is still alive, and dead entries
/// are dropped from the front or compacted away when they outnumber the live ones.

#include <crowdline/model/time.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crowdline::routing::detail {

class lease_queue {
public:
    static constexpr std::uint32_t dead = ~std::uint32_t{0};

    /// Adds a lease; returns its position (stable until `moved` reports a new one).
    std::uint64_t push(time_point until, std::uint32_t unit) {
        if (head_ < entries_.size() && until < entries_.back().until) sorted_ = false;
        entries_.push_back(entry{until, unit});
        ++live_;
        return base_ + entries_.size() - 1;
    }
    /// The end of the live lease at a position.
    [[nodiscard]] time_point until(std::uint64_t position) const noexcept { return entries_[index(position)].until; }
    [[nodiscard]] std::size_t live() const noexcept { return live_; }
    [[nodiscard]] std::size_t stored() const noexcept { return entries_.size() - head_; }

    /// Ends the live lease at a position before its time. `moved(unit, position)` is told of every live lease
    /// that gets a new position.
    template <class Moved>
    void remove(std::uint64_t position, Moved&& moved) {
        entries_[index(position)].unit = dead;
        --live_;
        tidy(moved);
    }

    /// Takes out the live leases with until <= now, earliest first, calling `due(unit, until)` for each after it
    /// left the queue. Returns how many.
    template <class Moved, class Due>
    std::size_t expire(time_point now, Moved&& moved, Due&& due) {
        if (!sorted_) sort(moved);
        std::size_t n = 0;
        while (head_ < entries_.size() && (entries_[head_].unit == dead || entries_[head_].until <= now)) {
            const entry e = entries_[head_];
            pop_front();
            if (e.unit == dead) continue;
            --live_;
            ++n;
            due(e.unit, e.until);
        }
        tidy(moved);
        return n;
    }

private:
    struct entry {
        time_point until;
        std::uint32_t unit;  ///< or dead
    };

    [[nodiscard]] std::size_t index(std::uint64_t position) const noexcept { return static_cast<std::size_t>(position - base_); }

    void pop_front() noexcept {
        ++head_;
        if (head_ == entries_.size()) {
            base_ += head_;
            head_ = 0;
            entries_.clear();
            sorted_ = true;
        }
    }

    /// Drops dead entries at the front; compacts when dead entries are the majority (or the dead prefix is long).
    template <class Moved>
    void tidy(Moved& moved) {
        while (head_ < entries_.size() && entries_[head_].unit == dead) pop_front();
        if (stored() >= 64 && live_ * 2 < stored()) {
            rebuild(moved, false);
        } else if (head_ >= 1024 && head_ * 2 >= entries_.size()) {
            entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
            base_ += head_;
            head_ = 0;
        }
    }

    template <class Moved>
    void sort(Moved& moved) {
        rebuild(moved, true);
    }

    /// Keeps the live entries only (sorted by end when asked, else in their order), at fresh positions.
    template <class Moved>
    void rebuild(Moved& moved, bool by_end) {
        std::vector<entry> kept;
        kept.reserve(live_);
        for (std::size_t i = head_; i < entries_.size(); ++i)
            if (entries_[i].unit != dead) kept.push_back(entries_[i]);
        if (by_end) std::stable_sort(kept.begin(), kept.end(), [](const entry& a, const entry& b) { return a.until < b.until; });
        const std::uint64_t fresh = base_ + entries_.size();
        entries_.swap(kept);
        base_ = fresh;
        head_ = 0;
        sorted_ = sorted_ || by_end;
        for (std::size_t i = 0; i < entries_.size(); ++i) moved(entries_[i].unit, base_ + i);
    }

    std::vector<entry> entries_;
    std::size_t head_ = 0;
    std::uint64_t base_ = 0;
    std::size_t live_ = 0;
    bool sorted_ = true;  ///< entries [head_, end) are in order of end
};

}  // namespace crowdline::routing::detail
