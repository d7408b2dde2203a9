#pragma once
/// `providers::mock`: a crowd provider that keeps everything in memory and lets tests see all of it
/// (Mephisto's MockProvider "exposes all of the underlying state"): who is blocked, which bonuses were
/// paid and why, which agents were approved or rejected, which units are live, which crowd
/// qualifications were granted, which runs have resources. Thread-safe (one mutex).
///
/// The bookkeeping is `providers::detail::ledger`, shared with `in_house`; the mock adds its identity
/// rule (a registration names its worker, suffixed as a sandbox name).

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/provider/detail/ledger.hpp>
#include <crowdline/provider/provider.hpp>

namespace crowdline::providers {

/// Settings of a `mock` provider.
struct mock_options {
    double budget = 100000;  ///< per registered requester, as Mephisto's mock requester
};

/// One bonus the mock paid.
using mock_bonus = recorded_bonus;
/// One judgement of an agent (approve / reject / soft reject) with its note.
using mock_decision = recorded_decision;

/// A crowd in memory. Bonuses are paid from the first requester registered (the account this provider
/// instance works for, like Mephisto's `requester_name` provider argument), or the one `pay_from` names.
class mock : public detail::ledger {
public:
    static constexpr std::string_view provider_type = "mock";
    /// Appended to every worker name (see `worker_name`).
    static constexpr std::string_view sandbox_suffix = "_sandbox";
    /// Longest worker name a registration may carry, in bytes.
    static constexpr std::size_t max_worker_name = 256;

    /// A budget that is negative or not finite → `invalid_argument`.
    explicit mock(mock_options options = {}) : ledger("mock", options.budget) {}

    // --- identity ----------------------------------------------------------------------------------
    /// `registration["worker_name"]` + "_sandbox". The mock is a sandbox provider, and like Mephisto's it
    /// suffixes names so a person's sandbox identity never merges with their live identity on a real
    /// provider (worker names are unique across providers in the store). A registration that is not an
    /// object, or whose `worker_name` is missing, not a string, empty or longer than `max_worker_name`
    /// bytes → `invalid_argument` saying which.
    [[nodiscard]] std::string worker_name(nlohmann::json const& registration) const {
        count_call();
        if (!registration.is_object()) throw invalid_argument("mock registration: expected a JSON object");
        auto it = registration.find("worker_name");
        if (it == registration.end()) throw invalid_argument("mock registration: missing \"worker_name\"");
        if (!it->is_string()) throw invalid_argument("mock registration: \"worker_name\" must be a string");
        auto const& name = it->get_ref<std::string const&>();
        if (auto problem = worker_name_problem(name, max_worker_name))
            throw invalid_argument("mock registration: \"worker_name\" " + *problem);
        return name + std::string(sandbox_suffix);
    }
};

static_assert(provider<mock>, "providers::mock must model crowdline::provider");

}  // namespace crowdline::providers
