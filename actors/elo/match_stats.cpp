#include "actors/elo/match_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace p2p::elo {

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
// Normalized Elo per unit of t-value: 800 / ln 10.
const double nelo_per_t = 800 / std::log(10.0);

// Outcome frequencies, 3 or 5 of them, with fishtest's regularization: a zero count becomes
// 1e-3, so no outcome has probability zero.
std::vector<double> regularized(const trinomial& r) {
  std::vector<double> counts{static_cast<double>(r.losses), static_cast<double>(r.draws),
                             static_cast<double>(r.wins)};
  for (double& c : counts) {
    if (c == 0) c = 1e-3;
  }
  return counts;
}

std::vector<double> regularized(const pentanomial& r) {
  std::vector<double> counts;
  for (auto c : r.pairs) counts.push_back(c == 0 ? 1e-3 : static_cast<double>(c));
  return counts;
}

double sum(const std::vector<double>& values) {
  double total = 0;
  for (double v : values) total += v;
  return total;
}

// A discrete distribution: outcome values (scores in [0, 1]) and their probabilities.
struct distribution {
  std::vector<double> values, probs;
};

// LLRcalc.results_to_pdf: the sample count and the empirical distribution of the per-game score.
distribution to_distribution(const std::vector<double>& counts, double& count) {
  count = sum(counts);
  distribution pdf;
  const auto n = counts.size();
  for (std::size_t i = 0; i < n; ++i) {
    pdf.values.push_back(static_cast<double>(i) / static_cast<double>(n - 1));
    pdf.probs.push_back(counts[i] / count);
  }
  return pdf;
}

struct moments {
  double mean = 0, variance = 0;
};

// LLRcalc.stats, without its sanity asserts (the callers' distributions are normalized).
moments mean_variance(const distribution& pdf) {
  moments m;
  for (std::size_t i = 0; i < pdf.values.size(); ++i) m.mean += pdf.probs[i] * pdf.values[i];
  for (std::size_t i = 0; i < pdf.values.size(); ++i) {
    const double d = pdf.values[i] - m.mean;
    m.variance += pdf.probs[i] * (d * d);
  }
  return m;
}

