// Properties every measure keeps: input order and key names do not matter, single annotations do not
// count for alpha, unused labels and one-answer workers give no NaN, any key type and element shape works.

#include "unit/quality/common.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <crowdline/model/ids.hpp>

using namespace quality_test;

namespace {

planted_crowd small_crowd(std::uint64_t seed) { return planted_crowd({0.4, 0.3, 0.2, 0.1}, mixed_population(), 400, 4, seed); }

/// Renames every item and worker through a scrambled bijection (the sorted order changes).
std::vector<quality::annotation> renamed(const std::vector<quality::annotation>& in, std::map<std::string, std::string>& items,
                                         std::map<std::string, std::string>& workers) {
    auto const scramble = [](const std::string& s) {
        std::string out(s.rbegin(), s.rend());
        return "z" + out;
    };
    std::vector<quality::annotation> out;
    for (const auto& a : in) {
        items.emplace(a.item, scramble(a.item));
        workers.emplace(a.worker, scramble(a.worker));
        out.push_back({items[a.item], workers[a.worker], a.label});
    }
    return out;
}

}  // namespace

TEST_CASE("Input order changes nothing: every result is identical", "[quality][property]") {
    auto const crowd = small_crowd(3);
    auto shuffled = crowd.annotations;
    rng r(99);
    r.shuffle(shuffled);
    REQUIRE(shuffled != crowd.annotations);

    CHECK(quality::krippendorff_alpha(shuffled) == quality::krippendorff_alpha(crowd.annotations));
    auto const original_data = quality::make_dataset(crowd.annotations);
    auto const shuffled_data = quality::make_dataset(shuffled);
    for (const auto& first : original_data.workers())
        for (const auto& second : original_data.workers())
            if (first != second)
                CHECK(quality::cohen_kappa(shuffled_data, first, second) == quality::cohen_kappa(original_data, first, second));
    CHECK(quality::fleiss_kappa(shuffled) == quality::fleiss_kappa(crowd.annotations));
    CHECK(quality::majority_vote(shuffled) == quality::majority_vote(crowd.annotations));
    auto const a = quality::dawid_skene(crowd.annotations);
    auto const b = quality::dawid_skene(shuffled);
    CHECK(a.items == b.items);
    CHECK(a.workers == b.workers);
    CHECK(a.posteriors == b.posteriors);
    CHECK(a.class_priors == b.class_priors);
    CHECK(a.iterations == b.iterations);
}

TEST_CASE("Renaming items and workers changes nothing but the names", "[quality][property]") {
    auto const crowd = small_crowd(4);
    std::map<std::string, std::string> item_names, worker_names;
    auto const other = renamed(crowd.annotations, item_names, worker_names);

    CHECK(quality::krippendorff_alpha(other).value() == Approx(quality::krippendorff_alpha(crowd.annotations).value()).margin(1e-12));
    CHECK(quality::fleiss_kappa(other).value() == Approx(quality::fleiss_kappa(crowd.annotations).value()).margin(1e-12));
    auto const original_data = quality::make_dataset(crowd.annotations);
    auto const other_data = quality::make_dataset(other);
    std::size_t defined = 0;
    for (const auto& first : original_data.workers())
        for (const auto& second : original_data.workers()) {
            if (first == second) continue;
            auto const x = quality::cohen_kappa(original_data, first, second);
            auto const y = quality::cohen_kappa(other_data, worker_names.at(first), worker_names.at(second));
            REQUIRE(x.has_value() == y.has_value());
            if (x) {
                CHECK(*y == Approx(*x).margin(1e-12));
                ++defined;
            }
        }
    CHECK(defined > 100);

    auto const a = quality::dawid_skene(crowd.annotations);
    auto const b = quality::dawid_skene(other);
    REQUIRE(a.items.size() == b.items.size());
    CHECK(a.iterations == b.iterations);
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < b.items.size(); ++i) position[b.items[i].item] = i;
    for (std::size_t i = 0; i < a.items.size(); ++i) {
        std::size_t const j = position.at(item_names.at(a.items[i].item));
        CHECK(b.items[j].label == a.items[i].label);
        for (std::size_t k = 0; k < a.labels.size(); ++k) CHECK(b.posterior(j)[k] == Approx(a.posterior(i)[k]).margin(1e-9));
    }
    std::map<std::string, double> accuracy;
    for (const auto& w : b.workers) accuracy[w.worker] = w.accuracy;
    for (const auto& w : a.workers) CHECK(accuracy.at(worker_names.at(w.worker)) == Approx(w.accuracy).margin(1e-9));

    auto va = quality::majority_vote(crowd.annotations);
    auto vb = quality::majority_vote(other);
    std::map<std::string, std::string> vote_of;
    for (const auto& v : vb) vote_of[v.item] = v.label;
    for (const auto& v : va) CHECK(vote_of.at(item_names.at(v.item)) == v.label);
}

