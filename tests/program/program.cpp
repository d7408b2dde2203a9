// The `crowdline` program itself, run as a user runs it: the built binary (CROWDLINE_PROGRAM) on real files
// in a scratch folder, on free ports. Restarts after a completed run, every run in status/export, inputs
// that are refused before anything is written, one server per database file, a store that fails mid-run,
// and `quality` / `export --aggregate` against the library's figures on the same answers.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <nlohmann/json.hpp>

#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/agreement.hpp>
#include <crowdline/store/sqlite.hpp>

#include "../unit/architect/http_client.hpp"  // the architect tests' HTTP client
#include "program_runner.hpp"
#include "worker_client.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

using namespace program_test;

/// A one-task campaign for one annotator: done after a single answer.
struct tiny_campaign {
    scratch_dir dir;
    std::string db = (dir / "c.db").string();
    std::string tasks = (dir / "tasks.jsonl").string();
    std::string workers = (dir / "workers.json").string();
    tiny_campaign() {
        write_text(tasks, R"({"lang": "en", "text": "What a lovely day"})" "\n");
        write_text(workers, R"([{"name": "ann", "languages": ["en"]}])");
    }
    std::vector<std::string> serve(std::vector<std::string> more = {}) const {
        std::vector<std::string> a{"serve", "--tasks", tasks, "--workers", workers, "--db", db, "--port", "0", "overlap=1"};
        a.insert(a.end(), more.begin(), more.end());
        return a;
    }
};

/// A port something else listens on for as long as this lives.
struct busy_port {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;
    busy_port() {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd, 1) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~busy_port() { ::close(fd); }
};

}  // namespace

TEST_CASE("program: a completed run stays completed; --new-run starts another; status and export show every run",
          "[program]") {
    tiny_campaign c;
    {
        program first(c.serve(), c.dir.path);
        REQUIRE(first.wait_for_output("Review page"));
        do_one_unit(first.port(), first.invite("ann"));
        REQUIRE(first.wait_for_output("The run is complete"));
        CHECK(first.interrupt() == 0);
    }
    auto const secrets = json::parse(read_bytes(c.db + ".secrets.json"));
    auto const token = secrets["invites"]["ann"].get<std::string>();
    auto const bearer = "Bearer " + secrets["requester_token"].get<std::string>();
    {
        program again(c.serve(), c.dir.path);
        REQUIRE(again.wait_for_output("Review page"));
        CHECK_THAT(again.out(), Contains("Task run 1 is complete") && Contains("/review#token="));
        auto late = register_with(again.port(), token);  // a late worker: told the run is over
        CHECK(late["data"]["reason"] == "run_not_active");
        auto dashboard = test::http_request(again.port(), "GET", "/api/review/dashboard", {}, bearer);  // the review page's data
        REQUIRE(dashboard.status == 200);
        CHECK(dashboard.parsed()["complete"] == true);
        auto units = test::http_request(again.port(), "GET", "/api/review/units", {}, bearer);
        REQUIRE(units.status == 200);
        CHECK_THAT(units.body, Contains("positive"));  // the answer given in the first run
        CHECK(again.interrupt() == 0);
    }
    auto one = run({"status", "--db", c.db}, c.dir.path);
    CHECK(one.code == 0);
    CHECK_THAT(one.out, Contains("task run 1 of \"tasks\" (complete)"));
    CHECK_THAT(one.out, !Contains("task run 2"));
    {
        program next(c.serve({"--new-run"}), c.dir.path);
        REQUIRE(next.wait_for_output("Review page"));
        CHECK_THAT(next.out(), Contains("Serving task run 2"));
        do_one_unit(next.port(), token);  // the same link: kept beside the database
        REQUIRE(next.wait_for_output("The run is complete"));
        CHECK(next.interrupt() == 0);
    }
    auto both = run({"status", "--db", c.db}, c.dir.path);
    CHECK_THAT(both.out, Contains("task run 1 of \"tasks\" (complete)") && Contains("task run 2 of \"tasks\" (complete)"));

    auto all = run({"export", "--db", c.db}, c.dir.path);
    REQUIRE(all.code == 0);
    std::multiset<std::int64_t> runs;
    std::istringstream lines(all.out);
    for (std::string line; std::getline(lines, line);) runs.insert(json::parse(line)["task_run_id"].get<std::int64_t>());
    CHECK(runs == std::multiset<std::int64_t>{1, 2});
    auto second = run({"export", "--db", c.db, "--run", "2"}, c.dir.path);
    REQUIRE(second.code == 0);
    auto line = json::parse(second.out.substr(0, second.out.find('\n')));
    CHECK(line["task_run_id"] == 2);
    CHECK(std::count(second.out.begin(), second.out.end(), '\n') == 1);
    auto unknown = run({"export", "--db", c.db, "--run", "7"}, c.dir.path);
    CHECK(unknown.code != 0);
    CHECK_THAT(unknown.err, Contains("--run 7") && Contains("no such task run") && Contains("1, 2"));
}

