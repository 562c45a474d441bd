// Elo ratings and match statistics: fishtest's formulas against vectors generated from them
// (data/gen_elo_vectors.py), classic Elo against a hand computation, rankings identical for
// any order of the same games, intervals that cover known strengths at about the nominal rate,
// and the fit time for 100,000 games.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/elo/match_stats.hpp"
#include "actors/elo/ratings.hpp"

using namespace p2p::elo;

namespace {

// ---- fishtest vectors ------------------------------------------------------------------------

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

struct score_vector {
  std::vector<std::uint64_t> counts;
  double elo, elo95, los, nelo, nelo_low, nelo_high, draw_elo;
};

struct sprt_vector {
  std::vector<std::uint64_t> counts;
  sprt_model model;
  double elo0, elo1, alpha, beta, llr, lower, upper;
  int state;
  double llr_approximation;
};

struct bayeselo_vector {
  double bayeselo, draw_elo, logistic;
  double logistic_in, draw_ratio, bayeselo_out, draw_elo_out;
};

#include "data/elo_vectors.inc"

// The vectors' tolerance: 1e-9 absolute plus 1e-9 relative; NaN only matches NaN.
bool close(double actual, double expected) {
  if (std::isnan(expected)) return std::isnan(actual);
  return std::abs(actual - expected) <= 1e-9 + 1e-9 * std::abs(expected);
}

#define CHECK_CLOSE_TO(actual, expected)                                                  \
  BOOST_TEST(close(actual, expected), #actual << " = " << (actual) << ", expected "       \
                                              << (expected) << " for " << describe(v.counts))

std::string describe(const std::vector<std::uint64_t>& counts) {
  std::string text = "[";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (i > 0) text.append(", ");
    text.append(std::to_string(counts[i]));
  }
  text.append("]");
  return text;
}

trinomial as_trinomial(const std::vector<std::uint64_t>& c) { return {c[0], c[1], c[2]}; }
pentanomial as_pentanomial(const std::vector<std::uint64_t>& c) {
  return {{c[0], c[1], c[2], c[3], c[4]}};
}

// ---- matches ---------------------------------------------------------------------------------

match make_match(std::string id, std::string a, std::string b, double score,
                 std::string played_at = "2024-01-01T00:00:00Z") {
  match m;
  m.game_id = std::move(id);
  m.config_key = "pool";
  m.a = std::move(a);
  m.b = std::move(b);
  m.score = score;
  m.played_at = std::move(played_at);
  return m;
}

std::string player_name(std::size_t i) {
  std::string name = "player-";
  name.append(std::to_string(i));
  return name;
}

// Games drawn from the bayes model itself: strengths in BayesElo points.
double bayes_win(double difference, double draw_elo) {
  return 1 / (1 + std::pow(10.0, -(difference - draw_elo) / 400));
}

std::vector<match> simulate(const std::vector<double>& strengths, double draw_elo,
                            std::size_t games, std::mt19937_64& random) {
  std::uniform_int_distribution<std::size_t> pick(0, strengths.size() - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<match> matches;
  matches.reserve(games);
  for (std::size_t g = 0; g < games; ++g) {
    std::size_t i = pick(random), j = pick(random);
    while (j == i) j = pick(random);
    const double p_win = bayes_win(strengths[i] - strengths[j], draw_elo);
    const double p_loss = bayes_win(strengths[j] - strengths[i], draw_elo);
    const double u = unit(random);
    const double score = u < p_win ? 1 : u < p_win + p_loss ? 0 : 0.5;
    std::string id = "g";
    id.append(std::to_string(g));
    std::string when = "2024-01-01T00:00:";
    when.append(g % 60 < 10 ? "0" : "").append(std::to_string(g % 60)).append("Z");
    matches.push_back(make_match(std::move(id), player_name(i), player_name(j), score,
                                 std::move(when)));
  }
  return matches;
}

// Bitwise equality of two results: the same players in the same order with the same bits.
bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

bool identical(const bayes_ratings& x, const bayes_ratings& y) {
  if (x.players.size() != y.players.size() || !same_bits(x.draw_elo, y.draw_elo) ||
      x.iterations != y.iterations || x.los.size() != y.los.size()) {
    return false;
  }
  for (std::size_t i = 0; i < x.players.size(); ++i) {
    const auto &p = x.players[i], &q = y.players[i];
    if (p.player != q.player || !same_bits(p.rating, q.rating) ||
        !same_bits(p.ci_low, q.ci_low) || !same_bits(p.ci_high, q.ci_high) ||
        p.games != q.games || p.wins != q.wins || p.draws != q.draws || p.losses != q.losses ||
        !same_bits(p.score, q.score)) {
      return false;
    }
  }
  for (std::size_t i = 0; i < x.los.size(); ++i) {
    for (std::size_t j = 0; j < x.los.size(); ++j) {
      if (!same_bits(x.los[i][j], y.los[i][j])) return false;
    }
  }
  return true;
}

bool identical(const std::vector<player_rating>& x, const std::vector<player_rating>& y) {
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].player != y[i].player || !same_bits(x[i].rating, y[i].rating) ||
        x[i].games != y[i].games) {
      return false;
    }
  }
  return true;
}

