// What only a file-backed store can show: durability across reopen, migrations, foreign files.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "backends.hpp"
#include "fixtures.hpp"

using namespace crowdline;
using Catch::Matchers::Contains;

namespace {
std::string read_bytes(std::filesystem::path const& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("a reopened SQLite file holds everything written", "[store][sqlite]") {
    test::sqlite_backend backend;
    nlohmann::json written;
    {
        auto db = backend.open();
        auto c = test::make_chain(*db);
        for (int i = 0; i < 5; ++i) {
            auto u = test::launched_unit(*db, c.assignment, i);
            if (i % 2 == 0) {
                auto ag = db->new_agent(c.worker, u);
                db->update_agent(ag, agent_status::in_task);
                db->update_agent(ag, agent_status::completed, nlohmann::json{{"answer", i}});
                db->update_unit(u, unit_status::completed);
            }
        }
        auto q = db->make_qualification("reads_fr");
        db->grant_qualification(q, c.worker, 2);
        db->new_onboarding_agent(c.worker, c.run);
        db->new_worker_review({.worker = c.worker, .status = "approved"});
        written = test::snapshot(*db);
    }
    auto db = backend.reopen();
    CHECK(test::snapshot(*db) == written);
    CHECK(db->schema_version() == stores::sqlite_migrations().size());
}

TEST_CASE("a file made by an older schema is migrated and keeps its data", "[store][sqlite]") {
    test::sqlite_backend backend;
    nlohmann::json written;
    {
        stores::sqlite old(backend.file(), {.schema_version = 1});
        REQUIRE(old.schema_version() == 1);
        auto c = test::make_chain(old);
        auto u = test::launched_unit(old, c.assignment, 0);
        old.new_agent(c.worker, u);
        written = nlohmann::json{{"units", old.find_units()}, {"workers", old.find_workers()}};
    }
    auto db = backend.reopen();
    CHECK(db->schema_version() == stores::sqlite_migrations().size());
    CHECK(nlohmann::json{{"units", db->find_units()}, {"workers", db->find_workers()}} == written);
    auto ag = db->find_agents().at(0).id;
    db->update_agent(ag, agent_status::in_task, nlohmann::json{{"live", true}});  // the column 002 added
    CHECK(db->get_agent(ag).state == nlohmann::json{{"live", true}});
}

TEST_CASE("a file made before keyed values gains them and keeps its data", "[store][sqlite][keyed]") {
    test::sqlite_backend backend;
    nlohmann::json written;
    {
        stores::sqlite old(backend.file(), {.schema_version = 3});
        REQUIRE(old.schema_version() == 3);
        auto c = test::make_chain(old);
        (void)test::launched_unit(old, c.assignment, 0);
        written = nlohmann::json{{"units", old.find_units()}, {"workers", old.find_workers()}};
        CHECK_THROWS_AS(old.put_value("s", "k", "v"), db_error);  // no table yet at version 3
    }
    auto db = backend.reopen();
    CHECK(db->schema_version() == stores::sqlite_migrations().size());
    CHECK(nlohmann::json{{"units", db->find_units()}, {"workers", db->find_workers()}} == written);
    db->put_value("s", "k", "v");
    db.reset();
    CHECK(backend.reopen()->get_value("s", "k") == std::optional<std::string>("v"));
}

TEST_CASE("a file that is not a crowdline database is refused and left unchanged", "[store][sqlite]") {
    test::scratch_dir dir;
    SECTION("random bytes") {
        auto file = dir.path / "notes.db";
        std::ofstream(file, std::ios::binary) << std::string(4096, 'x') << "definitely not sqlite";
        auto before = read_bytes(file);
        CHECK_THROWS_AS(stores::sqlite(file.string()), db_error);
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains("not a crowdline database"));
        CHECK(read_bytes(file) == before);
    }
    SECTION("another application's SQLite database") {
        auto file = dir.path / "other.db";
        {
            SQLite::Database other(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            other.exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada')");
        }
        auto before = read_bytes(file);
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains("no crowdline_migrations table"));
        CHECK(read_bytes(file) == before);
        CHECK_FALSE(std::filesystem::exists(dir.path / "other.db-wal"));
    }
    SECTION("an empty file") {
        auto file = dir.path / "empty.db";
        std::ofstream{file};
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains(file.string()) && Contains("not a crowdline database") &&
                                                             Contains("empty"));
        CHECK(std::filesystem::file_size(file) == 0);
        CHECK_FALSE(std::filesystem::exists(dir.path / "empty.db-wal"));
    }
    SECTION("a SQLite file without tables (another program's settings, no data yet)") {
        auto file = dir.path / "bare.db";
        { SQLite::Database other(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); other.exec("PRAGMA user_version = 7"); }
        REQUIRE(std::filesystem::file_size(file) > 0);
        auto before = read_bytes(file);
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains(file.string()) && Contains("not a crowdline database"));
        CHECK(read_bytes(file) == before);
    }
    SECTION("another application's application_id") {
        auto file = dir.path / "app.db";
        { SQLite::Database other(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); other.exec("PRAGMA application_id = 1196444487"); }
        auto before = read_bytes(file);
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains("application_id is 1196444487"));
        CHECK(read_bytes(file) == before);
    }
    SECTION("a SQLite header with garbage after it") {
        auto file = dir.path / "torn.db";
        std::ofstream(file, std::ios::binary) << std::string("SQLite format 3\0", 16) << std::string(4080, '\x7f');
        auto before = read_bytes(file);
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains(file.string()) && Contains("not a crowdline database"));
        CHECK(read_bytes(file) == before);
    }
    SECTION("a file from a newer crowdline") {
        auto file = dir.path / "newer.db";
        { stores::sqlite db(file.string()); }
        {
            SQLite::Database raw(file.string(), SQLite::OPEN_READWRITE);
            raw.exec("INSERT INTO crowdline_migrations (name) VALUES ('999_from_the_future')");
        }
        CHECK_THROWS_WITH(stores::sqlite(file.string()), Contains("999_from_the_future"));
    }
}

