#include "actors/elo/ratings.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "actors/elo/match_stats.hpp"
#include "protocol/common/time.hpp"

namespace p2p::elo {

namespace {

// Natural units per Elo point: f(x) = 1 / (1 + 10^(-x/400)) is the logistic sigmoid of
// x ln(10) / 400.
const double natural_per_elo = std::log(10.0) / 400;

// A drawelo fitted to (almost) nothing but draws grows without bound; it stops here (BayesElo
// points), where a draw between equals already has probability 0.9987.
constexpr double max_draw_elo = 1000;

double sigmoid(double u) {
  if (u >= 0) return 1 / (1 + std::exp(-u));
  const double e = std::exp(u);
  return e / (1 + e);
}

double log_sigmoid(double u) {
  return u >= 0 ? -std::log1p(std::exp(-u)) : u - std::log1p(std::exp(u));
}

auto content(const match& m) {
  return std::tie(m.game_id, m.played_at, m.config_key, m.a, m.b, m.score, m.pair_id);
}

// The valid matches, one per game_id (the smallest by content), in no particular order.
std::vector<const match*> distinct_valid(std::span<const match> matches) {
  std::unordered_map<std::string_view, const match*> by_id;
  by_id.reserve(matches.size());
  for (const match& m : matches) {
    if (!match_problem(m).empty()) continue;
    auto [it, inserted] = by_id.try_emplace(m.game_id, &m);
    if (!inserted && precedes_by_content(m, *it->second)) it->second = &m;
  }
  std::vector<const match*> distinct;
  distinct.reserve(by_id.size());
  for (const auto& entry : by_id) distinct.push_back(entry.second);
  return distinct;
}

std::int64_t instant_of(const match& m) {
  auto t = parse_rfc3339(m.played_at);
  if (!t) return std::numeric_limits<std::int64_t>::min();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count();
}

bool rated_before(const player_rating& x, const player_rating& y) {
  if (x.rating != y.rating) return x.rating > y.rating;
  return x.player < y.player;
}

// A symmetric positive definite matrix, row-major, and its Cholesky factor.
struct matrix {
  std::size_t size = 0;
  std::vector<double> values;

  explicit matrix(std::size_t n) : size(n), values(n * n, 0.0) {}
  double& at(std::size_t i, std::size_t j) { return values[i * size + j]; }
  double at(std::size_t i, std::size_t j) const { return values[i * size + j]; }
};

// Lower-triangular L with A = L L^T, or nothing when A is not (numerically) positive definite.
std::optional<matrix> cholesky(const matrix& a) {
  const std::size_t n = a.size;
  matrix l(n);
  for (std::size_t j = 0; j < n; ++j) {
    double diagonal = a.at(j, j);
    for (std::size_t k = 0; k < j; ++k) diagonal -= l.at(j, k) * l.at(j, k);
    if (!(diagonal > 0)) return std::nullopt;
    l.at(j, j) = std::sqrt(diagonal);
    for (std::size_t i = j + 1; i < n; ++i) {
      double v = a.at(i, j);
      for (std::size_t k = 0; k < j; ++k) v -= l.at(i, k) * l.at(j, k);
      l.at(i, j) = v / l.at(j, j);
    }
  }
  return l;
}

// Solves L L^T x = b.
std::vector<double> cholesky_solve(const matrix& l, std::vector<double> b) {
  const std::size_t n = l.size;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) b[i] -= l.at(i, k) * b[k];
    b[i] /= l.at(i, i);
  }
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t k = i + 1; k < n; ++k) b[i] -= l.at(k, i) * b[k];
    b[i] /= l.at(i, i);
  }
  return b;
}

matrix cholesky_inverse(const matrix& l) {
  const std::size_t n = l.size;
  matrix inverse(n);
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> unit(n, 0.0);
    unit[j] = 1;
    const auto column = cholesky_solve(l, std::move(unit));
    for (std::size_t i = 0; i < n; ++i) inverse.at(i, j) = column[i];
  }
  return inverse;
}

// A canonical tally by player index: i < j, counts as doubles.
struct indexed_tally {
  std::size_t i, j;
  double wins, draws, losses;
};

