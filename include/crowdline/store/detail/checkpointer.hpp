#pragma once
/// Checkpoints of a WAL database on a thread of their own, so that commits do not wait for them.
///
/// Why: SQLite's automatic checkpoint runs inside the commit that takes the log past 1,000 frames. It
/// copies the log back into the database file and fsyncs both, and on a VM's disk that wait was half of
/// the wall time of a unit's lifecycle (319 µs wall for 151 µs of CPU). Here the committing connection
/// only notes the log's length (sqlite3_wal_hook, which replaces the automatic checkpoint) and wakes a
/// thread that checkpoints through its own connection.
///
/// Why the log stays bounded: a PASSIVE checkpoint never blocks writers, but under a steady stream of
/// commits the thread's rounds never catch up (each ends behind the frames committed during it), and the
/// log starts again from its beginning only once it has been copied in full. So when the log has reached
/// `restart_frames`, the committing connection copies what the thread has not (about one round's frames)
/// itself, and the next transaction starts the log again. That is SQLite's own automatic checkpoint, run
/// once per `restart_frames` on a short tail instead of once per 1,000 frames on all of them. It never
/// waits: while the thread is mid-round, no new round starts and the first commit after it does the
/// catch-up, so the log holds at most `restart_frames` plus what is committed during one round.
///
/// If the thread cannot start or its connection cannot open, the committing connection goes back to
/// SQLite's own automatic checkpoint: slower, never unbounded.

#include <sqlite3.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace crowdline::stores {

/// What a `stores::sqlite`'s background checkpointer has done (see `sqlite::checkpoints()`).
struct checkpoint_stats {
    std::uint64_t rounds = 0;     ///< checkpoints run on the background thread
    std::uint64_t catch_ups = 0;  ///< times the committing connection copied the tail so the log could restart
    std::uint64_t busy = 0;       ///< checkpoints that found another one running (tried again later)
    std::uint64_t wakeups = 0;    ///< commits that handed the thread work
    int longest_log = 0;          ///< most frames the log held at a checkpoint
    bool fallback = false;        ///< the thread could not run: SQLite's own checkpoints are back on
    std::string last_error;       ///< the last failure, empty when none
};

namespace detail {

class wal_checkpointer {
public:
    struct settings {
        std::string path;
        std::string vfs;            ///< empty: SQLite's default
        std::string synchronous;    ///< the writer's: a checkpoint syncs as the writer would
        int wake_frames = 1000;     ///< frames committed since the last checkpoint that wake the thread
        int restart_frames = 4000;  ///< log length at which the committing connection copies the tail
        std::chrono::milliseconds busy_timeout{5000};
    };

    explicit wal_checkpointer(settings s) : settings_(std::move(s)), catch_up_at_(settings_.restart_frames) {}
    wal_checkpointer(wal_checkpointer const&) = delete;
    wal_checkpointer& operator=(wal_checkpointer const&) = delete;

    ~wal_checkpointer() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    /// Takes over the checkpoints of `writer` (a connection in WAL mode); `this` must outlive its commits.
    void attach(sqlite3* writer) { sqlite3_wal_hook(writer, &on_commit, this); }

