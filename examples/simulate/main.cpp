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
//   simulate [--db crowdline.db] [--items 3000] [--annotators 40] [--overlap 2] [--leave 0.25]
//            [--rare-readers 1] [--seed 7] [--fresh] [--no-progress]
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
};

[[noreturn]] void usage(std::string_view error) {
    std::cerr << "simulate: " << error << "\n"
              << "usage: simulate [--db PATH] [--items N] [--annotators N] [--overlap N] [--leave SHARE]\n"
                 "                [--rare-readers N] [--seed N] [--fresh] [--no-progress]\n"
                 "  --db PATH          the campaign database (default: crowdline.db in this folder)\n"
                 "  --items N          texts to annotate (default: 3000)\n"
                 "  --annotators N     simulated annotators, at least 2 (default: 40)\n"
                 "  --overlap N        annotations per text, by different annotators (default: 2)\n"
                 "  --leave SHARE      share of annotators who leave mid-way, 0..1 (default: 0.25)\n"
                 "  --rare-readers N   annotators who also read the rare language, fi (default: 1)\n"
                 "  --seed N           random seed: the same seed gives the same campaign (default: 7)\n"
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
        } else if (a == "--fresh") o.fresh = true;
        else if (a == "--no-progress") o.progress = false;
        else if (a == "-h" || a == "--help") usage("help");
        else usage("unknown argument \"" + std::string(a) + '"');
    }
    if (o.rare_readers > o.annotators) usage("--rare-readers: more than --annotators");
    return o;
}

// ---- the simulated people -----------------------------------------------------------------------------

struct annotator {
    std::string name;
    std::vector<std::string> langs;
    double seconds_per_unit = 20;      ///< mean time a unit takes this person
    int leaves_after = -1;             ///< units done before leaving mid-unit (-1: stays)
    // while simulating
    std::optional<agent_id> agent{};
    std::string token{};
    int done = 0;
};

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

}  // namespace

