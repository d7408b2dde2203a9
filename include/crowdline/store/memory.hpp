#pragma once
/// `stores::memory`: the whole campaign in plain vectors and hash maps. For tests, simulations and apps
/// that embed a campaign and persist it themselves. Thread-safe (one lock); `transaction` is atomic and
/// rolls back through an undo log, so a failed block leaves no trace.

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/records.hpp>
#include <crowdline/model/status.hpp>
#include <crowdline/store/detail/messages.hpp>
#include <crowdline/store/filters.hpp>

namespace crowdline::stores {

class memory {
public:
    memory() = default;
    memory(memory const&) = delete;
    memory& operator=(memory const&) = delete;

    // --- projects, tasks, requesters ---------------------------------------------------------------
    project_id new_project(std::string_view name) {
        lock l{mutex_};
        detail::require_name("project", name);
        if (project_names_.contains(std::string(name))) detail::throw_duplicate_name("project", name);
        project_id id{next_id(projects_)};
        projects_.push_back({id, std::string(name)});
        project_names_.emplace(name, id);
        on_undo([this, n = std::string(name)] { projects_.pop_back(); project_names_.erase(n); });
        return id;
    }
    project get_project(project_id id) const { lock l{mutex_}; return at(projects_, id); }
    std::vector<project> find_projects(project_filter f = {}) const {
        lock l{mutex_};
        return select(projects_, [&](project const& p) { return matches(f.name, p.name); });
    }

    task_id new_task(std::string_view name, std::string_view task_type, std::optional<project_id> project = {}) {
        lock l{mutex_};
        detail::require_name("task", name);
        if (project) (void)at(projects_, *project);
        if (task_names_.contains(std::string(name))) detail::throw_duplicate_name("task", name);
        task_id id{next_id(tasks_)};
        tasks_.push_back({id, std::string(name), std::string(task_type), project, std::nullopt});
        task_names_.emplace(name, id);
        on_undo([this, n = std::string(name)] { tasks_.pop_back(); task_names_.erase(n); });
        return id;
    }
    task get_task(task_id id) const { lock l{mutex_}; return at(tasks_, id); }
    std::vector<task> find_tasks(task_filter f = {}) const {
        lock l{mutex_};
        return select(tasks_, [&](task const& t) { return matches(f.name, t.name) && matches(f.project, t.project); });
    }
    void update_task(task_id id, std::optional<std::string> name, std::optional<project_id> project) {
        lock l{mutex_};
        task& t = at(tasks_, id);
        if (std::any_of(task_runs_.begin(), task_runs_.end(), [&](task_run const& r) { return r.task == id; }))
            detail::throw_task_has_run(id);
        if (name) {
            detail::require_name("task", *name);
            if (*name != t.name && task_names_.contains(*name)) detail::throw_duplicate_name("task", *name);
        }
        if (project) (void)at(projects_, *project);
        task before = t;
        if (name) {
            task_names_.erase(t.name);
            task_names_.emplace(*name, id);
            t.name = *name;
        }
        if (project) t.project = project;
        on_undo([this, before] {
            task& now = tasks_[index(before.id)];
            task_names_.erase(now.name);
            task_names_.emplace(before.name, before.id);
            now = before;
        });
    }

    requester_id new_requester(std::string_view name, std::string_view provider_type) {
        lock l{mutex_};
        detail::require_name("requester", name);
        if (requester_names_.contains(std::string(name))) detail::throw_duplicate_name("requester", name);
        requester_id id{next_id(requesters_)};
        requesters_.push_back({id, std::string(name), std::string(provider_type)});
        requester_names_.emplace(name, id);
        on_undo([this, n = std::string(name)] { requesters_.pop_back(); requester_names_.erase(n); });
        return id;
    }
    requester get_requester(requester_id id) const { lock l{mutex_}; return at(requesters_, id); }
    std::vector<requester> find_requesters(requester_filter f = {}) const {
        lock l{mutex_};
        return select(requesters_, [&](requester const& r) {
            return matches(f.name, r.name) && matches(f.provider_type, r.provider_type);
        });
    }

