// Trusting crowd labels: 24 product reviews labelled negative / neutral / positive by five people. Ana, Ben
// and Chloe are careful (each slips now and then), Dev answers "positive" to everything, and Eli has the
// scale turned round (negative → neutral → positive → negative). How much do they agree, what does the
// majority say, and what does Dawid–Skene make of it, knowing nothing but the answers?

#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/agreement.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace quality = crowdline::quality;

int main() {
    std::vector<std::string> const scale{"negative", "neutral", "positive"};
    std::vector<std::size_t> truth;  // review i's true label, an index into `scale`
    for (std::size_t i = 0; i < 24; ++i) truth.push_back((i * 7 + i / 3) % 3);
    auto const name = [](std::size_t i) { return std::string(i < 9 ? "review-0" : "review-") + std::to_string(i + 1); };

    // [annotations]
    std::vector<quality::annotation> answers;  // {item, worker, label}, in any order
    for (std::size_t i = 0; i < truth.size(); ++i) {
        auto const right = scale[truth[i]], turned = scale[(truth[i] + 1) % 3];
        answers.push_back({name(i), "ana", i % 7 == 3 ? turned : right});
        answers.push_back({name(i), "ben", i % 5 == 1 ? turned : right});
        answers.push_back({name(i), "chloe", i % 6 == 4 ? turned : right});
        answers.push_back({name(i), "dev", "positive"});
        answers.push_back({name(i), "eli", turned});
    }
    // [annotations]

    // [agreement]
    auto const data = quality::make_dataset(answers);  // intern once, reuse for every measure
    std::optional<double> const alpha = quality::krippendorff_alpha(data);
    std::optional<double> const fleiss = quality::fleiss_kappa(data);
    std::optional<double> const ana_ben = quality::cohen_kappa(data, "ana", "ben");
    // [agreement]
    std::printf("%zu items, %zu workers, %zu annotations\n", data.items().size(), data.workers().size(), data.size());
    std::printf("Krippendorff's alpha %.3f, Fleiss' kappa %.3f, Cohen's kappa ana/ben %.3f\n\n", alpha.value_or(NAN),
                fleiss.value_or(NAN), ana_ben.value_or(NAN));

    // [aggregate]
    auto const votes = quality::majority_vote(data);
    auto const ds = quality::dawid_skene(data);  // defaults: Laplace pseudo-counts 1, tolerance 1e-7, cap 100
    auto const sharp = quality::dawid_skene(data, {.smoothing = 0.1, .prior_smoothing = 0.1});
    // [aggregate]
    std::printf("%-10s %-9s %-20s %s\n", "item", "truth", "majority (share)", "Dawid-Skene (posterior)");
    std::size_t majority_right = 0, ties = 0, ds_right = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const auto& v = votes[i];
        const auto& e = ds.items[i];
        majority_right += v.label == scale[truth[i]] && !v.tie;
        ties += v.tie;
        ds_right += e.label == scale[truth[i]];
        if (i < 6)
            std::printf("%-10s %-9s %-8s %.2f%-6s %-9s %.3f\n", v.item.c_str(), scale[truth[i]].c_str(), v.label.c_str(), v.share,
                        v.tie ? " tie" : "", e.label.c_str(), e.confidence);
    }
    std::printf("...\n\n%-6s %-7s %s\n", "worker", "right", "estimated accuracy (pseudo-counts 1 / 0.1)");
    for (std::size_t w = 0; w < ds.workers.size(); ++w) {
        std::size_t right = 0;
        for (const auto& a : answers) right += a.worker == ds.workers[w].worker && a.label == scale[truth[std::stoul(a.item.substr(7)) - 1]];
        std::printf("%-6s %2zu/%zu   %.2f / %.2f\n", ds.workers[w].worker.c_str(), right, truth.size(), ds.workers[w].accuracy,
                    sharp.workers[w].accuracy);
    }
    std::printf("\nEM: %zu rounds, converged: %s\n", ds.iterations, ds.converged ? "yes" : "no");
    std::printf("majority vote right on %zu of %zu items (%zu ties), Dawid-Skene on %zu of %zu\n", majority_right, truth.size(),
                ties, ds_right, truth.size());
}
