#pragma once
// Agents and their spec strings.
//
//   random                        a uniformly random legal move
//   mcts:PLAYOUTS                 UCT (UCB1, c = 0.3) with uniformly random playouts to the end
//                                 of the game; PLAYOUTS iterations per move, at least 1
//   heuristic:W1,...,W7[:PLAYOUTS]  the move scorer with these weights for the features
//                                 own_path, block_path, bridge, join_groups, adjacent_own,
//                                 adjacent_opp, center (features.hpp). Without PLAYOUTS (or 0):
//                                 the best-scored move. With PLAYOUTS: the search below.
//   model:PATH[:PLAYOUTS]         the same with the weights of a trained model file. When the
//                                 text after the last ':' is a whole number it is PLAYOUTS,
//                                 otherwise everything after "model:" is the path.
//
// The guided search (heuristic and model with PLAYOUTS) is the same tree search as mcts with
// the same random playouts, but selects with PUCT: the softmax of the move scores is each move's
// prior, q + 1.5 * prior * sqrt(N) / (1 + n), unvisited moves valued at their parent's value
// minus 0.3. At equal playouts any difference in strength comes from the scores.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench/workload/hex.hpp"
#include "bench/workload/model.hpp"

namespace p2p::workload {

enum class agent_kind { random, mcts, heuristic, model };

inline constexpr int max_playouts = 10'000'000;

struct agent_spec {
  agent_kind kind = agent_kind::random;
  std::string text;  // as given
  int playouts = 0;
  feature_weights weights{};  // heuristic
  std::string model_path;     // model
};

// A spec that cannot be parsed; the message names the part that is wrong and what is expected.
struct spec_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

agent_spec parse_agent_spec(std::string_view text);

class agent {
 public:
  virtual ~agent() = default;
  // A legal move for the player to move; the game must not be over.
  virtual int choose_move(const board& position, rng& random) = 0;
  // The player id used in match records: the spec, with a model's path replaced by its id.
  const std::string& name() const { return name_; }
  // Random playouts run so far, for measurements.
  std::uint64_t playouts_run() const { return playouts_run_; }

 protected:
  explicit agent(std::string name) : name_(std::move(name)) {}
  std::uint64_t playouts_run_ = 0;

 private:
  std::string name_;
};

// Loads a model file for model specs (throws model_error when it cannot be used).
std::unique_ptr<agent> make_agent(const agent_spec& spec, const game_config& config);
std::unique_ptr<agent> make_random_agent();
std::unique_ptr<agent> make_mcts_agent(int playouts);
// Heuristic or model agent from a scorer in memory; playouts 0 picks the best-scored move.
std::unique_ptr<agent> make_scorer_agent(move_scorer scorer, int playouts, std::string name);

}  // namespace p2p::workload
