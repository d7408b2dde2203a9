#pragma once
/// The input of every quality measure: `(item, worker, label)` annotations, taken from any range whose
/// elements expose `.item`, `.worker` and `.label` (like `quality::annotation`) or are 3-tuples in that order,
/// directly or through a projection. Keys may be strings, integers, strong ids: any type that is totally
/// ordered and has a `std::hash`. `quality::make_dataset` interns them once into dense indices (keys sorted,
/// annotations grouped by item), which is what the measures run on (alpha and Fleiss' kappa from a range
/// group only items and labels, which is cheaper); pass the dataset instead of the range
/// to compute several measures without interning again.
///
///     quality::annotation              models quality::annotation_like (members item, worker, label)
///     std::tuple<int, long, char>      models it too (a 3-tuple: item, worker, label)
///     std::pair<std::string, int>      does not (no worker), nor does a struct with `.answer` for `.label`

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <numeric>
#include <optional>
#include <ostream>
#include <ranges>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <crowdline/errors.hpp>
#include <crowdline/routing/detail/hash.hpp>

namespace crowdline::quality {

/// One answer: `worker` gave `label` to `item`.
template <class Item = std::string, class Worker = std::string, class Label = std::string>
struct basic_annotation {
    Item item;
    Worker worker;
    Label label;

    friend bool operator==(const basic_annotation&, const basic_annotation&) = default;
};

/// The usual annotation: string keys.
using annotation = basic_annotation<>;

/// A key the measures can intern: totally ordered (output order, tie-breaking) and hashable.
template <class K>
concept annotation_key = std::totally_ordered<K> && std::copy_constructible<K> && requires(const K& k) {
    { std::hash<K>{}(k) } -> std::convertible_to<std::size_t>;
};

namespace detail {

template <class T>
concept has_annotation_members = requires(const T& a) {
    a.item;
    a.worker;
    a.label;
};

template <class T>
concept annotation_triple = !has_annotation_members<T> && requires {
    typename std::tuple_size<T>::type;
} && std::tuple_size_v<T> == 3;

template <class T>
decltype(auto) item_of(const T& a) {
    if constexpr (has_annotation_members<T>) {
        return (a.item);
    } else {
        using std::get;
        return get<0>(a);
    }
}
template <class T>
decltype(auto) worker_of(const T& a) {
    if constexpr (has_annotation_members<T>) {
        return (a.worker);
    } else {
        using std::get;
        return get<1>(a);
    }
}
template <class T>
decltype(auto) label_of(const T& a) {
    if constexpr (has_annotation_members<T>) {
        return (a.label);
    } else {
        using std::get;
        return get<2>(a);
    }
}

/// The stored key type of a field: C strings are kept as std::string (a pointer would compare addresses).
template <class T, class U = std::remove_cvref_t<T>>
using key_t = std::conditional_t<std::is_same_v<std::decay_t<U>, char*> || std::is_same_v<std::decay_t<U>, const char*>,
                                 std::string, U>;

template <class T>
using item_key_t = key_t<decltype(item_of(std::declval<const T&>()))>;
template <class T>
using worker_key_t = key_t<decltype(worker_of(std::declval<const T&>()))>;
template <class T>
using label_key_t = key_t<decltype(label_of(std::declval<const T&>()))>;

/// The key as it appears in error messages: streamed if it can be, strings quoted.
template <class K>
std::string describe(const K& key) {
    if constexpr (std::is_convertible_v<const K&, std::string_view>) {
        return '"' + std::string(std::string_view(key)) + '"';
    } else if constexpr (requires(std::ostream& os) { os << key; }) {
        std::ostringstream out;
        out << key;
        return out.str();
    } else {
        return "(a key that cannot be printed)";
    }
}

}  // namespace detail

/// An element the measures can read: members `item`, `worker`, `label`, or a 3-tuple (item, worker, label),
/// each an `annotation_key`.
template <class T>
concept annotation_like = (detail::has_annotation_members<T> || detail::annotation_triple<T>) && requires {
    typename detail::item_key_t<T>;
    typename detail::worker_key_t<T>;
    typename detail::label_key_t<T>;
} && annotation_key<detail::item_key_t<T>> && annotation_key<detail::worker_key_t<T>> && annotation_key<detail::label_key_t<T>>;

/// The full label domain, for labels that may not occur in the data (`make_dataset(annotations, label_set{...})`).
template <class Label>
struct label_set {
    std::vector<Label> labels;
};
template <class Label>
label_set(std::vector<Label>) -> label_set<Label>;

template <class T>
inline constexpr bool is_label_set_v = false;
template <class Label>
inline constexpr bool is_label_set_v<label_set<Label>> = true;

namespace detail {
struct dataset_access;
}  // namespace detail

/// Annotations interned to dense indices: keys sorted ascending, annotations grouped by item and, within an
/// item, ordered by (worker, label). The same annotations in any input order give the same dataset.
/// Read-only once made; `make_dataset` is the way to build one.
template <class Item, class Worker, class Label>
class dataset {
public:
    using item_type = Item;
    using worker_type = Worker;
    using label_type = Label;
    using index = std::uint32_t;