TEST_CASE("Items with one annotation are ignored by alpha", "[quality][property][alpha]") {
    auto const crowd = small_crowd(5);
    auto const before = quality::krippendorff_alpha(crowd.annotations);
    auto more = crowd.annotations;
    rng r(1);
    for (std::size_t i = 0; i < 300; ++i) more.push_back({numbered("lonely", i), numbered("w", r.below(35)), label_name(r.below(4))});
    CHECK(quality::krippendorff_alpha(more) == before);
    CHECK(quality::coincidences(more).pairable == quality::coincidences(crowd.annotations).pairable);
}

TEST_CASE("Labels no one used: no NaN, the agreement coefficients unchanged", "[quality][property]") {
    auto const crowd = small_crowd(6);
    quality::label_set<std::string> const domain{{"a", "b", "c", "d", "e", "unused"}};
    auto const wide = quality::make_dataset(crowd.annotations, domain);
    REQUIRE(wide.labels().size() == 6);
    auto const narrow = quality::make_dataset(crowd.annotations);
    REQUIRE(narrow.labels().size() == 4);

    CHECK(quality::krippendorff_alpha(wide) == quality::krippendorff_alpha(narrow));
    CHECK(quality::fleiss_kappa(wide) == quality::fleiss_kappa(narrow));
    CHECK(quality::cohen_kappa(wide, "w00000", "w00003") == quality::cohen_kappa(narrow, "w00000", "w00003"));

    auto const r = quality::dawid_skene(wide);
    require_well_formed(r);
    CHECK(r.class_priors[4] < 0.01);
    CHECK(r.class_priors[5] < 0.01);
    CHECK(crowd.accuracy(r.items) >= 0.85);
    for (const auto& v : quality::majority_vote(wide)) CHECK(v.label <= "d");
}

TEST_CASE("A worker who answered one item: finite estimates, little weight", "[quality][property][dawid_skene]") {
    auto crowd = small_crowd(8);
    // The newcomer contradicts the truth on item 0 once.
    std::string const wrong = label_name((crowd.truth[0] + 1) % 4);
    crowd.annotations.push_back({numbered("item", 0), "newcomer", wrong});
    auto const r = quality::dawid_skene(crowd.annotations);
    require_well_formed(r);
    auto const it = std::find_if(r.workers.begin(), r.workers.end(), [](const auto& w) { return w.worker == "newcomer"; });
    REQUIRE(it != r.workers.end());
    CHECK(it->annotations == 1);
    // Near uniform: one answer moves a row of four cells with pseudo-count 1 by at most 1/5.
    for (const auto& row : it->confusion)
        for (double p : row) CHECK(p == Approx(0.25).margin(0.16));
    CHECK(crowd.accuracy(r.items) >= 0.85);
}

TEST_CASE("Keys of any ordered, hashable type; tuples and projections as input", "[quality][property]") {
    // The Fleiss-style crowd again, as integers: item i, worker w, label k.
    auto const crowd = small_crowd(9);
    std::vector<std::tuple<int, crowdline::worker_id, long>> as_tuples;
    for (const auto& a : crowd.annotations)
        as_tuples.emplace_back(std::stoi(a.item.substr(4)), crowdline::worker_id{std::stoll(a.worker.substr(1))},
                               static_cast<long>(a.label[0] - 'a'));
    CHECK(quality::krippendorff_alpha(as_tuples) == quality::krippendorff_alpha(crowd.annotations));
    CHECK(quality::fleiss_kappa(as_tuples) == quality::fleiss_kappa(crowd.annotations));
    CHECK(quality::cohen_kappa(as_tuples, crowdline::worker_id{0}, crowdline::worker_id{1}) ==
          quality::cohen_kappa(crowd.annotations, "w00000", "w00001"));
    auto const ds_ints = quality::dawid_skene(as_tuples);
    auto const ds_strings = quality::dawid_skene(crowd.annotations);
    CHECK(ds_ints.posteriors == ds_strings.posteriors);  // same sorted order, same arithmetic
    CHECK(ds_ints.workers[3].worker == crowdline::worker_id{3});

    struct row {
        std::string unit, who, answer;
    };
    std::vector<row> rows;
    for (const auto& a : crowd.annotations) rows.push_back({a.item, a.worker, a.label});
    auto const by_projection = [](const row& x) { return std::tie(x.unit, x.who, x.answer); };
    STATIC_REQUIRE(quality::annotation_like<std::tuple<const std::string&, const std::string&, const std::string&>>);
    CHECK(quality::krippendorff_alpha(rows, by_projection) == quality::krippendorff_alpha(crowd.annotations));
    CHECK(quality::majority_vote(rows, by_projection) == quality::majority_vote(crowd.annotations));
    CHECK(quality::dawid_skene(rows, {}, by_projection).posteriors == ds_strings.posteriors);

    // C strings are stored as std::string, compared by text.
    std::vector<quality::basic_annotation<const char*, const char*, const char*>> const c_strings{
        {"i1", "a", "x"}, {"i1", "b", "x"}, {"i2", "a", "y"}, {"i2", "b", "y"}};
    auto const data = quality::make_dataset(c_strings);
    STATIC_REQUIRE(std::is_same_v<std::remove_cvref_t<decltype(data)>, quality::dataset<std::string, std::string, std::string>>);
    CHECK(quality::krippendorff_alpha(data).value() == Approx(1.0));
}

