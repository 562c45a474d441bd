#include "bench/workload/hex.hpp"

#include <charconv>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace p2p::workload {

namespace {

constexpr int row_step[6] = {-1, -1, 0, 1, 1, 0};
constexpr int col_step[6] = {0, 1, 1, 0, -1, -1};

std::unique_ptr<geometry> build_geometry(int n) {
  auto g = std::make_unique<geometry>();
  g->size = n;
  g->cells = n * n;
  auto on_board = [n](int r, int c) { return r >= 0 && r < n && c >= 0 && c < n; };
  const double centre = (n - 1) / 2.0;
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      const auto cell = static_cast<std::size_t>(r * n + c);
      for (int k = 0; k < 6; ++k) {
        const int nr = r + row_step[k], nc = c + col_step[k];
        g->neighbours[cell][static_cast<std::size_t>(k)] =
            on_board(nr, nc) ? static_cast<std::int16_t>(nr * n + nc) : geometry::none;
      }
      for (int k = 0; k < 6; ++k) {
        const int j = (k + 1) % 6;
        const int br = r + row_step[k] + row_step[j], bc = c + col_step[k] + col_step[j];
        auto& b = g->bridges[cell][static_cast<std::size_t>(k)];
        if (!on_board(br, bc)) continue;
        b.target = static_cast<std::int16_t>(br * n + bc);
        b.carrier_a = g->neighbours[cell][static_cast<std::size_t>(k)];
        b.carrier_b = g->neighbours[cell][static_cast<std::size_t>(j)];
      }
      // Hex distance in these axial coordinates: (|dr| + |dc| + |dr + dc|) / 2.
      const double dr = r - centre, dc = c - centre;
      const double distance = (std::fabs(dr) + std::fabs(dc) + std::fabs(dr + dc)) / 2;
      g->centrality[cell] = n > 1 ? static_cast<float>(1.0 - distance / (n - 1)) : 1.0f;
    }
  }
  return g;
}

}  // namespace

std::string_view player_name(player p) { return p == player::black ? "black" : "white"; }

game_config parse_config_key(std::string_view key) {
  auto refuse = [&](std::string_view why) {
    std::string message = "config key '";
    message.append(key).append("': ").append(why).append(
        " (expected hex<N>_2p with N from 2 to 19, e.g. hex8_2p or hex11_2p)");
    throw std::invalid_argument(message);
  };
  constexpr std::string_view prefix = "hex", suffix = "_2p";
  if (key.size() <= prefix.size() + suffix.size() || key.substr(0, prefix.size()) != prefix ||
      key.substr(key.size() - suffix.size()) != suffix) {
    refuse("not a Hex config key");
  }
  const auto digits = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
  int size = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.front() == '0') {
    refuse("the board size is not a number");
  }
  if (size < min_board_size || size > max_board_size) refuse("board size out of range");
  return game_config{std::string(key), size};
}

const geometry& geometry_of(int size) {
  if (size < min_board_size || size > max_board_size) {
    std::string message = "board size ";
    message.append(std::to_string(size)).append(" is outside 2..19");
    throw std::invalid_argument(message);
  }
  static const auto all = [] {
    std::array<std::unique_ptr<geometry>, max_board_size + 1> built;
    for (int n = min_board_size; n <= max_board_size; ++n) {
      built[static_cast<std::size_t>(n)] = build_geometry(n);
    }
    return built;
  }();
  return *all[static_cast<std::size_t>(size)];
}

board::board(int size) : geometry_(&geometry_of(size)), size_(size) {
  for (std::size_t i = 0; i < parent_.size(); ++i) parent_[i] = static_cast<std::int16_t>(i);
}

