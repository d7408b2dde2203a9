#pragma once
// A throwaway PostgreSQL cluster for the store tests: initdb + pg_ctl in a fresh temporary folder, on a free
// TCP port of 127.0.0.1 (its unix socket in that folder too), durability off for speed (fsync,
// synchronous_commit, full_page_writes: a crash loses the cluster, which is thrown away anyway). One per
// test process, started on first use, stopped and removed at exit; a cluster left behind by a test process
// that died is stopped and removed by the next one. No system service, no package configuration: what CI
// does (ARCHITECTURE §9, issue 16). Without PostgreSQL's binaries every test that asks for the cluster
// fails, saying what is missing.

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace test {

class pg_cluster {
public:
    /// The cluster of this process; throws (each time it is asked for) when it cannot be started.
    static pg_cluster& instance() {
        static pg_cluster cluster;
        return cluster;
    }

    /// A libpq connection string for the cluster's `postgres` database, as its superuser `crowdline`.
    [[nodiscard]] std::string const& url() const noexcept { return url_; }
    /// The same as a `postgresql://` URI (the form `crowdline --db` takes); the socket folder's name is
    /// made of characters a URI query may hold as they are.
    [[nodiscard]] std::string const& uri() const noexcept { return uri_; }

    /// A schema name not used before in this process: each store a test opens starts empty.
    static std::string fresh_schema() {
        static std::atomic<int> counter{0};
        return "test_" + std::to_string(counter++);
    }

    pg_cluster(pg_cluster const&) = delete;
    pg_cluster& operator=(pg_cluster const&) = delete;

    ~pg_cluster() {
        run(pg_ctl_ + " -D " + quote(data_) + " -m immediate -w stop", "/dev/null");
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }

private:
    pg_cluster() {
        auto const bin = find_binaries();
        initdb_ = quote(bin / "initdb");
        pg_ctl_ = quote(bin / "pg_ctl");
        if (::geteuid() == 0) {
            // initdb refuses to run as root: the cluster belongs to the `postgres` user (the postgresql package
            // creates it), its folder too.
            passwd const* owner = ::getpwnam("postgres");
            if (owner == nullptr)
                throw std::runtime_error("pg_cluster: running as root, and there is no `postgres` user to run initdb as "
                                         "(the postgresql package creates it)");
            uid_ = owner->pw_uid;
            gid_ = owner->pw_gid;
            as_owner_ = "runuser -u postgres -- ";
        }
        remove_stale_clusters();
        auto pattern = (std::filesystem::temp_directory_path() / ("crowdline-pg-" + std::to_string(::getpid()) + "-XXXXXX")).string();
        std::vector<char> buffer(pattern.begin(), pattern.end());
        buffer.push_back('\0');
        if (::mkdtemp(buffer.data()) == nullptr)
            throw std::runtime_error("pg_cluster: cannot create a folder " + pattern + ": " + std::strerror(errno));
        root_ = buffer.data();
        data_ = root_ / "data";
        if (!as_owner_.empty() && ::chown(root_.c_str(), uid_, gid_) != 0) {
            std::string const why = std::strerror(errno);
            std::error_code ec;
            std::filesystem::remove_all(root_, ec);
            throw std::runtime_error("pg_cluster: cannot give " + root_.string() + " to postgres: " + why);
        }

        auto const init_log = root_ / "initdb.log";
        if (!run(initdb_ + " -D " + quote(data_) + " -U crowdline -A trust -E UTF8 --no-sync", init_log)) {
            auto why = tail(init_log);
            std::error_code ec;
            std::filesystem::remove_all(root_, ec);
            throw std::runtime_error("pg_cluster: initdb failed:\n" + why);
        }
        // No TCP at all (listen_addresses=''): the server is reached only through its socket in this private
        // folder, so its trust authentication lets in nobody else on the machine. The port names the socket.
        auto const server_log = root_ / "server.log";
        for (int attempt = 0;; ++attempt) {
            int const port = free_port();
            std::string const server_options = "-p " + std::to_string(port) + " -k " + quote(root_) +
                                               " -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
                                               " -c full_page_writes=off -c max_connections=200";
            if (run(pg_ctl_ + " -D " + quote(data_) + " -l " + quote(server_log) + " -w -t 60 -o " + quote(server_options) +
                        " start",
                    root_ / "pg_ctl.log")) {
                url_ = "host=" + root_.string() + " port=" + std::to_string(port) +
                       " user=crowdline dbname=postgres connect_timeout=10";
                uri_ = "postgresql://crowdline@/postgres?host=" + root_.string() + "&port=" + std::to_string(port) +
                       "&connect_timeout=10";
                return;
            }
            // A start that timed out may have left a server behind: stop it before trying again or giving up.
            run(pg_ctl_ + " -D " + quote(data_) + " -m immediate -w stop", "/dev/null");
            if (attempt == 2) {
                auto why = tail(server_log) + tail(root_ / "pg_ctl.log");
                std::error_code ec;
                std::filesystem::remove_all(root_, ec);
                throw std::runtime_error("pg_cluster: the server did not start:\n" + why);
            }
        }
    }

    /// Where initdb and pg_ctl are: $CROWDLINE_PG_BIN, the newest /usr/lib/postgresql/<version>/bin (Debian
    /// keeps them off PATH), or PATH.
    static std::filesystem::path find_binaries() {
        namespace fs = std::filesystem;
        auto has_initdb = [](fs::path const& dir) {
            std::error_code ec;
            return fs::is_regular_file(dir / "initdb", ec) && fs::is_regular_file(dir / "pg_ctl", ec);
        };
        if (char const* env = std::getenv("CROWDLINE_PG_BIN"); env != nullptr && *env != '\0') {
            if (has_initdb(env)) return env;
            throw std::runtime_error(std::string("pg_cluster: CROWDLINE_PG_BIN is ") + env + ", which holds no initdb and pg_ctl");
        }
        fs::path best;
        int best_version = -1;
        std::error_code ec;
        for (auto const& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
            int version = std::atoi(entry.path().filename().c_str());
            if (version > best_version && has_initdb(entry.path() / "bin")) {
                best_version = version;
                best = entry.path() / "bin";
            }
        }
        if (best_version >= 0) return best;
        if (char const* path = std::getenv("PATH")) {
            std::stringstream dirs(path);
            for (std::string dir; std::getline(dirs, dir, ':');)
                if (!dir.empty() && has_initdb(dir)) return dir;
        }
        throw std::runtime_error(
            "pg_cluster: the PostgreSQL store tests start a throwaway cluster, but initdb and pg_ctl were not found "
            "(looked in $CROWDLINE_PG_BIN, /usr/lib/postgresql/*/bin and PATH): install the `postgresql` package "
            "(scripts/setup does), or set CROWDLINE_PG_BIN to the folder that holds them");
    }

    /// Stops and removes the clusters of test processes that are gone (killed before their exit handlers).
    void remove_stale_clusters() const {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (auto const& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
            auto name = entry.path().filename().string();
            if (!name.starts_with("crowdline-pg-")) continue;
            auto const pid = static_cast<pid_t>(std::atoi(name.c_str() + 13));
            if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM) continue;
            run(pg_ctl_ + " -D " + quote(entry.path() / "data") + " -m immediate -w stop", "/dev/null");
            fs::remove_all(entry.path(), ec);
        }
    }

    /// Runs `command` through the shell, as the cluster's owner, output to `log`; true when it succeeded.
    bool run(std::string const& command, std::filesystem::path const& log) const {
        // From "/": the owner may not be allowed into the current folder.
        auto line = "cd / && " + as_owner_ + command + " > " + quote(log) + " 2>&1";
        return std::system(line.c_str()) == 0;
    }

    static std::string quote(std::filesystem::path const& p) { return quote(p.string()); }
    static std::string quote(std::string const& s) {
        std::string out = "'";
        for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return out + "'";
    }

    static std::string tail(std::filesystem::path const& file) {
        std::ifstream in(file);
        std::stringstream all;
        all << in.rdbuf();
        auto text = all.str();
        return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
    }

    /// A TCP port of 127.0.0.1 nobody listens on now: the one the kernel gives a socket bound to port 0.
    static int free_port() {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) throw std::runtime_error(std::string("pg_cluster: socket: ") + std::strerror(errno));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;
        socklen_t length = sizeof address;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            ::close(fd);
            throw std::runtime_error(std::string("pg_cluster: cannot find a free port: ") + std::strerror(errno));
        }
        ::close(fd);
        return ntohs(address.sin_port);
    }

    std::filesystem::path root_, data_;
    std::string initdb_, pg_ctl_, as_owner_, url_, uri_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
};

}  // namespace test
