// stores::sqlite's background checkpointer (store/detail/checkpointer.hpp): checkpoints leave the
// committing thread, the log still starts again from its beginning under a steady stream of commits, other
// connections read consistent data meanwhile, and a checkpointer that cannot run hands the work back to
// SQLite. Built under ThreadSanitizer in CI.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "backends.hpp"
#include "counting_vfs.hpp"
#include "fixtures.hpp"

using namespace crowdline;
namespace fs = std::filesystem;

namespace {
// const, not constexpr: sqlite_options holds a std::string, which clang 16 will not build in a constant.
const std::uintmax_t frame_bytes = stores::sqlite_options{}.page_size + 24;  // a new file's page and its header

std::uintmax_t size_of(fs::path const& p) {
    std::error_code ec;
    auto const n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

/// Log frames written so far in this process (a header and a page each), counted below every VFS.
std::uint64_t frames_requested() { return test::counting_vfs::instance().wal().bytes / frame_bytes; }

template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto const until = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}
}  // namespace

TEST_CASE("checkpoints run off the committing thread and the log stays bounded", "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    constexpr int threshold = 100;
    stores::sqlite db(backend.file(), stores::sqlite_options{.checkpoint_frames = threshold});
    auto c = test::make_chain(db);
    auto const before = frames_requested();
    std::uintmax_t largest_log = 0;
    int i = 0;
    // A steady stream of commits, until the log has been written many times over its limit.
    while (frames_requested() - before < 200 * threshold) {
        test::launched_unit(db, c.assignment, i++);
        if (i % 50 == 0) largest_log = std::max(largest_log, size_of(backend.file() + "-wal"));
    }
    auto const written = frames_requested() - before;
    auto const stats = db.checkpoints();
    INFO("frames written " << written << ", largest log " << largest_log / frame_bytes << " frames, rounds "
                           << stats.rounds << ", catch-ups " << stats.catch_ups << ", busy " << stats.busy << ", wakeups " << stats.wakeups << ", longest " << stats.longest_log);
    CHECK_FALSE(stats.fallback);
    CHECK(stats.last_error.empty());
    CHECK(stats.rounds >= 1);
    CHECK(stats.catch_ups >= 1);
    CHECK(stats.wakeups >= stats.rounds);
    // Unbounded, the log would hold every frame written; restarted, it holds its limit (4 × threshold) and
    // what was committed during one round of the thread.
    CHECK(largest_log > 0);
    CHECK(largest_log < written * frame_bytes / 4);

    CHECK(db.find_units({.status = unit_status::launched}).size() == static_cast<std::size_t>(i));
}

TEST_CASE("another connection reads consistent data while checkpoints run", "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    auto c = [&] {
        stores::sqlite setup(backend.file());
        return test::make_chain(setup);
    }();
    constexpr int min_units = 3000;
    int units = 0;
    std::atomic<int> committed{0};
    std::atomic<bool> done{false};
    std::atomic<int> bad_reads{0};
    std::atomic<int> reads{0};
    std::latch reading(1);
    std::thread reader([&] {
        stores::sqlite db(backend.file());
        std::size_t last = 0;
        for (bool first = true; first || !done.load(); first = false) {
            int const floor = committed.load();  // committed before this read began: must be visible
            auto const seen = db.find_units({.assignment = c.assignment}).size();
            if (seen < last || seen < static_cast<std::size_t>(floor)) ++bad_reads;
            last = seen;
            ++reads;
            if (first) reading.count_down();
        }
    });
    stores::sqlite_options options{.checkpoint_frames = 50};
    {
        stores::sqlite writer(backend.file(), options);
        reading.wait();  // the reader is open and reading before the first commit
        // At least min_units commits, and on until a checkpoint has run beside the reader: on a loaded disk
        // the thread's first round can still be in its fsync when min_units are written.
        auto const give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        auto checkpointed = [&] {
            auto const s = writer.checkpoints();
            return s.rounds + s.catch_ups >= 1;
        };
        while (units < min_units || (!checkpointed() && std::chrono::steady_clock::now() < give_up)) {
            writer.new_unit(c.assignment, units, 1.0);
            committed.store(++units);
        }
        auto const stats = writer.checkpoints();
        INFO("rounds " << stats.rounds << ", catch-ups " << stats.catch_ups << ", busy " << stats.busy << ", wakeups "
                       << stats.wakeups << ", longest log " << stats.longest_log << ", error " << stats.last_error);
        CHECK(stats.rounds + stats.catch_ups >= 1);
        CHECK(stats.last_error.empty());
    }
    done = true;
    reader.join();
    CHECK(reads.load() > 0);
    CHECK(bad_reads.load() == 0);
    SQLite::Database check(backend.file(), SQLite::OPEN_READONLY);
    CHECK(check.execAndGet("PRAGMA integrity_check").getString() == "ok");
    CHECK(check.execAndGet("SELECT COUNT(*) FROM units").getInt64() == units);
}

