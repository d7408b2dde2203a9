// Majority vote and Dawid–Skene: a case checked by hand, recovery of planted labels and worker error rates
// where majority vote fails, and how EM stops.

#include "unit/quality/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace quality_test;

TEST_CASE("Majority vote: label, share, and ties reported with the smallest tied label", "[quality][majority]") {
    std::vector<quality::annotation> const data{
        {"i2", "a", "y"}, {"i2", "b", "x"}, {"i2", "c", "y"},                    // y wins 2 of 3
        {"i1", "a", "x"}, {"i1", "b", "z"},                                      // tie x / z → x, tie
        {"i3", "a", "q"},                                                         // one vote
        {"i4", "a", "x"}, {"i4", "b", "y"}, {"i4", "c", "x"}, {"i4", "d", "y"}, {"i4", "e", "z"},  // tie x / y
    };
    auto const votes = quality::majority_vote(data);
    REQUIRE(votes.size() == 4);
    using vote = quality::item_majority<std::string, std::string>;
    CHECK(votes[0] == vote{"i1", "x", 1, 2, 0.5, true});
    CHECK(votes[1] == vote{"i2", "y", 2, 3, 2.0 / 3.0, false});
    CHECK(votes[2] == vote{"i3", "q", 1, 1, 1.0, false});
    CHECK(votes[3] == vote{"i4", "x", 2, 5, 0.4, true});

    nlohmann::json const j = votes[0];
    CHECK(j == nlohmann::json{{"item", "i1"}, {"label", "x"}, {"votes", 1}, {"annotations", 2}, {"share", 0.5}, {"tie", true}});
}

TEST_CASE("Dawid-Skene, one round by hand: 2 items, 2 workers, 2 labels", "[quality][dawid_skene]") {
    // i1: w1 x, w2 x.  i2: w1 y, w2 x.  Soft majority start: T(i1) = (1, 0), T(i2) = (1/2, 1/2).
    // M-step with pseudo-counts 1 (K = 2):
    //   π = ((1 + 1/2 + 1) / 4, (0 + 1/2 + 1) / 4) = (5/8, 3/8)
    //   w1: θ[x] = ((1 + 1) / 3.5, (1/2 + 1) / 3.5) = (4/7, 3/7);  θ[y] = (1 / 2.5, 1.5 / 2.5) = (2/5, 3/5)
    //   w2: θ[x] = (2.5 / 3.5, 1 / 3.5) = (5/7, 2/7);              θ[y] = (1.5 / 2.5, 1 / 2.5) = (3/5, 2/5)
    // E-step: i1: x ∝ 5/8·4/7·5/7, y ∝ 3/8·2/5·3/5;  i2: x ∝ 5/8·3/7·5/7, y ∝ 3/8·3/5·3/5.
    std::vector<quality::annotation> const data{{"i1", "w1", "x"}, {"i1", "w2", "x"}, {"i2", "w1", "y"}, {"i2", "w2", "x"}};
    auto const r = quality::dawid_skene(data, {.max_iterations = 1});
    REQUIRE(r.iterations == 1);
    CHECK_FALSE(r.converged);
    REQUIRE(r.labels == std::vector<std::string>{"x", "y"});
    CHECK(r.class_priors[0] == Approx(5.0 / 8).margin(1e-15));
    CHECK(r.class_priors[1] == Approx(3.0 / 8).margin(1e-15));
    CHECK(r.workers[0].confusion[0][0] == Approx(4.0 / 7).margin(1e-15));
    CHECK(r.workers[0].confusion[1][1] == Approx(3.0 / 5).margin(1e-15));
    CHECK(r.workers[1].confusion[0][1] == Approx(2.0 / 7).margin(1e-15));
    CHECK(r.workers[1].confusion[1][0] == Approx(3.0 / 5).margin(1e-15));
    CHECK(r.workers[0].accuracy == Approx(5.0 / 8 * 4.0 / 7 + 3.0 / 8 * 3.0 / 5).margin(1e-15));
    CHECK(r.workers[1].accuracy == Approx(5.0 / 8 * 5.0 / 7 + 3.0 / 8 * 2.0 / 5).margin(1e-15));
    double const i1x = 5.0 / 8 * 4.0 / 7 * 5.0 / 7, i1y = 3.0 / 8 * 2.0 / 5 * 3.0 / 5;
    double const i2x = 5.0 / 8 * 3.0 / 7 * 5.0 / 7, i2y = 3.0 / 8 * 3.0 / 5 * 3.0 / 5;
    CHECK(r.posterior(0)[0] == Approx(i1x / (i1x + i1y)).margin(1e-12));
    CHECK(r.posterior(1)[0] == Approx(i2x / (i2x + i2y)).margin(1e-12));
    CHECK(r.items[1].label == "x");
    CHECK(r.items[1].confidence == Approx(i2x / (i2x + i2y)).margin(1e-12));
    CHECK(r.log_likelihood == Approx(std::log(i1x + i1y) + std::log(i2x + i2y)).margin(1e-12));
    CHECK(r.workers[0].annotations == 2);
    require_well_formed(r);
}

