#pragma once
// `crowdline serve` with Prolific runs (docs/prolific.md, "Serving with crowdline serve"): the settings
// (`--sandbox`, `--sandbox-ca`, `prolific.sync_every_seconds`), the check made before anything is written,
// and — when the program is built with `crowdline::prolific` — the provider as serve uses it, its ledger
// file (`<db>.prolific`), the hook routes and the periodic status poll. Kept apart from main.cpp so the
// program's other commands stay as they are.

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <crowdline/crowdline.hpp>
#ifdef CROWDLINE_WITH_PROLIFIC
#include <crowdline/provider/prolific.hpp>
#endif

#include "campaign.hpp"
#include "campaign_file.hpp"

namespace crowdline_serve {

/// The command line's Prolific settings (`prolific.<key>`; `--sandbox` and `--sandbox-ca` are aliases).
struct prolific_serve_args {
    std::string sandbox{};     ///< Prolific's base URL instead of https://api.prolific.com (a sandbox, a test's fake)
    std::string sandbox_ca{};  ///< a PEM certificate file to trust for it (a test's self-signed fake)
    std::size_t sync_every_seconds = 60;  ///< how often each run's submissions are polled (a lost hook is caught)

    static constexpr std::array<crowdline::config::description, 3> descriptions{{
        {"sandbox", "serve: Prolific's API base URL (empty: https://api.prolific.com); for a sandbox or a test's fake"},
        {"sandbox_ca", "serve: a PEM certificate file trusted for --sandbox besides the system's (tests)"},
        {"sync_every_seconds", "serve: how often a Prolific run asks for its submissions' statuses (catches a lost hook)"},
    }};
    void validate() const {
        if (sync_every_seconds == 0) throw crowdline::config_error("sync_every_seconds: must be > 0");
        if (!sandbox_ca.empty() && sandbox.empty())
            throw crowdline::config_error("sandbox_ca: only with --sandbox (the real API is trusted through the "
                                          "system's certificates)");
    }
};

/// The variable's value; empty when unset.
inline std::string environment(std::string const& variable) {
    char const* value = variable.empty() ? nullptr : std::getenv(variable.c_str());
    return value == nullptr ? std::string() : std::string(value);
}

/// A Prolific run's secrets come from the environment: a variable the campaign names that is unset is
/// refused by name before anything is written. A program built without `crowdline::prolific` says so.
inline void check_prolific_runs(campaign_spec const& spec, std::string const& file) {
    for (std::size_t i = 0; i < spec.runs.size(); ++i) {
        auto const& p = spec.runs[i].prolific;
        if (!p) continue;
        auto const at = file + ": /runs/" + std::to_string(i) + "/provider/prolific";
        for (auto const& [key, variable, what] : {std::tuple{"token_env", p->token_env, "your Prolific API token"},
                                                  std::tuple{"webhook_secret_env", p->webhook_secret_env, "the hooks' secret"}}) {
            if (variable.empty()) continue;
            if (environment(variable).empty())
                throw crowdline::config_error(at + "/" + key + ": the environment variable " + variable +
                                              " is not set (set it to " + what + ")");
        }
#ifndef CROWDLINE_WITH_PROLIFIC
        throw crowdline::config_error(at + ": this crowdline was built without Prolific (configure with "
                                           "-DCROWDLINE_WITH_PROLIFIC=ON, which needs OpenSSL)");
#endif
    }
}

/// `crowdline review approve|reject|soft_reject` decides offline, paying nobody; a Prolific run's decisions
/// approve, reject and pay through Prolific, so they are made on the review page of `crowdline serve`.
inline void refuse_offline_prolific_review(crowdline::task_run const& run) {
    if (run.provider_type == "prolific")
        throw crowdline::config_error("review: task run " + std::to_string(run.id.value()) +
                                      " is a Prolific run: decide on the review page of `crowdline serve`, which "
                                      "approves, rejects and pays through Prolific");
}

/// A Prolific run's provider, as `serve` keeps track of it (defined only with `crowdline::prolific`).
class served_prolific;

#ifdef CROWDLINE_WITH_PROLIFIC

using prolific_provider = crowdline::providers::prolific<crowdline::stores::sqlite, crowdline::stores::sqlite>;

/// The provider as serve uses it. The study's URL names the run (`?run=<name>`: one server serves several
/// runs), and the study is stopped only when the run is over (complete, or out of patience): Ctrl-C
/// leaves it published, so the next `crowdline serve` resumes the same study, places and participants.
class served_prolific : public prolific_provider {
public:
    served_prolific(crowdline::stores::sqlite& campaign, crowdline::stores::sqlite& ledger,
                    crowdline::providers::prolific_options options, std::string run_name)
        : prolific_provider(campaign, ledger, std::move(options)), campaign_(campaign), run_name_(std::move(run_name)) {}

