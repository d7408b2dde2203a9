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
// Every flag is a key of `program_args` (command_line.hpp): `--db F`, `--db=F` and `db=F` are the same.
// `--campaign F` serves every run a campaign file declares (docs/campaign.md) through one operator; the
// file's db, server and store settings apply under the command line's. `--tasks/--workers/--form` is the
// one-run short form. With neither, `serve` runs the built-in demo: two runs — multilingual texts to label
// by sentiment for four annotators who read different languages, and headlines to sort by topic for two
// others. Invite links (`/?invite=…&run=<run>`) and the review link are printed; they are kept next to
// the database (<db>.secrets.json), so a restart resumes each run with the same links. A completed run
// stays completed: `serve` shows its review page again; `--new-run` starts another run.
// One server per database file: `<db>.lock` holds the serving process's PID under an flock.
// A campaign's Prolific runs are served through providers::prolific (prolific_serve.hpp, docs/prolific.md):
// their ledger is `<db>.prolific`; `--sandbox URL` points them at another API than Prolific's.

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
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#define CROWDLINE_WITH_HTTP    // the umbrella then brings the HTTP architect and the review API
#define CROWDLINE_WITH_SQLITE  // … and stores::sqlite
#include <crowdline/crowdline.hpp>

#include "campaign.hpp"
#include "campaign_file.hpp"
#include "command_line.hpp"
#include "quality_report.hpp"
#include "prolific_serve.hpp"

using namespace crowdline;
using json = nlohmann::json;
using namespace crowdline_serve;

namespace {

// ---- settings ------------------------------------------------------------------------------------------

/// Everything the command line sets, for every command: each key is also a flag (`--db F`, `--new-run`).
struct program_args {
    std::string db = "crowdline.db";
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