TEST_CASE("Dawid-Skene recovers planted labels and error rates that majority vote gets wrong", "[quality][dawid_skene]") {
    // 35 workers (10 good, 10 careless, 5 spammers always answering "a", 10 adversarial answering the next
    // label), 4 labels with priors 0.4 / 0.3 / 0.2 / 0.1, 2000 items with 5 distinct workers each.
    std::vector<double> const priors{0.4, 0.3, 0.2, 0.1};
    planted_crowd const crowd(priors, mixed_population(), 2000, 5, 20261122);

    auto const votes = quality::majority_vote(crowd.annotations);
    auto const ds = quality::dawid_skene(crowd.annotations);
    double const majority_accuracy = crowd.accuracy(votes);
    double const ds_accuracy = crowd.accuracy(ds.items);
    WARN("planted crowd: majority vote accuracy " << majority_accuracy << ", Dawid-Skene accuracy " << ds_accuracy
                                                  << " after " << ds.iterations << " rounds (converged: " << ds.converged << ")");
    CHECK(ds.converged);
    CHECK(ds_accuracy >= 0.90);
    CHECK(ds_accuracy >= majority_accuracy + 0.15);
    require_well_formed(ds);

    for (std::size_t k = 0; k < priors.size(); ++k) CHECK(ds.class_priors[k] == Approx(priors[k]).margin(0.04));

    // Estimated accuracy per kind of worker, averaged over the kind, against the planted one.
    for (auto kind : {behaviour::good, behaviour::careless, behaviour::spammer, behaviour::adversarial}) {
        double sum = 0;
        int count = 0;
        for (std::size_t w = 0; w < crowd.workers.size(); ++w)
            if (crowd.workers[w] == kind) {
                REQUIRE(ds.workers[w].worker == numbered("w", w));
                sum += ds.workers[w].accuracy;
                ++count;
            }
        double const planted = planted_accuracy(kind, priors);
        static char const* const names[] = {"good", "careless", "spammer", "adversarial"};
        WARN(names[static_cast<int>(kind)] << " workers: planted accuracy " << planted << ", mean estimated " << sum / count);
        CHECK(sum / count == Approx(planted).margin(0.06));
    }
    // The adversaries' confusion matrices put their mass on the next label: DS reads them, majority cannot.
    for (std::size_t w = 0; w < crowd.workers.size(); ++w)
        if (crowd.workers[w] == behaviour::adversarial)
            for (std::size_t k = 0; k < 4; ++k) CHECK(ds.workers[w].confusion[k][(k + 1) % 4] > 0.6);
}

TEST_CASE("Dawid-Skene stops at the iteration cap and says so; the log posterior never falls", "[quality][dawid_skene]") {
    planted_crowd const crowd({0.5, 0.3, 0.2}, mixed_population(), 300, 3, 7);
    auto const data = quality::make_dataset(crowd.annotations);

    auto const capped = quality::dawid_skene(data, {.max_iterations = 3, .tolerance = 0});
    CHECK(capped.iterations == 3);
    CHECK_FALSE(capped.converged);

    auto const full = quality::dawid_skene(data, {.max_iterations = 500, .tolerance = 1e-10});
    CHECK(full.converged);
    CHECK(full.iterations < 500);

    double previous = -INFINITY;
    for (std::size_t rounds = 1; rounds <= 25; ++rounds) {
        auto const r = quality::dawid_skene(data, {.max_iterations = rounds, .tolerance = 0});
        INFO("rounds " << rounds);
        CHECK(r.log_posterior >= previous - 1e-9 * std::abs(previous));
        previous = r.log_posterior;
    }
}

TEST_CASE("Dawid-Skene rejects options out of range", "[quality][dawid_skene][edge]") {
    std::vector<quality::annotation> const data{{"i1", "a", "x"}, {"i1", "b", "y"}};
    CHECK_THROWS_WITH(quality::dawid_skene(data, {.max_iterations = 0}), Catch::Contains("max_iterations is 0"));
    CHECK_THROWS_WITH(quality::dawid_skene(data, {.smoothing = 0}), Catch::Contains("smoothing is 0"));
    CHECK_THROWS_AS(quality::dawid_skene(data, {.prior_smoothing = -1}), crowdline::invalid_argument);
    CHECK_THROWS_AS(quality::dawid_skene(data, {.smoothing = NAN}), crowdline::invalid_argument);
    CHECK_THROWS_AS(quality::dawid_skene(data, {.tolerance = -1e-3}), crowdline::invalid_argument);
}

TEST_CASE("Dawid-Skene on empty input and on one label", "[quality][dawid_skene][edge]") {
    std::vector<quality::annotation> const empty;
    auto const none = quality::dawid_skene(empty);
    CHECK(none.items.empty());
    CHECK(none.workers.empty());
    CHECK(none.labels.empty());
    CHECK(none.iterations == 0);
    CHECK(none.converged);
    CHECK(quality::majority_vote(empty).empty());

    std::vector<quality::annotation> const one{{"i1", "a", "x"}, {"i1", "b", "x"}, {"i2", "a", "x"}};
    auto const r = quality::dawid_skene(one);
    CHECK(r.converged);
    REQUIRE(r.items.size() == 2);
    CHECK(r.items[0].confidence == 1.0);
    CHECK(r.workers[0].accuracy == Approx(1.0).margin(1e-15));
    require_well_formed(r);
}
