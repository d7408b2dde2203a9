// `crowdline status / review / export / quality --db postgresql://… --schema NAME`: one campaign, made by the
// library with the same packets in a PostgreSQL schema (a throwaway cluster) and in an SQLite file, reads the
// same through the program, byte for byte; a review decided there is kept there; a schema that holds no
// campaign and a server that does not answer are refused, saying why, making nothing. `serve` from a schema
// keeps answers and links there, across a SIGKILL, and refuses a second server on the schema by name. Compiled to nothing unless the build has crowdline::postgres (CROWDLINE_WITH_POSTGRES).
#ifdef CROWDLINE_WITH_POSTGRES

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <crowdline/provider/mock.hpp>

#include "../unit/ops/pipeline_common.hpp"
#include "program_runner.hpp"
#include "worker_client.hpp"

using namespace program_test;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

/// worker → the label of mock items 0..5 (answers that agree on some items and not on others).
std::map<std::string, std::vector<std::string>> const labels{
    {"ann", {"a", "b", "c", "a", "b", "c"}},
    {"bob", {"a", "a", "c", "a", "c", "c"}},
    {"cy", {"a", "c", "c", "b", "b", "a"}},
};

/// Six items, three answers each, workers taking turns: the same packets whatever the store.
template <class Store>
void make_campaign(Store& db) {
    using namespace crowdline;
    architects::in_process arch;
    providers::mock crowd;
    test::manual_clock clock;
    pipeline p{blueprints::mock{6}, arch, crowd, test::make_test_dispatcher(3), db, test::run_args("labels")};
    p.set_clock(clock);
    p.launch();
    std::vector<test::page> pages;
    for (auto const& [name, _] : labels) pages.push_back(test::page{arch, name});
    for (bool any = true; any;) {
        any = false;
        for (auto& page : pages) {
            if (page.register_().type != "agent_details") continue;
            auto const text = page.init["unit_data"]["text"].get<std::string>();  // "mock item N"
            auto const item = static_cast<std::size_t>(std::stoi(text.substr(text.rfind(' ') + 1)));
            REQUIRE(page.submit({{"label", labels.at(page.name).at(item)}}).type == "submitted");
            any = true;
        }
    }
    REQUIRE(p.is_complete());
}

/// The schema's tables, straight from PostgreSQL (not through the store, which would make them).
bool schema_exists(std::string const& schema) {
    pqxx::connection raw(test::pg_cluster::instance().url());
    pqxx::work w(raw);
    return !w.exec_params("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", schema).empty();
}

}  // namespace

TEST_CASE("program: status, review, export and quality read a PostgreSQL campaign as they read the same SQLite one",
          "[program][postgres]") {
    test::scratch_dir dir;
    auto const file = (dir.path / "labels.db").string();
    {
        crowdline::stores::sqlite db{file};
        make_campaign(db);
    }
    test::postgres_backend pg;
    make_campaign(*pg.open());
    std::vector<std::string> const in_sqlite{"--db", file};
    std::vector<std::string> const in_postgres{"--db", test::pg_cluster::instance().uri(), "--schema", pg.schema};
    auto const both = [&](std::vector<std::string> command) {
        auto with = [&](std::vector<std::string> const& where) {
            auto args = command;
            args.insert(args.begin() + 1, where.begin(), where.end());
            auto r = run(args, dir.path);
            INFO(command.front() << " " << (&where == &in_postgres ? "postgres" : "sqlite") << ": " << r.err);
            REQUIRE(r.code == 0);
            return r.out;
        };
        auto const from_sqlite = with(in_sqlite);
        auto const from_postgres = with(in_postgres);
        CHECK(from_postgres == from_sqlite);
        return from_postgres;
    };
    auto const status = both({"status"});
    CHECK_THAT(status, Contains("task run 1 of \"labels\" (complete): 6 tasks, 18 units, 3 workers"));
    auto const exported = both({"export"});
    CHECK(std::count(exported.begin(), exported.end(), '\n') == 18);
    auto const quality = json::parse(both({"quality", "--json"}));
    REQUIRE(quality["runs"].size() == 1);
    CHECK(quality["runs"][0]["fields"][0]["field"] == "label");
    CHECK(quality["runs"][0]["fields"][0]["annotations"] == 18);
    auto const aggregated = both({"export", "--aggregate", "majority"});
    CHECK(std::count(aggregated.begin(), aggregated.end(), '\n') == 6);
    auto const waiting = both({"review"});
    CHECK_THAT(waiting, Contains("18 units of task run 1 wait for review"));

    // A decision taken on PostgreSQL is kept there (and only there).
    auto const agent = json::parse(exported.substr(0, exported.find('\n')))["unit_id"].get<std::int64_t>();
    auto const first_agent = pg.open()->get_unit(crowdline::unit_id{agent}).agent.value().value();
    std::vector<std::string> approve{"review"};
    approve.insert(approve.end(), in_postgres.begin(), in_postgres.end());
    approve.insert(approve.end(), {"approve", std::to_string(first_agent), "fine work"});
    auto const decided = run(approve, dir.path);
    INFO(decided.err);
    REQUIRE(decided.code == 0);
    CHECK_THAT(decided.out, Contains("agent " + std::to_string(first_agent) + ": accepted"));
    CHECK(pg.open()->get_unit(crowdline::unit_id{agent}).status == crowdline::unit_status::accepted);
    CHECK(crowdline::stores::sqlite{file}.get_unit(crowdline::unit_id{agent}).status == crowdline::unit_status::completed);
    std::vector<std::string> again{"review"};
    again.insert(again.end(), in_postgres.begin(), in_postgres.end());
    again.insert(again.end(), {"reject", std::to_string(first_agent)});
    auto const twice = run(again, dir.path);  // an accepted unit cannot be rejected: refused, nothing changed
    CHECK(twice.code == 1);
    CHECK_THAT(twice.err, Contains("crowdline: "));
    CHECK(pg.open()->get_unit(crowdline::unit_id{agent}).status == crowdline::unit_status::accepted);
}

