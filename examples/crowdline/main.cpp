// crowdline — the program a team runs: serve a labelling campaign to named annotators over HTTP, watch it,
// review it, export it.
//
//   crowdline serve  [--tasks tasks.jsonl] [--workers workers.json] [--form form.json] [--db crowdline.db]
//                    [--host 127.0.0.1] [--port 8080] [key=value …]
//   crowdline status [--db crowdline.db]
//   crowdline review [--db crowdline.db] [approve|reject|soft_reject <agent_id> [note]]
//   crowdline export [--db crowdline.db] [--format jsonl] [--out FILE]
//
// Without --tasks/--workers, `serve` runs the built-in demo: multilingual texts to label by sentiment and
// four annotators who read different languages. Invite links and the review link are printed; they are
// kept next to the database (<db>.secrets.json), so a restart resumes the run with the same links.

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#define CROWDLINE_WITH_HTTP  // the umbrella then brings the HTTP architect and the review API
#include <crowdline/crowdline.hpp>

#include "campaign.hpp"

using namespace crowdline;
using json = nlohmann::json;
using namespace crowdline_serve;

namespace {

// ---- settings ------------------------------------------------------------------------------------------

struct serve_config {
    std::string db = "crowdline.db";
    std::string tasks{};        ///< JSON lines, one task per line; empty: the demo
    std::string workers{};      ///< JSON list of {name, <profile_key>: [...]}; empty: the demo's
    std::string form{};         ///< static_form JSON ({"fields": [...]}); empty: a sentiment choice
    std::string route_by = "lang";
    std::string profile_key = "languages";
    double overlap = 2;         ///< annotations per task (fractional: average)
    std::size_t status_every_seconds = 10;
    task_run_args task{};
    architects::http_args server{};
    stores::sqlite_options store{};  ///< the SQLite file's settings (`store.page_size=4096`, …)

    static constexpr std::array<config::description, 8> descriptions{{
        {"db", "SQLite file holding the campaign"},
        {"tasks", "tasks, one JSON object per line (empty: the built-in demo)"},
        {"workers", "annotators: a JSON list of {\"name\", \"languages\": [...]} (empty: the demo's four)"},
        {"form", "the form, as static_form JSON {\"fields\": [...]} (empty: a sentiment choice over {{text}})"},
        {"route_by", "task field that decides who may take it (empty: anyone)"},
        {"profile_key", "worker field listing the values of route_by they may take"},
        {"overlap", "annotations per task (2.5: two or three, three on half of them)"},
        {"status_every_seconds", "how often serve prints progress"},
    }};
    void validate() const {
        if (db.empty()) throw config_error("db: must not be empty");
        if (!(overlap >= 1 && overlap <= 20)) throw config_error("overlap: must be between 1 and 20");
    }
};

}  // namespace

BOOST_HANA_ADAPT_STRUCT(serve_config, db, tasks, workers, form, route_by, profile_key, overlap, status_every_seconds,
                        task, server, store);

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

/// Line and column of a byte offset, for messages about a JSON file.
std::string where(std::string const& text, std::size_t offset) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') ++line, column = 1;
        else ++column;
    }
    return std::to_string(line) + ":" + std::to_string(column);
}

std::string read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(path + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

json read_json_file(std::string const& path) {
    auto text = read_file(path);
    try {
        return json::parse(text);
    } catch (json::parse_error const& e) {
        throw config_error(path + ":" + where(text, e.byte ? e.byte - 1 : 0) + ": invalid JSON");
    }
}

/// `{{key}}` placeholders a form's display texts use: every task must have them.
std::vector<std::string> placeholders(json const& form) {
    std::vector<std::string> keys;
    for (auto const& f : form.value("fields", json::array())) {
        auto text = f.value("text", std::string{});
        for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
            auto end = text.find("}}", at);
            if (end == std::string::npos) break;
            keys.push_back(text.substr(at + 2, end - at - 2));
        }
    }
    return keys;
}

/// Tasks from JSON lines. Each problem names the file, the line and the field.
std::vector<json> read_tasks(std::string const& path, std::vector<std::string> const& needed, std::string const& route_by) {
    std::ifstream in(path);
    if (!in) throw config_error(path + ": cannot open (" + std::strerror(errno) + ")");
    std::vector<json> tasks;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto const at = path + ":" + std::to_string(number);
        json j;
        try {
            j = json::parse(line);
        } catch (json::parse_error const& e) {
            throw config_error(at + ":" + std::to_string(e.byte) + ": invalid JSON");
        }
        if (!j.is_object()) throw config_error(at + ": expected a JSON object, got " + std::string(j.type_name()));
        for (auto const& key : needed)
            if (!j.contains(key)) throw config_error(at + ": field \"" + key + "\": missing (the form shows {{" + key + "}})");
        if (!route_by.empty() && (!j.contains(route_by) || !j[route_by].is_string()))
            throw config_error(at + ": field \"" + route_by + "\": missing or not a string (tasks are routed by it)");
        tasks.push_back(std::move(j));
        if (tasks.size() % 100000 == 0) std::cerr << "  read " << tasks.size() << " tasks…\n";
    }
    if (tasks.empty()) throw config_error(path + ": no tasks");
    return tasks;
}

