// Fuzz target: worker packets through a real pipeline (in-process architect, mock provider, memory store).
//
// Input: the first byte picks the campaign (plain mock, mock with onboarding + screening + gold, live, or
// what `crowdline serve` runs: static form, in-house invite links, routing by language; the overlap and
// the per-worker limits); each following line is one step:
//   a JSON packet   → parse_message_json → packet_from_json → pipeline::handle, as the server does it;
//   "!tick <s>"     → the clock moves on <s> seconds, then pipeline::tick (leases, patience);
//   "!drop <agent>" → the agent's page goes away (the channel's disconnect);
//   "!shutdown"     → the run is stopped;
//   "!revoke <name>", "!renew <name>" → the in-house provider revokes or renews a worker's link.
// Tokens are unguessable, so a packet whose data.token is "$" gets the token the pipeline handed out to
// the agent it names (or to its onboarding_agent_id), and a data.invite "$<name>" the invite token of
// that worker: the fuzzer reaches submit/release/... of real units.
//
// After every step, invariants that must hold whatever a page sends (a broken one aborts):
//  - parse_message_json refuses bad text only with bad_packet; pipeline::handle never throws;
//  - every reply has a known type, and an error reply a string reason and message;
//  - in the store, an assigned or finished unit names its agent and worker, a launched one neither, and
//    a unit has a live agent iff it is assigned (to that agent);
//    no unit has two live agents; no worker has two live-or-completed agents on one assignment;
//  - a unit is acknowledged as submitted at most once, and then it is completed in the store;
//  - the dispatcher leases as many units as the store has assigned (routed units only);
//  - an in-house worker only gets units in a language of their profile (eligibility);
//  - a complete run has every unit completed.
// A pipeline is built per input: the memory store makes that cheap, and no state leaks between inputs.
// FUZZ_TRACE=1 prints every packet and its reply (what a corpus file reaches).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/architect/in_process.hpp>
#include <crowdline/blueprint/live.hpp>
#include <crowdline/blueprint/mixins.hpp>
#include <crowdline/blueprint/mock.hpp>
#include <crowdline/blueprint/static_form.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/provider/in_house.hpp>
#include <crowdline/provider/mock.hpp>
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/routing/policies.hpp>
#include <crowdline/routing/routers.hpp>
#include <crowdline/store/memory.hpp>

#include "../../apps/crowdline/campaign.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace crowdline;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// FUZZ_TRACE=1 prints each packet and its reply: how to see what a corpus file reaches.
bool const trace = std::getenv("FUZZ_TRACE") != nullptr;

/// The limits `architects::http` applies by default (max_body_bytes is lowered: inputs are small anyway).
constexpr std::size_t max_text_bytes = 1 << 16;
constexpr std::size_t max_depth = 64;
constexpr std::int64_t lease_seconds = 600;

/// What the first byte chooses.
struct campaign {
    int blueprint = 0;  ///< 0 plain mock, 1 mock with mixins, 2 live, 3 as `crowdline serve`
    double overlap = 1;
    std::int64_t allowed_concurrent = 0;
    std::int64_t max_num_concurrent_units = 0;
    std::int64_t maximum_units_per_worker = 0;
    std::size_t items = 4;
};

campaign campaign_of(std::uint8_t b) {
    campaign c;
    c.blueprint = b & 3;
    constexpr double overlaps[] = {1, 1.5, 2, 3};
    c.overlap = overlaps[(b >> 2) & 3];
    c.allowed_concurrent = (b >> 4) & 3;
    c.max_num_concurrent_units = (b & 64) ? 2 : 0;
    c.maximum_units_per_worker = (b & 128) ? 3 : 0;
    if (c.blueprint == 1) c.allowed_concurrent = 1;  // a screening mixin requires it
    return c;
}

task_run_args run_args(campaign const& c) {
    task_run_args a;
    a.task_name = "fuzz";
    a.task_title = "Fuzz";
    a.task_description = "Fuzzed packets";
    a.assignment_duration_in_seconds = lease_seconds;
    a.no_submission_patience = 3600;
    a.allowed_concurrent = c.allowed_concurrent;
    a.max_num_concurrent_units = c.max_num_concurrent_units;
    a.maximum_units_per_worker = c.maximum_units_per_worker;
    return a;
}

