#pragma once
// Shared test vocabulary: items in a language, workers who read some languages.

#include <crowdline/routing/dispatcher.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace routing_test {

using namespace std::chrono_literals;
using crowdline::time_point;
using crowdline::worker_id;
using crowdline::routing::item_key;

struct text {
    std::string lang;
};
struct reader {
    std::vector<std::string> langs;
    bool senior = false;
};

inline bool reads(const reader& r, const text& t) {
    return std::find(r.langs.begin(), r.langs.end(), t.lang) != r.langs.end();
}

/// Eligibility predicate: the worker reads the item's language.
inline constexpr auto reads_language = [](const reader& r, const text& t) { return reads(r, t); };
inline constexpr auto language_of = [](const text& t) -> const std::string& { return t.lang; };
inline constexpr auto languages_of = [](const reader& r) -> const std::vector<std::string>& { return r.langs; };

inline time_point at(std::chrono::seconds s) { return time_point{} + s; }

/// Completes every grant at once; returns the grants.
template <class Dispatcher>
std::vector<crowdline::routing::grant> take_and_finish(Dispatcher& d, worker_id w, std::size_t n, time_point now) {
    auto grants = d.next(w, n, now);
    for (const auto& g : grants) d.complete(w, g.item, now);
    return grants;
}

}  // namespace routing_test