/// The links survive restarts: kept beside the database, readable by its owner only.
json load_secrets(std::string const& path) {
    if (!std::filesystem::exists(path)) return json::object();
    return read_json_file(path);
}
void save_secrets(std::string const& path, json const& secrets) {
    {
        std::ofstream out(path, std::ios::trunc);
        if (!out) throw error(path + ": cannot write");
        out << secrets.dump(2) << '\n';
    }
    ::chmod(path.c_str(), 0600);
}

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

int serve(serve_config cfg) {
    crowdline_serve::route_by = cfg.route_by;
    bool const demo = cfg.tasks.empty();
    json form_spec = cfg.form.empty() ? default_form() : read_json_file(cfg.form);
    auto tasks = demo ? demo_tasks() : read_tasks(cfg.tasks, placeholders(form_spec), cfg.route_by);
    auto secrets_path = cfg.db + ".secrets.json";
    auto secrets = load_secrets(secrets_path);
    auto roster = roster_from_json(cfg.workers.empty() ? demo_workers() : read_json_file(cfg.workers),
                                   cfg.workers.empty() ? "demo workers" : cfg.workers, cfg.profile_key,
                                   secrets.value("invites", json::object()));
    form_spec["items"] = tasks;
    blueprints::static_form form = [&] {
        try {
            return blueprints::static_form::from_json(form_spec);
        } catch (config_error const& e) {
            throw config_error((cfg.form.empty() ? std::string("form") : cfg.form) + ": " + e.what());
        }
    }();

    providers::in_house crowd{roster};
    if (!secrets.contains("requester_token")) secrets["requester_token"] = crowdline::detail::random_token();
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
    keep_links();

    std::cerr << "crowdline: " << tasks.size() << " tasks" << (demo ? " (the built-in demo)" : "") << ", "
              << roster.size() << " workers, database " << cfg.db << "\n";
    // [serve]
    // The same pipeline as any other campaign: only the architect (HTTP) and the provider (invite links)
    // differ from a simulation's. The review API is added to the server before it starts.
    stores::sqlite db{cfg.db, cfg.store};
    architects::http server{cfg.server};
    auto dispatcher = make_routing(cfg.overlap, std::chrono::seconds(cfg.task.assignment_duration_in_seconds));
    pipeline run{std::move(form), kept_serving{server}, crowd, std::move(dispatcher), db, cfg.task};

    server.prepare();
    add_review_routes(server, run,
                      {.requester_token = secrets["requester_token"], .group_by = cfg.route_by, .links_changed = keep_links});
    auto id = run.launch();
    // [serve]
    auto url = run.url();
    std::cout << "Serving task run " << id.value() << " at " << url << "\n\nInvite links (send each person their own):\n";
    for (auto const& w : crowd.roster()) {
        auto keys = w.profile.value("keys", json::array());
        std::cout << "  " << w.name << (keys.empty() ? "" : " (" + keys.dump() + ")") << "  "
                  << (crowd.is_revoked(w.name) ? std::string("link revoked (\"New link\" on the review page)")
                                               : crowd.invite_link(w.name, url))
                  << "\n";
    }
    std::cout << "\nReview page (keep it private):\n  " << url << "/review#token="
              << secrets["requester_token"].get<std::string>() << "\n\nStop with Ctrl-C; running again resumes.\n"
              << std::flush;

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
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
    print_progress(run);
    if (complete) {
        std::cout << "The run is complete. The review page stays up until Ctrl-C; then `crowdline export`.\n"
                  << std::flush;
        while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } else {
        run.shutdown();
        std::cout << "Stopped; run the same command again to resume.\n";
    }
    if (auto f = run.failure()) std::cerr << "crowdline: the run stopped: " << *f << "\n";
    server.shutdown();
    return 0;
}

// ---- status / review / export -----------------------------------------------------------------------------

std::optional<task_run_id> latest_run(stores::sqlite& db) {
    std::optional<task_run_id> best;
    for (auto const& t : db.find_tasks({}))
        for (auto const& r : db.find_task_runs({.task = t.id}))
            if (!best || r.id.value() > best->value()) best = r.id;
    return best;
}

stores::sqlite open_existing(std::string const& path) {
    if (!std::filesystem::exists(path)) throw config_error(path + ": no such database (run `crowdline serve` first)");
    return stores::sqlite{path};
}

