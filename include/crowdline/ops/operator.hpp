#pragma once
/// `crowdline::operator_`: Mephisto's Operator. It is the architect's handler and runs one or more task
/// runs at once over one architect and one store. The run types are a compile-time set, deduced from the
/// runs it starts with (`make_operator(architect, store, run_a, run_b)`) or named for runs launched later
/// (`make_operator<run_a_type, run_b_type>(architect, store)`, then `op.launch(run)`): runs of different blueprint / dispatcher types live
/// side by side, several runs of one type too, and a packet reaches its run through a switch over that
/// set — no virtual call, no `std::function` between the operator and a run.
///
/// Each packet names its run in `data.run` (the task name, or the task run id); with a single run it may
/// say nothing. A run's pages, invite links and units are its own: a packet is only ever handled by the
/// run it names, which knows nothing of another run's agents, so a worker of run A can never see, claim
/// or submit a unit of run B. Every run has its own lock (the pipeline's): two runs' packets are handled
/// at the same time. The store must be safe to call from several threads (`stores::memory`,
/// `stores::sqlite` are).
///
/// Packets that arrive together (an architect's group: `handle_group`) are one store transaction, under
/// the lock of each run they name: one commit per group, whatever runs it names.
///
/// The architect holds the operator as a `packet_handler` of known type (`channel.on_message(op)`): a
/// packet reaches a run through one function pointer made for `operator_` and the switch over the set.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/time.hpp>
#include <crowdline/ops/pipeline.hpp>
#include <crowdline/store/store.hpp>

namespace crowdline {

/// A task run as the operator lists it.
struct run_entry {
    task_run_id id;
    std::string name;  ///< its task's name: what packets name
    bool active = false;
    bool complete = false;
};

/// What a run type must offer the operator (a `crowdline::pipeline` does).
template <class R>
concept operator_run = requires(R& r, R const& cr, std::string url, packet const& p, agent_id a, time_point now) {
    { r.start(url) } -> std::same_as<task_run_id>;
    { r.handle(p) } -> std::same_as<packet>;
    r.disconnect(a);
    r.tick(now);
    r.shutdown();
    { cr.task_name() } -> std::convertible_to<std::string const&>;
    { cr.is_active() } -> std::same_as<bool>;
    { cr.is_complete() } -> std::same_as<bool>;
    // A group over several runs is one store transaction (see `operator_::handle_group`).
    { r.lock_for_group() } -> std::same_as<run_lock>;
    { r.handle_in_group(std::declval<run_lock const&>(), p) } -> std::same_as<packet>;
    r.group_not_saved(std::declval<run_lock const&>(), std::string_view{});
};

template <class Architect, class Store, class... Runs>
class operator_ {
    static_assert(sizeof...(Runs) > 0, "crowdline::make_operator: give it the runs it starts with, "
                                       "make_operator(architect, store, run_a, run_b), or name their types, "
                                       "make_operator<decltype(run_a), decltype(run_b)>(architect, store)");
    static_assert((operator_run<Runs> && ...), "crowdline::operator_: every run type must be a crowdline::pipeline "
                                               "(start, handle, disconnect, tick, shutdown, task_name, lock_for_group, handle_in_group, group_not_saved)");
    static_assert(assert_architect<Architect>());
    static_assert(assert_store<Store>());

public:
    operator_(Architect& architect, Store& store) : architect_(architect), store_(store) {}
    /// The same, launching `runs` in order (what `make_operator(architect, store, runs...)` builds).
    template <class... Launch>
        requires(sizeof...(Launch) > 0)
    operator_(Architect& architect, Store& store, Launch&... runs) : operator_(architect, store) {
        (launch(runs), ...);  // a refusal throws out of a constructed operator: its destructor detaches
    }
    operator_(operator_ const&) = delete;
    operator_& operator=(operator_ const&) = delete;
    ~operator_() { detach(); }

    /// Adds a run and starts it (creating or resuming its task run in the store). The first launch brings
    /// the architect up and takes its handlers. A second run of the same task name is refused
    /// (`config_error`): packets name runs by task name.
    template <class Run>
    task_run_id launch(Run& run) {
        constexpr std::size_t type = index_of<Run>();
        static_assert(type < sizeof...(Runs), "crowdline::operator_::launch: the run's type is not one of the "
                                              "operator's run types (list it in make_operator<...>)");
        if constexpr (requires { run.store_ref(); })
            if (static_cast<void const*>(&run.store_ref()) != static_cast<void const*>(&store_))
                throw config_error("operator: run \"" + run.task_name() + "\" keeps its data in another store");
        std::unique_lock l{table_mutex_};
        for (auto const& e : entries_)
            if (e.name == run.task_name())
                throw config_error("operator: two runs of task \"" + run.task_name() + "\" (task names name runs)");
        if (!url_) {
            architect_.prepare();
            url_ = architect_.deploy();
            attach();
        }
        auto const id = run.start(*url_);
        auto& slots = std::get<type>(runs_);
        slots.push_back(&run);
        entries_.push_back(entry{id, run.task_name(), type, slots.size() - 1});
        return id;
    }

