// live_chat: an interactive task. Each unit is a conversation with a small C++ "assistant"; the worker's
// page calls the assistant's handler once per message, then rates the conversation. The whole transcript is
// saved in the agent's state next to the rating. Runs in-process on an in-memory store (no network).
//
//   live_chat            (no arguments; prints each saved transcript and a one-line summary)
#include <iostream>
#include <string>
#include <vector>

#include <crowdline/crowdline.hpp>

using namespace crowdline;
using json = nlohmann::json;

int main() {
    stores::memory db;
    architects::in_process server{{.name = "live-chat"}};
    providers::mock crowd;

    // [live]
    // The assistant: answers from the unit's topic, and knows how many turns came before.
    auto assistant = blueprints::handler{"assistant", [](blueprints::live_call const& call) {
        auto const message = call.args.value("message", "");
        auto const topic = call.unit_data.value("topic", "anything");
        if (call.history.empty()) return json{{"text", "Hi! Ask me about " + topic + "."}};
        return json{{"text", "Turn " + std::to_string(call.history.size() + 1) + ": about " + topic + ", you said \"" +
                                 message + "\"."}};
    }};
    blueprints::live chat{std::vector<json>{{{"topic", "tides"}}, {{"topic", "volcanoes"}}},
                          blueprints::live_args{.title = "Talk to the assistant, then rate it", .max_turns = 10, .min_turns = 2},
                          assistant};
    // [live]

    task_run_args args;
    args.task_name = "rate-assistant";
    args.task_title = "Chat and rate";
    args.task_description = "Have a short conversation, then rate the answers from 1 to 5";
    pipeline campaign{std::move(chat), server, crowd,
                      routing::make_dispatcher<initialization_data, json>(
                          routing::options{.lease = std::chrono::seconds(args.assignment_duration_in_seconds)}),
                      db, args};
    auto run = campaign.launch();

    // [page]
    // What a worker's page does: register, call the handler per message, submit the rating.
    auto talk = [&](std::string const& worker, std::vector<std::string> const& messages, int rating) {
        auto unit = server.request(packet{"register", std::nullopt, {{"worker_name", worker}}});
        if (unit.type != "agent_details") return false;
        auto const token = unit.data["token"].get<std::string>();
        auto submit = [&] {
            return server.request(packet{"submit", unit.agent, {{"token", token}, {"submission", {{"rating", rating}}}}});
        };
        for (auto const& m : messages) {
            auto answer = server.request(packet{"live_update", unit.agent,
                                                {{"token", token}, {"update", {{"handler", "assistant"}, {"args", {{"message", m}}}}}}});
            std::cout << worker << ": " << m << "\n  assistant: " << answer.data["response"]["text"].get<std::string>() << "\n";
            if (&m == &messages.front()) {  // finishing after one turn is refused (min_turns = 2); the unit stays hers
                auto early = submit();
                std::cout << "  (finish refused: " << early.data["errors"][0]["message"].get<std::string>() << ")\n";
            }
        }
        return submit().type == "submitted";
    };
    // [page]

    bool ok = talk("ana", {"hello", "why are there two tides a day?"}, 4) && talk("ben", {"hi", "do volcanoes sleep?", "thanks"}, 5);
    std::size_t saved_turns = 0;
    for (auto const& agent : db.find_agents({.task_run = run, .status = agent_status::completed}))
        saved_turns += agent.state["updates"].size();
    std::cout << "conversations saved: " << db.find_agents({.task_run = run, .status = agent_status::completed}).size()
              << ", turns saved: " << saved_turns << ", run complete: " << (campaign.is_complete() ? "yes" : "no")
              << "\n";
    return ok && campaign.is_complete() ? 0 : 1;
}
