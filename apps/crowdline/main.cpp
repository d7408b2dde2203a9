// crowdline — the program a team runs: serve a labelling campaign to named annotators over HTTP, watch it,
// review it, export it.
//
//   crowdline serve  [--campaign campaign.json] [--db crowdline.db] [--host 127.0.0.1] [--port 8080]
//                    [--new-run] [key=value …]
//   crowdline serve  --tasks tasks.jsonl [--workers workers.json] [--form form.json] …   (one run, short form)
//   crowdline status [--db crowdline.db] [--run N]
//   crowdline review [--db crowdline.db] [--run N] [approve|reject|soft_reject <agent_id> [note]]
//   crowdline export [--db crowdline.db] [--run N] [--format jsonl] [--out FILE]
//                    [--aggregate majority|dawid_skene] [--field NAME]
//   crowdline quality [--db crowdline.db] [--run N] [--field NAME] [--json]
//
// Every command also works on a campaign kept in PostgreSQL (built with crowdline::postgres):
// `--db postgresql://user@host/db --schema NAME` (docs/store.md); `serve` then keeps its links in the schema.
// Every flag is a key of `program_args` (command_line.hpp): `--db F`, `--db=F` and `db=F` are the same.
// `--campaign F` serves every run a campaign file declares (docs/campaign.md) through one operator; the
// file's db, server and store settings apply under the command line's. `--tasks/--workers/--form` is the
// one-run short form. With neither, `serve` runs the built-in demo: two runs — multilingual texts to label
// by sentiment for four annotators who read different languages, and headlines to sort by topic for two
// others. Invite links (`/?invite=…&run=<run>`) and the review link are printed; they are kept next to
// the database (<db>.secrets.json), so a restart resumes each run with the same links. A completed run
// stays completed: `serve` shows its review page again; `--new-run` starts another run.
// One server per database: `<db>.lock` holds the serving process's PID under an flock; a PostgreSQL schema is
// held by an advisory lock (serve_postgres.cpp).
// A campaign's Prolific runs are served through providers::prolific (prolific_serve.hpp, docs/prolific.md):
// their ledger is `<db>.prolific`; `--sandbox URL` points them at another API than Prolific's.
//
// The parts: program_args.hpp (the settings), demo.hpp, files.hpp (links, lock, input files), serve.hpp
// (serve, a template on where the campaign is kept, compiled in serve_sqlite.cpp and serve_postgres.cpp),
// commands.hpp (status, review, export, quality).

#include <algorithm>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "campaign_file.hpp"
#include "commands.hpp"
#include "demo.hpp"
#include "files.hpp"
#include "program_args.hpp"
#include "serve.hpp"  // declares serve_from_sqlite/postgres; its templates are instantiated in their own TUs

using namespace crowdline_serve;