    /// One annotation of an item: indices into `workers()` and `labels()`.
    struct entry {
        index worker;
        index label;
        friend bool operator==(const entry&, const entry&) = default;
        friend auto operator<=>(const entry&, const entry&) = default;
    };

    dataset() = default;

    /// Item, worker and label keys, each sorted ascending; an index below is a position here.
    [[nodiscard]] const std::vector<Item>& items() const noexcept { return items_; }
    [[nodiscard]] const std::vector<Worker>& workers() const noexcept { return workers_; }
    [[nodiscard]] const std::vector<Label>& labels() const noexcept { return labels_; }

    /// Number of annotations.
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    /// The annotations of item `i`, ordered by (worker, label).
    [[nodiscard]] std::span<const entry> annotations_of(std::size_t i) const noexcept {
        return {entries_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
    }

    /// Index of a worker or label key, if present.
    [[nodiscard]] std::optional<std::size_t> find_worker(const Worker& w) const { return find(workers_, w); }
    [[nodiscard]] std::optional<std::size_t> find_label(const Label& l) const { return find(labels_, l); }

private:
    friend struct detail::dataset_access;

    template <class K>
    static std::optional<std::size_t> find(const std::vector<K>& keys, const K& key) {
        auto it = std::lower_bound(keys.begin(), keys.end(), key);
        if (it == keys.end() || !(*it == key)) return std::nullopt;
        return static_cast<std::size_t>(it - keys.begin());
    }

    std::vector<Item> items_;
    std::vector<Worker> workers_;
    std::vector<Label> labels_;
    std::vector<std::size_t> offsets_{0};  // items_.size() + 1
    std::vector<entry> entries_;
};

template <class T>
inline constexpr bool is_dataset_v = false;
template <class Item, class Worker, class Label>
inline constexpr bool is_dataset_v<dataset<Item, Worker, Label>> = true;

namespace detail {

/// Gives each distinct key an index in order of first appearance (an open-addressing table of
/// (hash tag, index) pairs over a vector of the keys); `finish` sorts the keys and says where each
/// first-appearance index went.
template <class Key>
class interner {
public:
    template <class K>
    std::uint32_t operator()(const K& key) {
        if constexpr (std::is_same_v<K, Key>) {
            return intern(key);
        } else {
            return intern(Key(key));
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }

    /// The keys, sorted; `remap[first-appearance index]` = sorted index. Empties the interner.
    std::vector<Key> finish(std::vector<std::uint32_t>& remap) {
        std::vector<slot>().swap(slots_);
        std::vector<std::uint64_t>().swap(hashes_);
        std::vector<std::pair<Key, std::uint32_t>> pairs;
        pairs.reserve(keys_.size());
        for (std::uint32_t i = 0; i < keys_.size(); ++i) pairs.emplace_back(std::move(keys_[i]), i);
        std::vector<Key>().swap(keys_);
        std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        remap.assign(pairs.size(), 0);
        std::vector<Key> sorted;
        sorted.reserve(pairs.size());
        for (std::uint32_t pos = 0; pos < pairs.size(); ++pos) {
            remap[pairs[pos].second] = pos;
            sorted.push_back(std::move(pairs[pos].first));
        }
        return sorted;
    }

    /// Hints for a key about to be interned: `touch_slot` some rounds ahead loads its home slot,
    /// `touch_key` a few rounds ahead loads the key that slot names (both only prefetch).
    template <class K>
    void touch_slot(const K& key) const {
        if constexpr (std::is_same_v<K, Key>) {
#if defined(__GNUC__) || defined(__clang__)
            __builtin_prefetch(&slots_[hash_of(key) & (slots_.size() - 1)]);
#endif
        }
    }
    template <class K>
    void touch_key(const K& key) const {
        if constexpr (std::is_same_v<K, Key>) {
#if defined(__GNUC__) || defined(__clang__)
            slot const s = slots_[hash_of(key) & (slots_.size() - 1)];
            if (s.index != empty) __builtin_prefetch(&keys_[s.index]);
#endif
        }
    }

private:
    static constexpr std::uint32_t empty = std::numeric_limits<std::uint32_t>::max();
    struct slot {
        std::uint32_t tag;
        std::uint32_t index;
    };


    /// std::hash of an integer is the integer itself: mixed before probing.
    static std::uint64_t hash_of(const Key& key) noexcept {
        return crowdline::routing::detail::mix64(static_cast<std::uint64_t>(std::hash<Key>{}(key)));
    }

    std::uint32_t intern(const Key& key) {
        std::uint64_t const h = hash_of(key);
        auto const tag = static_cast<std::uint32_t>(h >> 32);
        std::size_t mask = slots_.size() - 1;
        for (std::size_t pos = h & mask;; pos = (pos + 1) & mask) {
            slot const s = slots_[pos];
            if (s.index == empty) break;
            if (s.tag == tag && keys_[s.index] == key) return s.index;
        }
        if (keys_.size() >= empty - 1)
            throw invalid_argument("crowdline::quality::make_dataset: more than 2^32 - 2 distinct keys");
        auto const index = static_cast<std::uint32_t>(keys_.size());
        keys_.push_back(key);
        hashes_.push_back(h);
        if (2 * keys_.size() > slots_.size()) {
            grow();
        } else {
            place(h, index);
        }
        return index;
    }

    void place(std::uint64_t h, std::uint32_t index) {
        std::size_t const mask = slots_.size() - 1;
        std::size_t pos = h & mask;
        while (slots_[pos].index != empty) pos = (pos + 1) & mask;
        slots_[pos] = {static_cast<std::uint32_t>(h >> 32), index};
    }

    void grow() {
        slots_.assign(slots_.size() * 2, slot{0, empty});
        for (std::uint32_t i = 0; i < keys_.size(); ++i) place(hashes_[i], i);
    }

    std::vector<slot> slots_ = std::vector<slot>(16, slot{0, empty});
    std::vector<Key> keys_;
    std::vector<std::uint64_t> hashes_;
};

struct dataset_access {
    template <class Data>
    static auto& items(Data& d) { return d.items_; }
    template <class Data>
    static auto& workers(Data& d) { return d.workers_; }
    template <class Data>
    static auto& labels(Data& d) { return d.labels_; }
    template <class Data>
    static auto& offsets(Data& d) { return d.offsets_; }
    template <class Data>
    static auto& entries(Data& d) { return d.entries_; }
};

/// Calls `visit(annotation)` for each element in order. On random-access input it hints the item interner
/// ahead: items are many and come in any order, so each lookup misses the cache twice (slot, then key);
/// looking 16 and 8 elements ahead overlaps those misses.
template <class R, class Proj, class Items, class Visit>
void for_each_annotation(R& annotations, Proj& proj, const Items& items, Visit visit) {
    if constexpr (std::ranges::random_access_range<R> && std::ranges::sized_range<R>) {
        auto const first = std::ranges::begin(annotations);
        auto const count = static_cast<std::ptrdiff_t>(std::ranges::size(annotations));
        for (std::ptrdiff_t j = 0; j < count; ++j) {
            if (j + 16 < count) items.touch_slot(item_of(std::invoke(proj, first[j + 16])));
            if (j + 8 < count) items.touch_key(item_of(std::invoke(proj, first[j + 8])));
            visit(std::invoke(proj, first[j]));
        }
    } else {
        for (auto&& element_ref : annotations) visit(std::invoke(proj, std::forward<decltype(element_ref)>(element_ref)));
    }
}

/// Labels grouped by item, items in first-appearance order, for measures that need neither the workers
/// nor any order (alpha, Fleiss' kappa): cheaper than a dataset when starting from a range.
struct label_groups {
    std::size_t labels = 0;
    std::vector<std::size_t> offsets{0};
    std::vector<std::uint32_t> label;

