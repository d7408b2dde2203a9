// quickstart: a whole campaign's bookkeeping on a SQLite file. It creates a task run, drives every unit
// through its life (launched → claimed by a worker → in task → submitted → completed → reviewed) and
// prints what the database now holds.
//
//   quickstart [--db crowdline.db] [--assignments 1000] [--workers 50] [--fresh]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <unistd.h>

#include <crowdline/crowdline.hpp>
#include <crowdline/store/sqlite.hpp>  // stores::sqlite is not in the umbrella: it needs SQLiteCpp

namespace {

struct options {
    std::string db = "crowdline.db";
    int assignments = 1000;
    int workers = 50;
    bool fresh = false;
};

[[noreturn]] void usage(std::string_view error) {
    std::cerr << "quickstart: " << error << "\n"
              << "usage: quickstart [--db PATH] [--assignments N] [--workers N] [--fresh]\n"
                 "  --db PATH         the campaign database (default: crowdline.db in this folder)\n"
                 "  --assignments N   assignments to run, 2 units each (default: 1000)\n"
                 "  --workers N       simulated workers, at least 2 (default: 50)\n"
                 "  --fresh           delete the database first\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    auto number = [&](int& i, std::string_view flag, int min) {
        if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
        try {
            int v = std::stoi(argv[++i]);
            if (v < min) throw std::out_of_range("too small");
            return v;
        } catch (std::exception const&) {
            usage(std::string(flag) + ": expected a whole number ≥ " + std::to_string(min) + ", got \"" + argv[i] + '"');
        }
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--db") {
            if (i + 1 >= argc) usage("--db needs a path");
            o.db = argv[++i];
        } else if (a == "--assignments") o.assignments = number(i, a, 1);
        else if (a == "--workers") o.workers = number(i, a, 2);
        else if (a == "--fresh") o.fresh = true;
        else if (a == "-h" || a == "--help") usage("help");
        else usage("unknown argument \"" + std::string(a) + '"');
    }
    return o;
}

/// A one-line progress bar on stderr, redrawn in place when stderr is a terminal.
class progress {
public:
    progress(std::string label, std::size_t total) : label_(std::move(label)), total_(total), tty_(::isatty(2)) {}
    void update(std::size_t done) {
        int pct = total_ ? static_cast<int>(100 * done / total_) : 100;
        if (pct == last_ && done != total_) return;
        last_ = pct;
        if (!tty_ && pct % 25 != 0) return;
        int filled = pct / 4;
        std::fprintf(stderr, "%s%-12s [%.*s%*s] %3d%%%s", tty_ ? "\r" : "", label_.c_str(), filled,
                     "#########################", 25 - filled, "", pct, tty_ ? "" : "\n");
        if (tty_ && done == total_) std::fputc('\n', stderr);
    }

private:
    std::string label_;
    std::size_t total_;
    bool tty_;
    int last_ = -1;
};

template <class F>
auto find_or_create(auto found, F&& create) {
    return found.empty() ? create() : found.front().id;
}

}  // namespace

int main(int argc, char** argv) try {
    using namespace crowdline;
    auto const opt = parse(argc, argv);
    if (opt.fresh)
        for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(opt.db + suffix);

    auto const start = std::chrono::steady_clock::now();
    // [open]
    stores::sqlite db(opt.db);  // WAL, foreign keys, migrations: a new file or an existing campaign
    // [open]

    // [setup]
    auto project = find_or_create(db.find_projects({.name = "examples"}), [&] { return db.new_project("examples"); });
    auto task = find_or_create(db.find_tasks({.name = "quickstart"}),
                               [&] { return db.new_task("quickstart", "static_form", project); });
    auto requester = find_or_create(db.find_requesters({.name = "quickstart-requester"}),
                                    [&] { return db.new_requester("quickstart-requester", "mock"); });
    auto run = db.new_task_run(task, requester, nlohmann::json{{"task_reward", 0.05}, {"units_per_assignment", 2}},
                               "mock", "static_form", /*sandbox=*/true);
    // [setup]
    std::vector<worker_id> workers;
    for (int i = 0; i < opt.workers; ++i) {
        auto name = "annotator-" + std::to_string(i);
        workers.push_back(find_or_create(db.find_workers({.name = name}), [&] { return db.new_worker(name, "mock"); }));
    }
    auto const runs_of_task = db.find_task_runs({.task = task}).size();
    std::cout << "campaign database: " << std::filesystem::absolute(opt.db).string() << "\n"
              << "task run " << runs_of_task << " of task \"quickstart\" (" << run << "): " << opt.assignments
              << " assignments x 2 units, " << opt.workers << " workers\n";

    // Create the work: one assignment per input item, two units (two annotators) each.
    progress creating("creating", static_cast<std::size_t>(opt.assignments));
    std::vector<unit_id> units;
    for (int a = 0; a < opt.assignments; ++a) {
        db.transaction([&] {
            auto assignment = db.new_assignment(run);
            for (int i = 0; i < 2; ++i) units.push_back(db.new_unit(assignment, i, 0.05));
        });
        creating.update(static_cast<std::size_t>(a + 1));
    }

    // Drive each unit through its life. Workers are cycled so nobody gets both units of an assignment.
    progress working("annotating", units.size());
    std::size_t next_worker = 0;
    for (std::size_t i = 0; i < units.size(); ++i) {
        // [lifecycle]
        auto unit = units[i];
        db.update_unit(unit, unit_status::launched);
        auto worker = workers[next_worker++ % workers.size()];
        auto agent = db.new_agent(worker, unit);  // the claim: fails if someone else took the unit
        db.update_agent(agent, agent_status::in_task);
        nlohmann::json answer{{"outputs", {{"label", i % 3 == 0 ? "negative" : "positive"}}}};
        db.update_agent(agent, agent_status::completed, answer);  // the answer is stored with the status
        db.update_unit(unit, unit_status::completed);
        // [lifecycle]

        // Review: most work is accepted; every 40th unit is rejected, every 25th soft-rejected.
        auto verdict = i % 40 == 39 ? unit_status::rejected : i % 25 == 24 ? unit_status::soft_rejected : unit_status::accepted;
        db.transaction([&] {
            db.update_unit(unit, verdict);
            db.update_agent(agent, verdict == unit_status::accepted   ? agent_status::approved
                                   : verdict == unit_status::rejected ? agent_status::rejected
                                                                      : agent_status::soft_rejected);
            if (verdict != unit_status::accepted)
                db.new_worker_review({.unit = unit, .worker = worker, .task = task, .status = std::string(to_string(verdict)),
                                      .review_note = "label disagrees with the gold answer"});
        });
        working.update(i + 1);
    }
    db.update_task_run(run, true);
    auto const seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // [summary]
    auto summary = summarize_run(db, run);
    std::cout << "\nunits by status in this run:\n";
    for (int s = 0; s < 8; ++s) {
        auto status = static_cast<unit_status>(s);
        std::printf("  %-14s %6zu\n", std::string(to_string(status)).c_str(), summary.units(status));
    }
    // [summary]
    std::printf("assignments %zu, agents %zu, distinct workers %zu, reviews recorded %zu\n", summary.assignments,
                summary.agents, summary.workers, db.find_worker_reviews().size());
    std::printf("time taken: %.2f s (%.0f unit lifecycles/s, one commit per call, WAL)\n", seconds,
                static_cast<double>(units.size()) / seconds);
    return summary.units(unit_status::completed) == 0 && summary.units() == units.size() ? 0 : 1;
} catch (crowdline::error const& e) {
    std::cerr << "quickstart: " << e.what() << "\n";
    return 1;
}
