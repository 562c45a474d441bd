#include "bench/workload_bench.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>

#include "bench/workload/agents.hpp"
#include "bench/workload/games.hpp"
#include "bench/workload/training.hpp"
#include "protocol/common/json.hpp"

namespace p2p::bench {

namespace {

namespace wl = p2p::workload;
using bench_clock = std::chrono::steady_clock;

// Weights that play sensibly (greedy, they beat mcts:100 on hex8): shortest connections first.
constexpr wl::feature_weights bench_heuristic_weights = {3, 3, 0, 1.5, -1, 0, 0.3};

double seconds_since(bench_clock::time_point start) {
  return std::chrono::duration<double>(bench_clock::now() - start).count();
}

// The straightforward playout the fill-then-flood one is measured against: random moves one at
// a time through the referee's union-find, stopping at the win.
wl::player incremental_playout(const wl::board& position, wl::rng& random, wl::board& scratch) {
  scratch = position;
  std::array<std::int16_t, wl::max_cells> empties;
  int count = 0;
  for (int c = 0; c < scratch.cells(); ++c) {
    if (scratch.at(c) == wl::stone::empty) empties[static_cast<std::size_t>(count++)] = static_cast<std::int16_t>(c);
  }
  for (int i = 0; i < count && !scratch.over(); ++i) {
    const int j = i + static_cast<int>(random.below(static_cast<std::uint32_t>(count - i)));
    std::swap(empties[static_cast<std::size_t>(i)], empties[static_cast<std::size_t>(j)]);
    scratch.play_unchecked(empties[static_cast<std::size_t>(i)]);
  }
  return *scratch.winner();
}

struct game_rate {
  double games_per_second = 0;
  double playouts_per_game = 0;
  double positions_per_second = 0;
  std::vector<wl::game_record> records;
};

game_rate time_selfplay(const wl::game_config& config, wl::agent& a, int games, std::uint64_t seed) {
  const auto playouts_before = a.playouts_run();
  const auto start = bench_clock::now();
  game_rate rate;
  rate.records = wl::run_selfplay(config, a, games, seed, 2);
  const double elapsed = seconds_since(start);
  std::uint64_t positions = 0;
  for (const auto& r : rate.records) positions += r.moves.size() - static_cast<std::size_t>(r.opening_moves);
  rate.games_per_second = games / elapsed;
  rate.positions_per_second = static_cast<double>(positions) / elapsed;
  rate.playouts_per_game = static_cast<double>(a.playouts_run() - playouts_before) / games;
  return rate;
}

}  // namespace

std::vector<workload_figure> measure_workload(const workload_bench_settings& s) {
  const auto config = wl::parse_config_key(s.config_key);
  if (s.playouts < 1 || s.games < 1 || s.playout_count < 1 || s.train_games < 2 || s.epochs < 1 ||
      s.repeat < 1) {
    throw std::invalid_argument(
        "--playouts, --games, --playout-count, --epochs and --repeat must be positive, "
        "--train-games at least 2");
  }
  const std::string p = std::to_string(s.playouts);
  const std::string heuristic_name = wl::heuristic_name(bench_heuristic_weights, 0);
  // Per figure name: our runs and the baseline's.
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> runs;
  std::vector<std::string> order;
  auto record = [&](const std::string& name, double ours, double base) {
    if (!runs.count(name)) order.push_back(name);
    runs[name].first.push_back(ours);
    runs[name].second.push_back(base);
  };

  for (int run = 0; run < s.repeat; ++run) {
    const auto seed = wl::derive_seed(s.seed, static_cast<std::uint64_t>(run), 5);
    // Playouts from the empty board: the playout rate and its move-by-move baseline.
    wl::board start(config.size);
    wl::rng random(seed);
    wl::board scratch(config.size);
    std::uint64_t black_wins = 0;
    auto t = bench_clock::now();
    for (int i = 0; i < s.playout_count; ++i) black_wins += start.random_playout(random) == wl::player::black;
    const double playout_rate = s.playout_count / seconds_since(t);
    t = bench_clock::now();
    for (int i = 0; i < s.playout_count; ++i) {
      black_wins += incremental_playout(start, random, scratch) == wl::player::black;
    }
    const double incremental_rate = s.playout_count / seconds_since(t);
    if (black_wins > 2 * static_cast<std::uint64_t>(s.playout_count)) throw std::logic_error("impossible");
    record("random playouts " + config.key, playout_rate, incremental_rate);

    auto random_agent = wl::make_random_agent();
    auto random_games = time_selfplay(config, *random_agent, s.games, seed);
    record("games random", random_games.games_per_second, playout_rate);

    // The bound of mcts:P: its games/s if searching cost nothing but its playouts. The playouts
    // are timed from the positions those games searched (fewer empty cells than the empty
    // board, so faster), cycling through them.
    auto mcts = wl::make_mcts_agent(s.playouts);
    auto mcts_games = time_selfplay(config, *mcts, s.games, seed);
    std::vector<wl::board> searched;
    for (const auto& r : mcts_games.records) {
      wl::board b(config.size);
      for (std::size_t ply = 0; ply < r.moves.size(); ++ply) {
        if (ply >= static_cast<std::size_t>(r.opening_moves)) searched.push_back(b);
        b.play_unchecked(r.moves[ply]);
      }
    }
    t = bench_clock::now();
    for (int i = 0; i < s.playout_count; ++i) {
      const auto& from = searched[static_cast<std::size_t>(i) % searched.size()];
      black_wins += from.random_playout(random) == wl::player::black;
    }
    const double searched_playout_rate = s.playout_count / seconds_since(t);
    if (black_wins > 3 * static_cast<std::uint64_t>(s.playout_count)) throw std::logic_error("impossible");
    record("games mcts:" + p, mcts_games.games_per_second,
           searched_playout_rate / std::max(mcts_games.playouts_per_game, 1.0));

    wl::move_scorer heuristic;
    heuristic.weights = bench_heuristic_weights;
    auto greedy = wl::make_scorer_agent(heuristic, 0, heuristic_name);
    record("games " + heuristic_name, time_selfplay(config, *greedy, s.games, seed).games_per_second,
           mcts_games.games_per_second);
    auto guided = wl::make_scorer_agent(heuristic, s.playouts, heuristic_name + ":" + p);
    record("games " + heuristic_name + ":" + p,
           time_selfplay(config, *guided, s.games, seed).games_per_second,
           mcts_games.games_per_second);

    // Training data: self-play of mcts:P, itself the baseline of the training rate.
    auto teacher = wl::make_mcts_agent(s.playouts);
    auto data = time_selfplay(config, *teacher, s.train_games, seed + 1);
    wl::training_options options;
    options.seed = seed;
    options.epochs = s.epochs;
    t = bench_clock::now();
    auto trained = wl::train_model(config, data.records, options);
    const double train_seconds = seconds_since(t);
    const auto& summary_of_training = trained.training;
    const double samples = static_cast<double>(summary_of_training.samples) * (s.epochs + 1) +
                           static_cast<double>(summary_of_training.validation_samples);
    record("training samples", samples / train_seconds, data.positions_per_second);

    auto model_agent = wl::make_scorer_agent(trained.scorer, s.playouts, "model:" + p);
    record("games model:" + p, time_selfplay(config, *model_agent, s.games, seed).games_per_second,
           mcts_games.games_per_second);
  }

  std::vector<workload_figure> figures;
  for (const auto& name : order) {
    workload_figure f;
    f.name = name;
    f.unit = name.rfind("games", 0) == 0 ? "games/s" : name.rfind("training", 0) == 0 ? "samples/s" : "playouts/s";
    f.baseline = name.rfind("random playouts", 0) == 0 ? "incremental"
                 : name == "games random"              ? "playout"
                 : name.rfind("games mcts", 0) == 0    ? "bound"
                 : name == "training samples"          ? "selfplay"
                                                       : "mcts";
    f.ours = summarize(runs[name].first);
    f.base = summarize(runs[name].second);
    figures.push_back(std::move(f));
  }
  return figures;
}

std::string workload_figure_json(const workload_bench_settings& s, const workload_figure& f) {
  json::writer w;
  w.begin_object()
      .field("bench", "workload")
      .field("name", f.name)
      .field("unit", f.unit)
      .field("higher_is_better", true)
      .field("runs", static_cast<std::uint64_t>(f.ours.runs))
      .field("min", f.ours.min)
      .field("median", f.ours.median)
      .field("p99", f.ours.p99)
      .field(f.baseline + "_median", f.base.median);
  w.key(f.baseline + "_ratio");
  if (auto q = ratio(f.ours.median, f.base.median)) {
    w.value(*q);
  } else {
    w.null();
  }
  w.field("config_key", s.config_key).field("playouts", s.playouts).end_object();
  return w.take();
}

namespace {

const char* workload_usage =
    "workload options:\n"
    "  --config-key K      hex8_2p (default), hex11_2p or hex<N>_2p\n"
    "  --playouts P        playouts per move of the search agents (200)\n"
    "  --games N           games per agent and run (10)\n"
    "  --playout-count N   random playouts per run for the playout rate (100000)\n"
    "  --train-games N     self-play games of mcts:P trained on per run (100)\n"
    "  --epochs E          training epochs (2)\n"
    "  --repeat R          runs per figure (3)\n"
    "  --seed S            first seed (1)\n"
    "  --json              one JSON object per figure\n";

template <class T>
bool parse_number(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

int run_workload_bench(int argc, char** argv) {
  workload_bench_settings s;
  std::map<std::string, int*> whole = {{"playouts", &s.playouts},         {"games", &s.games},
                                       {"playout-count", &s.playout_count}, {"train-games", &s.train_games},
                                       {"epochs", &s.epochs},             {"repeat", &s.repeat}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << workload_usage;
      return 0;
    }
    if (arg == "--json") {
      s.json = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      std::cerr << "p2p-bench workload: unexpected argument '" << arg << "'\n" << workload_usage;
      return 2;
    }
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "p2p-bench workload: --" << name << " needs a value\n" << workload_usage;
      return 2;
    }
    bool ok = true;
    if (name == "config-key") {
      s.config_key = value;
    } else if (name == "seed") {
      ok = parse_number(value, s.seed);
    } else if (auto it = whole.find(name); it != whole.end()) {
      ok = parse_number(value, *it->second);
    } else {
      std::cerr << "p2p-bench workload: unknown option --" << name << "\n" << workload_usage;
      return 2;
    }
    if (!ok) {
      std::cerr << "p2p-bench workload: --" << name << " '" << value << "' is not a number\n";
      return 2;
    }
  }
  std::vector<workload_figure> figures;
  try {
    figures = measure_workload(s);
  } catch (const std::invalid_argument& e) {
    std::cerr << "p2p-bench workload: " << e.what() << "\n";
    return 2;
  }
  if (!s.json) {
    std::printf("%-8s %-44s %-10s %11s %11s %11s  baseline median (ours/baseline)\n", "bench",
                "case", "unit", "min", "median", "p99");
  }
  for (const auto& f : figures) {
    if (s.json) {
      std::printf("%s\n", workload_figure_json(s, f).c_str());
    } else {
      auto q = ratio(f.ours.median, f.base.median);
      std::printf("%-8s %-44s %-10s %11.1f %11.1f %11.1f  %s %.1f (%.2fx)\n", "workload", f.name.c_str(),
                  f.unit.c_str(), f.ours.min, f.ours.median, f.ours.p99, f.baseline.c_str(),
                  f.base.median, q ? *q : 0.0);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace p2p::bench
