// CMA-ES core: each update against the tutorial's formulas computed here independently,
// invariance, convergence, noise, ask/tell edge cases, bounds, stopping, restarts and
// serialization.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <ostream>
#include <random>

#include "actors/cmaes/cmaes.hpp"

using namespace p2p::cmaes;

namespace p2p::cmaes {
// For Boost.Test's messages.
std::ostream& operator<<(std::ostream& out, stop_reason r) { return out << to_string(r); }
std::ostream& operator<<(std::ostream& out, refusal r) { return out << to_string(r); }
}  // namespace p2p::cmaes

namespace {

using point = std::vector<double>;
using objective = std::function<double(const point&)>;

double sphere(const point& x) {
  double sum = 0;
  for (double v : x) sum += v * v;
  return sum;
}

double ellipsoid(const point& x) {
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sum += std::pow(1e6, static_cast<double>(i) / static_cast<double>(x.size() - 1)) * x[i] * x[i];
  }
  return sum;
}

double rosenbrock(const point& x) {
  double sum = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    sum += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return sum;
}

// f(R x) for a random rotation R (Gram-Schmidt on a Gaussian matrix).
objective rotated(objective f, std::size_t n, std::uint64_t seed) {
  normal_random normal(seed);
  std::vector<point> rows(n, point(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& v : rows[i]) v = normal();
    for (std::size_t j = 0; j < i; ++j) {
      double dot = std::inner_product(rows[i].begin(), rows[i].end(), rows[j].begin(), 0.0);
      for (std::size_t k = 0; k < n; ++k) rows[i][k] -= dot * rows[j][k];
    }
    double norm = std::sqrt(sphere(rows[i]));
    for (auto& v : rows[i]) v /= norm;
  }
  return [f, rows](const point& x) {
    point y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      y[i] = std::inner_product(x.begin(), x.end(), rows[i].begin(), 0.0);
    }
    return f(y);
  };
}

options start(std::size_t n, double x0, double sigma0, std::uint64_t seed) {
  options o;
  o.x0.assign(n, x0);
  o.sigma0 = sigma0;
  o.seed = seed;
  return o;
}

struct outcome {
  bool reached = false;
  std::uint64_t evaluations = 0;
};

// Runs to a true value <= target, counting evaluations when the generation completes;
// `noise` multiplies what the optimizer is told by (1 + noise N(0, 1)).
outcome solve(options o, const objective& f, double target, double noise = 0) {
  o.max_evaluations = o.max_evaluations ? o.max_evaluations : 100000;
  optimizer opt(o);
  normal_random noise_source(o.seed + 7919);
  while (!opt.stopped()) {
    bool reached = false;
    for (const auto& r : opt.ask()) {
      double value = f(r.x);
      reached = reached || value <= target;
      opt.tell(r.id, noise > 0 ? value * (1 + noise * noise_source()) : value, r.repeat);
    }
    if (reached) return {true, opt.evaluations()};
  }
  return {false, opt.evaluations()};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Median evaluations over seeds 1..seeds; every run must reach the target.
double median_evaluations(const std::function<options(std::uint64_t)>& make, const objective& f,
                          double target, int seeds, double noise = 0) {
  std::vector<double> evaluations;
  for (int seed = 1; seed <= seeds; ++seed) {
    auto result = solve(make(static_cast<std::uint64_t>(seed)), f, target, noise);
    BOOST_TEST_REQUIRE(result.reached, "seed " << seed << " did not reach " << target);
    evaluations.push_back(static_cast<double>(result.evaluations));
  }
  return median(evaluations);
}

// Evaluates the whole current generation with f.
void tell_all(optimizer& opt, const objective& f) {
  for (const auto& r : opt.ask()) opt.tell(r.id, f(r.x), r.repeat);
}

// ---- the tutorial's update, written out independently ------------------------------------------

using matrix = std::vector<point>;

struct snapshot {
  point mean, path_sigma, path_c;
  matrix c;
  double sigma = 0;
};

snapshot take(const optimizer& opt) {
  const auto n = opt.dimension();
  snapshot s{opt.mean(), opt.path_sigma(), opt.path_c(), matrix(n, point(n)), opt.sigma()};
  auto flat = opt.covariance();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) s.c[i][j] = flat[i * n + j];
  }
  return s;
}

point times(const matrix& m, const point& v) {
  point out(v.size(), 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    for (std::size_t j = 0; j < v.size(); ++j) out[i] += m[i][j] * v[j];
  }
  return out;
}

// C^(-1/2) of a symmetric positive definite 2 x 2 matrix in closed form:
// sqrt(C) = (C + s I) / t with s = sqrt(det C), t = sqrt(trace C + 2 s).
matrix inverse_sqrt_2x2(const matrix& c) {
  double s = std::sqrt(c[0][0] * c[1][1] - c[0][1] * c[1][0]);
  double t = std::sqrt(c[0][0] + c[1][1] + 2 * s);
  double a = (c[0][0] + s) / t, b = c[0][1] / t, d = (c[1][1] + s) / t;
  double det = a * d - b * b;
  return {{d / det, -b / det}, {-b / det, a / det}};
}

