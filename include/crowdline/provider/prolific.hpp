#pragma once
/// `providers::prolific`: a real crowd, through Prolific's REST API (ARCHITECTURE §13). A study per task
/// run (a draft, then published; places raised as units launch, never lowered; stopped at the end), the
/// participant id as the worker's identity, approve / reject / soft reject / block mapped to Prolific's
/// calls, and bonuses through a ledger kept in a `keyed_store` that pays each bonus exactly once even
/// though Prolific's pay call is not idempotent (see `bonus`). Opt-in: `CROWDLINE_WITH_PROLIFIC`, target
/// `crowdline::prolific` (Beast over OpenSSL).
///
/// Two stores: the campaign's (whose workers, agents and units the provider reads) and the ledger (what
/// the provider writes). They must be two objects: a review pays inside a transaction of the campaign's
/// store, and a ledger entry rolled back with it after the money left would be paid again on a retry.
/// Nothing is kept in memory that a restart needs: a new provider over the same ledger resumes.
/// No lock is held across a call to Prolific or to a hook, so webhooks and the pipeline never wait on
/// each other.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/provider/detail/hook_signature.hpp>
#include <crowdline/provider/detail/prolific_api.hpp>
#include <crowdline/provider/provider.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline::providers {

/// Settings of a `prolific` provider.
struct prolific_options {
    std::string token;                                   ///< the API token (sent as "Authorization: Token …")
    std::string base_url = "https://api.prolific.com";  ///< another base URL: a sandbox, or a test's fake
    std::string workspace_id;                            ///< whose balance pays, where participant groups live
    std::string project_id{};                            ///< studies go to this project (empty: the default one)
    std::int64_t reward_cents = -1;                      ///< per place; < 0: the run's task_reward × 100
    std::int64_t places = 0;                             ///< places a new study starts with (0: one, raised as units launch)
    std::int64_t estimated_minutes = 0;                  ///< shown to participants; 0: a quarter of the maximum
    int fee_percent = 33;                                ///< Prolific's fee on rewards and bonuses, for budget checks
    std::chrono::milliseconds timeout{30000};            ///< per call to Prolific
    std::string extra_ca_pem{};                          ///< a certificate to trust besides the system's (tests)
    bool system_ca = true;
    std::string block_group = "crowdline blocked";       ///< the participant group `block` adds to
    std::string webhook_secret{};                        ///< the hooks' signing secret (empty: hooks refused)
    std::chrono::seconds hook_tolerance{300};            ///< a hook signed longer ago (or ahead) is refused
    /// Called at each step of a study's setup and a bonus's payment, with the step's name (see
    /// docs/prolific.md); a test throws from it to stop the provider there, as a crash would.
    std::function<void(std::string_view step)> step_hook{};
};

/// A bonus the ledger holds, and how far its payment got.
struct prolific_bonus {
    std::string key;          ///< the idempotency key
    std::string state;        ///< "recorded", "created", "paying" (sent; unknown outcome), "paid"
    std::string participant;
    std::string study;
    std::int64_t cents = 0;
    std::string reason;
    std::string payment_id;   ///< the bulk bonus payment, once created
    std::string last_error;   ///< why the last attempt stopped
};

/// What `resume_payments` did.
struct prolific_resume_report {
    std::vector<std::string> paid;       ///< keys paid now
    std::vector<std::string> uncertain;  ///< pay call sent, answer never recorded: see `settle_bonus`
    std::vector<std::string> failed;     ///< still owed, with `last_error` set; tried again next time
};

/// Raised when launching more would cost more than the workspace holds: a `launch_refused`, so the
/// pipeline stops launching the run and keeps serving the units it has.
struct budget_exhausted : launch_refused {
    using launch_refused::launch_refused;
};

template <class Campaign, class Ledger>
class prolific {
    static_assert(assert_store<Campaign>(), "providers::prolific: argument 1 must model crowdline::store");
    static_assert(keyed_store<Ledger>,
                  "providers::prolific: argument 2 must model crowdline::keyed_store (get_value, put_value, find_values)");

public:
    static constexpr std::string_view provider_type = "prolific";
    /// Prolific's own rule: a rejection tells the participant why in at least this many characters.
    static constexpr std::size_t min_rejection_message = 100;

