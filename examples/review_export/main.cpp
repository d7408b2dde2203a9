// review_export: a small labelling campaign end to end without a network. Workers' pages talk to an
// in-process architect; the server saves each submission in the store; the requester reviews with the mock
// provider (approve with a bonus, reject, soft-reject, block a worker) and exports the results as JSONL on
// stdout. A few bad requests show that worker input is checked before it reaches the server.
//
//   review_export            (no arguments; JSON lines on stdout, a summary on stderr and as the last line)
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <crowdline/crowdline.hpp>

using namespace crowdline;

int main() {
    stores::memory db;
    providers::mock crowd;
    architects::in_process server{{.name = "review-export"}};

    // A task run with six images to label, one unit each, every unit launched.
    auto project = db.new_project("animals");
    auto task = db.new_task("label-animals", "static_form", project);
    auto requester = db.new_requester("lab", providers::mock::provider_type);
    crowd.register_requester(requester);
    auto run = db.new_task_run(task, requester, nlohmann::json{{"task_reward", 0.5}}, "mock", "static_form", true);
    std::vector<unit_id> units;
    for (int i = 0; i < 6; ++i) {
        auto u = db.new_unit(db.new_assignment(run), 0, 0.5);
        db.update_unit(u, unit_status::launched);
        units.push_back(u);
    }

    // [serve]
    // The server side: a worker's "claim" gets a unit, a "submit" saves the answer and completes the unit.
    crowdline::handler_of handler{[&](packet const& request) -> packet {
        if (request.type == "claim") {
            auto name = crowd.worker_name(request.data);  // refuses a registration without a usable name
            auto found = db.find_workers({.name = name});
            auto worker = found.empty() ? db.new_worker(name, providers::mock::provider_type) : found.front().id;
            auto open = db.find_units({.task_run = run, .status = unit_status::launched});
            if (open.empty()) return packet::error("no_units", "nothing left to label");
            auto agent = db.new_agent(worker, open.front().id);
            db.update_agent(agent, agent_status::in_task);
            return packet{"unit", agent, {{"unit", open.front().id.value()}}};
        }
        if (request.type == "submit" && request.agent) {
            if (!request.data.contains("label")) throw invalid_argument("submit: \"label\" is required");
            db.transaction([&] {
                db.update_agent(*request.agent, agent_status::completed, request.data);
                db.update_unit(db.get_agent(*request.agent).unit, unit_status::completed);
            });
            return packet{"saved", request.agent};
        }
        return packet::error("unknown_type", "unknown packet type \"" + request.type + "\"");
    }};
    server.channel().on_message(handler);
    server.prepare();
    std::string url = server.deploy();  // "inproc://review-export": what the provider lists
    // [serve]
    for (auto u : units) crowd.launch(u, url);

    // Three workers label two images each; pages send JSON text, as a browser would.
    std::vector<std::string> labels{"cat", "dog", "cat", "bird", "??", "emu"};
    for (int i = 0; i < 6; ++i) {
        std::string who = std::vector<std::string>{"ana", "ben", "chen"}[static_cast<std::size_t>(i / 2)];
        auto claimed = server.request_text(R"({"type":"claim","data":{"worker_name":")" + who + R"("}})");
        if (claimed.is_error()) {
            std::cerr << "claim failed: " << claimed.data.dump() << "\n";
            return 1;
        }
        auto saved = server.request(packet{"submit", claimed.agent, {{"label", labels[static_cast<std::size_t>(i)]}}});
        if (saved.type != "saved") {
            std::cerr << "submit failed: " << saved.data.dump() << "\n";
            return 1;
        }
    }
    // Bad input never reaches the handler's logic: each is an error reply naming what is wrong.
    for (std::string bad : {std::string(R"({"type": )"), std::string(R"(["claim"])"), std::string(R"({"type":"claim","data":{}})")})
        std::cerr << "refused: " << server.request_text(bad).data["reason"] << "\n";

    // [review]
    // Review: approve the good labels (one with a bonus), reject a non-answer, soft-reject a doubtful one,
    // block the worker who sent the non-answer. Each action calls the provider and writes a worker_review.
    review::approve(db, crowd, units[0], "clear");
    review::approve(db, crowd, units[1], "clear", 2.0);
    review::approve(db, crowd, units[2]);
    review::soft_reject(db, crowd, units[3], "an eagle, not a bird of this set");
    review::reject(db, crowd, units[4], "not a label");
    review::block(db, crowd, *db.get_unit(units[4]).worker, "non-answers");
    review::bonus(db, crowd, *db.get_unit(units[5]).worker, 0.5, "rare species spotted", units[5]);
    // [review]

    // [export]
    // Export: every finished unit of the task, one JSON object per line.
    data_browser browser(db);
    std::size_t exported = export_jsonl(std::cout, browser.results_for_task("label-animals"));
    // [export]

    std::map<std::string, int> by_status;
    for (auto const& r : browser.results_for_run(run)) ++by_status[std::string(to_string(r.unit.status))];
    server.shutdown();
    for (auto u : units) crowd.expire(u);
    crowd.cleanup_resources(run);

    std::cout << "exported " << exported << " results: " << by_status["accepted"] << " accepted, "
              << by_status["rejected"] << " rejected, " << by_status["soft_rejected"] << " soft_rejected, "
              << by_status["completed"] << " completed; bonuses paid: " << crowd.bonuses().size()
              << " (budget left " << crowd.budget(requester) << ")\n";
    return 0;
}