matrix identity(std::size_t n) {
  matrix m(n, point(n, 0.0));
  for (std::size_t i = 0; i < n; ++i) m[i][i] = 1;
  return m;
}

struct expected_update {
  snapshot after;
  bool h_sigma = true;
};

// Section 4 of the tutorial (its equations for the mean, both paths, C with the active
// weights, and sigma), given the state before, the evaluated points, their values, the number
// of generations this run had completed and C^(-1/2) of the C the points were sampled with.
expected_update tutorial_update(const snapshot& before, const strategy_parameters& p,
                                std::uint64_t completed, const std::vector<point>& xs,
                                const std::vector<double>& fitness, const matrix& c_inverse_sqrt) {
  const std::size_t n = before.mean.size(), lambda = xs.size();
  const double dim = static_cast<double>(n);
  std::vector<point> y(lambda, point(n));
  for (std::size_t k = 0; k < lambda; ++k) {
    for (std::size_t i = 0; i < n; ++i) y[k][i] = (xs[k][i] - before.mean[i]) / before.sigma;
  }
  std::vector<std::size_t> order(lambda);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](auto l, auto r) { return fitness[l] < fitness[r]; });

  point y_w(n, 0.0);
  for (std::size_t k = 0; k < p.mu; ++k) {
    for (std::size_t i = 0; i < n; ++i) y_w[i] += p.weights[k] * y[order[k]][i];
  }
  expected_update e;
  auto& a = e.after;
  a.mean = before.mean;
  for (std::size_t i = 0; i < n; ++i) a.mean[i] += before.sigma * y_w[i];

  point whitened = times(c_inverse_sqrt, y_w);
  a.path_sigma = before.path_sigma;
  double ps_norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    a.path_sigma[i] = (1 - p.c_sigma) * a.path_sigma[i] +
                      std::sqrt(p.c_sigma * (2 - p.c_sigma) * p.mu_eff) * whitened[i];
    ps_norm += a.path_sigma[i] * a.path_sigma[i];
  }
  ps_norm = std::sqrt(ps_norm);
  double expected_norm = std::sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim * dim));
  e.h_sigma =
      ps_norm / std::sqrt(1 - std::pow(1 - p.c_sigma, 2.0 * (static_cast<double>(completed) + 1))) <
      (1.4 + 2 / (dim + 1)) * expected_norm;
  a.path_c = before.path_c;
  for (std::size_t i = 0; i < n; ++i) {
    a.path_c[i] = (1 - p.c_c) * a.path_c[i] +
                  (e.h_sigma ? 1.0 : 0.0) * std::sqrt(p.c_c * (2 - p.c_c) * p.mu_eff) * y_w[i];
  }

  double weight_sum = std::accumulate(p.weights.begin(), p.weights.end(), 0.0);
  double delta_h = (1 - (e.h_sigma ? 1.0 : 0.0)) * p.c_c * (2 - p.c_c);
  double decay = 1 + p.c_1 * delta_h - p.c_1 - p.c_mu * weight_sum;
  a.c = before.c;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      a.c[i][j] = decay * before.c[i][j] + p.c_1 * a.path_c[i] * a.path_c[j];
    }
  }
  for (std::size_t k = 0; k < lambda; ++k) {
    const point& yk = y[order[k]];
    double w = p.weights[k];
    if (w < 0) {
      point z = times(c_inverse_sqrt, yk);
      w *= dim / sphere(z);
    }
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) a.c[i][j] += p.c_mu * w * yk[i] * yk[j];
    }
  }
  a.sigma =
      before.sigma * std::exp(std::min(1.0, p.c_sigma / p.d_sigma * (ps_norm / expected_norm - 1)));
  return e;
}

void check_close(const point& actual, const point& expected, double tolerance, const char* what) {
  BOOST_REQUIRE_EQUAL(actual.size(), expected.size());
  double scale = 0;
  for (double v : expected) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < actual.size(); ++i) {
    BOOST_TEST(std::abs(actual[i] - expected[i]) <= tolerance * std::max(scale, 1e-300),
               what << "[" << i << "] = " << actual[i] << ", expected " << expected[i]);
  }
}

