#pragma once
// The `crowdline` program's settings, one struct for every command (each key is also a flag: `--db F`,
// `--db=F` and `db=F` are the same), and how the database it names is told apart and named in messages.
// The first of the program's headers every TU includes: it brings the library with the HTTP server and
// stores::sqlite (and stores::postgres when the program links crowdline::postgres).

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#define CROWDLINE_WITH_HTTP    // the umbrella then brings the HTTP architect and the review API
#define CROWDLINE_WITH_SQLITE  // … and stores::sqlite
#include <crowdline/crowdline.hpp>
#ifdef CROWDLINE_WITH_POSTGRES  // linked with crowdline::postgres
#include <crowdline/store/postgres.hpp>
#endif

#include "campaign.hpp"
#include "command_line.hpp"
#include "prolific_serve.hpp"

namespace crowdline_serve {

using namespace crowdline;

/// Everything the command line sets, for every command: each key is also a flag (`--db F`, `--new-run`).
struct program_args {
    std::string db = "crowdline.db";
    std::string schema = "crowdline";  ///< PostgreSQL: the schema holding the campaign
    std::string campaign{};     ///< a campaign file (ARCHITECTURE §12): its runs, database and server
    std::string tasks{};        ///< JSON lines, one task per line; empty: the demo
    std::string workers{};      ///< JSON list of {name, <profile_key>: [...]}; empty: the demo's
    std::string form{};         ///< static_form JSON ({"fields": [...]}); empty: a sentiment choice
    std::string route_by = "lang";
    std::string profile_key = "languages";
    double overlap = 2;         ///< annotations per task (fractional: average)
    std::size_t status_every_seconds = 10;
    bool new_run = false;       ///< start a new run even though the last one is complete
    std::optional<std::int64_t> run{};  ///< the task run status, review, export and quality look at; none: every run
    std::string format = "jsonl";
    std::string out{};          ///< export's file; empty: standard output
    std::string aggregate{};    ///< export: majority or dawid_skene, one line per item; empty: one per result
    std::string field{};        ///< quality, export --aggregate: the output field; empty: every label field
    bool json = false;          ///< quality: one JSON document instead of tables
    task_run_args task{};
    architects::http_args server{};
    stores::sqlite_options store{};  ///< the SQLite file's settings (`store.page_size=4096`, …)
    prolific_serve_args prolific{};  ///< Prolific runs: `--sandbox URL`, `--sandbox-ca F` (prolific_serve.hpp)

    static constexpr std::array<config::description, 17> descriptions{{
        {"db", "the campaign's database: an SQLite file, or a PostgreSQL URL (postgresql://user@host/db)"},
        {"schema", "with --db postgresql://…: the schema holding the campaign"},
        {"campaign", "a campaign file: one or more runs, the database and the server (docs/campaign.md)"},
        {"tasks", "serve: tasks, one JSON object per line (empty: the built-in demo)"},
        {"workers", "serve: annotators, a JSON list of {\"name\", \"languages\": [...]} (empty: the demo's four)"},
        {"form", "serve: the form, as static_form JSON {\"fields\": [...]} (empty: a sentiment choice over {{text}})"},
        {"route_by", "serve: task field that decides who may take it (empty: anyone)"},
        {"profile_key", "serve: worker field listing the values of route_by they may take"},
        {"overlap", "serve: annotations per task (2.5: two or three, three on half of them)"},
        {"status_every_seconds", "serve: how often it prints progress"},
        {"new_run", "serve: start a new run of the tasks even though the last one is complete"},
        {"run", "status, review, export, quality: the task run (null: every run; review: the latest)"},
        {"format", "export: the output format (jsonl)"},
        {"out", "export: the file to write (empty: standard output)"},
        {"aggregate", "export: one line per item with its label by majority or dawid_skene (empty: one line per result)"},
        {"field", "quality, export --aggregate: the output field to measure (empty: every field whose value is a "
                  "string, boolean or integer in every answer that has it)"},
        {"json", "quality: print one JSON document instead of tables"},
    }};
    void validate() const {
        if (db.empty()) throw config_error("db: must not be empty");
        if (schema.empty()) throw config_error("schema: must not be empty");
        if (!(overlap >= 1 && overlap <= 20)) throw config_error("overlap: must be between 1 and 20");
        if (run && *run < 1)
            throw config_error("run: expected a task run id (a positive number; `crowdline status` lists them), got " +
                               std::to_string(*run));
    }
};

/// A PostgreSQL URL rather than an SQLite file.
inline bool is_postgres_url(std::string_view db) { return db.starts_with("postgresql://") || db.starts_with("postgres://"); }

/// A `postgresql://` --db given to a program built without crowdline::postgres.
[[noreturn]] inline void refuse_postgres_not_built() {
    throw config_error("--db postgresql://…: this crowdline was built without PostgreSQL (configure it with "
                       "-DCROWDLINE_WITH_POSTGRES=ON)");
}

/// How messages name the database: the file, or the PostgreSQL schema (never the URL: it may hold a password).
inline std::string db_name(program_args const& cfg) {
    return is_postgres_url(cfg.db) ? "postgresql schema \"" + cfg.schema + "\"" : cfg.db;
}

/// Flags spelled other than their keys.
inline constexpr std::array<flag_alias, 4> flag_aliases{{{"host", "server.host"}, {"port", "server.port"},
                                                   {"sandbox", "prolific.sandbox"}, {"sandbox-ca", "prolific.sandbox_ca"}}};

/// The settings before the command line's.
inline program_args default_args() {
    program_args cfg;
    cfg.task = default_task_args();
    return cfg;
}

}  // namespace crowdline_serve

BOOST_HANA_ADAPT_STRUCT(crowdline_serve::program_args, db, schema, campaign, tasks, workers, form, route_by, profile_key, overlap, status_every_seconds,
                        new_run, run, format, out, aggregate, field, json, task, server, store, prolific);
