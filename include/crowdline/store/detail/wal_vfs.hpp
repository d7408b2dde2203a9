#pragma once
/// The SQLite VFS `stores::sqlite` opens its files through: the default VFS, except that a transaction's
/// write-ahead-log frames reach the OS in one write() instead of two per page.
///
/// Why: SQLite writes each WAL frame as a 24-byte header and then the page, two write() calls at unaligned
/// offsets. A status update dirties ~7 pages (the row and the indexes that hold the status), so a commit
/// was 14 write() calls; on ext4 in a VM those cost ~2 µs each, more than the SQL itself (measured:
/// 14 writes 28 µs, the same bytes in one write 6 µs). Here the frames of a transaction are gathered in
/// memory and handed over as one write when the commit frame is complete.
///
/// Why it is safe: the flush happens inside the write of the commit frame's page, i.e. before SQLite
/// publishes the new frames in the wal-index (where other connections and processes find them) and
/// before it returns from the commit, so what a commit has written is in the OS exactly when it was
/// before. Every read, sync, truncate, size query, file control and close of the log flushes first, so
/// SQLite never sees the file differently from what it wrote; a write that does not continue the gathered
/// bytes flushes them first, so the order of writes is kept. A crash loses only frames of a transaction
/// that had not committed, which recovery ignores anyway. Files other than the log pass straight through.

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace crowdline::stores::detail {

class wal_vfs {
public:
    static constexpr char const* name = "crowdline-wal";

    /// Registers the VFS (once per process, thread-safe) and returns its name for sqlite3_open_v2.
    static char const* ensure_registered() {
        static bool const registered = [] {
            static wal_vfs instance;
            if (instance.real_ == nullptr) throw std::runtime_error("crowdline: SQLite has no default VFS");
            if (sqlite3_vfs_register(&instance.vfs_, 0) != SQLITE_OK)
                throw std::runtime_error("crowdline: cannot register the SQLite VFS " + std::string(name));
            return true;
        }();
        (void)registered;
        return name;
    }

private:
    static constexpr int frame_header_bytes = 24;   ///< SQLite's WAL frame header
    static constexpr std::size_t max_gathered = 256U * 1024;  ///< a big transaction is handed over in pieces
    /// The unix VFS writes at most 128 KiB - 1 per call (it masks the length), so a flush goes in pieces.
    static constexpr std::size_t max_write = 31U * 4096;

    /// One open file: our sqlite3_file, the default VFS's file right behind it.
    struct file {
        sqlite3_file base;  ///< must come first: SQLite sees this
        sqlite3_file* real;
        bool commit_frame;  ///< the last header written was a commit frame's: its page completes the commit
        sqlite3_int64 gathered_at;
        std::vector<unsigned char>* gathered;  ///< the log's pending bytes, null for other files (heap: raw memory)
    };

    wal_vfs() noexcept : real_(sqlite3_vfs_find(nullptr)) {
        if (real_ == nullptr) return;
        vfs_.iVersion = std::min(real_->iVersion, 3);
        vfs_.szOsFile = static_cast<int>(sizeof(file)) + real_->szOsFile;
        vfs_.mxPathname = real_->mxPathname;
        vfs_.zName = name;
        vfs_.pAppData = this;
        vfs_.xOpen = &open;
        vfs_.xDelete = [](sqlite3_vfs* v, char const* p, int sync) { return real(v)->xDelete(real(v), p, sync); };
        vfs_.xAccess = [](sqlite3_vfs* v, char const* p, int f, int* out) { return real(v)->xAccess(real(v), p, f, out); };
        vfs_.xFullPathname = [](sqlite3_vfs* v, char const* p, int n, char* out) {
            return real(v)->xFullPathname(real(v), p, n, out);
        };
        vfs_.xDlOpen = [](sqlite3_vfs* v, char const* p) { return real(v)->xDlOpen(real(v), p); };
        vfs_.xDlError = [](sqlite3_vfs* v, int n, char* out) { real(v)->xDlError(real(v), n, out); };
        vfs_.xDlSym = [](sqlite3_vfs* v, void* h, char const* s) { return real(v)->xDlSym(real(v), h, s); };
        vfs_.xDlClose = [](sqlite3_vfs* v, void* h) { real(v)->xDlClose(real(v), h); };
        vfs_.xRandomness = [](sqlite3_vfs* v, int n, char* out) { return real(v)->xRandomness(real(v), n, out); };
        vfs_.xSleep = [](sqlite3_vfs* v, int us) { return real(v)->xSleep(real(v), us); };
        vfs_.xCurrentTime = [](sqlite3_vfs* v, double* out) { return real(v)->xCurrentTime(real(v), out); };
        vfs_.xGetLastError = [](sqlite3_vfs* v, int n, char* out) {
            return real(v)->xGetLastError ? real(v)->xGetLastError(real(v), n, out) : 0;
        };
        if (vfs_.iVersion >= 2)
            vfs_.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* out) { return real(v)->xCurrentTimeInt64(real(v), out); };
        if (vfs_.iVersion >= 3) {
            vfs_.xSetSystemCall = [](sqlite3_vfs* v, char const* n, sqlite3_syscall_ptr p) {
                return real(v)->xSetSystemCall(real(v), n, p);
            };
            vfs_.xGetSystemCall = [](sqlite3_vfs* v, char const* n) { return real(v)->xGetSystemCall(real(v), n); };
            vfs_.xNextSystemCall = [](sqlite3_vfs* v, char const* n) { return real(v)->xNextSystemCall(real(v), n); };
        }
        for (int version = 1; version <= 3; ++version) methods_[version] = make_methods(version);
    }

    static sqlite3_vfs* real(sqlite3_vfs* v) noexcept { return static_cast<wal_vfs*>(v->pAppData)->real_; }
    static file& self(sqlite3_file* f) noexcept { return *reinterpret_cast<file*>(f); }
    static sqlite3_file* inner(sqlite3_file* f) noexcept { return self(f).real; }

    static int open(sqlite3_vfs* v, sqlite3_filename path, sqlite3_file* out, int flags, int* out_flags) {
        file& f = self(out);
        f.base.pMethods = nullptr;  // SQLite calls xClose only when this is set
        f.real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(out) + sizeof(file));
        f.commit_frame = false;
        f.gathered_at = 0;
        f.gathered = nullptr;
        int const rc = real(v)->xOpen(real(v), path, f.real, flags, out_flags);
        if (f.real->pMethods == nullptr) return rc;  // nothing opened: nothing to close
        if ((flags & SQLITE_OPEN_WAL) != 0) {
            try {
                f.gathered = new std::vector<unsigned char>();
                f.gathered->reserve(64 * 1024);
            } catch (std::bad_alloc const&) {
                delete f.gathered;
                f.gathered = nullptr;  // pass-through still works
            }
        }
        auto* self_vfs = static_cast<wal_vfs*>(v->pAppData);
        f.base.pMethods = &self_vfs->methods_[std::clamp(f.real->pMethods->iVersion, 1, 3)];
        return rc;
    }

    /// Hands the gathered bytes to the real file (one write per 124 KiB), then forgets them whatever happened.
    static int flush(file& f) noexcept {
        if (f.gathered == nullptr || f.gathered->empty()) return SQLITE_OK;
        int rc = SQLITE_OK;
        for (std::size_t done = 0; done < f.gathered->size() && rc == SQLITE_OK;) {
            std::size_t const n = std::min(max_write, f.gathered->size() - done);
            rc = f.real->pMethods->xWrite(f.real, f.gathered->data() + done, static_cast<int>(n),
                                          f.gathered_at + static_cast<sqlite3_int64>(done));
            done += n;
        }
        f.gathered->clear();
        return rc;
    }

    static int write(sqlite3_file* p, void const* data, int amount, sqlite3_int64 offset) {
        file& f = self(p);
        if (f.gathered == nullptr) return f.real->pMethods->xWrite(f.real, data, amount, offset);
        if (!f.gathered->empty() && offset != f.gathered_at + static_cast<sqlite3_int64>(f.gathered->size())) {
            if (int const rc = flush(f); rc != SQLITE_OK) return rc;
        }
        if (f.gathered->empty()) f.gathered_at = offset;
        auto const* bytes = static_cast<unsigned char const*>(data);
        try {
            f.gathered->insert(f.gathered->end(), bytes, bytes + amount);
        } catch (std::bad_alloc const&) {
            if (int const rc = flush(f); rc != SQLITE_OK) return rc;
            return f.real->pMethods->xWrite(f.real, data, amount, offset);
        }
        bool complete = false;
        if (amount == frame_header_bytes) {
            // bytes 4-7: the database size after a commit; non-zero only in a commit frame
            f.commit_frame = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
        } else if (f.commit_frame) {
            f.commit_frame = false;
            complete = true;
        }
        if (complete || f.gathered->size() >= max_gathered) return flush(f);
        return SQLITE_OK;
    }

    static int close(sqlite3_file* p) {
        file& f = self(p);
        int const flushed = flush(f);
        delete f.gathered;
        f.gathered = nullptr;
        int const rc = f.real->pMethods->xClose(f.real);
        return flushed != SQLITE_OK ? flushed : rc;
    }

    /// A pass-through method that flushes the log's gathered bytes first.
    template <auto Member, class... A>
    static int flushed_call(sqlite3_file* p, A... args) {
        file& f = self(p);
        if (int const rc = flush(f); rc != SQLITE_OK) return rc;
        return (f.real->pMethods->*Member)(f.real, args...);
    }

    static sqlite3_io_methods make_methods(int version) {
        sqlite3_io_methods m{};
        m.iVersion = version;
        m.xClose = &close;
        m.xRead = [](sqlite3_file* p, void* out, int n, sqlite3_int64 at) {
            return flushed_call<&sqlite3_io_methods::xRead>(p, out, n, at);
        };
        m.xWrite = &write;
        m.xTruncate = [](sqlite3_file* p, sqlite3_int64 size) { return flushed_call<&sqlite3_io_methods::xTruncate>(p, size); };
        m.xSync = [](sqlite3_file* p, int flags) { return flushed_call<&sqlite3_io_methods::xSync>(p, flags); };
        m.xFileSize = [](sqlite3_file* p, sqlite3_int64* out) { return flushed_call<&sqlite3_io_methods::xFileSize>(p, out); };
        m.xLock = [](sqlite3_file* p, int l) { return inner(p)->pMethods->xLock(inner(p), l); };
        m.xUnlock = [](sqlite3_file* p, int l) { return inner(p)->pMethods->xUnlock(inner(p), l); };
        m.xCheckReservedLock = [](sqlite3_file* p, int* out) { return inner(p)->pMethods->xCheckReservedLock(inner(p), out); };
        m.xFileControl = [](sqlite3_file* p, int op, void* arg) {
            return flushed_call<&sqlite3_io_methods::xFileControl>(p, op, arg);
        };
        m.xSectorSize = [](sqlite3_file* p) { return inner(p)->pMethods->xSectorSize(inner(p)); };
        m.xDeviceCharacteristics = [](sqlite3_file* p) { return inner(p)->pMethods->xDeviceCharacteristics(inner(p)); };
        if (version >= 2) {
            m.xShmMap = [](sqlite3_file* p, int region, int size, int extend, void volatile** out) {
                return inner(p)->pMethods->xShmMap(inner(p), region, size, extend, out);
            };
            m.xShmLock = [](sqlite3_file* p, int offset, int n, int flags) {
                return inner(p)->pMethods->xShmLock(inner(p), offset, n, flags);
            };
            m.xShmBarrier = [](sqlite3_file* p) { inner(p)->pMethods->xShmBarrier(inner(p)); };
            m.xShmUnmap = [](sqlite3_file* p, int del) { return inner(p)->pMethods->xShmUnmap(inner(p), del); };
        }
        if (version >= 3) {
            m.xFetch = [](sqlite3_file* p, sqlite3_int64 at, int n, void** out) {
                return flushed_call<&sqlite3_io_methods::xFetch>(p, at, n, out);
            };
            m.xUnfetch = [](sqlite3_file* p, sqlite3_int64 at, void* mem) {
                return inner(p)->pMethods->xUnfetch(inner(p), at, mem);
            };
        }
        return m;
    }

    sqlite3_vfs* real_;
    sqlite3_vfs vfs_{};
    sqlite3_io_methods methods_[4]{};
};

}  // namespace crowdline::stores::detail
