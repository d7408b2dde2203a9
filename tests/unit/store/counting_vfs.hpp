#pragma once
// A counting SQLite VFS for the store tests: SQLite's default VFS, except that it counts the write() calls
// and bytes that reach write-ahead-log files. Registered as the default before main(), so everything a
// test binary opens goes through it — a plain `stores::sqlite` directly, a gathering one (store/detail/
// wal_vfs.hpp) through crowdline's VFS, which forwards to the default it finds when it first registers.
// Tests compare the two instead of reading counters kept in the library for them.
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>

namespace test {

struct wal_write_count {
    std::uint64_t writes = 0;
    std::uint64_t bytes = 0;
    wal_write_count operator-(wal_write_count const& o) const { return {writes - o.writes, bytes - o.bytes}; }
};

class counting_vfs {
public:
    static counting_vfs& instance() {
        static counting_vfs vfs;
        return vfs;
    }
    /// What has reached log files so far, in every connection of this process.
    [[nodiscard]] wal_write_count wal() const { return {writes_.load(), bytes_.load()}; }

private:
    counting_vfs() : real_(sqlite3_vfs_find(nullptr)) {
        if (real_ == nullptr) throw std::runtime_error("counting_vfs: SQLite has no default VFS");
        vfs_ = *real_;  // same methods and app data: the real VFS does the work
        vfs_.zName = "crowdline-test-counting";
        vfs_.pNext = nullptr;
        vfs_.xOpen = &open;
        if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::runtime_error("counting_vfs: cannot register");
    }

    /// A log file is the real VFS's file with a copy of its method table whose xWrite counts first.
    struct methods_copy {
        sqlite3_io_methods const* real = nullptr;
        sqlite3_io_methods counting{};
    };

    /// SQLite's C code calls these: they return SQLite codes and never throw.
    static int open(sqlite3_vfs*, sqlite3_filename path, sqlite3_file* out, int flags, int* out_flags) noexcept {
        auto& self = instance();
        int const rc = self.real_->xOpen(self.real_, path, out, flags, out_flags);
        if (rc != SQLITE_OK || out->pMethods == nullptr || (flags & SQLITE_OPEN_WAL) == 0) return rc;
        auto* copy = self.copy_of(out->pMethods);
        if (copy == nullptr) {  // more kinds of log file than the table holds: refuse rather than miscount
            out->pMethods->xClose(out);
            out->pMethods = nullptr;
            return SQLITE_CANTOPEN;
        }
        out->pMethods = &copy->counting;
        return rc;
    }
    static int write(sqlite3_file* f, void const* data, int amount, sqlite3_int64 offset) noexcept {
        auto& self = instance();
        self.writes_.fetch_add(1);
        self.bytes_.fetch_add(static_cast<std::uint64_t>(amount));
        // The file's table is the `counting` member of a methods_copy, whose `real` is right before it.
        auto const* copy = reinterpret_cast<methods_copy const*>(reinterpret_cast<char const*>(f->pMethods) -
                                                                 offsetof(methods_copy, counting));
        return copy->real->xWrite(f, data, amount, offset);
    }

    methods_copy* copy_of(sqlite3_io_methods const* real) noexcept {
        std::lock_guard l{mutex_};
        for (auto& c : copies_) {
            if (c.real == real) return &c;
            if (c.real == nullptr) {
                c.counting = *real;
                c.counting.xWrite = &write;
                c.real = real;
                return &c;
            }
        }
        return nullptr;
    }

    sqlite3_vfs* real_;
    sqlite3_vfs vfs_{};
    std::mutex mutex_;
    std::array<methods_copy, 8> copies_{};
    std::atomic<std::uint64_t> writes_{0};
    std::atomic<std::uint64_t> bytes_{0};
};

/// Installed before main(): before any store registers crowdline's VFS over the default.
inline counting_vfs& counting_vfs_installed = counting_vfs::instance();

}  // namespace test