const player_rating& find(const std::vector<player_rating>& rows, const std::string& id) {
  auto it = std::find_if(rows.begin(), rows.end(), [&](auto& r) { return r.player == id; });
  BOOST_REQUIRE(it != rows.end());
  return *it;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(elo)

// ---- match statistics --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(elo_los_and_nelo_match_fishtest) {
  for (const auto& v : score_vectors) {
    const bool pairs = v.counts.size() == 5;
    const elo_estimate logistic =
        pairs ? logistic_elo(as_pentanomial(v.counts)) : logistic_elo(as_trinomial(v.counts));
    CHECK_CLOSE_TO(logistic.elo, v.elo);
    CHECK_CLOSE_TO(logistic.ci_low, v.elo - v.elo95);
    CHECK_CLOSE_TO(logistic.ci_high, v.elo + v.elo95);
    CHECK_CLOSE_TO(logistic.los, v.los);
    const elo_estimate normalized = pairs ? normalized_elo(as_pentanomial(v.counts))
                                          : normalized_elo(as_trinomial(v.counts));
    CHECK_CLOSE_TO(normalized.elo, v.nelo);
    CHECK_CLOSE_TO(normalized.ci_low, v.nelo_low);
    CHECK_CLOSE_TO(normalized.ci_high, v.nelo_high);
    CHECK_CLOSE_TO(normalized.los, v.los);
    if (!pairs) CHECK_CLOSE_TO(draw_elo(as_trinomial(v.counts)), v.draw_elo);
  }
}

BOOST_AUTO_TEST_CASE(sprt_llr_bounds_and_decision_match_fishtest) {
  std::set<int> states;
  for (const auto& v : sprt_vectors) {
    const bool pairs = v.counts.size() == 5;
    const sprt_parameters parameters{v.elo0, v.elo1, v.alpha, v.beta, v.model};
    const sprt_result result = pairs ? sprt(as_pentanomial(v.counts), parameters)
                                     : sprt(as_trinomial(v.counts), parameters);
    CHECK_CLOSE_TO(result.llr, v.llr);
    CHECK_CLOSE_TO(result.lower_bound, v.lower);
    CHECK_CLOSE_TO(result.upper_bound, v.upper);
    BOOST_TEST(static_cast<int>(result.state) == v.state, describe(v.counts));
    states.insert(v.state);
    if (v.model == sprt_model::logistic) {
      const double approximation =
          pairs ? sprt_llr_logistic_approximation(as_pentanomial(v.counts), v.elo0, v.elo1)
                : sprt_llr_logistic_approximation(as_trinomial(v.counts), v.elo0, v.elo1);
      CHECK_CLOSE_TO(approximation, v.llr_approximation);
    }
  }
  // The vectors exercise all three decisions.
  BOOST_TEST(states.size() == 3u);
}

BOOST_AUTO_TEST_CASE(bayeselo_conversions_match_fishtest) {
  for (const auto& v : bayeselo_vectors) {
    BOOST_TEST(close(bayeselo_to_logistic(v.bayeselo, v.draw_elo), v.logistic));
    const bayeselo_pair converted = logistic_to_bayeselo(v.logistic_in, v.draw_ratio);
    BOOST_TEST(close(converted.elo, v.bayeselo_out));
    BOOST_TEST(close(converted.draw_elo, v.draw_elo_out));
  }
  BOOST_TEST(std::isnan(logistic_to_bayeselo(0, 1.5).elo));
}

