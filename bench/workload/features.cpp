#include "bench/workload/features.hpp"

#include <algorithm>

namespace p2p::workload {

void position_analysis::distances_from_edge(player who, bool far_edge,
                                            std::array<std::int16_t, max_cells>& out) {
  const board& b = *board_;
  const int n = b.size();
  const int cells = b.cells();
  const stone own = stone_of(who), other = stone_of(opponent(who));
  const auto& g = b.geom();
  std::fill_n(out.begin(), cells, unreachable);
  // A circular deque: cost-0 steps (onto own stones) go to the front, cost-1 steps to the back.
  constexpr std::size_t mask = std::tuple_size_v<decltype(queue_)> - 1;
  std::size_t head = 0, tail = 0;
  auto cost = [&](int cell) -> std::int16_t { return b.at(cell) == own ? 0 : 1; };
  for (int i = 0; i < n; ++i) {
    // Black's edges are the top and bottom rows, White's the left and right columns.
    const int line = far_edge ? n - 1 : 0;
    const int cell = who == player::black ? line * n + i : i * n + line;
    if (b.at(cell) == other) continue;
    const auto d = cost(cell);
    if (d < out[static_cast<std::size_t>(cell)]) {
      out[static_cast<std::size_t>(cell)] = d;
      if (d == 0) {
        head = (head - 1) & mask;
        queue_[head] = static_cast<std::int16_t>(cell);
      } else {
        queue_[tail] = static_cast<std::int16_t>(cell);
        tail = (tail + 1) & mask;
      }
    }
  }
  while (head != tail) {
    const int cell = queue_[head];
    head = (head + 1) & mask;
    const auto base = out[static_cast<std::size_t>(cell)];
    for (auto next : g.neighbours[static_cast<std::size_t>(cell)]) {
      if (next == geometry::none || b.at(next) == other) continue;
      const auto step = cost(next);
      const auto d = static_cast<std::int16_t>(base + step);
      if (d >= out[static_cast<std::size_t>(next)]) continue;
      out[static_cast<std::size_t>(next)] = d;
      if (step == 0) {
        head = (head - 1) & mask;
        queue_[head] = next;
      } else {
        queue_[tail] = next;
        tail = (tail + 1) & mask;
      }
    }
  }
}

void position_analysis::analyse(const board& b) {
  board_ = &b;
  mover_ = b.to_move();
  const player other = opponent(mover_);
  distances_from_edge(mover_, false, own_near_);
  distances_from_edge(mover_, true, own_far_);
  distances_from_edge(other, false, opp_near_);
  distances_from_edge(other, true, opp_far_);
  auto best_of = [&](player who, const std::array<std::int16_t, max_cells>& near) {
    const int n = b.size();
    int best = unreachable;
    for (int i = 0; i < n; ++i) {
      const int cell = who == player::black ? (n - 1) * n + i : i * n + (n - 1);
      best = std::min<int>(best, near[static_cast<std::size_t>(cell)]);
    }
    return best;
  };
  own_best_ = best_of(mover_, own_near_);
  opp_best_ = best_of(other, opp_near_);
}

float position_analysis::slack(const std::array<std::int16_t, max_cells>& near,
                               const std::array<std::int16_t, max_cells>& far, int best,
                               int cell) const {
  const int n = board_->size();
  const int a = near[static_cast<std::size_t>(cell)], z = far[static_cast<std::size_t>(cell)];
  if (a >= unreachable || z >= unreachable || best >= unreachable) return 1.0f;
  // The cell is empty, so both distances count it: a connection through it needs a + z - 1.
  const int excess = std::clamp(a + z - 1 - best, 0, n);
  return static_cast<float>(excess) / static_cast<float>(n);
}

feature_vector position_analysis::features(int cell) const {
  const board& b = *board_;
  const auto& g = b.geom();
  const auto index = static_cast<std::size_t>(cell);
  const stone own = stone_of(mover_), other = stone_of(opponent(mover_));
  feature_vector f{};
  f[0] = -slack(own_near_, own_far_, own_best_, cell);
  f[1] = -slack(opp_near_, opp_far_, opp_best_, cell);

  int bridges = 0;
  for (const auto& bridge : g.bridges[index]) {
    if (bridge.target != geometry::none && b.at(bridge.target) == own &&
        b.at(bridge.carrier_a) == stone::empty && b.at(bridge.carrier_b) == stone::empty) {
      ++bridges;
    }
  }
  f[2] = static_cast<float>(bridges) / 6.0f;

  int own_adjacent = 0, other_adjacent = 0, groups = 0;
  std::array<int, 6> seen{};
  for (auto next : g.neighbours[index]) {
    if (next == geometry::none) continue;
    const stone s = b.at(next);
    if (s == other) ++other_adjacent;
    if (s != own) continue;
    ++own_adjacent;
    const int group = b.group_of(next);
    if (std::find(seen.begin(), seen.begin() + groups, group) == seen.begin() + groups) {
      seen[static_cast<std::size_t>(groups++)] = group;
    }
  }
  // A stone on its own edge joins that edge's group too.
  const int n = b.size(), r = cell / n, c = cell % n;
  int edge = -1;
  if (mover_ == player::black) {
    edge = r == 0 ? board::top_edge : r == n - 1 ? board::bottom_edge : -1;
  } else {
    edge = c == 0 ? board::left_edge : c == n - 1 ? board::right_edge : -1;
  }
  const bool new_edge =
      edge >= 0 && std::find(seen.begin(), seen.begin() + groups, edge) == seen.begin() + groups;
  const int joined = groups + (new_edge ? 1 : 0);
  f[3] = static_cast<float>(std::max(joined - 1, 0)) / 3.0f;
  f[4] = static_cast<float>(own_adjacent) / 6.0f;
  f[5] = static_cast<float>(other_adjacent) / 6.0f;
  f[6] = g.centrality[index];
  return f;
}

}  // namespace p2p::workload
