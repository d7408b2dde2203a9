#pragma once
// The files `crowdline serve` keeps beside an SQLite database: the invite links and the requester token
// (`<db>.secrets.json`, written whole and owner-only), and the lock that keeps one server per file
// (`<db>.lock`). Also how the program reads an input file, naming it in every error.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "program_args.hpp"

namespace crowdline_serve {

inline std::string read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(path + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw config_error(path + ": cannot read (" + std::strerror(errno) + ")");
    return s.str();
}

/// Kept links, checked: {requester_token, invites | runs: {<run>: {invites, revoked}}}; `where` names them.
inline json check_secrets(json secrets, std::string const& where) {
    if (!secrets.is_object()) throw config_error(where + ": expected a JSON object");
    if (secrets.contains("invites") && !secrets["invites"].is_object())
        throw config_error(where + ": invites: expected an object (name → token)");
    if (secrets.contains("revoked") && !secrets["revoked"].is_array())
        throw config_error(where + ": revoked: expected a list of names");
    if (secrets.contains("requester_token") && !secrets["requester_token"].is_string())
        throw config_error(where + ": requester_token: expected a string");
    return secrets;
}

/// The links survive restarts: kept beside the database, readable by its owner only.
inline json load_secrets(std::string const& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return json::object();
    return check_secrets(parse_json_text(read_file(path), path), path);
}

/// Written whole or not at all, and never readable by others for a moment: a temporary file in the same
/// folder made 0600 by open() itself (O_EXCL), written, fsync'ed, then renamed over the old one.
inline void save_secrets(std::string const& path, json const& secrets) {
    auto const text = secrets.dump(2) + "\n";
    std::string temp;
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
        temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(attempt);
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && (errno != EEXIST || attempt >= 100))
            throw error(temp + ": cannot create (" + std::strerror(errno) + ")");
    }
    auto fail = [&](char const* what) {
        auto const why = std::string(std::strerror(errno));
        ::close(fd);
        ::unlink(temp.c_str());
        throw error(temp + ": cannot " + what + " (" + why + ")");
    };
    for (std::size_t done = 0; done < text.size();) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) fail("sync");
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        auto const why = std::string(std::strerror(errno));
        ::unlink(temp.c_str());
        throw error(path + ": cannot replace (" + why + ")");
    }
}

/// One `crowdline serve` per database file, for the server's whole life: an flock on `<db>.lock`, which
/// holds the PID of the process serving. The kernel drops the lock when the process ends, however it ends
/// (SIGKILL too), so a stale file never blocks a start. Not fcntl locks on the database itself: SQLite
/// uses those, and closing any descriptor of the file would drop them. The file is left in place.
class server_lock {
public:
    explicit server_lock(std::string const& db) : path_(db + ".lock") {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw error(path_ + ": cannot open the lock file (" + std::strerror(errno) + ")");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            int const why = errno;
            auto const holder = read_holder();
            ::close(fd_);
            if (why == EWOULDBLOCK)
                throw config_error(db + ": another crowdline serve (PID " + holder +
                                   ") is serving this database; stop it first, or use another --db (lock: " + path_ + ")");
            throw error(path_ + ": cannot lock (" + std::strerror(why) + ")");
        }
        auto const pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
            auto const why = std::string(std::strerror(errno));
            ::close(fd_);
            throw error(path_ + ": cannot write the PID (" + why + ")");
        }
    }
    server_lock(server_lock const&) = delete;
    server_lock& operator=(server_lock const&) = delete;
    ~server_lock() { ::close(fd_); }