TEST_CASE("program: a store that fails while serving ends the program non-zero, saying why", "[program]") {
    tiny_campaign c;
    program p(c.serve(), c.dir.path);
    REQUIRE(p.wait_for_output("Review page"));
    // From now on no file of the server may grow: the next commit cannot append to the log.
    auto const wal = fs::path(c.db + "-wal");
    REQUIRE(fs::exists(wal));
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(fs::file_size(wal));
    REQUIRE(::prlimit(p.pid(), RLIMIT_FSIZE, &limit, nullptr) == 0);
    try {
        (void)test::http_request(p.port(), "POST", "/api/register", json{{"data", {{"invite", p.invite("ann")}}}}.dump());
    } catch (std::exception const&) {  // the server may end before it answers: the exit code below is the check
    }
    auto code = p.wait(10s);
    REQUIRE(code.has_value());
    CHECK(*code == 1);
    CHECK_THAT(p.err(), Contains("the run stopped"));
}

TEST_CASE("program: bad input files are refused naming the file and entry, before anything is written",
          "[program]") {
    tiny_campaign c;
    auto refused = [&](std::vector<std::string> args) {
        auto r = run(std::move(args), c.dir.path);
        CHECK(r.code == 1);
        CHECK_FALSE(fs::exists(c.db));
        CHECK_FALSE(fs::exists(c.db + ".secrets.json"));
        return r.err;
    };
    SECTION("a task nested 100,000 deep") {
        write_text(c.tasks, std::string(100000, '[') + std::string(100000, ']') + "\n");
        CHECK_THAT(refused(c.serve()), Contains(c.tasks + ":1:129: JSON nested deeper than the limit of 128 levels"));
    }
    SECTION("a deep workers file") {
        write_text(c.workers, "\n" + std::string(200000, '{'));
        CHECK_THAT(refused(c.serve()), Contains(c.workers + ":2:129: JSON nested deeper than the limit of 128"));
    }
    SECTION("a form whose display text is not text") {
        auto form = (c.dir / "form.json").string();
        write_text(form, R"({"fields": [{"type": "display_text", "name": "t", "label": "T", "text": 5}]})");
        CHECK_THAT(refused(c.serve({"--form", form})), Contains(form + ": fields[0]"));
    }
    SECTION("a form that is a list") {
        auto form = (c.dir / "form.json").string();
        write_text(form, "[1, 2]");
        CHECK_THAT(refused(c.serve({"--form", form})), Contains(form + ": "));
    }
    SECTION("two workers with one name") {
        write_text(c.workers, R"([{"name": "ann"}, {"name": "bo"}, {"name": "ann"}])");
        CHECK_THAT(refused(c.serve()), Contains(c.workers + ": [2].name") && Contains("[0]"));
    }
    SECTION("a worker name with a control character") {
        write_text(c.workers, R"([{"name": "ann\u0007"}])");
        CHECK_THAT(refused(c.serve()), Contains(c.workers + ": [0].name: contains a control character"));
    }
    SECTION("a host name that does not resolve") {
        CHECK_THAT(refused(c.serve({"--host", "no-such-host.invalid"})), Contains("host") && Contains("no-such-host.invalid"));
    }
    SECTION("a port in use") {
        busy_port busy;
        auto args = c.serve();
        args[std::find(args.begin(), args.end(), "--port") - args.begin() + 1] = std::to_string(busy.port);
        (void)refused(args);
    }
}

TEST_CASE("program: a host name that resolves is served", "[program]") {
    tiny_campaign c;
    program p(c.serve({"--host", "localhost"}), c.dir.path);
    REQUIRE(p.wait_for_output("Review page"));
    CHECK(p.interrupt() == 0);
}

