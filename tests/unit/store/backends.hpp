#pragma once
// The backends every store test runs against. Each gives `open()` a fresh, empty store; the SQLite one
// uses a real file (WAL and all) in a scratch folder, and `reopen()` opens a second connection to it; the
// PostgreSQL one (CROWDLINE_WITH_POSTGRES) a fresh schema in a throwaway cluster, and `reopen()` a second
// connection to that schema.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#ifdef CROWDLINE_TEST_SINGLE_HEADER
#include <crowdline/crowdline.hpp>
#else
#include <crowdline/store/memory.hpp>
#include <crowdline/store/sqlite.hpp>
#endif
#ifdef CROWDLINE_WITH_POSTGRES
#include <crowdline/store/postgres.hpp>

#include "pg_cluster.hpp"
#endif

namespace test {

/// A scratch folder removed when the test ends.
struct scratch_dir {
    std::filesystem::path path;
    scratch_dir() {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("crowdline-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    scratch_dir(scratch_dir const&) = delete;
    scratch_dir& operator=(scratch_dir const&) = delete;
};

struct memory_backend {
    using store_type = crowdline::stores::memory;
    static constexpr bool persistent = false;
    std::unique_ptr<store_type> open() { return std::make_unique<store_type>(); }
};

struct sqlite_backend {
    using store_type = crowdline::stores::sqlite;
    static constexpr bool persistent = true;
    scratch_dir dir;
    std::string file() const { return (dir.path / "campaign.db").string(); }
    std::unique_ptr<store_type> open() { return std::make_unique<store_type>(file()); }
    std::unique_ptr<store_type> reopen() { return open(); }
};

#ifdef CROWDLINE_WITH_POSTGRES
/// A schema of its own in the process's throwaway cluster (pg_cluster.hpp); `reopen()` is a second
/// connection to that schema.
struct postgres_backend {
    using store_type = crowdline::stores::postgres;
    static constexpr bool persistent = true;
    /// The cluster starts here, in the process that makes the backend: a child forked later (a test that
    /// kills one) connects to it rather than starting its own.
    std::string url = pg_cluster::instance().url();
    std::string schema = pg_cluster::fresh_schema();
    crowdline::stores::postgres_options options() const { return {.url = url, .schema = schema}; }
    std::unique_ptr<store_type> open() { return std::make_unique<store_type>(options()); }
    std::unique_ptr<store_type> reopen() { return open(); }
};
#endif

}  // namespace test

#ifdef CROWDLINE_WITH_POSTGRES
#define STORE_BACKENDS test::memory_backend, test::sqlite_backend, test::postgres_backend
/// The stores a second process (or a second connection) can open again: what restart tests run on.
#define PERSISTENT_BACKENDS test::sqlite_backend, test::postgres_backend
#else
#define STORE_BACKENDS test::memory_backend, test::sqlite_backend
#define PERSISTENT_BACKENDS test::sqlite_backend
#endif
