#pragma once
// Move scorers and the model file.
//
// A move scorer rates the legal moves of a position: score(x) = sum_k w_k f_k(x) + c[x'], with
// f the move features (features.hpp), w their weights and c an optional weight per cell, x' the
// cell as the player to move sees it (oriented_cell). The searches use softmax(score) as move
// priors. A heuristic agent's scorer has the weights of its spec and no cell weights; a model's
// are learnt from games (training.hpp).
//
// Model file, version 1: a text file of two lines.
//   p2p-workload-model 1
//   {"config_key":"hex8_2p","board_size":8,"features":["own_path",...],
//    "feature_weights":[...],"cell_weights":[n*n numbers, row-major, Black's orientation],
//    "training":{"games":..,"validation_games":..,"samples":..,"validation_samples":..,
//                "epochs":..,"learning_rate":..,"l2":..,"seed":..,"train_loss":..,
//                "val_loss":..,"uniform_val_loss":..}}
// A file of another version, for another config key or with other features is refused.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bench/workload/features.hpp"
#include "bench/workload/hex.hpp"

namespace p2p::workload {

inline constexpr std::string_view model_magic = "p2p-workload-model";
inline constexpr int model_format_version = 1;

struct move_scorer {
  feature_weights weights{};
  std::vector<double> cell_weights;  // empty, or one per cell in Black's orientation

  double score(const position_analysis& analysis, int cell, int size) const {
    const auto f = analysis.features(cell);
    double s = 0;
    for (int k = 0; k < feature_count; ++k) {
      s += weights[static_cast<std::size_t>(k)] * static_cast<double>(f[static_cast<std::size_t>(k)]);
    }
    if (!cell_weights.empty()) {
      s += cell_weights[static_cast<std::size_t>(oriented_cell(cell, size, analysis.mover()))];
    }
    return s;
  }
};

struct training_summary {
  std::uint64_t games = 0, validation_games = 0;
  std::uint64_t samples = 0, validation_samples = 0;
  int epochs = 0;
  double learning_rate = 0, l2 = 0;
  std::uint64_t seed = 0;
  // Mean cross-entropy of the moves played under the model's softmax, in nats; the uniform
  // loss is that of choosing uniformly among the legal moves, for comparison.
  double train_loss = 0, val_loss = 0, uniform_val_loss = 0;
};

struct model {
  game_config config;
  move_scorer scorer;
  training_summary training;
};

// A model file that cannot be used: unreadable, another version, another config key, malformed.
struct model_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string serialize_model(const model& m);
// `source` names the file in messages. Throws model_error.
model parse_model(std::string_view text, const game_config& expected, std::string_view source);
model load_model(const std::filesystem::path& path, const game_config& expected);
// "<config_key>-<16 hex digits>": FNV-1a 64 of the file's bytes.
std::string model_id_of(std::string_view file_bytes, std::string_view config_key);

}  // namespace p2p::workload