    /// Calls nothing remote. `campaign` and `ledger` the same object → `invalid_argument` (see the top of
    /// this file); no token, no workspace, or a bad base URL → `invalid_argument`.
    prolific(Campaign& campaign, Ledger& ledger, prolific_options options)
        : campaign_(campaign), ledger_(ledger), options_(std::move(options)), api_(client_options(options_)) {
        if (static_cast<void const*>(&campaign) == static_cast<void const*>(&ledger))
            throw invalid_argument("prolific provider: the ledger must be another store than the campaign's (a review "
                                   "pays inside the campaign's transactions, which may roll back after the payment)");
        if (options_.token.empty()) throw invalid_argument("prolific provider: no API token");
        if (options_.workspace_id.empty()) throw invalid_argument("prolific provider: no workspace_id");
        if (options_.fee_percent < 0) throw invalid_argument("prolific provider: fee_percent must be ≥ 0");
    }
    prolific(prolific const&) = delete;
    prolific& operator=(prolific const&) = delete;

    /// What a returned or timed-out submission does: the application hands the agent back to its
    /// pipeline (`pipeline::disconnect`). Called without any lock of the provider held.
    void on_returned(std::function<void(agent_id)> f) { on_returned_ = std::move(f); }

    // --- requester ---------------------------------------------------------------------------------
    void register_requester(requester_id r) { ledger_.put_value(scope_requester, key(r), "1"); }
    [[nodiscard]] bool is_registered(requester_id r) { return ledger_.get_value(scope_requester, key(r)).has_value(); }
    /// The workspace's available balance, in its currency. A refused call → `error` with Prolific's text.
    [[nodiscard]] double budget(requester_id) { return static_cast<double>(available_cents()) / 100.0; }

    // --- worker ------------------------------------------------------------------------------------
    /// Adds the participant to the block group (made on first use); crowdline refuses them from now on.
    void block(worker_id w, std::string_view reason) {
        auto pid = participant(w);
        require(api_.add_to_group(group_id(options_.block_group), pid), "block participant " + pid);
        ledger_.put_value(scope_blocked, key(w), nlohmann::json{{"blocked", true}, {"reason", reason}}.dump());
    }
    void unblock(worker_id w) {
        auto pid = participant(w);
        require(api_.remove_from_group(group_id(options_.block_group), pid), "unblock participant " + pid);
        ledger_.put_value(scope_blocked, key(w), nlohmann::json{{"blocked", false}}.dump());
    }
    [[nodiscard]] bool is_blocked(worker_id w) {
        auto v = ledger_.get_value(scope_blocked, key(w));
        return v && nlohmann::json::parse(*v).value("blocked", false);
    }
    /// Crowd qualifications are participant groups named after them (made on first use).
    void grant(worker_id w, std::string_view qualification, int) {
        require_qualification(qualification);
        auto pid = participant(w);
        require(api_.add_to_group(group_id(qualification), pid), "grant \"" + std::string(qualification) + "\" to " + pid);
    }
    void revoke(worker_id w, std::string_view qualification) {
        require_qualification(qualification);
        auto pid = participant(w);
        require(api_.remove_from_group(group_id(qualification), pid),
                "revoke \"" + std::string(qualification) + "\" from " + pid);
    }

