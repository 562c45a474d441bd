#pragma once
// Playing games: one game, self-play runs, colour-swapped matches, and game records.
//
// Game record: one JSON object per line,
//   {"config_key":"hex8_2p","seed":7,"game_index":0,
//    "agents":{"black":"mcts:200","white":"mcts:200"},"opening_moves":2,
//    "moves":[27,36,...],"winner":"black","plies":41}
// moves are cells (row * n + column, row 0 at the top), Black's first; the first
// `opening_moves` of them were drawn at random, not chosen by the agents.
#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bench/workload/agents.hpp"
#include "bench/workload/hex.hpp"

namespace p2p::workload {

struct game_record {
  std::string config_key;
  std::uint64_t seed = 0;
  std::uint64_t index = 0;
  std::string black, white;  // agent names
  int opening_moves = 0;
  std::vector<int> moves;
  player winner = player::black;
};

// A record that cannot be used: malformed, or its moves are not a legal finished game.
struct record_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string record_to_json(const game_record& record);
// Parses and replays a record, checking every move and the winner; `where` names it in messages.
// Reading many records, pass one parser to all of them: it keeps its buffers.
game_record record_from_json(std::string_view line, std::string_view where, simdjson::dom::parser& parser);
game_record record_from_json(std::string_view line, std::string_view where);

// Random opening moves are allowed up to 2n - 2: fewer than any connection needs, so an
// opening never ends a game. Throws std::invalid_argument beyond.
void check_opening_moves(int opening_moves, const game_config& config);

// One game: `opening_moves` uniformly random moves drawn from `opening_seed`, then the agents
// in turn with randomness from `play_seed`.
game_record play_game(const game_config& config, agent& black, agent& white, int opening_moves,
                      std::uint64_t opening_seed, std::uint64_t play_seed);

using progress_callback = std::function<void(int games_done, int games_total)>;

// Game i uses opening seed derive_seed(seed, i, 1) and play seed derive_seed(seed, i, 2); the
// same agent plays both colours.
std::vector<game_record> run_selfplay(const game_config& config, agent& player_agent, int games,
                                      std::uint64_t seed, int opening_moves,
                                      const progress_callback& progress = {});

struct match_game {
  std::string game_id;  // "<match id>-<index>"
  std::string pair_id;  // "<match id>-p<pair>"
  bool a_black = true;
  double score = 0;  // 1 when a won, 0 when b won
  std::string played_at;  // when the game ended, RFC 3339 UTC with milliseconds
  game_record record;
};

struct match_result {
  std::vector<match_game> games;
  int a_wins = 0;
};

// The stem of a match's game and pair ids: "<config_key>-<16 hex digits>", the digits FNV-1a 64
// of everything that defines its games: both agents (their canonical names), both player ids,
// the seed, the opening moves and `work_id` (a runner's work item, or empty). The same inputs
// give the same ids; another agent, player id, seed or work item gives others, so that matches
// do not collide in an Elo store. Game i of a match does not depend on how many it plays.
std::string match_id(const game_config& config, const agent& a, const agent& b,
                     const std::string& a_name, const std::string& b_name, std::uint64_t seed,
                     int opening_moves, std::string_view work_id);

// `games` must be even: pair p plays games 2p (a is Black) and 2p + 1 (b is Black) from the same
// opening, drawn from derive_seed(seed, p, 1); game i plays with derive_seed(seed, i, 2). Game
// ids are "<match_id>-<i>", pair ids "<match_id>-p<p>".
match_result run_match(const game_config& config, agent& a, agent& b, const std::string& a_name,
                       const std::string& b_name, int games, std::uint64_t seed,
                       int opening_moves, const progress_callback& progress = {},
                       std::string_view work_id = {});

}  // namespace p2p::workload