TEST_CASE("A dataset is the interned input: sorted keys, annotations grouped by item", "[quality][dataset]") {
    std::vector<quality::annotation> const data{{"b", "w2", "y"}, {"a", "w1", "x"}, {"b", "w1", "x"}, {"a", "w1", "z"}};
    auto const d = quality::make_dataset(data);
    CHECK(d.items() == std::vector<std::string>{"a", "b"});
    CHECK(d.workers() == std::vector<std::string>{"w1", "w2"});
    CHECK(d.labels() == std::vector<std::string>{"x", "y", "z"});
    CHECK(d.size() == 4);
    using entry = decltype(d)::entry;
    auto const a = d.annotations_of(0);
    CHECK(std::vector<entry>(a.begin(), a.end()) == std::vector<entry>{{0, 0}, {0, 2}});
    auto const b = d.annotations_of(1);
    CHECK(std::vector<entry>(b.begin(), b.end()) == std::vector<entry>{{0, 0}, {1, 1}});
    CHECK(d.find_worker("w2") == 1u);
    CHECK_FALSE(d.find_label("q").has_value());
}

TEST_CASE("Dawid-Skene result as JSON", "[quality][dawid_skene][json]") {
    std::vector<quality::annotation> const data{{"i1", "w1", "x"}, {"i1", "w2", "x"}, {"i2", "w1", "y"}, {"i2", "w2", "x"}};
    auto const r = quality::dawid_skene(data, {.max_iterations = 1});
    nlohmann::json const j = r;
    CHECK(j["labels"] == nlohmann::json{"x", "y"});
    CHECK(j["iterations"] == 1);
    CHECK(j["converged"] == false);
    REQUIRE(j["items"].size() == 2);
    CHECK(j["items"][1]["item"] == "i2");
    CHECK(j["items"][1]["label"] == "x");
    CHECK(j["items"][1]["posterior"][0].get<double>() == r.posterior(1)[0]);
    CHECK(j["workers"][0]["worker"] == "w1");
    CHECK(j["workers"][0]["estimated_accuracy"].get<double>() == r.workers[0].accuracy);
    CHECK(j["workers"][0]["confusion"][1][1].get<double>() == r.workers[0].confusion[1][1]);
    CHECK(j["class_priors"].size() == 2);

    nlohmann::json const m = quality::coincidences(data);
    CHECK(m["pairable"] == 4);
    CHECK(m["totals"] == nlohmann::json{3, 1});
}

TEST_CASE("From a range or from its dataset: the same figures", "[quality][property]") {
    rng r(23);
    for (int round = 0; round < 30; ++round) {
        std::vector<quality::annotation> data;
        std::size_t const items = 1 + r.below(50), labels = 1 + r.below(5), per_item = 1 + r.below(4);
        bool const even = r.below(2) == 0;  // the same number of annotations on every item (Fleiss defined)
        for (std::size_t i = 0; i < items; ++i) {
            std::size_t const n = even ? per_item : 1 + r.below(5);
            for (std::size_t a = 0; a < n; ++a) data.push_back({numbered("i", i), numbered("w", a), label_name(r.below(labels))});
        }
        r.shuffle(data);
        auto const d = quality::make_dataset(data);
        INFO("round " << round);
        CHECK(quality::krippendorff_alpha(data) == quality::krippendorff_alpha(d));
        CHECK(quality::fleiss_kappa(data) == quality::fleiss_kappa(d));
        CHECK(quality::majority_vote(data) == quality::majority_vote(d));
        CHECK(quality::dawid_skene(data).posteriors == quality::dawid_skene(d).posteriors);
    }
}

TEST_CASE("With the same number of annotations per item, 1 - alpha = (1 - Fleiss' kappa)(1 - 1/n)", "[quality][property]") {
    // Both use the pooled label shares; alpha's expected disagreement divides by n(n - 1), Fleiss' by n².
    rng r(31);
    for (int round = 0; round < 20; ++round) {
        std::vector<quality::annotation> data;
        std::size_t const items = 2 + r.below(60), per_item = 2 + r.below(5), labels = 2 + r.below(4);
        for (std::size_t i = 0; i < items; ++i)
            for (std::size_t a = 0; a < per_item; ++a) data.push_back({numbered("i", i), numbered("w", a), label_name(r.below(labels))});
        auto const alpha = quality::krippendorff_alpha(data);
        auto const kappa = quality::fleiss_kappa(data);
        REQUIRE(alpha.has_value() == kappa.has_value());
        if (!alpha) continue;
        auto const n = static_cast<double>(data.size());
        CHECK(1.0 - *alpha == Approx((1.0 - *kappa) * (1.0 - 1.0 / n)).margin(1e-12));
    }
}