TEST_CASE("program: a file that is not a crowdline database is refused, named, and left byte-identical",
          "[program]") {
    tiny_campaign c;
    SECTION("empty") { write_text(c.db, ""); }
    SECTION("not SQLite") { write_text(c.db, std::string(3000, 'z')); }
    SECTION("another program's SQLite file") {
        SQLite::Database other(c.db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        other.exec("PRAGMA journal_mode = DELETE; CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')");
    }
    SECTION("a SQLite file with no tables yet") {
        SQLite::Database other(c.db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        other.exec("PRAGMA user_version = 3");
    }
    auto const before = read_bytes(c.db);
    program p(c.serve(), c.dir.path);
    auto code = p.wait(10s);
    REQUIRE(code.has_value());  // before: it was set up as a new campaign and served
    CHECK(*code == 1);
    CHECK_THAT(p.err(), Contains(c.db) && Contains("not a crowdline database"));
    CHECK(read_bytes(c.db) == before);
    CHECK_FALSE(fs::exists(c.db + ".secrets.json"));
}

TEST_CASE("program: the secrets file is never readable by others, even for a moment (umask 000)", "[program]") {
    tiny_campaign c;
    int in = ::inotify_init1(IN_NONBLOCK);
    REQUIRE(in >= 0);
    REQUIRE(::inotify_add_watch(in, c.dir.path.c_str(), IN_CREATE | IN_ATTRIB | IN_MOVED_TO) >= 0);
    {
        program p(c.serve(), c.dir.path, {.umask = 0});
        REQUIRE(p.wait_for_output("Review page"));
        CHECK(p.interrupt() == 0);
    }
    struct stat st{};
    REQUIRE(::stat((c.db + ".secrets.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // Made whole under another name with its final mode, then renamed: no chmod of a file that was wider.
    std::map<std::string, std::set<std::uint32_t>> events;
    alignas(inotify_event) char buf[1 << 16];
    for (ssize_t n; (n = ::read(in, buf, sizeof buf)) > 0;)
        for (char* at = buf; at < buf + n;) {
            auto* e = reinterpret_cast<inotify_event*>(at);
            if (e->len > 0) events[e->name].insert(e->mask & (IN_CREATE | IN_ATTRIB | IN_MOVED_TO));
            at += sizeof(inotify_event) + e->len;
        }
    ::close(in);
    auto const name = fs::path(c.db + ".secrets.json").filename().string();
    CHECK(events[name].contains(IN_MOVED_TO));
    CHECK_FALSE(events[name].contains(IN_CREATE));
    for (auto const& [file, masks] : events)
        if (file.starts_with(name)) CHECK_FALSE(masks.contains(IN_ATTRIB));
}

TEST_CASE("program: a second server on the same file is refused at once, naming the file and the holder's PID",
          "[program]") {
    tiny_campaign c;
    program first(c.serve(), c.dir.path);
    REQUIRE(first.wait_for_output("Review page"));
    auto const db_before = read_bytes(c.db);
    auto const wal_before = read_bytes(c.db + "-wal");
    {
        program second(c.serve(), c.dir.path);
        auto code = second.wait(10s);
        REQUIRE(code.has_value());  // before: it served the same run beside the first
        CHECK(*code == 1);
        CHECK_THAT(second.err(), Contains(c.db) && Contains("PID " + std::to_string(first.pid())));
    }
    CHECK(read_bytes(c.db) == db_before);
    CHECK(read_bytes(c.db + "-wal") == wal_before);
    // Reading commands still work while it serves.
    auto status = run({"status", "--db", c.db}, c.dir.path);
    CHECK(status.code == 0);
    CHECK_THAT(status.out, Contains("task run 1"));
    // The lock dies with its process, however it ends.
    first.kill_hard();
    program third(c.serve(), c.dir.path);
    REQUIRE(third.wait_for_output("Review page"));
    CHECK_THAT(third.out(), Contains("Serving task run 1"));
    CHECK(third.interrupt() == 0);
}

// ---- a campaign file: several runs in one server -----------------------------------------------------------

namespace {

/// Two runs in one campaign file: "sentiment" (two English texts, one annotation each, for ann) and
/// "topics" (two headlines, every one of its two annotators labels each: overlap "full").
struct two_run_campaign {
    scratch_dir dir;
    std::string file = (dir / "campaign.json").string();
    std::string db = (dir / "two.db").string();
    two_run_campaign() {
        write_text(dir / "sentiment.jsonl", R"({"lang": "en", "text": "What a lovely day"})" "\n"
                                            R"({"lang": "en", "text": "The bus was late again"})" "\n");
        write_text(file, R"({
          "db": "two.db",
          "runs": [
            {"name": "sentiment", "tasks": "sentiment.jsonl", "workers": [{"name": "ann", "languages": ["en"]}],
             "routing": {"overlap": 1}},
            {"name": "topics", "tasks": [{"text": "Parliament votes"}, {"text": "Cup final tonight"}],
             "workers": [{"name": "bob"}, {"name": "cy"}],
             "form": {"fields": [{"type": "display_text", "name": "text", "label": "Headline", "text": "{{text}}"},
                                 {"type": "single_choice", "name": "topic", "label": "Topic",
                                  "options": ["politics", "sport"]}]},
             "routing": {"route_by": "", "overlap": "full"}}
          ]
        })");
    }
    std::vector<std::string> serve() const { return {"serve", "--campaign", file, "--port", "0"}; }
};

test::http_reply packet_to(std::uint16_t port, std::string const& type, json body) {
    return test::http_request(port, "POST", "/api/" + type, body.dump());
}
json register_in(std::uint16_t port, std::string const& token, json run) {
    json data{{"invite", token}};
    if (!run.is_null()) data["run"] = std::move(run);
    return packet_to(port, "register", {{"data", data}}).parsed();
}
/// Registers in `run` and answers each unit handed out with `answer`; the units answered.
int answer_all(std::uint16_t port, std::string const& token, std::string const& run, json const& answer) {
    int n = 0;
    for (;;) {
        auto r = register_in(port, token, run);
        if (r["type"] != "agent_details") return n;
        auto ok = packet_to(port, "submit", {{"agent", r["data"]["agent_id"]},
                                             {"data", {{"run", run}, {"token", r["data"]["token"]}, {"submission", answer}}}});
        REQUIRE(ok.parsed()["type"] == "submitted");
        ++n;
    }
}

}  // namespace

TEST_CASE("program: a campaign file's runs are served together, each with its own links, units and review",
          "[program][campaign]") {
    two_run_campaign c;
    program p(c.serve(), c.dir.path);
    REQUIRE(p.wait_for_output("Review page"));
    auto const port = p.port();
    auto const out = p.out();
    CHECK_THAT(out, Contains("Serving 2 task runs") && Contains("Run \"sentiment\"") && Contains("Run \"topics\""));
    CHECK_THAT(out, Contains("&run=sentiment") && Contains("&run=topics"));
    auto const ann = p.invite("ann"), bob = p.invite("bob"), cy = p.invite("cy");
    auto const secrets = json::parse(read_bytes(c.db + ".secrets.json"));
    CHECK(secrets["runs"]["sentiment"]["invites"]["ann"] == ann);
    CHECK(secrets["runs"]["topics"]["invites"]["bob"] == bob);
    auto const bearer = "Bearer " + secrets["requester_token"].get<std::string>();

    // A packet names its run: none, an unknown one, or one of the wrong type is refused, nothing handed out.
    auto unnamed = packet_to(port, "register", {{"data", {{"invite", ann}}}});
    CHECK(unnamed.status == 400);
    CHECK(unnamed.parsed()["data"]["reason"] == "bad_request");
    CHECK(packet_to(port, "register", {{"data", {{"invite", ann}, {"run", "elsewhere"}}}}).status == 404);
    CHECK(packet_to(port, "register", {{"data", {{"invite", ann}, {"run", json::array()}}}}).status == 400);
    // ann's link is sentiment's: the topics run does not know it.
    auto crossed = packet_to(port, "register", {{"data", {{"invite", ann}, {"run", "topics"}}}});
    CHECK(crossed.status == 403);

    auto a = register_in(port, ann, "sentiment");
    REQUIRE(a["type"] == "agent_details");
    auto b = register_in(port, bob, "topics");
    REQUIRE(b["type"] == "agent_details");
    // bob, with his own agent token, cannot submit ann's unit through either run, nor can ann's agent be
    // reached through the topics run even with its own token.
    for (auto const* run : {"topics", "sentiment"}) {
        auto stolen = packet_to(port, "submit", {{"agent", a["data"]["agent_id"]},
                                                 {"data", {{"run", run}, {"token", b["data"]["token"]},
                                                           {"submission", {{"sentiment", "negative"}}}}}});
        CHECK(stolen.status >= 400);
        CHECK(stolen.parsed()["type"] != "submitted");
    }
    auto through_other = packet_to(port, "submit", {{"agent", a["data"]["agent_id"]},
                                                    {"data", {{"run", "topics"}, {"token", a["data"]["token"]},
                                                              {"submission", {{"topic", "sport"}}}}}});
    CHECK(through_other.status >= 400);
    CHECK(through_other.parsed()["type"] != "submitted");
    // ... and the unit is still ann's, in her run.
    auto mine = packet_to(port, "submit", {{"agent", a["data"]["agent_id"]},
                                           {"data", {{"run", "sentiment"}, {"token", a["data"]["token"]},
                                                     {"submission", {{"sentiment", "positive"}}}}}});
    REQUIRE(mine.parsed()["type"] == "submitted");

    // The review API acts on the run it names.
    auto runs = test::http_request(port, "GET", "/api/review/runs", {}, bearer);
    REQUIRE(runs.status == 200);
    REQUIRE(runs.parsed()["runs"].size() == 2);
    CHECK(runs.parsed()["runs"][0]["name"] == "sentiment");
    CHECK(runs.parsed()["runs"][1]["name"] == "topics");
    CHECK(test::http_request(port, "GET", "/api/review/units", {}, bearer).status == 400);  // which run?
    CHECK(test::http_request(port, "GET", "/api/review/units?run=nope", {}, bearer).status == 404);
    auto sentiment_units = test::http_request(port, "GET", "/api/review/units?run=sentiment", {}, bearer);
    REQUIRE(sentiment_units.status == 200);
    CHECK(sentiment_units.parsed()["units"].size() == 1);
    CHECK(test::http_request(port, "GET", "/api/review/units?run=topics", {}, bearer).parsed()["units"].empty());
    auto wrong_run = test::http_request(port, "POST", "/api/review/decide?run=topics",
                                        json{{"agent_id", a["data"]["agent_id"]}, {"action", "approve"}}.dump(), bearer);
    CHECK(wrong_run.status == 404);
    auto link = test::http_request(port, "POST", "/api/review/link?run=topics",
                                   json{{"worker", "ann"}, {"action", "revoke"}}.dump(), bearer);
    CHECK(link.status == 404);  // ann has no link in topics: hers in sentiment is untouched
    auto metrics = test::http_request(port, "GET", "/metrics");
    CHECK_THAT(metrics.body, Contains("run=\"sentiment\"") && Contains("run=\"topics\""));

    // Everyone finishes: one unit left of sentiment, two topics units each for bob and cy (full overlap).
    CHECK(packet_to(port, "submit", {{"agent", b["data"]["agent_id"]},
                                     {"data", {{"run", "topics"}, {"token", b["data"]["token"]},
                                               {"submission", {{"topic", "politics"}}}}}})
              .parsed()["type"] == "submitted");
    CHECK(answer_all(port, ann, "sentiment", {{"sentiment", "negative"}}) == 1);
    CHECK(answer_all(port, bob, "topics", {{"topic", "sport"}}) == 1);
    CHECK(answer_all(port, cy, "topics", {{"topic", "sport"}}) == 2);
    REQUIRE(p.wait_for_output("Every run is complete"));
    CHECK(p.interrupt() == 0);

    // A restart shows both runs complete, with the same links; status and export cover both.
    {
        program again(c.serve(), c.dir.path);
        REQUIRE(again.wait_for_output("Review page"));
        CHECK_THAT(again.out(), Contains("Run \"sentiment\" (task run 1") && Contains("is complete"));
        CHECK(register_in(again.port(), ann, "sentiment")["data"]["reason"] == "run_not_active");
        // A link of the other run, or none that exists, is refused as such, even though the run is over.
        CHECK(register_in(again.port(), bob, "sentiment")["data"]["reason"] == "forbidden");
        CHECK(register_in(again.port(), std::string(32, 'a'), "topics")["data"]["reason"] == "forbidden");
        CHECK(again.interrupt() == 0);
    }
    auto status = run({"status", "--campaign", c.file}, c.dir.path);
    CHECK(status.code == 0);
    CHECK_THAT(status.out, Contains("task run 1 of \"sentiment\" (complete)") && Contains("task run 2 of \"topics\" (complete)"));
    auto exported = run({"export", "--db", c.db}, c.dir.path);
    REQUIRE(exported.code == 0);
    std::map<std::string, int> lines;
    std::istringstream in(exported.out);
    for (std::string line; std::getline(in, line);) ++lines[json::parse(line)["task_name"].get<std::string>()];
    CHECK(lines == std::map<std::string, int>{{"sentiment", 2}, {"topics", 4}});

    // `review --run N` acts only on run N's agents: ann's agent through the topics run is refused.
    auto const ann_agent = std::to_string(a["data"]["agent_id"].get<std::int64_t>());
    auto wrong = run({"review", "--db", c.db, "--run", "2", "approve", ann_agent}, c.dir.path);
    CHECK(wrong.code == 1);
    CHECK_THAT(wrong.err, Contains("agent " + ann_agent + " is not part of task run 2"));
    auto right = run({"review", "--db", c.db, "--run", "1", "approve", ann_agent}, c.dir.path);
    CHECK(right.code == 0);
    CHECK_THAT(right.out, Contains("agent " + ann_agent + ": accepted"));
}

TEST_CASE("program: a campaign file with a mistake is refused naming the file and the JSON pointer, nothing written",
          "[program][campaign]") {
    two_run_campaign c;
    auto text = read_bytes(c.file);
    text.replace(text.find("\"overlap\": 1"), 12, "\"overlap\": 0");
    write_text(c.file, text);
    auto r = run(c.serve(), c.dir.path);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains(c.file + ": /runs/0/routing/overlap: must be >= 1"));
    CHECK_FALSE(fs::exists(c.db));
    CHECK_FALSE(fs::exists(c.db + ".secrets.json"));
    auto both = run({"serve", "--campaign", c.file, "--tasks", "x.jsonl"}, c.dir.path);
    CHECK(both.code == 1);
    CHECK_THAT(both.err, Contains("--campaign") && Contains("--tasks"));
}

// ---- crowdline quality and export --aggregate ------------------------------------------------------------

namespace {

/// A served, finished campaign with answers planted per worker and item. Run 1, "labels": ann, bob and cy
/// each label all six items (overlap "full") in three fields: `label` (a/b/c; ann always right, bob and cy
/// wrong twice each, item 2 a three-way split), `sure` (yes/no) and `tags` (a list: no label field).
/// Run 2, "agree": dee and eve agree on both headlines (perfect agreement).
struct labelled_campaign {
    scratch_dir dir;
    std::string file = (dir / "campaign.json").string();
    std::string db = (dir / "labels.db").string();

    /// worker → the `label` of items 1..6.
    static inline std::map<std::string, std::vector<std::string>> const labels{
        {"ann", {"a", "b", "c", "a", "b", "c"}},
        {"bob", {"a", "a", "c", "a", "c", "c"}},
        {"cy", {"a", "c", "c", "a", "b", "a"}},
    };
    static inline std::map<std::string, std::vector<std::string>> const sure{
        {"ann", {"yes", "yes", "yes", "yes", "yes", "yes"}},
        {"bob", {"no", "no", "no", "yes", "yes", "yes"}},
        {"cy", {"yes", "yes", "yes", "yes", "yes", "no"}},
    };

    labelled_campaign() {
        std::string tasks;
        for (int i = 1; i <= 6; ++i) tasks += R"({"text": "item )" + std::to_string(i) + "\"}\n";
        write_text(dir / "labels.jsonl", tasks);
        write_text(file, R"({
          "db": "labels.db",
          "runs": [
            {"name": "labels", "tasks": "labels.jsonl",
             "workers": [{"name": "ann"}, {"name": "bob"}, {"name": "cy"}],
             "form": {"fields": [{"type": "display_text", "name": "text", "label": "Item", "text": "{{text}}"},
                                 {"type": "single_choice", "name": "label", "label": "Label", "options": ["a", "b", "c"]},
                                 {"type": "single_choice", "name": "sure", "label": "Sure?", "options": ["yes", "no"]},
                                 {"type": "multiple_choice", "name": "tags", "label": "Tags", "options": ["x", "y"]}]},
             "routing": {"route_by": "", "overlap": "full"}},
            {"name": "agree", "tasks": [{"text": "Parliament votes"}, {"text": "Cup final tonight"}],
             "workers": [{"name": "dee"}, {"name": "eve"}],
             "form": {"fields": [{"type": "display_text", "name": "text", "label": "Headline", "text": "{{text}}"},
                                 {"type": "single_choice", "name": "topic", "label": "Topic",
                                  "options": ["politics", "sport"]}]},
             "routing": {"route_by": "", "overlap": "full"}}
          ]
        })");
        program p({"serve", "--campaign", file, "--port", "0"}, dir.path);
        REQUIRE(p.wait_for_output("Review page"));
        auto const port = p.port();
        // Each worker takes units until none is left, answering each from the text it shows.
        auto const answer_each = [&](std::string const& name, std::string const& run, auto answer_for) {
            auto const token = p.invite(name);
            int answered = 0;
            for (auto r = register_in(port, token, run); r["type"] == "agent_details"; r = register_in(port, token, run)) {
                auto const text = r["data"]["init_data"]["unit_data"]["text"].get<std::string>();
                auto ok = packet_to(port, "submit", {{"agent", r["data"]["agent_id"]},
                                                     {"data", {{"run", run}, {"token", r["data"]["token"]},
                                                               {"submission", answer_for(text)}}}});
                REQUIRE(ok.parsed()["type"] == "submitted");
                ++answered;
            }
            return answered;
        };
        for (auto const& worker : labels)
            REQUIRE(answer_each(worker.first, "labels", [&](std::string const& text) {
                        auto const i = static_cast<std::size_t>(std::stoi(text.substr(5)) - 1);  // "item N"
                        return json{{"label", worker.second[i]}, {"sure", sure.at(worker.first)[i]},
                                    {"tags", i % 2 ? json{"x"} : json{"x", "y"}}};
                    }) == 6);
        for (auto const* name : {"dee", "eve"})
            REQUIRE(answer_each(name, "agree", [](std::string const& text) {
                        return json{{"topic", text.starts_with("Cup") ? "sport" : "politics"}};
                    }) == 2);
        REQUIRE(p.wait_for_output("Every run is complete"));
        REQUIRE(p.interrupt() == 0);
    }
};

using exported_annotation = crowdline::quality::basic_annotation<std::int64_t, std::string, std::string>;

/// The `(assignment, worker, field value)` triples of run `run`, read from plain `crowdline export`: what an
/// independent tool would start from.
std::vector<exported_annotation> exported_triples(labelled_campaign const& c, std::string const& run,
                                                  std::string const& field) {
    auto r = ::run({"export", "--db", c.db, "--run", run}, c.dir.path);
    REQUIRE(r.code == 0);
    std::vector<exported_annotation> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        auto const j = json::parse(line);
        out.push_back({j["assignment_id"].get<std::int64_t>(), j["worker_name"].get<std::string>(),
                       j["state"]["outputs"][field].get<std::string>()});
    }
    return out;
}

json optional_number(std::optional<double> v) { return v ? json(*v) : json(nullptr); }

}  // namespace

