// A user of the full package (crowdline::crowdline, or crowdline::sqlite): the SQLite store, asked for by
// name since the umbrella leaves it out.
#include <crowdline/crowdline.hpp>
#include <crowdline/store/sqlite.hpp>

#include <iostream>

int main() {
    crowdline::stores::sqlite db(":memory:");
    auto t = db.new_task("consumer", "mock");
    auto r = db.new_requester("me", "mock");
    auto run = db.new_task_run(t, r, nlohmann::json::object(), "mock", "mock", true);
    db.new_unit(db.new_assignment(run), 0, 1.0);
    auto s = crowdline::summarize_run(db, run);
    if (s.units(crowdline::unit_status::created) != 1) return 1;
    std::cout << "consumer ok: " << s.to_json().dump() << "\n";
}