void check_state(const optimizer& opt, const snapshot& expected, double tolerance) {
  auto actual = take(opt);
  check_close(actual.mean, expected.mean, tolerance, "mean");
  check_close(actual.path_sigma, expected.path_sigma, tolerance, "p_sigma");
  check_close(actual.path_c, expected.path_c, tolerance, "p_c");
  point flat_actual, flat_expected;
  for (const auto& row : actual.c) flat_actual.insert(flat_actual.end(), row.begin(), row.end());
  for (const auto& row : expected.c) {
    flat_expected.insert(flat_expected.end(), row.begin(), row.end());
  }
  check_close(flat_actual, flat_expected, tolerance, "C");
  BOOST_TEST(std::abs(actual.sigma - expected.sigma) <= tolerance * expected.sigma);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cmaes)

BOOST_AUTO_TEST_CASE(default_parameters_follow_the_tutorial) {
  for (std::size_t n : {2u, 10u}) {
    const double dim = static_cast<double>(n);
    auto p = default_parameters(n);
    const std::size_t lambda = 4 + static_cast<std::size_t>(3 * std::log(dim));
    BOOST_TEST(p.lambda == lambda);
    BOOST_TEST(p.mu == lambda / 2);
    // Raw weights ln((lambda + 1) / 2) - ln i.
    std::vector<double> raw;
    for (std::size_t i = 1; i <= lambda; ++i) {
      raw.push_back(std::log((lambda + 1) / 2.0) - std::log(double(i)));
    }
    double pos = 0, pos2 = 0, neg = 0, neg2 = 0;
    for (std::size_t i = 0; i < lambda; ++i) {
      (raw[i] > 0 ? pos : neg) += raw[i];
      (raw[i] > 0 ? pos2 : neg2) += raw[i] * raw[i];
    }
    const double mu_eff = pos * pos / pos2, mu_eff_minus = neg * neg / neg2;
    BOOST_TEST(p.mu_eff == mu_eff, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.mu_eff_negative == mu_eff_minus, boost::test_tools::tolerance(1e-12));
    const double c_sigma = (mu_eff + 2) / (dim + mu_eff + 5);
    const double d_sigma = 1 + 2 * std::max(0.0, std::sqrt((mu_eff - 1) / (dim + 1)) - 1) + c_sigma;
    const double c_c = (4 + mu_eff / dim) / (dim + 4 + 2 * mu_eff / dim);
    const double c_1 = 2 / (std::pow(dim + 1.3, 2) + mu_eff);
    const double c_mu =
        std::min(1 - c_1, 2 * (0.25 + mu_eff + 1 / mu_eff - 2) / (std::pow(dim + 2, 2) + mu_eff));
    BOOST_TEST(p.c_m == 1.0);
    BOOST_TEST(p.c_sigma == c_sigma, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.d_sigma == d_sigma, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.c_c == c_c, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.c_1 == c_1, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.c_mu == c_mu, boost::test_tools::tolerance(1e-12));
    const double negative_total = std::min(
        {1 + c_1 / c_mu, 1 + 2 * mu_eff_minus / (mu_eff + 2), (1 - c_1 - c_mu) / (dim * c_mu)});
    for (std::size_t i = 0; i < lambda; ++i) {
      double expected = raw[i] > 0 ? raw[i] / pos : negative_total * raw[i] / -neg;
      BOOST_TEST(p.weights[i] == expected, boost::test_tools::tolerance(1e-12));
    }
    // From n = 10 on alpha_mu = 1 + c1 / c_mu is the smallest with the default population:
    // the weights then sum so that C does not decay.
    if (n == 10) {
      double sum = std::accumulate(p.weights.begin(), p.weights.end(), 0.0);
      BOOST_TEST(1 - c_1 - c_mu * sum == 1.0, boost::test_tools::tolerance(1e-12));
    }
    BOOST_TEST(p.expected_norm == std::sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim * dim)),
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.eigen_interval ==
               std::max<std::uint64_t>(1, std::uint64_t(1 / (10 * dim * (c_1 + c_mu)))));
  }
  // Figures to check by hand: n = 10 gives (5_w,10) with w_1 = 45.6 % and mu_eff = 3.17.
  auto p10 = default_parameters(10);
  BOOST_TEST(p10.weights[0] == 0.4563, boost::test_tools::tolerance(1e-3));
  BOOST_TEST(p10.mu_eff == 3.1672, boost::test_tools::tolerance(1e-3));
  // n = 2: lambda 6, mu 3.
  BOOST_TEST(default_parameters(2).lambda == 6u);
  // Odd lambda: the middle weight is zero; without active CMA no weight is negative.
  auto odd = default_parameters(5, 7, false);
  BOOST_TEST(odd.mu == 3u);
  BOOST_TEST(odd.weights[3] == 0.0);
  BOOST_TEST(*std::min_element(odd.weights.begin(), odd.weights.end()) == 0.0);
  // A large population: the negative weights are limited by alpha_posdef or alpha_mu_eff.
  auto large = default_parameters(3, 200);
  double negative_sum = 0;
  for (double w : large.weights) negative_sum += std::min(w, 0.0);
  BOOST_TEST(-negative_sum < 1 + large.c_1 / large.c_mu);
  BOOST_CHECK_THROW(default_parameters(0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(first_generation_matches_a_hand_computation) {
  // C = I at the start, so C^(-1/2) is the identity and every update is plain arithmetic.
  for (std::size_t n : {2u, 10u}) {
    optimizer opt(start(n, 0.5, 0.7, 3));
    auto before = take(opt);
    auto requests = opt.ask();
    std::vector<point> xs;
    std::vector<double> values;
    for (const auto& r : requests) {
      xs.push_back(r.x);
      values.push_back(rosenbrock(r.x));
    }
    auto expected = tutorial_update(before, opt.parameters(), 0, xs, values, identity(n));
    // Tell in reverse order: the result must not depend on it.
    for (std::size_t k = requests.size(); k-- > 0;) opt.tell(requests[k].id, values[k]);
    BOOST_TEST(opt.generation() == 1u);
    check_state(opt, expected.after, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(every_update_matches_the_tutorial_over_many_generations) {
  // n = 2 decomposes C every generation, so C^(-1/2) of the covariance before an update is what
  // the samples were drawn with. A linear function makes the step-size path long enough to
  // stall the rank-one update (h_sigma = 0) now and then; a sphere phase exercises the rest.
  auto o = start(2, 1, 0.5, 11);
  o.tolerance_x_up = 0;  // sigma grows without bound on the slope
  optimizer opt(o);
  BOOST_TEST(opt.parameters().eigen_interval == 1u);
  int stalled = 0, not_stalled = 0;
  for (std::uint64_t g = 0; g < 80; ++g) {
    BOOST_TEST_REQUIRE(!opt.stopped(), to_string(opt.reason()));
    objective f =
        g < 40 ? objective([](const point& x) { return -x[0] - 0.5 * x[1]; }) : objective(sphere);
    auto before = take(opt);
    std::vector<point> xs;
    std::vector<double> values;
    for (const auto& r : opt.ask()) {
      xs.push_back(r.x);
      values.push_back(f(r.x));
    }
    auto expected =
        tutorial_update(before, opt.parameters(), g, xs, values, inverse_sqrt_2x2(before.c));
    auto requests = opt.ask();
    for (std::size_t k = 0; k < requests.size(); ++k) opt.tell(requests[k].id, values[k]);
    check_state(opt, expected.after, 1e-9);
    (expected.h_sigma ? not_stalled : stalled) += 1;
  }
  BOOST_TEST(stalled > 0);
  BOOST_TEST(not_stalled > 0);
}

BOOST_AUTO_TEST_CASE(converges_on_sphere_and_rosenbrock) {
  // Budgets well above the reference medians (sphere 10-D 1,450; Rosenbrock 10-D 6,200).
  auto sphere_start = [](std::uint64_t seed) { return start(10, 1, 1, seed); };
  BOOST_TEST(median_evaluations(sphere_start, sphere, 1e-8, 5) < 1800);
  auto rosenbrock_start = [](std::uint64_t seed) { return start(10, 0.1, 0.3, seed); };
  BOOST_TEST(median_evaluations(rosenbrock_start, rosenbrock, 1e-8, 5) < 7500);
  auto small = [](std::uint64_t seed) { return start(3, 0.1, 0.3, seed); };
  BOOST_TEST(median_evaluations(small, rosenbrock, 1e-10, 5) < 3000);
  // The optimizer's own target criterion.
  auto o = start(5, 1, 1, 2);
  o.target = 1e-10;
  optimizer opt(o);
  while (!opt.stopped()) tell_all(opt, sphere);
  BOOST_TEST(opt.reason() == stop_reason::target);
  BOOST_TEST(*opt.best_fitness() <= 1e-10);
  BOOST_TEST(sphere(opt.best_x()) == *opt.best_fitness());
}

BOOST_AUTO_TEST_CASE(rotation_costs_at_most_a_fifth_more) {
  // CMA-ES is invariant to rotations of the search space: medians over the same seeds of the
  // axis-parallel and a rotated ellipsoid (condition 1e6) differ by sampling noise only.
  const std::size_t n = 10;
  const int seeds = 11;
  auto make = [](std::uint64_t seed) { return start(10, 1, 1, seed); };
  double plain = median_evaluations(make, ellipsoid, 1e-8, seeds);
  std::vector<double> turned;
  for (int seed = 1; seed <= seeds; ++seed) {
    auto result =
        solve(make(static_cast<std::uint64_t>(seed)), rotated(ellipsoid, n, 100 + seed), 1e-8);
    BOOST_TEST_REQUIRE(result.reached);
    turned.push_back(static_cast<double>(result.evaluations));
  }
  BOOST_TEST_MESSAGE("ellipsoid 10-D median evaluations: " << plain << ", rotated "
                                                           << median(turned));
  BOOST_TEST(median(turned) <= 1.2 * plain);
  BOOST_TEST(plain <= 1.2 * median(turned));
}

BOOST_AUTO_TEST_CASE(multiplicative_noise_costs_less_than_twice_the_noiseless_budget) {
  // f (1 + 0.1 N(0, 1)): selection sees noisy ranks; success is judged on the true value.
  auto make = [](std::uint64_t seed) { return start(10, 1, 1, seed); };
  const int seeds = 11;
  double noiseless = median_evaluations(make, sphere, 1e-8, seeds);
  double noisy = median_evaluations(make, sphere, 1e-8, seeds, 0.1);
  BOOST_TEST_MESSAGE("sphere 10-D median evaluations: " << noiseless << ", with 10 % noise "
                                                        << noisy);
  BOOST_TEST(noisy <= 2 * noiseless);
  for (int seed = 1; seed <= seeds; ++seed) {
    BOOST_TEST(solve(make(seed), sphere, 1e-8, 0.1).evaluations <= 2 * noiseless);
  }
}

BOOST_AUTO_TEST_CASE(averaging_repeated_evaluations_overcomes_strong_noise) {
  // With 70 % multiplicative noise in 5-D single evaluations stagnate; the mean of four
  // evaluations per candidate (noise / 2) converges.
  int single = 0, averaged = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto o = start(5, 1, 1, seed);
    single += solve(o, sphere, 1e-8, 0.7).reached ? 1 : 0;
    o.evaluations_per_candidate = 4;
    auto result = solve(o, sphere, 1e-8, 0.7);
    averaged += result.reached ? 1 : 0;
    BOOST_TEST(result.evaluations % 4 == 0u);
  }
  BOOST_TEST(single <= 1);
  BOOST_TEST(averaged == 5);
}

BOOST_AUTO_TEST_CASE(tell_takes_any_order_and_refuses_with_a_reason) {
  auto o = start(3, 1, 1, 5);
  optimizer opt(o);
  const auto lambda = opt.parameters().lambda;
  auto requests = opt.ask();
  BOOST_REQUIRE_EQUAL(requests.size(), lambda);
  BOOST_TEST(requests[0].id.generation == 0u);
  BOOST_TEST(requests[lambda - 1].id.index == lambda - 1);

  // Never handed out.
  BOOST_TEST(opt.tell({1, 0}, 1.0).refused == refusal::unknown);
  BOOST_TEST(opt.tell({0, static_cast<std::uint32_t>(lambda)}, 1.0).refused == refusal::unknown);
  BOOST_TEST(opt.tell(requests[0].id, 1.0, 1).refused == refusal::unknown);
  // Not finite: refused, the evaluation stays wanted.
  BOOST_TEST(opt.tell(requests[0].id, std::nan("")).refused == refusal::not_finite);
  BOOST_TEST(opt.tell(requests[0].id, INFINITY).refused == refusal::not_finite);
  BOOST_TEST(opt.evaluations() == 0u);

  // Re-asking gives the same pending evaluations.
  const auto mean_before = opt.mean();
  BOOST_TEST(opt.tell(requests[2].id, sphere(requests[2].x)).accepted());
  BOOST_TEST(opt.tell(requests[2].id, 0.0).refused == refusal::duplicate);
  auto again = opt.ask();
  BOOST_TEST(again.size() == lambda - 1);
  BOOST_TEST((again[0].id == requests[0].id && again[0].x == requests[0].x));

  // A candidate that cannot be evaluated: resample its slot under a new index.
  auto replacement = opt.resample(requests[1].id);
  BOOST_TEST_REQUIRE(replacement.refused == refusal::none);
  BOOST_REQUIRE_EQUAL(replacement.requests.size(), 1u);
  BOOST_TEST(replacement.requests[0].id.index == lambda);
  BOOST_TEST((replacement.requests[0].x != requests[1].x));
  BOOST_TEST(opt.tell(requests[1].id, 1.0).refused == refusal::replaced);
  BOOST_TEST(opt.resample(requests[1].id).refused == refusal::replaced);
  BOOST_TEST(opt.resample(requests[2].id).refused == refusal::complete);

  // The rest, backwards; the generation is updated only when the last one arrives.
  std::vector<evaluation_request> rest;
  for (const auto& r : opt.ask()) rest.push_back(r);
  BOOST_TEST(rest.size() == lambda - 1);
  for (std::size_t k = rest.size(); k-- > 1;) {
    auto result = opt.tell(rest[k].id, sphere(rest[k].x));
    BOOST_TEST(result.accepted());
    BOOST_TEST(!result.generation_complete);
    BOOST_TEST((opt.mean() == mean_before));
  }
  auto last = opt.tell(rest[0].id, sphere(rest[0].x));
  BOOST_TEST(last.generation_complete);
  BOOST_TEST(opt.generation() == 1u);
  BOOST_TEST(opt.evaluations() == lambda);
  BOOST_TEST((opt.mean() != mean_before));
  BOOST_TEST(opt.ask()[0].id.generation == 1u);
  // Results of the finished generation are stale now.
  BOOST_TEST(opt.tell(requests[0].id, 1.0).refused == refusal::stale);
  BOOST_TEST(opt.resample(requests[0].id).refused == refusal::stale);

  // Stopped: nothing to ask, everything refused.
  o.max_generations = 2;
  optimizer short_run(o);
  while (!short_run.stopped()) tell_all(short_run, sphere);
  BOOST_TEST(short_run.reason() == stop_reason::max_generations);
  BOOST_TEST(short_run.generation() == 2u);
  BOOST_TEST(short_run.ask().empty());
  BOOST_TEST(short_run.tell({2, 0}, 1.0).refused == refusal::finished);
  BOOST_TEST(std::string(to_string(refusal::replaced)) == "replaced");
}

BOOST_AUTO_TEST_CASE(repeated_evaluations_are_averaged_in_repeat_order) {
  auto o = start(2, 1, 1, 8);
  o.evaluations_per_candidate = 3;
  optimizer a(o), b(o);
  auto requests = a.ask();
  BOOST_TEST(requests.size() == 3 * a.parameters().lambda);
  BOOST_TEST(requests[1].repeat == 1u);
  BOOST_TEST((requests[1].x == requests[0].x));
  // The same values in two different orders give bit-identical states.
  for (const auto& r : requests) a.tell(r.id, sphere(r.x) + 0.1 * r.repeat, r.repeat);
  for (std::size_t k = requests.size(); k-- > 0;) {
    b.tell(requests[k].id, sphere(requests[k].x) + 0.1 * requests[k].repeat, requests[k].repeat);
  }
  BOOST_TEST(a.generation() == 1u);
  BOOST_TEST((a.serialize() == b.serialize()));
  BOOST_TEST(a.evaluations() == 3 * a.parameters().lambda);
}

BOOST_AUTO_TEST_CASE(bound_transform_is_identity_inside_and_smooth_at_the_bounds) {
  // lower -1, upper 2: quadratic zones of width 0.1 (lower) and 0.15 (upper), period 6.5.
  BOOST_TEST(transform_into_bounds(0.5, -1, 2) == 0.5);
  BOOST_TEST(transform_into_bounds(-0.9, -1, 2) == -0.9, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(transform_into_bounds(-1.1, -1, 2) == -1.0);
  BOOST_TEST(transform_into_bounds(-1.0, -1, 2) == -0.975, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(2.15, -1, 2) == 2.0);
  BOOST_TEST(transform_into_bounds(2.0, -1, 2) == 1.9625, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(2.3, -1, 2) == transform_into_bounds(2.0, -1, 2),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(0.5 + 6.5, -1, 2) == 0.5, boost::test_tools::tolerance(1e-14));
  for (double x : {-1e9, -37.2, -3.0, 4.4, 1e12}) {
    double t = transform_into_bounds(x, -1, 2);
    BOOST_TEST((t >= -1 && t <= 2), x << " -> " << t);
  }
  // One side only: zones of (1 + |bound|) / 20, mirrored beyond.
  BOOST_TEST(transform_into_bounds(1, 0, INFINITY) == 1.0);
  BOOST_TEST(transform_into_bounds(0, 0, INFINITY) == 0.0125, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(-1, 0, INFINITY) == 0.9, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(0, -INFINITY, 0) == -0.0125,
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(1, -INFINITY, 0) == -0.9, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(transform_into_bounds(-5, -INFINITY, INFINITY) == -5.0);
}

BOOST_AUTO_TEST_CASE(every_candidate_respects_the_bounds) {
  // The optimum of sum (x - 3)^2 lies outside [-1, 2] in every coordinate but the last, whose
  // upper bound is open: the search ends on the bound there.
  const std::size_t n = 4;
  auto o = start(n, 0, 2, 21);
  o.lower_bounds = {-1, -1, -1, -1};
  o.upper_bounds = {2, 2, 2, INFINITY};
  o.max_restarts = 1;
  o.max_evaluations = 6000;
  optimizer opt(o);
  auto f = [](const point& x) {
    double sum = 0;
    for (double v : x) sum += (v - 3) * (v - 3);
    return sum;
  };
  std::size_t checked = 0;
  while (!opt.stopped()) {
    auto requests = opt.ask();
    // Replace one candidate per generation too: replacements obey the bounds as well.
    auto replacement = opt.resample(requests.back().id);
    requests.pop_back();
    requests.insert(requests.end(), replacement.requests.begin(), replacement.requests.end());
    for (const auto& r : requests) {
      for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST_REQUIRE((r.x[i] >= o.lower_bounds[i] && r.x[i] <= o.upper_bounds[i]));
      }
      ++checked;
      opt.tell(r.id, f(r.x), r.repeat);
    }
  }
  BOOST_TEST(checked > 1000u);
  auto best = opt.best_x();
  for (std::size_t i = 0; i + 1 < n; ++i) {
    BOOST_TEST(best[i] == 2.0, boost::test_tools::tolerance(1e-4));
  }
  BOOST_TEST(best[n - 1] == 3.0, boost::test_tools::tolerance(1e-4));
  for (std::size_t i = 0; i + 1 < n; ++i) BOOST_TEST(opt.mean_in_bounds()[i] <= 2.0);
  BOOST_TEST(optimizer(start(2, 0, 1, 1)).resample({0, 99}).refused == refusal::unknown);
  o.upper_bounds[0] = -1;
  BOOST_CHECK_THROW(optimizer{o}, std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(stopping_criteria) {
  auto run = [](options o, const objective& f) {
    optimizer opt(o);
    while (!opt.stopped()) tell_all(opt, f);
    return opt;
  };
  // A sphere without a target ends on the range of recent values.
  auto on_sphere = run(start(4, 1, 1, 1), sphere);
  BOOST_TEST(to_string(on_sphere.reason()) == std::string("tolerance_function"));
  BOOST_TEST(*on_sphere.best_fitness() < 1e-12);

  auto o = start(4, 1, 1, 1);
  o.max_evaluations = 100;
  auto limited = run(o, sphere);
  BOOST_TEST(limited.reason() == stop_reason::max_evaluations);
  BOOST_TEST((limited.evaluations() >= 100u &&
              limited.evaluations() < 100u + limited.parameters().lambda));

  // Flat fitness: sigma grows each generation until equal values end the run.
  o = start(2, 0, 1, 1);
  o.tolerance_x_up = 0;  // which the growing sigma would pass first
  auto flat = run(o, [](const point&) { return 1.0; });
  BOOST_TEST(flat.reason() == stop_reason::equal_function_values);
  BOOST_TEST(flat.sigma() > 10.0);

  // sigma0 far too small on a slope: the step size grows by more than 1e4.
  auto slope = run(start(3, 0, 1e-9, 1), [](const point& x) { return x[0]; });
  BOOST_TEST(slope.reason() == stop_reason::tolerance_x_up);

  // Only x1 matters: C stretches along x2 until its condition passes 1e14.
  o = start(2, 1, 1, 1);
  o.tolerance_function = 0;
  auto ridge = run(o, [](const point& x) { return x[0] * x[0]; });
  BOOST_TEST(ridge.reason() == stop_reason::condition);
  BOOST_TEST(ridge.condition() > 1e14);

  // Far from the origin sigma shrinks until steps no longer change the mean.
  o = start(3, 1e8 + 1, 1, 1);
  o.tolerance_function = 0;
  auto far = run(o, [](const point& x) {
    double sum = 0;
    for (double v : x) sum += (v - 1e8) * (v - 1e8);
    return sum;
  });
  BOOST_TEST((far.reason() == stop_reason::no_effect_axis ||
              far.reason() == stop_reason::no_effect_coordinate),
             to_string(far.reason()));

  // Pure noise: no progress over the stagnation window.
  std::mt19937_64 random(3);
  auto noise = run(start(3, 0, 1, 1),
                   [&](const point&) { return std::uniform_real_distribution<>(0, 1)(random); });
  BOOST_TEST(to_string(noise.reason()) == std::string("stagnation"));
}

BOOST_AUTO_TEST_CASE(ipop_restarts_double_the_population) {
  auto o = start(4, 1, 1, 4);
  o.max_restarts = 2;
  optimizer opt(o);
  std::vector<std::size_t> populations{opt.parameters().lambda};
  std::uint64_t last_generation = 0;
  while (!opt.stopped()) {
    auto requests = opt.ask();
    BOOST_TEST(requests[0].id.generation >= last_generation);
    last_generation = requests[0].id.generation;
    if (requests.size() != populations.back()) {
      populations.push_back(requests.size());
      BOOST_TEST((opt.mean() == o.x0));  // a restart begins at x0 with sigma0
      BOOST_TEST(opt.sigma() == o.sigma0);
    }
    for (const auto& r : requests) opt.tell(r.id, sphere(r.x));
  }
  BOOST_TEST((populations == std::vector<std::size_t>{8, 16, 32}));
  BOOST_TEST(opt.restarts() == 2u);
  BOOST_TEST(opt.restart_reasons().size() == 2u);
  BOOST_TEST(opt.reason() == stop_reason::tolerance_function);
}

BOOST_AUTO_TEST_CASE(a_seed_defines_the_run) {
  auto trajectory = [](std::uint64_t seed) {
    optimizer opt(start(5, 0.1, 0.3, seed));
    std::vector<point> xs;
    for (int g = 0; g < 30; ++g) {
      for (const auto& r : opt.ask()) {
        xs.push_back(r.x);
        opt.tell(r.id, rosenbrock(r.x));
      }
    }
    return xs;
  };
  BOOST_TEST((trajectory(9) == trajectory(9)));
  BOOST_TEST((trajectory(9) != trajectory(10)));

  // The normal stream: mean 0, variance 1, and it resumes exactly from a saved state.
  normal_random normal(42);
  double sum = 0, squares = 0;
  const int count = 200000;
  for (int i = 0; i < count; ++i) {
    double v = normal();
    sum += v;
    squares += v * v;
  }
  BOOST_TEST(std::abs(sum / count) < 0.01);
  BOOST_TEST(std::abs(squares / count - 1) < 0.01);
  normal();  // leaves the spare of a pair pending
  auto saved = normal.save();
  normal_random resumed;
  BOOST_TEST_REQUIRE(resumed.restore(saved));
  for (int i = 0; i < 5; ++i) BOOST_TEST(resumed() == normal());
  BOOST_TEST(!resumed.restore("not a state"));
}

BOOST_AUTO_TEST_CASE(serialization_mid_run_continues_the_same_trajectory) {
  auto o = start(4, 0.1, 0.3, 17);
  o.lower_bounds.assign(4, -2);
  o.upper_bounds.assign(4, 2);
  o.evaluations_per_candidate = 2;
  o.max_restarts = 1;
  optimizer original(o);
  for (int g = 0; g < 25; ++g) tell_all(original, rosenbrock);
  // Stop in the middle of a generation: some results told, one slot resampled.
  auto requests = original.ask();
  for (std::size_t k = 0; k < requests.size() / 2; ++k) {
    original.tell(requests[k].id, rosenbrock(requests[k].x), requests[k].repeat);
  }
  original.resample(requests.back().id);

  const std::string bytes = original.serialize();
  auto restored = optimizer::deserialize(bytes);
  BOOST_TEST_REQUIRE(restored.has_value());
  BOOST_TEST((restored->serialize() == bytes));

  // Both go on with the same results, told in a shuffled order; every request, every state
  // and the end must be bit for bit the same.
  std::mt19937_64 shuffle(5);
  int generations = 0;
  while (!original.stopped() && generations < 400) {
    auto a = original.ask(), b = restored->ask();
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      BOOST_REQUIRE((a[k].id == b[k].id && a[k].repeat == b[k].repeat && a[k].x == b[k].x));
    }
    std::shuffle(a.begin(), a.end(), shuffle);
    for (const auto& r : a) {
      double value = rosenbrock(r.x) * (1 + 1e-3 * r.repeat);
      BOOST_REQUIRE(original.tell(r.id, value, r.repeat).accepted());
      BOOST_REQUIRE(restored->tell(r.id, value, r.repeat).accepted());
    }
    ++generations;
  }
  BOOST_TEST(original.stopped());
  BOOST_TEST(restored->stopped());
  BOOST_TEST((original.serialize() == restored->serialize()));
  BOOST_TEST((original.best_x() == restored->best_x()));

  // A stopped optimizer round-trips too; damaged bytes are refused.
  BOOST_TEST(optimizer::deserialize(original.serialize()).has_value());
  BOOST_TEST(!optimizer::deserialize("").has_value());
  BOOST_TEST(!optimizer::deserialize(bytes + "x").has_value());
  for (std::size_t cut : {std::size_t{5}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    BOOST_TEST(!optimizer::deserialize(bytes.substr(0, cut)).has_value(), "cut at " << cut);
  }
  std::string wrong_magic = bytes;
  wrong_magic[9] = 'X';
  BOOST_TEST(!optimizer::deserialize(wrong_magic).has_value());

  // Damage anywhere is either refused or gives a state that works and reads back the same.
  int refused = 0;
  for (std::size_t at = 0; at < bytes.size(); at += 3) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    auto state = optimizer::deserialize(damaged);
    if (!state) {
      ++refused;
      continue;
    }
    auto again = optimizer::deserialize(state->serialize());
    BOOST_TEST_REQUIRE(again.has_value());
    BOOST_TEST((again->serialize() == state->serialize()));
    for (const auto& r : state->ask()) state->tell(r.id, sphere(r.x), r.repeat);
  }
  BOOST_TEST(refused > 0);
}

BOOST_AUTO_TEST_CASE(copies_are_independent) {
  optimizer a(start(3, 1, 1, 2));
  tell_all(a, sphere);
  optimizer b = a;
  tell_all(a, sphere);
  BOOST_TEST(b.generation() == 1u);
  BOOST_TEST(a.generation() == 2u);
  tell_all(b, sphere);
  BOOST_TEST((a.serialize() == b.serialize()));
}

BOOST_AUTO_TEST_SUITE_END()
