#pragma once
/// The requester's side of a served campaign: the review API and live dashboard behind the review page,
/// JSONL export, and the campaign's Prometheus metrics, added to an `architects::http` server for one
/// running pipeline. Every endpoint needs the requester's token (`Authorization: Bearer <token>`): none
/// → 401, a wrong one → 403, and nothing is read or changed.
///
///  - `GET  /api/review/units?status=completed|accepted|rejected|soft_rejected|all`
///  - `POST /api/review/decide` `{agent_id, action: approve|reject|soft_reject, note?, bonus?, block?}` —
///    all or nothing (`pipeline::decide`): every field is checked first (a bonus must be a number
///    0 < bonus ≤ `max_bonus`; 0 or null means none), and the reply says what was recorded
///  - `POST /api/review/block` `{worker_id, block: bool, note?}`
///  - `POST /api/review/link` `{worker, action: revoke|renew}` — with a provider that has invite links
///    (`revoke_link`, `renew_link`, e.g. `providers::in_house`); renew answers the new `invite` token
///  - `GET  /api/review/dashboard` — units by status, progress per group, workers, steals, starved items,
///    and why the run stopped launching (`launch_stopped`, null while it has not)
///  - `GET  /api/review/quality` — agreement per label field and each worker's estimated accuracy
///    (`quality::run_report`, as `crowdline quality` prints them), and each item's majority share on the
///    first field, lowest first: the review page's "disagreements first" order
///  - `GET  /api/export?format=jsonl`
///  - `/metrics` gains the campaign's figures: units by status, workers present, steals, leases, and per
///    label field `crowdline_agreement_alpha` and `crowdline_agreement_annotations` (`pipeline::agreement`)
///
/// Over an `operator_` (several runs), every endpoint above takes `?run=<task name>` (or the task run id;
/// optional with one run), acts on that run only, and `GET /api/review/runs` lists the runs; `/metrics`
/// labels each sample with its `run`.
///
/// Each handler runs under the pipeline's lock (`pipeline::locked`), so a review never races the worker
/// pool on the store; the dashboard and the metrics read the pipeline's running counts, never every unit.
/// Errors are `{"error": {reason, message}}` with 400 / 404 / 409 / 402 statuses; a body that is not what
/// an endpoint expects (a wrong type, a number out of range) is a 400 naming the field.

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <string_view>
#include <type_traits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/http.hpp>
#include <crowdline/blueprint/blueprint.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/ops/data_browser.hpp>
#include <crowdline/ops/operator.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/ops/review.hpp>
#include <crowdline/quality/aggregate.hpp>
#include <crowdline/quality/run_report.hpp>