// LLRcalc.secular: the root of sum_i p_i a_i / (1 + x a_i) on fishtest's bracket. The function
// strictly decreases there, so bisection down to adjacent doubles finds the root fishtest's
// brentq finds, to full precision and the same on every machine.
std::optional<double> secular(const std::vector<double>& a, const std::vector<double>& p) {
  const double epsilon = 1e-9;
  const double v = *std::min_element(a.begin(), a.end());
  const double w = *std::max_element(a.begin(), a.end());
  if (!(v * w < 0)) return std::nullopt;
  double lo = -1 / w + epsilon;
  double hi = -1 / v - epsilon;
  auto f = [&](double x) {
    double total = 0;
    for (std::size_t i = 0; i < a.size(); ++i) total += p[i] * a[i] / (1 + x * a[i]);
    return total;
  };
  if (!(f(lo) > 0 && f(hi) < 0)) return std::nullopt;
  for (int i = 0; i < 2000; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (f(mid) > 0) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo + (hi - lo) / 2;
}

// LLRcalc.MLE_expected: the distribution closest (in likelihood) to the observed one whose
// expected score is s.
std::optional<std::vector<double>> mle_expected(const distribution& observed, double s) {
  std::vector<double> shifted;
  for (double a : observed.values) shifted.push_back(a - s);
  const auto x = secular(shifted, observed.probs);
  if (!x) return std::nullopt;
  distribution mle{observed.values, {}};
  for (std::size_t i = 0; i < shifted.size(); ++i) {
    mle.probs.push_back(observed.probs[i] / (1 + *x * shifted[i]));
  }
  if (!(std::abs(s - mean_variance(mle).mean) < 1e-6)) return std::nullopt;
  return mle.probs;
}

// LLRcalc.MLE_t_value: the same for a given t-value (mean - ref) / sigma, by fishtest's
// fixed-point iteration (at most ten steps, stopping once no probability moves by 1e-9).
std::optional<std::vector<double>> mle_t_value(const distribution& observed, double ref,
                                               double t) {
  const auto n = observed.values.size();
  distribution mle{observed.values, std::vector<double>(n, 1 / static_cast<double>(n))};
  for (int iteration = 0; iteration < 10; ++iteration) {
    const std::vector<double> previous = mle.probs;
    const moments m = mean_variance(mle);
    const double sigma = std::pow(m.variance, 0.5);
    std::vector<double> shifted;
    for (double a : observed.values) {
      const double z = (m.mean - a) / sigma;
      shifted.push_back(a - ref - t * sigma * (1 + z * z) / 2);
    }
    const auto x = secular(shifted, observed.probs);
    if (!x) return std::nullopt;
    double largest_change = 0;
    for (std::size_t i = 0; i < n; ++i) {
      mle.probs[i] = observed.probs[i] / (1 + *x * shifted[i]);
      largest_change = std::max(largest_change, std::abs(previous[i] - mle.probs[i]));
    }
    if (largest_change < 1e-9) break;
  }
  const moments m = mean_variance(mle);
  if (!(std::abs(t - (m.mean - ref) / std::pow(m.variance, 0.5)) < 1e-5)) return std::nullopt;
  return mle.probs;
}

// LLRcalc.LLR times the sample count: the expected log-likelihood ratio of the two fitted
// distributions under the observed one.
double log_likelihood_ratio(double count, const distribution& observed,
                            const std::optional<std::vector<double>>& h0,
                            const std::optional<std::vector<double>>& h1) {
  if (!h0 || !h1) return not_a_number;
  double mean_jump = 0;
  for (std::size_t i = 0; i < observed.probs.size(); ++i) {
    mean_jump += observed.probs[i] * (std::log((*h1)[i]) - std::log((*h0)[i]));
  }
  return count * mean_jump;
}

double llr_logistic(const std::vector<double>& counts, double elo0, double elo1) {
  double count = 0;
  const distribution pdf = to_distribution(counts, count);
  return log_likelihood_ratio(count, pdf, mle_expected(pdf, elo_to_score(elo0)),
                              mle_expected(pdf, elo_to_score(elo1)));
}

double llr_normalized(const std::vector<double>& counts, double nelo0, double nelo1) {
  // A pair's t-value is sqrt(2) times a game's when the two games are independent.
  const double per_sample = counts.size() == 5 ? std::pow(2.0, 0.5) : 1.0;
  const double t0 = nelo0 / nelo_per_t * per_sample;
  const double t1 = nelo1 / nelo_per_t * per_sample;
  double count = 0;
  const distribution pdf = to_distribution(counts, count);
  return log_likelihood_ratio(count, pdf, mle_t_value(pdf, 0.5, t0), mle_t_value(pdf, 0.5, t1));
}

double llr(const std::vector<double>& counts, double elo0, double elo1, sprt_model model) {
  return model == sprt_model::logistic ? llr_logistic(counts, elo0, elo1)
                                       : llr_normalized(counts, elo0, elo1);
}

double llr_approximation(const std::vector<double>& counts, double elo0, double elo1) {
  double count = 0;
  const distribution pdf = to_distribution(counts, count);
  const moments m = mean_variance(pdf);
  const double s0 = elo_to_score(elo0), s1 = elo_to_score(elo1);
  return count * ((s1 - s0) * (2 * m.mean - s0 - s1) / m.variance / 2.0);
}

sprt_result run_sprt(const std::vector<double>& counts, const sprt_parameters& parameters) {
  sprt_result result;
  result.llr = llr(counts, parameters.elo0, parameters.elo1, parameters.model);
  result.lower_bound = std::log(parameters.beta / (1 - parameters.alpha));
  result.upper_bound = std::log((1 - parameters.beta) / parameters.alpha);
  if (result.llr < result.lower_bound) {
    result.state = sprt_state::rejected;
  } else if (result.llr > result.upper_bound) {
    result.state = sprt_state::accepted;
  }
  return result;
}

// stat_util.get_elo on regularized counts of 2n + 1 outcomes for n games per sample.
elo_estimate get_elo(const std::vector<double>& counts) {
  const auto outcomes = counts.size();
  const double samples = sum(counts);
  const double games = samples * static_cast<double>(outcomes - 1) / 2.0;
  double mu = 0;
  for (std::size_t i = 0; i < outcomes; ++i) mu += counts[i] * (static_cast<double>(i) / 2.0);
  mu /= games;
  const double sample_mean = static_cast<double>(outcomes - 1) / 2.0 * mu;
  double var = 0;
  for (std::size_t i = 0; i < outcomes; ++i) {
    const double d = static_cast<double>(i) / 2.0 - sample_mean;
    var += counts[i] * (d * d);
  }
  var /= games;
  const double stdev = std::sqrt(var);
  const double mu_min = mu + normal_quantile(0.025) * stdev / std::sqrt(games);
  const double mu_max = mu + normal_quantile(0.975) * stdev / std::sqrt(games);
  const double elo = score_to_elo(mu);
  const double elo95 = (score_to_elo(mu_max) - score_to_elo(mu_min)) / 2.0;
  return {elo, elo - elo95, elo + elo95, normal_cdf((mu - 0.5) / (stdev / std::sqrt(games)))};
}

// tests_stats.mak: nElo from the t-value (score - 1/2) / sigma of one sample, and its interval
// from the t-value's asymptotic variance 1 - t skew + t^2 (excess kurtosis + 2) / 4.
elo_estimate get_nelo(const std::vector<double>& counts) {
  double count = 0;
  const distribution pdf = to_distribution(counts, count);
  const moments m = mean_variance(pdf);
  double m3 = 0, m4 = 0;
  for (std::size_t i = 0; i < pdf.values.size(); ++i) {
    const double d = pdf.values[i] - m.mean;
    m3 += pdf.probs[i] * (d * d * d);
    m4 += pdf.probs[i] * (d * d * d * d);
  }
  const double skewness = m3 / std::pow(m.variance, 1.5);
  const double excess_kurtosis = m4 / (m.variance * m.variance) - 3;
  const double t = (m.mean - 0.5) / std::pow(m.variance, 0.5);
  const double t_variance =
      std::max(1 - t * skewness + 0.25 * (t * t) * (excess_kurtosis + 2), 0.0);
  const double z975 = normal_quantile(0.975);
  const double half_width = z975 * std::pow(t_variance / count, 0.5);
  // A pair's t-value is sqrt(2) times a game's.
  const double per_game = counts.size() == 5 ? std::pow(2.0, 0.5) : 1.0;
  return {nelo_per_t * t / per_game, nelo_per_t * (t - half_width) / per_game,
          nelo_per_t * (t + half_width) / per_game, get_elo(counts).los};
}

}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Wichura, "Algorithm AS 241: The percentage points of the normal distribution" (1988), PPND16:
// rational approximations accurate to about 1e-16, evaluated as Python's statistics module does.
double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) {
    if (p == 0) return -std::numeric_limits<double>::infinity();
    if (p == 1) return std::numeric_limits<double>::infinity();
    return not_a_number;
  }
  // Coefficients from the highest power down.
  auto horner = [](const auto& coefficients, double r) {
    double value = coefficients[0];
    for (std::size_t k = 1; k < coefficients.size(); ++k) value = value * r + coefficients[k];
    return value;
  };
  const double q = p - 0.5;
  if (std::abs(q) <= 0.425) {
    constexpr std::array<double, 8> num{
        2.5090809287301226727e+3, 3.3430575583588128105e+4, 6.7265770927008700853e+4,
        4.5921953931549871457e+4, 1.3731693765509461125e+4, 1.9715909503065514427e+3,
        1.3314166789178437745e+2, 3.3871328727963666080e+0};
    constexpr std::array<double, 8> den{
        5.2264952788528545610e+3, 2.8729085735721942674e+4, 3.9307895800092710610e+4,
        2.1213794301586595867e+4, 5.3941960214247511077e+3, 6.8718700749205790830e+2,
        4.2313330701600911252e+1, 1.0};
    const double r = 0.180625 - q * q;
    return horner(num, r) * q / horner(den, r);
  }
  double r = q <= 0 ? p : 1 - p;
  r = std::sqrt(-std::log(r));
  double x;
  if (r <= 5) {
    constexpr std::array<double, 8> num{
        7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
        1.27045825245236838258e+0, 3.64784832476320460504e+0, 5.76949722146069140550e+0,
        4.63033784615654529590e+0, 1.42343711074968357734e+0};
    constexpr std::array<double, 8> den{
        1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
        1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e+0,
        2.05319162663775882187e+0, 1.0};
    r -= 1.6;
    x = horner(num, r) / horner(den, r);
  } else {
    constexpr std::array<double, 8> num{
        2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
        2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e+0,
        5.46378491116411436990e+0, 6.65790464350110377720e+0};
    constexpr std::array<double, 8> den{
        2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
        7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
        5.99832206555887937690e-1, 1.0};
    r -= 5;
    x = horner(num, r) / horner(den, r);
  }
  return q < 0 ? -x : x;
}