// The log-posterior of the bayes model over ratings r (natural units) and, when fitted, the
// draw parameter (natural units, last coordinate): value, gradient and the negated Hessian.
class bayes_posterior {
 public:
  bayes_posterior(const std::vector<indexed_tally>& tallies, std::size_t players,
                  double prior_draws)
      : tallies_(tallies), players_(players), prior_draws_(prior_draws) {}

  double value(const std::vector<double>& r, double d) const {
    const double log_draw_gap = std::log(-std::expm1(-2 * d));
    double total = 0;
    for (const auto& t : tallies_) {
      total += term_value(r[t.i] - r[t.j], d, t.wins, t.draws, t.losses, log_draw_gap);
    }
    for (std::size_t i = 0; i < players_; ++i) {
      total += term_value(r[i], d, 0, prior_draws_, 0, log_draw_gap);
    }
    return total;
  }

  // Gradient and negated Hessian; with fit_draw, coordinate `players` is the draw parameter.
  void derivatives(const std::vector<double>& r, double d, bool fit_draw,
                   std::vector<double>& gradient, matrix& negated_hessian) const {
    const std::size_t size = players_ + (fit_draw ? 1 : 0);
    gradient.assign(size, 0.0);
    negated_hessian = matrix(size);
    // d/dD and d2/dD2 of log(1 - e^(-2D)), the draw-only part.
    const double gap_slope = 2 / std::expm1(2 * d);
    const double gap_curvature = 4 * std::exp(2 * d) / (std::expm1(2 * d) * std::expm1(2 * d));
    auto add = [&](std::size_t i, std::optional<std::size_t> j, double x, double w,
                   double dr, double l) {
      const double u1 = x - d, u2 = x + d;
      const double s1 = sigmoid(u1) * sigmoid(-u1), s2 = sigmoid(u2) * sigmoid(-u2);
      const double wd = w + dr, dl = dr + l;
      const double gx = wd * sigmoid(-u1) - dl * sigmoid(u2);
      const double hxx = wd * s1 + dl * s2;  // negated
      gradient[i] += gx;
      negated_hessian.at(i, i) += hxx;
      if (j) {
        gradient[*j] -= gx;
        negated_hessian.at(*j, *j) += hxx;
        negated_hessian.at(i, *j) -= hxx;
        negated_hessian.at(*j, i) -= hxx;
      }
      if (!fit_draw) return;
      const std::size_t k = players_;
      const double gd = -w * sigmoid(-u1) + dr * sigmoid(u1) + dr * sigmoid(-u2) -
                        l * sigmoid(u2) + dr * gap_slope;
      const double hxd = -(wd * s1 - dl * s2);  // negated
      const double hdd = wd * s1 + dl * s2 + dr * gap_curvature;
      gradient[k] += gd;
      negated_hessian.at(k, k) += hdd;
      negated_hessian.at(i, k) += hxd;
      negated_hessian.at(k, i) += hxd;
      if (j) {
        negated_hessian.at(*j, k) -= hxd;
        negated_hessian.at(k, *j) -= hxd;
      }
    };
    for (const auto& t : tallies_) add(t.i, t.j, r[t.i] - r[t.j], t.wins, t.draws, t.losses);
    for (std::size_t i = 0; i < players_; ++i) add(i, std::nullopt, r[i], 0, prior_draws_, 0);
  }

 private:
  // Log-likelihood of w wins, d draws and l losses at rating difference x:
  // P(win) = s(x - D), P(loss) = s(-x - D), P(draw) = s(D - x) s(D + x) (1 - e^(-2D)), the
  // last being 1 - P(win) - P(loss) in a form without cancellation.
  static double term_value(double x, double d, double w, double dr, double l,
                           double log_draw_gap) {
    double total = 0;
    if (w != 0) total += w * log_sigmoid(x - d);
    if (dr != 0) total += dr * (log_sigmoid(d - x) + log_sigmoid(d + x) + log_draw_gap);
    if (l != 0) total += l * log_sigmoid(-x - d);
    return total;
  }

  const std::vector<indexed_tally>& tallies_;
  std::size_t players_;
  double prior_draws_;
};

}  // namespace

bool precedes_by_content(const match& x, const match& y) { return content(x) < content(y); }
bool same_content(const match& x, const match& y) { return content(x) == content(y); }