TEST_CASE("closing the store stops its checkpointer and leaves a complete file", "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    {
        stores::sqlite db(backend.file(), stores::sqlite_options{.checkpoint_frames = 20});
        auto c = test::make_chain(db);
        for (int i = 0; i < 500; ++i) db.new_unit(c.assignment, i, 1.0);
        CHECK(db.checkpoints().wakeups >= 1);
    }
    // The last connection to close copies the rest of the log and removes it.
    CHECK_FALSE(fs::exists(backend.file() + "-wal"));
    SQLite::Database check(backend.file(), SQLite::OPEN_READONLY);
    CHECK(check.execAndGet("PRAGMA integrity_check").getString() == "ok");
    CHECK(check.execAndGet("SELECT COUNT(*) FROM units").getInt64() == 500);
}

TEST_CASE("without the background checkpointer SQLite checkpoints by itself", "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    stores::sqlite db(backend.file(), stores::sqlite_options{.background_checkpoint = false, .checkpoint_frames = 50});
    auto c = test::make_chain(db);
    auto const before = frames_requested();
    std::uintmax_t largest_log = 0;
    for (int i = 0; frames_requested() - before < 2000; ++i) {
        db.new_unit(c.assignment, i, 1.0);
        largest_log = std::max(largest_log, size_of(backend.file() + "-wal"));
    }
    auto const stats = db.checkpoints();
    CHECK(stats.wakeups == 0);
    CHECK(stats.rounds == 0);
    // SQLite's own checkpoint keeps the log near its threshold (a commit may cross it by a few frames).
    CHECK(largest_log > 0);
    CHECK(largest_log <= 80 * frame_bytes);
}

TEST_CASE("stores without a log have no checkpointer", "[store][sqlite][checkpoint]") {
    stores::sqlite in_memory(":memory:");
    auto c = test::make_chain(in_memory);
    for (int i = 0; i < 100; ++i) in_memory.new_unit(c.assignment, i, 1.0);
    CHECK(in_memory.checkpoints().wakeups == 0);

    test::sqlite_backend backend;
    stores::sqlite rollback(backend.file(), stores::sqlite_options{.journal_mode = "DELETE", .synchronous = "OFF"});
    auto d = test::make_chain(rollback);
    for (int i = 0; i < 100; ++i) rollback.new_unit(d.assignment, i, 1.0);
    CHECK(rollback.checkpoints().wakeups == 0);
    CHECK_FALSE(fs::exists(backend.file() + "-wal"));
}

TEST_CASE("checkpoint_frames below 1 is refused", "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    CHECK_THROWS_AS(stores::sqlite(backend.file(), stores::sqlite_options{.checkpoint_frames = 0}), invalid_argument);
    CHECK_THROWS_WITH(stores::sqlite(backend.file(), stores::sqlite_options{.checkpoint_frames = -3}),
                      Catch::Matchers::Contains("checkpoint_frames"));
    CHECK_FALSE(fs::exists(backend.file()));  // refused before anything was created
}

TEST_CASE("a checkpointer that cannot open its connection hands checkpoints back to SQLite",
          "[store][sqlite][checkpoint]") {
    test::sqlite_backend backend;
    // The writer: a plain WAL connection whose checkpoints a checkpointer takes over; that checkpointer's own
    // connection points at a folder that does not exist, so its thread fails at once.
    SQLite::Database writer(backend.file(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000,
                            stores::detail::wal_vfs::ensure_registered());
    writer.exec("PRAGMA journal_mode = WAL");
    writer.exec("PRAGMA synchronous = OFF");  // checkpoints without fsyncs: this test is about the log's length
    writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    stores::detail::wal_checkpointer checkpointer({.path = (backend.dir.path / "missing" / "x.db").string(),
                                                   .vfs = stores::detail::wal_vfs::name,
                                                   .synchronous = "OFF",
                                                   .wake_frames = 20,
                                                   .restart_frames = 80});
    checkpointer.attach(writer.getHandle());
    std::uintmax_t largest_log = 0;
    SQLite::Statement insert(writer, "INSERT INTO t (body) VALUES (zeroblob(3000))");
    constexpr int rows = 600;
    for (int i = 0; i < rows; ++i) {
        insert.exec();
        insert.reset();
        largest_log = std::max(largest_log, size_of(backend.file() + "-wal"));
        if (i == 100) REQUIRE(wait_for([&] { return checkpointer.stats().fallback; }));
    }
    auto const stats = checkpointer.stats();
    CHECK(stats.fallback);
    CHECK_THAT(stats.last_error, Catch::Matchers::Contains("checkpoint thread"));
    CHECK(stats.rounds == 0);
    // 600 rows of ~3 KB would be ≥ 600 frames unchecked; SQLite's own checkpoint keeps the log near 20.
    auto const plain_frame = static_cast<std::uintmax_t>(writer.execAndGet("PRAGMA page_size").getInt()) + 24;  // SQLite's page
    CHECK(largest_log <= 100 * plain_frame);
    CHECK(writer.execAndGet("SELECT COUNT(*) FROM t").getInt64() == rows);
}
