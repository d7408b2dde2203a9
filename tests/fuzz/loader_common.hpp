#pragma once
// What the three loader targets share: `crowdline serve`'s loaders (apps/crowdline/campaign.hpp), and
// the rule they are held to: bad input is refused only with a `crowdline::error` (config_error) whose
// message names the file; anything else (another exception, a crash, a sanitizer report) is a finding.

#include <string>
#include <string_view>

#include <crowdline/errors.hpp>

#include "../../apps/crowdline/campaign.hpp"
#include "fuzz_common.hpp"

namespace fuzz {

/// Runs `load`; returns whether it accepted the input. A refusal must be a `crowdline::error` whose
/// message starts with `file` (so the user knows which file to fix).
template <class Load>
bool accepted(std::string const& file, Load&& load) {
    try {
        load();
        return true;
    } catch (crowdline::error const& e) {
        std::string_view what = e.what();
        check(what.starts_with(file), "a refusal that does not name " + file + ": " + std::string(what));
        return false;
    } catch (...) {
        unexpected_exception("loading " + file);
    }
}

}  // namespace fuzz
