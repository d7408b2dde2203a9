#pragma once
/// An append-only queue of units, oldest first. A unit leaving the bucket leaves a tombstone at its position
/// (the owner remembers it), so moving a unit never searches a bucket and a scan skips dead entries without
/// touching the units.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace crowdline::routing::detail {

/// One unit as it entered a bucket: its index (4 bytes per entry).
using bucket_entry = std::uint32_t;
/// An entry whose unit has left the bucket: recognised from the entry alone, without touching the unit.
inline constexpr bucket_entry tombstone = ~bucket_entry{0};

/// Positions are absolute (they survive compaction), so a worker can keep a cursor into a bucket.
class bucket {
public:
    [[nodiscard]] std::uint64_t begin() const noexcept { return base_ + head_; }
    [[nodiscard]] std::uint64_t end() const noexcept { return base_ + entries_.size(); }
    [[nodiscard]] bucket_entry at(std::uint64_t position) const noexcept {
        return entries_[static_cast<std::size_t>(position - base_)];
    }
    /// Appends an entry; returns its position, for `kill`.
    std::uint64_t push(bucket_entry e) {
        entries_.push_back(e);
        return end() - 1;
    }
    /// Asks for the cache line of the entry at a live position (before `kill`).
    void prefetch(std::uint64_t position) const noexcept {
        __builtin_prefetch(entries_.data() + static_cast<std::size_t>(position - base_), 1);
    }
    /// Marks the entry at a live position dead.
    void kill(std::uint64_t position) noexcept { entries_[static_cast<std::size_t>(position - base_)] = tombstone; }

    /// Drops the front entry (the caller found it dead); compacts when the dead prefix is large.
    void pop_front() {
        ++head_;
        if (head_ == entries_.size()) {
            base_ += head_;
            head_ = 0;
            entries_.clear();
        } else if (head_ >= 1024 && head_ * 2 >= entries_.size()) {
            entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
            base_ += head_;
            head_ = 0;
        }
    }
    [[nodiscard]] std::size_t stored() const noexcept { return entries_.size() - head_; }

private:
    std::vector<bucket_entry> entries_;
    std::size_t head_ = 0;
    std::uint64_t base_ = 0;
};

}  // namespace crowdline::routing::detail