    // --- task runs, assignments --------------------------------------------------------------------
    task_run_id new_task_run(task_id task, requester_id requester, nlohmann::json init_params,
                             std::string_view provider_type, std::string_view task_type, bool sandbox) {
        lock l{mutex_};
        (void)at(tasks_, task);
        (void)at(requesters_, requester);
        task_run_id id{next_id(task_runs_)};
        task_runs_.push_back({id, task, requester, std::move(init_params), false, std::string(provider_type),
                              std::string(task_type), sandbox});
        on_undo([this] { task_runs_.pop_back(); });
        return id;
    }
    task_run get_task_run(task_run_id id) const { lock l{mutex_}; return at(task_runs_, id); }
    std::vector<task_run> find_task_runs(task_run_filter f = {}) const {
        lock l{mutex_};
        return select(task_runs_, [&](task_run const& r) {
            return matches(f.task, r.task) && matches(f.requester, r.requester) && matches(f.is_completed, r.is_completed);
        });
    }
    void update_task_run(task_run_id id, bool is_completed) {
        lock l{mutex_};
        task_run& r = at(task_runs_, id);
        save_row(task_runs_, id);
        r.is_completed = is_completed;
    }

    assignment_id new_assignment(task_run_id run) {
        lock l{mutex_};
        task_run const& r = at(task_runs_, run);
        assignment_id id{next_id(assignments_)};
        assignments_.push_back({id, r.task, run, r.requester, r.task_type, r.provider_type, r.sandbox});
        on_undo([this] { assignments_.pop_back(); });
        return id;
    }
    assignment get_assignment(assignment_id id) const { lock l{mutex_}; return at(assignments_, id); }
    std::vector<assignment> find_assignments(assignment_filter f = {}) const {
        lock l{mutex_};
        return select(assignments_, [&](assignment const& a) {
            return matches(f.task_run, a.task_run) && matches(f.task, a.task) && matches(f.requester, a.requester);
        });
    }

    // --- units, agents ----------------------------------------------------------------------------
    unit_id new_unit(assignment_id assignment, int unit_index, double pay_amount) {
        lock l{mutex_};
        struct assignment const& a = at(assignments_, assignment);
        auto key = std::pair{assignment.value(), unit_index};
        if (unit_slots_.contains(key))
            throw entry_already_exists(detail::describe(assignment) + " already has a unit with index " +
                                       std::to_string(unit_index));
        unit_id id{next_id(units_)};
        units_.push_back({id, assignment, unit_index, pay_amount, a.provider_type, unit_status::created, std::nullopt,
                          std::nullopt, a.task_type, a.task, a.task_run, a.sandbox, a.requester});
        unit_slots_.insert(key);
        on_undo([this, key] { units_.pop_back(); unit_slots_.erase(key); });
        return id;
    }
    unit get_unit(unit_id id) const { lock l{mutex_}; return at(units_, id); }
    std::vector<unit> find_units(unit_filter f = {}) const {
        lock l{mutex_};
        return select(units_, [&](unit const& u) {
            return matches(f.task_run, u.task_run) && matches(f.assignment, u.assignment) &&
                   matches_opt(f.worker, u.worker) && matches_opt(f.agent, u.agent) && matches(f.status, u.status) &&
                   matches(f.task, u.task);
        });
    }
    void update_unit(unit_id id, unit_status status) {
        lock l{mutex_};
        unit& u = at(units_, id);
        if (!can_transition(u.status, status)) detail::throw_transition(id, u.status, status);
        save_row(units_, id);
        u.status = status;
        if (status == unit_status::launched || status == unit_status::created) {  // a fresh seat: nobody holds it
            u.agent.reset();
            u.worker.reset();
        }
    }
    void clear_unit_agent_assignment(unit_id id) {
        lock l{mutex_};
        unit& u = at(units_, id);
        if (u.status == unit_status::launched && !u.agent) return;
        if (u.status != unit_status::assigned) detail::throw_transition(id, u.status, unit_status::launched);
        save_row(units_, id);
        u.status = unit_status::launched;
        u.agent.reset();
        u.worker.reset();
    }

