#pragma once
// Hex on an n x n rhombus. Black moves first and connects the top row to the bottom row; White
// connects the left column to the right column. Cell c is row c / n, column c % n, row 0 at the
// top. The neighbours of (r, c) are (r-1, c), (r-1, c+1), (r, c-1), (r, c+1), (r+1, c-1) and
// (r+1, c). Hex cannot end in a draw: on a full board exactly one player is connected. There is
// no swap rule.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench/workload/random.hpp"

namespace p2p::workload {

inline constexpr int min_board_size = 2;
inline constexpr int max_board_size = 19;
inline constexpr int max_cells = max_board_size * max_board_size;

enum class player : std::uint8_t { black = 0, white = 1 };
enum class stone : std::uint8_t { empty = 0, black = 1, white = 2 };

constexpr player opponent(player p) { return p == player::black ? player::white : player::black; }
constexpr stone stone_of(player p) { return p == player::black ? stone::black : stone::white; }
std::string_view player_name(player p);  // "black" or "white"

// A config key names the game: "hex<N>_2p" for an N x N board (N from 2 to 19; hex8_2p is the
// default, hex11_2p the tournament size).
struct game_config {
  std::string key = "hex8_2p";
  int size = 8;

  int cells() const { return size * size; }
};

// Throws std::invalid_argument naming what is wrong and what is expected.
game_config parse_config_key(std::string_view key);

// Per board size: neighbours, bridges and distances, computed once.
struct geometry {
  static constexpr int none = -1;

  int size = 0;
  int cells = 0;
  // Six neighbours per cell in clockwise order from (r-1, c); `none` off the board.
  std::array<std::array<std::int16_t, 6>, max_cells> neighbours{};
  // A bridge: a cell two steps away through two adjacent neighbours (the carriers). Entry k
  // joins neighbours k and k+1; `none` when the bridge cell is off the board.
  struct bridge {
    std::int16_t target = none, carrier_a = none, carrier_b = none;
  };
  std::array<std::array<bridge, 6>, max_cells> bridges{};
  // 1 at the centre falling to about 0 in the acute corners: 1 - hex distance / (n - 1).
  std::array<float, max_cells> centrality{};
};

// The geometry of an n x n board, min_board_size <= n <= max_board_size.
const geometry& geometry_of(int size);

// A game in progress: stones, the player to move, and union-find over stones with four virtual
// edge nodes so that a win is seen the moment it happens. Fixed-size storage: copying a board
// never allocates, which the searches rely on.
class board {
 public:
  explicit board(int size = 8);

  int size() const { return size_; }
  int cells() const { return size_ * size_; }
  const geometry& geom() const { return *geometry_; }
  stone at(int cell) const { return stones_[static_cast<std::size_t>(cell)]; }
  player to_move() const { return to_move_; }
  std::optional<player> winner() const { return winner_; }
  bool over() const { return winner_.has_value(); }
  int moves_played() const { return moves_played_; }
  int empty_cells() const { return cells() - moves_played_; }

  // Why `cell` cannot be played now ("off the board", "occupied", "the game is over"), or an
  // empty string when it can.
  std::string why_illegal(int cell) const;
  // Plays for the player to move; throws std::invalid_argument when the move is illegal.
  void play(int cell);
  // The same without checks, for searches that only generate empty cells of unfinished games.
  void play_unchecked(int cell);

  // The representative of a stone's group; stones touching their own edge share it with that
  // edge's virtual node, so two groups on the same edge count as one.
  int group_of(int cell) const { return find(cell); }
  // The virtual nodes of the four edges, as group_of() reports them.
  static constexpr int top_edge = max_cells, bottom_edge = max_cells + 1,
                       left_edge = max_cells + 2, right_edge = max_cells + 3;

  // The winner of a random continuation: fills every empty cell alternately, starting with the
  // player to move, in an order drawn from `random`, then floods once from Black's top edge.
  // Playing the same moves one by one would have produced the same winner, because a full
  // board has exactly one connection and a connection, once made, stays.
  player random_playout(rng& random) const;

  // The winner of a full board, found by one flood fill (the board must be full).
  player full_board_winner() const;

  std::string to_text() const;  // rows of '.', 'B', 'W', indented like a rhombus

 private:
  int find(int x) const;
  void unite(int a, int b);

  const geometry* geometry_;
  int size_;
  player to_move_ = player::black;
  std::optional<player> winner_;
  int moves_played_ = 0;
  std::array<stone, max_cells> stones_{};
  mutable std::array<std::int16_t, max_cells + 4> parent_{};
};

// "c5"-style name of a cell (column letter a.., row number from 1) for messages and tests.
std::string cell_name(int cell, int size);

}  // namespace p2p::workload
