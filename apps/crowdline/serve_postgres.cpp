// `crowdline serve` from a PostgreSQL schema (`--db postgresql://… --schema NAME`; built with
// crowdline::postgres): serve.hpp's template for postgres_home. One server per schema for now — an advisory
// lock held on a connection of its own, which PostgreSQL lets go when the process ends however it ends — and
// the invite links kept in the schema with the campaign (a keyed value), not in a file.
#include "serve.hpp"

#include <memory>

#include <unistd.h>

#include <pqxx/pqxx>

namespace crowdline_serve {

namespace {

/// A campaign in a PostgreSQL schema. `serve` reads its links before its server binds (on a connection
/// of its own, making nothing), then calls lock() and open().
class postgres_home {
public:
    using store_type = stores::postgres;
    explicit postgres_home(program_args const& cfg) : cfg_(cfg) {}

    std::string links_name() const { return db_name(cfg_) + ", the links kept in it"; }
    /// The links saved last time; none while the schema holds no campaign yet.
    json load_links() const {
        try {
            store_type peek{options(false)};
            auto const text = peek.get_value(links_scope, links_key);
            return text ? check_secrets(parse_json_text(*text, links_name()), links_name()) : json::object();
        } catch (entry_does_not_exist const&) {
            return json::object();
        }
    }
    /// One server per schema: a session advisory lock on (hashtext('crowdline serve'), hashtext(schema)).
    /// Its connection is named after the process holding it, so a refused start can say who holds it.
    void lock() {
        try {
            lock_ = std::make_unique<pqxx::connection>(cfg_.db);
            char host[256] = {};
            ::gethostname(host, sizeof host - 1);
            auto const holder = "crowdline serve, PID " + std::to_string(::getpid()) + " on " + host;
            lock_->set_variable("application_name", lock_->quote(holder));
            pqxx::nontransaction q(*lock_);
            if (q.exec_params1("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))", std::string(lock_name), cfg_.schema)[0]
                    .as<bool>())
                return;
            auto const held_by = q.exec_params(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
                "'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = hashtext($1)::oid AND l.objid = hashtext($2)::oid",
                std::string(lock_name), cfg_.schema);
            std::string const who = held_by.empty() ? std::string("unknown") : held_by[0][0].c_str();
            throw config_error(db_name(cfg_) + ": another crowdline serve (" + who +
                               ") is serving this schema; stop it first, or use another --schema");
        } catch (pqxx::failure const& e) {
            std::string why = e.what();
            while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
            throw db_error(db_name(cfg_) + ": cannot connect: " + why);
        }
    }
    store_type& open() { return store_.emplace(options(true)); }
    std::function<void(json const&)> links_saver() {
        return [this](json const& links) { store_->put_value(links_scope, links_key, links.dump()); };
    }

private:
    stores::postgres_options options(bool create) const { return {.url = cfg_.db, .schema = cfg_.schema, .create = create}; }

    static constexpr std::string_view lock_name = "crowdline serve";
    static constexpr std::string_view links_scope = "crowdline serve";
    static constexpr std::string_view links_key = "links";
    program_args const& cfg_;
    std::unique_ptr<pqxx::connection> lock_;
    std::optional<store_type> store_;  ///< after lock_: closed before the lock is let go
};

}  // namespace

int serve_from_postgres(program_args const& cfg, campaign_spec spec, bool flat_links, std::string const& what) {
    postgres_home home{cfg};
    return serve(home, cfg, std::move(spec), flat_links, what);
}

}  // namespace crowdline_serve