    agent_id new_agent(worker_id worker, unit_id unit) {
        lock l{mutex_};
        (void)at(workers_, worker);
        struct unit& u = at(units_, unit);
        if (u.status != unit_status::launched) detail::throw_claim(unit, u.status);
        agent_id id{next_id(agents_)};
        agents_.push_back({id, worker, unit, u.task, u.task_run, u.assignment, u.task_type, u.provider_type,
                           agent_status::none, nullptr});
        on_undo([this] { agents_.pop_back(); });
        save_row(units_, unit);
        u.status = unit_status::assigned;
        u.agent = id;
        u.worker = worker;
        return id;
    }
    agent get_agent(agent_id id) const { lock l{mutex_}; return at(agents_, id); }
    std::vector<agent> find_agents(agent_filter f = {}) const {
        lock l{mutex_};
        return select(agents_, [&](agent const& a) {
            return matches(f.worker, a.worker) && matches(f.unit, a.unit) && matches(f.task_run, a.task_run) &&
                   matches(f.assignment, a.assignment) && matches(f.status, a.status);
        });
    }
    void update_agent(agent_id id, agent_status status) { update_status(agents_, id, status, nullptr); }
    /// Changes the status and stores what the worker sent, atomically.
    void update_agent(agent_id id, agent_status status, nlohmann::json state) {
        update_status(agents_, id, status, &state);
    }

    onboarding_agent_id new_onboarding_agent(worker_id worker, task_run_id run) {
        lock l{mutex_};
        (void)at(workers_, worker);
        task_run const& r = at(task_runs_, run);
        onboarding_agent_id id{next_id(onboarding_agents_)};
        onboarding_agents_.push_back({id, worker, r.task, run, r.task_type, agent_status::none, nullptr});
        on_undo([this] { onboarding_agents_.pop_back(); });
        return id;
    }
    onboarding_agent get_onboarding_agent(onboarding_agent_id id) const { lock l{mutex_}; return at(onboarding_agents_, id); }
    std::vector<onboarding_agent> find_onboarding_agents(onboarding_agent_filter f = {}) const {
        lock l{mutex_};
        return select(onboarding_agents_, [&](onboarding_agent const& a) {
            return matches(f.worker, a.worker) && matches(f.task_run, a.task_run) && matches(f.status, a.status);
        });
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status) {
        update_status(onboarding_agents_, id, status, nullptr);
    }
    void update_onboarding_agent(onboarding_agent_id id, agent_status status, nlohmann::json state) {
        update_status(onboarding_agents_, id, status, &state);
    }

    // --- workers, reviews --------------------------------------------------------------------------
    worker_id new_worker(std::string_view name, std::string_view provider_type) {
        lock l{mutex_};
        detail::require_name("worker", name);
        if (worker_names_.contains(std::string(name))) detail::throw_duplicate_name("worker", name);
        worker_id id{next_id(workers_)};
        workers_.push_back({id, std::string(name), std::string(provider_type)});
        worker_names_.emplace(name, id);
        on_undo([this, n = std::string(name)] { workers_.pop_back(); worker_names_.erase(n); });
        return id;
    }
    worker get_worker(worker_id id) const { lock l{mutex_}; return at(workers_, id); }
    std::vector<worker> find_workers(worker_filter f = {}) const {
        lock l{mutex_};
        if (f.name) {  // names are unique: answer from the index
            auto it = worker_names_.find(*f.name);
            if (it == worker_names_.end()) return {};
            worker const& w = workers_[index(it->second)];
            return matches(f.provider_type, w.provider_type) ? std::vector<worker>{w} : std::vector<worker>{};
        }
        return select(workers_, [&](worker const& w) { return matches(f.provider_type, w.provider_type); });
    }