TEST_CASE("program: crowdline quality reports the library's figures per run, field and worker", "[program][quality]") {
    namespace q = crowdline::quality;
    labelled_campaign c;
    auto r = run({"quality", "--db", c.db, "--json"}, c.dir.path);
    REQUIRE(r.code == 0);
    auto const report = json::parse(r.out);
    REQUIRE(report["runs"].size() == 2);
    auto const& labels = report["runs"][0];
    CHECK(labels["task_run_id"] == 1);
    CHECK(labels["task_name"] == "labels");
    // `tags` holds lists: not a label field. The others, by name.
    REQUIRE(labels["fields"].size() == 2);
    CHECK(labels["fields"][0]["field"] == "label");
    CHECK(labels["fields"][1]["field"] == "sure");

    for (auto const& field : labels["fields"]) {
        auto const name = field["field"].get<std::string>();
        CAPTURE(name);
        auto const triples = exported_triples(c, "1", name);
        REQUIRE(triples.size() == 18);
        CHECK(field["items"] == 6);
        CHECK(field["annotations"] == 18);
        CHECK(field["krippendorff_alpha"] == optional_number(q::krippendorff_alpha(triples)));
        CHECK(field["fleiss_kappa"] == optional_number(q::fleiss_kappa(triples)));
        auto const votes = q::majority_vote(triples);
        CHECK(field["majority_vote"]["ties"] == std::ranges::count_if(votes, [](auto const& v) { return v.tie; }));
        auto const ds = q::dawid_skene(triples);
        CHECK(field["dawid_skene"]["iterations"] == ds.iterations);
        CHECK(field["dawid_skene"]["converged"] == ds.converged);
        for (auto const& w : ds.workers) {
            auto const it = std::ranges::find_if(labels["workers"], [&](json const& x) { return x["worker"] == w.worker; });
            REQUIRE(it != labels["workers"].end());
            CHECK((*it)["estimated_accuracy_by_field"][name] == w.accuracy);
            if (name == "label") CHECK((*it)["estimated_accuracy"] == w.accuracy);
        }
    }
    // By hand (items: aaa, bac, ccc, aaa, bcb, cca): 18 pairable values, n_a = 8, n_b = 3, n_c = 7,
    // Σ o_cc = 11: α = 1 − 17 · 7 / (18² − 122) = 83/202; Fleiss: P̄ = 11/18, P̄_e = 122/324, κ = 76/202.
    CHECK(labels["fields"][0]["krippendorff_alpha"].get<double>() == Approx(83.0 / 202).epsilon(1e-12));
    CHECK(labels["fields"][0]["fleiss_kappa"].get<double>() == Approx(76.0 / 202).epsilon(1e-12));
    CHECK(labels["fields"][0]["majority_vote"]["ties"] == 1);  // item 2: a, b, c

    REQUIRE(labels["workers"].size() == 3);
    for (auto const& w : labels["workers"]) {
        CHECK(w["annotations"] == 6);
        CHECK(w["gold_accuracy"].is_null());
        CHECK(w["estimated_accuracy_by_field"].size() == 2);
    }
    // Workers by name; the estimate reported is the first field's (six items are far too few for Dawid–Skene
    // to rank them: the pseudo-counts hold all three near 0.36, which is why no order is asserted).
    CHECK(labels["workers"][0]["worker"] == "ann");
    CHECK(labels["workers"][2]["worker"] == "cy");
    for (auto const& w : labels["workers"]) CHECK(w["estimated_accuracy"] == w["estimated_accuracy_by_field"]["label"]);

    // Perfect agreement with two labels in use: alpha and kappa are 1.
    auto const& agree = report["runs"][1];
    CHECK(agree["task_name"] == "agree");
    REQUIRE(agree["fields"].size() == 1);
    CHECK(agree["fields"][0]["field"] == "topic");
    CHECK(agree["fields"][0]["krippendorff_alpha"] == 1.0);
    CHECK(agree["fields"][0]["fleiss_kappa"] == 1.0);
    CHECK(agree["fields"][0]["items"] == 2);

    // The table says the same.
    auto table = run({"quality", "--db", c.db}, c.dir.path);
    REQUIRE(table.code == 0);
    CHECK_THAT(table.out, Contains("task run 1 of \"labels\"") && Contains("task run 2 of \"agree\"") &&
                              Contains("0.411") && Contains("0.376") && Contains("1.000"));
}

