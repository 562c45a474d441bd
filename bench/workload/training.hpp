#pragma once
// Learning a move scorer from game records.
//
// Every position of a record after its random opening is one sample: the legal moves, and the
// move the agent chose. The model is a conditional logit (softmax) over the legal moves,
// score(x) = w . f(x) + c[class(x')], where f are the move features, x' the cell in the mover's
// orientation and class(x') ties the cell to its 180-degree rotation (the board's symmetry that
// keeps both players' goals). It is fitted by stochastic gradient descent on the cross-entropy
// of the chosen moves with L2 regularisation, the games in a seeded order per epoch. A seeded
// share of the games is held out for the validation loss. Trained on games of a search agent,
// the scorer learns to predict that search's choices; a search guided by it then spends its
// playouts on the moves the stronger search would have played.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "bench/workload/games.hpp"
#include "bench/workload/model.hpp"

namespace p2p::workload {

struct training_options {
  std::uint64_t seed = 1;
  int epochs = 8;
  double learning_rate = 0.05;
  double l2 = 1e-4;
  double validation_fraction = 0.1;  // of the games, at least one game
};

struct loaded_records {
  std::vector<game_record> games;  // of the requested config key, in file order
  std::uint64_t files = 0;
  std::uint64_t other_config_games = 0;  // skipped: recorded for another config key
};

// Reads every *.jsonl file directly in each directory, files in name order. Throws
// record_error for an unreadable directory or a bad record (naming file and line).
loaded_records load_records(const std::vector<std::filesystem::path>& dirs,
                            const game_config& config);

// Throws std::invalid_argument for bad options or fewer than two games.
model train_model(const game_config& config, const std::vector<game_record>& games,
                  const training_options& options,
                  const std::function<void(int epochs_done, int epochs)>& progress = {});

}  // namespace p2p::workload
