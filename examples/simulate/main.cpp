// simulate: a whole annotation campaign with simulated annotators, through the real pipeline — the
// in-process architect (each annotator's page sends packets), the mock crowd provider, the dispatcher
// routing by language with eligibility-aware stealing, and a SQLite file holding everything.
//
// Texts come in five languages; each annotator reads one or two and works at its own speed; some leave
// mid-way (in the middle of a unit, which goes back to the pool). One language is read by very few
// annotators: with two units per text, its texts cannot be finished and are reported as starved instead
// of waiting forever. Time is simulated (hours of work run in seconds); a progress bar shows the run and a
// report ends it. Run it again on the same file and it resumes the open run: `--rare-readers 2` lets the
// starved texts finish.
//
// Each text has a hidden true sentiment, and each annotator a chance of giving it: most are good, every
// tenth is careless, and the last one is a spammer who always answers "positive". The report ends with
// what the labels are worth: Krippendorff's alpha, and how often majority vote and Dawid–Skene find the
// hidden truth. With --adaptive, texts get 2 units and one more (up to --overlap) only while their answers
// disagree (`routing::adaptive_overlap`); the same annotators then label the same texts once more with a
// fixed overlap of --overlap (in memory), and the report says how many units adaptive overlap saved and at
// what accuracy.
//
//   simulate [--db crowdline.db] [--items 3000] [--annotators 40] [--overlap 2] [--leave 0.25]
//            [--rare-readers 1] [--seed 7] [--adaptive] [--agreement 0.7] [--fresh] [--no-progress]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <crowdline/crowdline.hpp>
#include <crowdline/store/sqlite.hpp>  // stores::sqlite is not in the umbrella: it needs SQLiteCpp

using namespace crowdline;
using json = nlohmann::json;