TEST_CASE("program: crowdline quality --run and --field pick, and refuse what is not there", "[program][quality]") {
    labelled_campaign c;
    auto second = run({"quality", "--db", c.db, "--run", "2", "--json"}, c.dir.path);
    REQUIRE(second.code == 0);
    auto const report = json::parse(second.out);
    REQUIRE(report["runs"].size() == 1);
    CHECK(report["runs"][0]["task_run_id"] == 2);
    CHECK(report["runs"][0]["task_name"] == "agree");

    auto one_field = run({"quality", "--db", c.db, "--run", "1", "--field", "sure", "--json"}, c.dir.path);
    REQUIRE(one_field.code == 0);
    auto const sure = json::parse(one_field.out)["runs"][0];
    REQUIRE(sure["fields"].size() == 1);
    CHECK(sure["fields"][0]["field"] == "sure");
    CHECK(sure["workers"][0]["estimated_accuracy_by_field"].size() == 1);

    // A field in one run only: the other says it has none.
    auto topic = run({"quality", "--db", c.db, "--field", "topic", "--json"}, c.dir.path);
    REQUIRE(topic.code == 0);
    auto const both = json::parse(topic.out)["runs"];
    CHECK(both[0]["fields"].empty());
    CHECK_THAT(both[0]["note"].get<std::string>(), Contains("topic"));
    CHECK(both[1]["fields"].size() == 1);

    auto unknown = run({"quality", "--db", c.db, "--field", "nope"}, c.dir.path);
    CHECK(unknown.code == 1);
    CHECK_THAT(unknown.err, Contains("--field nope") && Contains("no answer") && Contains("label, sure, tags"));
    CHECK(unknown.out.empty());
    auto lists = run({"quality", "--db", c.db, "--field", "tags"}, c.dir.path);
    CHECK(lists.code == 1);
    CHECK_THAT(lists.err, Contains("--field tags") && Contains("not a label"));
    auto no_run = run({"quality", "--db", c.db, "--run", "9"}, c.dir.path);
    CHECK(no_run.code == 1);
    CHECK_THAT(no_run.err, Contains("--run 9") && Contains("no such task run"));
}

