// Type-level tests of crowdline/fwd.hpp: the default template arguments it holds are the ones the
// definitions use, and a type named through it is the defined one. (Each header including fwd.hpp before
// its definitions — and the header check compiling one TU per public header — makes any mismatch in kind,
// template parameters or enum base a compile error.)
#include <catch2/catch.hpp>

#include <cstdint>
#include <type_traits>

#include <crowdline/fwd.hpp>
#include <crowdline/architect/architect.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/ops/task_launcher.hpp>
#include <crowdline/routing/types.hpp>

namespace {
struct routed {};
struct with_items {
    using item_type = routed;
};
struct without_items {};
struct reply {
    crowdline::packet operator()(crowdline::packet const& p) const { return p; }
};
}  // namespace

TEST_CASE("fwd.hpp: ids are strong_id<tag> with an int64 representation", "[static][fwd]") {
    STATIC_REQUIRE(std::is_same_v<crowdline::unit_id, crowdline::strong_id<crowdline::unit_tag, std::int64_t>>);
    STATIC_REQUIRE(std::is_same_v<crowdline::strong_id<crowdline::worker_tag>, crowdline::worker_id>);
    STATIC_REQUIRE(std::is_same_v<crowdline::routing::item_key::rep_type, std::uint64_t>);
}

TEST_CASE("fwd.hpp: the default template arguments are the definitions' defaults", "[static][fwd]") {
    using namespace crowdline;
    STATIC_REQUIRE(std::is_same_v<handler_of<reply>, handler_of<reply, ignore_disconnect>>);
    STATIC_REQUIRE(std::is_same_v<mixins::gold_units<>, mixins::gold_units<mixins::match_answer_keys>>);
    STATIC_REQUIRE(std::is_same_v<task_launcher<int, with_items, int>,
                                  task_launcher<int, with_items, int, construct_item<routed>>>);
    STATIC_REQUIRE(std::is_same_v<pipeline<int, int, int, with_items, int>,
                                  pipeline<int, int, int, with_items, int, construct_item<routed>>>);
    STATIC_REQUIRE(std::is_same_v<pipeline<int, int, int, with_items const&, int>,
                                  pipeline<int, int, int, with_items const&, int, construct_item<routed>>>);
    STATIC_REQUIRE(std::is_same_v<pipeline<int, int, int, without_items, int>,
                                  pipeline<int, int, int, without_items, int, void>>);
}