/// Answers "2+2?" right when {"sum": 4}; anything else (malformed included) is wrong.
bool answers_four(json const& a) {
    auto it = a.is_object() ? a.find("sum") : a.end();
    return it != a.end() && it->is_number_integer() && it->get<std::int64_t>() == 4;
}

auto make_mixins_blueprint(campaign const& c) {
    std::vector<mixins::gold_unit> gold{{{{"text", "gold A"}}, {{"label", "a"}}}, {{{"text", "gold B"}}, {{"label", "b"}}}};
    return with_mixins(blueprints::mock{c.items}, mixins::onboarding{"trained", {{"question", "2+2?"}}, answers_four},
                       mixins::screening{"screened", 2, {{"q", "2+2"}}, answers_four},
                       mixins::gold_units{gold, 0.25, "accuracy"});
}

auto make_live_blueprint(campaign const& c) {
    std::vector<json> topics;
    for (std::size_t i = 0; i < c.items; ++i) topics.push_back({{"topic", "topic " + std::to_string(i)}});
    return blueprints::live{std::move(topics), blueprints::live_args{.title = "Chat", .max_turns = 3, .min_turns = 1},
                            blueprints::handler{"reply", [](blueprints::live_call const& call) {
                                                    if (call.args.is_object() && call.args.contains("fail"))
                                                        throw invalid_argument("reply: asked to fail");
                                                    return json{{"echo", call.args}, {"turn", call.history.size()}};
                                                }}};
}

/// `crowdline serve`'s campaign: the default form over tasks in three languages (nobody reads "de").
auto make_serve_blueprint() {
    auto spec = crowdline_serve::default_form();
    spec["items"] = json::array({{{"lang", "en"}, {"text", "a"}},
                                 {{"lang", "fr"}, {"text", "b"}},
                                 {{"lang", "de"}, {"text", "c"}},
                                 {{"lang", "en"}, {"text", "d"}}});
    return blueprints::static_form::from_json(spec);
}

/// The roster: who reads what.
std::vector<providers::in_house_worker> serve_roster() {
    return {{"ana", {{"keys", {"en"}}}, {}}, {"bo", {{"keys", {"fr"}}}, {}}, {"cy", {{"keys", {"en", "fr"}}}, {}}};
}

bool known_reply_type(std::string_view t) {
    static const std::set<std::string_view> known{"agent_details", "no_work",     "submitted",         "submit_refused",
                                                  "ok",            "released",    "live_update",       "onboarding",
                                                  "onboarding_result", "error"};
    return known.contains(t);
}

/// Whole-store invariants of the run, and the pipeline's view of them.
template <class Pipeline>
void check_invariants(Pipeline& p, stores::memory& db, task_run_id run, std::set<std::int64_t> const& acknowledged) {
    auto const units = db.find_units({.task_run = run});
    auto const agents = db.find_agents({.task_run = run});
    std::map<std::int64_t, unit const*> unit_by_id;
    for (auto const& u : units) unit_by_id[u.id.value()] = &u;

    std::map<std::int64_t, int> live_agents_per_unit;
    std::map<std::pair<std::int64_t, std::int64_t>, int> held_per_worker_assignment;
    for (auto const& a : agents) {
        auto const u = unit_by_id.find(a.unit.value());
        fuzz::check(u != unit_by_id.end(), "agent " + std::to_string(a.id.value()) + " names a unit outside the run");
        bool const live = !complete(a.status);
        if (live) {
            ++live_agents_per_unit[a.unit.value()];
            fuzz::check(u->second->status == unit_status::assigned && u->second->agent == a.id,
                        "agent " + std::to_string(a.id.value()) + " is live (" + std::string(to_string(a.status)) +
                            ") but unit " + std::to_string(a.unit.value()) + " is " +
                            std::string(to_string(u->second->status)) + " and not held by it");
        }
        // Extra units (screening -1, gold -2) each have an assignment of their own; routed ones share it.
        if (live || a.status == agent_status::completed)
            fuzz::check(++held_per_worker_assignment[{a.worker.value(), a.assignment.value()}] == 1,
                        "worker " + std::to_string(a.worker.value()) + " holds or did two units of assignment " +
                            std::to_string(a.assignment.value()));
    }
    std::size_t assigned_routed = 0;
    for (auto const& u : units) {
        bool const assigned = u.status == unit_status::assigned;
        // Held and done units name their agent and worker; units waiting for one name neither.
        bool const open = u.status == unit_status::created || u.status == unit_status::launched;
        if (assigned || complete(u.status) || open)
            fuzz::check(u.agent.has_value() == !open && u.worker.has_value() == !open,
                        "unit " + std::to_string(u.id.value()) + " is " + std::string(to_string(u.status)) +
                            (u.agent ? " with" : " without") + " an agent");
        fuzz::check(live_agents_per_unit[u.id.value()] == (assigned ? 1 : 0),
                    "unit " + std::to_string(u.id.value()) + " has " + std::to_string(live_agents_per_unit[u.id.value()]) +
                        " live agents while " + std::string(to_string(u.status)));
        if (assigned && u.unit_index >= 0) ++assigned_routed;
        if (acknowledged.contains(u.id.value()))
            fuzz::check(complete(u.status), "unit " + std::to_string(u.id.value()) + " was acknowledged but is " +
                                                std::string(to_string(u.status)));
    }
    fuzz::check(p.dispatcher_ref().counts().leased == assigned_routed,
                "the dispatcher leases " + std::to_string(p.dispatcher_ref().counts().leased) +
                    " units, the store has " + std::to_string(assigned_routed) + " routed units assigned");
    if (p.is_complete())
        for (auto const& u : units)
            fuzz::check(complete(u.status), "the run is complete but unit " + std::to_string(u.id.value()) + " is " +
                                                std::string(to_string(u.status)));
}