int status(serve_config const& cfg) {
    auto db = open_existing(cfg.db);
    auto run = latest_run(db);
    if (!run) {
        std::cout << cfg.db << ": no task run yet\n";
        return 0;
    }
    auto s = summarize_run(db, *run);
    auto r = db.get_task_run(*run);
    std::cout << "task run " << run->value() << " (" << (r.is_completed ? "complete" : "open") << "): " << s.assignments
              << " tasks, " << s.units() << " units, " << s.workers << " workers\n";
    auto const by_status = s.to_json()["units"];
    for (auto const& [st, n] : by_status.items())
        if (n.get<std::size_t>() > 0) std::cout << "  " << st << std::string(16 - std::min<std::size_t>(15, st.size()), ' ') << n << "\n";
    return 0;
}

int review_cmd(serve_config const& cfg, std::vector<std::string> const& rest) {
    auto db = open_existing(cfg.db);
    auto run = latest_run(db);
    if (!run) throw config_error(cfg.db + ": no task run to review");
    providers::in_house crowd;  // decisions are recorded in the store; the in-house crowd pays nobody
    if (rest.empty()) {
        std::size_t n = 0;
        for (auto const& u : db.find_units({.task_run = *run, .status = unit_status::completed})) {
            if (!u.agent) continue;
            auto a = db.get_agent(*u.agent);
            std::cout << "agent " << a.id.value() << "  " << db.get_worker(a.worker).name << "  "
                      << a.state.value("inputs", json(nullptr)).dump() << " → " << a.state.value("outputs", json(nullptr)).dump()
                      << "\n";
            ++n;
        }
        std::cout << n << " units wait for review (crowdline review approve|reject|soft_reject <agent_id> [note])\n";
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

int export_cmd(serve_config const& cfg, std::string const& format, std::string const& out_path) {
    if (format != "jsonl") throw config_error("--format: only jsonl is supported, got \"" + format + "\"");
    auto db = open_existing(cfg.db);
    auto run = latest_run(db);
    if (!run) throw config_error(cfg.db + ": no task run to export");
    std::ofstream file;
    if (!out_path.empty()) {
        file.open(out_path, std::ios::trunc);
        if (!file) throw config_error(out_path + ": cannot write");
    }
    auto n = export_jsonl(out_path.empty() ? std::cout : file, data_browser{db}.results_for_run(*run));
    std::cerr << "exported " << n << " results\n";
    return 0;
}

void usage(std::ostream& out) {
    out << "usage: crowdline serve  [--tasks F.jsonl] [--workers F.json] [--form F.json] [--db F] [--host H] [--port N] "
           "[key=value …]\n"
           "       crowdline status [--db F]\n"
           "       crowdline review [--db F] [approve|reject|soft_reject <agent_id> [note]]\n"
           "       crowdline export [--db F] [--format jsonl] [--out F]\n\nkeys:\n"
        << config::help(serve_config{});
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        usage(args.empty() ? std::cerr : std::cout);
        return args.empty() ? 2 : 0;
    }
    auto command = args[0];
    try {
        serve_config cfg;
        cfg.task = default_task_args();
        std::string format = "jsonl", out_path;
        std::vector<std::string> rest;
        for (std::size_t i = 1; i < args.size(); ++i) {
            auto const& a = args[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= args.size()) throw config_error(a + ": needs a value");
                return args[++i];
            };
            if (a == "--db") cfg.db = value();
            else if (a == "--tasks") cfg.tasks = value();
            else if (a == "--workers") cfg.workers = value();
            else if (a == "--form") cfg.form = value();
            else if (a == "--host") cfg.server.host = value();
            else if (a == "--port") config::apply_override(cfg, "server.port=" + value());
            else if (a == "--format") format = value();
            else if (a == "--out") out_path = value();
            else if (a == "--help" || a == "-h") return usage(std::cout), 0;
            else if (a.find('=') != std::string::npos && !a.starts_with("-")) config::apply_override(cfg, a);
            else if (a.starts_with("--")) throw config_error(a + ": unknown option (see crowdline --help)");
            else rest.push_back(a);
        }
        if (cfg.task.task_name.empty())
            cfg.task.task_name = cfg.tasks.empty() ? "crowdline-demo" : std::filesystem::path(cfg.tasks).stem().string();
        config::validate(cfg);
        if (command == "serve") return serve(std::move(cfg));
        if (command == "status") return status(cfg);
        if (command == "review") return review_cmd(cfg, rest);
        if (command == "export") return export_cmd(cfg, format, out_path);
        std::cerr << "crowdline: unknown command \"" << command << "\"\n";
        usage(std::cerr);
        return 2;
    } catch (std::exception const& e) {
        std::cerr << "crowdline: " << e.what() << "\n";
        return 1;
    }
}
