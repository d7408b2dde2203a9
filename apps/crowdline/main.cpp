// crowdline — the program a team runs: serve a labelling campaign to named annotators over HTTP, watch it,
// review it, export it.
//
//   crowdline serve  [--tasks tasks.jsonl] [--workers workers.json] [--form form.json] [--db crowdline.db]
//                    [--host 127.0.0.1] [--port 8080] [--new-run] [key=value …]
//   crowdline status [--db crowdline.db] [--run N]
//   crowdline review [--db crowdline.db] [--run N] [approve|reject|soft_reject <agent_id> [note]]
//   crowdline export [--db crowdline.db] [--run N] [--format jsonl] [--out FILE]
//
// Every flag is a key of `program_args` (command_line.hpp): `--db F`, `--db=F` and `db=F` are the same.
// Without --tasks/--workers, `serve` runs the built-in demo: multilingual texts to label by sentiment and
// four annotators who read different languages. Invite links and the review link are printed; they are
// kept next to the database (<db>.secrets.json), so a restart resumes the run with the same links. A
// completed run stays completed: `serve` shows its review page again; `--new-run` starts another run.
// One server per database file: `<db>.lock` holds the serving process's PID under an flock.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#define CROWDLINE_WITH_HTTP  // the umbrella then brings the HTTP architect and the review API
#include <crowdline/crowdline.hpp>

#include "campaign.hpp"
#include "command_line.hpp"

using namespace crowdline;
using json = nlohmann::json;
using namespace crowdline_serve;

namespace {

// ---- settings ------------------------------------------------------------------------------------------

/// Everything the command line sets, for every command: each key is also a flag (`--db F`, `--new-run`).
struct program_args {
    std::string db = "crowdline.db";
    std::string tasks{};        ///< JSON lines, one task per line; empty: the demo
    std::string workers{};      ///< JSON list of {name, <profile_key>: [...]}; empty: the demo's
    std::string form{};         ///< static_form JSON ({"fields": [...]}); empty: a sentiment choice
    std::string route_by = "lang";
    std::string profile_key = "languages";
    double overlap = 2;         ///< annotations per task (fractional: average)
    std::size_t status_every_seconds = 10;
    bool new_run = false;       ///< start a new run even though the last one is complete
    std::optional<std::int64_t> run{};  ///< the task run status, review and export look at; none: every run
    std::string format = "jsonl";
    std::string out{};          ///< export's file; empty: standard output
    task_run_args task{};
    architects::http_args server{};
    stores::sqlite_options store{};  ///< the SQLite file's settings (`store.page_size=4096`, …)