    void new_worker_review(worker_review review) {
        lock l{mutex_};
        (void)at(workers_, review.worker);
        if (review.unit) (void)at(units_, *review.unit);
        if (review.task) (void)at(tasks_, *review.task);
        if (review.updated_qualification) (void)qualification_at(*review.updated_qualification);
        if (review.revoked_qualification) (void)qualification_at(*review.revoked_qualification);
        review.id = worker_review_id{next_id(reviews_)};
        reviews_.push_back(std::move(review));
        on_undo([this] { reviews_.pop_back(); });
    }
    std::vector<worker_review> find_worker_reviews(worker_review_filter f = {}) const {
        lock l{mutex_};
        return select(reviews_, [&](worker_review const& r) { return matches(f.worker, r.worker) && matches_opt(f.unit, r.unit); });
    }

    // --- qualifications ---------------------------------------------------------------------------
    qualification_id make_qualification(std::string_view name, std::string_view description = "") {
        lock l{mutex_};
        detail::require_name("qualification", name);
        if (qualification_names_.contains(std::string(name))) detail::throw_duplicate_name("qualification", name);
        qualification_id id{++last_qualification_};
        qualifications_.emplace(id.value(), qualification{id, std::string(name), std::string(description)});
        qualification_names_.emplace(name, id);
        on_undo([this, id, n = std::string(name)] {
            qualifications_.erase(id.value());
            qualification_names_.erase(n);
            --last_qualification_;
        });
        return id;
    }
    qualification get_qualification(qualification_id id) const { lock l{mutex_}; return qualification_at(id); }
    std::vector<qualification> find_qualifications(qualification_filter f = {}) const {
        lock l{mutex_};
        std::vector<qualification> out;
        for (auto const& [key, q] : qualifications_)
            if (matches(f.name, q.name)) out.push_back(q);
        return out;
    }
    /// Removes the qualification and every grant of it.
    void delete_qualification(std::string_view name) {
        lock l{mutex_};
        auto it = qualification_names_.find(std::string(name));
        if (it == qualification_names_.end())
            throw entry_does_not_exist("qualification \"" + std::string(name) + "\": does not exist");
        qualification_id id = it->second;
        qualification removed = qualifications_.at(id.value());
        std::vector<std::pair<grant_key, grant_row>> removed_grants;
        for (auto g = grants_.begin(); g != grants_.end();) {
            if (g->first.first == id.value()) {
                removed_grants.emplace_back(*g);
                g = grants_.erase(g);
            } else {
                ++g;
            }
        }
        qualifications_.erase(id.value());
        qualification_names_.erase(it);
        on_undo([this, removed, removed_grants] {
            qualifications_.emplace(removed.id.value(), removed);
            qualification_names_.emplace(removed.name, removed.id);
            for (auto const& g : removed_grants) grants_.insert(g);
        });
    }
    /// Upsert: granting again replaces the value.
    void grant_qualification(qualification_id q, worker_id w, int value = 1) {
        lock l{mutex_};
        (void)qualification_at(q);
        (void)at(workers_, w);
        grant_key key{q.value(), w.value()};
        auto it = grants_.find(key);
        if (it != grants_.end()) {
            int old = it->second.value;
            it->second.value = value;
            on_undo([this, key, old] { grants_.at(key).value = old; });
        } else {
            grants_.emplace(key, grant_row{value, ++grant_sequence_});
            on_undo([this, key] { grants_.erase(key); });
        }
    }
    void revoke_qualification(qualification_id q, worker_id w) {
        lock l{mutex_};
        auto it = grants_.find(grant_key{q.value(), w.value()});
        if (it == grants_.end()) detail::throw_missing_grant(q, w);
        auto saved = *it;
        grants_.erase(it);
        on_undo([this, saved] { grants_.insert(saved); });
    }
    granted_qualification get_granted_qualification(qualification_id q, worker_id w) const {
        lock l{mutex_};
        auto it = grants_.find(grant_key{q.value(), w.value()});
        if (it == grants_.end()) detail::throw_missing_grant(q, w);
        return {q, w, it->second.value};
    }
    std::vector<granted_qualification> find_granted_qualifications(granted_qualification_filter f = {}) const {
        lock l{mutex_};
        std::vector<std::pair<std::uint64_t, granted_qualification>> rows;
        for (auto const& [key, row] : grants_) {
            granted_qualification g{qualification_id{key.first}, worker_id{key.second}, row.value};
            if (matches(f.worker, g.worker) && matches(f.qualification, g.qualification)) rows.emplace_back(row.sequence, g);
        }
        std::sort(rows.begin(), rows.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
        std::vector<granted_qualification> out;
        out.reserve(rows.size());
        for (auto& r : rows) out.push_back(r.second);
        return out;
    }

    // --- keyed values (`keyed_store`) -------------------------------------------------------------
    /// The value under `key` in `scope`, or nothing.
    std::optional<std::string> get_value(std::string_view scope, std::string_view key) const {
        lock l{mutex_};
        auto s = values_.find(scope);
        if (s == values_.end()) return std::nullopt;
        auto k = s->second.index.find(key);
        if (k == s->second.index.end()) return std::nullopt;
        return s->second.rows[k->second].second;
    }
    /// Inserts or replaces. An empty scope or key → `invalid_argument`.
    void put_value(std::string_view scope, std::string_view key, std::string_view value) {
        lock l{mutex_};
        detail::require_value_key(scope, key);
        auto [s, new_scope] = values_.try_emplace(std::string(scope));
        auto& table = s->second;
        if (auto k = table.index.find(key); k != table.index.end()) {
            std::string old = std::exchange(table.rows[k->second].second, std::string(value));
            on_undo([this, sc = std::string(scope), i = k->second, old = std::move(old)]() mutable {
                values_.find(sc)->second.rows[i].second = std::move(old);
            });
            return;
        }
        table.rows.emplace_back(std::string(key), std::string(value));
        table.index.emplace(std::string(key), table.rows.size() - 1);
        on_undo([this, sc = std::string(scope), new_scope]() {
            auto it = values_.find(sc);
            it->second.index.erase(it->second.rows.back().first);
            it->second.rows.pop_back();
            if (new_scope) values_.erase(it);
        });
    }
    /// Every key and value in `scope`, in the order the keys were first put.
    std::vector<std::pair<std::string, std::string>> find_values(std::string_view scope) const {
        lock l{mutex_};
        auto s = values_.find(scope);
        if (s == values_.end()) return {};
        return s->second.rows;
    }

    // --- transactions -----------------------------------------------------------------------------
    /// Runs `f` atomically: other threads wait, and if `f` throws every change it made is undone.
    template <class F>
    decltype(auto) transaction(F&& f) {
        lock l{mutex_};
        std::size_t const mark = undo_.size();
        ++depth_;
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
                std::invoke(std::forward<F>(f));
                finish();
            } else {
                decltype(auto) result = std::invoke(std::forward<F>(f));
                finish();
                return result;
            }
        } catch (...) {
            while (undo_.size() > mark) {
                undo_.back()();
                undo_.pop_back();
            }
            --depth_;
            throw;
        }
    }

private:
    using lock = std::lock_guard<std::recursive_mutex>;
    using grant_key = std::pair<std::int64_t, std::int64_t>;  // (qualification, worker)
    struct grant_row {
        int value;
        std::uint64_t sequence;  // first grant order: find_* answers in creation order
    };
    struct pair_hash {
        std::size_t operator()(std::pair<std::int64_t, int> const& p) const noexcept {
            return std::hash<std::int64_t>{}(p.first * 1000003 + p.second);
        }
    };