/// A number at the start of `text` (after spaces), clamped to [0, limit]; 0 when there is none.
std::int64_t number_in(std::string_view text, std::int64_t limit) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::int64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') break;
        n = n * 10 + (c - '0');
        if (n > limit) return limit;
    }
    return n;
}

/// The rest of `text` after `prefix` and spaces.
std::string_view argument(std::string_view text, std::size_t prefix) {
    text.remove_prefix(std::min(prefix, text.size()));
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return text;
}

template <class Blueprint, class Provider, class Dispatcher, class ItemOf>
void run(Blueprint bp, Provider& prov, Dispatcher dispatcher, ItemOf item_of, campaign const& c,
         std::vector<std::string_view> const& steps) {
    constexpr bool in_house = std::is_same_v<Provider, providers::in_house>;
    stores::memory db;
    architects::in_process arch;
    auto now = time_point{} + 1000h;
    pipeline p{std::move(bp), arch, prov, std::move(dispatcher), db, run_args(c), {}, std::move(item_of)};
    auto const read_now = [&now] { return now; };
    p.set_clock(read_now);
    p.set_max_submission_bytes(4096);
    auto const run = p.launch();

    std::unordered_map<std::int64_t, std::string> tokens;             // agent → token handed out
    std::unordered_map<std::int64_t, std::string> onboarding_tokens;  // onboarding agent → token
    std::set<std::int64_t> acknowledged;                              // units acknowledged as submitted

    for (auto const line : steps) {
        if (line.starts_with("!tick")) {
            now += std::chrono::seconds(number_in(line.substr(5), 100'000));
            try {
                p.tick();
            } catch (...) {
                fuzz::unexpected_exception("pipeline::tick");
            }
        } else if (line.starts_with("!drop")) {
            arch.disconnect(agent_id{number_in(line.substr(5), 1'000'000)});
        } else if (line.starts_with("!shutdown")) {
            p.shutdown();
        } else if (line.starts_with("!revoke") || line.starts_with("!renew")) {
            if constexpr (in_house) {
                auto const renew = line.starts_with("!renew");
                std::string const name(argument(line, renew ? 6 : 7));
                try {
                    if (renew) (void)prov.renew_link(name);
                    else prov.revoke_link(name);
                } catch (entry_does_not_exist const&) {  // not on the roster
                }
            }
        } else {
            json j;
            try {
                j = parse_message_json(line, max_text_bytes, max_depth);
            } catch (bad_packet const&) {
                continue;
            } catch (...) {
                fuzz::unexpected_exception("parse_message_json");
            }
            packet pk;
            try {
                pk = packet_from_json(std::move(j));
            } catch (bad_packet const&) {
                continue;
            } catch (...) {
                fuzz::unexpected_exception("packet_from_json");
            }
            if (pk.data.is_object()) {
                if (auto t = pk.data.find("token"); t != pk.data.end() && *t == "$") {
                    std::string real;
                    if (pk.agent) {
                        if (auto k = tokens.find(pk.agent->value()); k != tokens.end()) real = k->second;
                    } else if (auto o = pk.data.find("onboarding_agent_id"); o != pk.data.end() && o->is_number_integer()) {
                        if (auto k = onboarding_tokens.find(o->get<std::int64_t>()); k != onboarding_tokens.end())
                            real = k->second;
                    }
                    *t = real;
                }
                if constexpr (in_house) {
                    if (auto i = pk.data.find("invite"); i != pk.data.end() && i->is_string()) {
                        auto const& v = i->get_ref<std::string const&>();
                        if (v.starts_with('$')) {
                            try {
                                *i = prov.invite_token(std::string_view(v).substr(1));
                            } catch (entry_does_not_exist const&) {
                            }
                        }
                    }
                }
            }
            packet reply;
            try {
                reply = p.handle(pk);
            } catch (...) {
                fuzz::unexpected_exception("pipeline::handle(\"" + pk.type + "\")");
            }
            if (trace)
                std::fprintf(stderr, "%s -> %s\n", pk.type.c_str(),
                             reply.data.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 160).c_str());
            fuzz::check(known_reply_type(reply.type), "reply of unknown type \"" + reply.type + "\"");
            if (reply.is_error())
                fuzz::check(reply.data.is_object() && reply.data.contains("reason") && reply.data["reason"].is_string() &&
                                reply.data.contains("message") && reply.data["message"].is_string(),
                            "error reply without a string reason and message: " + reply.data.dump());
            (void)reply.data.dump();  // every reply must serialise (the server sends it as text)
            if (reply.type == "agent_details") {
                auto const agent = reply.data.at("agent_id").get<std::int64_t>();
                auto const unit = reply.data.at("unit_id").get<std::int64_t>();
                auto const u = db.get_unit(unit_id{unit});
                fuzz::check(u.status == unit_status::assigned && u.agent == agent_id{agent},
                            "agent_details hands out unit " + std::to_string(unit) + " which agent " +
                                std::to_string(agent) + " does not hold");
                tokens[agent] = reply.data.at("token").get<std::string>();
                if constexpr (in_house) {
                    auto const lang = reply.data.at("init_data").at("unit_data").value("lang", std::string{});
                    auto const name = reply.data.at("worker_name").get<std::string>();
                    bool eligible = false;
                    for (auto const& w : prov.roster())
                        if (w.name == name)
                            for (auto const& k : w.profile["keys"]) eligible = eligible || k == lang;
                    fuzz::check(eligible, name + " was handed a unit in \"" + lang + "\", not a language of theirs");
                }
            } else if (reply.type == "onboarding") {
                onboarding_tokens[reply.data.at("onboarding_agent_id").get<std::int64_t>()] =
                    reply.data.at("token").get<std::string>();
            } else if (reply.type == "submitted") {
                auto const unit = reply.data.at("unit_id").get<std::int64_t>();
                fuzz::check(acknowledged.insert(unit).second,
                            "unit " + std::to_string(unit) + " was acknowledged as submitted twice");
            }
        }
        check_invariants(p, db, run, acknowledged);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    auto const c = campaign_of(data[0]);
    auto const steps = fuzz::lines(data + 1, size - 1);
    auto mock_dispatcher = [&c] {
        return routing::make_dispatcher<initialization_data, json>(
            routing::average_per_task{c.overlap}, routing::options{.lease = std::chrono::seconds(lease_seconds)});
    };
    providers::mock mock;
    constexpr construct_item<initialization_data> as_is{};
    switch (c.blueprint) {
        case 0: run(blueprints::mock{c.items}, mock, mock_dispatcher(), as_is, c, steps); break;
        case 1: run(make_mixins_blueprint(c), mock, mock_dispatcher(), as_is, c, steps); break;
        case 2: run(make_live_blueprint(c), mock, mock_dispatcher(), as_is, c, steps); break;
        default: {
            providers::in_house invites{serve_roster()};
            run(make_serve_blueprint(), invites, crowdline_serve::make_routing(c.overlap, std::chrono::seconds(lease_seconds)),
                crowdline_serve::item_by{"lang"}, c, steps);
        }
    }
    return 0;
}