    static constexpr std::array<config::description, 12> descriptions{{
        {"db", "SQLite file holding the campaign"},
        {"tasks", "serve: tasks, one JSON object per line (empty: the built-in demo)"},
        {"workers", "serve: annotators, a JSON list of {\"name\", \"languages\": [...]} (empty: the demo's four)"},
        {"form", "serve: the form, as static_form JSON {\"fields\": [...]} (empty: a sentiment choice over {{text}})"},
        {"route_by", "serve: task field that decides who may take it (empty: anyone)"},
        {"profile_key", "serve: worker field listing the values of route_by they may take"},
        {"overlap", "serve: annotations per task (2.5: two or three, three on half of them)"},
        {"status_every_seconds", "serve: how often it prints progress"},
        {"new_run", "serve: start a new run of the tasks even though the last one is complete"},
        {"run", "status, review, export: the task run (null: every run; review: the latest)"},
        {"format", "export: the output format (jsonl)"},
        {"out", "export: the file to write (empty: standard output)"},
    }};
    void validate() const {
        if (db.empty()) throw config_error("db: must not be empty");
        if (!(overlap >= 1 && overlap <= 20)) throw config_error("overlap: must be between 1 and 20");
        if (run && *run < 1)
            throw config_error("run: expected a task run id (a positive number; `crowdline status` lists them), got " +
                               std::to_string(*run));
    }
};

/// Flags spelled other than their keys.
constexpr std::array<flag_alias, 2> flag_aliases{{{"host", "server.host"}, {"port", "server.port"}}};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(program_args, db, tasks, workers, form, route_by, profile_key, overlap, status_every_seconds,
                        new_run, run, format, out, task, server, store);

namespace {

// ---- the demo -------------------------------------------------------------------------------------------

std::vector<json> demo_tasks() {
    struct row { char const* lang; char const* text; };
    static constexpr row rows[] = {
        {"en", "The new library opened today and the reading room is wonderful."},
        {"en", "My train was cancelled again, the third time this week."},
        {"en", "The report is due on Friday."},
        {"en", "What a lovely surprise to find the garden in bloom!"},
        {"en", "The soup was cold and the waiter ignored us."},
        {"en", "The museum is open from nine to five."},
        {"fr", "Le concert d'hier soir était magnifique."},
        {"fr", "Je suis déçu, le colis est arrivé cassé."},
        {"fr", "La réunion commence à dix heures."},
        {"fr", "Quelle belle journée pour une promenade !"},
        {"fr", "Le service client ne répond jamais."},
        {"de", "Das Essen war ausgezeichnet und der Service freundlich."},
        {"de", "Der Zug hatte schon wieder zwei Stunden Verspätung."},
        {"de", "Die Bibliothek schließt um achtzehn Uhr."},
        {"de", "Ich freue mich sehr auf den Urlaub."},
        {"es", "La película fue aburrida y demasiado larga."},
        {"es", "¡Me encanta este barrio, todo el mundo es amable!"},
        {"es", "El museo abre a las diez."},
    };
    std::vector<json> out;
    for (auto const& r : rows) out.push_back({{"lang", r.lang}, {"text", r.text}});
    return out;
}

json demo_workers() {
    return json::array({{{"name", "alice"}, {"languages", {"en", "fr"}}},
                        {{"name", "bruno"}, {"languages", {"fr", "es"}}},
                        {{"name", "chen"}, {"languages", {"en", "de"}}},
                        {{"name", "dana"}, {"languages", {"de", "es", "en"}}}});
}

// ---- input files ----------------------------------------------------------------------------------------

std::string read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(path + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw config_error(path + ": cannot read (" + std::strerror(errno) + ")");
    return s.str();
}

/// The links survive restarts: kept beside the database, readable by its owner only.
json load_secrets(std::string const& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return json::object();
    auto secrets = parse_json_text(read_file(path), path);
    if (!secrets.is_object()) throw config_error(path + ": expected a JSON object");
    if (secrets.contains("invites") && !secrets["invites"].is_object())
        throw config_error(path + ": invites: expected an object (name → token)");
    if (secrets.contains("revoked") && !secrets["revoked"].is_array())
        throw config_error(path + ": revoked: expected a list of names");
    if (secrets.contains("requester_token") && !secrets["requester_token"].is_string())
        throw config_error(path + ": requester_token: expected a string");
    return secrets;
}

/// Written whole or not at all, and never readable by others for a moment: a temporary file in the same
/// folder made 0600 by open() itself (O_EXCL), written, fsync'ed, then renamed over the old one.
void save_secrets(std::string const& path, json const& secrets) {
    auto const text = secrets.dump(2) + "\n";
    std::string temp;
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
        temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(attempt);
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && (errno != EEXIST || attempt >= 100))
            throw error(temp + ": cannot create (" + std::strerror(errno) + ")");
    }
    auto fail = [&](char const* what) {
        auto const why = std::string(std::strerror(errno));
        ::close(fd);
        ::unlink(temp.c_str());
        throw error(temp + ": cannot " + what + " (" + why + ")");
    };
    for (std::size_t done = 0; done < text.size();) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) fail("sync");
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        auto const why = std::string(std::strerror(errno));
        ::unlink(temp.c_str());
        throw error(path + ": cannot replace (" + why + ")");
    }
}

/// One `crowdline serve` per database file, for the server's whole life: an flock on `<db>.lock`, which
/// holds the PID of the process serving. The kernel drops the lock when the process ends, however it ends
/// (SIGKILL too), so a stale file never blocks a start. Not fcntl locks on the database itself: SQLite
/// uses those, and closing any descriptor of the file would drop them. The file is left in place.
class server_lock {
public:
    explicit server_lock(std::string const& db) : path_(db + ".lock") {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw error(path_ + ": cannot open the lock file (" + std::strerror(errno) + ")");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            int const why = errno;
            auto const holder = read_holder();
            ::close(fd_);
            if (why == EWOULDBLOCK)
                throw config_error(db + ": another crowdline serve (PID " + holder +
                                   ") is serving this database; stop it first, or use another --db (lock: " + path_ + ")");
            throw error(path_ + ": cannot lock (" + std::strerror(why) + ")");
        }
        auto const pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
            auto const why = std::string(std::strerror(errno));
            ::close(fd_);
            throw error(path_ + ": cannot write the PID (" + why + ")");
        }
    }
    server_lock(server_lock const&) = delete;
    server_lock& operator=(server_lock const&) = delete;
    ~server_lock() { ::close(fd_); }

