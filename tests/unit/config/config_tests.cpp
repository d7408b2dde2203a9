#include <catch2/catch.hpp>

#include <boost/hana/define_struct.hpp>

#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>

using Catch::Matchers::Contains;

namespace demo {
struct server_args {
    BOOST_HANA_DEFINE_STRUCT(server_args, (std::string, host), (int, port), (std::optional<std::string>, tls_cert));
    server_args() : host("127.0.0.1"), port(8080) {}
    static constexpr std::array<crowdline::config::description, 1> descriptions{{{"port", "TCP port to listen on"}}};
    void validate() const {
        if (port <= 0 || port > 65535) throw crowdline::config_error("port: must be in 1..65535");
    }
};
struct app_args {
    BOOST_HANA_DEFINE_STRUCT(app_args, (crowdline::task_run_args, task), (server_args, server), (bool, verbose));
    app_args() : verbose(false) {}
};
}  // namespace demo

TEST_CASE("args dump to JSON and load back, over defaults", "[config]") {
    demo::app_args a;
    a.task.task_title = "Label sentiment";
    a.task.task_tags = {"nlp", "fr"};
    auto j = crowdline::config::dump(a);
    CHECK(j["task"]["task_reward"] == 0.3);
    CHECK(j["task"]["task_tags"] == nlohmann::json{"nlp", "fr"});
    CHECK(j["server"]["tls_cert"].is_null());
    demo::app_args b;
    crowdline::config::load(b, j);
    CHECK(crowdline::config::dump(b) == j);
    // A partial document changes only what it names.
    demo::app_args c;
    crowdline::config::load(c, nlohmann::json{{"server", {{"port", 9000}}}});
    CHECK(c.server.port == 9000);
    CHECK(c.server.host == "127.0.0.1");
    CHECK(c.task.assignment_duration_in_seconds == 1800);
}

TEST_CASE("loading names an unknown key or a wrong type and keeps the args valid", "[config]") {
    demo::app_args a;
    CHECK_THROWS_WITH(crowdline::config::load(a, nlohmann::json{{"task", {{"task_rewrd", 1}}}}), "task.task_rewrd: unknown key");
    CHECK_THROWS_WITH(crowdline::config::load(a, nlohmann::json{{"server", {{"port", "eighty"}}}}),
                      Contains("server.port: expected integer"));
    CHECK_THROWS_WITH(crowdline::config::load(a, nlohmann::json{{"task", {{"task_tags", {"a", 3}}}}}),
                      Contains("task.task_tags[1]: expected string"));
    CHECK_THROWS_WITH(crowdline::config::load(a, nlohmann::json{{"server", {{"port", 1e12}}}}), Contains("server.port"));
    CHECK_THROWS_AS(crowdline::config::load(a, nlohmann::json::array()), crowdline::config_error);
}

TEST_CASE("key=value overrides reach nested keys and parse by the member's type", "[config]") {
    demo::app_args a;
    auto rest = crowdline::config::apply_overrides(
        a, {"task.task_reward=0.5", "serve", "task.task_tags=nlp,fr", "server.host=0.0.0.0", "verbose=yes",
            "server.tls_cert=/etc/cert.pem", "--db=x.db", "task.task_title=Label the sentiment"});
    CHECK(rest == std::vector<std::string>{"serve", "--db=x.db"});
    CHECK(a.task.task_reward == 0.5);
    CHECK(a.task.task_tags == std::vector<std::string>{"nlp", "fr"});
    CHECK(a.server.host == "0.0.0.0");
    CHECK(a.verbose);
    CHECK(a.server.tls_cert == "/etc/cert.pem");
    CHECK(a.task.task_title == "Label the sentiment");
    crowdline::config::apply_override(a, "task.task_tags=[\"x\"]");
    CHECK(a.task.task_tags == std::vector<std::string>{"x"});

    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "task.reward=1"), "task.reward: unknown key");
    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "nope=1"), "nope: unknown key");
    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "server.port=http"), Contains("server.port: expected integer"));
    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "verbose=maybe"), Contains("verbose: expected true or false"));
    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "task=1"), Contains("task: is a group"));
    CHECK_THROWS_WITH(crowdline::config::apply_override(a, "verbose.x=1"), Contains("verbose: has no sub-keys"));
    CHECK_THROWS_AS(crowdline::config::apply_override(a, "=1"), crowdline::config_error);
    CHECK(a.server.port == 8080);  // refused overrides changed nothing
}

TEST_CASE("--help lists every key with its default, type and description", "[config]") {
    auto text = crowdline::config::help<demo::app_args>();
    CHECK_THAT(text, Contains("task.task_reward=0.3  (number)  pay per unit"));
    CHECK_THAT(text, Contains("server.port=8080  (integer)  TCP port to listen on"));
    CHECK_THAT(text, Contains("server.tls_cert=null  (string, optional)"));
    CHECK_THAT(text, Contains("task.task_tags=[]  (list of string)"));
    CHECK_THAT(text, Contains("verbose=false  (bool)"));
}

TEST_CASE("validate names the bad key, in nested args too", "[config]") {
    demo::app_args a;
    CHECK_THROWS_WITH(crowdline::config::validate(a), "task.task_name: must not be empty");
    a.task.task_name = "t";
    CHECK_THROWS_WITH(crowdline::config::validate(a), Contains("task.task_title"));
    a.task.task_title = "T";
    a.task.task_description = "D";
    crowdline::config::validate(a);
    a.server.port = 0;
    CHECK_THROWS_WITH(crowdline::config::validate(a), "server.port: must be in 1..65535");
    a.server.port = 80;
    a.task.task_reward = -1;
    CHECK_THROWS_WITH(crowdline::config::validate(a), Contains("task.task_reward: must be"));
}