namespace crowdline {

/// What differs between the runs of one operator's review API.
struct review_run_options {
    std::string group_by{};
    std::function<void()> links_changed{};
};

/// Settings of `add_review_routes`.
struct review_routes_options {
    std::string requester_token;  ///< the secret of the review link; at least 16 characters
    std::string group_by{};       ///< item field that groups progress and units (e.g. "lang"); empty: none
    /// Called under the pipeline's lock after `/api/review/link` revoked or renewed a link, so a program can
    /// keep its links across restarts (`crowdline serve` rewrites `<db>.secrets.json`).
    std::function<void()> links_changed{};
    /// The largest bonus one review action may pay: a typo (an extra zero, 1e30) is refused with 400.
    double max_bonus = 1000;
    /// With an operator: a run's own `group_by` and `links_changed`, by task name (others use the above).
    std::map<std::string, review_run_options, std::less<>> runs{};
};

namespace detail {

/// The group named by `field` in one object of item data: its text (a non-string as JSON); "" when absent.
inline std::string group_of(nlohmann::json const& data, std::string const& field) {
    if (field.empty() || !data.is_object()) return {};
    auto it = data.find(field);
    if (it == data.end()) return {};
    return it->is_string() ? it->template get<std::string>() : it->dump();
}

/// The review status filter of the units list.
inline std::optional<unit_status> review_status(std::string const& s) {
    if (s == "all") return std::nullopt;
    if (s == "completed") return unit_status::completed;
    if (s == "accepted") return unit_status::accepted;
    if (s == "rejected") return unit_status::rejected;
    if (s == "soft_rejected") return unit_status::soft_rejected;
    throw invalid_argument("status: expected completed, accepted, rejected, soft_rejected or all, got \"" + s + "\"");
}

inline nlohmann::json parse_body(architects::http_request const& r) {
    auto j = parse_message_json(r.body, std::size_t{1} << 20, 32);
    if (!j.is_object()) throw invalid_argument("request body: expected a JSON object");
    return j;
}

/// A positive integer id that fits `std::int64_t` (a larger or negative number is refused, not wrapped).
template <class Id>
Id id_field(nlohmann::json const& body, char const* name) {
    auto it = body.find(name);
    // JSON reads every integer without a minus sign as unsigned, 0 included.
    auto const positive = [](std::uint64_t v) { return v > 0 && v <= std::uint64_t{INT64_MAX}; };
    bool const fits = it != body.end() && it->is_number_integer() &&
                      (it->is_number_unsigned() ? positive(it->template get<std::uint64_t>())
                                                : it->template get<std::int64_t>() > 0);
    if (!fits)
        throw invalid_argument(std::string(name) + ": expected a positive integer id, got " +
                               (it == body.end() ? std::string("nothing") : it->dump()));
    return Id{it->template get<std::int64_t>()};
}

/// An optional string field: absent or null → "", another type → refused.
inline std::string text_field(nlohmann::json const& body, char const* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_string()) throw invalid_argument(std::string(name) + ": expected a string, got " + std::string(json_kind(*it)));
    return it->template get<std::string>();
}

/// An optional boolean field: absent or null → false, another type → refused.
inline bool flag_field(nlohmann::json const& body, char const* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw invalid_argument(std::string(name) + ": expected true or false, got " + std::string(json_kind(*it)));
    return it->template get<bool>();
}

/// The bonus of a decision: absent, null or 0 → none; otherwise a number 0 < bonus ≤ `max`.
inline std::optional<double> bonus_field(nlohmann::json const& body, double max) {
    auto it = body.find("bonus");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number())
        throw invalid_argument("bonus: expected a number, got " + std::string(json_kind(*it)));
    double const amount = it->template get<double>();
    if (amount == 0) return std::nullopt;
    if (!std::isfinite(amount) || amount < 0 || amount > max)
        throw invalid_argument("bonus: expected a number above 0 and at most " + nlohmann::json(max).dump() + ", got " +
                               review::detail::amount_text(amount));
    return amount;
}

/// The verdict named by `action`.
inline review::verdict verdict_field(nlohmann::json const& body) {
    auto it = body.find("action");
    std::string const action = it != body.end() && it->is_string() ? it->template get<std::string>() : std::string{};
    for (auto v : {review::verdict::approve, review::verdict::reject, review::verdict::soft_reject})
        if (action == review::to_string(v)) return v;
    throw invalid_argument("action: expected approve, reject or soft_reject, got " +
                           (it == body.end() ? std::string("nothing") : it->dump()));
}

/// The error response for the exception in flight.
inline architects::http_response review_error() {
    try {
        throw;
    } catch (review::payment_refused const& e) {
        return architects::http_response::error(402, "payment_refused", e.what());
    } catch (...) {
        auto p = error_reply_for_current_exception();
        return architects::http_response::error(architects::status_for(p), p.data.value("reason", ""),
                                                p.data.value("message", ""));
    }
}

}  // namespace detail

/// The group of an item (its language, say) for dashboards and routing: `field` of its first unit's data,
/// else of its shared data; "" when absent or when `field` is empty.
[[nodiscard]] inline std::string item_group(initialization_data const& init, std::string const& field) {
    if (!init.unit_data.empty()) {
        auto g = detail::group_of(init.unit_data.front(), field);
        if (!g.empty()) return g;
    }
    return detail::group_of(init.shared, field);
}

