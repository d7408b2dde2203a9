// Agreement coefficients against published worked examples, then where each is undefined.

#include "unit/quality/common.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

using namespace quality_test;

namespace {

constexpr int missing = 0;

/// Reliability data as printed (observers × units, `missing` where an observer coded nothing) → annotations.
template <std::size_t Observers, std::size_t Units>
std::vector<quality::annotation> from_reliability_matrix(const std::array<std::array<int, Units>, Observers>& m) {
    std::vector<quality::annotation> out;
    for (std::size_t o = 0; o < Observers; ++o)
        for (std::size_t u = 0; u < Units; ++u)
            if (m[o][u] != missing)
                out.push_back({"unit" + std::to_string(u + 1), std::string(1, static_cast<char>('A' + o)),
                               std::to_string(m[o][u])});
    return out;
}

/// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for Communication
/// Departmental Papers 43 (repository.upenn.edu/asc_papers/43), section C "Nominal data, any number of
/// observers, missing data": 4 observers (A-D) × 12 units, values 1-5, "." = not coded. The table as
/// reproduced by the paper-following Python module quoted in find_string (README "Computing Krippendorff's
/// Alpha-Reliability") and identical to the "C" data of R's irr::kripp.alpha / DescTools::KrippAlpha and
/// to the fast-krippendorff test data:
///   Units u:    1 2 3 4 5 6 7 8 9 10 11 12
///   Observer A  1 2 3 3 2 1 4 1 2  .  .  .
///   Observer B  1 2 3 3 2 2 4 1 2  5  .  3
///   Observer C  . 3 3 3 2 3 4 2 2  5  1  .
///   Observer D  1 2 3 3 2 4 4 1 2  5  1  .
/// Published: nominal alpha = 0.743.
const std::array<std::array<int, 12>, 4> krippendorff_c{{
    {1, 2, 3, 3, 2, 1, 4, 1, 2, missing, missing, missing},
    {1, 2, 3, 3, 2, 2, 4, 1, 2, 5, missing, 3},
    {missing, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, missing},
    {1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, missing},
}};

}  // namespace

TEST_CASE("Krippendorff's alpha: the paper's 4 observers x 12 units with missing data give 0.743", "[quality][alpha]") {
    auto const data = from_reliability_matrix(krippendorff_c);
    REQUIRE(data.size() == 41);  // 48 cells, 7 missing

    auto const alpha = quality::krippendorff_alpha(data);
    REQUIRE(alpha.has_value());
    CHECK(*alpha == Approx(0.743).margin(0.0005));
    WARN("Krippendorff 2011 section C: published alpha = 0.743, computed " << *alpha);

    // The coincidence matrix the paper tabulates for these data (values 1..5):
    //        1    2    3    4   5 | n_c
    //   1    7   4/3  1/3  1/3  0 |  9
    //   2   4/3  10   4/3  1/3  0 | 13
    //   3   1/3  4/3   8   1/3  0 | 10
    //   4   1/3  1/3  1/3   4   0 |  5
    //   5    0    0    0    0   3 |  3
    //                              n.. = 40 (unit 12 has one value: not pairable)
    auto const m = quality::coincidences(data);
    REQUIRE(m.labels == std::vector<std::string>{"1", "2", "3", "4", "5"});
    std::array<std::array<double, 5>, 5> const expected{{
        {7, 4.0 / 3, 1.0 / 3, 1.0 / 3, 0},
        {4.0 / 3, 10, 4.0 / 3, 1.0 / 3, 0},
        {1.0 / 3, 4.0 / 3, 8, 1.0 / 3, 0},
        {1.0 / 3, 1.0 / 3, 1.0 / 3, 4, 0},
        {0, 0, 0, 0, 3},
    }};
    for (std::size_t c = 0; c < 5; ++c)
        for (std::size_t k = 0; k < 5; ++k) {
            INFO("o[" << c + 1 << "][" << k + 1 << "]");
            CHECK(m.counts[c][k] == Approx(expected[c][k]).margin(1e-12));
        }
    CHECK(m.totals == std::vector<std::size_t>{9, 13, 10, 5, 3});
    CHECK(m.pairable == 40);
    CHECK(m.items == 11);
}

