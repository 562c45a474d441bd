#pragma once
// Agents and their spec strings.
//
//   random                        a uniformly random legal move
//   mcts:PLAYOUTS                 UCT (UCB1, c = 0.3) with uniformly random playouts to the end
//                                 of the game; PLAYOUTS iterations per move, 1 to max_playouts
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
// minus 0.3. Moves of equal prior are tried in a random order drawn from the game's seed.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench/workload/hex.hpp"
#include "bench/workload/model.hpp"

namespace p2p::workload {

enum class agent_kind { random, mcts, heuristic, model };

// The most playouts per move a spec may ask for. A search's tree holds at most about
// playouts x empty cells nodes of 24 bytes: at this cap 0.3 GB on hex8_2p, 0.7 GB on hex11_2p,
// 1.7 GB on hex19_2p; far fewer in practice, since only nodes visited twice grow children.
inline constexpr int max_playouts = 200'000;

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

// The canonical name of a heuristic agent: "heuristic:W1,...,W7" with each weight in its
// shortest round-trip form (-0 as 0), then ":PLAYOUTS" when PLAYOUTS is not 0. Specs that parse
// to the same agent ("1.50" and "1.5", "0:0" and "0") get the same name, so one agent keeps one
// player id in Elo records.
std::string heuristic_name(const feature_weights& weights, int playouts);

class agent {
 public:
  virtual ~agent() = default;
  // A legal move for the player to move; the game must not be over.
  virtual int choose_move(const board& position, rng& random) = 0;
  // The player id used in match records: the spec in canonical form (mcts:400, heuristic with
  // normalised numbers, a model's path replaced by its id, no ":0" playouts).
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
