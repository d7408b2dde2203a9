#pragma once
// Runs the built `crowdline` binary (CROWDLINE_PROGRAM) as a user does: in a scratch folder, its standard
// output and error in files beside the database, waited for with a timeout. Shared by the program's suites.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#ifndef CROWDLINE_PROGRAM
#error "CROWDLINE_PROGRAM must name the built crowdline binary"
#endif

namespace program_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct scratch_dir {
    fs::path path;
    scratch_dir() {
        path = fs::temp_directory_path() / ("crowdline-program-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(std::random_device{}()));
        fs::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path operator/(std::string const& name) const { return path / name; }
};

inline std::string read_bytes(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
inline void write_text(fs::path const& p, std::string const& text) { std::ofstream(p, std::ios::binary) << text; }

/// How the program is started.
struct run_options {
    mode_t umask = 022;
};

/// One run of the program, its output in files beside the database.
class program {
public:
    program(std::vector<std::string> args, fs::path const& dir, run_options opts = {}) {
        static int counter = 0;
        auto const stem = dir / ("run" + std::to_string(++counter));
        out_ = stem.string() + ".out";
        err_ = stem.string() + ".err";
        args.insert(args.begin(), CROWDLINE_PROGRAM);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::umask(opts.umask);
            ::signal(SIGXFSZ, SIG_IGN);  // a file size limit then fails the write (EFBIG) instead of killing
            int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (out < 0 || err < 0) ::_exit(126);
            ::dup2(out, 1);
            ::dup2(err, 2);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    program(program const&) = delete;
    program& operator=(program const&) = delete;
    ~program() {
        if (!code_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }

    pid_t pid() const { return pid_; }
    std::string out() const { return read_bytes(out_); }
    std::string err() const { return read_bytes(err_); }

    /// The exit code (128 + signal when killed by one), or nothing if it still runs after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout = 20s) {
        auto const until = std::chrono::steady_clock::now() + timeout;
        while (!code_) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            if (std::chrono::steady_clock::now() > until) break;
            std::this_thread::sleep_for(20ms);
        }
        return code_;
    }
    /// Waits for `needle` on standard output; false if the program ended first or time ran out.
    bool wait_for_output(std::string const& needle, std::chrono::milliseconds timeout = 20s) {
        auto const until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (out().find(needle) != std::string::npos) return true;
            if (wait(0ms)) return out().find(needle) != std::string::npos;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
    /// Ctrl-C, then the exit code.
    std::optional<int> interrupt() {
        ::kill(pid_, SIGINT);
        return wait();
    }
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        wait();
    }

    /// The port the server printed ("… at http://127.0.0.1:PORT").
    std::uint16_t port() const {
        std::smatch m;
        auto text = out();
        REQUIRE(std::regex_search(text, m, std::regex("http://[^:/ ]+:([0-9]+)")));
        return static_cast<std::uint16_t>(std::stoi(m[1]));
    }
    /// The invite token printed for `name`.
    std::string invite(std::string const& name) const {
        std::smatch m;
        auto text = out();
        REQUIRE(std::regex_search(text, m, std::regex("  " + name + " .*\\?invite=([0-9a-f]+)")));
        return m[1];
    }

private:
    pid_t pid_ = -1;
    std::string out_, err_;
    std::optional<int> code_;
};

/// A command that ends by itself: its exit code and output.
struct finished {
    int code;
    std::string out, err;
};
inline finished run(std::vector<std::string> args, fs::path const& dir, run_options opts = {}) {
    program p(std::move(args), dir, opts);
    auto code = p.wait(30s);
    if (!code) FAIL("crowdline did not exit within 30 s; stderr: " << p.err() << "\nstdout: " << p.out());
    return {*code, p.out(), p.err()};
}

}  // namespace program_test