std::string_view match_problem(const match& m) {
  if (m.game_id.empty()) return "game_id is empty";
  if (m.config_key.empty()) return "config_key is empty";
  if (m.a.empty() || m.b.empty()) return "a player id is empty";
  if (m.a == m.b) return "a player cannot play itself";
  if (m.score != 0 && m.score != 0.5 && m.score != 1) return "score must be 1, 0.5 or 0";
  if (m.pair_id && m.pair_id->empty()) return "pair_id is empty";
  if (!parse_rfc3339(m.played_at)) return "played_at is not RFC 3339";
  return {};
}

pair_tally tally_of(const match& m) {
  pair_tally t;
  const bool a_first = m.a < m.b;
  t.a = a_first ? m.a : m.b;
  t.b = a_first ? m.b : m.a;
  const double first_score = a_first ? m.score : 1 - m.score;
  if (first_score == 1) {
    t.wins_a = 1;
  } else if (first_score == 0) {
    t.losses_a = 1;
  } else {
    t.draws = 1;
  }
  return t;
}

std::vector<pair_tally> tally_matches(std::span<const match> matches) {
  // Integer counts per pair: the same totals in any order.
  std::map<std::pair<std::string_view, std::string_view>, pair_tally> by_pair;
  for (const match* m : distinct_valid(matches)) {
    pair_tally one = tally_of(*m);
    auto [it, inserted] = by_pair.try_emplace({m->a < m->b ? m->a : m->b,
                                               m->a < m->b ? m->b : m->a}, one);
    if (!inserted) {
      it->second.wins_a += one.wins_a;
      it->second.draws += one.draws;
      it->second.losses_a += one.losses_a;
    }
  }
  std::vector<pair_tally> tallies;
  tallies.reserve(by_pair.size());
  for (auto& entry : by_pair) tallies.push_back(std::move(entry.second));
  return tallies;
}

std::vector<pair_tally> canonical_tallies(std::span<const pair_tally> tallies) {
  std::map<std::pair<std::string_view, std::string_view>, pair_tally> by_pair;
  for (const pair_tally& t : tallies) {
    if (t.a == t.b || t.games() == 0) continue;
    pair_tally oriented = t;
    if (t.b < t.a) {
      std::swap(oriented.a, oriented.b);
      std::swap(oriented.wins_a, oriented.losses_a);
    }
    const std::string_view low = t.a < t.b ? t.a : t.b, high = t.a < t.b ? t.b : t.a;
    auto [it, inserted] = by_pair.try_emplace({low, high}, oriented);
    if (!inserted) {
      it->second.wins_a += oriented.wins_a;
      it->second.draws += oriented.draws;
      it->second.losses_a += oriented.losses_a;
    }
  }
  std::vector<pair_tally> result;
  result.reserve(by_pair.size());
  for (auto& entry : by_pair) result.push_back(std::move(entry.second));
  return result;
}

