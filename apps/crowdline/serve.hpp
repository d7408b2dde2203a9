#pragma once
// `crowdline serve`: a campaign's runs — a campaign file's, the one run of --tasks, or the built-in demo —
// each a pipeline, served together by one operator over one HTTP server and one store. A template on where
// the campaign is kept (`Home`: sqlite_home in files.hpp, postgres_home in serve_postgres.cpp), each
// instantiated in a TU of its own (serve_sqlite.cpp, serve_postgres.cpp) so the two compile side by side.

#include <concepts>

#include "demo.hpp"
#include "files.hpp"
#include "program_args.hpp"

namespace crowdline_serve {

inline std::atomic<bool> g_stop{false};
extern "C" inline void on_signal(int) { g_stop = true; }

/// One progress line: units done and in hand (the store), workers present and steals (the dispatcher).
template <class Run>
void print_progress(Run& run, bool named) {
    auto const s = run.summary();
    auto [counts, workers] = run.locked([](auto&, auto&, auto const& d) { return std::pair{d.counts(), d.joined_workers()}; });
    auto done = s.units(unit_status::completed) + s.units(unit_status::accepted) + s.units(unit_status::rejected) +
                s.units(unit_status::soft_rejected);
    std::cerr << "[progress] " << (named ? run.task_name() + ": " : std::string{}) << done << "/" << s.units()
              << " units done, " << s.units(unit_status::assigned) << " in hand, " << workers << " workers present, "
              << counts.steals << " steals\n";
}

/// The run `serve` shows again instead of starting one: the task's latest run when it is complete (and
/// none is open). With `--new-run`, none — and an open run is refused, since it would only be resumed.
template <class Store>
std::optional<task_run_id> completed_run_to_show(Store& db, std::string const& task_name, bool new_run) {
    auto tasks = db.find_tasks({.name = task_name});
    if (tasks.empty()) return std::nullopt;
    std::optional<task_run> open, done;
    for (auto const& r : db.find_task_runs({.task = tasks.front().id})) {
        auto& slot = r.is_completed ? done : open;
        if (!slot || r.id.value() > slot->id.value()) slot = r;
    }
    if (open && new_run)
        throw config_error("--new-run: task run " + std::to_string(open->id.value()) + " of \"" + task_name +
                           "\" is not complete yet; `crowdline serve` without --new-run resumes it");
    if (open || new_run || !done) return std::nullopt;
    return done->id;
}

/// The one run of `--tasks/--workers/--form` (the short form of a campaign file).
inline campaign_spec short_form_campaign(program_args const& cfg) {
    campaign_spec spec;
    spec.db = cfg.db;
    campaign_run r;
    r.name = cfg.task.task_name;
    r.form = cfg.form.empty() ? default_form() : parse_form(read_file(cfg.form), cfg.form);
    r.route_by = cfg.route_by;
    r.profile_key = cfg.profile_key;
    r.overlap = cfg.overlap;
    // Checked whole, then read again lazily as units are launched: the run never holds the whole file.
    r.task_count = check_tasks(read_file(cfg.tasks), cfg.tasks, form_placeholders(r.form), cfg.route_by);
    r.tasks_file = cfg.tasks;
    r.workers = cfg.workers.empty() ? demo_workers() : parse_json_text(read_file(cfg.workers), cfg.workers);
    r.task = cfg.task;
    spec.runs.push_back(std::move(r));
    return spec;
}

/// The runs `serve` holds, in a campaign kept by `Store`. Routed by an average overlap, by full overlap or
/// by adaptive overlap: three dispatcher types, so three pipeline types side by side in one operator (a
/// compile-time set; no virtual call per packet).
using routed_dispatcher = decltype(make_routing(1.0, std::chrono::seconds(1)));
using full_dispatcher = decltype(make_full_routing({}, std::chrono::seconds(1)));
using adaptive_dispatcher = decltype(make_adaptive_routing({}, std::chrono::seconds(1)));
template <class Dispatcher, class Store>
using served_run = pipeline<blueprints::static_form, architects::http&, providers::in_house&, Dispatcher, Store, item_by>;

/// Prolific runs are served from a campaign in SQLite (their ledger is a file beside it, `<db>.prolific`).
#ifdef CROWDLINE_WITH_PROLIFIC
template <class Store>
inline constexpr bool serves_prolific = std::same_as<Store, stores::sqlite>;
/// A Prolific run: routed by its overlap alone (participants bring no profile), paid through Prolific.
using prolific_run = pipeline<blueprints::static_form, architects::http&, served_prolific&, routed_dispatcher, stores::sqlite,
                              item_by>;
#else
template <class Store>
inline constexpr bool serves_prolific = false;
#endif

/// The operator over every kind of run `serve` may hold for a campaign kept by `Store`.
template <class Store>
auto make_serving_operator(architects::http& server, Store& db) {
    using routed = served_run<routed_dispatcher, Store>;
    using full = served_run<full_dispatcher, Store>;
    using adaptive = served_run<adaptive_dispatcher, Store>;
#ifdef CROWDLINE_WITH_PROLIFIC
    if constexpr (serves_prolific<Store>) return make_operator<routed, full, adaptive, prolific_run>(server, db);
    else
#endif
        return make_operator<routed, full, adaptive>(server, db);
}


/// One run as `serve` prepares it before anything is written: what the campaign says of it, and its form
/// with its items (read lazily from the tasks file when there is one).
struct prepared_run {
    campaign_run spec;
    blueprints::static_form form;
};

/// Serves `spec`'s runs from the campaign `home` keeps (`sqlite_home`, `postgres_home`: where its store, lock
/// and links are) until Ctrl-C, or until every run stopped on its own; returns the program's exit code.
template <class Home>
int serve(Home& home, program_args const& cfg, campaign_spec spec, bool flat_links, std::string const& what) {
    using Store = typename Home::store_type;
    using routed_run = served_run<routed_dispatcher, Store>;
    using full_run = served_run<full_dispatcher, Store>;
    using adaptive_run = served_run<adaptive_dispatcher, Store>;
    if constexpr (!serves_prolific<Store>)
        for (auto const& r : spec.runs)
            if (r.prolific)
                throw config_error(what + ": run \"" + r.name + "\": a Prolific run is served from an SQLite file only "
                                   "(its ledger is kept beside it); --db " + db_name(cfg) + " is not one");
    // Everything is read and checked before anything is written.
    secrets_file secrets{home.links_name(), home.load_links(), flat_links};
    std::deque<providers::in_house> crowds;
    std::vector<prepared_run> runs;
    for (auto& r : spec.runs) {
        auto const source = flat_links ? (cfg.workers.empty() ? std::string("demo workers") : cfg.workers)
                                       : what + ": run \"" + r.name + "\": workers";
        auto const kept = secrets.run(r.name);
        // A Prolific run has no roster: its crowd is Prolific's participants (an empty in-house crowd holds its place).
        auto roster = r.prolific ? std::vector<providers::in_house_worker>{}
                                 : roster_from_json(r.workers, source, r.profile_key, kept["invites"]);
        auto form = [&] {
            try {
                if (!r.tasks_file.empty()) return blueprints::static_form::from_json(r.form, jsonl_file_tasks{r.tasks_file});
                return blueprints::static_form::from_json(r.form, std::exchange(r.tasks, {}));
            } catch (config_error const& e) {
                throw config_error((flat_links && !cfg.form.empty() ? cfg.form : what + ": run \"" + r.name + "\": form") +
                                   ": " + e.what());
            }
        }();
        try {
            crowds.emplace_back(roster);
        } catch (error const& e) {  // e.g. two workers given the same link in the secrets file
            throw config_error(source + ": " + e.what());
        }
        // Links revoked from the review page stay revoked after a restart (a renewed one is simply the token kept).
        for (auto const& w : crowds.back().roster())
            if (std::ranges::find(kept["revoked"], json(w.name)) != kept["revoked"].end()) crowds.back().revoke_link(w.name);
        runs.push_back(prepared_run{std::move(r), std::move(form)});
    }

    // [serve]
    // Every run is a pipeline like any other campaign's; one operator serves them over one HTTP server and
    // one store. The server binds before the store opens, so a host that does not resolve or a port in use
    // fails before any file is made.
    architects::http server{cfg.server};
    server.prepare();
    home.lock();  // a second server on this database is refused here, before it writes anything
    Store& db = home.open();
    secrets.save_with(home.links_saver());
    std::vector<std::optional<task_run_id>> shown;
    for (auto const& r : runs) shown.push_back(completed_run_to_show(db, r.spec.name, cfg.new_run));
    for (std::size_t i = 0; i < runs.size(); ++i) secrets.keep(runs[i].spec.name, crowds[i]);

    auto op = make_serving_operator(server, db);
    #ifdef CROWDLINE_WITH_PROLIFIC
    std::optional<prolific_runs> prolific;  // its ledger, <db>.prolific, opens with the first Prolific run
    if constexpr (serves_prolific<Store>) prolific.emplace(cfg.db, db, cfg.prolific);
    std::deque<prolific_run> prolific_pipelines;
    #endif
    std::vector<served_prolific*> prolific_of(runs.size());
    std::deque<routed_run> routed;
    std::deque<full_run> full;
    std::deque<adaptive_run> adaptive;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        auto& r = runs[i].spec;
        auto const lease = std::chrono::seconds(r.task.assignment_duration_in_seconds);
        auto const steal_after = std::chrono::seconds(r.steal_after_seconds);
        bool const by_key = !r.route_by.empty();
        auto start = [&](auto& run) {
            if (shown[i]) run.reopen_completed(*shown[i]);  // a completed run stays completed
            // Serving starts after a second of launching at most; the rest is launched tick by tick.
            run.set_launch_budget(typename std::remove_cvref_t<decltype(run)>::launch_budget{});
            op.launch(run);
        };
        #ifdef CROWDLINE_WITH_PROLIFIC
        if constexpr (serves_prolific<Store>)
            if (r.prolific) {
                auto& provider = prolific->add(r);
                prolific_of[i] = &provider;
                start(prolific_pipelines.emplace_back(std::move(runs[i].form), server, provider,
                                                      make_routing(r.overlap, lease, false, steal_after), db, r.task,
                                                      std::vector<qualification_requirement>{}, item_by{""}));
                continue;
            }
        #endif
        if (r.adaptive) {
            start(adaptive.emplace_back(std::move(runs[i].form), server, crowds[i],
                                        make_adaptive_routing(*r.adaptive, lease, by_key, steal_after), db, r.task,
                                        std::vector<qualification_requirement>{}, item_by{r.route_by}));
        } else if (r.full_overlap) {
            std::vector<routed_profile> profiles;
            for (auto const& w : crowds[i].roster()) profiles.push_back(w.profile.get<routed_profile>());
            start(full.emplace_back(std::move(runs[i].form), server, crowds[i],
                                    make_full_routing(std::move(profiles), lease, by_key, steal_after), db, r.task,
                                    std::vector<qualification_requirement>{}, item_by{r.route_by}));
        } else {
            start(routed.emplace_back(std::move(runs[i].form), server, crowds[i],
                                      make_routing(r.overlap, lease, by_key, steal_after), db, r.task,
                                      std::vector<qualification_requirement>{}, item_by{r.route_by}));
        }
    }
    review_routes_options review{.requester_token = secrets.requester_token()};
    for (std::size_t i = 0; i < runs.size(); ++i) {
        auto const& name = runs[i].spec.name;
        review.runs[name] = {.group_by = runs[i].spec.route_by,
                             .links_changed = [&secrets, &crowds, name, i] { secrets.keep(name, crowds[i]); }};
    }
    add_review_routes(server, op, std::move(review));
    // [serve]
    #ifdef CROWDLINE_WITH_PROLIFIC
    [[maybe_unused]] auto const hooks = [&] {  // after the runs: gone first, so no hook reaches them as they go
        if constexpr (serves_prolific<Store>) return prolific->wire(op, server);
        else return 0;
    }();
    #endif