private:
    /// The holder's PID; a holder that has just taken the lock may not have written it yet.
    std::string read_holder() const {
        for (int attempt = 0; attempt < 20; ++attempt) {
            char buf[32] = {};
            auto n = ::pread(fd_, buf, sizeof buf - 1, 0);
            std::string pid(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            if (!pid.empty()) return pid;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return "unknown";
    }
    std::string path_;
    int fd_ = -1;
};

/// The HTTP architect as the pipeline sees it, minus the pipeline's right to stop it: a finished run
/// still serves the review page, and a worker who arrives late gets `no_work` (run_not_active) instead of
/// a dead server. The program shuts the server down itself, on Ctrl-C.
struct kept_serving {
    architects::http& server;
    void prepare() { server.prepare(); }
    std::string deploy() { return server.deploy(); }
    void shutdown() {}
    architects::http_channel& channel() { return server.channel(); }
};
static_assert(architect<kept_serving>);

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

/// One progress line: units done and in hand (the store), workers present and steals (the dispatcher).
template <class Run>
void print_progress(Run& run) {
    auto const s = run.summary();
    auto [counts, workers] = run.locked([](auto&, auto&, auto const& d) { return std::pair{d.counts(), d.joined_workers()}; });
    auto done = s.units(unit_status::completed) + s.units(unit_status::accepted) + s.units(unit_status::rejected) +
                s.units(unit_status::soft_rejected);
    std::cerr << "[progress] " << done << "/" << s.units() << " units done, " << s.units(unit_status::assigned)
              << " in hand, " << workers << " workers present, " << counts.steals << " steals\n";
}

/// The run `serve` shows again instead of starting one: the task's latest run when it is complete (and
/// none is open). With `--new-run`, none — and an open run is refused, since it would only be resumed.
std::optional<task_run_id> completed_run_to_show(stores::sqlite& db, std::string const& task_name, bool new_run) {
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

int serve(program_args cfg) {
    bool const demo = cfg.tasks.empty();
    // Everything is read and checked before anything is written.
    std::string const form_name = cfg.form.empty() ? std::string("form") : cfg.form;
    json form_spec = cfg.form.empty() ? default_form() : parse_form(read_file(cfg.form), cfg.form);
    auto tasks = demo ? demo_tasks()
                      : parse_tasks(read_file(cfg.tasks), cfg.tasks, form_placeholders(form_spec), cfg.route_by);
    auto secrets_path = cfg.db + ".secrets.json";
    auto secrets = load_secrets(secrets_path);
    std::string const workers_name = cfg.workers.empty() ? std::string("demo workers") : cfg.workers;
    auto roster = roster_from_json(cfg.workers.empty() ? demo_workers() : parse_json_text(read_file(cfg.workers), cfg.workers),
                                   workers_name, cfg.profile_key, secrets.value("invites", json::object()));
    form_spec["items"] = tasks;
    blueprints::static_form form = [&] {
        try {
            return blueprints::static_form::from_json(form_spec);
        } catch (config_error const& e) {
            throw config_error(form_name + ": " + e.what());
        }
    }();
    std::optional<providers::in_house> crowd_slot;
    try {
        crowd_slot.emplace(roster);
    } catch (error const& e) {  // e.g. two workers given the same link in the secrets file
        throw config_error(workers_name + ": " + e.what());
    }
    auto& crowd = *crowd_slot;

    if (!secrets.contains("requester_token")) secrets["requester_token"] = crowdline::random_token();
    // Links revoked from the review page stay revoked after a restart (a renewed one is simply the token kept).
    auto const revoked = secrets.value("revoked", json::array());
    for (auto const& w : crowd.roster())
        if (std::ranges::find(revoked, json(w.name)) != revoked.end()) crowd.revoke_link(w.name);
    auto keep_links = [&] {
        secrets["invites"] = json::object();
        secrets["revoked"] = json::array();
        for (auto const& w : crowd.roster()) {
            secrets["invites"][w.name] = w.token;
            if (crowd.is_revoked(w.name)) secrets["revoked"].push_back(w.name);
        }
        save_secrets(secrets_path, secrets);
    };

    // [serve]
    // The same pipeline as any other campaign: only the architect (HTTP) and the provider (invite links)
    // differ from a simulation's. The server binds before the store opens, so a host that does not resolve
    // or a port in use fails before any file is made; the review API is added before the run starts.
    architects::http server{cfg.server};
    server.prepare();
    server_lock lock{cfg.db};  // a second server on this file is refused here, before it writes anything
    stores::sqlite db{cfg.db, cfg.store};
    auto const show_completed = completed_run_to_show(db, cfg.task.task_name, cfg.new_run);
    keep_links();
    auto dispatcher =
        make_routing(cfg.overlap, std::chrono::seconds(cfg.task.assignment_duration_in_seconds), !cfg.route_by.empty());
    pipeline run{std::move(form), kept_serving{server}, crowd, std::move(dispatcher), db, cfg.task, {},
                 item_by{cfg.route_by}};
    if (show_completed) run.reopen_completed(*show_completed);  // a completed run stays completed
    add_review_routes(server, run,
                      {.requester_token = secrets["requester_token"], .group_by = cfg.route_by, .links_changed = keep_links});
    auto id = run.launch();
    // [serve]
    auto url = run.url();
    auto const review_link = url + "/review#token=" + secrets["requester_token"].get<std::string>();
    std::cerr << "crowdline: " << tasks.size() << " tasks" << (demo ? " (the built-in demo)" : "") << ", "
              << roster.size() << " workers, database " << cfg.db << "\n";
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (show_completed) {
        std::cout << "Task run " << id.value() << " is complete: nothing more is handed out, and workers who open "
                  << "their link are told the run is over.\n\nReview page (keep it private):\n  " << review_link
                  << "\n\nServing it at " << url << " until Ctrl-C. `crowdline export` writes the results; "
                  << "`crowdline serve --new-run` starts a new run of these tasks.\n"
                  << std::flush;
    } else {
        std::cout << "Serving task run " << id.value() << " at " << url << "\n\nInvite links (send each person their own):\n";
        for (auto const& w : crowd.roster()) {
            auto keys = w.profile.value("keys", json::array());
            std::cout << "  " << w.name << (keys.empty() ? "" : " (" + keys.dump() + ")") << "  "
                      << (crowd.is_revoked(w.name) ? std::string("link revoked (\"New link\" on the review page)")
                                                   : crowd.invite_link(w.name, url))
                      << "\n";
        }
        std::cout << "\nReview page (keep it private):\n  " << review_link
                  << "\n\nStop with Ctrl-C; running again resumes.\n" << std::flush;
    }

    auto last_status = std::chrono::steady_clock::now();
    while (!g_stop && run.is_active() && !run.is_complete()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        run.tick();
        if (std::chrono::steady_clock::now() - last_status >= std::chrono::seconds(cfg.status_every_seconds)) {
            last_status = std::chrono::steady_clock::now();
            print_progress(run);
        }
    }
    bool const complete = run.is_complete();
    if (!show_completed) print_progress(run);
    if (complete && !run.failure()) {
        if (!show_completed)
            std::cout << "The run is complete. The review page stays up until Ctrl-C; then `crowdline export`.\n"
                      << std::flush;
        while (!g_stop && !run.failure()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } else if (!run.failure()) {
        run.shutdown();
        std::cout << "Stopped; run the same command again to resume.\n";
    }
    server.shutdown();
    // A run the pipeline stopped on its own (the store refused a write: disk full, file made read-only …)
    // is a failure of the program: say why and exit non-zero, so a supervisor or script sees it.
    if (auto f = run.failure()) {
        std::cerr << "crowdline: the run stopped: " << *f << "\ncrowdline: nothing acknowledged was lost; fix the "
                  << "cause and run the same command again to resume.\n";
        return 1;
    }
    return 0;
}

// ---- status / review / export -----------------------------------------------------------------------------

/// Every run in the file, oldest first, with its task's name.
std::vector<std::pair<task_run, std::string>> all_runs(stores::sqlite& db) {
    std::vector<std::pair<task_run, std::string>> out;
    for (auto const& t : db.find_tasks({}))
        for (auto const& r : db.find_task_runs({.task = t.id})) out.emplace_back(r, t.name);
    std::ranges::sort(out, {}, [](auto const& p) { return p.first.id.value(); });
    return out;
}

/// The runs `--run N` names (every run when it is empty); an unknown N is an error naming the runs there are.
std::vector<std::pair<task_run, std::string>> chosen_runs(stores::sqlite& db, std::string const& path,
                                                         std::optional<std::int64_t> run) {
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

stores::sqlite open_existing(std::string const& path) {
    if (!std::filesystem::exists(path)) throw config_error(path + ": no such database (run `crowdline serve` first)");
    return stores::sqlite{path};
}

int status(program_args const& cfg) {
    auto db = open_existing(cfg.db);
    auto runs = chosen_runs(db, cfg.db, cfg.run);
    if (runs.empty()) {
        std::cout << cfg.db << ": no task run yet\n";
        return 0;
    }
    for (auto const& [r, name] : runs) {
        auto s = summarize_run(db, r.id);
        std::cout << "task run " << r.id.value() << " of \"" << name << "\" (" << (r.is_completed ? "complete" : "open")
                  << "): " << s.assignments << " tasks, " << s.units() << " units, " << s.workers << " workers\n";
        auto const by_status = s.to_json()["units"];
        for (auto const& [st, n] : by_status.items())
            if (n.get<std::size_t>() > 0)
                std::cout << "  " << st << std::string(16 - std::min<std::size_t>(15, st.size()), ' ') << n << "\n";
    }
    return 0;
}

int review_cmd(program_args const& cfg, std::vector<std::string> const& rest) {
    auto db = open_existing(cfg.db);
    auto runs = chosen_runs(db, cfg.db, cfg.run);
    if (runs.empty()) throw config_error(cfg.db + ": no task run to review");
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
    auto a = db.get_agent(agent_id{id});
    auto note = rest.size() > 2 ? rest[2] : std::string{};
    if (rest[0] == "approve") review::approve(db, crowd, a.unit, note);
    else if (rest[0] == "reject") review::reject(db, crowd, a.unit, note);
    else if (rest[0] == "soft_reject") review::soft_reject(db, crowd, a.unit, note);
    else throw config_error("review: unknown action \"" + rest[0] + "\"");
    std::cout << "agent " << a.id.value() << ": " << to_string(db.get_unit(a.unit).status) << "\n";
    return 0;
}

/// Results of every run (or the one `--run` picks), one JSON line each, each carrying its `task_run_id`
/// and `task_name` so runs stay apart in one file.
int export_cmd(program_args const& cfg) {
    if (cfg.format != "jsonl") throw config_error("--format: only jsonl is supported, got \"" + cfg.format + "\"");
    auto const& out_path = cfg.out;
    auto db = open_existing(cfg.db);
    auto runs = chosen_runs(db, cfg.db, cfg.run);
    if (runs.empty()) throw config_error(cfg.db + ": no task run to export");
    std::ofstream file;
    if (!out_path.empty()) {
        file.open(out_path, std::ios::trunc);
        if (!file) throw config_error(out_path + ": cannot write");
    }
    std::ostream& out = out_path.empty() ? std::cout : file;
    std::size_t n = 0;
    for (auto const& [r, name] : runs)
        for (auto&& result : data_browser{db}.results_for_run(r.id)) {
            auto line = to_export_json(result);
            line["task_run_id"] = r.id.value();
            line["task_name"] = name;
            out << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
            if (!out) throw error((out_path.empty() ? std::string("standard output") : out_path) +
                                  ": writing failed after " + std::to_string(n) + " lines");
            ++n;
        }
    out.flush();
    std::cerr << "exported " << n << " results from " << runs.size() << " task run" << (runs.size() == 1 ? "" : "s") << "\n";
    return 0;
}

/// The settings before the command line's.
program_args default_args() {
    program_args cfg;
    cfg.task = default_task_args();
    return cfg;
}

void usage(std::ostream& out) {
    out << "usage: crowdline serve  [--tasks F.jsonl] [--workers F.json] [--form F.json] [--db F] [--host H] [--port N] "
           "[--new-run] [key=value …]\n"
           "       crowdline status [--db F] [--run N]\n"
           "       crowdline review [--db F] [--run N] [approve|reject|soft_reject <agent_id> [note]]\n"
           "       crowdline export [--db F] [--run N] [--format jsonl] [--out F]\n\n"
           "A completed run stays completed: serve shows its review page again; --new-run starts a new run.\n"
           "status and export cover every run in the file unless --run picks one.\n\n"
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
    if (command != "serve" && command != "status" && command != "review" && command != "export") {
        std::cerr << "crowdline: unknown command \"" << command << "\"\n";
        usage(std::cerr);
        return 2;
    }
    try {
        auto cfg = default_args();
        auto const rest =
            bind_command_line(cfg, std::span(args).subspan(1), {.aliases = flag_aliases, .help_command = "crowdline --help"});
        if (cfg.task.task_name.empty())
            cfg.task.task_name = cfg.tasks.empty() ? "crowdline-demo" : std::filesystem::path(cfg.tasks).stem().string();
        config::validate(cfg);
        if (command != "review" && !rest.empty())
            throw config_error(command + ": unexpected argument \"" + rest.front() + "\" (see crowdline --help)");
        if (command == "serve") return serve(std::move(cfg));
        if (command == "status") return status(cfg);
        if (command == "review") return review_cmd(cfg, rest);
        return export_cmd(cfg);
    } catch (std::exception const& e) {
        std::cerr << "crowdline: " << e.what() << "\n";
        return 1;
    }
}