    [[nodiscard]] std::size_t items() const noexcept { return offsets.size() - 1; }
    [[nodiscard]] std::span<const std::uint32_t> of(std::size_t i) const noexcept {
        return {label.data() + offsets[i], offsets[i + 1] - offsets[i]};
    }
};

template <class R, class Proj>
label_groups group_labels(R&& annotations, Proj proj) {
    using element = std::remove_cvref_t<std::invoke_result_t<Proj&, std::ranges::range_reference_t<R>>>;
    interner<item_key_t<element>> items;
    interner<label_key_t<element>> labels;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> raw;  // (item, label)
    if constexpr (std::ranges::sized_range<R>) raw.reserve(static_cast<std::size_t>(std::ranges::size(annotations)));
    for_each_annotation(annotations, proj, items,
                        [&](const auto& a) { raw.emplace_back(items(item_of(a)), labels(label_of(a))); });
    label_groups out;
    out.labels = labels.size();
    out.offsets.assign(items.size() + 1, 0);
    for (const auto& [item, label] : raw) ++out.offsets[item + 1];
    for (std::size_t i = 1; i < out.offsets.size(); ++i) out.offsets[i] += out.offsets[i - 1];
    std::vector<std::size_t> fill(out.offsets.begin(), out.offsets.end() - 1);
    out.label.resize(raw.size());
    for (const auto& [item, label] : raw) out.label[fill[item]++] = label;
    return out;
}

template <class R, class Proj, class L>
auto make_dataset_impl(R&& annotations, Proj proj, const std::vector<L>* domain) {
    using element = std::remove_cvref_t<std::invoke_result_t<Proj&, std::ranges::range_reference_t<R>>>;
    using item_t = item_key_t<element>;
    using worker_t = worker_key_t<element>;
    using label_t = label_key_t<element>;
    using result_t = dataset<item_t, worker_t, label_t>;

    interner<item_t> items;
    interner<worker_t> workers;
    interner<label_t> labels;
    if (domain != nullptr)
        for (const auto& l : *domain) labels(l);

    struct triple {
        std::uint32_t item, worker, label;
    };
    std::vector<triple> raw;
    if constexpr (std::ranges::sized_range<R>) raw.reserve(static_cast<std::size_t>(std::ranges::size(annotations)));
    for_each_annotation(annotations, proj, items, [&](const auto& a) {
        raw.push_back({items(item_of(a)), workers(worker_of(a)), labels(label_of(a))});
    });

    result_t out;
    auto& items_of_out = dataset_access::items(out);
    auto& workers_of_out = dataset_access::workers(out);
    auto& labels_of_out = dataset_access::labels(out);
    auto& offsets = dataset_access::offsets(out);
    auto& entries = dataset_access::entries(out);
    std::vector<std::uint32_t> item_at, worker_at, label_at;
    items_of_out = items.finish(item_at);
    workers_of_out = workers.finish(worker_at);
    labels_of_out = labels.finish(label_at);

    // Counting sort by item, then each item's annotations by (worker, label).
    offsets.assign(items_of_out.size() + 1, 0);
    for (auto& t : raw) {
        t.item = item_at[t.item];
        ++offsets[t.item + 1];
    }
    for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    std::vector<std::size_t> fill(offsets.begin(), offsets.end() - 1);
    entries.resize(raw.size());
    for (const auto& t : raw) entries[fill[t.item]++] = {worker_at[t.worker], label_at[t.label]};
    std::vector<triple>().swap(raw);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i)
        std::sort(entries.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                  entries.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
    return out;
}

}  // namespace detail

namespace detail {

template <class R, class Proj>
constexpr bool check_annotation_range() {
    static_assert(std::ranges::input_range<R>, "crowdline::quality: the annotations must be an input range");
    if constexpr (std::ranges::input_range<R>) {
        static_assert(std::is_invocable_v<Proj&, std::ranges::range_reference_t<R>>,
                      "crowdline::quality: the projection is not callable with an element of the range");
        if constexpr (std::is_invocable_v<Proj&, std::ranges::range_reference_t<R>>) {
            using element = std::remove_cvref_t<std::invoke_result_t<Proj&, std::ranges::range_reference_t<R>>>;
            static_assert(annotation_like<element>,
                          "crowdline::quality: each annotation must expose .item, .worker and .label, or be a 3-tuple "
                          "(item, worker, label), with keys that are totally ordered and hashable; pass a projection "
                          "that returns one (e.g. std::tie(row.unit, row.who, row.answer))");
            return annotation_like<element>;
        }
    }
    return false;
}

}  // namespace detail

/// Interns annotations: keys sorted ascending, annotations grouped by item. O(N) hashing + sorting the keys.
template <class R, class Proj = std::identity>
    requires(!is_label_set_v<std::remove_cvref_t<Proj>>)
auto make_dataset(R&& annotations, Proj proj = {}) {
    if constexpr (detail::check_annotation_range<R, Proj>()) {
        using element = std::remove_cvref_t<std::invoke_result_t<Proj&, std::ranges::range_reference_t<R>>>;
        return detail::make_dataset_impl(std::forward<R>(annotations), std::move(proj),
                                 static_cast<const std::vector<detail::label_key_t<element>>*>(nullptr));
    } else {
        return dataset<int, int, int>{};  // not reached: the static_assert above has failed; keeps the error alone
    }
}

/// As above, with the full label domain: labels in `domain` that no one used are kept (a label in the
/// data and not in `domain` is kept too).
template <class R, class L, class Proj = std::identity>
auto make_dataset(R&& annotations, const label_set<L>& domain, Proj proj = {}) {
    if constexpr (detail::check_annotation_range<R, Proj>()) {
        using element = std::remove_cvref_t<std::invoke_result_t<Proj&, std::ranges::range_reference_t<R>>>;
        using label_t = detail::label_key_t<element>;
        static_assert(std::is_convertible_v<const L&, label_t>,
                      "crowdline::quality::make_dataset: the label_set's labels must convert to the annotations' label type");
        if constexpr (std::is_same_v<L, label_t>) {
            return detail::make_dataset_impl(std::forward<R>(annotations), std::move(proj), &domain.labels);
        } else {
            std::vector<label_t> converted(domain.labels.begin(), domain.labels.end());
            return detail::make_dataset_impl(std::forward<R>(annotations), std::move(proj), &converted);
        }
    } else {
        return dataset<int, int, int>{};  // not reached: the static_assert above has failed
    }
}

namespace detail {

/// A dataset as is, or the one made from a range of annotations.
template <class Source, class Proj>
decltype(auto) as_dataset(Source&& source, Proj proj) {
    if constexpr (is_dataset_v<std::remove_cvref_t<Source>>) {
        return std::forward<Source>(source);
    } else {
        return make_dataset(std::forward<Source>(source), std::move(proj));
    }
}

}  // namespace detail

}  // namespace crowdline::quality