BOOST_AUTO_TEST_CASE(normal_quantile_inverts_the_cdf) {
  BOOST_TEST(close(normal_quantile(0.975), 1.959963984540054));
  BOOST_TEST(close(normal_quantile(0.025), -1.959963984540054));
  for (double p : {1e-300, 1e-20, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-12}) {
    BOOST_TEST(std::abs(normal_cdf(normal_quantile(p)) - p) <= 1e-14 * std::max(p, 1e-2), p);
  }
  BOOST_TEST(std::isinf(normal_quantile(0)));
  BOOST_TEST(std::isnan(normal_quantile(1.5)));
}

BOOST_AUTO_TEST_CASE(sprt_llr_is_nan_where_fishtest_refuses) {
  // A t-value of 5.8 per game is beyond what ten wins can be fitted to; the test runs on.
  BOOST_TEST(std::isnan(sprt_llr(trinomial{0, 0, 10}, 0, 2000, sprt_model::normalized)));
  const sprt_result result = sprt(trinomial{0, 0, 10}, {0, 2000, 0.05, 0.05,
                                                        sprt_model::normalized});
  BOOST_TEST(static_cast<int>(result.state) == static_cast<int>(sprt_state::running));
  // The logistic model always has a fit: every expected score in (0, 1) is reachable.
  BOOST_TEST(std::isfinite(sprt_llr(trinomial{0, 0, 10}, 0, 1200, sprt_model::logistic)));
}

// ---- classic Elo -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(classic_elo_replays_a_hand_computed_sequence) {
  // Canonical order by instant, then game_id: g3 (09:40Z, written with an offset), g1 and g2
  // (both 10:00Z), g4 (10:15Z). With K = 32 and expected score 1 / (1 + 10^((Rb - Ra) / 400)):
  //   g3 C beats A at 1500-1500: C 1516, A 1484
  //   g1 A beats B at 1484-1500: A 1484 + 32 (1 - 1/(1 + 10^(16/400))) = 1500.736306793522
  //   g2 B draws C at 1483.26-1516: B 1484.766810297684, C 1514.4968829087939
  //   g4 A draws C: A 1501.3696736009636, C 1513.8635161013524
  std::vector<match> games{
      make_match("g4", "A", "C", 0.5, "2024-01-01T10:15:00Z"),
      make_match("g2", "B", "C", 0.5, "2024-01-01T10:00:00.000Z"),
      make_match("g1", "A", "B", 1, "2024-01-01T10:00:00Z"),
      make_match("g3", "C", "A", 1, "2024-01-01T10:40:00+01:00"),
  };
  const auto rows = classic_elo(games);
  BOOST_REQUIRE_EQUAL(rows.size(), 3u);
  BOOST_TEST(rows[0].player == "C");
  BOOST_TEST(rows[1].player == "A");
  BOOST_TEST(rows[2].player == "B");
  BOOST_TEST(std::abs(find(rows, "A").rating - 1501.3696736009636) < 1e-9);
  BOOST_TEST(std::abs(find(rows, "B").rating - 1484.766810297684) < 1e-9);
  BOOST_TEST(std::abs(find(rows, "C").rating - 1513.8635161013524) < 1e-9);
  const auto& a = find(rows, "A");
  BOOST_TEST(a.games == 3u);
  BOOST_TEST(a.wins == 1u);
  BOOST_TEST(a.draws == 1u);
  BOOST_TEST(a.losses == 1u);
  BOOST_TEST(a.score == 0.5);
  BOOST_TEST(a.ci_low == a.rating);
  // The total is conserved.
  BOOST_TEST(std::abs(rows[0].rating + rows[1].rating + rows[2].rating - 4500) < 1e-9);

  // Any order, duplicates and invalid records give the same numbers.
  std::vector<match> shuffled = games;
  shuffled.push_back(games[1]);
  shuffled.push_back(make_match("bad", "A", "A", 1));
  shuffled.push_back(make_match("bad2", "A", "B", 0.25));
  std::mt19937_64 random(7);
  for (int i = 0; i < 200; ++i) {
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    BOOST_TEST(identical(classic_elo(shuffled), rows));
  }
  BOOST_TEST(replays_before(games[3], games[2]));
  BOOST_TEST(replays_before(games[2], games[1]));
}

BOOST_AUTO_TEST_CASE(match_problems_name_the_field) {
  BOOST_TEST(match_problem(make_match("g", "a", "b", 1)).empty());
  BOOST_TEST(match_problem(make_match("", "a", "b", 1)) == "game_id is empty");
  BOOST_TEST(match_problem(make_match("g", "a", "a", 1)) == "a player cannot play itself");
  BOOST_TEST(match_problem(make_match("g", "a", "", 1)) == "a player id is empty");
  BOOST_TEST(match_problem(make_match("g", "a", "b", 0.7)) == "score must be 1, 0.5 or 0");
  BOOST_TEST(match_problem(make_match("g", "a", "b", 1, "yesterday")) ==
             "played_at is not RFC 3339");
  match m = make_match("g", "a", "b", 1);
  m.config_key.clear();
  BOOST_TEST(match_problem(m) == "config_key is empty");
}

