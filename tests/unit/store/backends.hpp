#pragma once
// The backends every store test runs against. Each gives `open()` a fresh, empty store; the SQLite one
// uses a real file (WAL and all) in a scratch folder, and `reopen()` opens a second connection to it.

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

}  // namespace test

#define STORE_BACKENDS test::memory_backend, test::sqlite_backend
