#pragma once
// Move features: what the heuristic agents weigh and what the trained models learn weights for.
// A move's score is the weighted sum of its features (plus, for a model, a learnt weight for
// the cell itself); the searches turn scores into move priors with a softmax.
//
// The features of a move x for the player to move P (opponent Q), in this order:
//   own_path     -slack_P(x) / n. slack_P(x) is how many more empty cells P's cheapest
//                connection through x needs than P's cheapest connection at all (0 when x lies
//                on one of P's shortest connections; capped at n). Connections are counted in
//                empty cells, P's stones cost nothing and Q's stones block.
//   block_path   -slack_Q(x) / n: the same for the opponent's connections; 0 when playing x
//                occupies a cell of one of Q's shortest connections.
//   bridge       the number of P's stones x would form a bridge with (two cells apart with both
//                cells between them empty), / 6.
//   join_groups  how many separate groups of P's (a stone's group includes an edge it touches)
//                x would join, minus one, / 3; this is also how a threatened bridge is saved.
//   adjacent_own P's stones next to x, / 6.
//   adjacent_opp Q's stones next to x, / 6.
//   center       1 - hex distance of x from the centre / (n - 1).
#include <array>
#include <cstdint>
#include <string_view>

#include "bench/workload/hex.hpp"

namespace p2p::workload {

inline constexpr int feature_count = 7;
inline constexpr std::array<std::string_view, feature_count> feature_names = {
    "own_path", "block_path", "bridge", "join_groups", "adjacent_own", "adjacent_opp", "center"};

using feature_vector = std::array<float, feature_count>;
using feature_weights = std::array<double, feature_count>;

// The cell as seen by the player to move: unchanged for Black; transposed for White, so that
// White's goal (left to right) reads as Black's (top to bottom). One table of cell weights then
// serves both colours.
inline int oriented_cell(int cell, int size, player mover) {
  return mover == player::black ? cell : (cell % size) * size + cell / size;
}

// What the features of every move of one position need: shortest-connection distances for both
// players from each of their edges. Reusable: analyse() never allocates.
class position_analysis {
 public:
  void analyse(const board& b);
  // Features of playing the empty cell `cell` in the analysed position.
  feature_vector features(int cell) const;
  player mover() const { return mover_; }

 private:
  static constexpr std::int16_t unreachable = 32000;
  // 0-1 breadth-first search from one edge: the empty cells a connection from that edge to
  // each cell needs (the cell itself included), `unreachable` through the opponent's stones.
  void distances_from_edge(player who, bool far_edge, std::array<std::int16_t, max_cells>& out);
  float slack(const std::array<std::int16_t, max_cells>& near,
              const std::array<std::int16_t, max_cells>& far, int best, int cell) const;

  const board* board_ = nullptr;
  player mover_ = player::black;
  std::array<std::int16_t, max_cells> own_near_{}, own_far_{}, opp_near_{}, opp_far_{};
  int own_best_ = 0, opp_best_ = 0;
  std::array<std::int16_t, 4096> queue_{};
};

}  // namespace p2p::workload