// ---- tallies and the bayes fit -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tallies_are_canonical) {
  std::vector<match> games{make_match("1", "b", "a", 1), make_match("2", "a", "b", 0.5),
                           make_match("3", "a", "b", 0), make_match("3", "a", "b", 0),
                           make_match("4", "c", "a", 0), make_match("5", "x", "x", 1)};
  const auto tallies = tally_matches(games);
  BOOST_REQUIRE_EQUAL(tallies.size(), 2u);
  BOOST_TEST(tallies[0].a == "a");
  BOOST_TEST(tallies[0].b == "b");
  BOOST_TEST(tallies[0].wins_a == 0u);
  BOOST_TEST(tallies[0].draws == 1u);
  BOOST_TEST(tallies[0].losses_a == 2u);
  BOOST_TEST(tallies[1].a == "a");
  BOOST_TEST(tallies[1].b == "c");
  BOOST_TEST(tallies[1].wins_a == 1u);

  const std::vector<pair_tally> pieces{{"b", "a", 2, 0, 0}, {"a", "b", 0, 1, 0},
                                       {"c", "a", 0, 0, 1}, {"a", "a", 1, 0, 0},
                                       {"d", "e", 0, 0, 0}};
  const auto merged = canonical_tallies(pieces);
  BOOST_REQUIRE_EQUAL(merged.size(), 2u);
  BOOST_TEST(merged[0].losses_a == 2u);
  BOOST_TEST(merged[0].draws == 1u);
  BOOST_TEST(merged[1].wins_a == 1u);
}

BOOST_AUTO_TEST_CASE(rankings_are_identical_for_any_order_of_the_same_games) {
  std::mt19937_64 random(11);
  std::vector<double> strengths;
  std::normal_distribution<double> spread(0, 120);
  for (int i = 0; i < 12; ++i) strengths.push_back(spread(random));
  std::vector<match> games = simulate(strengths, 200, 1500, random);
  bayes_options options;
  options.likelihood_of_superiority = true;
  const bayes_ratings reference = fit_bayes(tally_matches(games), options);
  BOOST_REQUIRE(reference.converged);
  const auto classic_reference = classic_elo(games);

  // Permutations of the matches, some with repeated records.
  std::vector<match> shuffled = games;
  std::uniform_int_distribution<std::size_t> any_game(0, games.size() - 1);
  int differing = 0;
  for (int round = 0; round < 1500; ++round) {
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    std::vector<match> input = shuffled;
    if (round % 3 == 0) {
      for (int k = 0; k < 20; ++k) input.push_back(games[any_game(random)]);
    }
    if (!identical(fit_bayes(tally_matches(input), options), reference)) ++differing;
    if (round % 10 == 0 && !identical(classic_elo(input), classic_reference)) ++differing;
  }
  BOOST_TEST(differing == 0);

  // The same games aggregated in other ways: each pair's tally split into random pieces, each
  // piece in a random orientation, all pieces in a random order.
  const auto tallies = tally_matches(games);
  for (int round = 0; round < 2000; ++round) {
    std::vector<pair_tally> pieces;
    for (const auto& t : tallies) {
      pair_tally rest = t;
      while (rest.games() > 0) {
        pair_tally piece{t.a, t.b, 0, 0, 0};
        std::uniform_int_distribution<std::uint64_t> part(0, 4);
        piece.wins_a = std::min(rest.wins_a, part(random));
        piece.draws = std::min(rest.draws, part(random));
        piece.losses_a = std::min(rest.losses_a, part(random));
        rest.wins_a -= piece.wins_a;
        rest.draws -= piece.draws;
        rest.losses_a -= piece.losses_a;
        if (random() % 2) {
          std::swap(piece.a, piece.b);
          std::swap(piece.wins_a, piece.losses_a);
        }
        pieces.push_back(piece);
      }
    }
    std::shuffle(pieces.begin(), pieces.end(), random);
    if (!identical(fit_bayes(pieces, options), reference)) ++differing;
  }
  BOOST_TEST(differing == 0);
}