bayes_ratings fit_bayes(std::span<const pair_tally> input, const bayes_options& options) {
  if (!(options.prior_draws > 0) || !std::isfinite(options.prior_draws)) {
    throw std::invalid_argument("the prior must be a positive number of virtual draws");
  }
  if (options.draw_elo && !(*options.draw_elo > 0 && *options.draw_elo <= max_draw_elo)) {
    throw std::invalid_argument("a fixed drawelo must be in (0, 1000]");
  }
  if (!std::isfinite(options.mean_rating) ||
      (options.anchor && !std::isfinite(options.anchor->rating))) {
    throw std::invalid_argument("ratings must be finite");
  }

  const std::vector<pair_tally> tallies = canonical_tallies(input);
  std::vector<std::string> players;
  for (const auto& t : tallies) {
    players.push_back(t.a);
    players.push_back(t.b);
  }
  std::sort(players.begin(), players.end());
  players.erase(std::unique(players.begin(), players.end()), players.end());
  const std::size_t n = players.size();
  auto index_of = [&](const std::string& id) {
    return static_cast<std::size_t>(std::lower_bound(players.begin(), players.end(), id) -
                                    players.begin());
  };
  std::optional<std::size_t> anchor_index;
  if (options.anchor) {
    const std::size_t k = index_of(options.anchor->player);
    if (k == n || players[k] != options.anchor->player) {
      throw std::invalid_argument("the anchor player has no games");
    }
    anchor_index = k;
  }

  bayes_ratings result;
  std::vector<player_rating> rows(n);
  std::vector<indexed_tally> indexed;
  indexed.reserve(tallies.size());
  double all_games = 0, all_draws = 0;
  for (const auto& t : tallies) {
    const std::size_t i = index_of(t.a), j = index_of(t.b);
    indexed.push_back({i, j, static_cast<double>(t.wins_a), static_cast<double>(t.draws),
                       static_cast<double>(t.losses_a)});
    rows[i].wins += t.wins_a;
    rows[i].draws += t.draws;
    rows[i].losses += t.losses_a;
    rows[j].wins += t.losses_a;
    rows[j].draws += t.draws;
    rows[j].losses += t.wins_a;
    all_games += static_cast<double>(t.games());
    all_draws += static_cast<double>(t.draws);
  }
  for (std::size_t i = 0; i < n; ++i) {
    rows[i].player = players[i];
    rows[i].games = rows[i].wins + rows[i].draws + rows[i].losses;
    rows[i].score = (static_cast<double>(rows[i].wins) + static_cast<double>(rows[i].draws) / 2) /
                    static_cast<double>(rows[i].games);
  }
  if (n == 0) {
    result.draw_elo = options.draw_elo.value_or(0);
    result.converged = true;
    return result;
  }

  // Newton's method with a backtracking line search on the concave log-posterior, from equal
  // ratings and the drawelo at which equals draw as often as these games (with the prior) do.
  const bayes_posterior posterior(indexed, n, options.prior_draws);
  const double max_draw = max_draw_elo * natural_per_elo;
  bool fit_draw = !options.draw_elo;
  double draw = 0;
  if (options.draw_elo) {
    draw = *options.draw_elo * natural_per_elo;
  } else {
    const double virtual_draws = options.prior_draws * static_cast<double>(n);
    const double draw_ratio =
        std::min((all_draws + virtual_draws) / (all_games + virtual_draws), 0.99);
    draw = 2 * std::atanh(draw_ratio);  // P(draw | equal) = tanh(D / 2)
  }
  std::vector<double> r(n, 0.0);
  std::vector<double> gradient;
  matrix negated_hessian(0);
  double current = posterior.value(r, draw);
  constexpr unsigned max_iterations = 200;
  for (result.iterations = 1; result.iterations <= max_iterations; ++result.iterations) {
    posterior.derivatives(r, draw, fit_draw, gradient, negated_hessian);
    const auto factor = cholesky(negated_hessian);
    if (!factor) break;
    const std::vector<double> step = cholesky_solve(*factor, gradient);
    double largest = 0, decrement = 0;
    for (std::size_t i = 0; i < step.size(); ++i) {
      largest = std::max(largest, std::abs(step[i]));
      decrement += gradient[i] * step[i];
    }
    double fraction = 1;
    bool moved = false;
    for (int halving = 0; halving < 60; ++halving, fraction /= 2) {
      std::vector<double> next_r(n);
      for (std::size_t i = 0; i < n; ++i) next_r[i] = r[i] + fraction * step[i];
      const double next_draw = fit_draw ? draw + fraction * step[n] : draw;
      if (fit_draw && !(next_draw > 0)) continue;
      if (fit_draw && next_draw > max_draw) {
        // Still rising with drawelo at the cap: hold drawelo there and fit the ratings.
        const double at_cap = posterior.value(r, max_draw);
        if (!(at_cap >= current)) continue;
        draw = max_draw;
        fit_draw = false;
        current = at_cap;
        moved = true;
        break;
      }
      const double next = posterior.value(next_r, next_draw);
      if (next >= current) {
        r = std::move(next_r);
        draw = next_draw;
        current = next;
        moved = true;
        break;
      }
    }
    // Within rounding of the maximum: the Newton decrement (twice the gain the quadratic model
    // expects) is below the value's own precision, or the step is negligible.
    if (decrement <= 1e-15 * (1 + std::abs(current)) || largest < 1e-11 ||
        (!moved && largest < 1e-6)) {
      result.converged = true;
      break;
    }
    if (!moved) break;
  }
  result.iterations = std::min(result.iterations, max_iterations);

  // Covariance at the maximum; its rating block includes the uncertainty of a fitted drawelo.
  posterior.derivatives(r, draw, fit_draw, gradient, negated_hessian);
  const auto factor = cholesky(negated_hessian);
  const matrix covariance = factor ? cholesky_inverse(*factor) : matrix(negated_hessian.size);

  result.draw_elo = draw / natural_per_elo;
  const double x = std::exp(-draw);
  result.scale = x * 4.0 / ((1 + x) * (1 + x));
  const double points_per_natural = result.scale / natural_per_elo;
  const double z = normal_quantile(0.975);

  // Ratings and variances relative to the anchor player or to the mean of all ratings.
  double reference = 0, base = options.mean_rating;
  std::vector<double> variance(n);
  if (anchor_index) {
    const std::size_t k = *anchor_index;
    reference = r[k];
    base = options.anchor->rating;
    for (std::size_t i = 0; i < n; ++i) {
      variance[i] = covariance.at(i, i) + covariance.at(k, k) - 2 * covariance.at(i, k);
    }
  } else {
    for (double v : r) reference += v;
    reference /= static_cast<double>(n);
    std::vector<double> row_mean(n, 0.0);
    double all_mean = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) row_mean[i] += covariance.at(i, j);
      row_mean[i] /= static_cast<double>(n);
      all_mean += row_mean[i];
    }
    all_mean /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
      variance[i] = covariance.at(i, i) - 2 * row_mean[i] + all_mean;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    rows[i].rating = base + points_per_natural * (r[i] - reference);
    const double half_width = z * points_per_natural * std::sqrt(std::max(variance[i], 0.0));
    rows[i].ci_low = rows[i].rating - half_width;
    rows[i].ci_high = rows[i].rating + half_width;
  }

  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return rated_before(rows[x], rows[y]); });
  result.players.reserve(n);
  for (std::size_t i : order) result.players.push_back(rows[i]);

  if (options.likelihood_of_superiority) {
    result.los.assign(n, std::vector<double>(n, 0.5));
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = 0; b < n; ++b) {
        if (a == b) continue;
        const std::size_t i = order[a], j = order[b];
        const double difference = r[i] - r[j];
        const double var = covariance.at(i, i) + covariance.at(j, j) - 2 * covariance.at(i, j);
        result.los[a][b] = var > 0          ? normal_cdf(difference / std::sqrt(var))
                           : difference > 0 ? 1.0
                           : difference < 0 ? 0.0
                                            : 0.5;
      }
    }
  }
  return result;
}