namespace {

// ---- what is routed -----------------------------------------------------------------------------------

/// The dispatcher's item: the language of one text (built from the assignment's initialization data).
struct text_item {
    std::string lang;
    explicit text_item(initialization_data const& init)
        : lang(init.unit_data.empty() ? init.shared.value("lang", "") : init.unit_data.front().value("lang", "")) {}
};

/// The dispatcher's profile: the languages a worker reads (sent by its page when it registers).
struct reader {
    std::vector<std::string> langs;
};
void from_json(json const& j, reader& r) { r.langs = j.value("langs", std::vector<std::string>{}); }

constexpr std::array<std::string_view, 5> languages{"en", "fr", "de", "es", "fi"};
constexpr std::array<double, 5> text_share{0.40, 0.20, 0.15, 0.15, 0.10};  ///< of the texts
constexpr std::array<double, 4> reader_share{0.45, 0.25, 0.15, 0.15};      ///< of the common languages
constexpr std::string_view rare = "fi";

// ---- options ------------------------------------------------------------------------------------------

struct options {
    std::string db = "crowdline.db";
    int items = 3000;
    int annotators = 40;
    int overlap = 2;
    double leave = 0.25;
    int rare_readers = 1;
    unsigned seed = 7;
    bool fresh = false;
    bool progress = true;
    bool adaptive = false;    ///< 2 units per text, more (up to `overlap`) while its answers disagree
    double agreement = 0.7;   ///< --adaptive: the share of the most common answer that settles a text
};

[[noreturn]] void usage(std::string_view error) {
    std::cerr << "simulate: " << error << "\n"
              << "usage: simulate [--db PATH] [--items N] [--annotators N] [--overlap N] [--leave SHARE]\n"
                 "                [--rare-readers N] [--seed N] [--adaptive] [--agreement SHARE] [--fresh]\n"
                 "                [--no-progress]\n"
                 "  --db PATH          the campaign database (default: crowdline.db in this folder)\n"
                 "  --items N          texts to annotate (default: 3000)\n"
                 "  --annotators N     simulated annotators, at least 2 (default: 40)\n"
                 "  --overlap N        annotations per text, by different annotators (default: 2; with\n"
                 "                     --adaptive the most a text gets)\n"
                 "  --leave SHARE      share of annotators who leave mid-way, 0..1 (default: 0.25)\n"
                 "  --rare-readers N   annotators who also read the rare language, fi (default: 1)\n"
                 "  --seed N           random seed: the same seed gives the same campaign (default: 7)\n"
                 "  --adaptive         2 units per text, one more while its answers disagree (up to --overlap),\n"
                 "                     then the same texts with a fixed overlap of --overlap, to compare\n"
                 "  --agreement SHARE  --adaptive: the most common answer's share that settles a text (default 0.7)\n"
                 "  --fresh            delete the database first (otherwise an open run is resumed)\n"
                 "  --no-progress      no progress bar\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    auto value = [&](int& i, std::string_view flag) -> std::string {
        if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
        return argv[++i];
    };
    auto number = [&](int& i, std::string_view flag, int min, int max) {
        auto text = value(i, flag);
        try {
            std::size_t used = 0;
            int v = std::stoi(text, &used);
            if (used != text.size() || v < min || v > max) throw std::out_of_range("range");
            return v;
        } catch (std::exception const&) {
            usage(std::string(flag) + ": expected a whole number in " + std::to_string(min) + ".." + std::to_string(max) +
                  ", got \"" + text + '"');
        }
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--db") o.db = value(i, a);
        else if (a == "--items") o.items = number(i, a, 1, 10'000'000);
        else if (a == "--annotators") o.annotators = number(i, a, 2, 100'000);
        else if (a == "--overlap") o.overlap = number(i, a, 1, 10);
        else if (a == "--rare-readers") o.rare_readers = number(i, a, 0, 100'000);
        else if (a == "--seed") o.seed = static_cast<unsigned>(number(i, a, 0, 1'000'000'000));
        else if (a == "--leave") {
            auto text = value(i, a);
            char* end = nullptr;
            o.leave = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0' || !(o.leave >= 0 && o.leave <= 1))
                usage("--leave: expected a share between 0 and 1, got \"" + text + '"');
        } else if (a == "--agreement") {
            auto text = value(i, a);
            char* end = nullptr;
            o.agreement = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0' || !(o.agreement > 0 && o.agreement <= 1))
                usage("--agreement: expected a share in (0, 1], got \"" + text + '"');
        } else if (a == "--adaptive") o.adaptive = true;
        else if (a == "--fresh") o.fresh = true;
        else if (a == "--no-progress") o.progress = false;
        else if (a == "-h" || a == "--help") usage("help");
        else usage("unknown argument \"" + std::string(a) + '"');
    }
    if (o.rare_readers > o.annotators) usage("--rare-readers: more than --annotators");
    if (o.adaptive && o.overlap < 3) usage("--adaptive: --overlap is the most a text gets, at least 3");
    return o;
}

// ---- the simulated people -----------------------------------------------------------------------------

struct annotator {
    std::string name;
    std::vector<std::string> langs;
    double seconds_per_unit = 20;      ///< mean time a unit takes this person
    int leaves_after = -1;             ///< units done before leaving mid-unit (-1: stays)
    double accuracy = 0.9;             ///< chance of giving the true sentiment (else one of the others)
    bool spammer = false;              ///< always answers "positive", whatever the text
    // while simulating
    std::optional<agent_id> agent{};
    std::string token{};
    int text = -1;                     ///< the id of the text in hand
    int done = 0;
};

constexpr std::array<std::string_view, 3> sentiments{"negative", "neutral", "positive"};

/// The hidden truth of text `i`: what a perfect annotator answers (never shown to anyone).
std::size_t true_sentiment(unsigned seed, int i) {
    std::mt19937 rng(seed * 104729u + static_cast<unsigned>(i));
    std::discrete_distribution<std::size_t> pick{0.3, 0.3, 0.4};
    return pick(rng);
}

std::vector<annotator> make_annotators(options const& o) {
    std::mt19937 rng(o.seed);
    std::discrete_distribution<std::size_t> pick(reader_share.begin(), reader_share.end());
    std::uniform_real_distribution<double> speed(8.0, 40.0), chance(0.0, 1.0);
    std::uniform_int_distribution<int> stay(3, 60);
    std::vector<annotator> out;
    for (int i = 0; i < o.annotators; ++i) {
        annotator a;
        char name[32];
        std::snprintf(name, sizeof name, "annotator-%03d", i + 1);
        a.name = name;
        // The first eight cover the common languages twice, so only the rare one can starve; the rest draw.
        a.langs.emplace_back(languages[i < 8 ? static_cast<std::size_t>(i / 2) : pick(rng)]);
        if (chance(rng) < 0.4) {  // a second language
            auto second = std::string(languages[pick(rng)]);
            if (second != a.langs.front()) a.langs.push_back(second);
        }
        if (i < o.rare_readers) a.langs.emplace_back(rare);
        a.seconds_per_unit = speed(rng);
        if (chance(rng) < o.leave) a.leaves_after = stay(rng);
        a.accuracy = i % 10 == 9 ? 0.5 : 0.75 + 0.2 * chance(rng);  // every tenth is careless
        a.spammer = i == o.annotators - 1 && o.annotators >= 10;
        out.push_back(std::move(a));
    }
    return out;
}

/// The texts: a lazy stream, generated when the launcher asks (the same seed gives the same texts, which
/// is what lets a resumed run skip the ones it already has).
auto make_texts(options const& o) {
    return std::views::iota(0, o.items) | std::views::transform([seed = o.seed](int i) {
               std::mt19937 rng(seed * 7919u + static_cast<unsigned>(i));
               std::discrete_distribution<std::size_t> pick(text_share.begin(), text_share.end());
               auto lang = std::string(languages[pick(rng)]);
               return json{{"id", i}, {"lang", lang}, {"text", "text " + std::to_string(i) + " (" + lang + ")"}};
           });
}

// ---- progress -----------------------------------------------------------------------------------------

class progress_bar {
public:
    progress_bar(bool on, std::size_t total) : on_(on), tty_(::isatty(2) == 1), total_(total) {}
    void show(std::size_t done, std::size_t steals, double rate, bool force = false) {
        if (!on_ || total_ == 0) return;
        auto const now = std::chrono::steady_clock::now();
        int const percent = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_));
        if (tty_) {
            if (!force && now - last_ < std::chrono::milliseconds(100)) return;
            last_ = now;
            constexpr int width = 30;
            int const filled = percent * width / 100;
            std::fprintf(stderr, "\r[%s%s] %3d%%  %zu/%zu units  steals %zu  %.0f units/s ",
                         std::string(static_cast<std::size_t>(filled), '#').c_str(),
                         std::string(static_cast<std::size_t>(width - filled), '.').c_str(), percent, done, total_, steals,
                         rate);
        } else if (percent / 10 > shown_ / 10 || (force && percent != shown_)) {  // a log: a line per 10%
            shown_ = percent;
            std::fprintf(stderr, "progress: %3d%%  %zu/%zu units  steals %zu\n", percent, done, total_, steals);
        }
    }
    void finish() {
        if (on_ && tty_) std::fprintf(stderr, "\n");
    }

private:
    bool on_, tty_;
    std::size_t total_;
    int shown_ = -1;
    std::chrono::steady_clock::time_point last_{};
};

std::string hours(std::chrono::seconds s) {
    auto h = s.count() / 3600, m = (s.count() % 3600) / 60;
    return std::to_string(h) + " h " + std::to_string(m) + " min";
}

/// What the labels are worth against the hidden truth.
struct label_quality {
    std::size_t annotations = 0, texts = 0;
    std::optional<double> alpha;
    double majority_right = 0, dawid_skene_right = 0;  ///< shares of the texts with an answer
    double spammer_estimate = -1;                      ///< Dawid–Skene's accuracy of the spammer (-1: none)
};

/// Reads the run's answers from the store and scores them.
template <class Store>
label_quality score_labels(Store& db, task_run_id run, options const& o, std::vector<annotator> const& people) {
    // The run's done answers as the quality tools read them (one read of units, agents, workers), keyed by
    // the text's own id, which the hidden truth is kept by.
    using answer = quality::basic_annotation<std::int64_t, std::string, std::string>;
    std::vector<answer> answers;
    for (auto const& a : quality::run_answers(db, run)) {
        auto const label = a.outputs.find("sentiment");
        if (label == a.outputs.end() || !label->is_string()) continue;
        answers.push_back({a.inputs.value("id", std::int64_t{-1}), a.worker, label->template get<std::string>()});
    }
    label_quality q;
    q.annotations = answers.size();
    if (answers.empty()) return q;
    // [quality]
    // Agreement between annotators, then two ways to pick each text's label, scored against the truth.
    q.alpha = quality::krippendorff_alpha(answers);
    auto const majority = quality::majority_vote(answers);
    auto const estimated = quality::dawid_skene(answers);
    // [quality]
    auto const truth = [&](std::int64_t text) { return std::string(sentiments[true_sentiment(o.seed, static_cast<int>(text))]); };
    std::size_t mv_right = 0, ds_right = 0;
    for (auto const& m : majority) mv_right += m.label == truth(m.item);
    for (auto const& e : estimated.items) ds_right += e.label == truth(e.item);
    q.texts = majority.size();
    q.majority_right = static_cast<double>(mv_right) / static_cast<double>(q.texts);
    q.dawid_skene_right = static_cast<double>(ds_right) / static_cast<double>(q.texts);
    for (auto const& w : estimated.workers)
        for (auto const& p : people)
            if (p.spammer && p.name == w.worker) q.spammer_estimate = w.accuracy;
    return q;
}

/// What one campaign did.
struct outcome {
    task_run_id run{};
    bool resumed = false, complete = false;
    std::size_t done_before = 0, completed = 0, left = 0, refused = 0, steals = 0, units = 0;
    std::map<std::string, std::size_t> starved_by_lang;
    std::chrono::seconds simulated{};
    double wall = 0;
    bool ok = true;
};

/// Plays the campaign of texts `o` describes with `people`, routed by `router`, on `db`.
template <class Store, class Router>
outcome play(options const& o, Store& db, Router router, std::vector<annotator>& people, std::string const& task_name,
             bool show_progress) {
    architects::in_process server{{.name = "simulate"}};
    providers::mock crowd;

    // [campaign]
    // Each text is one assignment; a worker may take a text only in a language it reads, both when it is
    // first routed and when it is taken over from someone who went idle or left. `router` says how many
    // units a text gets: `average_per_task{overlap}`, or `adaptive_overlap` (more while answers disagree).
    auto dispatcher = routing::make_dispatcher<text_item, reader>(
        std::move(router),
        routing::steal_by_key{[](text_item const& t) { return t.lang; }, [](reader const& r) { return r.langs; }},
        routing::options{.lease = std::chrono::minutes(10), .steal_after = std::chrono::minutes(5)});
    blueprints::static_form form{
        {blueprints::fields::display_text{.name = "text", .label = "Text", .text = "{{text}}"},
         blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment",
                                           .options = {"negative", "neutral", "positive"}}},
        make_texts(o)};
    task_run_args args;
    args.task_name = task_name;
    args.task_title = "Sentiment of short texts";
    args.task_description = "Read the text and say whether it is negative, neutral or positive";
    args.assignment_duration_in_seconds = 600;
    args.max_num_concurrent_units = 2000;  // the launcher keeps at most this many units out at once
    pipeline campaign{std::move(form), server, crowd, std::move(dispatcher), db, args};
    // [campaign]

    // Simulated time: the pipeline reads this clock, the annotators act on it.
    time_point now = time_point{} + std::chrono::hours(24 * 365 * 56);
    auto const read_now = [&] { return now; };
    campaign.set_clock(read_now);  // kept by reference: it lives as long as the campaign
    auto const wall_start = std::chrono::steady_clock::now();
    auto const started = now;
    outcome r;
    r.resumed = !db.find_task_runs({.is_completed = false}).empty();
    r.run = campaign.launch();
    r.done_before = db.find_units({.task_run = r.run, .status = unit_status::completed}).size();

    std::mt19937 rng(o.seed + 1);
    std::uniform_real_distribution<double> jitter(0.6, 1.4), chance(0.0, 1.0);
    std::uniform_int_distribution<std::size_t> other(1, 2);

    // Events: (when, who). A person with a unit submits it when it is due; then asks for the next one.
    using event = std::pair<time_point, std::size_t>;
    std::priority_queue<event, std::vector<event>, std::greater<>> events;
    for (std::size_t i = 0; i < people.size(); ++i) {
        people[i].agent.reset();
        people[i].done = 0;
        events.push({now + std::chrono::seconds(static_cast<long>(i % 60)), i});  // they arrive over a minute
    }

    std::size_t const expected_units = static_cast<std::size_t>(o.items) * static_cast<std::size_t>(o.adaptive ? 2 : o.overlap);
    progress_bar bar(show_progress, expected_units);
    time_point last_grant = now, next_tick = now + std::chrono::minutes(1);
    auto const stall = std::chrono::minutes(30);  // no grant for this long, nothing in hand: what is left is stuck

    while (!events.empty() && !campaign.is_complete()) {
        auto [when, who] = events.top();
        events.pop();
        now = when;
        while (next_tick <= now) {  // the operator's periodic work: expiry, patience, launching more
            campaign.tick();
            next_tick += std::chrono::minutes(1);
        }
        auto& p = people[who];
        if (p.agent) {
            if (p.leaves_after >= 0 && p.done == p.leaves_after) {  // leaves in the middle of this unit
                server.channel().disconnect(*p.agent);
                p.agent.reset();
                ++r.left;
                continue;
            }
            // The truth with the person's accuracy, else one of the two other sentiments; a spammer: "positive".
            auto const truth = true_sentiment(o.seed, p.text);
            auto const given = p.spammer ? std::size_t{2} : chance(rng) < p.accuracy ? truth : (truth + other(rng)) % 3;
            auto ack = server.request(packet{"submit", p.agent,
                                             {{"token", p.token}, {"submission", {{"sentiment", sentiments[given]}}}}});
            if (ack.type != "submitted") {
                std::cerr << "\nsimulate: " << p.name << "'s submission was refused: " << ack.data.dump() << "\n";
                r.ok = false;
                break;
            }
            ++p.done;
            ++r.completed;
            p.agent.reset();
            auto const rate = static_cast<double>(r.completed) /
                              std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());
            bar.show(r.done_before + r.completed, campaign.dispatcher_ref().counts().steals, rate);
            if (campaign.is_complete()) break;
        }
        auto reply = server.request(
            packet{"register", std::nullopt, {{"worker_name", p.name}, {"profile", {{"langs", p.langs}}}}});
        if (reply.type == "agent_details") {
            p.agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
            p.token = reply.data["token"].get<std::string>();
            p.text = reply.data["init_data"]["unit_data"].value("id", -1);
            last_grant = now;
            auto const takes = std::chrono::duration<double>(p.seconds_per_unit * jitter(rng));
            events.push({now + std::chrono::duration_cast<clock::duration>(takes), who});
        } else if (reply.type == "no_work") {
            ++r.refused;
            bool const anyone_busy = std::any_of(people.begin(), people.end(), [](annotator const& a) { return a.agent.has_value(); });
            if (!anyone_busy && now - last_grant > stall) continue;  // nothing can move: this person stops asking
            events.push({now + std::chrono::seconds(60), who});     // idle: asks again in a minute
        } else {
            std::cerr << "\nsimulate: " << p.name << " could not register: " << reply.data.dump() << "\n";
            r.ok = false;
            break;
        }
    }
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    bar.show(r.done_before + r.completed, campaign.dispatcher_ref().counts().steals,
             static_cast<double>(r.completed) / std::max(r.wall, 1e-9), /*force=*/true);
    bar.finish();