    template <class Id>
    static std::size_t index(Id id) noexcept { return static_cast<std::size_t>(id.value() - 1); }
    template <class Row>
    static std::int64_t next_id(std::vector<Row> const& rows) noexcept { return static_cast<std::int64_t>(rows.size()) + 1; }

    template <class Row, class Id>
    static Row& at(std::vector<Row>& rows, Id id) {
        if (id.value() < 1 || static_cast<std::size_t>(id.value()) > rows.size()) detail::throw_missing(id);
        return rows[index(id)];
    }
    template <class Row, class Id>
    static Row const& at(std::vector<Row> const& rows, Id id) {
        if (id.value() < 1 || static_cast<std::size_t>(id.value()) > rows.size()) detail::throw_missing(id);
        return rows[index(id)];
    }
    qualification const& qualification_at(qualification_id id) const {
        auto it = qualifications_.find(id.value());
        if (it == qualifications_.end()) detail::throw_missing(id);
        return it->second;
    }

    template <class T, class V>
    static bool matches(std::optional<T> const& want, V const& have) { return !want || *want == have; }
    template <class T>
    static bool matches_opt(std::optional<T> const& want, std::optional<T> const& have) { return !want || want == have; }

    template <class Row, class Pred>
    static std::vector<Row> select(std::vector<Row> const& rows, Pred&& keep) {
        std::vector<Row> out;
        for (auto const& r : rows)
            if (keep(r)) out.push_back(r);
        return out;
    }