TEST_CASE("program: export --aggregate writes one line per item with its label, confidence and answers",
          "[program][quality]") {
    labelled_campaign c;
    auto majority = run({"export", "--db", c.db, "--run", "1", "--aggregate", "majority", "--field", "label"}, c.dir.path);
    REQUIRE(majority.code == 0);
    std::map<std::string, json> by_text;
    std::istringstream lines(majority.out);
    for (std::string line; std::getline(lines, line);) {
        auto j = json::parse(line);
        by_text[j["inputs"]["text"].get<std::string>()] = j;
    }
    REQUIRE(by_text.size() == 6);
    auto const& one = by_text["item 1"];  // a, a, a
    CHECK(one["task_run_id"] == 1);
    CHECK(one["task_name"] == "labels");
    CHECK(one["field"] == "label");
    CHECK(one["label"] == "a");
    CHECK(one["confidence"] == 1.0);
    CHECK(one["tie"] == false);
    CHECK(one["answers"] == json::parse(R"([{"worker": "ann", "label": "a"}, {"worker": "bob", "label": "a"},
                                            {"worker": "cy", "label": "a"}])"));
    auto const& two = by_text["item 2"];  // b, a, c: a tie, resolved to the smallest label
    CHECK(two["tie"] == true);
    CHECK(two["label"] == "a");
    CHECK(two["confidence"].get<double>() == Approx(1.0 / 3));
    auto const& five = by_text["item 5"];  // b, c, b
    CHECK(five["label"] == "b");
    CHECK(five["confidence"].get<double>() == Approx(2.0 / 3));
    CHECK(five["tie"] == false);
    // Lines of one item are distinct assignments.
    std::set<std::int64_t> assignments;
    for (auto const& [text, j] : by_text) assignments.insert(j["assignment_id"].get<std::int64_t>());
    CHECK(assignments.size() == 6);

    // Dawid–Skene: the posterior of the label chosen, no tie flag; every field without --field.
    auto ds = run({"export", "--db", c.db, "--aggregate", "dawid_skene"}, c.dir.path);
    REQUIRE(ds.code == 0);
    std::map<std::pair<std::string, std::string>, int> per_run_field;
    std::istringstream ds_lines(ds.out);
    for (std::string line; std::getline(ds_lines, line);) {
        auto j = json::parse(line);
        ++per_run_field[{j["task_name"].get<std::string>(), j["field"].get<std::string>()}];
        CHECK_FALSE(j.contains("tie"));
        CHECK(j["confidence"].get<double>() > 0.0);
        CHECK(j["confidence"].get<double>() <= 1.0);
    }
    CHECK(per_run_field == std::map<std::pair<std::string, std::string>, int>{
                               {{"labels", "label"}, 6}, {{"labels", "sure"}, 6}, {{"agree", "topic"}, 2}});

    auto bogus = run({"export", "--db", c.db, "--aggregate", "bogus"}, c.dir.path);
    CHECK(bogus.code == 1);
    CHECK_THAT(bogus.err, Contains("--aggregate") && Contains("\"bogus\"") && Contains("majority") && Contains("dawid_skene"));
    CHECK(bogus.out.empty());
}

