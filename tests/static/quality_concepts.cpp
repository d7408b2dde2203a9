// Type-level tests of the quality concepts: what counts as an annotation, and as a key.

#include <crowdline/model/ids.hpp>
#include <crowdline/quality/dataset.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace quality = crowdline::quality;

// A named namespace, not an anonymous one: clang warns that the defaulted comparisons of internal
// types only ever named in concepts are "not needed" (-Wunneeded-internal-declaration).
namespace quality_concepts_test {

struct row_with_members {
    int item;
    std::string worker;
    std::string_view label;
};
struct row_with_other_names {
    std::string unit, who, answer;
};
struct no_hash {
    int value;
    friend auto operator<=>(const no_hash&, const no_hash&) = default;
};
struct unordered_key {
    int value;
    friend bool operator==(const unordered_key&, const unordered_key&) = default;
};

}  // namespace quality_concepts_test

using namespace quality_concepts_test;

template <>
struct std::hash<quality_concepts_test::unordered_key> {
    std::size_t operator()(const unordered_key& k) const noexcept { return std::hash<int>{}(k.value); }
};

TEST_CASE("annotation_key: totally ordered and hashable", "[static][quality]") {
    STATIC_REQUIRE(quality::annotation_key<std::string>);
    STATIC_REQUIRE(quality::annotation_key<long>);
    STATIC_REQUIRE(quality::annotation_key<crowdline::worker_id>);
    STATIC_REQUIRE_FALSE(quality::annotation_key<no_hash>);        // no std::hash
    STATIC_REQUIRE_FALSE(quality::annotation_key<unordered_key>);  // hashable, not ordered
}

TEST_CASE("annotation_like: item/worker/label members or a 3-tuple", "[static][quality]") {
    STATIC_REQUIRE(quality::annotation_like<quality::annotation>);
    STATIC_REQUIRE(quality::annotation_like<quality::basic_annotation<int, crowdline::worker_id, char>>);
    STATIC_REQUIRE(quality::annotation_like<row_with_members>);
    STATIC_REQUIRE(quality::annotation_like<std::tuple<int, long, std::string>>);
    STATIC_REQUIRE(quality::annotation_like<std::tuple<const std::string&, const std::string&, const std::string&>>);
    STATIC_REQUIRE_FALSE(quality::annotation_like<row_with_other_names>);                // needs a projection
    STATIC_REQUIRE_FALSE(quality::annotation_like<std::pair<std::string, std::string>>);  // no label
    STATIC_REQUIRE_FALSE(quality::annotation_like<std::tuple<int, int, int, int>>);
    STATIC_REQUIRE_FALSE(quality::annotation_like<std::tuple<int, no_hash, int>>);
    STATIC_REQUIRE_FALSE(quality::annotation_like<std::map<int, int>>);
}
