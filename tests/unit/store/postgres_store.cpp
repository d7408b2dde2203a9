// stores::postgres beyond the shared suite: what several processes on one database rely on (ARCHITECTURE
// §9). Claims racing on two connections, the index that keeps a worker to one live unit of an assignment
// (through the store and through raw SQL), and migrations that run once. Compiled to nothing unless the
// build has crowdline::postgres (CROWDLINE_WITH_POSTGRES).
#ifdef CROWDLINE_WITH_POSTGRES

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include <crowdline/store/store.hpp>

#include "backends.hpp"
#include "fixtures.hpp"
#include "race.hpp"

using namespace crowdline;
using Catch::Matchers::Contains;

TEST_CASE("postgres: two connections racing new_agent for one unit, 200 times: exactly one wins each time",
          "[store][postgres]") {
    test::postgres_backend backend;
    auto setup = backend.open();
    auto c = test::make_chain(*setup);
    auto rival = setup->new_worker("rival", "mock");
    constexpr int rounds = 200;
    std::vector<unit_id> units;
    for (int i = 0; i < rounds; ++i) units.push_back(test::launched_unit(*setup, setup->new_assignment(c.run), 0));

    auto first = backend.reopen();
    auto second = backend.reopen();
    int first_won = 0;
    for (auto u : units) {
        auto r = test::race([&] { first->new_agent(c.worker, u); }, [&] { second->new_agent(rival, u); });
        INFO("unit " << u.value() << ": " << r.other);
        REQUIRE(r.wins == 1);
        REQUIRE(r.refusals == 1);
        REQUIRE(r.other_errors == 0);
        auto got = setup->get_unit(u);
        REQUIRE(got.status == unit_status::assigned);
        auto agents = setup->find_agents({.unit = u});
        REQUIRE(agents.size() == 1);  // the loser wrote nothing
        REQUIRE(got.agent == agents.front().id);
        REQUIRE(got.worker == agents.front().worker);
        if (got.worker == c.worker) ++first_won;
    }
    CHECK(setup->find_agents().size() == rounds);
    WARN("the first connection won " << first_won << " of " << rounds << " races");
}

TEST_CASE("postgres: one worker racing for two units of one assignment on two connections gets one",
          "[store][postgres]") {
    test::postgres_backend backend;
    auto setup = backend.open();
    auto c = test::make_chain(*setup);
    auto first = backend.reopen();
    auto second = backend.reopen();
    for (int round = 0; round < 50; ++round) {
        auto a = setup->new_assignment(c.run);
        auto u0 = test::launched_unit(*setup, a, 0);
        auto u1 = test::launched_unit(*setup, a, 1);
        auto r = test::race([&] { first->new_agent(c.worker, u0); }, [&] { second->new_agent(c.worker, u1); });
        INFO("round " << round << ": " << r.other);
        REQUIRE(r.wins == 1);
        REQUIRE(r.refusals == 1);
        REQUIRE(setup->find_units({.assignment = a, .worker = c.worker}).size() == 1);
        REQUIRE(setup->find_units({.assignment = a, .status = unit_status::launched}).size() == 1);
        REQUIRE(setup->find_agents({.assignment = a}).size() == 1);
    }
}

