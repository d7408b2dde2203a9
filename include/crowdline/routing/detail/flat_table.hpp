#pragma once
/// Open-addressing hash tables over 64-bit keys, with no erase: a million items cost a few flat arrays,
/// not a million nodes.

#include <crowdline/routing/detail/hash.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace crowdline::routing::detail {

/// Maps any 64-bit key to a 32-bit index. Linear probing; grows at 70% load.
class flat_index {
public:
    [[nodiscard]] std::optional<std::uint32_t> find(std::uint64_t key) const noexcept {
        if (values_.empty()) return std::nullopt;
        for (std::size_t at = mix64(key) & mask_;; at = (at + 1) & mask_) {
            if (values_[at] == 0) return std::nullopt;
            if (keys_[at] == key) return values_[at] - 1;
        }
    }
    /// Inserts key -> value; the key must be absent.
    void insert(std::uint64_t key, std::uint32_t value) {
        if ((size_ + 1) * 10 > values_.size() * 7) grow();
        place(key, value + 1);
        ++size_;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    void place(std::uint64_t key, std::uint32_t stored) noexcept {
        std::size_t at = mix64(key) & mask_;
        while (values_[at] != 0) at = (at + 1) & mask_;
        keys_[at] = key;
        values_[at] = stored;
    }
    void grow() {
        const std::size_t capacity = values_.empty() ? 16 : values_.size() * 2;
        std::vector<std::uint64_t> old_keys(capacity);
        std::vector<std::uint32_t> old_values(capacity, 0);
        old_keys.swap(keys_);
        old_values.swap(values_);
        mask_ = capacity - 1;
        for (std::size_t i = 0; i < old_values.size(); ++i)
            if (old_values[i] != 0) place(old_keys[i], old_values[i]);
    }

    std::vector<std::uint64_t> keys_;
    std::vector<std::uint32_t> values_;  ///< value + 1; 0 marks an empty slot
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
};

/// A set of 64-bit keys other than all-ones (the empty marker). Linear probing; grows at 70% load.
class flat_set {
public:
    static constexpr std::uint64_t empty = ~std::uint64_t{0};

    [[nodiscard]] bool contains(std::uint64_t key) const noexcept {
        if (slots_.empty()) return false;
        for (std::size_t at = mix64(key) & mask_;; at = (at + 1) & mask_) {
            if (slots_[at] == empty) return false;
            if (slots_[at] == key) return true;
        }
    }
    /// Inserts the key; returns false when it was there already.
    bool insert(std::uint64_t key) {
        if ((size_ + 1) * 10 > slots_.size() * 7) grow();
        std::size_t at = mix64(key) & mask_;
        for (; slots_[at] != empty; at = (at + 1) & mask_)
            if (slots_[at] == key) return false;
        slots_[at] = key;
        ++size_;
        return true;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    void grow() {
        const std::size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
        std::vector<std::uint64_t> old(capacity, empty);
        old.swap(slots_);
        mask_ = capacity - 1;
        for (const auto key : old) {
            if (key == empty) continue;
            std::size_t at = mix64(key) & mask_;
            while (slots_[at] != empty) at = (at + 1) & mask_;
            slots_[at] = key;
        }
    }

    std::vector<std::uint64_t> slots_;
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
};

}  // namespace crowdline::routing::detail