TEST_CASE("a new file is created and marked as crowdline's; an older crowdline file is still accepted", "[store][sqlite]") {
    test::scratch_dir dir;
    auto file = (dir.path / "fresh.db").string();
    { stores::sqlite db(file); }
    {
        SQLite::Database raw(file, SQLite::OPEN_READWRITE);
        CHECK(raw.execAndGet("PRAGMA application_id").getInt() == stores::sqlite_application_id);
        raw.exec("PRAGMA application_id = 0");  // as crowdline made files before the id
    }
    { stores::sqlite db(file); CHECK(db.schema_version() == stores::sqlite_migrations().size()); }
    SQLite::Database raw(file, SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("PRAGMA application_id").getInt() == stores::sqlite_application_id);
}

TEST_CASE("sqlite options are checked and applied", "[store][sqlite]") {
    test::scratch_dir dir;
    auto file = (dir.path / "opts.db").string();
    CHECK_THROWS_AS(stores::sqlite(file, {.journal_mode = "BOGUS"}), crowdline::invalid_argument);
    CHECK_THROWS_AS(stores::sqlite(file, {.synchronous = "SOMETIMES"}), crowdline::invalid_argument);
    {
        stores::sqlite db(file, {.journal_mode = "DELETE", .synchronous = "FULL"});
        db.new_project("p");
    }
    SQLite::Database raw(file, SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "delete");
    stores::sqlite wal(file);
    CHECK(wal.find_projects().size() == 1);
}

