// providers::in_house: the roster and its invite links (tokens, revoke, renew), identity from a link and
// nothing else (refusals as bad_packet "forbidden"/"revoked"), and the rest of the provider interface as
// the mock's tests check it: requester, block, bonus within and beyond budget, judgements, units, resources.
#include <catch2/catch.hpp>

#include <algorithm>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/provider/provider.hpp>

using namespace crowdline;
using providers::in_house;
using providers::in_house_worker;
using json = nlohmann::json;

namespace {

bool is_lower_hex(std::string const& s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

/// The `reason` of the bad_packet `f` throws; fails the test when it throws anything else or nothing.
template <class F>
std::string refusal_reason(F&& f) {
    try {
        f();
    } catch (bad_packet const& e) {
        return e.reason;
    }
    FAIL("expected a bad_packet");
    return {};
}

std::vector<std::string> names_of(std::vector<in_house_worker> const& roster) {
    std::vector<std::string> out;
    for (auto const& w : roster) out.push_back(w.name);
    return out;
}

}  // namespace

TEST_CASE("in_house models the provider concept", "[provider][in_house]") {
    STATIC_REQUIRE(provider<in_house>);
    STATIC_REQUIRE(assert_provider<in_house>());
    CHECK(in_house::provider_type == "in_house");
    CHECK(in_house::token_bytes == 16);
}

TEST_CASE("in_house tokens: 32 lowercase hex characters, distinct across 1,000 workers", "[provider][in_house]") {
    in_house p;
    std::set<std::string> tokens;
    for (int i = 0; i < 1000; ++i) {
        auto t = p.add_worker({"worker-" + std::to_string(i)});
        CHECK(t.size() == 32);
        CHECK(is_lower_hex(t));
        tokens.insert(t);
    }
    CHECK(tokens.size() == 1000);
    auto roster = p.roster();
    REQUIRE(roster.size() == 1000);
    CHECK(roster[0].name == "worker-0");  // insertion order, not name order
    CHECK(roster[10].name == "worker-10");
    CHECK(roster[999].name == "worker-999");
    for (auto const& w : roster) CHECK(tokens.contains(w.token));
    CHECK(p.invite_token("worker-500") == roster[500].token);
}

TEST_CASE("in_house identity: the link's worker and profile, from the token alone", "[provider][in_house]") {
    json const fr = {{"languages", {"en", "fr"}}};
    in_house p{{{"ann", fr}, {"bob"}}};
    auto ann = p.invite_token("ann");
    auto bob = p.invite_token("bob");
    CHECK(ann != bob);

    CHECK(p.worker_name({{"invite", ann}}) == "ann");
    CHECK(p.worker_name({{"invite", bob}, {"agent_registration_id", "r1"}}) == "bob");
    CHECK(p.name_for_token(ann) == std::optional<std::string>{"ann"});
    CHECK(p.worker_profile({{"invite", ann}}) == std::optional<json>{fr});
    CHECK(p.worker_profile({{"invite", bob}}) == std::optional<json>{json::object()});

    // What the page says about itself does not count: the name and profile come from the roster.
    json const claims = {{"invite", bob}, {"worker_name", "ann"}, {"profile", {{"languages", {"de"}}}}};
    CHECK(p.worker_name(claims) == "bob");
    CHECK(p.worker_profile(claims) == std::optional<json>{json::object()});

    // The roster carries tokens and profiles.
    auto roster = p.roster();
    REQUIRE(roster.size() == 2);
    CHECK(roster[0].name == "ann");
    CHECK(roster[0].profile == fr);
    CHECK(roster[0].token == ann);
    CHECK(roster[1].token == bob);
}

TEST_CASE("in_house refuses registrations without a valid link as forbidden, and changes nothing",
          "[provider][in_house][errors]") {
    in_house p{{{"ann"}}};
    auto const token = p.invite_token("ann");
    auto const roster_before = p.roster();
    std::string other(32, '0');
    if (other == token) other[0] = '1';

    std::vector<json> const refused = {
        {{"invite", other}},                                   // well-formed, unknown
        {{"invite", token.substr(0, 31)}},                     // a token of another length
        {{"invite", token + "0"}},
        {{"invite", ""}},
        {{"worker_name", "ann"}},                              // no invite
        json::object(),
        {{"invite", 42}},                                      // not a string
        {{"invite", nullptr}},
        json::array({token}),                                  // not an object
        json(token),
        json(nullptr),
    };
    for (auto const& registration : refused) {
        INFO(registration.dump());
        CHECK(refusal_reason([&] { (void)p.worker_name(registration); }) == "forbidden");
        CHECK(refusal_reason([&] { (void)p.worker_profile(registration); }) == "forbidden");
    }
    CHECK_THROWS_WITH(p.worker_name(json::object()), Catch::Contains("no invite token"));
    CHECK_THROWS_WITH(p.worker_name({{"invite", other}}), Catch::Contains("this invite link is not valid"));
    CHECK_THROWS_AS(p.worker_name({{"invite", other}}), invalid_argument);  // a bad_packet is one
    // An uppercase copy of a real token is another token.
    std::string upper = token;
    for (auto& c : upper)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    if (upper != token) CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", upper}}); }) == "forbidden");
    CHECK_FALSE(p.name_for_token(other));
    CHECK_FALSE(p.name_for_token(""));

    // Nothing changed: same roster, same token, and the real link still works.
    CHECK(p.roster().size() == roster_before.size());
    CHECK(p.roster()[0].token == roster_before[0].token);
    CHECK_FALSE(p.is_revoked("ann"));
    CHECK(p.worker_name({{"invite", token}}) == "ann");
}

TEST_CASE("in_house revoke_link and renew_link", "[provider][in_house]") {
    in_house p{{{"ann", {{"team", "a"}}}, {"bob"}}};
    auto const old = p.invite_token("ann");
    auto const bob = p.invite_token("bob");
    CHECK_FALSE(p.is_revoked("ann"));

    p.revoke_link("ann");
    CHECK(p.is_revoked("ann"));
    CHECK_FALSE(p.is_revoked("bob"));
    CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", old}}); }) == "revoked");
    CHECK(refusal_reason([&] { (void)p.worker_profile({{"invite", old}}); }) == "revoked");
    CHECK_THROWS_WITH(p.worker_name({{"invite", old}}), Catch::Contains("this invite link was revoked"));
    CHECK_FALSE(p.name_for_token(old));
    CHECK(p.worker_name({{"invite", bob}}) == "bob");  // others are untouched
    p.revoke_link("ann");                              // twice: harmless
    CHECK(p.is_revoked("ann"));

    auto const fresh = p.renew_link("ann");
    CHECK(fresh != old);
    CHECK(fresh.size() == 32);
    CHECK(is_lower_hex(fresh));
    CHECK_FALSE(p.is_revoked("ann"));
    CHECK(p.invite_token("ann") == fresh);
    CHECK(p.worker_name({{"invite", fresh}}) == "ann");
    CHECK(p.worker_profile({{"invite", fresh}}) == std::optional<json>{json{{"team", "a"}}});
    CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", old}}); }) == "revoked");  // for good
    CHECK_FALSE(p.name_for_token(old));

    // Renewing a link that was never revoked also retires the old one.
    auto const again = p.renew_link("ann");
    CHECK(again != fresh);
    CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", fresh}}); }) == "revoked");
    CHECK(p.worker_name({{"invite", again}}) == "ann");

    // A retired token cannot be given back to anyone.
    CHECK_THROWS_AS(p.add_worker({"carl", json::object(), old}), entry_already_exists);
    CHECK_THROWS_AS(p.add_worker({"carl", json::object(), fresh}), entry_already_exists);
    CHECK(p.roster().size() == 2);

    CHECK_THROWS_AS(p.revoke_link("nobody"), entry_does_not_exist);
    CHECK_THROWS_AS(p.renew_link("nobody"), entry_does_not_exist);
    CHECK_THROWS_AS(p.is_revoked("nobody"), entry_does_not_exist);
}

TEST_CASE("in_house over a large roster: each token opens its own worker, renewed and near-miss tokens do not",
          "[provider][in_house]") {
    // Tokens are found by a keyed fingerprint, not by comparing with every token issued: every one must
    // still find exactly its worker, through renewals, and a token one character off finds nobody.
    in_house p;
    constexpr int n = 3000;
    std::vector<std::string> tokens;
    for (int i = 0; i < n; ++i) tokens.push_back(p.add_worker({"w" + std::to_string(i)}));
    std::vector<std::string> retired;
    for (int i = 0; i < n; i += 7) {
        retired.push_back(tokens[static_cast<std::size_t>(i)]);
        tokens[static_cast<std::size_t>(i)] = p.renew_link("w" + std::to_string(i));
    }
    for (int i = 0; i < n; ++i) {
        auto const& t = tokens[static_cast<std::size_t>(i)];
        REQUIRE(p.worker_name({{"invite", t}}) == "w" + std::to_string(i));
        auto near = t;
        near.back() = near.back() == '0' ? '1' : '0';
        if (std::find(tokens.begin(), tokens.end(), near) == tokens.end())
            CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", near}}); }) == "forbidden");
    }
    for (auto const& t : retired) CHECK(refusal_reason([&] { (void)p.worker_name({{"invite", t}}); }) == "revoked");
    for (auto const& t : retired) CHECK_THROWS_AS(p.add_worker({"late", json::object(), t}), entry_already_exists);
}

TEST_CASE("in_house link ids: live until the link is revoked or replaced, never live again", "[provider][in_house]") {
    STATIC_REQUIRE(revocable_identity<in_house>);
    in_house p{{{"ann"}, {"bob"}}};
    auto const ann = p.link_id({{"invite", p.invite_token("ann")}});
    auto const bob = p.link_id({{"invite", p.invite_token("bob")}});
    CHECK(ann != bob);
    CHECK(p.link_id({{"invite", p.invite_token("ann")}}) == ann);  // the same link, the same id
    CHECK(p.is_link_live(ann));
    CHECK(p.is_link_live(bob));
    CHECK_FALSE(p.is_link_live(0));
    CHECK_FALSE(p.is_link_live(~std::uint64_t{0}));
    auto const calls = p.calls();

    p.revoke_link("ann");
    CHECK_FALSE(p.is_link_live(ann));
    CHECK(p.is_link_live(bob));
    CHECK(refusal_reason([&] { (void)p.link_id({{"invite", p.invite_token("ann")}}); }) == "revoked");
    CHECK(refusal_reason([&] { (void)p.link_id({{"invite", std::string(32, 'f')}}); }) == "forbidden");
    CHECK(refusal_reason([&] { (void)p.link_id(json::object()); }) == "forbidden");

    auto const fresh = p.renew_link("ann");
    auto const renewed = p.link_id({{"invite", fresh}});
    CHECK(renewed != ann);
    CHECK(p.is_link_live(renewed));
    CHECK_FALSE(p.is_link_live(ann));  // the old link stays dead although ann is no longer revoked

    (void)p.renew_link("bob");  // a renewal without a revoke also ends the old link
    CHECK_FALSE(p.is_link_live(bob));
    CHECK(p.calls() == calls);  // link checks are not provider-interface calls
}

TEST_CASE("in_house add_worker: bad or duplicate entries are refused and the roster is unchanged",
          "[provider][in_house][errors]") {
    in_house p;
    std::string const given = "0123456789abcdef0123456789abcdef";
    CHECK(p.add_worker({"ann", json::object(), given}) == given);  // a given token is kept
    CHECK(p.invite_token("ann") == given);
    CHECK(p.worker_name({{"invite", given}}) == "ann");
    p.add_worker({"bob"});
    auto const before = p.roster();

    SECTION("duplicate name") {
        CHECK_THROWS_AS(p.add_worker({"ann"}), entry_already_exists);
        CHECK_THROWS_WITH(p.add_worker({"ann"}), Catch::Contains("already on the roster"));
    }
    SECTION("a token already issued to someone else, never echoed") {
        CHECK_THROWS_AS(p.add_worker({"carl", json::object(), given}), entry_already_exists);
        try {
            p.add_worker({"carl", json::object(), given});
        } catch (entry_already_exists const& e) {
            CHECK(std::string(e.what()).find(given) == std::string::npos);
        }
    }
    SECTION("a malformed given token") {
        CHECK_THROWS_AS(p.add_worker({"carl", json::object(), "abc"}), invalid_argument);
        CHECK_THROWS_AS(p.add_worker({"carl", json::object(), given + "0"}), invalid_argument);
        CHECK_THROWS_AS(p.add_worker({"carl", json::object(), "0123456789ABCDEF0123456789ABCDEF"}), invalid_argument);
        CHECK_THROWS_AS(p.add_worker({"carl", json::object(), "0123456789abcdef0123456789abcdeg"}), invalid_argument);
        CHECK_THROWS_WITH(p.add_worker({"carl", json::object(), "xyz"}), Catch::Contains("32 lowercase hex"));
    }
    SECTION("a bad name or profile") {
        CHECK_THROWS_AS(p.add_worker({""}), invalid_argument);
        CHECK_THROWS_WITH(p.add_worker({std::string(257, 'x')}), Catch::Contains("over the limit of 256"));
        CHECK_THROWS_AS(p.add_worker({"bad\nname"}), invalid_argument);
        CHECK_THROWS_AS(p.add_worker({"carl", json::array({"en"})}), invalid_argument);
        CHECK_THROWS_AS(p.add_worker({"carl", json("en")}), invalid_argument);
    }
    auto const after = p.roster();
    CHECK(names_of(after) == names_of(before));
    CHECK(after[0].token == before[0].token);
    CHECK(after[1].token == before[1].token);

    SECTION("a name of exactly 256 bytes is fine") {
        CHECK(p.add_worker({std::string(256, 'x')}).size() == 32);
        CHECK(p.roster().size() == before.size() + 1);
    }

    SECTION("the constructor refuses what add_worker refuses") {
        CHECK_THROWS_AS(in_house({{"x"}, {"x"}}), entry_already_exists);
        CHECK_THROWS_AS(in_house({{""}}), invalid_argument);
        CHECK_THROWS_AS(in_house({}, {.budget = -1}), invalid_argument);
        CHECK_THROWS_AS(in_house({}, {.budget = std::numeric_limits<double>::infinity()}), invalid_argument);
    }
    CHECK_THROWS_AS(p.invite_token("nobody"), entry_does_not_exist);
}

TEST_CASE("in_house invite_link: base URL + /?invite= + token", "[provider][in_house]") {
    in_house p{{{"ann"}}};
    auto const t = p.invite_token("ann");
    CHECK(p.invite_link("ann", "https://label.example.org") == "https://label.example.org/?invite=" + t);
    CHECK(p.invite_link("ann", "https://label.example.org/") == "https://label.example.org/?invite=" + t);
    CHECK(p.invite_link("ann", "https://x.org/task//") == "https://x.org/task//?invite=" + t);  // one '/' only
    CHECK(p.invite_link("ann", "inproc://run") == "inproc://run/?invite=" + t);
    CHECK_THROWS_AS(p.invite_link("ann", ""), invalid_argument);
    CHECK_THROWS_AS(p.invite_link("nobody", "https://x.org"), entry_does_not_exist);
    auto const fresh = p.renew_link("ann");
    CHECK(p.invite_link("ann", "https://x.org") == "https://x.org/?invite=" + fresh);
}

TEST_CASE("in_house requester and budget", "[provider][in_house]") {
    in_house p;
    requester_id const r{1};
    CHECK_FALSE(p.is_registered(r));
    CHECK_THROWS_WITH(p.budget(r), Catch::Contains("requester 1 is not registered"));
    p.register_requester(r);
    CHECK(p.is_registered(r));
    CHECK(p.budget(r) == 0.0);  // the default: no bonuses
    p.register_requester(r);
    CHECK(p.budget(r) == 0.0);

    in_house funded{{}, {.budget = 25}};
    funded.register_requester(r);
    CHECK(funded.budget(r) == 25.0);
    CHECK_THROWS_AS(funded.pay_from(requester_id{9}), invalid_argument);
}

TEST_CASE("in_house worker: block, is_blocked, unblock by worker id", "[provider][in_house]") {
    in_house p{{{"ann"}}};
    worker_id const w{3}, other{4};
    CHECK_FALSE(p.is_blocked(w));
    p.block(w, "copied answers");
    CHECK(p.is_blocked(w));
    CHECK_FALSE(p.is_blocked(other));
    CHECK(p.blocked() == std::map<worker_id, std::string>{{w, "copied answers"}});
    p.unblock(w);
    CHECK_FALSE(p.is_blocked(w));
    CHECK(p.blocked().empty());
    p.unblock(w);  // unblocking someone not blocked is harmless
    CHECK_FALSE(p.is_blocked(w));
    CHECK(p.worker_name({{"invite", p.invite_token("ann")}}) == "ann");  // blocking is not revoking a link

    p.grant(w, "speaks-fr", 1);
    p.grant(w, "accuracy", 80);
    p.grant(w, "accuracy", 95);
    CHECK(p.qualifications(w) == std::map<std::string, int>{{"accuracy", 95}, {"speaks-fr", 1}});
    p.revoke(w, "speaks-fr");
    CHECK(p.qualifications(w) == std::map<std::string, int>{{"accuracy", 95}});
    CHECK_THROWS_AS(p.grant(w, "", 1), invalid_argument);
    CHECK(p.qualifications(other).empty());
    CHECK_FALSE(p.is_revoked("ann"));  // revoke (a qualification) is not revoke_link
}

TEST_CASE("in_house bonus: paid within the budget, refused (and nothing paid) beyond it", "[provider][in_house]") {
    worker_id const w{3};
    requester_id const r{1};

    SECTION("the default budget of 0 refuses every bonus") {
        in_house p;
        CHECK_FALSE(p.bonus(w, 1, "thanks", std::nullopt));  // nobody registered
        p.register_requester(r);
        CHECK_FALSE(p.bonus(w, 0.01, "thanks", std::nullopt));
        CHECK(p.bonuses().empty());
        CHECK(p.budget(r) == 0.0);
    }
    SECTION("within and beyond the budget") {
        in_house p{{}, {.budget = 10}};
        p.register_requester(r);
        CHECK(p.bonus(w, 4, "careful work", unit_id{7}));
        CHECK(p.budget(r) == 6.0);
        CHECK_FALSE(p.bonus(w, 6.5, "too much", std::nullopt));
        CHECK(p.budget(r) == 6.0);
        CHECK(p.bonus(w, 6, "exactly what is left", std::nullopt));
        CHECK(p.budget(r) == 0.0);
        CHECK_FALSE(p.bonus(w, 0.01, "nothing left", std::nullopt));
        REQUIRE(p.bonuses().size() == 2);
        CHECK(p.bonuses()[0] == providers::in_house_bonus{w, 4, "careful work", unit_id{7}, r});
        CHECK(p.bonuses()[1].reason == "exactly what is left");
    }
    SECTION("bonuses come out of the first registered requester's account, or the one pay_from names") {
        in_house p{{}, {.budget = 10}};
        requester_id const r2{2};
        p.register_requester(r);
        p.register_requester(r2);
        CHECK(p.bonus(w, 1, "a", std::nullopt));
        CHECK(p.budget(r) == 9.0);
        CHECK(p.budget(r2) == 10.0);
        p.pay_from(r2);
        CHECK(p.bonus(w, 2, "b", std::nullopt));
        CHECK(p.budget(r2) == 8.0);
    }
    SECTION("a bad amount is refused with invalid_argument") {
        in_house p{{}, {.budget = 10}};
        p.register_requester(r);
        CHECK_THROWS_WITH(p.bonus(w, -5, "negative", std::nullopt), Catch::Contains("amount must be > 0"));
        CHECK_THROWS_AS(p.bonus(w, 0, "zero", std::nullopt), invalid_argument);
        CHECK_THROWS_AS(p.bonus(w, std::numeric_limits<double>::quiet_NaN(), "nan", std::nullopt), invalid_argument);
        CHECK(p.budget(r) == 10.0);
        CHECK(p.bonuses().empty());
    }
}

TEST_CASE("in_house records judgements, units and run resources", "[provider][in_house]") {
    in_house p;
    agent_id const a1{1}, a2{2}, a3{3};
    p.approve(a1, "good");
    p.reject(a2, "empty answer");
    p.soft_reject(a3, "off-topic");
    p.approve(a3, "second look");
    p.mark_done(a1);
    CHECK(p.approved() ==
          std::vector<providers::in_house_decision>{{a1, "good"}, {a3, "second look"}});
    CHECK(p.rejected() == std::vector<providers::in_house_decision>{{a2, "empty answer"}});
    CHECK(p.soft_rejected() == std::vector<providers::in_house_decision>{{a3, "off-topic"}});
    CHECK(p.done() == std::set<agent_id>{a1});

    unit_id const u{5};
    CHECK_FALSE(p.is_expired(u));
    p.launch(u, "inproc://run");
    CHECK(p.launched() == std::map<unit_id, std::string>{{u, "inproc://run"}});
    CHECK_FALSE(p.is_expired(u));
    p.expire(u);
    CHECK(p.is_expired(u));
    CHECK(p.expired() == std::set<unit_id>{u});
    CHECK(p.launched().contains(u));  // expired ones stay listed
    p.launch(u, "inproc://run");            // relaunched: live again
    CHECK_FALSE(p.is_expired(u));
    CHECK_THROWS_AS(p.launch(unit_id{6}, ""), invalid_argument);
    CHECK_FALSE(p.launched().contains(unit_id{6}));

    task_run_id const run{4};
    p.setup_resources(run, "https://label.example.org");
    CHECK(p.resources() == std::map<task_run_id, std::string>{{run, "https://label.example.org"}});
    p.cleanup_resources(run);
    CHECK(p.resources().empty());
    CHECK(p.cleaned() == std::set<task_run_id>{run});
    CHECK_THROWS_AS(p.setup_resources(task_run_id{5}, ""), invalid_argument);
    CHECK(p.resources().empty());
}

TEST_CASE("in_house counts provider calls, not roster management or observation", "[provider][in_house]") {
    in_house p;
    auto const before = p.calls();
    auto const t = p.add_worker({"ann"});
    (void)p.roster();
    (void)p.blocked();
    CHECK(p.calls() == before);
    (void)p.worker_name({{"invite", t}});
    p.block(worker_id{1}, "x");
    CHECK(p.calls() == before + 2);
}