    void setup_resources(crowdline::task_run_id run, std::string_view url) {
        std::string page(url);
        while (!page.empty() && page.back() == '/') page.pop_back();
        prolific_provider::setup_resources(run, page + "/?run=" + query_escape(run_name_));
    }
    void cleanup_resources(crowdline::task_run_id run) {
        if (campaign_.get_task_run(run).is_completed) prolific_provider::cleanup_resources(run);
    }
    [[nodiscard]] std::string const& run_name() const noexcept { return run_name_; }

private:
    crowdline::stores::sqlite& campaign_;
    std::string run_name_;
};

/// Whether the hook routes may still reach the providers (see `prolific_runs::hooks_open`).
struct prolific_hook_gate {
    std::shared_mutex mutex;
    bool open = true;
};

/// Every Prolific run of one `serve`: their providers, over one ledger beside the database
/// (`<db>.prolific`: study ids, places, bonuses, hook events — what a restart needs so it neither makes a
/// second study nor pays twice), their hook routes and their status poll.
class prolific_runs {
public:
    prolific_runs(std::string const& db_path, crowdline::stores::sqlite& db, prolific_serve_args settings)
        : ledger_path_(db_path + ".prolific"), db_(db), settings_(std::move(settings)) {
        if (!settings_.sandbox_ca.empty()) {
            std::ifstream in(settings_.sandbox_ca, std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            if (!in || text.str().empty())
                throw crowdline::config_error("--sandbox-ca " + settings_.sandbox_ca + ": cannot read the certificate");
            ca_pem_ = text.str();
        }
    }

    /// The provider of run `r` (the ledger is opened with the first one). Its token and hook secret come
    /// from the variables the campaign names (checked by `check_prolific_runs`).
    served_prolific& add(campaign_run const& r) {
        if (!ledger_) ledger_.emplace(ledger_path_);
        auto const& p = *r.prolific;
        crowdline::providers::prolific_options o;
        o.token = environment(p.token_env);
        if (!settings_.sandbox.empty()) o.base_url = settings_.sandbox;
        o.workspace_id = p.workspace_id;
        if (p.reward_cents) o.reward_cents = *p.reward_cents;
        if (p.places) o.places = *p.places;
        o.extra_ca_pem = ca_pem_;
        o.webhook_secret = environment(p.webhook_secret_env);
        try {
            return providers_.emplace_back(db_, *ledger_, std::move(o), r.name);
        } catch (crowdline::invalid_argument const& e) {  // a bad --sandbox URL, …: never the token itself
            throw crowdline::config_error("run \"" + r.name + "\": " + e.what());
        }
    }
    [[nodiscard]] bool empty() const noexcept { return providers_.empty(); }

    /// The path of run `name`'s hook route (`POST`), to subscribe on Prolific.
    [[nodiscard]] static std::string hook_path(std::string const& name) {
        return "/prolific/hook/" + query_escape(name);
    }

    /// Open while it lives: the hook routes answer 503 once it is gone. The server outlives the runs and
    /// their providers (it is made first), so a hook arriving while serve unwinds must not reach them.
    class hooks_open {
    public:
        explicit hooks_open(std::shared_ptr<prolific_hook_gate> gate) : gate_(std::move(gate)) {}
        hooks_open(hooks_open const&) = delete;
        hooks_open& operator=(hooks_open const&) = delete;
        ~hooks_open() {
            std::unique_lock l{gate_->mutex};  // waits for a hook being handled
            gate_->open = false;
        }

    private:
        std::shared_ptr<prolific_hook_gate> gate_;
    };

    /// Once every run is launched: a returned or timed-out participant's unit goes back to the pool of
    /// whichever run holds it, each run's hooks are received, and bonuses a crash left owed are paid.
    /// Keep the result after the runs (declared last): hooks are received while it lives.
    template <class Operator>
    [[nodiscard]] hooks_open wire(Operator& op, crowdline::architects::http& server) {
        auto gate = std::make_shared<prolific_hook_gate>();
        for (auto& p : providers_) {
            p.on_returned([&op](crowdline::agent_id a) { op.disconnect(a); });
            server.route("POST", hook_path(p.run_name()),
                         [gate, handle = p.hook_route()](crowdline::architects::http_request const& req) {
                             std::shared_lock l{gate->mutex};
                             if (!gate->open)
                                 return crowdline::architects::http_response::error(503, "unavailable",
                                                                                    "prolific hooks: the server is stopping");
                             return handle(req);
                         });
        }
        resume_payments();
        return hooks_open{gate};
    }

private:
    /// Bonuses a crash left owed are paid; one whose pay call got no answer is named, never sent again.
    void resume_payments() {
        if (providers_.empty()) return;
        try {  // one ledger: any provider resumes every owed bonus
            auto report = providers_.front().resume_payments();
            for (auto const& k : report.uncertain)
                std::cerr << "crowdline: Prolific bonus " << k << " may have been paid (its pay call got no answer); "
                          << "check it on Prolific: crowdline will not send it again\n";
            for (auto const& k : report.failed)
                std::cerr << "crowdline: Prolific bonus " << k << " is still owed; the next start tries again\n";
        } catch (std::exception const& e) {
            std::cerr << "crowdline: Prolific: owed bonuses not resumed: " << e.what() << "\n";
        }
    }

public:

    /// What `serve` prints for run `name`'s participants: the study, the page, and the hook to subscribe.
    void describe(served_prolific& p, std::optional<crowdline::task_run_id> run, std::string const& url,
                  std::ostream& out) const {
        auto study = run ? p.study_id(*run) : std::nullopt;
        out << "  Prolific study " << (study ? *study : std::string("(not made)")) << ": participants open " << url
            << "/?run=" << query_escape(p.run_name()) << "&PROLIFIC_PID=…\n"
            << "  Prolific hooks (submission.status.change): POST " << url << hook_path(p.run_name()) << "\n";
    }

    /// From the operator's periodic tick: each active run's submissions are polled every
    /// `sync_every_seconds`, so a participant who returned while a hook was lost gets their unit back.
    template <class Pipelines>
    void tick(Pipelines& pipelines) {
        auto const now = std::chrono::steady_clock::now();
        if (last_sync_ && now - *last_sync_ < std::chrono::seconds(settings_.sync_every_seconds)) return;
        last_sync_ = now;
        for (auto& run : pipelines) {
            auto id = run.run();
            if (!id || !run.is_active()) continue;
            try {
                auto back = run.provider_ref().sync_status(*id);
                if (!back.empty())
                    std::cerr << "[prolific] " << run.task_name() << ": " << back.size()
                              << " returned or timed-out participant(s); their units are back in the pool\n";
            } catch (std::exception const& e) {  // Prolific unreachable: the next poll tries again
                std::cerr << "[prolific] " << run.task_name() << ": status poll failed: " << e.what() << "\n";
            }
        }
    }

private:
    std::string ledger_path_;
    crowdline::stores::sqlite& db_;
    prolific_serve_args settings_;
    std::string ca_pem_;
    std::optional<crowdline::stores::sqlite> ledger_;
    std::deque<served_prolific> providers_;
    std::optional<std::chrono::steady_clock::time_point> last_sync_;
};

#endif  // CROWDLINE_WITH_PROLIFIC

}  // namespace crowdline_serve

BOOST_HANA_ADAPT_STRUCT(crowdline_serve::prolific_serve_args, sandbox, sandbox_ca, sync_every_seconds);