TEST_CASE("program: crowdline quality on a database with no run, or no answer, says so", "[program][quality]") {
    tiny_campaign c;
    { crowdline::stores::sqlite made{c.db}; }  // a crowdline database with nothing in it
    auto nothing = run({"quality", "--db", c.db}, c.dir.path);
    CHECK(nothing.code == 0);
    CHECK_THAT(nothing.out, Contains(c.db + ": no task run yet"));
    auto nothing_json = run({"quality", "--db", c.db, "--json"}, c.dir.path);
    CHECK(nothing_json.code == 0);
    CHECK(json::parse(nothing_json.out) == json::parse(R"({"runs": []})"));
    CHECK_THAT(nothing_json.err, Contains("no task run yet"));
    // A run but no answer yet: served, then stopped before anyone answered.
    {
        program p(c.serve(), c.dir.path);
        REQUIRE(p.wait_for_output("Review page"));
        CHECK(p.interrupt() == 0);
    }
    auto r = run({"quality", "--db", c.db, "--json"}, c.dir.path);
    REQUIRE(r.code == 0);
    auto const report = json::parse(r.out);
    REQUIRE(report["runs"].size() == 1);
    CHECK(report["runs"][0]["fields"].empty());
    CHECK_THAT(report["runs"][0]["note"].get<std::string>(), Contains("no answers yet"));
    auto missing = run({"quality", "--db", (c.dir / "none.db").string()}, c.dir.path);
    CHECK(missing.code == 1);
    CHECK_THAT(missing.err, Contains("no such database"));
}