    // [report]
    // The report: completions per language, steals, and what cannot finish with the people who joined.
    auto const& routed = campaign.dispatcher_ref();
    for (auto key : routed.starved()) ++r.starved_by_lang[routed.item(key).lang];
    // [report]
    r.steals = routed.counts().steals;
    r.units = db.find_units({.task_run = r.run}).size();
    r.complete = campaign.is_complete();
    r.simulated = std::chrono::duration_cast<std::chrono::seconds>(now - started);
    if (!r.complete) campaign.shutdown();  // units in hand go back; the run stays open for the next start
    return r;
}

void print_quality(label_quality const& q, std::string_view indent = "  ") {
    std::printf("%slabels        %zu answers on %zu texts; Krippendorff's alpha %s\n", indent.data(), q.annotations, q.texts,
                q.alpha ? std::to_string(*q.alpha).substr(0, 5).c_str() : "undefined");
    std::printf("%s              right against the hidden truth: majority vote %.1f%%, Dawid-Skene %.1f%%\n", indent.data(),
                100 * q.majority_right, 100 * q.dawid_skene_right);
    if (q.spammer_estimate >= 0)
        std::printf("%s              the spammer's accuracy as Dawid-Skene estimates it: %.2f\n", indent.data(),
                    q.spammer_estimate);
}

}  // namespace