TEST_CASE("Krippendorff's alpha: Wikipedia's computational example (3 coders x 15 units) gives 0.691", "[quality][alpha]") {
    // Wikipedia, "Krippendorff's alpha", section "A computational example": nominal alpha = 0.691. The same
    // table is the nominal test of the fast-krippendorff package (0.691358).
    std::array<std::array<int, 15>, 3> const m{{
        {missing, missing, missing, missing, missing, 3, 4, 1, 2, 1, 1, 3, 3, missing, 3},
        {1, missing, 2, 1, 3, 3, 4, 3, missing, missing, missing, missing, missing, missing, missing},
        {missing, missing, 2, 1, 3, 4, 4, missing, 2, 1, 1, 3, 3, missing, 4},
    }};
    auto const alpha = quality::krippendorff_alpha(from_reliability_matrix(m));
    REQUIRE(alpha.has_value());
    CHECK(*alpha == Approx(0.691).margin(0.0005));
}

TEST_CASE("Krippendorff's alpha agrees with the coincidence matrix it is defined from", "[quality][alpha]") {
    rng r(17);
    for (int round = 0; round < 20; ++round) {
        std::vector<quality::annotation> data;
        std::size_t const items = 1 + r.below(40), labels = 2 + r.below(4);
        for (std::size_t i = 0; i < items; ++i) {
            std::size_t const n = r.below(6);  // 0..5 annotations, singletons included
            for (std::size_t a = 0; a < n; ++a)
                data.push_back({numbered("i", i), numbered("w", a), label_name(r.below(labels))});
        }
        auto const m = quality::coincidences(data);
        auto const alpha = quality::krippendorff_alpha(data);
        double diagonal = 0, squares = 0;
        for (std::size_t c = 0; c < m.labels.size(); ++c) {
            diagonal += m.counts[c][c];
            squares += static_cast<double>(m.totals[c] * m.totals[c]);
        }
        auto const n = static_cast<double>(m.pairable);
        INFO("round " << round << ": " << m.pairable << " pairable values");
        if (m.pairable < 2 || n * n == squares) {
            CHECK_FALSE(alpha.has_value());
        } else {
            REQUIRE(alpha.has_value());
            CHECK(*alpha == Approx(1.0 - (n - 1.0) * (n - diagonal) / (n * n - squares)).margin(1e-12));
        }
    }
}

TEST_CASE("Fleiss' kappa: the 10 subjects x 14 raters x 5 categories example gives 0.210", "[quality][fleiss]") {
    // Wikipedia, "Fleiss' kappa", section "Worked example" (n_ij = raters who put subject i in category j;
    // P̄ = 0.378, P̄_e = 0.213, kappa = 0.210); the same table is statsmodels' inter-rater test data.
    std::array<std::array<int, 5>, 10> const table{{
        {0, 0, 0, 0, 14},
        {0, 2, 6, 4, 2},
        {0, 0, 3, 5, 6},
        {0, 3, 9, 2, 0},
        {2, 2, 8, 1, 1},
        {7, 7, 0, 0, 0},
        {3, 2, 6, 3, 0},
        {2, 5, 3, 2, 2},
        {6, 5, 2, 1, 0},
        {0, 2, 2, 3, 7},
    }};
    std::vector<quality::annotation> data;
    for (std::size_t i = 0; i < table.size(); ++i) {
        std::size_t rater = 0;
        for (std::size_t j = 0; j < 5; ++j)
            for (int c = 0; c < table[i][j]; ++c)
                data.push_back({numbered("subject", i + 1), numbered("rater", rater++), std::to_string(j + 1)});
        REQUIRE(rater == 14);
    }
    auto const kappa = quality::fleiss_kappa(data);
    REQUIRE(kappa.has_value());
    CHECK(*kappa == Approx(0.210).margin(0.0005));
    WARN("Fleiss' kappa worked example: published 0.210, computed " << *kappa);
}