    auto const url = *op.url();
    auto const review_link = url + "/review#token=" + secrets.requester_token();
    auto const listed = op.runs();
    bool const one = listed.size() == 1;
    std::size_t tasks = 0, workers = 0;
    for (auto const& r : runs) tasks += r.spec.task_count, workers += crowds[&r - runs.data()].roster().size();
    std::cerr << "crowdline: " << (one ? "" : std::to_string(listed.size()) + " runs, ") << tasks << " tasks"
              << (what == "the built-in demo" ? " (the built-in demo)" : "") << ", " << workers << " workers, database "
              << db_name(cfg) << "\n";
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto invite_lines = [&](std::size_t i) {
        #ifdef CROWDLINE_WITH_PROLIFIC
        if constexpr (serves_prolific<Store>)
            if (prolific_of[i]) return prolific->describe(*prolific_of[i], listed[i].id, url, std::cout);
        #endif
        auto& crowd = crowds[i];
        for (auto const& w : crowd.roster()) {
            auto keys = w.profile.value("keys", json::array());
            auto link = crowd.invite_link(w.name, url);
            if (!flat_links) link += "&run=" + query_escape(runs[i].spec.name);
            std::cout << "  " << w.name << (keys.empty() ? "" : " (" + keys.dump() + ")") << "  "
                      << (crowd.is_revoked(w.name) ? std::string("link revoked (\"New link\" on the review page)") : link)
                      << "\n";
        }
    };
    if (one && shown[0]) {
        std::cout << "Task run " << listed[0].id.value() << " is complete: nothing more is handed out, and workers who "
                  << "open their link are told the run is over.\n\nReview page (keep it private):\n  " << review_link
                  << "\n\nServing it at " << url << " until Ctrl-C. `crowdline export` writes the results; "
                  << "`crowdline serve --new-run` starts a new run of these tasks.\n" << std::flush;
    } else if (one) {
        std::cout << "Serving task run " << listed[0].id.value() << " at " << url
                  << (prolific_of[0] ? "\n\nOn Prolific:\n" : "\n\nInvite links (send each person their own):\n");
        invite_lines(0);
        std::cout << "\nReview page (keep it private):\n  " << review_link << "\n\nStop with Ctrl-C; running again resumes.\n"
                  << std::flush;
    } else {
        std::cout << "Serving " << listed.size() << " task runs at " << url << "\n";
        for (std::size_t i = 0; i < listed.size(); ++i) {
            std::cout << "\nRun \"" << listed[i].name << "\" (task run " << listed[i].id.value() << ", "
                      << runs[i].spec.task_count << " tasks)";
            if (shown[i]) {
                std::cout << " is complete: nothing more is handed out.\n";
                continue;
            }
            std::cout << (prolific_of[i] ? ". On Prolific:\n" : ". Invite links (send each person their own):\n");
            invite_lines(i);
        }
        std::cout << "\nReview page, every run (keep it private):\n  " << review_link
                  << "\n\nStop with Ctrl-C; running again resumes.\n" << std::flush;
    }

