#pragma once
// Statistics of one engine against another, for gauntlets and SPRT: Elo with its 95 % interval
// and likelihood of superiority (LOS) from game results (trinomial) or from colour-swapped game
// pairs (pentanomial), in the logistic and the normalized (nElo) models, and the generalized
// log-likelihood ratio (LLR) of an SPRT with its stopping bounds.
//
// The formulas are fishtest's (github.com/official-stockfish/fishtest,
// server/fishtest/stats/stat_util.py, LLRcalc.py and templates/tests_stats.mak), kept in the
// same order of operations; tests/unit/data/gen_elo_vectors.py re-implements them in Python,
// names the versions and generates the vectors the unit tests match within 1e-9. As there, a
// zero count is replaced by 1e-3 (a small prior), so every statistic is finite.
//
// Pure: no I/O, no state.
#include <array>
#include <cstdint>

namespace p2p::elo {

// Games from the tested side: losses, draws, wins.
struct trinomial {
  std::uint64_t losses = 0, draws = 0, wins = 0;
};

// Colour-swapped game pairs counted by the pair's score from the tested side: index k holds the
// pairs that scored k / 2 (0, 0.5, 1, 1.5, 2). Pairs cancel the colour and opening advantage,
// so their variance is the honest one (fishtest's "pentanomial" model).
struct pentanomial {
  std::array<std::uint64_t, 5> pairs{};
};

// Standard normal distribution: Phi and its inverse (Wichura's AS241, to double precision).
double normal_cdf(double x);
double normal_quantile(double p);

// Logistic Elo of an expected score: -400 log10(1/score - 1), the score clamped to
// [0.001, 0.999] as fishtest does; and back.
double score_to_elo(double score);
double elo_to_score(double elo);

struct elo_estimate {
  double elo = 0;
  double ci_low = 0, ci_high = 0;  // 95 %
  double los = 0;                  // P(the tested side is stronger)
};

// Logistic Elo (stat_util.get_elo): the interval is the score's normal interval mapped through
// score_to_elo, made symmetric by halving its width.
elo_estimate logistic_elo(const trinomial& results);
elo_estimate logistic_elo(const pentanomial& results);

// Normalized Elo (tests_stats.mak): (score - 1/2) / (standard deviation per game) scaled by
// 800 / ln 10, so that it equals logistic Elo for small differences without draws; the interval
// uses the t-value's asymptotic variance with skewness and kurtosis. The LOS is the logistic
// one (both say whether the score exceeds 1/2).
elo_estimate normalized_elo(const trinomial& results);
elo_estimate normalized_elo(const pentanomial& results);

// BayesElo's draw model (stat_util.py): the drawelo that fits a trinomial's draw ratio, and
// conversions between BayesElo and logistic Elo.
double draw_elo(const trinomial& results);
double bayeselo_to_logistic(double bayeselo, double draw_elo);
struct bayeselo_pair {
  double elo = 0, draw_elo = 0;  // NaN when the draw ratio cannot go with that Elo
};
bayeselo_pair logistic_to_bayeselo(double logistic_elo, double draw_ratio);

enum class sprt_model {
  logistic,   // elo0 and elo1 are logistic Elo: H0 and H1 are expected scores
  normalized  // elo0 and elo1 are normalized Elo: H0 and H1 are t-values
};

struct sprt_parameters {
  double elo0 = 0, elo1 = 2;
  double alpha = 0.05, beta = 0.05;  // false positive and false negative rates
  sprt_model model = sprt_model::normalized;
};

enum class sprt_state { rejected = -1, running = 0, accepted = 1 };

struct sprt_result {
  double llr = 0;
  double lower_bound = 0, upper_bound = 0;  // ln(beta / (1 - alpha)), ln((1 - beta) / alpha)
  sprt_state state = sprt_state::running;   // llr below, between or above the bounds
};

// The generalized LLR of H1 against H0 (LLRcalc.LLR_logistic / LLR_normalized): the log of the
// ratio of the maximum likelihoods of the observed games under each hypothesis. NaN where fishtest's
// own checks refuse: a normalized hypothesis too extreme for the observed outcomes, whose fit
// does not converge.
double sprt_llr(const trinomial& results, double elo0, double elo1, sprt_model model);
double sprt_llr(const pentanomial& results, double elo0, double elo1, sprt_model model);

// The Brownian approximation of the logistic LLR (LLRcalc.LLR_alt2 times the sample count).
double sprt_llr_logistic_approximation(const trinomial& results, double elo0, double elo1);
double sprt_llr_logistic_approximation(const pentanomial& results, double elo0, double elo1);

// LLR, bounds and decision (stat_util.update_SPRT without the dynamic overshoot correction,
// which needs every intermediate LLR; the plain Wald bounds are slightly conservative). A NaN
// LLR keeps the test running.
sprt_result sprt(const trinomial& results, const sprt_parameters& parameters);
sprt_result sprt(const pentanomial& results, const sprt_parameters& parameters);

}  // namespace p2p::elo