int main(int argc, char** argv) {
    options const o = parse(argc, argv);
    if (o.fresh) {
        std::error_code ec;
        for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db + suffix, ec);
    }
    stores::sqlite db{o.db};
    architects::in_process server{{.name = "simulate"}};
    providers::mock crowd;

    // [campaign]
    // Each text is one assignment of `overlap` units; a worker may take a text only in a language it reads,
    // both when it is first routed and when it is taken over from someone who went idle or left.
    auto dispatcher = routing::make_dispatcher<text_item, reader>(
        routing::average_per_task{static_cast<double>(o.overlap)},
        routing::steal_by_key{[](text_item const& t) { return t.lang; }, [](reader const& r) { return r.langs; }},
        routing::options{.lease = std::chrono::minutes(10), .steal_after = std::chrono::minutes(5)});
    blueprints::static_form form{
        {blueprints::fields::display_text{.name = "text", .label = "Text", .text = "{{text}}"},
         blueprints::fields::single_choice{.name = "sentiment", .label = "Sentiment",
                                           .options = {"negative", "neutral", "positive"}}},
        make_texts(o)};
    task_run_args args;
    args.task_name = "simulate-sentiment";
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
    bool const resumed = !db.find_task_runs({.is_completed = false}).empty();
    auto const run = campaign.launch();
    std::size_t const done_before = db.find_units({.task_run = run, .status = unit_status::completed}).size();

    auto people = make_annotators(o);
    std::mt19937 rng(o.seed + 1);
    std::uniform_real_distribution<double> jitter(0.6, 1.4);
    std::uniform_int_distribution<std::size_t> answer(0, 2);
    constexpr std::array<std::string_view, 3> answers{"negative", "neutral", "positive"};

    // Events: (when, who). A person with a unit submits it when it is due; then asks for the next one.
    using event = std::pair<time_point, std::size_t>;
    std::priority_queue<event, std::vector<event>, std::greater<>> events;
    for (std::size_t i = 0; i < people.size(); ++i)
        events.push({now + std::chrono::seconds(static_cast<long>(i % 60)), i});  // they arrive over a minute

    std::size_t completed = 0, left = 0, refused = 0;
    std::size_t const total = static_cast<std::size_t>(o.items) * static_cast<std::size_t>(o.overlap);
    progress_bar bar(o.progress, total);
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
                ++left;
                continue;
            }
            auto ack = server.request(packet{"submit", p.agent,
                                             {{"token", p.token}, {"submission", {{"sentiment", answers[answer(rng)]}}}}});
            if (ack.type != "submitted") {
                std::cerr << "\nsimulate: " << p.name << "'s submission was refused: " << ack.data.dump() << "\n";
                return 1;
            }
            ++p.done;
            ++completed;
            p.agent.reset();
            auto const rate = static_cast<double>(completed) /
                              std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());
            bar.show(done_before + completed, campaign.dispatcher_ref().counts().steals, rate);
            if (campaign.is_complete()) break;
        }
        auto reply = server.request(
            packet{"register", std::nullopt, {{"worker_name", p.name}, {"profile", {{"langs", p.langs}}}}});
        if (reply.type == "agent_details") {
            p.agent = agent_id{reply.data["agent_id"].get<std::int64_t>()};
            p.token = reply.data["token"].get<std::string>();
            last_grant = now;
            auto const takes = std::chrono::duration<double>(p.seconds_per_unit * jitter(rng));
            events.push({now + std::chrono::duration_cast<clock::duration>(takes), who});
        } else if (reply.type == "no_work") {
            ++refused;
            bool const anyone_busy = std::any_of(people.begin(), people.end(), [](annotator const& a) { return a.agent.has_value(); });
            if (!anyone_busy && now - last_grant > stall) continue;  // nothing can move: this person stops asking
            events.push({now + std::chrono::seconds(60), who});     // idle: asks again in a minute
        } else {
            std::cerr << "\nsimulate: " << p.name << " could not register: " << reply.data.dump() << "\n";
            return 1;
        }
    }
    auto const wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    bar.show(done_before + completed, campaign.dispatcher_ref().counts().steals, static_cast<double>(completed) / std::max(wall, 1e-9),
             /*force=*/true);
    bar.finish();

    // [report]
    // The report: completions per language, steals, and what cannot finish with the people who joined.
    auto const& routed = campaign.dispatcher_ref();
    std::map<std::string, std::size_t> starved_by_lang;
    for (auto key : routed.starved()) ++starved_by_lang[routed.item(key).lang];
    // [report]
    std::map<std::string, std::size_t> expected, done_by_lang;
    for (auto const& t : make_texts(o)) expected[t["lang"].get<std::string>()] += static_cast<std::size_t>(o.overlap);
    // Checks on what the store holds (one query): a unit done once, a worker on at most one unit of a text.
    bool ok = true;
    std::size_t run_completed = 0;
    std::set<std::int64_t> units_done;
    std::set<std::pair<std::int64_t, std::int64_t>> worker_texts;  // (assignment, worker)
    for (auto const& a : db.find_agents({.task_run = run, .status = agent_status::completed})) {
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
    for (auto const& [lang, n] : starved_by_lang) starved_total += n;
    bool const complete = campaign.is_complete();
    if (!complete && starved_total == 0) {
        std::cerr << "simulate: the run stopped with work left that no report explains\n";
        ok = false;
    }

    std::printf("simulate: task run %lld of \"%s\" in %s (%s)\n", static_cast<long long>(run.value()),
                args.task_name.c_str(), o.db.c_str(),
                resumed ? ("resumed; " + std::to_string(done_before) + " units were done before").c_str() : "new");
    std::size_t rare_count = 0;
    for (auto const& p : people) rare_count += std::count(p.langs.begin(), p.langs.end(), std::string(rare)) > 0 ? 1 : 0;
    std::printf("  annotators    %zu; %zu left mid-unit (the unit went back to the pool); readers of %s: %zu\n", people.size(),
                left, std::string(rare).c_str(), rare_count);
    std::printf("  texts         %d x %d units = %zu units\n", o.items, o.overlap, total);
    std::printf("  completed     %zu units this session, %zu of %zu in the run\n", completed, run_completed, total);
    std::printf("  by language  ");
    for (auto lang : languages) {
        auto const l = std::string(lang);
        std::printf(" %s %zu/%zu", l.c_str(), done_by_lang[l], expected[l]);
    }
    std::printf("\n  steals        %zu (reserved units taken over from annotators who went idle or left)\n",
                routed.counts().steals);
    std::printf("  starved       %zu texts", starved_total);
    for (auto const& [lang, n] : starved_by_lang) std::printf("  %s: %zu", lang.c_str(), n);
    std::printf("%s\n", starved_total > 0 ? "  (fewer eligible annotators joined than units left)" : "");
    auto const simulated = std::chrono::duration_cast<std::chrono::seconds>(now - started);
    std::printf("  time          %s simulated, %.2f s wall, %.0f units/s (%zu no-work replies)\n", hours(simulated).c_str(),
                wall, static_cast<double>(completed) / std::max(wall, 1e-9), refused);
    std::printf("  run           %s\n", complete ? "complete"
                                                  : "open: the starved texts wait (run again with --rare-readers 2 to finish)");
    if (!complete) campaign.shutdown();  // units in hand go back; the run stays open for the next start
    return ok ? 0 : 1;
}