BOOST_AUTO_TEST_CASE(intervals_cover_known_strengths_at_the_nominal_rate) {
  // Games drawn from the model with known strengths; each player's true rating relative to the
  // mean should fall inside its 95 % interval about 95 % of the time.
  std::mt19937_64 random(2024);
  std::normal_distribution<double> spread(0, 150);
  const double true_draw_elo = 220;
  int inside = 0, checks = 0;
  double draw_elo_error = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<double> strengths;
    for (int i = 0; i < 16; ++i) strengths.push_back(spread(random));
    const auto games = simulate(strengths, true_draw_elo, 4000, random);
    const bayes_ratings fit = fit_bayes(tally_matches(games));
    BOOST_REQUIRE(fit.converged);
    double mean = 0;
    for (double s : strengths) mean += s;
    mean /= static_cast<double>(strengths.size());
    for (std::size_t i = 0; i < strengths.size(); ++i) {
      const auto& row = find(fit.players, player_name(i));
      const double truth = 1500 + fit.scale * (strengths[i] - mean);
      inside += row.ci_low <= truth && truth <= row.ci_high;
      ++checks;
    }
    draw_elo_error = std::max(draw_elo_error, std::abs(fit.draw_elo - true_draw_elo));
  }
  const double coverage = static_cast<double>(inside) / checks;
  BOOST_TEST_MESSAGE("95 % interval coverage " << coverage << " over " << checks
                                               << " ratings; largest drawelo error "
                                               << draw_elo_error);
  BOOST_TEST(coverage >= 0.90);
  BOOST_TEST(coverage <= 0.99);
  BOOST_TEST(draw_elo_error < 20);
}

