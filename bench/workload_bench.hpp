#pragma once
// p2p-bench workload: how fast the reference workload (bench/workload) plays and learns.
//
//   p2p-bench workload [--config-key hex8_2p] [--playouts 200] [--games 10]
//                      [--playout-count 100000] [--train-games 100] [--epochs 2]
//                      [--repeat 3] [--seed 1] [--json]
//
// Figures, each over --repeat runs (min, median, p99), each next to a baseline measured in the
// same invocation:
//   random playouts/s   fill-then-flood-once playouts from the empty board; baseline
//                       `incremental`: the same random games played move by move with
//                       union-find, stopping at the win
//   games/s random      whole games through the referee; baseline `playout`: bare playouts/s
//   games/s mcts:P      baseline `bound`: the rate if searching cost nothing beyond its
//                       playouts: playouts/s from the positions those games searched, divided
//                       by the playouts a game used
//   games/s heuristic (best-scored move, and with P playouts), model (P playouts)
//                       baseline `mcts`: games/s of mcts:P, the cost of guidance
//   training samples/s  samples through SGD (epochs plus the two loss passes); baseline
//                       `selfplay`: positions/s that self-play with mcts:P produces
// Nothing is asserted: the figures are for reading and comparing.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/stats.hpp"

namespace p2p::bench {

struct workload_bench_settings {
  std::string config_key = "hex8_2p";
  int playouts = 200;
  int games = 10;
  int playout_count = 100000;
  int train_games = 100;
  int epochs = 2;
  int repeat = 3;
  std::uint64_t seed = 1;
  bool json = false;
};

struct workload_figure {
  std::string name, unit;
  summary ours;
  std::string baseline;  // its name
  summary base;
};

// Throws std::invalid_argument for impossible settings or an unknown config key.
std::vector<workload_figure> measure_workload(const workload_bench_settings& settings);

// One JSON object: bench, name, unit, higher_is_better, runs, min, median, p99,
// <baseline>_median, <baseline>_ratio, config_key, playouts.
std::string workload_figure_json(const workload_bench_settings& settings, const workload_figure& f);

// The subcommand: argv[0] is its name ("workload"), the options follow. Prints one line per
// figure and returns the exit code (2 for bad options).
int run_workload_bench(int argc, char** argv);

}  // namespace p2p::bench
