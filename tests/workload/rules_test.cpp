// The rules of Hex: config keys, wins along every edge pair, no draws, illegal moves, playouts.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <numeric>
#include <set>
#include <vector>

#include "bench/workload/hex.hpp"

using namespace p2p::workload;

namespace {

// An oracle written apart from the library: does `colour` connect its two edges on `stones`?
bool oracle_connects(const std::vector<stone>& stones, int n, stone colour) {
  static constexpr int dr[6] = {-1, -1, 0, 0, 1, 1}, dc[6] = {0, 1, -1, 1, -1, 0};
  std::vector<bool> seen(stones.size(), false);
  std::vector<int> frontier;
  for (int i = 0; i < n; ++i) {
    const int cell = colour == stone::black ? i : i * n;  // top row or left column
    if (stones[static_cast<std::size_t>(cell)] == colour) {
      seen[static_cast<std::size_t>(cell)] = true;
      frontier.push_back(cell);
    }
  }
  while (!frontier.empty()) {
    const int cell = frontier.back();
    frontier.pop_back();
    const int r = cell / n, c = cell % n;
    if ((colour == stone::black && r == n - 1) || (colour == stone::white && c == n - 1)) return true;
    for (int k = 0; k < 6; ++k) {
      const int nr = r + dr[k], nc = c + dc[k];
      if (nr < 0 || nr >= n || nc < 0 || nc >= n) continue;
      const int next = nr * n + nc;
      if (stones[static_cast<std::size_t>(next)] == colour && !seen[static_cast<std::size_t>(next)]) {
        seen[static_cast<std::size_t>(next)] = true;
        frontier.push_back(next);
      }
    }
  }
  return false;
}

enum edge { top, bottom, left, right };

// A chain of cells, each adjacent to the next, touching exactly the edges `a` and `b` (corner
// cells excepted: a corner touches two edges, so the chains below avoid corners they must not
// touch). n >= 4.
std::vector<int> chain_between(edge a, edge b, int n, int offset) {
  std::vector<int> cells;
  auto at = [n](int r, int c) { return r * n + c; };
  const int k = 1 + offset % (n - 2);  // 1 .. n-2: away from the corners
  if (a > b) std::swap(a, b);
  if (a == top && b == bottom) {
    for (int r = 0; r < n; ++r) cells.push_back(at(r, k));
  } else if (a == left && b == right) {
    for (int c = 0; c < n; ++c) cells.push_back(at(k, c));
  } else if (a == top && b == left) {
    for (int r = 0; r <= k; ++r) cells.push_back(at(r, k - r));  // anti-diagonal r + c = k
  } else if (a == top && b == right) {
    for (int r = 0; r <= k; ++r) cells.push_back(at(r, n - 1));
  } else if (a == bottom && b == left) {
    for (int r = n - 1 - k; r < n; ++r) cells.push_back(at(r, 0));
  } else {  // bottom and right: anti-diagonal r + c = n - 1 + (n - 1 - k)
    const int sum = 2 * (n - 1) - k;
    for (int r = sum - (n - 1); r < n; ++r) cells.push_back(at(r, sum - r));
  }
  return cells;
}

// Plays `chain` for `owner`, the other player filling in with stones confined to two lines
// across the other's goal direction (two rows for Black, two columns for White), which can never
// connect on a board of four or more. Returns the board after the chain's last stone.
board play_chain(int n, player owner, const std::vector<int>& chain, bool expect_win) {
  board b(n);
  const std::set<int> in_chain(chain.begin(), chain.end());
  const player other = opponent(owner);
  std::vector<int> fillers;
  for (int line : {0, n - 1}) {
    for (int i = 0; i < n; ++i) {
      const int cell = other == player::black ? line * n + i : i * n + line;
      if (!in_chain.count(cell)) fillers.push_back(cell);
    }
  }
  std::size_t next_filler = 0;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (b.to_move() != owner) {
      BOOST_REQUIRE(next_filler < fillers.size());
      b.play(fillers[next_filler++]);
      BOOST_REQUIRE(!b.over());
    }
    BOOST_REQUIRE_MESSAGE(!b.over(), "the game ended before the chain was complete");
    b.play(chain[i]);
    if (i + 1 < chain.size()) {
      BOOST_TEST(!b.over(), "won before the last stone of the chain\n" << b.to_text());
    }
  }
  BOOST_TEST(b.over() == expect_win, b.to_text());
  if (expect_win) BOOST_TEST((b.winner() == owner));
  return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rules)

