#pragma once
// `crowdline serve`'s built-in demo: two runs in one server — multilingual texts to label by sentiment for
// four annotators who read different languages, and headlines to sort by topic for two others.

#include <string>
#include <vector>

#include "program_args.hpp"

namespace crowdline_serve {

inline std::vector<json> demo_tasks() {
    struct row { char const* lang; char const* text; };
    static constexpr row rows[] = {
        {"en", "The new library opened today and the reading room is wonderful."},
        {"en", "My train was cancelled again, the third time this week."},
        {"en", "The report is due on Friday."},
        {"en", "What a lovely surprise to find the garden in bloom!"},
        {"en", "The soup was cold and the waiter ignored us."},
        {"en", "The museum is open from nine to five."},
        {"fr", "Le concert d'hier soir était magnifique."},
        {"fr", "Je suis déçu, le colis est arrivé cassé."},
        {"fr", "La réunion commence à dix heures."},
        {"fr", "Quelle belle journée pour une promenade !"},
        {"fr", "Le service client ne répond jamais."},
        {"de", "Das Essen war ausgezeichnet und der Service freundlich."},
        {"de", "Der Zug hatte schon wieder zwei Stunden Verspätung."},
        {"de", "Die Bibliothek schließt um achtzehn Uhr."},
        {"de", "Ich freue mich sehr auf den Urlaub."},
        {"es", "La película fue aburrida y demasiado larga."},
        {"es", "¡Me encanta este barrio, todo el mundo es amable!"},
        {"es", "El museo abre a las diez."},
    };
    std::vector<json> out;
    for (auto const& r : rows) out.push_back({{"lang", r.lang}, {"text", r.text}});
    return out;
}

inline json demo_workers() {
    return json::array({{{"name", "alice"}, {"languages", {"en", "fr"}}},
                        {{"name", "bruno"}, {"languages", {"fr", "es"}}},
                        {{"name", "chen"}, {"languages", {"en", "de"}}},
                        {{"name", "dana"}, {"languages", {"de", "es", "en"}}}});
}

/// The second demo run: headlines to sort by topic, by two annotators of its own who each label every one
/// (`overlap: "full"`), whatever language they read.
inline std::vector<json> topic_tasks() {
    static constexpr char const* headlines[] = {
        "Parliament passes the new budget after a late-night vote",
        "Local team wins the cup with a goal in extra time",
        "Telescope finds water vapour on a distant planet",
        "The city orchestra opens its season with Mahler",
        "Chip maker's shares jump after record quarterly profit",
        "Marathon runners brave the rain in record numbers",
    };
    std::vector<json> out;
    for (auto const* h : headlines) out.push_back({{"text", h}});
    return out;
}

inline json topic_form() {
    return {{"fields",
             {{{"type", "display_text"}, {"name", "text"}, {"label", "Headline"}, {"text", "{{text}}"}},
              {{"type", "single_choice"},
               {"name", "topic"},
               {"label", "Topic"},
               {"options", {"politics", "sport", "science", "culture", "business"}}}}}};
}

/// The built-in demo: two runs in one server, each with its own annotators, form and routing.
inline campaign_spec demo_campaign(program_args const& cfg) {
    campaign_spec spec;
    spec.db = cfg.db;
    campaign_run sentiment;
    sentiment.name = "sentiment";
    sentiment.tasks = demo_tasks();
    sentiment.task_count = sentiment.tasks.size();
    sentiment.workers = demo_workers();
    sentiment.route_by = cfg.route_by;
    sentiment.profile_key = cfg.profile_key;
    sentiment.overlap = cfg.overlap;
    sentiment.task = cfg.task;
    sentiment.task.task_name = sentiment.name;
    spec.runs.push_back(std::move(sentiment));

    campaign_run topics;
    topics.name = "topics";
    topics.tasks = topic_tasks();
    topics.task_count = topics.tasks.size();
    topics.workers = json::array({{{"name", "emma"}}, {{"name", "farid"}}});
    topics.form = topic_form();
    topics.route_by = "";
    topics.full_overlap = true;
    topics.task = cfg.task;
    topics.task.task_name = topics.name;
    topics.task.task_title = "Sort headlines by topic";
    topics.task.task_description = "Read each headline and pick its topic";
    spec.runs.push_back(std::move(topics));
    return spec;
}

}  // namespace crowdline_serve
