#pragma once
// `crowdline status`, `review`, `export` and `quality`: each opens the campaign that must exist — an SQLite
// file, or a PostgreSQL schema (`--db postgresql://… --schema NAME`, with crowdline::postgres) — and reads
// or decides through the store concept alone, so both stores answer the same.

#include <charconv>

#include "files.hpp"
#include "program_args.hpp"
#include "quality_report.hpp"

namespace crowdline_serve {

/// Opens the campaign status, review, export and quality work on, and returns f(store): an SQLite file that
/// must exist, or (built with CROWDLINE_WITH_POSTGRES) a PostgreSQL schema that must hold one. Neither is
/// created here: a mistyped name is an error, not a new empty campaign.
template <class F>
int with_existing_store(program_args const& cfg, F&& f) {
    if (is_postgres_url(cfg.db)) {
#ifdef CROWDLINE_WITH_POSTGRES
        std::optional<stores::postgres> db;
        try {
            db.emplace(stores::postgres_options{.url = cfg.db, .schema = cfg.schema, .create = false});
        } catch (entry_does_not_exist const& e) {
            throw config_error(std::string(e.what()) + "; `crowdline serve` makes it, --schema picks another");
        }
        return f(*db);
#else
        refuse_postgres_not_built();
#endif
    }
    if (!std::filesystem::exists(cfg.db)) throw config_error(cfg.db + ": no such database (run `crowdline serve` first)");
    stores::sqlite db{cfg.db};
    return f(db);
}

/// Every run in the database, oldest first, with its task's name.
template <class Store>
std::vector<named_run> all_runs(Store& db) {
    std::vector<named_run> out;
    for (auto const& t : db.find_tasks({}))
        for (auto const& r : db.find_task_runs({.task = t.id})) out.emplace_back(r, t.name);
    std::ranges::sort(out, {}, [](auto const& p) { return p.first.id.value(); });
    return out;
}

/// The runs `--run N` names (every run when it is empty); an unknown N is an error naming the runs there are.
template <class Store>
std::vector<named_run> chosen_runs(Store& db, std::string const& path, std::optional<std::int64_t> run) {
    auto runs = all_runs(db);
    if (!run) return runs;
    std::string known;
    for (auto const& [r, name] : runs) {
        if (r.id.value() == *run) return {{r, name}};
        known += (known.empty() ? "" : ", ") + std::to_string(r.id.value());
    }
    throw config_error("--run " + std::to_string(*run) + ": " + path + " has no such task run (" +
                       (known.empty() ? std::string("it has none yet") : "it has " + known) + ")");
}

template <class Store>
int status(Store& db, program_args const& cfg) {
    auto runs = chosen_runs(db, db_name(cfg), cfg.run);
    if (runs.empty()) {
        std::cout << db_name(cfg) << ": no task run yet\n";
        return 0;
    }
    for (auto const& [r, name] : runs) {
        auto s = summarize_run(db, r.id);
        std::cout << "task run " << r.id.value() << " of \"" << name << "\" (" << (r.is_completed ? "complete" : "open")
                  << "): " << s.assignments << " tasks, " << s.units() << " units, " << s.workers << " workers\n";
        json const by_status = s.to_json()["units"];
        for (auto const& [st, n] : by_status.items())
            if (n.template get<std::size_t>() > 0)
                std::cout << "  " << st << std::string(16 - std::min<std::size_t>(15, st.size()), ' ') << n << "\n";
    }
    return 0;
}

template <class Store>
int review_cmd(Store& db, program_args const& cfg, std::vector<std::string> const& rest) {
    auto runs = chosen_runs(db, db_name(cfg), cfg.run);
    if (runs.empty()) throw config_error(db_name(cfg) + ": no task run to review");
    auto const run = runs.back().first.id;  // without --run: the latest
    providers::in_house crowd;  // decisions are recorded in the store; the in-house crowd pays nobody
    if (rest.empty()) {
        std::size_t n = 0;
        for (auto const& u : db.find_units({.task_run = run, .status = unit_status::completed})) {
            if (!u.agent) continue;
            auto a = db.get_agent(*u.agent);
            std::cout << "agent " << a.id.value() << "  " << db.get_worker(a.worker).name << "  "
                      << a.state.value("inputs", json(nullptr)).dump() << " → " << a.state.value("outputs", json(nullptr)).dump()
                      << "\n";
            ++n;
        }
        std::cout << n << " units of task run " << run.value()
                  << " wait for review (crowdline review approve|reject|soft_reject <agent_id> [note])\n";
        return 0;
    }
    if (rest.size() < 2) throw config_error("review: expected <approve|reject|soft_reject> <agent_id> [note]");
    std::int64_t id = 0;
    if (auto [end, ec] = std::from_chars(rest[1].data(), rest[1].data() + rest[1].size(), id);
        ec != std::errc{} || end != rest[1].data() + rest[1].size())
        throw config_error("review: \"" + rest[1] + "\" is not an agent id (a number; `crowdline review` lists them)");
    if (rest[0] != "approve" && rest[0] != "reject" && rest[0] != "soft_reject")
        throw config_error("review: unknown action \"" + rest[0] + "\" (approve, reject or soft_reject)");
    auto a = db.get_agent(agent_id{id});
    refuse_offline_prolific_review(db.get_task_run(a.task_run));
    // `--run N` names the run being reviewed: an agent of another run is refused, nothing recorded.
    if (cfg.run && a.task_run != run)
        throw config_error("review: agent " + std::to_string(id) + " is not part of task run " +
                           std::to_string(run.value()) + " (it belongs to task run " +
                           std::to_string(a.task_run.value()) + ")");
    auto note = rest.size() > 2 ? rest[2] : std::string{};
    if (rest[0] == "approve") review::approve(db, crowd, a.unit, note);
    else if (rest[0] == "reject") review::reject(db, crowd, a.unit, note);
    else review::soft_reject(db, crowd, a.unit, note);
    std::cout << "agent " << a.id.value() << ": " << to_string(db.get_unit(a.unit).status) << "\n";
    return 0;
}

/// Results of every run (or the one `--run` picks), one JSON line each, each carrying its `task_run_id`
/// and `task_name` so runs stay apart in one file.
template <class Store>
int export_cmd(Store& db, program_args const& cfg) {
    if (cfg.format != "jsonl") throw config_error("--format: only jsonl is supported, got \"" + cfg.format + "\"");
    std::optional<aggregate_method> method;  // checked before --out is truncated
    if (!cfg.aggregate.empty()) method = parse_aggregate(cfg.aggregate);
    else if (!cfg.field.empty()) throw config_error("--field: export writes every result whole; --field goes with --aggregate");
    auto const& out_path = cfg.out;
    auto runs = chosen_runs(db, db_name(cfg), cfg.run);
    if (runs.empty()) throw config_error(db_name(cfg) + ": no task run to export");
    std::ofstream file;
    if (!out_path.empty()) {
        file.open(out_path, std::ios::trunc);
        if (!file) throw config_error(out_path + ": cannot write");
    }
    std::ostream& out = out_path.empty() ? std::cout : file;
    auto const out_name = out_path.empty() ? std::string("standard output") : out_path;
    if (method) {
        auto const lines = export_aggregate(db, runs, *method, cfg.field, out, out_name);
        out.flush();
        std::cerr << "exported " << lines << " aggregated items (" << cfg.aggregate << ") from " << runs.size()
                  << " task run" << (runs.size() == 1 ? "" : "s") << "\n";
        return 0;
    }
    std::size_t n = 0;
    for (auto const& [r, name] : runs)
        for (auto&& result : data_browser{db}.results_for_run(r.id)) {
            auto line = to_export_json(result);
            line["task_run_id"] = r.id.value();
            line["task_name"] = name;
            out << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
            if (!out) throw error(out_name + ": writing failed after " + std::to_string(n) + " lines");
            ++n;
        }
    out.flush();
    std::cerr << "exported " << n << " results from " << runs.size() << " task run" << (runs.size() == 1 ? "" : "s") << "\n";
    return 0;
}

/// `crowdline quality`: agreement and aggregation figures per run and field (quality_report.hpp).
template <class Store>
int quality_cmd(Store& db, program_args const& cfg) {
    return print_quality(db, chosen_runs(db, db_name(cfg), cfg.run), {.db = db_name(cfg), .field = cfg.field, .json = cfg.json},
                         std::cout, std::cerr);
}

}  // namespace crowdline_serve