TEST_CASE("program: the review page's quality figures are crowdline quality's, with items least agreed first",
          "[program][quality]") {
    labelled_campaign c;
    auto cli = run({"quality", "--db", c.db, "--run", "1", "--json"}, c.dir.path);
    REQUIRE(cli.code == 0);
    auto const expected = json::parse(cli.out)["runs"][0];

    program again({"serve", "--campaign", c.file, "--port", "0"}, c.dir.path);  // the runs are complete: review only
    REQUIRE(again.wait_for_output("Review page"));
    auto const bearer = "Bearer " + json::parse(read_bytes(c.db + ".secrets.json"))["requester_token"].get<std::string>();
    CHECK(test::http_request(again.port(), "GET", "/api/review/quality?run=labels").status == 401);
    auto reply = test::http_request(again.port(), "GET", "/api/review/quality?run=labels", {}, bearer);
    REQUIRE(reply.status == 200);
    auto const page = reply.parsed();
    CHECK(page["run"] == "labels");
    CHECK(page["task_run_id"] == 1);
    CHECK(page["fields"] == expected["fields"]);
    CHECK(page["workers"] == expected["workers"]);
    // Items by the majority's share on the first field, lowest first: item 2 (a, b, c: a tie), then 5 and 6
    // (two of three), then the unanimous ones.
    auto const& items = page["items"];
    REQUIRE(items.size() == 6);
    CHECK(items[0]["field"] == "label");
    CHECK(items[0]["tie"] == true);
    CHECK(items[0]["agreement"].get<double>() == Approx(1.0 / 3));
    CHECK(items[1]["agreement"].get<double>() == Approx(2.0 / 3));
    CHECK(items[2]["agreement"].get<double>() == Approx(2.0 / 3));
    for (std::size_t i = 3; i < 6; ++i) CHECK(items[i]["agreement"] == 1.0);
    // The units name their item, so the page can order them by it.
    auto units = test::http_request(again.port(), "GET", "/api/review/units?run=labels", {}, bearer).parsed()["units"];
    REQUIRE(units.size() == 18);
    std::set<std::int64_t> items_of_units;
    for (auto const& u : units) items_of_units.insert(u["assignment_id"].get<std::int64_t>());
    std::set<std::int64_t> items_reported;
    for (auto const& i : items) items_reported.insert(i["assignment_id"].get<std::int64_t>());
    CHECK(items_of_units == items_reported);
    CHECK(again.interrupt() == 0);
}
#ifdef CROWDLINE_WITH_PROLIFIC  // the program serves Prolific runs: against the fake of Prolific's API
#include "prolific_serve.hpp"
#endif
