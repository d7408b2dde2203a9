// Full overlap through the pipeline: items are added at launch, when nobody has joined, yet every eligible
// worker of the roster gets every item once — routing::full_overlap_of counts the roster, not the joined.

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

namespace full_overlap_test {

using namespace crowdline;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// The dispatcher's item: the language of a mock item (index 0, 3, … English; 1, 4, … French; 2, … German).
struct lang_item {
    std::string lang;
};
lang_item language_of(initialization_data const& init) {
    static constexpr char const* langs[] = {"en", "fr", "de"};
    return {langs[init.unit_data.at(0).at("index").get<std::size_t>() % 3]};
}
bool reads(json const& profile, lang_item const& item) {
    for (auto const& l : profile.value("langs", json::array()))
        if (l == item.lang) return true;
    return false;
}

TEST_CASE("full overlap through the pipeline: each eligible roster worker does each item once, joining after launch",
          "[pipeline][routing]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd;
    std::vector<json> const roster{{{"langs", {"en"}}}, {{"langs", {"en", "fr"}}}, {{"langs", {"fr"}}}};
    auto dispatcher = routing::make_dispatcher<lang_item, json>(routing::full_overlap_of{roster, reads},
                                                                routing::eligible_when{reads},
                                                                routing::options{.lease = 600s});
    pipeline p{blueprints::mock{6}, arch, crowd, std::move(dispatcher), db, test::run_args("full"), {}, language_of};
    auto const run = p.launch();

    // English and French items: two readers each on the roster → two units; German: nobody → one, starved.
    CHECK(db.find_units({.task_run = run}).size() == 2 * 2 + 2 * 2 + 2 * 1);  // 2 en, 2 fr, 2 de items

    std::map<std::string, std::set<std::int64_t>> done;  // worker → assignments done
    for (std::size_t w = 0; w < roster.size(); ++w) {
        test::page page{arch, "w" + std::to_string(w), roster[w]};
        for (;;) {
            auto got = page.register_();
            if (got.type != "agent_details") break;
            auto const unit = db.get_unit(unit_id{got.data["unit_id"].get<std::int64_t>()});
            CHECK(done[page.name].insert(unit.assignment.value()).second);  // never two units of one item
            REQUIRE(page.submit({{"label", "x"}}).type == "submitted");
        }
    }
    CHECK(done["w0"].size() == 2);  // the two English items
    CHECK(done["w1"].size() == 4);  // English and French
    CHECK(done["w2"].size() == 2);  // the two French items
    std::size_t completed = 0;
    for (auto const& u : db.find_units({.task_run = run})) completed += u.status == unit_status::completed;
    CHECK(completed == 8);
    CHECK(p.starved([](initialization_data const& i) { return language_of(i).lang; }).size() == 2);  // German
    CHECK_FALSE(p.is_complete());
}

}  // namespace full_overlap_test
