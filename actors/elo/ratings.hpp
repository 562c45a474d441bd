#pragma once
// Ratings of many players from their games: a Bradley-Terry maximum-likelihood fit with
// BayesElo's draw model ("bayes") and classic sequential Elo ("elo").
//
// Pure: no actors, no I/O, no clock. Every node must compute bit-identical rankings from the
// same games, whatever order they arrived in, so the inputs are first put in a canonical form:
// matches are aggregated into per-pair tallies (integer counts, so any order sums alike),
// tallies are oriented (a < b), merged and sorted by (a, b), players are sorted by id, and every
// floating-point sum then runs in that order. The project builds without fast-math and without
// FP contraction, so the same build gives the same bits on every node.
//
// The bayes model (R. Coulom's bayeselo, and Hunter 2004 for Bradley-Terry with ties): with
// ratings r_a, r_b and the draw parameter drawelo, in BayesElo points,
//   P(a wins)  = f(r_a - r_b - drawelo),  P(b wins) = f(r_b - r_a - drawelo),
//   P(draw)    = 1 - P(a wins) - P(b wins),  f(x) = 1 / (1 + 10^(-x / 400)).
// The prior, as bayeselo's, is a number of virtual draws per player (default 2), here against a
// virtual player at rating 0: it keeps every rating finite (a player who won every game) and
// the ratings of players who never met comparable, and weighs as much as two games per player.
// drawelo is estimated jointly with the ratings (bayeselo's "mm 0 1") unless fixed. All games
// are fitted at once by Newton's method on the tallies (the log-likelihood is concave), so a fit
// costs O(pairs + players^3) per iteration, whatever the number of games.
//
// Reported ratings are, as bayeselo prints them, BayesElo times the scale 4x / (1 + x)^2 with
// x = 10^(-drawelo / 400), which makes small differences agree with logistic Elo (the expected
// score's slope at 0 is the same); they are shifted so that the mean is 1500, or so that the
// anchor player has the anchor rating. The 95 % intervals come from the covariance, the inverse
// of the negative Hessian of the log-posterior at its maximum, of each rating relative to the
// mean (or to the anchor, which then has no uncertainty); the LOS of i over j is
// Phi((r_i - r_j) / sd(r_i - r_j)) from the same covariance.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::elo {

// One game between players a and b.
struct match {
  std::string game_id;     // unique
  std::string config_key;  // which rating pool the game belongs to
  std::string a, b;        // player (model) ids
  double score = 0;        // 1, 0.5 or 0, from a's side
  std::optional<std::string> pair_id;  // the two games of a colour-swapped pair share it
  std::string played_at;               // RFC 3339
};

// Why a match cannot be rated, or empty when it can.
std::string_view match_problem(const match& m);

// The order that picks one record when a game_id has several contents (a conflict): the
// smallest wins, on every node alike.
bool precedes_by_content(const match& x, const match& y);
bool same_content(const match& x, const match& y);

// The games between two players, a < b (std::string order), from a's side.
struct pair_tally {
  std::string a, b;
  std::uint64_t wins_a = 0, draws = 0, losses_a = 0;

  std::uint64_t games() const { return wins_a + draws + losses_a; }
};

// The tally of a single valid match, oriented so that a < b.
pair_tally tally_of(const match& m);

// Per-pair tallies of the valid matches, in canonical order. A game_id seen more than once
// counts once (the smallest record by content, so the choice does not depend on order).
std::vector<pair_tally> tally_matches(std::span<const match> matches);

// Orients every tally (a < b), merges those of the same pair and sorts them by (a, b); drops
// empty tallies and a player against itself.
std::vector<pair_tally> canonical_tallies(std::span<const pair_tally> tallies);

struct player_rating {
  std::string player;
  double rating = 0;
  double ci_low = 0, ci_high = 0;  // 95 %; equal to the rating for classic Elo
  std::uint64_t games = 0, wins = 0, draws = 0, losses = 0;
  double score = 0;  // (wins + draws / 2) / games
};

struct rating_anchor {
  std::string player;
  double rating = 1500;
};

struct bayes_options {
  double prior_draws = 2;                // virtual draws per player against rating 0; > 0
  std::optional<double> draw_elo;        // fixed drawelo in BayesElo points (> 0); else fitted
  std::optional<rating_anchor> anchor;   // else the mean rating is mean_rating
  double mean_rating = 1500;
  bool likelihood_of_superiority = false;  // fill bayes_ratings::los
};

struct bayes_ratings {
  // Sorted by rating, highest first; ties by player id.
  std::vector<player_rating> players;
  // los[i][j] = P(players[i] is stronger than players[j]); 0.5 on the diagonal. Empty unless
  // requested.
  std::vector<std::vector<double>> los;
  double draw_elo = 0;  // fitted or fixed, BayesElo points
  double scale = 1;     // rating points per BayesElo point
  unsigned iterations = 0;
  bool converged = false;
};

// Fits all tallies at once; the tallies may come in any order and orientation, and several
// tallies of one pair add up. Throws std::invalid_argument on inconsistent options (a prior
// that is not positive, a drawelo that is not positive and finite, an anchor player without
// games).
bayes_ratings fit_bayes(std::span<const pair_tally> tallies, const bayes_options& options = {});

// The canonical replay order of classic Elo: played_at as an instant, then game_id.
bool replays_before(const match& x, const match& y);

struct classic_options {
  double k = 32;
  double initial = 1500;
};

// Classic Elo: every player starts at initial and each game moves both ratings by
// k (score - expected score), the games replayed in the canonical order whatever order they
// are given in. Invalid matches are skipped and a game_id seen more than once counts once, as
// in tally_matches. Sorted by rating, highest first; ties by player id.
std::vector<player_rating> classic_elo(std::span<const match> matches,
                                       const classic_options& options = {});

}  // namespace p2p::elo
