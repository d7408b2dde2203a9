// A type with every store method except find_agents, passed where a store is required: the error must name
// the argument and the missing method (one static_assert per method, not the whole unit_store group).
// build error: crowdline::summarize_run: argument 1 (db) must model crowdline::store
// build error: crowdline::store: the type lacks find_agents(agent_filter) -> std::vector<agent>
#include <crowdline/store/memory.hpp>
#include <crowdline/store/summary.hpp>

struct no_find_agents : private crowdline::stores::memory {
    using memory::new_project, memory::get_project, memory::find_projects, memory::new_task, memory::get_task,
        memory::find_tasks, memory::update_task, memory::new_requester, memory::get_requester, memory::find_requesters,
        memory::new_task_run, memory::get_task_run, memory::find_task_runs, memory::update_task_run,
        memory::new_assignment, memory::get_assignment, memory::find_assignments, memory::new_unit, memory::get_unit,
        memory::find_units, memory::update_unit, memory::clear_unit_agent_assignment, memory::new_agent,
        memory::get_agent, memory::update_agent, memory::new_onboarding_agent, memory::new_worker, memory::get_worker,
        memory::find_workers, memory::get_onboarding_agent, memory::find_onboarding_agents,
        memory::update_onboarding_agent, memory::new_worker_review, memory::find_worker_reviews,
        memory::make_qualification, memory::get_qualification, memory::find_qualifications,
        memory::delete_qualification, memory::grant_qualification, memory::revoke_qualification,
        memory::get_granted_qualification, memory::find_granted_qualifications, memory::transaction;
};

int main() {
    no_find_agents db;
    (void)crowdline::summarize_run(db, crowdline::task_run_id{1});
}
