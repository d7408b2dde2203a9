// quality::running_alpha and running_agreement: the alpha kept answer by answer is the batch
// krippendorff_alpha of the answers so far — the same double, after every answer, in any order.

#include "unit/quality/batch_figures.hpp"
#include "unit/quality/common.hpp"

#include <crowdline/quality/run_report.hpp>
#include <crowdline/quality/running_alpha.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace quality_test;
using json = nlohmann::json;

TEST_CASE("running alpha: the paper's 4 observers x 12 units give 0.743, however the values arrive", "[quality][alpha][running]") {
    // Krippendorff (2011), section C (see agreement.cpp): unit → the values coded, missing ones left out.
    std::vector<std::pair<int, int>> const values{
        {1, 1}, {1, 1}, {1, 1},                  // unit 1: A B D
        {2, 2}, {2, 2}, {2, 3}, {2, 2},          // unit 2
        {3, 3}, {3, 3}, {3, 3}, {3, 3},          // unit 3
        {4, 3}, {4, 3}, {4, 3}, {4, 3},          // unit 4
        {5, 2}, {5, 2}, {5, 2}, {5, 2},          // unit 5
        {6, 1}, {6, 2}, {6, 3}, {6, 4},          // unit 6
        {7, 4}, {7, 4}, {7, 4}, {7, 4},          // unit 7
        {8, 1}, {8, 1}, {8, 2}, {8, 1},          // unit 8
        {9, 2}, {9, 2}, {9, 2}, {9, 2},          // unit 9
        {10, 5}, {10, 5}, {10, 5},               // unit 10: B C D
        {11, 1}, {11, 1},                        // unit 11: C D
        {12, 3},                                 // unit 12: B only (not pairable)
    };
    REQUIRE(values.size() == 41);
    for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
        auto order = values;
        rng r{seed};
        r.shuffle(order);
        quality::running_alpha<int, int> alpha;
        for (auto const& [unit, value] : order) alpha.add(unit, value);
        REQUIRE(alpha.value().has_value());
        CHECK(*alpha.value() == Approx(0.743).margin(0.0005));
        CHECK(alpha.items() == 12);
        CHECK(alpha.annotations() == 41);
    }
}

TEST_CASE("running alpha equals the batch alpha after every annotation of random data", "[quality][alpha][running]") {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        INFO("seed " << seed);
        rng r{seed};
        std::size_t const items = 1 + r.below(30), labels = 1 + r.below(5), n = r.below(150);
        quality::running_alpha<std::string, std::string> running;
        std::vector<quality::annotation> seen;
        for (std::size_t i = 0; i < n; ++i) {
            // Skewed labels so that "every value the same" (alpha undefined) happens too.
            auto const label = r.uniform() < 0.6 ? std::size_t{0} : r.below(labels);
            quality::annotation a{"item" + std::to_string(r.below(items)), "w" + std::to_string(i), "L" + std::to_string(label)};
            running.add(a.item, a.label);
            seen.push_back(a);
            auto const batch = quality::krippendorff_alpha(seen);
            INFO("after " << seen.size() << " annotations");
            REQUIRE(running.value().has_value() == batch.has_value());
            if (batch) REQUIRE(*running.value() == *batch);  // the same sums, the same function: the same double
            REQUIRE(running.annotations() == seen.size());
        }
    }
}

TEST_CASE("running alpha: undefined until two values share an item and two labels are pairable", "[quality][alpha][running][edge]") {
    quality::running_alpha<int, std::string> alpha;
    CHECK_FALSE(alpha.value());
    alpha.add(1, "a");
    alpha.add(2, "b");
    CHECK_FALSE(alpha.value());  // no item has two values
    alpha.add(1, "a");
    CHECK_FALSE(alpha.value());  // every pairable value is "a": D_e = 0
    alpha.add(2, "b");
    REQUIRE(alpha.value());
    CHECK(*alpha.value() == 1.0);  // two items, each unanimous, two labels
    alpha.add(2, "a");
    REQUIRE(alpha.value());
    CHECK(*alpha.value() < 1.0);
    CHECK(alpha.items() == 2);
    CHECK(alpha.annotations() == 5);
}

TEST_CASE("running agreement: the label fields and figures run_report finds in the same answers", "[quality][running][run_report]") {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        INFO("seed " << seed);
        rng r{seed};
        quality::running_agreement running;
        std::vector<quality::run_answer> answers;
        for (int i = 0; i < 200; ++i) {
            json outputs = json::object();
            outputs["label"] = std::string(1, static_cast<char>('a' + r.below(3)));
            if (r.uniform() < 0.7) outputs["flag"] = r.uniform() < 0.5;
            if (r.uniform() < 0.3) outputs["stars"] = static_cast<std::int64_t>(r.below(5));
            // A field that turns out not to be a label field: mostly strings, once in a while a fraction.
            if (r.uniform() < 0.5) outputs["comment"] = r.uniform() < 0.05 ? json(0.5) : json("ok");
            if (r.uniform() < 0.1) outputs["tags"] = json::array({"x", "y"});
            auto const item = static_cast<std::int64_t>(r.below(40));
            running.add(item, outputs);
            answers.push_back({item, "w" + std::to_string(r.below(8)), i, json::object(), outputs});
        }
        auto const shown = running.fields();
        require_batch_figures(shown, answers);
        for (auto const& f : shown) CHECK(f.field != "tags");
    }
}

TEST_CASE("running agreement: an answer that is not an object adds nothing; figures as JSON", "[quality][running][json]") {
    quality::running_agreement running;
    running.add(1, json::array({1, 2}));
    running.add(1, json("text"));
    CHECK(running.fields().empty());
    running.add(1, {{"label", "a"}});
    running.add(1, {{"label", "b"}});
    auto const j = json(running.fields());
    REQUIRE(j.size() == 1);
    CHECK(j[0]["field"] == "label");
    CHECK(j[0]["items"] == 1);
    CHECK(j[0]["annotations"] == 2);
    // One item, two labels: α = 1 − (n − 1)(n − Σ o_cc) / (n² − Σ n_c²) = 1 − 1·2/2 = 0.
    CHECK(j[0]["krippendorff_alpha"] == 0.0);
    running.add(2, {{"label", "a"}});
    CHECK(json(running.fields())[0]["items"] == 2);
    quality::running_agreement none;
    none.add(1, {{"label", "a"}});
    CHECK(json(none.fields())[0]["krippendorff_alpha"].is_null());  // undefined: null, never NaN
}