namespace detail {

/// The token first, then any exception as an error response: what every review endpoint does first.
template <class Handler>
auto guarded(std::shared_ptr<review_routes_options const> opts, Handler handler) {
    return [opts = std::move(opts), handler = std::move(handler)](architects::http_request const& r) -> architects::http_response {
        auto token = r.bearer_token();
        if (token.empty())
            return architects::http_response::error(401, "unauthorized",
                                                    "this endpoint needs the requester token (Authorization: Bearer …)");
        if (!crowdline::same_token(token, opts->requester_token))
            return architects::http_response::error(403, "forbidden", "the requester token is not valid");
        try {
            return handler(r);
        } catch (...) {
            return detail::review_error();
        }
    };
}

/// The group key of an item under `opts` (its `group_by` field).
inline auto group_key(std::shared_ptr<review_routes_options const> opts) {
    return [opts = std::move(opts)](initialization_data const& init) { return item_group(init, opts->group_by); };
}

/// `GET /api/review/units`: the run's finished units with their answers.
template <class Pipeline>
architects::http_response review_units(Pipeline& run, review_routes_options const& opts, architects::http_request const& r) {
    auto status = review_status(r.query_param("status").value_or("completed"));
    auto const this_run = run.run().value();
    nlohmann::json units = nlohmann::json::array();
    run.locked([&](auto& db, auto&, auto const&) {
        // One read of the units, one of the run's agents, one per worker seen: never a query per unit.
        std::unordered_map<agent_id, crowdline::agent> agents;
        for (auto& a : db.find_agents({.task_run = this_run})) agents.emplace(a.id, std::move(a));
        std::unordered_map<worker_id, crowdline::worker> workers;
        for (auto const& u : db.find_units({.task_run = this_run, .status = status})) {
            if (!complete(u.status) || !u.agent) continue;
            auto found = agents.find(*u.agent);
            if (found == agents.end()) continue;
            auto const& a = found->second;
            auto w_it = workers.find(a.worker);
            if (w_it == workers.end()) w_it = workers.emplace(a.worker, db.get_worker(a.worker)).first;
            auto const& w = w_it->second;
            auto inputs = a.state.is_object() && a.state.contains("inputs") ? a.state["inputs"] : nlohmann::json(nullptr);
            auto outputs = a.state.is_object() && a.state.contains("outputs") ? a.state["outputs"] : nlohmann::json(nullptr);
            auto group = group_of(inputs, opts.group_by);
            units.push_back({{"agent_id", a.id.value()},
                             {"unit_id", u.id.value()},
                             {"assignment_id", u.assignment.value()},
                             {"worker_id", w.id.value()},
                             {"worker_name", w.name},
                             {"status", std::string(to_string(u.status))},
                             {"agent_status", std::string(to_string(a.status))},
                             {"key", group.empty() ? nlohmann::json(nullptr) : nlohmann::json(group)},
                             {"inputs", inputs},
                             {"outputs", outputs}});
        }
    });
    return architects::http_response::json(200, {{"units", std::move(units)}});
}

/// `POST /api/review/decide`: one decision, all of it or nothing; an agent of another run is not found.
template <class Pipeline>
architects::http_response review_decide(Pipeline& run, review_routes_options const& opts, architects::http_request const& r) {
    // Every field is checked before anything is read or written.
    auto body = parse_body(r);
    review::decision d;
    auto const a = read_request("review decision", [&] {
        auto const agent = id_field<agent_id>(body, "agent_id");
        d.action = verdict_field(body);
        d.note = text_field(body, "note");
        d.bonus = bonus_field(body, opts.max_bonus);
        if (flag_field(body, "block")) d.block = d.note.empty() ? "blocked in review" : d.note;
        return agent;
    });
    auto const this_run = run.run().value();
    nlohmann::json out;
    run.locked([&](auto& db, auto&, auto const&) {
        auto agent = db.get_agent(a);
        if (agent.task_run != this_run)
            throw entry_does_not_exist("agent " + std::to_string(a.value()) + " is not part of this run");
        d.unit = agent.unit;
        auto const done = run.decide(d);  // all of it, or an error and nothing recorded
        out = {{"ok", true}, {"agent_id", a.value()}, {"status", std::string(to_string(done.after))},
               {"recorded", done.to_json()}};
    });
    return architects::http_response::json(200, out);
}

/// `POST /api/review/block`: blocks or unblocks a worker, through the run's provider.
template <class Pipeline>
architects::http_response review_block(Pipeline& run, review_routes_options const&, architects::http_request const& r) {
    auto body = parse_body(r);
    auto const [w, blocking, note] = read_request("review block", [&] {
        auto it = body.find("block");
        if (it == body.end() || !it->is_boolean()) throw invalid_argument("block: expected true or false");
        return std::tuple{id_field<worker_id>(body, "worker_id"), it->template get<bool>(), text_field(body, "note")};
    });
    run.locked([&](auto& db, auto& provider, auto const&) {
        if (blocking) review::block(db, provider, w, note.empty() ? "blocked in review" : note);
        else review::unblock(db, provider, w, note);
    });
    return architects::http_response::json(200, {{"ok", true}});
}

/// True when the run's provider hands out invite links it can revoke and renew (`providers::in_house`).
template <class Pipeline>
inline constexpr bool has_links = requires(std::remove_cvref_t<decltype(std::declval<Pipeline&>().provider_ref())>& p,
                                           std::string_view name) {
    p.revoke_link(name);
    { p.renew_link(name) } -> std::convertible_to<std::string>;
};

/// `POST /api/review/link`: revokes or renews a worker's invite link of this run.
template <class Pipeline>
architects::http_response review_link(Pipeline& run, review_routes_options const& opts, architects::http_request const& r) {
    if constexpr (!has_links<Pipeline>) {
        throw invalid_argument("this run's provider has no invite links");
    } else {
        auto body = parse_body(r);
        auto const who = body.find("worker");
        if (who == body.end() || !who->is_string()) throw invalid_argument("worker: expected the worker's name");
        auto const act = body.find("action");
        std::string const action = act != body.end() && act->is_string() ? act->template get<std::string>() : "";
        if (action != "revoke" && action != "renew")
            throw invalid_argument("action: expected revoke or renew, got " + (act == body.end() ? "nothing" : act->dump()));
        auto const name = who->template get<std::string>();
        nlohmann::json out{{"ok", true}, {"worker", name}};
        run.locked([&](auto&, auto& provider, auto const&) {
            if (action == "revoke") {
                provider.revoke_link(name);  // unknown name: entry_does_not_exist, 404
                out["revoked"] = true;
            } else {
                out["invite"] = std::string(provider.renew_link(name));
                out["revoked"] = false;
            }
            if (opts.links_changed) opts.links_changed();
        });
        return architects::http_response::json(200, out);
    }
}

/// `GET /api/review/dashboard`: the run's counts, progress per group, workers and starved items.
template <class Pipeline>
architects::http_response review_dashboard(Pipeline& run, review_routes_options const& opts, architects::http_request const&) {
    auto const key_of = [&opts](initialization_data const& init) { return item_group(init, opts.group_by); };
    nlohmann::json progress = nlohmann::json::array();
    for (auto const& p : run.progress()) progress.push_back({{"key", p.key}, {"done", p.done}, {"total", p.total}});
    nlohmann::json workers = nlohmann::json::array();
    for (auto const& w : run.workers())
        workers.push_back({{"worker_id", w.id.value()}, {"name", w.name}, {"joined", w.joined},
                           {"held", w.held}, {"queue", w.queue}, {"done", w.done}});
    nlohmann::json starved = nlohmann::json::array();
    auto describe = [&key_of](initialization_data const& init) {
        auto item = init.unit_data.empty() ? init.shared : init.unit_data.front();
        return std::pair{key_of(init), std::move(item)};
    };
    for (auto const& [a, what] : run.starved(describe))
        starved.push_back({{"assignment_id", a.value()}, {"key", what.first}, {"item", what.second}});
    auto counts = run.locked([](auto&, auto&, auto const& dispatcher) { return dispatcher.counts(); });
    auto summary = run.summary();
    return architects::http_response::json(200, {{"run", run.task_name()},
                                                 {"task_run_id", run.run() ? nlohmann::json(run.run()->value()) : nlohmann::json(nullptr)},
                                                 {"complete", run.is_complete()},
                                                 {"launch_stopped", run.launch_stopped() ? nlohmann::json(*run.launch_stopped())
                                                                                         : nlohmann::json(nullptr)},
                                                 {"units", summary.to_json()["units"]},
                                                 {"progress", std::move(progress)},
                                                 {"workers", std::move(workers)},
                                                 {"steals", counts.steals},
                                                 {"starved", std::move(starved)}});
}

/// `GET /api/review/quality`: `quality::run_report` of the run's answers on every label field, and under
/// `items` each item's majority vote on the first field (`assignment_id`, `field`, `agreement` = the share
/// of the votes, `tie`), the least agreed first (ties broken by assignment id). Reads every done unit of the
/// run, like `/api/review/units`: a page asks for it when it lists units, not on each dashboard poll.
template <class Pipeline>
architects::http_response review_quality(Pipeline& run, review_routes_options const&, architects::http_request const&) {
    std::vector<quality::run_answer> answers;
    std::map<std::string, quality::gold_tally> gold;
    run.locked([&](auto& db, auto&, auto const&) {
        answers = quality::run_answers(db, run.run().value());
        gold = quality::gold_accuracy(db, run.run().value());
    });
    auto const fields = quality::label_fields(answers);
    auto report = quality::run_report(answers, fields, gold);
    auto items = nlohmann::json::array();
    if (!fields.empty()) {
        auto votes = quality::majority_vote(quality::field_annotations(answers, fields.front()));
        std::stable_sort(votes.begin(), votes.end(), [](auto const& a, auto const& b) { return a.share < b.share; });
        for (auto const& v : votes)
            items.push_back({{"assignment_id", v.item}, {"field", fields.front()}, {"agreement", v.share}, {"tie", v.tie}});
    }
    report["run"] = run.task_name();
    report["task_run_id"] = run.run() ? nlohmann::json(run.run()->value()) : nlohmann::json(nullptr);
    report["items"] = std::move(items);
    return architects::http_response::json(200, report);
}

/// `GET /api/export?format=jsonl`: the run's results as JSON lines.
template <class Pipeline>
architects::http_response review_export(Pipeline& run, review_routes_options const&, architects::http_request const& r) {
    auto format = r.query_param("format").value_or("jsonl");
    if (format != "jsonl") throw invalid_argument("format: only jsonl is supported, got \"" + format + "\"");
    std::ostringstream out;
    run.locked([&](auto& db, auto&, auto const&) { export_jsonl(out, data_browser{db}.results_for_run(run.run().value())); });
    return architects::http_response{200, "application/x-ndjson; charset=utf-8", out.str()};
}

/// A run's figures for `/metrics`.
struct run_metrics {
    std::string label;  ///< `run="name"`, or empty with one run
    nlohmann::json units;
    std::size_t joined = 0, steals = 0, leased = 0;
    std::vector<quality::field_agreement> agreement{};  ///< per label field, kept as answers arrive
};
template <class Pipeline>
run_metrics metrics_of(Pipeline& run, std::string label) {
    run_metrics m{std::move(label), run.summary().to_json()["units"]};
    auto [counts, joined] = run.locked([](auto&, auto&, auto const& d) { return std::pair{d.counts(), d.joined_workers()}; });
    m.joined = joined;
    m.steals = counts.steals;
    m.leased = counts.leased;
    m.agreement = run.agreement();
    return m;
}

/// A label value as Prometheus' text format writes it (`\\`, `"` and newlines escaped).
inline std::string metrics_label(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

/// The runs' figures in Prometheus' text format, each metric's samples together.
inline std::string metrics_text(std::vector<run_metrics> const& runs) {
    auto const labels = [](std::string const& run, std::string const& more) {
        if (run.empty() && more.empty()) return std::string{};
        return "{" + run + (run.empty() || more.empty() ? "" : ",") + more + "}";
    };
    std::string out = "# HELP crowdline_units Units of the run by status.\n# TYPE crowdline_units gauge\n";
    for (auto const& m : runs)
        for (auto const& [status, n] : m.units.items())
            out += "crowdline_units" + labels(m.label, "status=\"" + status + "\"") + ' ' + n.dump() + '\n';
    auto const gauge = [&](char const* name, char const* help, char const* type, std::size_t run_metrics::*field) {
        out += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
        for (auto const& m : runs) out += name + labels(m.label, "") + ' ' + std::to_string(m.*field) + '\n';
    };
    gauge("crowdline_workers_active", "Workers the dispatcher counts as present.", "gauge", &run_metrics::joined);
    gauge("crowdline_steals_total", "Units taken over from another worker's reservation.", "counter", &run_metrics::steals);
    gauge("crowdline_units_leased", "Units handed out and not finished.", "gauge", &run_metrics::leased);
    // Per label field: alpha (NaN while undefined: fewer than two answers on one item, or one label only)
    // and the answers it is computed from, so a dashboard can tell "no agreement" from "too few answers".
    out += "# HELP crowdline_agreement_alpha Krippendorff's alpha (nominal) of the answers on a label field.\n"
           "# TYPE crowdline_agreement_alpha gauge\n";
    auto const field_label = [](quality::field_agreement const& f) { return "field=\"" + metrics_label(f.field) + '"'; };
    for (auto const& m : runs)
        for (auto const& f : m.agreement)
            out += "crowdline_agreement_alpha" + labels(m.label, field_label(f)) + ' ' +
                   (f.krippendorff_alpha ? nlohmann::json(*f.krippendorff_alpha).dump() : std::string("NaN")) + '\n';
    out += "# HELP crowdline_agreement_annotations Answers on a label field (items with two or more count in alpha).\n"
           "# TYPE crowdline_agreement_annotations gauge\n";
    for (auto const& m : runs)
        for (auto const& f : m.agreement)
            out += "crowdline_agreement_annotations" + labels(m.label, field_label(f)) + ' ' + std::to_string(f.annotations) + '\n';
    return out;
}

/// The review endpoints: one table for a lone pipeline and for an operator's runs, each handler a generic
/// `f(run, options, request)` instantiated for the run's type.
template <class Handler>
struct review_endpoint {
    char const* method;
    char const* path;
    Handler handler;
};
template <class Handler>
review_endpoint(char const*, char const*, Handler) -> review_endpoint<Handler>;

inline constexpr auto review_endpoints = std::tuple{
    review_endpoint{"GET", "/api/review/units", [](auto& run, auto const& o, auto const& r) { return review_units(run, o, r); }},
    review_endpoint{"POST", "/api/review/decide", [](auto& run, auto const& o, auto const& r) { return review_decide(run, o, r); }},
    review_endpoint{"POST", "/api/review/block", [](auto& run, auto const& o, auto const& r) { return review_block(run, o, r); }},
    review_endpoint{"POST", "/api/review/link", [](auto& run, auto const& o, auto const& r) { return review_link(run, o, r); }},
    review_endpoint{"GET", "/api/review/dashboard",
                    [](auto& run, auto const& o, auto const& r) { return review_dashboard(run, o, r); }},
    review_endpoint{"GET", "/api/review/quality",
                    [](auto& run, auto const& o, auto const& r) { return review_quality(run, o, r); }},
    review_endpoint{"GET", "/api/export", [](auto& run, auto const& o, auto const& r) { return review_export(run, o, r); }},
};

/// Calls `f(endpoint)` for each review endpoint.
template <class F>
void for_each_review_endpoint(F&& f) {
    std::apply([&](auto const&... e) { (f(e), ...); }, review_endpoints);
}

inline void check_requester_token(review_routes_options const& options) {
    if (options.requester_token.size() < 16)
        throw config_error("requester_token: must be at least 16 characters (it guards the review pages)");
}

}  // namespace detail

/// Adds the review API, the export and the campaign's metrics to `server` for `run` (a launched
/// `crowdline::pipeline`). `server` and `run` must outlive the server's threads.
template <class Pipeline>
void add_review_routes(architects::http& server, Pipeline& run, review_routes_options options) {
    detail::check_requester_token(options);
    auto opts = std::make_shared<review_routes_options const>(std::move(options));
    detail::for_each_review_endpoint([&](auto const& e) {
        if (std::string_view(e.path) == "/api/review/link" && !detail::has_links<Pipeline>) return;
        server.route(e.method, e.path, detail::guarded(opts, [&run, opts, h = e.handler](architects::http_request const& r) {
            return h(run, *opts, r);
        }));
    });
    // The dashboard's progress per group is counted as units are made and done, not recomputed per request.
    run.set_group_key(detail::group_key(opts));
    server.set_metrics_source([&run] { return detail::metrics_text({detail::metrics_of(run, {})}); });
}

/// The same API for every run of an operator: each request names its run with `?run=<task name>` (or the
/// task run id; optional when the operator serves one run), and `GET /api/review/runs` lists them. A
/// run's `group_by` and `links_changed` come from `options.runs[name]` when given. An agent, unit or
/// worker link of another run is never reached through a run's endpoints. Call it once the runs are
/// launched (each run's group key is set here); `server` and `op` must outlive the server's threads.
template <class Architect, class Store, class... Runs>
void add_review_routes(architects::http& server, operator_<Architect, Store, Runs...>& op, review_routes_options options) {
    detail::check_requester_token(options);
    using options_ptr = std::shared_ptr<review_routes_options const>;
    auto base = std::make_shared<review_routes_options const>(options);
    auto per_run = std::make_shared<std::map<std::string, options_ptr, std::less<>>>();
    for (auto const& [name, o] : options.runs) {
        auto mine = options;
        mine.runs.clear();
        mine.group_by = o.group_by;
        mine.links_changed = o.links_changed;
        (*per_run)[name] = std::make_shared<review_routes_options const>(std::move(mine));
    }
    auto options_of = [base, per_run](std::string const& name) -> options_ptr {
        auto it = per_run->find(name);
        return it == per_run->end() ? base : it->second;
    };
    for (auto const& entry : op.runs()) {
        auto o = options_of(entry.name);
        op.with_run(entry.id, [&](auto& run) { run.set_group_key(detail::group_key(o)); });
    }

    /// The run a request names; with one run, that one.
    auto run_named = [&op](architects::http_request const& r) {
        if (auto named = r.query_param("run"); named && !named->empty()) return *named;
        auto const runs = op.runs();
        if (runs.size() == 1) return runs.front().name;
        throw invalid_argument("run: this server serves " + std::to_string(runs.size()) +
                               " runs; name one (?run=<task name>; GET /api/review/runs lists them)");
    };
    detail::for_each_review_endpoint([&](auto const& e) {
        server.route(e.method, e.path,
                     detail::guarded(base, [&op, run_named, options_of, h = e.handler](architects::http_request const& r) {
                         architects::http_response out;
                         op.with_run(std::string_view(run_named(r)),
                                     [&](auto& run) { out = h(run, *options_of(run.task_name()), r); });
                         return out;
                     }));
    });

    server.route("GET", "/api/review/runs", detail::guarded(base, [&op](architects::http_request const&) {
        nlohmann::json runs = nlohmann::json::array();
        for (auto const& e : op.runs()) {
            nlohmann::json units;
            op.with_run(e.id, [&](auto& run) { units = run.summary().to_json()["units"]; });
            runs.push_back({{"id", e.id.value()}, {"name", e.name}, {"active", e.active}, {"complete", e.complete},
                            {"units", std::move(units)}});
        }
        return architects::http_response::json(200, {{"runs", std::move(runs)}});
    }));

    server.set_metrics_source([&op] {
        std::vector<detail::run_metrics> runs;
        for (auto const& e : op.runs())
            op.with_run(e.id, [&](auto& run) { runs.push_back(detail::metrics_of(run, "run=\"" + detail::metrics_label(e.name) + "\"")); });
        return detail::metrics_text(runs);
    });
}

}  // namespace crowdline