int main(int argc, char** argv) {
    options const o = parse(argc, argv);
    if (o.fresh) {
        std::error_code ec;
        for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db + suffix, ec);
    }
    stores::sqlite db{o.db};
    auto people = make_annotators(o);
    outcome const r =
        o.adaptive
            ? play(o, db, routing::adaptive_overlap{.min = 2, .max = static_cast<std::uint32_t>(o.overlap),
                                                    .agreement = o.agreement, .field = "sentiment"},
                   people, "simulate-sentiment-adaptive", o.progress)
            : play(o, db, routing::average_per_task{static_cast<double>(o.overlap)}, people, "simulate-sentiment",
                   o.progress);

    std::map<std::string, std::size_t> expected, done_by_lang;
    for (auto const& t : make_texts(o)) expected[t["lang"].get<std::string>()] += static_cast<std::size_t>(o.overlap);
    // Checks on what the store holds (one query): a unit done once, a worker on at most one unit of a text.
    bool ok = r.ok;
    std::size_t run_completed = 0;
    std::set<std::int64_t> units_done;
    std::set<std::pair<std::int64_t, std::int64_t>> worker_texts;  // (assignment, worker)
    for (auto const& a : db.find_agents({.task_run = r.run, .status = agent_status::completed})) {
        if (!units_done.insert(a.unit.value()).second) {
            std::cerr << "simulate: unit " << a.unit.value() << " was completed twice\n";
            ok = false;
        }
        if (!worker_texts.insert({a.assignment.value(), a.worker.value()}).second) {
            std::cerr << "simulate: a worker did two units of assignment " << a.assignment.value() << "\n";
            ok = false;
        }
        ++run_completed;
        ++done_by_lang[a.state["inputs"].value("lang", "?")];
    }
    std::size_t starved_total = 0;
    for (auto const& [lang, n] : r.starved_by_lang) starved_total += n;
    if (!r.complete && starved_total == 0) {
        std::cerr << "simulate: the run stopped with work left that no report explains\n";
        ok = false;
    }

    std::printf("simulate: task run %lld of \"%s\" in %s (%s)\n", static_cast<long long>(r.run.value()),
                o.adaptive ? "simulate-sentiment-adaptive" : "simulate-sentiment", o.db.c_str(),
                r.resumed ? ("resumed; " + std::to_string(r.done_before) + " units were done before").c_str() : "new");
    std::size_t rare_count = 0;
    for (auto const& p : people) rare_count += std::count(p.langs.begin(), p.langs.end(), std::string(rare)) > 0 ? 1 : 0;
    std::printf("  annotators    %zu; %zu left mid-unit (the unit went back to the pool); readers of %s: %zu\n", people.size(),
                r.left, std::string(rare).c_str(), rare_count);
    if (o.adaptive)
        std::printf("  texts         %d, 2 units each and one more while the answers disagree (up to %d): %zu units\n",
                    o.items, o.overlap, r.units);
    else
        std::printf("  texts         %d x %d units = %zu units\n", o.items, o.overlap,
                    static_cast<std::size_t>(o.items) * static_cast<std::size_t>(o.overlap));
    std::printf("  completed     %zu units this session, %zu of %zu in the run\n", r.completed, run_completed, r.units);
    std::printf("  by language  ");
    for (auto lang : languages) {
        auto const l = std::string(lang);
        if (o.adaptive) std::printf(" %s %zu", l.c_str(), done_by_lang[l]);  // units per text vary
        else std::printf(" %s %zu/%zu", l.c_str(), done_by_lang[l], expected[l]);
    }
    std::printf("\n  steals        %zu (reserved units taken over from annotators who went idle or left)\n", r.steals);
    std::printf("  starved       %zu texts", starved_total);
    for (auto const& [lang, n] : r.starved_by_lang) std::printf("  %s: %zu", lang.c_str(), n);
    std::printf("%s\n", starved_total > 0 ? "  (fewer eligible annotators joined than units left)" : "");
    std::printf("  time          %s simulated, %.2f s wall, %.0f units/s (%zu no-work replies)\n", hours(r.simulated).c_str(),
                r.wall, static_cast<double>(r.completed) / std::max(r.wall, 1e-9), r.refused);
    std::printf("  run           %s\n", r.complete ? "complete"
                                                    : "open: the starved texts wait (run again with --rare-readers 2 to finish)");
    auto const q = score_labels(db, r.run, o, people);
    print_quality(q);

    if (o.adaptive) {
        // The same annotators on the same texts with a fixed overlap of `overlap`, in memory, to compare.
        stores::memory fixed_db;
        auto const fixed = play(o, fixed_db, routing::average_per_task{static_cast<double>(o.overlap)}, people,
                                "simulate-sentiment-fixed", false);
        auto const fq = score_labels(fixed_db, fixed.run, o, people);
        std::printf("fixed overlap %d on the same texts and annotators (in memory, for comparison)\n", o.overlap);
        std::printf("  units         %zu completed of %zu\n", fixed.completed, fixed.units);
        print_quality(fq);
        auto const saved = static_cast<double>(fixed.completed) - static_cast<double>(r.completed);
        std::printf("adaptive overlap saved %.0f units of %zu (%.1f%%): Dawid-Skene %.1f%% right vs %.1f%% with "
                    "overlap %d; majority vote %.1f%% vs %.1f%%\n",
                    saved, fixed.completed, 100 * saved / std::max(1.0, static_cast<double>(fixed.completed)),
                    100 * q.dawid_skene_right, 100 * fq.dawid_skene_right, o.overlap, 100 * q.majority_right,
                    100 * fq.majority_right);
        ok = ok && fixed.ok;
    }
    return ok ? 0 : 1;
}