namespace {

/// Two raters' cross-table (rows: rater a's label, columns: rater b's) → annotations on distinct items.
template <std::size_t K>
std::vector<quality::annotation> from_cross_table(const std::array<std::array<int, K>, K>& t,
                                                  const std::array<const char*, K>& names) {
    std::vector<quality::annotation> out;
    std::size_t item = 0;
    for (std::size_t row = 0; row < K; ++row)
        for (std::size_t col = 0; col < K; ++col)
            for (int c = 0; c < t[row][col]; ++c) {
                auto const id = numbered("patient", item++);
                out.push_back({id, "derm1", names[row]});
                out.push_back({id, "derm2", names[col]});
            }
    return out;
}

}  // namespace

TEST_CASE("Cohen's kappa: SAS's skin-condition agreement study gives 0.3449", "[quality][cohen]") {
    // SAS/STAT User's Guide, The FREQ Procedure, "Getting Started: Agreement Study": two dermatologists rate
    // 88 patients terrible / poor / marginal / clear (Table "Skin Condition Data", rows Dermatologist 1);
    // PROC FREQ reports simple kappa = 0.3449 (95% limits 0.2030, 0.4868).
    std::array<std::array<int, 4>, 4> const table{{
        {10, 4, 1, 0},
        {5, 10, 12, 2},
        {2, 4, 12, 5},
        {0, 2, 6, 13},
    }};
    auto const data = from_cross_table(table, {"terrible", "poor", "marginal", "clear"});
    REQUIRE(data.size() == 2 * 88);
    auto const kappa = quality::cohen_kappa(data, "derm1", "derm2");
    REQUIRE(kappa.has_value());
    CHECK(*kappa == Approx(0.3449).margin(0.00005));
    CHECK(quality::cohen_kappa(data, "derm2", "derm1") == kappa);  // symmetric
    WARN("SAS agreement study: published kappa = 0.3449, computed " << *kappa);
}

TEST_CASE("Cohen's kappa: the 50 grant proposals read by two readers give 0.4", "[quality][cohen]") {
    // Wikipedia, "Cohen's kappa", "Simple example" (also tutorialspoint's "Cohen's Kappa Coefficient"): reader
    // A and B say yes/no to 50 proposals; both yes 20, A yes B no 5, A no B yes 10, both no 15; p_o = 0.7,
    // p_e = 0.5, kappa = 0.4.
    std::array<std::array<int, 2>, 2> const table{{{20, 5}, {10, 15}}};
    auto const data = from_cross_table(table, {"yes", "no"});
    auto const kappa = quality::cohen_kappa(data, "derm1", "derm2");
    REQUIRE(kappa.has_value());
    CHECK(*kappa == Approx(0.4).margin(1e-12));
}

TEST_CASE("Cohen's kappa uses only the items both workers did", "[quality][cohen]") {
    std::vector<quality::annotation> data{
        {"i1", "ann", "x"}, {"i1", "bob", "x"}, {"i2", "ann", "y"}, {"i2", "bob", "y"},
        {"i3", "ann", "x"}, {"i3", "bob", "y"}, {"i4", "ann", "x"}, {"i5", "bob", "y"},  // i4, i5: one of them only
        {"i4", "cat", "y"}, {"i5", "cat", "x"},
    };
    // Shared: i1 (x,x), i2 (y,y), i3 (x,y): p_o = 2/3; ann x 2/3 y 1/3, bob x 1/3 y 2/3: p_e = 4/9.
    auto const kappa = quality::cohen_kappa(data, "ann", "bob");
    REQUIRE(kappa.has_value());
    CHECK(*kappa == Approx((2.0 / 3 - 4.0 / 9) / (1 - 4.0 / 9)).margin(1e-12));
    CHECK_FALSE(quality::cohen_kappa(data, "ann", "nobody").has_value());
    CHECK_FALSE(quality::cohen_kappa(data, "cat", "dan").has_value());
}