double score_to_elo(double score) {
  const double epsilon = 1e-3;
  score = std::min(std::max(score, epsilon), 1 - epsilon);
  return -400 * std::log10(1 / score - 1);
}

double elo_to_score(double elo) { return 1 / (1 + std::pow(10.0, -elo / 400)); }

elo_estimate logistic_elo(const trinomial& results) { return get_elo(regularized(results)); }
elo_estimate logistic_elo(const pentanomial& results) { return get_elo(regularized(results)); }
elo_estimate normalized_elo(const trinomial& results) { return get_nelo(regularized(results)); }
elo_estimate normalized_elo(const pentanomial& results) { return get_nelo(regularized(results)); }

// stat_util.draw_elo_calc through proba_to_bayeselo.
double draw_elo(const trinomial& results) {
  const auto counts = regularized(results);
  const double n = sum(counts);
  const double p_loss = counts[0] / n, p_win = counts[2] / n;
  return 200 * std::log10((1 - p_loss) / p_loss * (1 - p_win) / p_win);
}

// stat_util.bayeselo_to_elo through bayeselo_to_proba.
double bayeselo_to_logistic(double bayeselo, double draw_elo) {
  const double p_win = 1.0 / (1.0 + std::pow(10.0, (-bayeselo + draw_elo) / 400.0));
  const double p_loss = 1.0 / (1.0 + std::pow(10.0, (bayeselo + draw_elo) / 400.0));
  const double p_draw = 1.0 - p_win - p_loss;
  return score_to_elo(p_win + 0.5 * p_draw);
}