    static constexpr std::array<config::description, 16> descriptions{{
        {"db", "SQLite file holding the campaign"},
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
        if (!(overlap >= 1 && overlap <= 20)) throw config_error("overlap: must be between 1 and 20");
        if (run && *run < 1)
            throw config_error("run: expected a task run id (a positive number; `crowdline status` lists them), got " +
                               std::to_string(*run));
    }
};

/// Flags spelled other than their keys.
constexpr std::array<flag_alias, 4> flag_aliases{{{"host", "server.host"}, {"port", "server.port"},
                                                   {"sandbox", "prolific.sandbox"}, {"sandbox-ca", "prolific.sandbox_ca"}}};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(program_args, db, campaign, tasks, workers, form, route_by, profile_key, overlap, status_every_seconds,
                        new_run, run, format, out, aggregate, field, json, task, server, store, prolific);

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

/// The second demo run: headlines to sort by topic, by two annotators of its own who each label every one
/// (`overlap: "full"`), whatever language they read.
std::vector<json> topic_tasks() {
    static constexpr char const* headlines[] = {
        "Parliament passes the new budget after a late-night vote",
        "Local team wins the cup with a goal in extra time",
        "Telescope finds water vapour on a distant planet",
        "The city orchestra opens its season with Mahler",
        "Chip maker's shares jump after record quarterly profit",
        "Marathon runners brave the rain in record numbers",
    };
    std::vector<json> out;
    for (auto const* h : headlines) out.push_back({{"text", h}});
    return out;
}

json topic_form() {
    return {{"fields",
             {{{"type", "display_text"}, {"name", "text"}, {"label", "Headline"}, {"text", "{{text}}"}},
              {{"type", "single_choice"},
               {"name", "topic"},
               {"label", "Topic"},
               {"options", {"politics", "sport", "science", "culture", "business"}}}}}};
}

/// The built-in demo: two runs in one server, each with its own annotators, form and routing.
campaign_spec demo_campaign(program_args const& cfg) {
    campaign_spec spec;
    spec.db = cfg.db;
    campaign_run sentiment;
    sentiment.name = "sentiment";
    sentiment.tasks = demo_tasks();
    sentiment.task_count = sentiment.tasks.size();
    sentiment.workers = demo_workers();
    sentiment.route_by = cfg.route_by;
    sentiment.profile_key = cfg.profile_key;
    sentiment.overlap = cfg.overlap;
    sentiment.task = cfg.task;
    sentiment.task.task_name = sentiment.name;
    spec.runs.push_back(std::move(sentiment));

    campaign_run topics;
    topics.name = "topics";
    topics.tasks = topic_tasks();
    topics.task_count = topics.tasks.size();
    topics.workers = json::array({{{"name", "emma"}}, {{"name", "farid"}}});
    topics.form = topic_form();
    topics.route_by = "";
    topics.full_overlap = true;
    topics.task = cfg.task;
    topics.task.task_name = topics.name;
    topics.task.task_title = "Sort headlines by topic";
    topics.task.task_description = "Read each headline and pick its topic";
    spec.runs.push_back(std::move(topics));
    return spec;
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

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

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

/// The one run of `--tasks/--workers/--form` (the short form of a campaign file).
campaign_spec short_form_campaign(program_args const& cfg) {
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

/// The runs `serve` holds. Routed by an average overlap, by full overlap or by adaptive overlap: three
/// dispatcher types, so three pipeline types side by side in one operator (a compile-time set; no
/// virtual call per packet).
using routed_dispatcher = decltype(make_routing(1.0, std::chrono::seconds(1)));
using full_dispatcher = decltype(make_full_routing({}, std::chrono::seconds(1)));
using adaptive_dispatcher = decltype(make_adaptive_routing({}, std::chrono::seconds(1)));
template <class Dispatcher>
using served_run = pipeline<blueprints::static_form, architects::http&, providers::in_house&, Dispatcher, stores::sqlite, item_by>;
using routed_run = served_run<routed_dispatcher>;
using full_run = served_run<full_dispatcher>;
using adaptive_run = served_run<adaptive_dispatcher>;
#ifdef CROWDLINE_WITH_PROLIFIC
/// A Prolific run: routed by its overlap alone (participants bring no profile), paid through Prolific.
using prolific_run = pipeline<blueprints::static_form, architects::http&, served_prolific&, routed_dispatcher, stores::sqlite,
                              item_by>;
#define CROWDLINE_SERVED_RUNS routed_run, full_run, adaptive_run, prolific_run
#else
#define CROWDLINE_SERVED_RUNS routed_run, full_run, adaptive_run
#endif

/// The invite links and the requester token, kept beside the database (`<db>.secrets.json`) so a restart
/// serves the same links. A campaign keeps each run's links under `runs.<name>`; the one-run short form
/// keeps them at the top (`invites`, `revoked`), as before campaign files. Every save writes the whole file.
class secrets_file {
public:
    secrets_file(std::string path, bool flat) : path_(std::move(path)), flat_(flat) {
        data_ = load_secrets(path_);
        if (!flat_ && data_.contains("runs") && !data_["runs"].is_object())
            throw config_error(path_ + ": runs: expected an object (run name → its links)");
        if (!data_.contains("requester_token")) data_["requester_token"] = crowdline::random_token();
    }
    std::string requester_token() const { return data_["requester_token"].get<std::string>(); }
    /// The links kept for run `name`: {invites: {worker: token}, revoked: [worker]}.
    json run(std::string const& name) const {
        std::lock_guard l{mutex_};
        json const* at = &data_;
        if (!flat_) {
            auto runs = data_.find("runs");
            if (runs == data_.end() || !runs->contains(name))
                return json{{"invites", json::object()}, {"revoked", json::array()}};
            at = &(*runs)[name];
            if (!at->is_object()) throw config_error(path_ + ": runs." + name + ": expected an object");
            if (at->contains("invites") && !(*at)["invites"].is_object())
                throw config_error(path_ + ": runs." + name + ".invites: expected an object (name → token)");
            if (at->contains("revoked") && !(*at)["revoked"].is_array())
                throw config_error(path_ + ": runs." + name + ".revoked: expected a list of names");
        }
        json links = json::object();
        links["invites"] = at->value("invites", json::object());
        links["revoked"] = at->value("revoked", json::array());
        return links;
    }
    /// Records run `name`'s links as `crowd` has them now, and saves the file.
    void keep(std::string const& name, providers::in_house const& crowd) {
        json links{{"invites", json::object()}, {"revoked", json::array()}};
        for (auto const& w : crowd.roster()) {
            links["invites"][w.name] = w.token;
            if (crowd.is_revoked(w.name)) links["revoked"].push_back(w.name);
        }
        std::lock_guard l{mutex_};
        if (flat_) {
            data_["invites"] = std::move(links["invites"]);
            data_["revoked"] = std::move(links["revoked"]);
        } else {
            data_["runs"][name] = std::move(links);
        }
        save_secrets(path_, data_);
    }

private:
    std::string path_;
    bool flat_;
    mutable std::mutex mutex_;
    json data_;
};

/// One run as `serve` prepares it before anything is written: what the campaign says of it, and its form
/// with its items (read lazily from the tasks file when there is one).
struct prepared_run {
    campaign_run spec;
    blueprints::static_form form;
};

int serve(program_args cfg, campaign_spec spec, bool flat_links, std::string const& what) {
    // Everything is read and checked before anything is written.
    secrets_file secrets{cfg.db + ".secrets.json", flat_links};
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
    server_lock lock{cfg.db};  // a second server on this file is refused here, before it writes anything
    stores::sqlite db{cfg.db, cfg.store};
    std::vector<std::optional<task_run_id>> shown;
    for (auto const& r : runs) shown.push_back(completed_run_to_show(db, r.spec.name, cfg.new_run));
    for (std::size_t i = 0; i < runs.size(); ++i) secrets.keep(runs[i].spec.name, crowds[i]);

    auto op = make_operator<CROWDLINE_SERVED_RUNS>(server, db);
    #ifdef CROWDLINE_WITH_PROLIFIC
    prolific_runs prolific{cfg.db, db, cfg.prolific};  // its ledger, <db>.prolific, opens with the first Prolific run
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
        if (r.prolific) {
            auto& provider = prolific.add(r);
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
    auto const hooks = prolific.wire(op, server);  // after the runs: gone first, so no hook reaches them as they go
    #endif

    auto const url = *op.url();
    auto const review_link = url + "/review#token=" + secrets.requester_token();
    auto const listed = op.runs();
    bool const one = listed.size() == 1;
    std::size_t tasks = 0, workers = 0;
    for (auto const& r : runs) tasks += r.spec.task_count, workers += crowds[&r - runs.data()].roster().size();
    std::cerr << "crowdline: " << (one ? "" : std::to_string(listed.size()) + " runs, ") << tasks << " tasks"
              << (what == "the built-in demo" ? " (the built-in demo)" : "") << ", " << workers << " workers, database "
              << cfg.db << "\n";
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto invite_lines = [&](std::size_t i) {
        #ifdef CROWDLINE_WITH_PROLIFIC
        if (prolific_of[i]) return prolific.describe(*prolific_of[i], listed[i].id, url, std::cout);
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
        prolific.tick(prolific_pipelines);
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

/// `crowdline serve`: a campaign file's runs, the one run of --tasks, or the built-in two-run demo.
int serve(program_args cfg, std::optional<campaign_spec> campaign) {
    if (campaign) {
        auto const file = cfg.campaign;
        check_prolific_runs(*campaign, file);
        return serve(std::move(cfg), std::move(*campaign), false, file);
    }
    if (cfg.tasks.empty()) {
        auto spec = demo_campaign(cfg);
        return serve(std::move(cfg), std::move(spec), false, "the built-in demo");
    }
    auto spec = short_form_campaign(cfg);
    auto const file = cfg.tasks;
    return serve(std::move(cfg), std::move(spec), true, file);
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
    spec.db = db.is_absolute() ? db.string() : (folder / db).string();
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
int export_cmd(program_args const& cfg) {
    if (cfg.format != "jsonl") throw config_error("--format: only jsonl is supported, got \"" + cfg.format + "\"");
    std::optional<aggregate_method> method;  // checked before --out is truncated
    if (!cfg.aggregate.empty()) method = parse_aggregate(cfg.aggregate);
    else if (!cfg.field.empty()) throw config_error("--field: export writes every result whole; --field goes with --aggregate");
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
int quality_cmd(program_args const& cfg) {
    auto db = open_existing(cfg.db);
    return print_quality(db, chosen_runs(db, cfg.db, cfg.run), {.db = cfg.db, .field = cfg.field, .json = cfg.json},
                         std::cout, std::cerr);
}

/// The settings before the command line's.
program_args default_args() {
    program_args cfg;
    cfg.task = default_task_args();
    return cfg;
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
        if (command == "status") return status(cfg);
        if (command == "review") return review_cmd(cfg, rest);
        if (command == "quality") return quality_cmd(cfg);
        return export_cmd(cfg);
    } catch (std::exception const& e) {
        std::cerr << "crowdline: " << e.what() << "\n";
        return 1;
    }
}
