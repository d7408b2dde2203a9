#pragma once
// A test campaign: mock blueprint, in-process architect (the test is the browser), mock provider, a
// dispatcher with the run's lease, any store, and a clock the test moves by hand.

#include <chrono>
#include <optional>
#include <span>
#include <string>

#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>

#include "../store/backends.hpp"
#include "../store/fixtures.hpp"

namespace test {

using namespace std::chrono_literals;

inline crowdline::task_run_args run_args(std::string name = "label") {
    crowdline::task_run_args a;
    a.task_name = std::move(name);
    a.task_title = "Label it";
    a.task_description = "Say what the text is about";
    a.task_reward = 0.5;
    a.assignment_duration_in_seconds = 600;
    return a;
}

inline auto make_test_dispatcher(double units_per_item = 1, std::chrono::seconds lease = 600s) {
    return crowdline::routing::make_dispatcher<crowdline::initialization_data, nlohmann::json>(
        crowdline::routing::average_per_task{units_per_item}, crowdline::routing::options{.lease = lease});
}

/// A dispatcher item for routing tests: the language of an item.
struct lang_item {
    std::string lang;
};
/// The language of a mock blueprint item: `langs[index % langs.size()]`.
inline lang_item mock_language(crowdline::initialization_data const& init, std::span<char const* const> langs) {
    return {langs[init.unit_data.at(0).at("index").get<std::size_t>() % langs.size()]};
}
/// Whether a worker whose profile is `{"langs": [...]}` reads the item's language (the eligibility rule).
inline bool reads_lang(nlohmann::json const& profile, lang_item const& item) {
    for (auto const& l : profile.value("langs", nlohmann::json::array()))
        if (l == item.lang) return true;
    return false;
}

/// A manual clock shared by the pipeline and the test.
struct manual_clock {
    crowdline::time_point now = crowdline::time_point{} + 1000h;
    crowdline::time_point operator()() const { return now; }
};

/// What a worker's page does, over the in-process channel.
struct page {
    crowdline::architects::in_process& arch;
    std::string name;
    nlohmann::json profile = nlohmann::json::object();
    std::optional<crowdline::agent_id> agent{};
    std::string token{};
    nlohmann::json init{};

    crowdline::packet register_() {
        auto reply = arch.channel().request({"register", std::nullopt, {{"worker_name", name}, {"profile", profile}}});
        if (reply.type == "agent_details") {
            agent = crowdline::agent_id{reply.data["agent_id"].get<std::int64_t>()};
            token = reply.data["token"].get<std::string>();
            init = reply.data["init_data"];
        } else {
            agent.reset();
        }
        return reply;
    }
    crowdline::packet submit(nlohmann::json submission) {
        return arch.channel().request({"submit", agent, {{"token", token}, {"submission", std::move(submission)}}});
    }
    crowdline::packet send(std::string type, nlohmann::json data = nlohmann::json::object()) {
        data["token"] = token;
        return arch.channel().request({std::move(type), agent, std::move(data)});
    }
};

}  // namespace test
