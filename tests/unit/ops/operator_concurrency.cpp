// crowdline::operator_ under threads (also built alone under ThreadSanitizer): each run has its own lock,
// so two runs' packets are handled at the same time, and many pages of two runs at once lose nothing.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <crowdline/ops/operator.hpp>
#include <crowdline/store/memory.hpp>

#include "pipeline_common.hpp"

namespace operator_concurrency_test {

using namespace crowdline;
using json = nlohmann::json;

/// Two submissions that wait for each other: each says it arrived, then waits (at most 5 s) for the
/// other. Under one lock for both runs the second could never arrive while the first waits.
struct rendezvous {
    std::atomic<int> inside{0};
    std::atomic<int> met{0};
    void arrive() {
        inside.fetch_add(1);
        auto const until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (inside.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        if (inside.load() >= 2) met.fetch_add(1);
    }
};

/// The mock blueprint, whose submissions meet at the rendezvous.
struct meeting_blueprint : blueprints::mock {
    rendezvous* meet;
    meeting_blueprint(rendezvous& r) : blueprints::mock{1}, meet(&r) {}
    [[nodiscard]] submission_check on_submit(json const& unit_data, json const& submission) const {
        meet->arrive();
        return blueprints::mock::on_submit(unit_data, submission);
    }
};

packet request(architects::in_process& arch, std::string type, std::optional<agent_id> agent, json data) {
    return arch.channel().request({std::move(type), agent, std::move(data)});
}

TEST_CASE("operator_ concurrency: two runs' packets are handled at the same time", "[operator][concurrency]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    rendezvous meet;
    pipeline a{meeting_blueprint{meet}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("a")};
    pipeline b{meeting_blueprint{meet}, arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("b")};
    auto op = make_operator<decltype(a)>(arch, db);
    op.launch(a);
    op.launch(b);

    auto hand = [&](std::string run, std::string who) {
        auto got = request(arch, "register", std::nullopt, {{"worker_name", who}, {"run", run}});
        REQUIRE(got.type == "agent_details");
        return std::pair{agent_id{got.data["agent_id"].get<std::int64_t>()}, got.data["token"].get<std::string>()};
    };
    auto const [agent_a, token_a] = hand("a", "ana");
    auto const [agent_b, token_b] = hand("b", "bo");
    packet reply_a, reply_b;
    std::thread ta([&, agent = agent_a, token = token_a] {
        reply_a = request(arch, "submit", agent, {{"token", token}, {"submission", {{"x", 1}}}, {"run", "a"}});
    });
    std::thread tb([&, agent = agent_b, token = token_b] {
        reply_b = request(arch, "submit", agent, {{"token", token}, {"submission", {{"x", 2}}}, {"run", "b"}});
    });
    ta.join();
    tb.join();
    CHECK(reply_a.type == "submitted");
    CHECK(reply_b.type == "submitted");
    CHECK(meet.met.load() == 2);  // each submission was in its run while the other was in its own
}

TEST_CASE("operator_ concurrency: pages of two runs at once, every unit done exactly once", "[operator][concurrency]") {
    stores::memory db;
    architects::in_process arch;
    providers::mock crowd_a, crowd_b;
    constexpr std::size_t items = 40;
    pipeline a{blueprints::mock{items}, arch, crowd_a, test::make_test_dispatcher(), db, test::run_args("a")};
    pipeline b{blueprints::mock{items}, arch, crowd_b, test::make_test_dispatcher(), db, test::run_args("b")};
    auto op = make_operator<decltype(a)>(arch, db);
    auto const run_a = op.launch(a);
    auto const run_b = op.launch(b);

    std::atomic<int> submitted{0}, wrong_run{0};
    auto worker = [&](std::string run, std::string name) {
        for (;;) {
            auto got = request(arch, "register", std::nullopt, {{"worker_name", name}, {"run", run}});
            if (got.type != "agent_details") return;
            agent_id const agent{got.data["agent_id"].get<std::int64_t>()};
            auto const token = got.data["token"].get<std::string>();
            // The same agent sent to the other run: refused, and nothing moves there.
            auto other = request(arch, "submit", agent,
                                 {{"token", token}, {"submission", {{"x", 0}}}, {"run", run == "a" ? "b" : "a"}});
            if (other.is_error()) wrong_run.fetch_add(1);
            if (request(arch, "submit", agent, {{"token", token}, {"submission", {{"by", name}}}, {"run", run}}).type ==
                "submitted")
                submitted.fetch_add(1);
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back(worker, "a", "a" + std::to_string(i));
        threads.emplace_back(worker, "b", "b" + std::to_string(i));
    }
    std::thread ticker([&] {
        for (int i = 0; i < 20; ++i) {
            op.tick();
            (void)op.runs();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    for (auto& t : threads) t.join();
    ticker.join();
    CHECK(submitted.load() == static_cast<int>(2 * items));
    CHECK(wrong_run.load() == submitted.load());
    for (auto run : {run_a, run_b}) {
        auto const units = db.find_units({.task_run = run});
        REQUIRE(units.size() == items);
        for (auto const& u : units) CHECK(u.status == unit_status::completed);
    }
    CHECK(a.is_complete());
    CHECK(b.is_complete());
}

}  // namespace operator_concurrency_test
