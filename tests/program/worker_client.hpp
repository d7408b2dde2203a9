#pragma once
// A worker's page as the program's tests play it: register with an invite link, answer the unit handed out,
// over real HTTP (the architect tests' client).

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../unit/architect/http_client.hpp"

namespace program_test {

inline nlohmann::json register_with(std::uint16_t port, std::string const& token) {
    return test::http_request(port, "POST", "/api/register", nlohmann::json{{"data", {{"invite", token}}}}.dump()).parsed();
}
/// Registers and answers the one unit handed out.
inline void do_one_unit(std::uint16_t port, std::string const& token) {
    auto r = register_with(port, token);
    REQUIRE(r["type"] == "agent_details");
    auto ok = test::http_request(port, "POST", "/api/submit",
                                 nlohmann::json{{"agent", r["data"]["agent_id"]},
                                                {"data", {{"token", r["data"]["token"]},
                                                          {"submission", {{"sentiment", "positive"}}}}}}
                                     .dump());
    REQUIRE(ok.parsed()["type"] == "submitted");
}

}  // namespace program_test