    /// One packet from a page: to the run it names (`data.run`), whose reply it is.
    packet handle(packet const& p) {
        std::shared_lock l{table_mutex_};
        auto const found = route(p);
        if (auto const* err = std::get_if<packet>(&found)) return *err;
        auto const& e = entries_[std::get<std::size_t>(found)];
        packet reply;
        visit(e, [&](auto& run) { reply = run.handle(p); });
        return reply;
    }

    /// Packets that arrived together (an architect's group): `replies[i]` answers `requests[i]`, and the
    /// whole group is one store transaction, so it costs one commit however many runs it names. Each run
    /// it names is held by its own lock for that time (taken in launch order, then the store's, so two
    /// groups never wait for each other in a circle); a group of other runs goes on meanwhile. If the
    /// commit fails, every run the group named answers its share with errors (nothing of it was kept) and
    /// stops (`failure()`).
    void handle_group(std::span<packet const> requests, std::span<packet> replies) {
        if (replies.size() < requests.size())
            throw invalid_argument("crowdline::operator_::handle_group: fewer replies than requests");
        std::shared_lock l{table_mutex_};
        constexpr auto none = static_cast<std::size_t>(-1);
        std::vector<std::size_t> entry_of(requests.size(), none);
        std::vector<run_lock> held(entries_.size());
        std::vector<bool> named(entries_.size(), false);
        for (std::size_t i = 0; i < requests.size(); ++i) {
            auto found = route(requests[i]);
            if (auto* err = std::get_if<packet>(&found)) replies[i] = std::move(*err);
            else named[entry_of[i] = std::get<std::size_t>(found)] = true;
        }
        for (std::size_t e = 0; e < entries_.size(); ++e)  // launch order
            if (named[e]) visit(entries_[e], [&](auto& run) { held[e] = run.lock_for_group(); });
        try {
            store_.transaction([&] {
                for (std::size_t i = 0; i < requests.size(); ++i)
                    if (auto const e = entry_of[i]; e != none)
                        visit(entries_[e], [&](auto& run) { replies[i] = run.handle_in_group(held[e], requests[i]); });
            });
        } catch (std::exception const& ex) {
            for (std::size_t e = 0; e < entries_.size(); ++e)
                if (held[e].owns_lock()) visit(entries_[e], [&](auto& run) { run.group_not_saved(held[e], ex.what()); });
            for (std::size_t i = 0; i < requests.size(); ++i)
                if (auto const e = entry_of[i]; e != none)
                    replies[i] = packet::error(std::string(packet_errors::unavailable),
                                               "run \"" + entries_[e].name + "\" could not save this request (its store "
                                               "refused the commit); nothing of it was kept");
        }
    }

    /// A page went away: the run that holds its agent returns the unit (the others hold none of it).
    void disconnect(agent_id a) {
        for_each_run([&](auto& run) { run.disconnect(a); });
    }

    /// Periodic work of every run at one time.
    void tick(time_point now) {
        for_each_run([&](auto& run) { run.tick(now); });
    }
    void tick() { tick(clock::now()); }

    /// Stops one run (its leased units go back); the others keep serving.
    void shutdown(task_run_id id) {
        std::shared_lock l{table_mutex_};
        for (auto const& e : entries_)
            if (e.id == id) return visit(e, [](auto& run) { run.shutdown(); });
        throw entry_does_not_exist("operator: no task run " + std::to_string(id.value()));
    }

    /// Stops every run and the architect.
    void shutdown() {
        for_each_run([](auto& run) { run.shutdown(); });
        detach();
        if (url_) architect_.shutdown();
        url_.reset();
    }

    /// The runs, in the order they were launched.
    [[nodiscard]] std::vector<run_entry> runs() const {
        std::shared_lock l{table_mutex_};
        std::vector<run_entry> out;
        out.reserve(entries_.size());
        for (auto const& e : entries_)
            visit(e, [&](auto const& run) { out.push_back(run_entry{e.id, e.name, run.is_active(), run.is_complete()}); });
        return out;
    }

    /// Calls `f(run)` for every run, in the order they were launched, each as its own type.
    template <class F>
    void for_each_run(F&& f) {
        std::shared_lock l{table_mutex_};
        for (auto const& e : entries_) visit(e, f);
    }

    /// Calls `f(run)` with the run `id` as its own type (a review page, a dashboard): `f` is instantiated
    /// for each run type.
    template <class F>
    void with_run(task_run_id id, F&& f) {
        std::shared_lock l{table_mutex_};
        for (auto const& e : entries_)
            if (e.id == id) return visit(e, f);
        throw entry_does_not_exist("operator: no task run " + std::to_string(id.value()));
    }