bool replays_before(const match& x, const match& y) {
  const auto tx = instant_of(x), ty = instant_of(y);
  if (tx != ty) return tx < ty;
  return x.game_id < y.game_id;
}

std::vector<player_rating> classic_elo(std::span<const match> matches,
                                       const classic_options& options) {
  struct keyed {
    std::int64_t instant;
    const match* game;
  };
  std::vector<keyed> games;
  for (const match* m : distinct_valid(matches)) games.push_back({instant_of(*m), m});
  // game_ids are distinct here, so this order is total.
  std::sort(games.begin(), games.end(), [](const keyed& x, const keyed& y) {
    if (x.instant != y.instant) return x.instant < y.instant;
    return x.game->game_id < y.game->game_id;
  });

  std::map<std::string_view, player_rating> by_player;
  auto entry = [&](const std::string& id) -> player_rating& {
    auto [it, inserted] = by_player.try_emplace(id);
    if (inserted) {
      it->second.player = id;
      it->second.rating = options.initial;
    }
    return it->second;
  };
  for (const keyed& k : games) {
    const match& m = *k.game;
    player_rating& a = entry(m.a);
    player_rating& b = entry(m.b);
    const double expected = 1 / (1 + std::pow(10.0, (b.rating - a.rating) / 400));
    const double change = options.k * (m.score - expected);
    a.rating += change;
    b.rating -= change;
    ++a.games;
    ++b.games;
    if (m.score == 1) {
      ++a.wins;
      ++b.losses;
    } else if (m.score == 0) {
      ++a.losses;
      ++b.wins;
    } else {
      ++a.draws;
      ++b.draws;
    }
  }

  std::vector<player_rating> result;
  result.reserve(by_player.size());
  for (auto& [id, row] : by_player) {
    row.ci_low = row.ci_high = row.rating;
    row.score = (static_cast<double>(row.wins) + static_cast<double>(row.draws) / 2) /
                static_cast<double>(row.games);
    result.push_back(std::move(row));
  }
  std::sort(result.begin(), result.end(), rated_before);
  return result;
}

}  // namespace p2p::elo