    /// Pays `amount` once, whatever happens: with the key made of the worker, unit, amount and reason, so
    /// the same bonus asked again (a retry, a restart) resumes the first one instead of paying twice.
    bool bonus(worker_id w, double amount, std::string_view reason, std::optional<unit_id> u) {
        auto cents = to_cents(amount, w);
        std::string k = "w" + key(w) + "/u" + (u ? key(*u) : std::string("-")) + "/c" + std::to_string(cents) + "/" +
                        std::string(reason);
        return bonus_with_key(k, w, amount, reason, u);
    }
    /// As `bonus`, with the caller's idempotency key (two bonuses alike in all but the key are both paid).
    /// False, and nothing recorded, when the balance does not cover it and its fee. Steps: recorded (the
    /// ledger has it) → created (Prolific's bulk bonus payment exists, its id kept) → paying (the pay call
    /// is about to go) → paid. A failure before the pay call leaves the bonus owed (`resume_payments`
    /// tries again); a pay call whose answer never came leaves it "paying", never sent again: `error`
    /// says so, and `settle_bonus` records what Prolific's dashboard shows.
    bool bonus_with_key(std::string const& k, worker_id w, double amount, std::string_view reason,
                        std::optional<unit_id> u) {
        auto cents = to_cents(amount, w);
        if (k.empty()) throw invalid_argument("prolific bonus: empty idempotency key");
        if (!ledger_.get_value(scope_bonus, k)) {
            std::string pid = participant(w);
            std::string study = u ? study_of(campaign_.get_unit(*u).task_run).id : latest_study(w);
            if (available_cents() < with_fee(cents)) return false;
            bool const fresh = ledger_.transaction([&] {
                if (ledger_.get_value(scope_bonus, k)) return false;  // another thread recorded it first
                ledger_.put_value(scope_bonus, k, nlohmann::json{{"state", "recorded"}, {"participant", pid},
                                                                 {"study", study}, {"cents", cents},
                                                                 {"reason", reason}, {"payment_id", ""},
                                                                 {"last_error", ""}}.dump());
                return true;
            });
            if (fresh) step("bonus.recorded");
        }
        auto b = drive(k);
        if (b.state == "paid") return true;
        if (b.state == "paying")
            throw error("prolific bonus " + k + ": the pay call for bulk bonus payment " + b.payment_id +
                        " got no answer, so it may have been paid; crowdline will not send it again. Check it on "
                        "Prolific, then call settle_bonus");
        throw error("prolific bonus " + k + ": not paid yet (" + b.last_error + "); it stays owed and resume_payments "
                    "tries again");
    }
    /// Every bonus the ledger holds, in the order recorded.
    [[nodiscard]] std::vector<prolific_bonus> bonuses() {
        std::vector<prolific_bonus> out;
        for (auto const& [k, v] : ledger_.find_values(scope_bonus)) out.push_back(read_bonus(k, v));
        return out;
    }
    /// Takes every unpaid bonus a step further: recorded and created ones are paid; "paying" ones (their
    /// outcome unknown) are listed, never sent again. For a new provider after a crash or restart.
    prolific_resume_report resume_payments() {
        prolific_resume_report report;
        for (auto const& b : bonuses()) {
            if (b.state == "paid") continue;
            if (b.state == "paying") {
                report.uncertain.push_back(b.key);
                continue;
            }
            try {
                auto after = drive(b.key);
                (after.state == "paid" ? report.paid : after.state == "paying" ? report.uncertain : report.failed)
                    .push_back(b.key);
            } catch (std::exception const&) {
                report.failed.push_back(b.key);
            }
        }
        return report;
    }
    /// Records what Prolific shows for a bonus left "paying": paid, or not (then `resume_payments` pays it
    /// with the same bulk bonus payment). Another state, or an unknown key → `invalid_argument`.
    void settle_bonus(std::string const& k, bool was_paid) {
        ledger_.transaction([&] {
            auto v = ledger_.get_value(scope_bonus, k);
            if (!v) throw invalid_argument("prolific settle_bonus: no bonus with key " + k);
            auto j = nlohmann::json::parse(*v);
            if (j["state"] != "paying")
                throw invalid_argument("prolific settle_bonus: bonus " + k + " is " + j["state"].template get<std::string>() +
                                       ", not paying");
            j["state"] = was_paid ? "paid" : "created";
            ledger_.put_value(scope_bonus, k, j.dump());
        });
    }

    // --- agent -------------------------------------------------------------------------------------
    void approve(agent_id a, std::string_view) { judge(a, "APPROVED"); }
    /// Prolific requires the participant be told why, in at least `min_rejection_message` characters:
    /// a shorter note → `invalid_argument` before anything is called.
    void reject(agent_id a, std::string_view note) {
        if (note.size() < min_rejection_message)
            throw invalid_argument("prolific reject of agent " + key(a) + ": Prolific requires a message of at least " +
                                   std::to_string(min_rejection_message) + " characters, shown to the participant; got " +
                                   std::to_string(note.size()));
        judge(a, "REJECTED", note);
    }
    /// Prolific has no soft rejection: the submission is approved (the participant is paid, their rating
    /// unharmed) and crowdline keeps the work out of the results.
    void soft_reject(agent_id a, std::string_view) { judge(a, "APPROVED"); }
    void mark_done(agent_id) {}