private:
    /// The holder's PID; a holder that has just taken the lock may not have written it yet.
    std::string read_holder() const {
        for (int attempt = 0; attempt < 20; ++attempt) {
            char buf[32] = {};
            auto n = ::pread(fd_, buf, sizeof buf - 1, 0);
            std::string pid(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            if (!pid.empty()) return pid;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return "unknown";
    }
    std::string path_;
    int fd_ = -1;
};


/// The invite links and the requester token, kept where the campaign's home keeps them (beside an SQLite
/// file, `<db>.secrets.json`; in a PostgreSQL schema, with the campaign) so a restart serves the same links. A campaign keeps each run's links under `runs.<name>`; the one-run short form
/// keeps them at the top (`invites`, `revoked`), as before campaign files. Every save writes the whole file.
class secrets_file {
public:
    /// `kept`: what was saved last time (checked by `check_secrets`), named `where` in errors.
    secrets_file(std::string where, json kept, bool flat) : path_(std::move(where)), flat_(flat), data_(std::move(kept)) {
        if (!flat_ && data_.contains("runs") && !data_["runs"].is_object())
            throw config_error(path_ + ": runs: expected an object (run name → its links)");
        if (!data_.contains("requester_token")) data_["requester_token"] = crowdline::random_token();
    }
    /// How `keep` saves (set once the campaign's home is open: nothing is written before).
    void save_with(std::function<void(json const&)> save) { save_ = std::move(save); }
    std::string requester_token() const { return data_["requester_token"].get<std::string>(); }
    /// The links kept for run `name`: {invites: {worker: token}, revoked: [worker]}.
    json run(std::string const& name) const {
        std::lock_guard l{mutex_};
        json const* at = &data_;
        if (!flat_) {
            auto runs = data_.find("runs");
            if (runs == data_.end() || !runs->contains(name))
                return json{{"invites", json::object()}, {"revoked", json::array()}};
            at = &(*runs)[name];
            if (!at->is_object()) throw config_error(path_ + ": runs." + name + ": expected an object");
            if (at->contains("invites") && !(*at)["invites"].is_object())
                throw config_error(path_ + ": runs." + name + ".invites: expected an object (name → token)");
            if (at->contains("revoked") && !(*at)["revoked"].is_array())
                throw config_error(path_ + ": runs." + name + ".revoked: expected a list of names");
        }
        json links = json::object();
        links["invites"] = at->value("invites", json::object());
        links["revoked"] = at->value("revoked", json::array());
        return links;
    }
    /// Records run `name`'s links as `crowd` has them now, and saves the file.
    void keep(std::string const& name, providers::in_house const& crowd) {
        json links{{"invites", json::object()}, {"revoked", json::array()}};
        for (auto const& w : crowd.roster()) {
            links["invites"][w.name] = w.token;
            if (crowd.is_revoked(w.name)) links["revoked"].push_back(w.name);
        }
        std::lock_guard l{mutex_};
        if (flat_) {
            data_["invites"] = std::move(links["invites"]);
            data_["revoked"] = std::move(links["revoked"]);
        } else {
            data_["runs"][name] = std::move(links);
        }
        if (!save_) throw error(path_ + ": links kept before the campaign's home was opened");
        save_(data_);
    }

private:
    std::string path_;
    bool flat_;
    mutable std::mutex mutex_;
    json data_;
    std::function<void(json const&)> save_;
};

/// A campaign in an SQLite file: one server at a time (an flock on `<db>.lock`), the store, and the links
/// in `<db>.secrets.json`. `serve` calls lock() then open() after its server has bound its port.
class sqlite_home {
public:
    using store_type = crowdline::stores::sqlite;
    explicit sqlite_home(program_args const& cfg) : cfg_(cfg) {}
    std::string links_name() const { return cfg_.db + ".secrets.json"; }
    json load_links() const { return load_secrets(links_name()); }
    void lock() { lock_.emplace(cfg_.db); }
    store_type& open() { return store_.emplace(cfg_.db, cfg_.store); }
    std::function<void(json const&)> links_saver() const {
        return [path = links_name()](json const& links) { save_secrets(path, links); };
    }

private:
    program_args const& cfg_;
    std::optional<server_lock> lock_;
    std::optional<store_type> store_;  ///< after lock_: closed before the lock is let go
};

}  // namespace crowdline_serve