TEST_CASE("Agreement where it is not defined: nullopt, and bad requests throw", "[quality][edge]") {
    std::vector<quality::annotation> const empty;
    CHECK_FALSE(quality::krippendorff_alpha(empty).has_value());
    CHECK_FALSE(quality::fleiss_kappa(empty).has_value());
    CHECK_FALSE(quality::cohen_kappa(empty, "a", "b").has_value());
    CHECK(quality::coincidences(empty).pairable == 0);

    SECTION("one label only: D_e = 0, P_e = 1, p_e = 1") {
        std::vector<quality::annotation> const same{{"i1", "a", "x"}, {"i1", "b", "x"}, {"i2", "a", "x"}, {"i2", "b", "x"}};
        CHECK_FALSE(quality::krippendorff_alpha(same).has_value());
        CHECK_FALSE(quality::fleiss_kappa(same).has_value());
        CHECK_FALSE(quality::cohen_kappa(same, "a", "b").has_value());
    }
    SECTION("only single annotations: nothing pairable, one rater") {
        std::vector<quality::annotation> const alone{{"i1", "a", "x"}, {"i2", "a", "y"}, {"i3", "b", "z"}};
        CHECK_FALSE(quality::krippendorff_alpha(alone).has_value());
        CHECK_FALSE(quality::fleiss_kappa(alone).has_value());
        CHECK_FALSE(quality::cohen_kappa(alone, "a", "b").has_value());
    }
    SECTION("Fleiss: items with different numbers of annotations") {
        std::vector<quality::annotation> const uneven{{"i1", "a", "x"}, {"i1", "b", "y"}, {"i2", "a", "x"},
                                                      {"i2", "b", "x"}, {"i2", "c", "y"}};
        CHECK_FALSE(quality::fleiss_kappa(uneven).has_value());
        CHECK(quality::krippendorff_alpha(uneven).has_value());  // alpha takes them
    }
    SECTION("two values that differ: alpha is defined (0), not undefined") {
        std::vector<quality::annotation> const pair{{"i1", "a", "x"}, {"i1", "b", "y"}};
        auto const alpha = quality::krippendorff_alpha(pair);
        REQUIRE(alpha.has_value());
        CHECK(*alpha == Approx(0.0).margin(1e-15));
    }
    SECTION("Cohen: the same worker twice, or two labels from one worker on one item") {
        std::vector<quality::annotation> const twice{{"i1", "a", "x"}, {"i1", "a", "y"}, {"i1", "b", "x"}};
        CHECK_THROWS_WITH(quality::cohen_kappa(twice, "a", "a"), Catch::Contains("both workers are \"a\""));
        CHECK_THROWS_AS(quality::cohen_kappa(twice, "a", "b"), crowdline::invalid_argument);
        CHECK_THROWS_WITH(quality::cohen_kappa(twice, "b", "a"),
                          Catch::Contains("worker \"a\" gave item \"i1\" more than one label"));
    }
}

TEST_CASE("Perfect agreement: alpha = 1, Fleiss' kappa = 1, Cohen's kappa = 1", "[quality][property]") {
    rng r(5);
    std::vector<quality::annotation> data;
    for (std::size_t i = 0; i < 60; ++i) {
        auto const label = label_name(r.below(4));
        for (std::size_t w = 0; w < 3; ++w) data.push_back({numbered("i", i), numbered("w", w), label});
    }
    CHECK(quality::krippendorff_alpha(data).value() == Approx(1.0).margin(1e-15));
    CHECK(quality::fleiss_kappa(data).value() == Approx(1.0).margin(1e-15));
    CHECK(quality::cohen_kappa(data, numbered("w", 0), numbered("w", 2)).value() == Approx(1.0).margin(1e-15));
}