TEST_CASE("postgres: a worker's second live unit of one assignment is refused by the database", "[store][postgres]") {
    test::postgres_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto u0 = test::launched_unit(*db, c.assignment, 0);
    auto u1 = test::launched_unit(*db, c.assignment, 1);
    auto u2 = test::launched_unit(*db, c.assignment, 2);
    db->new_agent(c.worker, u0);

    SECTION("through the store: invalid_transition naming the unit, the worker and the assignment; nothing written") {
        auto before = test::snapshot(*db);
        CHECK_THROWS_AS(db->new_agent(c.worker, u1), invalid_transition);
        CHECK_THROWS_WITH(db->new_agent(c.worker, u1),
                          Contains("unit " + std::to_string(u1.value())) && Contains("already holds") &&
                              Contains("assignment " + std::to_string(c.assignment.value())));
        CHECK(test::snapshot(*db) == before);
        // Inside a transaction the refusal leaves the transaction usable, as on SQLite.
        db->transaction([&] {
            CHECK_THROWS_AS(db->new_agent(c.worker, u1), invalid_transition);
            db->new_project("after the refusal");
        });
        CHECK(db->find_projects({.name = "after the refusal"}).size() == 1);
        // Another worker may take it; the first may once theirs is back in the pool.
        auto other = db->new_worker("other", "mock");
        db->new_agent(other, u1);
        db->clear_unit_agent_assignment(u0);
        db->new_agent(c.worker, u2);
        CHECK(db->get_unit(u2).worker == c.worker);
    }

    SECTION("a completed unit still counts as the worker's") {
        db->update_unit(u0, unit_status::completed);
        CHECK_THROWS_AS(db->new_agent(c.worker, u1), invalid_transition);
    }

    SECTION("through raw SQL on a second connection, inside and outside a transaction") {
        pqxx::connection raw(test::pg_cluster::instance().url());
        auto const units = raw.quote_name(backend.schema) + ".units";
        {
            pqxx::work w(raw);
            CHECK_THROWS_AS(w.exec("UPDATE " + units + " SET status = 'assigned', worker_id = " +
                                   std::to_string(c.worker.value()) + " WHERE unit_id = " + std::to_string(u1.value())),
                            pqxx::unique_violation);
        }
        {
            pqxx::nontransaction n(raw);
            CHECK_THROWS_AS(n.exec("UPDATE " + units + " SET status = 'completed', worker_id = " +
                                   std::to_string(c.worker.value()) + " WHERE unit_id = " + std::to_string(u2.value())),
                            pqxx::unique_violation);
        }
        CHECK(db->get_unit(u1).status == unit_status::launched);
        CHECK_FALSE(db->get_unit(u1).worker);
        CHECK(db->find_units({.assignment = c.assignment, .worker = c.worker}).size() == 1);
        // A unit made by raw SQL meets the index too.
        pqxx::work w(raw);
        CHECK_THROWS_AS(w.exec("INSERT INTO " + units +
                               " (assignment_id, unit_index, pay_amount, provider_type, status, worker_id, task_type, "
                               "task_id, task_run_id, sandbox, requester_id) SELECT assignment_id, 9, 1.0, provider_type, "
                               "'assigned', " +
                               std::to_string(c.worker.value()) + ", task_type, task_id, task_run_id, sandbox, requester_id "
                               "FROM " + raw.quote_name(backend.schema) + ".assignments WHERE assignment_id = " +
                               std::to_string(c.assignment.value())),
                        pqxx::unique_violation);
    }
}

TEST_CASE("postgres: a failed statement whose error is caught inside a transaction commits nothing, loudly",
          "[store][postgres]") {
    test::postgres_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    auto const before = db->find_units({}).size();
    // Invalid UTF-8 is refused by PostgreSQL itself (SQLite would keep it): the transaction is then aborted on
    // the server, and a COMMIT would come back as a silent ROLLBACK.
    CHECK_THROWS_WITH(db->transaction([&] {
        db->new_unit(c.assignment, 100, 1.0);
        CHECK_THROWS_AS(db->new_worker("bad \xff name", "mock"), db_error);
    }),
                      Contains("nothing was committed"));
    CHECK(db->find_units({}).size() == before);
    // The store goes on: the next transaction commits.
    db->transaction([&] { db->new_unit(c.assignment, 101, 1.0); });
    CHECK(db->find_units({}).size() == before + 1);

    // Nested: the inner level that swallowed a failure is undone and says so; the outer level goes on.
    db->transaction([&] {
        db->new_unit(c.assignment, 102, 1.0);
        CHECK_THROWS_WITH(db->transaction([&] {
            db->new_unit(c.assignment, 103, 1.0);
            CHECK_THROWS_AS(db->new_worker("bad \xfe name", "mock"), db_error);
        }),
                          Contains("nothing was committed"));
    });
    auto const units = db->find_units({.assignment = c.assignment});
    auto const has = [&](int index) {
        return std::ranges::any_of(units, [&](unit const& u) { return u.unit_index == index; });
    };
    CHECK(has(102));
    CHECK_FALSE(has(103));
}

TEST_CASE("postgres: a text with a NUL byte is refused, not cut short", "[store][postgres]") {
    test::postgres_backend backend;
    auto db = backend.open();
    auto c = test::make_chain(*db);
    CHECK_THROWS_WITH(db->new_worker(std::string("nul\0byte", 8), "mock"), Contains("NUL byte"));
    CHECK(db->find_workers({.name = std::string("nul")}).empty());
    CHECK(db->find_workers({}).size() == 1);  // the chain's worker only
    (void)c;
}

TEST_CASE("postgres: opening a schema again migrates nothing", "[store][postgres]") {
    test::postgres_backend backend;
    auto const migrations = stores::postgres_migrations().size();
    pqxx::connection raw(test::pg_cluster::instance().url());
    auto versions = [&] {
        pqxx::work w(raw);
        auto r = w.exec("SELECT version, name, applied_at FROM " + raw.quote_name(backend.schema) +
                        ".schema_version ORDER BY version");
        std::vector<std::string> rows;
        for (auto const& row : r) rows.push_back(std::string(row[0].c_str()) + " " + row[1].c_str() + " " + row[2].c_str());
        return rows;
    };
    std::vector<std::string> first_versions;
    {
        auto db = backend.open();
        CHECK(db->schema_version() == migrations);
        db->new_project("kept");
        first_versions = versions();
        REQUIRE(first_versions.size() == migrations);
    }
    auto again = backend.reopen();
    auto third = backend.reopen();  // a second connection while the first is open, too
    CHECK(again->schema_version() == migrations);
    CHECK(third->schema_version() == migrations);
    CHECK(versions() == first_versions);  // same rows, same applied_at: nothing ran again
    CHECK(again->find_projects({.name = "kept"}).size() == 1);
}

