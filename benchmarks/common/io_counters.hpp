#pragma once
// Counting disk syncs and writes in a benchmark program. SQLite's unix VFS syncs through fdatasync (files)
// and fsync/fdatasync (the directory of a new journal), and writes through pwrite64 (one call per WAL frame
// header and one per page). Defining these here interposes the libc ones for libsqlite3 (the executable's
// symbols come first in the dynamic lookup), so every sync and positioned write of the process is counted;
// each forwards to the system call itself. Include it in exactly one translation unit of a program (each
// benchmark is one main.cpp).

#include <atomic>

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace bench {
inline std::atomic<long> syncs{0};   ///< fsync + fdatasync calls so far
inline std::atomic<long> writes{0};  ///< pwrite/pwrite64 calls so far
}  // namespace bench

extern "C" int fsync(int fd) {
    bench::syncs.fetch_add(1, std::memory_order_relaxed);
    return static_cast<int>(::syscall(SYS_fsync, fd));
}
extern "C" int fdatasync(int fd) {
    bench::syncs.fetch_add(1, std::memory_order_relaxed);
    return static_cast<int>(::syscall(SYS_fdatasync, fd));
}
extern "C" ssize_t pwrite64(int fd, void const* buf, size_t n, off64_t offset) {
    bench::writes.fetch_add(1, std::memory_order_relaxed);
    return static_cast<ssize_t>(::syscall(SYS_pwrite64, fd, buf, n, offset));
}
extern "C" ssize_t pwrite(int fd, void const* buf, size_t n, off_t offset) {
    bench::writes.fetch_add(1, std::memory_order_relaxed);
    return static_cast<ssize_t>(::syscall(SYS_pwrite64, fd, buf, n, offset));
}