BOOST_AUTO_TEST_CASE(mean_anchor_los_and_scale) {
  std::mt19937_64 random(5);
  const auto games = simulate({0, 50, 100, 300}, 200, 800, random);
  bayes_options options;
  options.likelihood_of_superiority = true;
  const bayes_ratings fit = fit_bayes(tally_matches(games), options);
  BOOST_REQUIRE_EQUAL(fit.players.size(), 4u);
  double mean = 0;
  for (const auto& p : fit.players) mean += p.rating;
  BOOST_TEST(std::abs(mean / 4 - 1500) < 1e-9);
  BOOST_TEST(fit.players[0].player == player_name(3));
  for (std::size_t i = 0; i + 1 < fit.players.size(); ++i) {
    BOOST_TEST(fit.players[i].rating >= fit.players[i + 1].rating);
  }
  const double x = std::pow(10.0, -fit.draw_elo / 400);
  BOOST_TEST(std::abs(fit.scale - 4 * x / ((1 + x) * (1 + x))) < 1e-15);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(fit.los[i][i] == 0.5);
    for (std::size_t j = 0; j < 4; ++j) {
      BOOST_TEST(std::abs(fit.los[i][j] + fit.los[j][i] - 1) < 1e-12);
      if (i < j) BOOST_TEST(fit.los[i][j] >= 0.5);
    }
  }
  BOOST_TEST(fit.los[0][3] > 0.999);

  // An anchor moves every rating by the same amount and has no uncertainty itself.
  options.anchor = rating_anchor{player_name(0), 2000};
  const bayes_ratings anchored = fit_bayes(tally_matches(games), options);
  const auto& anchor_row = find(anchored.players, player_name(0));
  BOOST_TEST(anchor_row.rating == 2000);
  BOOST_TEST(anchor_row.ci_low == 2000);
  BOOST_TEST(anchor_row.ci_high == 2000);
  const double shift = 2000 - find(fit.players, player_name(0)).rating;
  for (const auto& p : fit.players) {
    const auto& q = find(anchored.players, p.player);
    BOOST_TEST(std::abs(q.rating - p.rating - shift) < 1e-9);
    // Relative to a single player the intervals are wider than relative to the mean.
    if (q.player != player_name(0)) BOOST_TEST(q.ci_high - q.ci_low > p.ci_high - p.ci_low);
  }

  options.anchor = rating_anchor{"nobody", 2000};
  BOOST_CHECK_THROW(fit_bayes(tally_matches(games), options), std::invalid_argument);
  options.anchor.reset();
  options.prior_draws = 0;
  BOOST_CHECK_THROW(fit_bayes(tally_matches(games), options), std::invalid_argument);
  options.prior_draws = 2;
  options.draw_elo = -5;
  BOOST_CHECK_THROW(fit_bayes(tally_matches(games), options), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(fixed_drawelo_and_extreme_records_stay_finite) {
  // An unbeaten player, a winless one and players who never met: all finite, in order.
  const std::vector<pair_tally> tallies{{"a", "b", 10, 0, 0}, {"b", "c", 3, 4, 3},
                                        {"d", "e", 0, 5, 0}};
  for (bool fixed : {false, true}) {
    bayes_options options;
    if (fixed) options.draw_elo = 150;
    const bayes_ratings fit = fit_bayes(tallies, options);
    BOOST_TEST(fit.converged);
    BOOST_REQUIRE_EQUAL(fit.players.size(), 5u);
    for (const auto& p : fit.players) {
      BOOST_TEST(std::isfinite(p.rating));
      BOOST_TEST(std::isfinite(p.ci_low));
      BOOST_TEST(p.ci_low < p.rating);
    }
    BOOST_TEST(fit.players[0].player == "a");
    BOOST_TEST(fit.players.back().player == "b");
    BOOST_TEST(find(fit.players, "d").rating == find(fit.players, "e").rating);
    if (fixed) BOOST_TEST(std::abs(fit.draw_elo - 150) < 1e-9);
  }
  // Nothing but draws: drawelo stops at its cap and the ratings are equal.
  const bayes_ratings draws = fit_bayes(std::vector<pair_tally>{{"a", "b", 0, 7, 0}});
  BOOST_TEST(draws.converged);
  BOOST_TEST(std::abs(draws.players[0].rating - draws.players[1].rating) < 1e-9);
  BOOST_TEST(fit_bayes(std::vector<pair_tally>{}).players.empty());
}

BOOST_AUTO_TEST_CASE(two_players_with_a_negligible_prior_give_fishtests_bayeselo) {
  // For one pair the model has as many parameters as the trinomial has free frequencies, so
  // the maximum-likelihood fit is stat_util.proba_to_bayeselo of the observed frequencies.
  const trinomial games{300, 500, 420};
  bayes_options options;
  options.prior_draws = 1e-7;
  const bayes_ratings fit = fit_bayes(
      std::vector<pair_tally>{{"a", "b", games.wins, games.draws, games.losses}}, options);
  BOOST_TEST(fit.converged);
  const double n = 1220;
  const double p_win = 420 / n, p_loss = 300 / n;
  const double expected_elo = 200 * std::log10(p_win / p_loss * (1 - p_loss) / (1 - p_win));
  BOOST_TEST(std::abs(fit.draw_elo - draw_elo(games)) < 1e-4);
  const double difference = find(fit.players, "a").rating - find(fit.players, "b").rating;
  BOOST_TEST(std::abs(difference / fit.scale - expected_elo) < 1e-4);
  // And the scale makes it agree with logistic Elo near equality.
  BOOST_TEST(std::abs(difference - logistic_elo(games).elo) < 0.05 * std::abs(difference));
}

BOOST_AUTO_TEST_CASE(fits_100k_games_of_50_players_in_well_under_a_second) {
  std::mt19937_64 random(99);
  std::normal_distribution<double> spread(0, 200);
  std::vector<double> strengths;
  for (int i = 0; i < 50; ++i) strengths.push_back(spread(random));
  const auto games = simulate(strengths, 200, 100000, random);
  const auto start = std::chrono::steady_clock::now();
  const auto tallies = tally_matches(games);
  const auto tallied = std::chrono::steady_clock::now();
  bayes_options options;
  options.likelihood_of_superiority = true;
  const bayes_ratings fit = fit_bayes(tallies, options);
  const auto fitted = std::chrono::steady_clock::now();
  const auto classic = classic_elo(games);
  const auto replayed = std::chrono::steady_clock::now();
  // Whole milliseconds and microseconds: Boost.Test prints doubles with all their digits.
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
  BOOST_TEST_MESSAGE("100,000 games, 50 players, " << tallies.size() << " pairs: tally "
                                                   << ms(tallied - start) << " ms, fit "
                                                   << us(fitted - tallied) << " us ("
                                                   << fit.iterations << " Newton steps), classic "
                                                   << ms(replayed - fitted) << " ms");
  BOOST_TEST(fit.converged);
  BOOST_TEST(fit.players.size() == 50u);
  BOOST_TEST(classic.size() == 50u);
  BOOST_TEST(tallies.size() <= 1225u);
  BOOST_TEST(ms(fitted - start) < 1000);
}

BOOST_AUTO_TEST_SUITE_END()
