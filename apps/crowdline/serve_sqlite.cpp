// `crowdline serve` from an SQLite file: serve.hpp's template for sqlite_home (files.hpp), compiled in a TU
// of its own so it builds beside the PostgreSQL one and the rest of the program.
#include "serve.hpp"

namespace crowdline_serve {

int serve_from_sqlite(program_args const& cfg, campaign_spec spec, bool flat_links, std::string const& what) {
    sqlite_home home{cfg};
    return serve(home, cfg, std::move(spec), flat_links, what);
}

}  // namespace crowdline_serve