int board::find(int x) const {
  // Path halving: every visited node skips to its grandparent.
  auto* p = parent_.data();
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

void board::unite(int a, int b) {
  a = find(a);
  b = find(b);
  if (a == b) return;
  // The virtual edge nodes stay roots, so find() of an edge is always the edge's group.
  if (a < b) std::swap(a, b);
  parent_[static_cast<std::size_t>(b)] = static_cast<std::int16_t>(a);
}

std::string board::why_illegal(int cell) const {
  if (over()) return "the game is over";
  if (cell < 0 || cell >= cells()) return "off the board";
  if (at(cell) != stone::empty) return "occupied";
  return {};
}

void board::play(int cell) {
  auto why = why_illegal(cell);
  if (!why.empty()) {
    std::string message = "illegal move ";
    message.append(cell >= 0 && cell < cells() ? cell_name(cell, size_) : std::to_string(cell))
        .append(": ")
        .append(why);
    throw std::invalid_argument(message);
  }
  play_unchecked(cell);
}

void board::play_unchecked(int cell) {
  const player mover = to_move_;
  const stone own = stone_of(mover);
  stones_[static_cast<std::size_t>(cell)] = own;
  ++moves_played_;
  for (auto neighbour : geometry_->neighbours[static_cast<std::size_t>(cell)]) {
    if (neighbour != geometry::none && stones_[static_cast<std::size_t>(neighbour)] == own) {
      unite(cell, neighbour);
    }
  }
  const int r = cell / size_, c = cell % size_;
  if (mover == player::black) {
    if (r == 0) unite(cell, top_edge);
    if (r == size_ - 1) unite(cell, bottom_edge);
    if (find(top_edge) == find(bottom_edge)) winner_ = mover;
  } else {
    if (c == 0) unite(cell, left_edge);
    if (c == size_ - 1) unite(cell, right_edge);
    if (find(left_edge) == find(right_edge)) winner_ = mover;
  }
  to_move_ = opponent(mover);
}

namespace {

// Floods Black's stones from the top row; true when the flood reaches the bottom row. Marks
// visited cells in `stones`, which is a scratch copy.
bool black_connects(const geometry& g, std::array<stone, max_cells>& stones) {
  std::array<std::int16_t, max_cells> stack;
  int depth = 0;
  const int n = g.size;
  constexpr auto visited = static_cast<stone>(3);
  for (int c = 0; c < n; ++c) {
    if (stones[static_cast<std::size_t>(c)] == stone::black) {
      stones[static_cast<std::size_t>(c)] = visited;
      stack[static_cast<std::size_t>(depth++)] = static_cast<std::int16_t>(c);
    }
  }
  const int last_row_start = (n - 1) * n;
  while (depth > 0) {
    const int cell = stack[static_cast<std::size_t>(--depth)];
    if (cell >= last_row_start) return true;
    for (auto neighbour : g.neighbours[static_cast<std::size_t>(cell)]) {
      if (neighbour != geometry::none && stones[static_cast<std::size_t>(neighbour)] == stone::black) {
        stones[static_cast<std::size_t>(neighbour)] = visited;
        stack[static_cast<std::size_t>(depth++)] = neighbour;
      }
    }
  }
  return false;
}

}  // namespace

player board::full_board_winner() const {
  std::array<stone, max_cells> scratch = stones_;
  return black_connects(*geometry_, scratch) ? player::black : player::white;
}

player board::random_playout(rng& random) const {
  if (winner_) return *winner_;
  std::array<std::int16_t, max_cells> empties;
  int count = 0;
  const int n_cells = cells();
  for (int c = 0; c < n_cells; ++c) {
    if (stones_[static_cast<std::size_t>(c)] == stone::empty) {
      empties[static_cast<std::size_t>(count++)] = static_cast<std::int16_t>(c);
    }
  }
  // Only Black's stones matter to the flood fill, and which empty cells Black gets is a
  // uniformly random subset of the size its turns allow: a partial Fisher-Yates shuffle draws it.
  std::array<stone, max_cells> filled = stones_;
  const int black_count = to_move_ == player::black ? (count + 1) / 2 : count / 2;
  for (int i = 0; i < black_count; ++i) {
    const int j = i + static_cast<int>(random.below(static_cast<std::uint32_t>(count - i)));
    std::swap(empties[static_cast<std::size_t>(i)], empties[static_cast<std::size_t>(j)]);
    filled[static_cast<std::size_t>(empties[static_cast<std::size_t>(i)])] = stone::black;
  }
  return black_connects(*geometry_, filled) ? player::black : player::white;
}

std::string board::to_text() const {
  std::string text;
  for (int r = 0; r < size_; ++r) {
    text.append(static_cast<std::size_t>(r), ' ');
    for (int c = 0; c < size_; ++c) {
      const stone s = at(r * size_ + c);
      text += s == stone::black ? 'B' : s == stone::white ? 'W' : '.';
      if (c + 1 < size_) text += ' ';
    }
    text += '\n';
  }
  return text;
}

std::string cell_name(int cell, int size) {
  std::string name(1, static_cast<char>('a' + cell % size));
  name.append(std::to_string(cell / size + 1));
  return name;
}

}  // namespace p2p::workload