TEST_CASE("a new file gets the page size asked for; an existing file keeps its own", "[store][sqlite]") {
    test::scratch_dir dir;
    auto page_size_of = [](std::string const& file) {
        SQLite::Database raw(file, SQLite::OPEN_READONLY);
        return raw.execAndGet("PRAGMA page_size").getInt();
    };
    auto const by_default = (dir.path / "default.db").string();
    {
        stores::sqlite db(by_default);
        db.new_project("p");
    }
    CHECK(page_size_of(by_default) == stores::sqlite_options{}.page_size);

    auto const large = (dir.path / "large.db").string();
    {
        stores::sqlite db(large, {.page_size = 8192});
        test::make_chain(db);
    }
    CHECK(page_size_of(large) == 8192);
    {
        SQLite::Database raw(large, SQLite::OPEN_READONLY);
        CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "wal");  // set after the page size, not instead
    }
    {
        stores::sqlite db(large, {.page_size = 512});  // an existing file: the option does not apply
        CHECK(db.find_projects().size() == 1);
        auto const c = db.find_assignments().front();
        db.new_unit(c.id, 7, 1.0);
    }
    CHECK(page_size_of(large) == 8192);
    {
        SQLite::Database raw(large, SQLite::OPEN_READONLY);
        CHECK(raw.execAndGet("PRAGMA integrity_check").getString() == "ok");
    }

    auto const refused = dir.path / "refused.db";
    for (int bad : {0, 256, 1000, 3072, 131072}) {
        INFO("page_size " << bad);
        CHECK_THROWS_AS(stores::sqlite(refused.string(), {.page_size = bad}), crowdline::invalid_argument);
        CHECK_THROWS_WITH(stores::sqlite(refused.string(), {.page_size = bad}), Contains("page_size"));
        CHECK_FALSE(std::filesystem::exists(refused));
    }
    CHECK_THROWS_WITH(stores::sqlite(refused.string(), {.cache_kib = 63}), Contains("cache_kib: must be at least 64"));
    // The same rules as an args struct: `key=value` sets a field, validate() names the bad key.
    stores::sqlite_options bound;
    config::apply_override(bound, "page_size=4096");
    config::apply_override(bound, "cache_kib=1024");
    CHECK(bound.page_size == 4096);
    CHECK(bound.cache_kib == 1024);
    CHECK_NOTHROW(bound.validate());
    config::apply_override(bound, "page_size=3000");
    CHECK_THROWS_WITH(bound.validate(), "page_size: must be a power of two from 512 to 65536, not 3000");
    CHECK_THROWS_AS(bound.validate(), crowdline::config_error);
    CHECK_FALSE(std::filesystem::exists(refused));
    {
        stores::sqlite small_cache(refused.string(), {.cache_kib = 64});  // the smallest allowed cache still works
        test::make_chain(small_cache);
        CHECK(small_cache.find_projects().size() == 1);
    }
}

TEST_CASE("unit queries are answered from an index after migration 003", "[store][sqlite]") {
    test::sqlite_backend backend;
    { auto db = backend.open(); test::make_chain(*db); }
    SQLite::Database raw(backend.file(), SQLite::OPEN_READONLY);
    auto plan = [&](std::string const& where) {
        SQLite::Statement q(raw, "EXPLAIN QUERY PLAN SELECT unit_id FROM units WHERE " + where);
        std::string out;
        while (q.executeStep()) out += q.getColumn(3).getString() + "\n";
        return out;
    };
    CHECK_THAT(plan("assignment_id = 1"), Contains("USING") && !Contains("SCAN units"));
    CHECK_THAT(plan("task_run_id = 1"), Contains("USING") && !Contains("SCAN units"));
    CHECK_THAT(plan("task_run_id = 1 AND status = 'launched'"), Contains("units_by_run_status"));
    CHECK_THAT(plan("worker_id = 1"), Contains("units_by_worker"));
    SQLite::Statement names(raw, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'units'");
    std::vector<std::string> indexes;
    while (names.executeStep()) indexes.push_back(names.getColumn(0).getString());
    CHECK(std::find(indexes.begin(), indexes.end(), "units_by_run") == indexes.end());
    CHECK(std::find(indexes.begin(), indexes.end(), "units_by_assignment") == indexes.end());
    CHECK(std::find(indexes.begin(), indexes.end(), "units_by_status") == indexes.end());
}
