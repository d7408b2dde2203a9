// A user of crowdline::core alone: the light umbrella (no SQLiteCpp, no Beast), a dispatcher and the
// memory store. Built against the installed package on a machine view without SQLiteCpp.
#include <crowdline/crowdline.hpp>

#include <iostream>

#if defined(CROWDLINE_WITH_SQLITE) || defined(SQLITECPP_VERSION) || defined(SQLITE_VERSION) || defined(BOOST_BEAST_VERSION)
#error "the umbrella brought SQLite or Beast into a crowdline::core consumer"
#endif

struct text {
    std::string language;
};
struct reader {
    std::string language;
};

int main() {
    using namespace crowdline;
    auto d = routing::make_dispatcher<text, reader>(
        routing::eligible_when{[](reader const& r, text const& t) { return r.language == t.language; }});
    auto const now = clock::now();
    d.join(worker_id{1}, reader{"fr"}, now);
    d.join(worker_id{2}, reader{"de"}, now);
    d.add(routing::item_key{7}, text{"de"}, now);
    auto const to_fr = d.next(worker_id{1}, 1, now);
    auto const to_de = d.next(worker_id{2}, 1, now);
    if (!to_fr.empty() || to_de.size() != 1 || to_de.front().item != routing::item_key{7}) return 1;

    stores::memory db;
    auto t = db.new_task("consumer", "mock");
    auto r = db.new_requester("me", "mock");
    auto run = db.new_task_run(t, r, nlohmann::json::object(), "mock", "mock", true);
    db.new_unit(db.new_assignment(run), 0, 1.0);
    auto s = summarize_run(db, run);
    if (s.units(unit_status::created) != 1) return 1;
    std::cout << "consumer ok: the German text went to the German reader; " << s.to_json().dump() << "\n";
}
