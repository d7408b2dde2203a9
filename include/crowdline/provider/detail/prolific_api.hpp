#pragma once
/// `providers::detail::prolific_api`: the calls `providers::prolific` makes, each shaped as Prolific's API
/// reference documents it (path, method, body fields), over `https_client`. Each answers the raw reply;
/// the provider decides what a refusal means. Only this file knows Prolific's paths and field names.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/provider/detail/https_client.hpp>

namespace crowdline::providers::detail {

/// What a draft study is made of (POST /api/v1/studies/).
struct prolific_study_draft {
    std::string name;
    std::string internal_name;
    std::string description;
    std::string external_study_url;  ///< with the {{%PROLIFIC_PID%}}, {{%STUDY_ID%}}, {{%SESSION_ID%}} parameters
    std::string completion_code;
    std::int64_t reward_cents = 0;
    std::int64_t places = 1;
    std::int64_t estimated_minutes = 1;
    std::int64_t maximum_minutes = 1;
    std::string project{};  ///< empty: the account's default project
};

class prolific_api {
public:
    using verb = boost::beast::http::verb;

    explicit prolific_api(https_client_options options) : client_(std::move(options)) {}

    [[nodiscard]] std::string const& base_url() const noexcept { return client_.base_url(); }

    /// A draft: nothing is shown to participants until it is published.
    https_reply create_study(prolific_study_draft const& d) {
        nlohmann::json body{
            {"name", d.name},
            {"internal_name", d.internal_name},
            {"description", d.description},
            {"external_study_url", d.external_study_url},
            {"prolific_id_option", "url_parameters"},
            {"completion_codes",
             nlohmann::json::array({{{"code", d.completion_code},
                                     {"code_type", "COMPLETED"},
                                     {"actions", nlohmann::json::array({{{"action", "MANUALLY_REVIEW"}}})}}})},
            {"total_available_places", d.places},
            {"estimated_completion_time", d.estimated_minutes},
            {"maximum_allowed_time", d.maximum_minutes},
            {"reward", d.reward_cents},
            {"device_compatibility", nlohmann::json::array({"desktop", "tablet", "mobile"})},
        };
        if (!d.project.empty()) body["project"] = d.project;
        return client_.request(verb::post, "/api/v1/studies/", body);
    }
    /// "PUBLISH", "PAUSE", "START" or "STOP".
    https_reply transition_study(std::string_view study, std::string_view action) {
        return client_.request(verb::post, "/api/v1/studies/" + std::string(study) + "/transition/",
                               nlohmann::json{{"action", action}});
    }
    /// Prolific lets a published study's places grow only.
    https_reply set_places(std::string_view study, std::int64_t places) {
        return client_.request(verb::patch, "/api/v1/studies/" + std::string(study) + "/",
                               nlohmann::json{{"total_available_places", places}});
    }
    https_reply list_submissions(std::string_view study) {
        return client_.request(verb::get, "/api/v1/studies/" + std::string(study) + "/submissions/");
    }
    https_reply approve_submission(std::string_view submission) {
        return client_.request(verb::post, "/api/v1/submissions/" + std::string(submission) + "/transition/",
                               nlohmann::json{{"action", "APPROVE"}});
    }
    /// Prolific requires a message (at least 100 characters, shown to the participant) and a category.
    https_reply reject_submission(std::string_view submission, std::string_view message, std::string_view category) {
        return client_.request(verb::post, "/api/v1/submissions/" + std::string(submission) + "/transition/",
                               nlohmann::json{{"action", "REJECT"}, {"message", message}, {"rejection_category", category}});
    }
    /// In cents, as Prolific reports money (`available_balance` is what is not yet committed to studies).
    https_reply workspace_balance(std::string_view workspace) {
        return client_.request(verb::get, "/api/v1/workspaces/" + std::string(workspace) + "/balance/");
    }
    /// Sets up (does not pay) a bulk bonus payment: one "<participant id>,<amount>" line per bonus, the
    /// amount in the study's currency as a decimal ("1.50").
    https_reply create_bonus_payment(std::string_view study, std::string_view participant, std::int64_t cents) {
        return client_.request(verb::post, "/api/v1/submissions/bonus-payments/",
                               nlohmann::json{{"study_id", study}, {"csv_bonuses", std::string(participant) + "," + decimal(cents)}});
    }
    /// Pays a bulk bonus payment. Not idempotent: every call pays again.
    https_reply pay_bonus_payment(std::string_view payment) {
        return client_.request(verb::post, "/api/v1/bulk-bonus-payments/" + std::string(payment) + "/pay/");
    }
    https_reply create_participant_group(std::string_view workspace, std::string_view name) {
        return client_.request(verb::post, "/api/v1/participant-groups/",
                               nlohmann::json{{"workspace_id", workspace}, {"name", name}});
    }
    https_reply add_to_group(std::string_view group, std::string_view participant) {
        return client_.request(verb::post, "/api/v1/participant-groups/" + std::string(group) + "/participants/",
                               nlohmann::json{{"participant_ids", nlohmann::json::array({participant})}});
    }
    https_reply remove_from_group(std::string_view group, std::string_view participant) {
        return client_.request(verb::delete_, "/api/v1/participant-groups/" + std::string(group) + "/participants/",
                               nlohmann::json{{"participant_ids", nlohmann::json::array({participant})}});
    }

    /// 150 → "1.50".
    [[nodiscard]] static std::string decimal(std::int64_t cents) {
        std::string frac = std::to_string(cents % 100);
        return std::to_string(cents / 100) + "." + (frac.size() < 2 ? "0" : "") + frac;
    }

private:
    https_client client_;
};

}  // namespace crowdline::providers::detail
