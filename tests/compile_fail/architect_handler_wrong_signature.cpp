// An architect whose channel takes a handler of the wrong type (text in, not a packet), given to an
// operator: the error must say which handler signature the channel must accept.
// build error: crowdline::channel: the type lacks on_message(H& handler) for any crowdline::packet_handler H
#include <functional>
#include <string>

#include <crowdline/architect/architect.hpp>
#include <crowdline/ops/operator.hpp>
#include <crowdline/store/memory.hpp>

struct text_channel {
    bool send(crowdline::agent_id, crowdline::packet const&) { return true; }
    void on_message(std::function<crowdline::packet(std::string const&)>) {}  // wrong: a packet handler comes in
    bool is_alive() const { return true; }
};

struct text_architect {
    void prepare() {}
    std::string deploy() { return "http://localhost"; }
    void shutdown() {}
    text_channel& channel() { return channel_; }
    text_channel channel_;
};

struct some_run {
    crowdline::task_run_id start(std::string) { return crowdline::task_run_id{1}; }
    crowdline::packet handle(crowdline::packet const& p) { return p; }
    void disconnect(crowdline::agent_id) {}
    void tick(crowdline::time_point) {}
    void shutdown() {}
    std::string const& task_name() const { return name; }
    bool is_active() const { return true; }
    bool is_complete() const { return false; }
    std::string name = "run";
};

int main() {
    text_architect arch;
    crowdline::stores::memory db;
    auto op = crowdline::make_operator<some_run>(arch, db);
    (void)op;
}