BOOST_AUTO_TEST_CASE(config_keys) {
  BOOST_TEST(parse_config_key("hex8_2p").size == 8);
  BOOST_TEST(parse_config_key("hex11_2p").size == 11);
  BOOST_TEST(parse_config_key("hex2_2p").cells() == 4);
  for (const char* bad : {"", "hex", "hex8", "hex8_3p", "chess_2p", "hex1_2p", "hex20_2p", "hex08_2p",
                          "hexx_2p", "hex-8_2p"}) {
    BOOST_CHECK_EXCEPTION(parse_config_key(bad), std::invalid_argument, [](const std::invalid_argument& e) {
      return std::string(e.what()).find("expected hex<N>_2p") != std::string::npos;
    });
  }
}

BOOST_AUTO_TEST_CASE(wins_along_every_edge_pair_for_both_players) {
  const std::array<std::pair<edge, edge>, 6> pairs = {
      {{top, bottom}, {left, right}, {top, left}, {top, right}, {bottom, left}, {bottom, right}}};
  for (int n : {4, 5, 8, 11}) {
    for (auto owner : {player::black, player::white}) {
      for (auto [a, b] : pairs) {
        const bool goal = owner == player::black ? (a == top && b == bottom) : (a == left && b == right);
        for (int offset = 0; offset < n - 2; ++offset) {
          BOOST_TEST_CONTEXT("n " << n << ", " << player_name(owner) << ", edges " << a << "-" << b
                                  << ", offset " << offset) {
            play_chain(n, owner, chain_between(a, b, n, offset), goal);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_cell_of_both_edges_can_start_a_win) {
  // Straight lines through every column (Black) and every row (White), corners included, and
  // the long diagonal, which touches all four edges, for both.
  for (int n : {2, 3, 6, 8, 11}) {
    for (int k = 0; k < n; ++k) {
      std::vector<int> column, row;
      for (int i = 0; i < n; ++i) {
        column.push_back(i * n + k);
        row.push_back(k * n + i);
      }
      board black_board(n), white_board(n);
      // The loser plays the next line over, which cannot connect its own edges.
      for (int i = 0; i < n; ++i) {
        black_board.play(column[static_cast<std::size_t>(i)]);
        if (i + 1 < n) {
          BOOST_TEST(!black_board.over());
          black_board.play(i * n + (k + 1) % n);
        }
      }
      BOOST_TEST((black_board.winner() == player::black), "column " << k << "\n" << black_board.to_text());
      for (int i = 0; i < n; ++i) {
        white_board.play(((k + 1) % n) * n + i);
        BOOST_TEST(!white_board.over());
        white_board.play(row[static_cast<std::size_t>(i)]);
      }
      BOOST_TEST((white_board.winner() == player::white), "row " << k << "\n" << white_board.to_text());
    }
    if (n >= 4) {
      std::vector<int> diagonal;
      for (int r = 0; r < n; ++r) diagonal.push_back(r * n + (n - 1 - r));
      play_chain(n, player::black, diagonal, true);
      play_chain(n, player::white, diagonal, true);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_full_board_always_has_exactly_one_winner) {
  rng random(2024);
  for (int n = 2; n <= 11; ++n) {
    const int cells = n * n;
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<int> order(static_cast<std::size_t>(cells));
      std::iota(order.begin(), order.end(), 0);
      for (int i = cells - 1; i > 0; --i) {
        std::swap(order[static_cast<std::size_t>(i)], order[random.below(static_cast<std::uint32_t>(i + 1))]);
      }
      board b(n);
      std::size_t played = 0;
      while (!b.over()) {
        BOOST_REQUIRE_MESSAGE(played < order.size(), "a full board without a winner\n" << b.to_text());
        b.play(order[played++]);
      }
      // Continue the same order to a full board: its one connection is the game's winner's.
      std::vector<stone> full(static_cast<std::size_t>(cells), stone::empty);
      for (std::size_t i = 0; i < order.size(); ++i) {
        full[static_cast<std::size_t>(order[i])] = i % 2 == 0 ? stone::black : stone::white;
      }
      const bool black = oracle_connects(full, n, stone::black);
      const bool white = oracle_connects(full, n, stone::white);
      BOOST_TEST(black != white, "n " << n << " trial " << trial);
      BOOST_TEST((b.winner() == (black ? player::black : player::white)));
    }
  }
}

BOOST_AUTO_TEST_CASE(illegal_moves_are_refused) {
  board b(8);
  b.play(27);
  auto refused_with = [&](int cell, const std::string& why) {
    BOOST_TEST(b.why_illegal(cell) == why);
    BOOST_CHECK_EXCEPTION(b.play(cell), std::invalid_argument, [&](const std::invalid_argument& e) {
      return std::string(e.what()).find(why) != std::string::npos;
    });
  };
  refused_with(27, "occupied");
  refused_with(-1, "off the board");
  refused_with(64, "off the board");
  BOOST_TEST((b.to_move() == player::white));  // refused moves change nothing
  BOOST_TEST(b.moves_played() == 1);
  // White fills column 1, Black column 0, which wins with its eighth stone.
  for (int r = 0; r < 8; ++r) {
    BOOST_REQUIRE(!b.over());
    b.play(r * 8 + 1);
    b.play(r * 8);
  }
  BOOST_REQUIRE((b.winner() == player::black));
  refused_with(63, "the game is over");
}

BOOST_AUTO_TEST_CASE(playouts_fill_for_the_right_player) {
  // With one empty cell left the playout is forced: the player to move takes it.
  rng random(7);
  rng positions(99);
  for (int n : {3, 5, 8}) {
    for (int trial = 0; trial < 200; ++trial) {
      board b(n);
      std::vector<int> order(static_cast<std::size_t>(n * n));
      std::iota(order.begin(), order.end(), 0);
      for (int i = n * n - 1; i > 0; --i) {
        std::swap(order[static_cast<std::size_t>(i)], order[positions.below(static_cast<std::uint32_t>(i + 1))]);
      }
      std::vector<stone> full(order.size(), stone::empty);
      for (std::size_t i = 0; i < order.size(); ++i) {
        full[static_cast<std::size_t>(order[i])] = i % 2 == 0 ? stone::black : stone::white;
      }
      std::size_t i = 0;
      for (; i + 1 < order.size() && !b.over(); ++i) b.play(order[i]);
      if (b.over()) continue;
      const player expected = oracle_connects(full, n, stone::black) ? player::black : player::white;
      BOOST_TEST((b.random_playout(random) == expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(playouts_match_move_by_move_play_in_distribution) {
  // Black's share of random games from a fixed opening, by playouts and by playing random moves
  // one at a time through the referee: the same distribution, so close shares (seeded).
  board start(5);
  start.play(12);
  start.play(6);
  rng random(11);
  const int samples = 20000;
  int playout_black = 0, sequential_black = 0;
  for (int i = 0; i < samples; ++i) {
    playout_black += start.random_playout(random) == player::black;
    board b = start;
    while (!b.over()) {
      int pick = static_cast<int>(random.below(static_cast<std::uint32_t>(b.empty_cells())));
      for (int cell = 0; cell < b.cells(); ++cell) {
        if (b.at(cell) == stone::empty && pick-- == 0) {
          b.play(cell);
          break;
        }
      }
    }
    sequential_black += b.winner() == player::black;
  }
  const double a = static_cast<double>(playout_black) / samples, s = static_cast<double>(sequential_black) / samples;
  BOOST_TEST(std::abs(a - s) < 0.02, "playouts " << a << " vs move by move " << s);
}

BOOST_AUTO_TEST_SUITE_END()