    // --- unit --------------------------------------------------------------------------------------
    /// Counts the unit into its run's study and raises the study's places when they fall short, after
    /// checking the balance covers the new places: when it does not, `budget_exhausted` says why, and
    /// every later launch is refused at once (`launch_refusal`).
    void launch(unit_id u, std::string_view url) {
        if (url.empty()) throw invalid_argument("prolific launch of unit " + key(u) + ": empty URL");
        if (auto why = launch_refusal()) throw budget_exhausted(*why);
        auto run = campaign_.get_unit(u).task_run;
        auto raise = ledger_.transaction([&]() -> std::optional<std::pair<study_record, std::int64_t>> {
            auto s = study_of(run);
            auto v = ledger_.get_value(scope_launched, key(u));
            ledger_.put_value(scope_expired, key(u), "0");
            if (v && !v->empty()) return std::nullopt;  // relaunched (a resumed run): its place was counted
            ledger_.put_value(scope_launched, key(u), key(run));
            s.launched += 1;
            put_study(run, s);
            if (s.launched <= s.places) return std::nullopt;
            return std::pair{s, s.launched};
        });
        if (!raise) return;
        auto [s, wanted] = *raise;
        auto cost = with_fee((wanted - s.places) * s.reward_cents);
        if (auto have = available_cents(); have < cost) {
            std::string why = "prolific study " + s.id + ": raising places from " + std::to_string(s.places) + " to " +
                              std::to_string(wanted) + " would commit " + detail::prolific_api::decimal(cost) +
                              " with fees, but the workspace has " + detail::prolific_api::decimal(have) +
                              " available; launching stops here (top up the workspace, then restart the run)";
            {
                std::lock_guard l{mutex_};
                refusal_ = why;
            }
            // Not offered after all: uncounted, so a restart after a top-up raises a place for it.
            ledger_.transaction([&] {
                auto now = study_of(run);
                now.launched -= 1;
                put_study(run, now);
                ledger_.put_value(scope_launched, key(u), "");
            });
            throw budget_exhausted(why);
        }
        require(api_.set_places(s.id, wanted), "raise the places of study " + s.id);
        ledger_.transaction([&] {
            auto now = study_of(run);
            now.places = std::max(now.places, wanted);
            put_study(run, now);
        });
    }
    void expire(unit_id u) { ledger_.put_value(scope_expired, key(u), "1"); }
    [[nodiscard]] bool is_expired(unit_id u) { return ledger_.get_value(scope_expired, key(u)) == "1"; }
    /// Why launching stopped, when the balance ran short.
    [[nodiscard]] std::optional<std::string> launch_refusal() const {
        std::lock_guard l{mutex_};
        return refusal_;
    }

