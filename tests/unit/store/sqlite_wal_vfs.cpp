// stores::sqlite's VFS (store/detail/wal_vfs.hpp): a transaction's log frames reach the OS in one write,
// and nothing a commit wrote is later, lost or out of order for anyone else.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <sys/wait.h>
#include <unistd.h>

#include "backends.hpp"
#include "counting_vfs.hpp"
#include "fixtures.hpp"

using namespace crowdline;

namespace {
std::string integrity_of(std::string const& file) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    return db.execAndGet("PRAGMA integrity_check").getString();
}
long long count_units(std::string const& file) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT COUNT(*) FROM units").getInt64();
}
}  // namespace

TEST_CASE("each small commit reaches the log in one write", "[store][sqlite][vfs]") {
    constexpr int commits = 50;
    // The same commits on a plain store (SQLite's own writes) and on a gathering one, counted where the
    // writes reach the OS (test::counting_vfs, below both).
    auto const run = [&](bool gather) {
        test::sqlite_backend backend;
        stores::sqlite db(backend.file(), stores::sqlite_options{.gather_log_writes = gather});
        auto c = test::make_chain(db);
        auto const before = test::counting_vfs::instance().wal();
        for (int i = 0; i < commits; ++i) db.new_unit(c.assignment, i, 1.0);  // a commit each
        auto const written = test::counting_vfs::instance().wal() - before;
        CHECK(count_units(backend.file()) == commits);
        return written;
    };
    auto const plain = run(false);
    auto const gathered = run(true);
    INFO("plain: " << plain.writes << " writes, " << plain.bytes << " bytes; gathered: " << gathered.writes
                   << " writes, " << gathered.bytes << " bytes");
    // SQLite writes two pieces per frame (header, page), at least one frame per commit; gathered, one write
    CHECK(plain.writes >= 2 * commits);
    CHECK(gathered.writes == commits);
    // the same bytes: only the number of writes differs
    CHECK(gathered.bytes == plain.bytes);
    CHECK(plain.bytes >= std::uint64_t{commits} * (stores::sqlite_options{}.page_size + 24));
}

TEST_CASE("the default VFS can be chosen and gives the same data", "[store][sqlite][vfs]") {
    test::sqlite_backend backend;
    auto const before = test::counting_vfs::instance().wal();
    {
        stores::sqlite db(backend.file(), stores::sqlite_options{.gather_log_writes = false});
        auto c = test::make_chain(db);
        for (int i = 0; i < 10; ++i) test::launched_unit(db, c.assignment, i);
    }
    // Not gathered: every commit reached the log in SQLite's own pieces, two or more per commit.
    CHECK((test::counting_vfs::instance().wal() - before).writes >= 2 * 20);
    stores::sqlite again(backend.file());
    CHECK(again.find_units({.status = unit_status::launched}).size() == 10);
}

TEST_CASE("a second connection sees every commit as soon as it returns", "[store][sqlite][vfs]") {
    test::sqlite_backend backend;
    auto writer = backend.open();
    auto reader = backend.reopen();
    auto c = test::make_chain(*writer);
    for (int i = 0; i < 200; ++i) {
        auto u = writer->new_unit(c.assignment, i, 1.0);
        REQUIRE(reader->get_unit(u).unit_index == i);
        writer->update_unit(u, unit_status::launched);
        REQUIRE(reader->get_unit(u).status == unit_status::launched);
    }
    CHECK(reader->find_units({.status = unit_status::launched}).size() == 200);
}

TEST_CASE("a process that dies without closing keeps every commit it made", "[store][sqlite][vfs]") {
    test::sqlite_backend backend;
    { auto db = backend.open(); test::make_chain(*db); }
    constexpr int units = 300;
    pid_t const child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int status = 1;
        try {
            stores::sqlite db(backend.file());
            auto const a = db.find_assignments({}).front().id;
            for (int i = 0; i < units; ++i) test::launched_unit(db, a, i);
            status = 0;
        } catch (...) {
        }
        ::_exit(status);  // no destructors, no close: as if the process were killed
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK(integrity_of(backend.file()) == "ok");
    auto db = backend.open();
    CHECK(db->find_units({.status = unit_status::launched}).size() == units);
}

TEST_CASE("a transaction larger than the page cache, and one rolled back, leave a sound file", "[store][sqlite][vfs]") {
    test::sqlite_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    // ~30k units spill dirty pages into the log before the commit (frames without a commit mark)
    constexpr int big = 30000;
    db->transaction([&] {
        for (int i = 0; i < big; ++i) db->new_unit(c.assignment, i, 1.0);
    });
    CHECK(count_units(backend.file()) == big);
    CHECK_THROWS_AS(db->transaction([&] {
                        for (int i = big; i < 2 * big; ++i) db->new_unit(c.assignment, i, 1.0);
                        throw std::runtime_error("abandon");
                    }),
                    std::runtime_error);
    CHECK(count_units(backend.file()) == big);
    // later commits land where the abandoned frames were
    for (int i = 0; i < 20; ++i) db->new_unit(c.assignment, big + i, 1.0);
    CHECK(count_units(backend.file()) == big + 20);
    CHECK(integrity_of(backend.file()) == "ok");
    db.reset();
    CHECK(integrity_of(backend.file()) == "ok");
    CHECK(count_units(backend.file()) == big + 20);
}