TEST_CASE("program: a PostgreSQL schema without a campaign, or a server that is not there: refused, saying why, "
          "nothing made",
          "[program][postgres]") {
    test::scratch_dir dir;
    auto const url = test::pg_cluster::instance().uri();
    auto const missing = test::pg_cluster::fresh_schema();
    for (auto const* command : {"status", "review", "export", "quality"}) {
        auto r = run({command, "--db", url, "--schema", missing}, dir.path);
        INFO(command);
        CHECK(r.code == 1);
        CHECK_THAT(r.err, Contains("postgresql schema \"" + missing + "\": does not exist") &&
                              Contains("--schema picks another"));
        CHECK(r.out.empty());
    }
    CHECK_FALSE(schema_exists(missing));  // a mistyped name did not become an empty campaign

    // A URL with a password: the message names the failure, never the password.
    auto unreachable = run({"status", "--db", "postgresql://someone:s3cret-pw@127.0.0.1:1/db?connect_timeout=3"}, dir.path);
    CHECK(unreachable.code == 1);
    CHECK_THAT(unreachable.err, Contains("postgresql schema \"crowdline\": cannot connect"));
    CHECK_THAT(unreachable.err, !Contains("s3cret-pw"));

    auto empty = run({"status", "--db", url, "--schema="}, dir.path);
    CHECK(empty.code == 1);
    CHECK_THAT(empty.err, Contains("schema: must not be empty"));
}

TEST_CASE("program: serve from a PostgreSQL schema keeps answers and links there, refuses a second server, "
          "and resumes after SIGKILL",
          "[program][postgres]") {
    test::scratch_dir dir;
    auto const tasks = (dir.path / "tasks.jsonl").string();
    auto const workers = (dir.path / "workers.json").string();
    write_text(tasks, R"({"lang": "en", "text": "What a lovely day"})" "\n" R"({"lang": "en", "text": "Cold soup again"})" "\n");
    write_text(workers, R"([{"name": "ann", "languages": ["en"]}])");
    auto const schema = test::pg_cluster::fresh_schema();
    std::vector<std::string> const serve{"serve", "--tasks", tasks, "--workers", workers, "--db", test::pg_cluster::instance().uri(),
                                         "--schema", schema, "--port", "0", "overlap=1"};

    std::string token;
    {
        program first(serve, dir.path);
        REQUIRE(first.wait_for_output("Review page"));
        token = first.invite("ann");
        // A second server on the schema is refused before it binds or writes, naming the holder.
        auto second = run(serve, dir.path);
        CHECK(second.code == 1);
        CHECK_THAT(second.err, Contains("postgresql schema \"" + schema + "\": another crowdline serve (crowdline serve, PID " +
                                        std::to_string(first.pid())) &&
                                   Contains("is serving this schema"));
        do_one_unit(first.port(), token);
        first.kill_hard();  // no shutdown: the lock goes with the connection, the answer was committed
    }
    for (auto const& entry : fs::directory_iterator(dir.path))  // the links live in the schema, not in a file
        CHECK(entry.path().string().find("secrets") == std::string::npos);

    program again(serve, dir.path);
    REQUIRE(again.wait_for_output("Review page"));
    CHECK(again.invite("ann") == token);  // the same link after the restart
    do_one_unit(again.port(), token);
    REQUIRE(again.wait_for_output("The run is complete"));
    CHECK(again.interrupt() == 0);

    auto status = run({"status", "--db", test::pg_cluster::instance().uri(), "--schema", schema}, dir.path);
    REQUIRE(status.code == 0);
    CHECK_THAT(status.out, Contains("(complete): 2 tasks, 2 units, 1 workers"));
    CHECK_THAT(status.out, Contains("completed       2"));
}

#endif  // CROWDLINE_WITH_POSTGRES