    /// Calls `f(run)` with the run a page or the review page names: its task name, or its task run id in
    /// decimal. Unknown → `entry_does_not_exist`.
    template <class F>
    void with_run(std::string_view name, F&& f) {
        std::shared_lock l{table_mutex_};
        for (auto const& e : entries_)  // a name first: a task may be named "2"
            if (e.name == name) return visit(e, f);
        for (auto const& e : entries_)
            if (std::to_string(e.id.value()) == name) return visit(e, f);
        throw entry_does_not_exist("operator: no run \"" + std::string(name) + "\" is served here");
    }

    [[nodiscard]] std::optional<std::string> const& url() const noexcept { return url_; }

private:
    struct entry {
        task_run_id id;
        std::string name;
        std::size_t type;   ///< position of the run's type in Runs...
        std::size_t index;  ///< position in that type's list
    };

    template <class Run>
    static constexpr std::size_t index_of() {
        constexpr bool same[] = {std::is_same_v<Run, Runs>...};
        for (std::size_t i = 0; i < sizeof...(Runs); ++i)
            if (same[i]) return i;
        return sizeof...(Runs);
    }

    /// `f(run)` with the entry's run as its own type: a switch over the compile-time set.
    template <class F>
    void visit(entry const& e, F&& f) const {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (void)((e.type == I ? (f(*std::get<I>(runs_)[e.index]), true) : false) || ...);
        }(std::index_sequence_for<Runs...>{});
    }

    /// The entry a packet names: `data.run` as a task name or a task run id; nothing with one run only.
    std::variant<std::size_t, packet> route(packet const& p) const {
        nlohmann::json const* named = nullptr;
        if (p.data.is_object())
            if (auto it = p.data.find("run"); it != p.data.end() && !it->is_null()) named = &*it;
        if (!named) {
            if (entries_.size() == 1) return std::size_t{0};
            if (entries_.empty()) return packet::error("unavailable", "no task run is being served");
            return packet::error("bad_request", "packet \"" + p.type + "\" names no run (data.run: a task name)");
        }
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            bool const match = named->is_string() ? named->get_ref<std::string const&>() == entries_[i].name
                               : named->is_number_integer() ? named->get<std::int64_t>() == entries_[i].id.value()
                                                            : false;
            if (match) return i;
        }
        if (!named->is_string() && !named->is_number_integer())
            return packet::error("bad_request", "data.run must be a task name or a task run id");
        return packet::error("not_found", "no run " + named->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                                              " is served here");
    }

    void attach() {
        architect_.channel().on_message(*this);
    }
    /// The channel forgets this operator's handlers (it may outlive it).
    void detach() noexcept {
        if (!url_) return;
        try {
            architect_.channel().on_message(nullptr);
        } catch (...) {  // a destructor: nothing to report to
        }
    }

    Architect& architect_;
    Store& store_;
    std::optional<std::string> url_;
    mutable std::shared_mutex table_mutex_;
    std::vector<entry> entries_;
    std::tuple<std::vector<Runs*>...> runs_;
};

/// An operator over `architect` and `store` serving runs of the types `Runs...` (pipelines), each started
/// later with `op.launch(run)`.
template <class... Runs, class Architect, class Store>
[[nodiscard]] operator_<Architect, Store, Runs...> make_operator(Architect& architect, Store& store) {
    return operator_<Architect, Store, Runs...>(architect, store);
}

namespace detail {
template <class... Runs>
struct run_types {};
/// `run_types` of `Ts...` with each type once, in first-seen order (two runs of one type share its slot).
template <class Seen, class... Ts>
struct unique_run_types {
    using type = Seen;
};
template <class... Seen, class T, class... Ts>
struct unique_run_types<run_types<Seen...>, T, Ts...>
    : unique_run_types<std::conditional_t<(std::is_same_v<T, Seen> || ...), run_types<Seen...>, run_types<Seen..., T>>,
                       Ts...> {};
template <class Architect, class Store, class Types>
struct operator_over;
template <class Architect, class Store, class... Runs>
struct operator_over<Architect, Store, run_types<Runs...>> {
    using type = operator_<Architect, Store, Runs...>;
};
/// The operator type serving runs of the types `Runs...`, each type listed once.
template <class Architect, class Store, class... Runs>
using operator_for =
    typename operator_over<Architect, Store, typename unique_run_types<run_types<>, Runs...>::type>::type;
}  // namespace detail

/// An operator over `architect` and `store` serving `runs`, launched in order (the first brings the
/// architect up): the run types are deduced, each once. More runs of those types may be launched later.
template <class Architect, class Store, class First, class... Rest>
[[nodiscard]] detail::operator_for<Architect, Store, First, Rest...> make_operator(Architect& architect, Store& store,
                                                                                  First& first, Rest&... rest) {
    return detail::operator_for<Architect, Store, First, Rest...>(architect, store, first, rest...);
}

}  // namespace crowdline