    /// Inside a transaction, remembers a row as it is now so a rollback can put it back.
    template <class Row, class Id>
    void save_row(std::vector<Row>& rows, Id id) {
        if (depth_ > 0) undo_.emplace_back([&rows, before = rows[index(id)]] { rows[index(before.id)] = before; });
    }

    template <class Row, class Id>
    void update_status(std::vector<Row>& rows, Id id, agent_status status, nlohmann::json* state) {
        lock l{mutex_};
        Row& a = at(rows, id);
        if (!can_transition(a.status, status)) detail::throw_transition(id, a.status, status);
        save_row(rows, id);
        a.status = status;
        if (state) a.state = std::move(*state);
    }

    template <class F>
    void on_undo(F&& f) {
        if (depth_ > 0) undo_.emplace_back(std::forward<F>(f));
    }
    void finish() {
        if (--depth_ == 0) undo_.clear();
    }

    mutable std::recursive_mutex mutex_;
    std::vector<project> projects_;
    std::unordered_map<std::string, project_id> project_names_;
    std::vector<task> tasks_;
    std::unordered_map<std::string, task_id> task_names_;
    std::vector<requester> requesters_;
    std::unordered_map<std::string, requester_id> requester_names_;
    std::vector<task_run> task_runs_;
    std::vector<assignment> assignments_;
    std::vector<unit> units_;
    std::unordered_set<std::pair<std::int64_t, int>, pair_hash> unit_slots_;
    std::vector<worker> workers_;
    std::unordered_map<std::string, worker_id> worker_names_;
    std::vector<agent> agents_;
    std::vector<onboarding_agent> onboarding_agents_;
    std::vector<worker_review> reviews_;
    std::map<std::int64_t, qualification> qualifications_;  // ordered: creation order, survives deletes
    std::unordered_map<std::string, qualification_id> qualification_names_;
    std::int64_t last_qualification_ = 0;
    std::map<grant_key, grant_row> grants_;
    std::uint64_t grant_sequence_ = 0;
    int depth_ = 0;
    struct value_table {
        std::vector<std::pair<std::string, std::string>> rows;  ///< first-put order
        std::map<std::string, std::size_t, std::less<>> index;  ///< key → position in rows
    };
    std::map<std::string, value_table, std::less<>> values_;  ///< `keyed_store`: scope → its values
    std::vector<std::function<void()>> undo_;
};

}  // namespace crowdline::stores