// stat_util.elo_to_bayeselo.
bayeselo_pair logistic_to_bayeselo(double logistic_elo, double draw_ratio) {
  const double s = elo_to_score(logistic_elo);
  const double p_win = s - draw_ratio / 2.0;
  const double p_loss = 1 - draw_ratio - p_win;
  if (!(draw_ratio >= 0) || p_loss <= 0 || p_win <= 0 || p_win >= 1 || p_loss >= 1) {
    return {not_a_number, not_a_number};
  }
  return {200 * std::log10(p_win / p_loss * (1 - p_loss) / (1 - p_win)),
          200 * std::log10((1 - p_loss) / p_loss * (1 - p_win) / p_win)};
}

double sprt_llr(const trinomial& results, double elo0, double elo1, sprt_model model) {
  return llr(regularized(results), elo0, elo1, model);
}
double sprt_llr(const pentanomial& results, double elo0, double elo1, sprt_model model) {
  return llr(regularized(results), elo0, elo1, model);
}

double sprt_llr_logistic_approximation(const trinomial& results, double elo0, double elo1) {
  return llr_approximation(regularized(results), elo0, elo1);
}
double sprt_llr_logistic_approximation(const pentanomial& results, double elo0, double elo1) {
  return llr_approximation(regularized(results), elo0, elo1);
}

sprt_result sprt(const trinomial& results, const sprt_parameters& parameters) {
  return run_sprt(regularized(results), parameters);
}
sprt_result sprt(const pentanomial& results, const sprt_parameters& parameters) {
  return run_sprt(regularized(results), parameters);
}

}  // namespace p2p::elo