namespace {

/// `crowdline serve`: a campaign file's runs, the one run of --tasks, or the built-in two-run demo, from
/// an SQLite file or (built with crowdline::postgres) a PostgreSQL schema.
int serve(program_args cfg, std::optional<campaign_spec> campaign) {
    auto const from = [&cfg](campaign_spec spec, bool flat_links, std::string const& what) {
        if (!is_postgres_url(cfg.db)) return serve_from_sqlite(cfg, std::move(spec), flat_links, what);
#ifdef CROWDLINE_WITH_POSTGRES
        return serve_from_postgres(cfg, std::move(spec), flat_links, what);
#else
        refuse_postgres_not_built();
#endif
    };
    if (campaign) {
        check_prolific_runs(*campaign, cfg.campaign);
        return from(std::move(*campaign), false, cfg.campaign);
    }
    if (cfg.tasks.empty()) return from(demo_campaign(cfg), false, "the built-in demo");
    return from(short_form_campaign(cfg), true, cfg.tasks);
}

/// A campaign file, read and checked whole (every file it names too), and the settings it gives: its
/// `db` (relative to the file's folder), `server` and `store` — under what the command line sets itself.
campaign_spec load_campaign(program_args& cfg) {
    if (!cfg.tasks.empty() || !cfg.workers.empty() || !cfg.form.empty())
        throw config_error("--campaign: the campaign file names each run's tasks, workers and form; drop "
                           "--tasks/--workers/--form");
    auto spec = parse_campaign(read_file(cfg.campaign), cfg.campaign, [](std::string const& path) { return read_file(path); },
                               {.lazy_task_files = true});
    auto const folder = std::filesystem::path(cfg.campaign).parent_path();
    auto db = std::filesystem::path(spec.db);
    if (!is_postgres_url(spec.db)) spec.db = db.is_absolute() ? db.string() : (folder / db).string();
    return spec;
}

/// Binds the campaign's settings onto `cfg` (the command line is applied again after, so it wins).
void apply_campaign(program_args& cfg, campaign_spec const& spec) {
    cfg.db = spec.db;
    auto const at = [&](char const* key, auto& settings, json const& j) {
        try {
            config::load(settings, j);
        } catch (config_error const& e) {
            throw config_error(cfg.campaign + ": /" + key + ": " + e.what());
        }
    };
    at("server", cfg.server, spec.server);
    at("store", cfg.store, spec.store);
}

void usage(std::ostream& out) {
    out << "usage: crowdline serve  [--campaign F.json] [--db F] [--host H] [--port N] [--new-run] [key=value …]\n"
           "       crowdline serve  --tasks F.jsonl [--workers F.json] [--form F.json] [--db F] …  (one run)\n"
           "       crowdline status [--db F] [--run N]\n"
           "       crowdline review [--db F] [--run N] [approve|reject|soft_reject <agent_id> [note]]\n"
           "       crowdline export [--db F] [--run N] [--format jsonl] [--out F] [--aggregate majority|dawid_skene]\n"
           "                        [--field NAME]\n"
           "       crowdline quality [--db F] [--run N] [--field NAME] [--json]\n\n"
           "Without --campaign or --tasks, serve runs the built-in two-run demo.\n"
           "A completed run stays completed: serve shows its review page again; --new-run starts a new run.\n"
           "status, export and quality cover every run in the file unless --run picks one.\n"
           "--db postgresql://user@host/db --schema NAME keeps the campaign in PostgreSQL instead of a file\n"
           "(a crowdline built with crowdline::postgres; one serve per schema).\n"
           "quality and export --aggregate measure each label field of the answers: a field whose value is a string,\n"
           "a boolean or an integer in every answer that has it (--field NAME picks one); an item is a task\n"
           "(assignment), its answers those of its done units.\n\n"
        << command_line_help(default_args(), flag_aliases);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto const flags_end = std::ranges::find(args, "--");
    bool const help = std::any_of(args.begin(), flags_end, [](auto const& a) { return a == "--help" || a == "-h"; });
    if (args.empty() || help) {
        usage(args.empty() ? std::cerr : std::cout);
        return args.empty() ? 2 : 0;
    }
    auto const& command = args[0];
    if (command != "serve" && command != "status" && command != "review" && command != "export" &&
        command != "quality") {
        std::cerr << "crowdline: unknown command \"" << command << "\"\n";
        usage(std::cerr);
        return 2;
    }
    try {
        auto cfg = default_args();
        auto const bind = [&](program_args& into) {
            return bind_command_line(into, std::span(args).subspan(1),
                                     {.aliases = flag_aliases, .help_command = "crowdline --help"});
        };
        auto rest = bind(cfg);
        std::optional<campaign_spec> campaign;
        if (!cfg.campaign.empty()) {  // the file's settings first, then the command line's over them
            campaign = load_campaign(cfg);
            auto with_file = default_args();
            with_file.campaign = cfg.campaign;
            apply_campaign(with_file, *campaign);
            rest = bind(with_file);
            cfg = std::move(with_file);
        }
        if (cfg.task.task_name.empty())
            cfg.task.task_name = cfg.tasks.empty() ? "crowdline-demo" : std::filesystem::path(cfg.tasks).stem().string();
        config::validate(cfg);
        if (command != "review" && !rest.empty())
            throw config_error(command + ": unexpected argument \"" + rest.front() + "\" (see crowdline --help)");
        if (command == "serve") return serve(std::move(cfg), std::move(campaign));
        return with_existing_store(cfg, [&](auto& db) {
            if (command == "status") return status(db, cfg);
            if (command == "review") return review_cmd(db, cfg, rest);
            if (command == "quality") return quality_cmd(db, cfg);
            return export_cmd(db, cfg);
        });
    } catch (std::exception const& e) {
        std::cerr << "crowdline: " << e.what() << "\n";
        return 1;
    }
}