    [[nodiscard]] checkpoint_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

private:
    /// Runs on the committing thread after each commit (no lock held), with the log's length in frames.
    static int on_commit(void* self, sqlite3* writer, char const* schema, int frames) noexcept {
        auto& c = *static_cast<wal_checkpointer*>(self);
        enum class action { none, wake, catch_up, fall_back } todo = action::none;
        {
            std::lock_guard lock(c.mutex_);
            if (frames < c.last_frames_) {  // the log started again
                c.checked_ = 0;
                c.catch_up_at_ = c.settings_.restart_frames;
            }
            c.last_frames_ = frames;
            if (c.stats_.fallback) {
                todo = action::fall_back;
            } else if (frames >= c.catch_up_at_) {
                // The tail is the committing connection's now: no new round, which could keep putting the
                // catch-up off; if a round is running, the first commit after it does the catch-up.
                c.pending_ = false;
                if (!c.in_round_) todo = action::catch_up;
            } else if (frames - c.checked_ >= c.settings_.wake_frames && !c.pending_) {
                todo = action::wake;
                c.pending_ = true;
                ++c.stats_.wakeups;
                if (!c.thread_.joinable()) {
                    try {
                        c.thread_ = std::thread([&c] { c.run(); });
                    } catch (std::exception const& e) {
                        c.stats_.fallback = true;
                        c.stats_.last_error = std::string("cannot start the checkpoint thread: ") + e.what();
                        todo = action::fall_back;
                    }
                }
            }
        }
        switch (todo) {
        case action::none: break;
        case action::wake: c.wake_.notify_one(); break;
        case action::catch_up: c.catch_up(writer, schema); break;
        // Replaces this hook: from now on the commits checkpoint as SQLite does by itself.
        case action::fall_back: sqlite3_wal_autocheckpoint(writer, c.settings_.wake_frames); break;
        }
        return SQLITE_OK;
    }

    /// The committing connection copies the frames the thread has not: the next transaction restarts the log.
    void catch_up(sqlite3* writer, char const* schema) noexcept {
        int log = 0;
        int copied = 0;
        int const rc = sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        std::lock_guard lock(mutex_);
        record(writer, rc, log);
        if (rc == SQLITE_OK && copied == log) ++stats_.catch_ups;
        // If the next transaction does not start the log again (a reader was still using it, or a checkpoint
        // was running), try again only after another `wake_frames`, not on every commit.
        catch_up_at_ = log + settings_.wake_frames;
    }

    /// Books one checkpoint's outcome (with mutex_ held).
    void record(sqlite3* db, int rc, int log) {
        if (log > stats_.longest_log) stats_.longest_log = log;
        if (rc == SQLITE_OK) checked_ = log;
        else if (rc == SQLITE_BUSY) ++stats_.busy;
        else stats_.last_error = std::string("checkpoint: ") + sqlite3_errstr(rc) + " (" + sqlite3_errmsg(db) + ")";
    }

    void run() noexcept {
        try {
            SQLite::Database db(settings_.path, SQLite::OPEN_READWRITE, static_cast<int>(settings_.busy_timeout.count()),
                                settings_.vfs);
            db.exec("PRAGMA synchronous = " + settings_.synchronous);
            // A checkpoint does nothing on a connection that has not opened the log yet: read once.
            db.exec("SELECT COUNT(*) FROM sqlite_master");
            std::unique_lock lock(mutex_);
            for (;;) {
                wake_.wait(lock, [&] { return pending_ || stop_; });
                if (stop_) return;
                pending_ = false;
                in_round_ = true;
                lock.unlock();
                int log = 0;
                int const rc = sqlite3_wal_checkpoint_v2(db.getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, nullptr);
                lock.lock();
                in_round_ = false;
                if (rc == SQLITE_OK) ++stats_.rounds;
                record(db.getHandle(), rc, log);
            }
        } catch (std::exception const& e) {
            std::lock_guard lock(mutex_);
            stats_.fallback = true;  // the next commit past the threshold hands checkpoints back to SQLite
            stats_.last_error = std::string("checkpoint thread: ") + e.what();
        }
    }

    settings settings_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool pending_ = false;
    bool stop_ = false;
    bool in_round_ = false;  ///< the thread is checkpointing: a catch-up now would only find it busy
    int last_frames_ = 0;  ///< the log's length after the previous commit
    int checked_ = 0;      ///< the log's length at the last checkpoint: the next is due `wake_frames` later
    int catch_up_at_ = 0;  ///< the log's length at which the committing connection copies the tail itself
    checkpoint_stats stats_;
};

}  // namespace detail
}  // namespace crowdline::stores
