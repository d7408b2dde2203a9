#pragma once
/// Forward declarations of crowdline's public types: name a `stores::sqlite&`, a `pipeline<...>*` or a
/// `unit_id` in a header of your own without paying for the definitions (or their dependencies).
///
/// The rule for default template arguments: a default may be given once, so it lives here. A header that
/// defines one of these templates includes this one and declares the template without the default:
/// `strong_id` (Rep = std::int64_t), `handler_of` (Gone = ignore_disconnect), `mixins::gold_units`
/// (Compare = match_answer_keys), `task_launcher` (ItemOf = construct_item<Dispatcher::item_type>) and
/// `pipeline` (ItemOf = the same, for a dispatcher with an `item_type`). Aliases (`unit_id`, `item_key`, …)
/// are repeated where they are defined; a repeated alias of the same type is allowed.
///
/// Only types: no function, concept or variable is declared here, and nothing that needs a standard
/// header beyond <cstdint> and <type_traits>.

#include <cstdint>
#include <type_traits>

namespace crowdline {

// --- errors.hpp
struct error;
struct db_error;
struct entry_already_exists;
struct entry_does_not_exist;
struct invalid_transition;
struct invalid_argument;
struct config_error;

// --- model/ids.hpp
template <class Tag, class Rep = std::int64_t>
class strong_id;
struct project_tag;
struct task_tag;
struct task_run_tag;
struct assignment_tag;
struct unit_tag;
struct worker_tag;
struct agent_tag;
struct onboarding_agent_tag;
struct requester_tag;
struct qualification_tag;
struct worker_review_tag;
using project_id = strong_id<project_tag>;
using task_id = strong_id<task_tag>;
using task_run_id = strong_id<task_run_tag>;
using assignment_id = strong_id<assignment_tag>;
using unit_id = strong_id<unit_tag>;
using worker_id = strong_id<worker_tag>;
using agent_id = strong_id<agent_tag>;
using onboarding_agent_id = strong_id<onboarding_agent_tag>;
using requester_id = strong_id<requester_tag>;
using qualification_id = strong_id<qualification_tag>;
using worker_review_id = strong_id<worker_review_tag>;

// --- model/records.hpp
struct project;
struct task;
struct requester;
struct task_run;
struct assignment;
struct unit;
struct worker;
struct agent;
struct onboarding_agent;
struct qualification;
struct granted_qualification;
struct worker_review;

// --- model/status.hpp, model/time.hpp
enum class unit_status : std::uint8_t;
enum class agent_status : std::uint8_t;
template <class Enum>
class status_set;
class clock_ref;

// --- store/filters.hpp, store/summary.hpp
struct project_filter;
struct task_filter;
struct requester_filter;
struct task_run_filter;
struct assignment_filter;
struct unit_filter;
struct worker_filter;
struct agent_filter;
struct onboarding_agent_filter;
struct qualification_filter;
struct granted_qualification_filter;
struct worker_review_filter;
struct run_summary;
class run_tally;

// --- config/task_run_args.hpp
struct task_run_args;

// --- architect/architect.hpp
struct packet;
struct bad_packet;
struct ignore_disconnect;
template <class Reply, class Gone = ignore_disconnect>
struct handler_of;

// --- blueprint/blueprint.hpp, blueprint/mixins.hpp
struct initialization_data;
struct field_error;
struct submission_check;
struct agent_state;
template <class B, class... Mixins>
class blueprint_with_mixins;

// --- ops/
struct key_progress;                  // dashboard.hpp
struct worker_progress;
struct unit_result;                   // data_browser.hpp
template <class Store>
class data_browser;
enum class comparator;                // qualifications.hpp
struct qualification_requirement;
template <class Item>                 // task_launcher.hpp
struct construct_item;
template <class Blueprint, class Dispatcher, class Store, class ItemOf = construct_item<typename Dispatcher::item_type>>
class task_launcher;
enum class refusal;                   // worker_pool.hpp
struct worker_pool_limits;
template <class Blueprint, class Provider, class Dispatcher, class Store, class Launcher>
class worker_pool;
namespace detail {
template <class D>
struct default_item_of;               // pipeline.hpp: construct_item<D::item_type>, or void
}  // namespace detail
template <class Blueprint, class Architect, class Provider, class Dispatcher, class Store,
          class ItemOf = typename detail::default_item_of<std::remove_cvref_t<Dispatcher>>::type>
class pipeline;
struct run_entry;                     // operator.hpp
template <class Architect, class Store, class... Runs>
class operator_;
struct review_run_options;            // review_routes.hpp (needs CROWDLINE_WITH_HTTP in the umbrella)
struct review_routes_options;

namespace review {                    // ops/review.hpp
struct payment_refused;
enum class verdict;
struct decision;
struct outcome;
}  // namespace review

namespace protocol {                  // ops/protocol.hpp
struct agent_fields;
struct register_request;
struct submit_request;
struct submit_onboarding_request;
struct init_request;
struct heartbeat_request;
struct release_request;
struct live_update_request;
}  // namespace protocol

namespace mixins {                    // blueprint/mixins.hpp
struct onboarding_tag;
struct screening_tag;
struct gold_units_tag;
struct qualification_grant;
template <class Validate>
struct onboarding;
template <class Validate>
struct screening;
struct gold_unit;
struct match_answer_keys;
struct accuracy_tally;
template <class Compare = match_answer_keys>
struct gold_units;
}  // namespace mixins

namespace config {                    // config/args.hpp
struct description;
}  // namespace config

namespace stores {
class memory;                         // store/memory.hpp
struct sqlite_options;                // store/sqlite.hpp (SQLiteCpp; CROWDLINE_WITH_SQLITE in the umbrella)
class sqlite;
struct postgres_options;              // store/postgres.hpp (libpqxx; opt-in, crowdline::postgres; not in the umbrella)
class postgres;
}  // namespace stores

namespace routing {
struct item_key_tag;                  // types.hpp
using item_key = strong_id<item_key_tag, std::uint64_t>;
struct grant;
struct candidate;
enum class unit_state : std::uint8_t;
struct unit_view;
struct unit_counts;
namespace kinds {                     // policies.hpp
struct router;
struct eligibility;
struct stealing;
struct options;
}  // namespace kinds
struct everyone;
template <class Pred>
struct eligible_when;
struct steal_eligible;
struct no_stealing;
template <class Pred>
struct steal_when;
template <class KeyOfItem, class KeysOfProfile>
struct steal_by_key;
struct options;
enum class pick : std::uint8_t;       // routers.hpp
class average_per_task;
struct full_overlap;
template <class Profile, class Eligible>
struct full_overlap_of;
template <class Item, class Profile, class Router, class Eligibility, class Stealing>
class dispatcher;                     // dispatcher.hpp
}  // namespace routing

namespace architects {
struct in_process_args;               // in_process.hpp
class in_process_channel;
class in_process;
struct http_args;                     // http_args.hpp
struct http_request;                  // http_route.hpp
struct http_response;
class http_channel;                   // http_channel.hpp
struct tcp_transport;                 // http.hpp (Boost.Beast; CROWDLINE_WITH_HTTP in the umbrella)
template <class Transport>
class basic_http;
using http = basic_http<tcp_transport>;
}  // namespace architects

namespace providers {
struct recorded_bonus;                // detail/ledger.hpp, shared by both providers
struct recorded_decision;
struct mock_options;                  // mock.hpp
class mock;
struct in_house_worker;               // in_house.hpp
struct in_house_options;
class in_house;
}  // namespace providers

namespace blueprints {
struct mock_args;                     // mock.hpp
class mock;
struct static_form_args;              // static_form.hpp
class static_form;
namespace fields {
struct display_text;
struct single_choice;
struct multiple_choice;
struct free_text;
}  // namespace fields
struct live_args;                     // live.hpp
struct live_call;
template <class F>
struct handler;
template <class... Fs>
class live;
}  // namespace blueprints

}  // namespace crowdline
