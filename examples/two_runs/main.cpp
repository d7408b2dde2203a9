// Two task runs served at once by one crowdline::operator_: a labelling run (the mock blueprint) and a
// chat run (the live blueprint), one in-process architect, one SQLite store. Each page names its run;
// a worker's agent of one run is refused by the other. Prints each run's progress.
#include <cstdio>
#include <string>

#include <crowdline/crowdline.hpp>
#include <crowdline/blueprint/live.hpp>
#include <crowdline/ops/operator.hpp>
#include <crowdline/store/sqlite.hpp>  // stores::sqlite is not in the umbrella: it needs SQLiteCpp

using namespace crowdline;
using json = nlohmann::json;

namespace {

task_run_args args_for(std::string name) {
    task_run_args a;
    a.task_name = std::move(name);
    a.task_title = "Two runs";
    a.task_description = "One of two runs served together";
    a.assignment_duration_in_seconds = 600;
    return a;
}

auto dispatcher() {
    return routing::make_dispatcher<initialization_data, json>(routing::average_per_task{1},
                                                               routing::options{.lease = std::chrono::seconds(600)});
}

/// A worker's page: registers in `run` and submits every unit it gets.
int work(architects::in_process& arch, std::string const& run, std::string const& name, json const& answer) {
    int done = 0;
    for (;;) {
        auto got = arch.channel().request({"register", std::nullopt, {{"worker_name", name}, {"run", run}}});
        if (got.type != "agent_details") return done;
        agent_id const agent{got.data["agent_id"].get<std::int64_t>()};
        auto const token = got.data["token"].get<std::string>();
        auto reply = arch.channel().request({"submit", agent, {{"token", token}, {"submission", answer}, {"run", run}}});
        if (reply.type == "submitted") ++done;
    }
}

}  // namespace

int main() {
    stores::sqlite db(":memory:");
    architects::in_process arch;
    providers::mock crowd_labels, crowd_chats;
    // [operator]
    pipeline labels{blueprints::mock{6}, arch, crowd_labels, dispatcher(), db, args_for("labels")};
    pipeline chats{blueprints::live{std::vector<json>{{{"topic", "rain"}}, {{"topic", "sun"}}},
                                    blueprints::live_args{.title = "Chat", .max_turns = 4, .min_turns = 0},
                                    blueprints::handler{"echo", [](blueprints::live_call const& c) { return c.args; }}},
                   arch, crowd_chats, dispatcher(), db, args_for("chats")};

    // Starts both runs on one architect and store (the first brings the architect up). Their types are a
    // compile-time set, deduced here: a packet reaches its run without a virtual call.
    auto op = make_operator(arch, db, labels, chats);
    // [operator]

    // [packets]
    // Every packet names its run (data.run: the task name, or the task run id).
    auto got = arch.channel().request({"register", std::nullopt, {{"worker_name", "ana"}, {"run", "labels"}}});
    agent_id const agent{got.data["agent_id"].get<std::int64_t>()};
    auto const token = got.data["token"].get<std::string>();
    // The same agent and token sent to the other run: that run knows no such agent.
    auto refused = arch.channel().request(
        {"submit", agent, {{"token", token}, {"submission", {{"label", "a"}}}, {"run", "chats"}}});
    // [packets]
    (void)arch.channel().request({"submit", agent, {{"token", token}, {"submission", {{"label", "a"}}}, {"run", "labels"}}});

    work(arch, "labels", "ana", {{"label", "a"}});
    work(arch, "chats", "bo", {{"turns", json::array()}});
    op.tick();
    for (auto const& run : op.runs()) {
        auto const s = run.name == "labels" ? labels.summary() : chats.summary();
        std::printf("%s: %zu of %zu units done (task run %lld%s)\n", run.name.c_str(), s.units(unit_status::completed), s.units(),
                    static_cast<long long>(run.id.value()), run.complete ? ", complete" : "");
    }
    std::printf("refused: %s\n", refused.data.value("reason", std::string{}).c_str());
    op.shutdown();
    return refused.is_error() ? 0 : 1;
}