    // --- resources ---------------------------------------------------------------------------------
    /// Creates the run's study as a draft and publishes it; a run whose study exists is resumed (a
    /// draft left by a crash is published, a published one left alone). Steps: "study.created" (Prolific
    /// made it, the ledger not yet told: a crash leaves a draft nobody sees), "study.stored".
    void setup_resources(task_run_id run, std::string_view url) {
        if (url.empty()) throw invalid_argument("prolific resources of task run " + key(run) + ": empty URL");
        if (!ledger_.get_value(scope_study, key(run))) {
            auto params = campaign_.get_task_run(run).init_params;
            detail::prolific_study_draft d;
            d.name = params.value("task_title", std::string());
            if (d.name.empty()) d.name = "crowdline task";
            d.description = params.value("task_description", std::string());
            if (d.description.empty()) d.description = d.name;  // Prolific requires one
            d.internal_name = "crowdline " + params.value("task_name", std::string()) + " run " + key(run);
            std::string base(url);
            d.external_study_url = base + (base.find('?') == std::string::npos ? "?" : "&") +
                                   "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}";
            d.completion_code = "CL" + crowdline::random_token().substr(0, 10);
            std::transform(d.completion_code.begin(), d.completion_code.end(), d.completion_code.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            d.reward_cents = options_.reward_cents >= 0
                                 ? options_.reward_cents
                                 : std::llround(params.value("task_reward", 0.0) * 100.0);
            d.places = std::max<std::int64_t>(1, options_.places);
            auto seconds = params.value("assignment_duration_in_seconds", std::int64_t{1800});
            d.maximum_minutes = std::max<std::int64_t>(1, (seconds + 59) / 60);
            d.estimated_minutes = options_.estimated_minutes > 0 ? options_.estimated_minutes
                                                                  : std::max<std::int64_t>(1, d.maximum_minutes / 4);
            d.project = options_.project_id;
            auto reply = api_.create_study(d);
            require(reply, "create the study of task run " + key(run));
            auto made = parse(reply, "create study");
            step("study.created");
            study_record s{made.value("id", std::string()), "draft", d.completion_code, d.places, 0, d.reward_cents};
            if (s.id.empty()) throw error("prolific: the created study has no id: " + reply.body);
            put_study(run, s);
            step("study.stored");
        }
        auto s = study_of(run);
        if (s.state == "draft") {
            require(api_.transition_study(s.id, "PUBLISH"), "publish study " + s.id);
            s.state = "published";
            put_study(run, s);
        }
    }
    /// Stops the run's study (no new participant starts; those in it may finish). Stopping twice, or a
    /// run without a study, does nothing.
    void cleanup_resources(task_run_id run) {
        if (!ledger_.get_value(scope_study, key(run))) return;
        auto s = study_of(run);
        if (s.state == "stopped") return;
        require(api_.transition_study(s.id, "STOP"), "stop study " + s.id);
        s.state = "stopped";
        put_study(run, s);
    }

    // --- identity ----------------------------------------------------------------------------------
    /// The Prolific participant id the page was opened with (`{"prolific_pid": …, "study_id": …}`, from
    /// the study URL's PROLIFIC_PID and STUDY_ID). A study id that is none of this provider's studies, or
    /// an id that is not 1–64 letters and digits → `bad_packet` ("forbidden").
    [[nodiscard]] std::string worker_name(nlohmann::json const& registration) {
        auto pid = registration.find("prolific_pid");  // end() for a non-object
        if (pid == registration.end() || !pid->is_string() || !is_prolific_id(pid->get_ref<std::string const&>()))
            throw bad_packet("forbidden", "prolific registration: open the study from Prolific (no participant id)");
        if (auto st = registration.find("study_id"); st != registration.end()) {
            bool ours = false;
            if (st->is_string())
                for (auto const& [run, v] : ledger_.find_values(scope_study))
                    ours = ours || nlohmann::json::parse(v).value("id", std::string()) == st->get_ref<std::string const&>();
            if (!ours) throw bad_packet("forbidden", "prolific registration: not a study of this campaign");
        }
        return pid->get<std::string>();
    }

    /// The URL a participant is sent to when done: Prolific's completion page with the run's code.
    [[nodiscard]] std::string completion_url(task_run_id run) {
        return "https://app.prolific.com/submissions/complete?cc=" + study_of(run).completion_code;
    }
    /// The run's study id (nullopt before `setup_resources`).
    [[nodiscard]] std::optional<std::string> study_id(task_run_id run) {
        if (!ledger_.get_value(scope_study, key(run))) return std::nullopt;
        return study_of(run).id;
    }

    // --- status ------------------------------------------------------------------------------------
    /// Asks Prolific for the run's submissions and hands back (`on_returned`) every agent whose
    /// participant returned or timed out while crowdline still counts them at work: what a lost webhook
    /// would have said. Returns those agents.
    std::vector<agent_id> sync_status(task_run_id run) {
        auto s = study_of(run);
        auto reply = api_.list_submissions(s.id);
        require(reply, "list the submissions of study " + s.id);
        auto listed = parse(reply, "list submissions");
        std::vector<agent_id> back;
        for (auto const& sub : listed.value("results", nlohmann::json::array())) {
            auto status = sub.value("status", std::string());
            if (status != "RETURNED" && status != "TIMED-OUT") continue;
            for (auto a : working_agents(run, sub.value("participant_id", std::string()))) back.push_back(a);
        }
        hand_back(back);
        return back;
    }
    /// A participant's submission has a new status, as a hook tells it (its payload names the participant,
    /// not the study): RETURNED and TIMED-OUT hand the participant's working agents, in any run of this
    /// provider, back (`on_returned`); anything else (AWAITING REVIEW …) changes nothing.
    std::vector<agent_id> submission_status(std::string_view participant_id, std::string_view status) {
        if (status != "RETURNED" && status != "TIMED-OUT") return {};
        std::vector<agent_id> back;
        for (auto const& [run, v] : ledger_.find_values(scope_study))
            for (auto a : working_agents(task_run_id{std::stoll(run)}, participant_id)) back.push_back(a);
        hand_back(back);
        return back;
    }

    // --- hooks -------------------------------------------------------------------------------------
    /// One hook delivery: the signature (X-Prolific-Request-Signature over X-Prolific-Request-Timestamp
    /// and the body) and its age are checked, then the event is taken once: a delivery of an event
    /// already taken (Prolific retries) answers 200 and does nothing. An event is `event_id` when the
    /// payload has one, else the submission and its status (a submission reaches each status once).
    /// Answers 401 for a bad or stale signature, 400 for a body that is not an event, 503 without a
    /// secret, 500 (with the reason) when the event could not be handled: the status poll catches it.
    architects::http_response handle_hook(architects::http_request const& req) {
        using architects::http_response;
        if (options_.webhook_secret.empty())
            return http_response::error(503, "unavailable", "prolific hooks: no webhook secret is configured");
        auto stamp = req.header("x-prolific-request-timestamp");
        auto signature = req.header("x-prolific-request-signature");
        if (!stamp || !signature ||
            !detail::hook_signature_matches(options_.webhook_secret, *stamp, req.body, *signature))
            return http_response::error(401, "forbidden", "prolific hooks: bad or missing signature");
        long long sent = 0;
        try {
            sent = std::stoll(*stamp);
        } catch (std::exception const&) {
            return http_response::error(401, "forbidden", "prolific hooks: the timestamp is not a number");
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
        if (std::llabs(now.count() - sent) > options_.hook_tolerance.count())
            return http_response::error(401, "forbidden", "prolific hooks: signed too long ago (a replay?)");
        auto event = nlohmann::json::parse(req.body, nullptr, false);
        if (!event.is_object() || !event.contains("event_type") || !event["event_type"].is_string())
            return http_response::error(400, "invalid_json", "prolific hooks: the body is not an event");
        if (event["event_type"] != "submission.status.change")
            return http_response::json(200, {{"taken", false}, {"why", "not a submission's status"}});
        auto field = [&](char const* name) {
            auto it = event.find(name);
            return it != event.end() && it->is_string() ? it->template get<std::string>() : std::string();
        };
        auto id = field("event_id");
        if (id.empty()) id = field("resource_id") + ":" + field("status");
        bool const fresh = ledger_.transaction([&] {
            if (ledger_.get_value(scope_hook, id)) return false;
            ledger_.put_value(scope_hook, id, req.body);
            return true;
        });
        if (!fresh) return http_response::json(200, {{"taken", false}, {"why", "already taken"}});
        auto back = submission_status(field("participant_id"), field("status"));
        return http_response::json(200, {{"taken", true}, {"returned", back.size()}});
    }
    /// `handle_hook` as a route for an `architects::http` (`arch.route("POST", "/prolific/hook", …)`).
    /// It never throws into the server's I/O thread: a failure is a 500 naming it.
    [[nodiscard]] architects::route_handler hook_route() {
        return [this](architects::http_request const& req) {
            try {
                return handle_hook(req);
            } catch (std::exception const& e) {
                return architects::http_response::error(500, "internal_error", std::string("prolific hooks: ") + e.what());
            }
        };
    }

private:
    static constexpr std::string_view scope_study = "prolific.study";
    static constexpr std::string_view scope_bonus = "prolific.bonus";
    static constexpr std::string_view scope_group = "prolific.group";
    static constexpr std::string_view scope_blocked = "prolific.blocked";
    static constexpr std::string_view scope_submission = "prolific.submission";
    static constexpr std::string_view scope_launched = "prolific.launched";
    static constexpr std::string_view scope_expired = "prolific.expired";
    static constexpr std::string_view scope_requester = "prolific.requester";
    static constexpr std::string_view scope_hook = "prolific.hook";

    struct study_record {
        std::string id, state, completion_code;
        std::int64_t places = 0, launched = 0, reward_cents = 0;
    };

    static detail::https_client_options client_options(prolific_options const& o) {
        return {.base_url = o.base_url, .authorization = "Token " + o.token, .timeout = o.timeout,
                .extra_ca_pem = o.extra_ca_pem, .system_ca = o.system_ca};
    }
    template <class Id>
    static std::string key(Id id) { return std::to_string(id.value()); }

    static bool is_prolific_id(std::string const& s) {
        return !s.empty() && s.size() <= 64 &&
               std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
    }
    static void require(detail::https_reply const& reply, std::string const& what) {
        if (!reply.ok()) throw error("prolific: " + what + ": " + reply.describe());
    }
    static nlohmann::json parse(detail::https_reply const& reply, std::string const& what) {
        auto j = nlohmann::json::parse(reply.body, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            throw error("prolific: " + what + ": the answer is not a JSON object: " + reply.body.substr(0, 200));
        return j;
    }
    static void require_qualification(std::string_view q) {
        if (q.empty()) throw invalid_argument("prolific provider: a qualification name must not be empty");
    }
    static std::int64_t to_cents(double amount, worker_id w) {
        if (!std::isfinite(amount) || amount <= 0)
            throw invalid_argument("bonus for worker " + key(w) + ": amount must be > 0, got " + nlohmann::json(amount).dump());
        return std::llround(amount * 100.0);
    }
    std::int64_t with_fee(std::int64_t cents) const { return cents + (cents * options_.fee_percent + 99) / 100; }

    void step(std::string_view name) {
        if (options_.step_hook) options_.step_hook(name);
    }

    std::string participant(worker_id w) { return campaign_.get_worker(w).name; }

    std::int64_t available_cents() {
        auto reply = api_.workspace_balance(options_.workspace_id);
        require(reply, "read the balance of workspace " + options_.workspace_id);
        auto j = parse(reply, "workspace balance");
        auto it = j.find("available_balance");
        if (it == j.end() || !it->is_number()) throw error("prolific: the balance has no available_balance: " + reply.body);
        return it->get<std::int64_t>();
    }

    study_record study_of(task_run_id run) {
        auto v = ledger_.get_value(scope_study, key(run));
        if (!v) throw error("prolific: task run " + key(run) + " has no study (setup_resources was not called)");
        auto j = nlohmann::json::parse(*v);
        return {j.value("id", std::string()), j.value("state", std::string()), j.value("completion_code", std::string()),
                j.value("places", std::int64_t{0}), j.value("launched", std::int64_t{0}),
                j.value("reward_cents", std::int64_t{0})};
    }
    void put_study(task_run_id run, study_record const& s) {
        ledger_.put_value(scope_study, key(run),
                          nlohmann::json{{"id", s.id}, {"state", s.state}, {"completion_code", s.completion_code},
                                         {"places", s.places}, {"launched", s.launched},
                                         {"reward_cents", s.reward_cents}}.dump());
    }
    /// A bonus without a unit goes through the study of the worker's latest agent (Prolific pays bonuses
    /// within a study the participant took part in).
    std::string latest_study(worker_id w) {
        auto agents = campaign_.find_agents({.worker = w});
        for (auto it = agents.rbegin(); it != agents.rend(); ++it)
            if (ledger_.get_value(scope_study, key(it->task_run))) return study_of(it->task_run).id;
        throw invalid_argument("prolific bonus for worker " + key(w) + ": the worker took part in no study of this provider");
    }

    std::string group_id(std::string_view name) {
        if (auto v = ledger_.get_value(scope_group, name)) return *v;
        auto reply = api_.create_participant_group(options_.workspace_id, name);
        require(reply, "create participant group \"" + std::string(name) + "\"");
        auto id = parse(reply, "create participant group").value("id", std::string());
        if (id.empty()) throw error("prolific: the created participant group has no id: " + reply.body);
        ledger_.put_value(scope_group, name, id);
        return id;
    }

    static prolific_bonus read_bonus(std::string const& k, std::string const& v) {
        auto j = nlohmann::json::parse(v);
        return {k, j.value("state", std::string()), j.value("participant", std::string()), j.value("study", std::string()),
                j.value("cents", std::int64_t{0}), j.value("reason", std::string()), j.value("payment_id", std::string()),
                j.value("last_error", std::string())};
    }
    void put_bonus(prolific_bonus const& b) {
        ledger_.put_value(scope_bonus, b.key,
                          nlohmann::json{{"state", b.state}, {"participant", b.participant}, {"study", b.study},
                                         {"cents", b.cents}, {"reason", b.reason}, {"payment_id", b.payment_id},
                                         {"last_error", b.last_error}}.dump());
    }
    prolific_bonus load_bonus(std::string const& k) {
        auto v = ledger_.get_value(scope_bonus, k);
        if (!v) throw invalid_argument("prolific: no bonus with key " + k);
        return read_bonus(k, *v);
    }

    /// Moves one bonus on from where the ledger says it is. Each move from a state is claimed in a ledger
    /// transaction (compare and set), so two threads, or two providers, never both make the same call.
    prolific_bonus drive(std::string const& k) {
        auto b = load_bonus(k);
        if (b.state == "recorded") {
            auto reply = api_.create_bonus_payment(b.study, b.participant, b.cents);
            if (!reply.ok()) {  // nothing was made, or an orphan that is never paid: owed, tried again later
                b.last_error = reply.describe();
                claim(k, "recorded", [&](prolific_bonus& now) { now.last_error = b.last_error; });
                return load_bonus(k);
            }
            auto id = parse(reply, "set up bonus payment").value("id", std::string());
            if (id.empty()) throw error("prolific: the bulk bonus payment has no id: " + reply.body);
            step("bonus.created");  // Prolific made it; the ledger does not know: a crash here leaves it unpaid
            if (!claim(k, "recorded", [&](prolific_bonus& now) { now.state = "created"; now.payment_id = id; now.last_error.clear(); }))
                return load_bonus(k);
            step("bonus.stored");
            b = load_bonus(k);
        }
        if (b.state == "created") {
            if (!claim(k, "created", [](prolific_bonus& now) { now.state = "paying"; })) return load_bonus(k);
            step("bonus.paying");  // marked before the call: from here it is never sent again automatically
            auto reply = api_.pay_bonus_payment(b.payment_id);
            if (reply.ok()) {
                step("bonus.paid");
                claim(k, "paying", [](prolific_bonus& now) { now.state = "paid"; now.last_error.clear(); });
            } else if (reply.answered()) {  // refused: Prolific paid nothing, so it may be sent again
                claim(k, "paying", [&](prolific_bonus& now) { now.state = "created"; now.last_error = reply.describe(); });
            } else {
                claim(k, "paying", [&](prolific_bonus& now) { now.last_error = reply.describe(); });
            }
        }
        return load_bonus(k);
    }
    /// Applies `change` to bonus `k` if it is still in state `from`; false when another got there first.
    template <class Change>
    bool claim(std::string const& k, std::string_view from, Change change) {
        return ledger_.transaction([&] {
            auto b = load_bonus(k);
            if (b.state != from) return false;
            change(b);
            put_bonus(b);
            return true;
        });
    }

    /// The submission of the agent's participant in the agent's study, kept once found.
    std::string submission_of(agent_id a) {
        if (auto v = ledger_.get_value(scope_submission, key(a))) return *v;
        auto ag = campaign_.get_agent(a);
        auto pid = participant(ag.worker);
        auto s = study_of(ag.task_run);
        auto reply = api_.list_submissions(s.id);
        require(reply, "list the submissions of study " + s.id);
        for (auto const& sub : parse(reply, "list submissions").value("results", nlohmann::json::array()))
            if (sub.value("participant_id", std::string()) == pid) {
                auto id = sub.value("id", std::string());
                ledger_.put_value(scope_submission, key(a), id);
                return id;
            }
        throw error("prolific: participant " + pid + " has no submission in study " + s.id + " (agent " + key(a) + ")");
    }
    void judge(agent_id a, std::string_view to, std::string_view note = {}) {
        auto sub = submission_of(a);
        auto reply = to == "APPROVED" ? api_.approve_submission(sub) : api_.reject_submission(sub, note, "OTHER");
        if (reply.ok()) return;
        // Refused because it is there already (a retry, or a second unit of the same participant, whose
        // one submission carries both): nothing to do.
        if (reply.answered() && current_status_of(a, sub) == to) return;
        require(reply, std::string(to == "APPROVED" ? "approve" : "reject") + " submission " + sub + " (agent " + key(a) + ")");
    }

    std::string current_status_of(agent_id a, std::string const& sub) {
        auto s = study_of(campaign_.get_agent(a).task_run);
        auto reply = api_.list_submissions(s.id);
        if (!reply.ok()) return {};
        for (auto const& x : parse(reply, "list submissions").value("results", nlohmann::json::array()))
            if (x.value("id", std::string()) == sub) return x.value("status", std::string());
        return {};
    }

    std::vector<agent_id> working_agents(task_run_id run, std::string_view pid) {
        std::vector<agent_id> out;
        for (auto const& w : campaign_.find_workers({.name = std::string(pid)}))
            for (auto const& a : campaign_.find_agents({.worker = w.id, .task_run = run}))
                if (a.status == agent_status::none || a.status == agent_status::accepted ||
                    a.status == agent_status::waiting || a.status == agent_status::in_task ||
                    a.status == agent_status::onboarding)
                    out.push_back(a.id);
        return out;
    }
    void hand_back(std::vector<agent_id> const& agents) {
        if (!on_returned_) return;
        for (auto a : agents) on_returned_(a);
    }

    Campaign& campaign_;
    Ledger& ledger_;
    prolific_options options_;
    detail::prolific_api api_;
    std::function<void(agent_id)> on_returned_;
    mutable std::mutex mutex_;  ///< guards refusal_ only; never held across a call
    std::optional<std::string> refusal_;
};

}  // namespace crowdline::providers