TEST_CASE("postgres: a schema that is not crowdline's is refused and left as it was", "[store][postgres]") {
    test::postgres_backend backend;
    pqxx::connection raw(test::pg_cluster::instance().url());
    {
        pqxx::work w(raw);
        w.exec("CREATE SCHEMA " + raw.quote_name(backend.schema));
        w.exec("CREATE TABLE " + raw.quote_name(backend.schema) + ".theirs (x INTEGER)");
        w.commit();
    }
    CHECK_THROWS_AS(backend.open(), db_error);
    CHECK_THROWS_WITH(backend.open(), Contains("not a crowdline schema") && Contains(backend.schema));
    pqxx::work w(raw);
    auto tables = w.exec_params("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", backend.schema);
    REQUIRE(tables.size() == 1);
    CHECK(std::string(tables[0][0].c_str()) == "theirs");
}

TEST_CASE("postgres: create = false refuses a missing or empty schema and makes nothing; opens a real one",
          "[store][postgres]") {
    test::postgres_backend backend;
    auto options = backend.options();
    options.create = false;
    pqxx::connection raw(test::pg_cluster::instance().url());
    auto schema_exists = [&] {
        pqxx::work w(raw);
        return !w.exec_params("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", backend.schema).empty();
    };
    CHECK_THROWS_AS(stores::postgres(options), entry_does_not_exist);
    CHECK_THROWS_WITH(stores::postgres(options), Contains(backend.schema) && Contains("does not exist"));
    CHECK_FALSE(schema_exists());  // a mistyped name did not become an empty campaign
    {
        pqxx::work w(raw);
        w.exec("CREATE SCHEMA " + raw.quote_name(backend.schema));
        w.commit();
    }
    CHECK_THROWS_WITH(stores::postgres(options), Contains("holds no crowdline campaign"));
    backend.open()->new_project("made by serve");  // a store that may create migrates the empty schema
    stores::postgres existing(options);
    CHECK(existing.find_projects({.name = "made by serve"}).size() == 1);
}

TEST_CASE("postgres: the one-live-unit index and the claim use the same statuses", "[store][postgres]") {
    // The migration's text is fixed once shipped, so the list is written twice: PostgreSQL's own reading of
    // the index predicate must hold exactly the statuses of postgres_sql::live_statuses.
    test::postgres_backend backend;
    auto db = backend.open();
    pqxx::connection raw(test::pg_cluster::instance().url());
    pqxx::work w(raw);
    auto const def = std::string(w.exec_params1("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = "
                                                "'units_one_live_per_worker'",
                                                backend.schema)[0]
                                     .c_str());
    std::set<std::string> in_index, in_claim;
    for (auto const status : {unit_status::created, unit_status::launched, unit_status::assigned, unit_status::completed,
                              unit_status::accepted, unit_status::rejected, unit_status::soft_rejected, unit_status::expired}) {
        auto const quoted = "'" + std::string(to_string(status)) + "'";
        if (def.find(quoted + "::text") != std::string::npos) in_index.insert(quoted);
        if (std::string_view(stores::detail::postgres_sql::live_statuses).find(quoted) != std::string_view::npos)
            in_claim.insert(quoted);
    }
    CAPTURE(def);
    CHECK(in_index.size() == 5);
    CHECK(in_index == in_claim);
}

TEST_CASE("postgres: a bad connection string or schema is a clear error", "[store][postgres]") {
    CHECK_THROWS_AS(stores::postgres({.url = "host=127.0.0.1 port=1 connect_timeout=2", .schema = "x"}), db_error);
    CHECK_THROWS_WITH(stores::postgres({.url = "host=127.0.0.1 port=1 connect_timeout=2", .schema = "x"}),
                      Contains("cannot connect"));
    CHECK_THROWS_AS(stores::postgres({.url = test::pg_cluster::instance().url(), .schema = ""}), crowdline::invalid_argument);
    // 64 bytes would be cut to 63 by PostgreSQL: refused, not merged with its 63-byte twin.
    CHECK_THROWS_WITH(stores::postgres({.url = test::pg_cluster::instance().url(), .schema = std::string(64, 'x')}),
                      Contains("at most 63 bytes") && Contains("got 64"));
    stores::postgres longest({.url = test::pg_cluster::instance().url(), .schema = std::string(63, 'x')});
    CHECK(longest.options().schema.size() == 63);
}

static_assert(crowdline::assert_store<stores::postgres>());
static_assert(keyed_store<stores::postgres>, "postgres keeps keyed values too");

#endif  // CROWDLINE_WITH_POSTGRES
