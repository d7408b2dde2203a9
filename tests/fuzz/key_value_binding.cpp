// Fuzz target: settings bound through crowdline/config/args.hpp into the real args structs, nested as
// `crowdline serve` nests them (`task.*`, `server.*`, `store.*`), then validated.
//
// Input: lines; a line starting with '{' is JSON loaded with `config::load` (as a settings file would be),
// any other line is a `key=value` override (`config::apply_override`). Then `config::validate`.
// Invariants (a broken one aborts):
//  - binding and validation refuse bad input only with `config_error` (never another exception, a crash
//    or a sanitizer report);
//  - settings that validate serialise as JSON text (a pipeline stores them as its run's init_params) and
//    survive a round trip: dump → load into defaults → the same dump, still valid;
//  - `config::help` of the bound settings never throws.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/hana/adapt_struct.hpp>
#include <nlohmann/json.hpp>

#include <crowdline/architect/http.hpp>
#include <crowdline/config/args.hpp>
#include <crowdline/config/task_run_args.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/store/sqlite.hpp>

#include "fuzz_common.hpp"

namespace fuzz {
/// The settings groups `crowdline serve` binds, under the same keys.
struct settings {
    crowdline::task_run_args task{};
    crowdline::architects::http_args server{};
    crowdline::stores::sqlite_options store{};
};
}  // namespace fuzz

BOOST_HANA_ADAPT_STRUCT(fuzz::settings, task, server, store);

namespace {

using crowdline::config_error;
namespace config = crowdline::config;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    fuzz::settings s;
    for (auto const line : fuzz::lines(data, size)) {
        try {
            if (line.starts_with('{')) {
                auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
                if (j.is_discarded()) continue;  // not JSON: the caller's parser refuses it before binding
                config::load(s, j);
            } else {
                config::apply_override(s, line);
            }
        } catch (config_error const&) {
        } catch (...) {
            fuzz::unexpected_exception("binding \"" + std::string(line.substr(0, 200)) + "\"");
        }
    }
    try {
        (void)config::help(s);
    } catch (...) {
        fuzz::unexpected_exception("config::help");
    }
    try {
        config::validate(s);
    } catch (config_error const&) {
        return 0;
    } catch (...) {
        fuzz::unexpected_exception("config::validate");
    }
    nlohmann::json dumped;
    fuzz::settings again;
    try {
        dumped = config::dump(s);
        (void)dumped.dump();
        config::load(again, dumped);
        config::validate(again);
    } catch (...) {
        fuzz::unexpected_exception("serialising and reloading valid settings");
    }
    fuzz::check(config::dump(again) == dumped, "valid settings changed in a round trip: " + dumped.dump() + " became " +
                                                    config::dump(again).dump());  // both serialise: checked above
    return 0;
}