    /// Why a run stopped on its own (the store refused a write), named when there are several.
    auto const failure = [&]() -> std::optional<std::string> {
        std::optional<std::string> why;
        op.for_each_run([&](auto& run) {
            if (auto f = run.failure(); f && !why) why = one ? *f : "run \"" + run.task_name() + "\": " + *f;
        });
        return why;
    };
    auto const all = [&](auto pred) {
        return std::ranges::all_of(op.runs(), pred);
    };
    auto progress = [&] { op.for_each_run([&](auto& run) { print_progress(run, !one); }); };
    bool const all_shown = std::ranges::all_of(shown, [](auto const& s) { return s.has_value(); });
    bool told_complete = all_shown;
    auto last_status = std::chrono::steady_clock::now();
    auto const launching = [&] {
        bool any = false;
        op.for_each_run([&](auto& run) { any = any || run.launching(); });
        return any;
    };
    // A run whose provider refused to launch more (Prolific's balance ran short) is told once; it keeps
    // serving what it has, and the other runs go on.
    std::set<std::string> told_stopped;
    auto const tell_launch_stopped = [&] {
        op.for_each_run([&](auto& run) {
            auto const why = run.launch_stopped();
            if (!why || !told_stopped.insert(run.task_name()).second) return;
            std::cout << "Run \"" << run.task_name() << "\" stopped launching: " << *why
                      << "\n  It keeps serving the units it has" << (one ? "" : "; the other runs go on") << ".\n"
                      << std::flush;
        });
    };
    while (!g_stop && !failure()) {
        tell_launch_stopped();
        // While units are still being launched, tick at once again: each tick launches for a moment.
        std::this_thread::sleep_for(std::chrono::milliseconds(launching() ? 5 : 250));
        op.tick();
        #ifdef CROWDLINE_WITH_PROLIFIC
        if constexpr (serves_prolific<Store>) prolific->tick(prolific_pipelines);
        #endif
        if (!told_complete && all([](run_entry const& e) { return e.complete; })) {
            progress();
            told_complete = true;
            std::cout << (one ? "The run is complete." : "Every run is complete.")
                      << " The review page stays up until Ctrl-C; then `crowdline export`.\n" << std::flush;
        }
        // A run that stopped without completing (no submission for task.no_submission_patience): once no
        // run is serving any more, the program ends, and running it again resumes.
        if (!told_complete && all([](run_entry const& e) { return !e.active; })) break;
        if (!told_complete && std::chrono::steady_clock::now() - last_status >= std::chrono::seconds(cfg.status_every_seconds)) {
            last_status = std::chrono::steady_clock::now();
            progress();
        }
    }
    auto const failed = failure();
    bool const complete = all([](run_entry const& e) { return e.complete; });
    if (!complete && !failed) {
        progress();
        op.shutdown();
        std::cout << "Stopped; run the same command again to resume.\n";
    }
    server.shutdown();
    // A run the pipeline stopped on its own (the store refused a write: disk full, file made read-only …)
    // is a failure of the program: say why and exit non-zero, so a supervisor or script sees it.
    if (failed) {
        std::cerr << "crowdline: the run stopped: " << *failed << "\ncrowdline: nothing acknowledged was lost; fix the "
                  << "cause and run the same command again to resume.\n";
        return 1;
    }
    return 0;
}

/// The entry points the TUs define: serve from an SQLite file, or from a PostgreSQL schema.
int serve_from_sqlite(program_args const& cfg, campaign_spec spec, bool flat_links, std::string const& what);
int serve_from_postgres(program_args const& cfg, campaign_spec spec, bool flat_links, std::string const& what);

}  // namespace crowdline_serve
