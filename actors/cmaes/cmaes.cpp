#include "actors/cmaes/cmaes.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <bit>
#include <cmath>
#include <locale>
#include <numbers>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace p2p::cmaes {

namespace {

using vec = Eigen::VectorXd;
using mat = Eigen::MatrixXd;

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// Longest fitness history kept for the stagnation criterion (the tutorial's cap).
constexpr std::size_t history_cap = 20000;

double median_of(std::vector<double> values) {
  if (values.empty()) return not_a_number;
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// C += coefficient * v v^T, computed once per pair so C stays exactly symmetric.
void add_outer(mat& c, double coefficient, const vec& v) {
  const auto n = v.size();
  for (Eigen::Index col = 0; col < n; ++col) {
    for (Eigen::Index row = col; row < n; ++row) {
      double term = coefficient * (v[row] * v[col]);
      c(row, col) += term;
      if (row != col) c(col, row) += term;
    }
  }
}

}  // namespace

// ---- random numbers ---------------------------------------------------------------------------

double normal_random::uniform() {
  // 53 random bits; the + 1 keeps 0 out, so the logarithm below is finite.
  return static_cast<double>((engine_() >> 11) + 1) * 0x1p-53;
}

double normal_random::operator()() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double radius = std::sqrt(-2.0 * std::log(uniform()));
  double angle = 2.0 * std::numbers::pi * uniform();
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::string normal_random::save() const {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << engine_ << ' ' << (has_spare_ ? 1 : 0) << ' ' << std::bit_cast<std::uint64_t>(spare_);
  return out.str();
}

bool normal_random::restore(std::string_view saved) {
  std::istringstream in{std::string(saved)};
  in.imbue(std::locale::classic());
  std::mt19937_64 engine;
  int spare_flag = 0;
  std::uint64_t spare_bits = 0;
  if (!(in >> engine >> spare_flag >> spare_bits) || (spare_flag != 0 && spare_flag != 1)) {
    return false;
  }
  engine_ = engine;
  has_spare_ = spare_flag == 1;
  spare_ = std::bit_cast<double>(spare_bits);
  return true;
}

// ---- strategy parameters ----------------------------------------------------------------------

strategy_parameters default_parameters(std::size_t n, std::size_t lambda, bool active) {
  if (n == 0) throw std::invalid_argument("cmaes: the dimension must be positive");
  const double dim = static_cast<double>(n);
  if (lambda == 0) lambda = 4 + static_cast<std::size_t>(std::floor(3 * std::log(dim)));
  if (lambda < 2) throw std::invalid_argument("cmaes: the population size must be at least 2");
  strategy_parameters p;
  p.dimension = n;
  p.lambda = lambda;
  p.mu = lambda / 2;

  // Raw weights ln((lambda + 1) / 2) - ln i: positive for the better half.
  std::vector<double> raw(lambda);
  for (std::size_t i = 0; i < lambda; ++i) {
    raw[i] = std::log((static_cast<double>(lambda) + 1) / 2) - std::log(static_cast<double>(i + 1));
  }
  double positive_sum = 0, positive_squares = 0, negative_sum = 0, negative_squares = 0;
  for (std::size_t i = 0; i < lambda; ++i) {
    if (i < p.mu) {
      positive_sum += raw[i];
      positive_squares += raw[i] * raw[i];
    } else {
      negative_sum += raw[i];
      negative_squares += raw[i] * raw[i];
    }
  }
  p.mu_eff = positive_sum * positive_sum / positive_squares;
  p.mu_eff_negative = negative_squares > 0 ? negative_sum * negative_sum / negative_squares : 0;

  p.c_m = 1;
  p.c_sigma = (p.mu_eff + 2) / (dim + p.mu_eff + 5);
  p.d_sigma = 1 + 2 * std::max(0.0, std::sqrt((p.mu_eff - 1) / (dim + 1)) - 1) + p.c_sigma;
  p.c_c = (4 + p.mu_eff / dim) / (dim + 4 + 2 * p.mu_eff / dim);
  const double alpha_cov = 2;
  p.c_1 = alpha_cov / ((dim + 1.3) * (dim + 1.3) + p.mu_eff);
  p.c_mu = std::min(1 - p.c_1, alpha_cov * (0.25 + p.mu_eff + 1 / p.mu_eff - 2) /
                                   ((dim + 2) * (dim + 2) + alpha_cov * p.mu_eff / 2));

  // Negative weights sum to -min(alpha_mu, alpha_mu_eff, alpha_posdef): no decay of C by
  // default, limited by their own selection mass, and C stays positive definite.
  const double alpha_mu = 1 + p.c_1 / p.c_mu;
  const double alpha_mu_eff = 1 + 2 * p.mu_eff_negative / (p.mu_eff + 2);
  const double alpha_posdef = (1 - p.c_1 - p.c_mu) / (dim * p.c_mu);
  const double negative_total = std::min({alpha_mu, alpha_mu_eff, alpha_posdef});
  p.weights.resize(lambda);
  for (std::size_t i = 0; i < lambda; ++i) {
    if (raw[i] >= 0) {
      p.weights[i] = raw[i] / positive_sum;
    } else {
      p.weights[i] = active && negative_sum < 0 ? negative_total * raw[i] / -negative_sum : 0.0;
    }
  }

  p.expected_norm = std::sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim * dim));
  p.eigen_interval = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::floor(1 / (10 * dim * (p.c_1 + p.c_mu)))));
  return p;
}

// ---- bounds -----------------------------------------------------------------------------------

double transform_into_bounds(double x, double lower, double upper) {
  const bool has_lower = std::isfinite(lower), has_upper = std::isfinite(upper);
  if (!has_lower && !has_upper) return x;
  if (has_lower && has_upper) {
    // Widths of the quadratic zones: at most half the range, else 5 % of (1 + |bound|).
    const double width = upper - lower;
    const double al = std::min(width / 2, (1 + std::abs(lower)) / 20);
    const double au = std::min(width / 2, (1 + std::abs(upper)) / 20);
    const double start = lower - 2 * al - width / 2;
    const double period = 2 * (width + al + au);
    if (x < start || x > start + period) x -= period * std::floor((x - start) / period);
    if (x > upper + au) x -= 2 * (x - upper - au);
    if (x < lower - al) x += 2 * (lower - al - x);
    if (x < lower + al) return lower + (x - (lower - al)) * (x - (lower - al)) / (4 * al);
    if (x < upper - au) return x;
    return upper - (x - (upper + au)) * (x - (upper + au)) / (4 * au);
  }
  if (has_lower) {
    const double al = (1 + std::abs(lower)) / 20;
    if (x < lower - al) x = 2 * (lower - al) - x;
    if (x < lower + al) return lower + (x - (lower - al)) * (x - (lower - al)) / (4 * al);
    return x;
  }
  const double au = (1 + std::abs(upper)) / 20;
  if (x > upper + au) x = 2 * (upper + au) - x;
  if (x > upper - au) return upper - (x - (upper + au)) * (x - (upper + au)) / (4 * au);
  return x;
}

// ---- names ------------------------------------------------------------------------------------

const char* to_string(refusal r) {
  switch (r) {
    case refusal::none: return "none";
    case refusal::finished: return "finished";
    case refusal::stale: return "stale";
    case refusal::unknown: return "unknown";
    case refusal::replaced: return "replaced";
    case refusal::duplicate: return "duplicate";
    case refusal::not_finite: return "not_finite";
    case refusal::complete: return "complete";
  }
  return "?";
}

const char* to_string(stop_reason r) {
  switch (r) {
    case stop_reason::none: return "none";
    case stop_reason::target: return "target";
    case stop_reason::max_evaluations: return "max_evaluations";
    case stop_reason::max_generations: return "max_generations";
    case stop_reason::tolerance_function: return "tolerance_function";
    case stop_reason::equal_function_values: return "equal_function_values";
    case stop_reason::tolerance_x: return "tolerance_x";
    case stop_reason::tolerance_x_up: return "tolerance_x_up";
    case stop_reason::condition: return "condition";
    case stop_reason::no_effect_axis: return "no_effect_axis";
    case stop_reason::no_effect_coordinate: return "no_effect_coordinate";
    case stop_reason::stagnation: return "stagnation";
  }
  return "?";
}

// ---- state ------------------------------------------------------------------------------------

namespace {

// One of the lambda places of a generation and the candidate currently in it.
struct slot {
  std::uint32_t index = 0;
  vec z;                       // N(0, I)
  vec y;                       // B D z, the step in units of sigma
  std::vector<double> x;       // mean + sigma y mapped into the bounds: what is evaluated
  std::vector<double> values;  // by repeat
  std::vector<std::uint8_t> told;
  std::uint32_t told_count = 0;
};

}  // namespace

struct optimizer::state {
  options opts;
  normal_random random;

  // All runs.
  std::uint64_t generation = 0;  // completed generations
  std::uint64_t evaluations = 0;
  std::uint32_t restarts = 0;
  std::vector<stop_reason> restart_reasons;
  stop_reason stopped = stop_reason::none;
  bool has_best = false;
  double best_f = not_a_number;
  std::vector<double> best_x;

  // The current run.
  strategy_parameters params;
  vec mean;
  double sigma = 1;
  mat c, b;  // covariance matrix; its eigenvectors as columns at the last decomposition
  vec d;     // square roots of C's eigenvalues at the last decomposition
  vec path_sigma, path_c;
  std::uint64_t run_generations = 0;
  std::uint64_t decomposed_at = 0;  // run_generations at the last eigendecomposition
  double condition = 1;
  bool decomposition_failed = false;
  std::vector<double> best_history, median_history;  // per generation of this run

  // The generation in flight.
  std::vector<slot> slots;
  std::vector<std::uint32_t> slot_of_index;  // candidate index -> slot
  std::uint32_t complete_slots = 0;

  std::size_t n() const { return opts.x0.size(); }
  bool bounded() const { return !opts.lower_bounds.empty(); }

  std::vector<double> into_bounds(const vec& x) const {
    std::vector<double> out(x.data(), x.data() + x.size());
    if (bounded()) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = transform_into_bounds(out[i], opts.lower_bounds[i], opts.upper_bounds[i]);
      }
    }
    return out;
  }

  std::size_t run_lambda() const {
    std::size_t base = opts.population_size ? opts.population_size : default_parameters(n()).lambda;
    double scaled = static_cast<double>(base) * std::pow(opts.restart_population_factor, restarts);
    return static_cast<std::size_t>(std::llround(scaled));
  }

  void start_run() {
    const auto dim = static_cast<Eigen::Index>(n());
    params = default_parameters(n(), run_lambda(), opts.active);
    mean = Eigen::Map<const vec>(opts.x0.data(), dim);
    sigma = opts.sigma0;
    c = mat::Identity(dim, dim);
    b = mat::Identity(dim, dim);
    d = vec::Ones(dim);
    path_sigma = vec::Zero(dim);
    path_c = vec::Zero(dim);
    run_generations = 0;
    decomposed_at = 0;
    condition = 1;
    decomposition_failed = false;
    best_history.clear();
    median_history.clear();
    start_generation();
  }

  void sample(slot& s) {
    const auto dim = static_cast<Eigen::Index>(n());
    s.z.resize(dim);
    for (Eigen::Index i = 0; i < dim; ++i) s.z[i] = random();
    s.y = b * d.cwiseProduct(s.z);
    s.x = into_bounds(mean + sigma * s.y);
    s.values.assign(opts.evaluations_per_candidate, not_a_number);
    s.told.assign(opts.evaluations_per_candidate, 0);
    s.told_count = 0;
  }

  void start_generation() {
    slots.assign(params.lambda, slot{});
    slot_of_index.resize(params.lambda);
    for (std::size_t i = 0; i < params.lambda; ++i) {
      slots[i].index = static_cast<std::uint32_t>(i);
      slot_of_index[i] = static_cast<std::uint32_t>(i);
      sample(slots[i]);
    }
    complete_slots = 0;
  }

  void decompose() {
    Eigen::SelfAdjointEigenSolver<mat> solver(c);
    decomposed_at = run_generations;
    if (solver.info() != Eigen::Success || !(solver.eigenvalues().minCoeff() > 0) ||
        !solver.eigenvalues().allFinite()) {
      decomposition_failed = true;
      return;
    }
    b = solver.eigenvectors();
    d = solver.eigenvalues().cwiseSqrt();
    condition = solver.eigenvalues().maxCoeff() / solver.eigenvalues().minCoeff();
  }

  double candidate_fitness(const slot& s) const {
    double sum = 0;  // in repeat order, whatever the order the results came in
    for (double v : s.values) sum += v;
    return sum / static_cast<double>(s.values.size());
  }

  // The generation has all its evaluations: update the distribution (tutorial, section 4).
  void update() {
    const auto& p = params;
    const std::size_t lambda = p.lambda;
    const double dim = static_cast<double>(n());
    std::vector<double> fitness(lambda);
    for (std::size_t i = 0; i < lambda; ++i) fitness[i] = candidate_fitness(slots[i]);
    std::vector<std::size_t> order(lambda);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t l, std::size_t r) { return fitness[l] < fitness[r]; });

    // Recombination: y_w = sum w_i y_i:lambda over the positive weights.
    vec y_w = vec::Zero(mean.size()), z_w = vec::Zero(mean.size());
    for (std::size_t i = 0; i < p.mu; ++i) {
      y_w += p.weights[i] * slots[order[i]].y;
      z_w += p.weights[i] * slots[order[i]].z;
    }
    mean += p.c_m * sigma * y_w;

    // Step-size path: C^(-1/2) y_w = B z_w, since every y is B D z with the same B and D.
    path_sigma = (1 - p.c_sigma) * path_sigma +
                 std::sqrt(p.c_sigma * (2 - p.c_sigma) * p.mu_eff) * (b * z_w);
    const double path_sigma_norm = path_sigma.norm();
    // h_sigma stalls the rank-one update while the step-size path is long (sigma increasing).
    const double bias = 1 - std::pow(1 - p.c_sigma, 2.0 * static_cast<double>(run_generations + 1));
    const bool h_sigma =
        path_sigma_norm / std::sqrt(bias) < (1.4 + 2 / (dim + 1)) * p.expected_norm;
    path_c = (1 - p.c_c) * path_c;
    if (h_sigma) path_c += std::sqrt(p.c_c * (2 - p.c_c) * p.mu_eff) * y_w;

    // Covariance: rank-one with p_c, rank-mu with all lambda steps; a step with a negative
    // weight is rescaled to Mahalanobis length sqrt(n), ||C^(-1/2) y|| = ||z||.
    const double weight_sum = std::accumulate(p.weights.begin(), p.weights.end(), 0.0);
    const double stall_correction = h_sigma ? 0.0 : p.c_c * (2 - p.c_c);
    c *= 1 + p.c_1 * stall_correction - p.c_1 - p.c_mu * weight_sum;
    add_outer(c, p.c_1, path_c);
    for (std::size_t i = 0; i < lambda; ++i) {
      double w = p.weights[i];
      if (w == 0) continue;
      const slot& s = slots[order[i]];
      if (w < 0) w *= dim / s.z.squaredNorm();
      add_outer(c, p.c_mu * w, s.y);
    }

    // Step size; the increase is capped at e per generation as in pycma.
    sigma *=
        std::exp(std::min(1.0, p.c_sigma / p.d_sigma * (path_sigma_norm / p.expected_norm - 1)));
    // Flat fitness: without a ranking sigma must grow to find one.
    const std::size_t flat_rank =
        static_cast<std::size_t>(std::ceil(0.7 * static_cast<double>(lambda))) - 1;
    if (fitness[order[0]] == fitness[order[flat_rank]]) {
      sigma *= std::exp(0.2 + p.c_sigma / p.d_sigma);
    }

    // The best so far is taken per generation, so ties never depend on the arrival order.
    if (!has_best || fitness[order[0]] < best_f) {
      has_best = true;
      best_f = fitness[order[0]];
      best_x = slots[order[0]].x;
    }
    best_history.push_back(fitness[order[0]]);
    median_history.push_back(median_of(fitness));
    if (best_history.size() > history_cap + history_cap / 20) {
      auto drop = static_cast<std::ptrdiff_t>(best_history.size() - history_cap);
      best_history.erase(best_history.begin(), best_history.begin() + drop);
      median_history.erase(median_history.begin(), median_history.begin() + drop);
    }
    ++run_generations;
    ++generation;
    if (run_generations - decomposed_at >= p.eigen_interval) decompose();

    const stop_reason reason = check_stop(fitness);
    if (reason == stop_reason::none) {
      start_generation();
    } else if (reason == stop_reason::target || reason == stop_reason::max_evaluations ||
               reason == stop_reason::max_generations || restarts >= opts.max_restarts) {
      stopped = reason;
      slots.clear();
      slot_of_index.clear();
      complete_slots = 0;
    } else {
      restart_reasons.push_back(reason);
      ++restarts;
      start_run();
    }
  }

  stop_reason check_stop(const std::vector<double>& fitness) const {
    const auto& p = params;
    const std::size_t dim = n();
    if (has_best && best_f <= opts.target) return stop_reason::target;
    if (opts.max_evaluations && evaluations >= opts.max_evaluations) {
      return stop_reason::max_evaluations;
    }
    if (opts.max_generations && generation >= opts.max_generations) {
      return stop_reason::max_generations;
    }

    // The run criteria of the tutorial's appendix B.3.
    if (decomposition_failed || (opts.max_condition > 0 && condition > opts.max_condition)) {
      return stop_reason::condition;
    }
    const std::size_t recent =
        10 + static_cast<std::size_t>(
                 std::ceil(30.0 * static_cast<double>(dim) / static_cast<double>(p.lambda)));
    const auto recent_best =
        best_history.end() - static_cast<std::ptrdiff_t>(std::min(recent, best_history.size()));
    // Both need the whole window, so a flat start gets its sigma increases first.
    if (best_history.size() >= recent) {
      const double lo_best = *std::min_element(recent_best, best_history.end());
      const double hi_best = *std::max_element(recent_best, best_history.end());
      if (lo_best == hi_best) return stop_reason::equal_function_values;
      const double lo = std::min(lo_best, *std::min_element(fitness.begin(), fitness.end()));
      const double hi = std::max(hi_best, *std::max_element(fitness.begin(), fitness.end()));
      if (hi - lo < opts.tolerance_function) return stop_reason::tolerance_function;
    }
    const double tolerance_x = opts.tolerance_x * opts.sigma0;
    bool all_small = tolerance_x > 0;
    for (std::size_t i = 0; i < dim && all_small; ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      all_small =
          sigma * std::sqrt(c(k, k)) < tolerance_x && sigma * std::abs(path_c[k]) < tolerance_x;
    }
    if (all_small) return stop_reason::tolerance_x;
    if (opts.tolerance_x_up > 0 && sigma * d.maxCoeff() > opts.tolerance_x_up * opts.sigma0) {
      return stop_reason::tolerance_x_up;
    }
    const auto axis = static_cast<Eigen::Index>(run_generations % dim);
    const vec moved = mean + 0.1 * sigma * d[axis] * b.col(axis);
    if (moved == mean) return stop_reason::no_effect_axis;
    for (Eigen::Index i = 0; i < mean.size(); ++i) {
      if (mean[i] + 0.2 * sigma * std::sqrt(c(i, i)) == mean[i]) {
        return stop_reason::no_effect_coordinate;
      }
    }
    if (opts.stop_on_stagnation && stagnating()) return stop_reason::stagnation;
    return stop_reason::none;
  }

  // Over the last 20 % of the generations (at least 120 + 30 n / lambda, at most 20,000), the
  // medians of the newest 30 % of the best and of the median values are no better than those of
  // the oldest 30 %.
  bool stagnating() const {
    const double minimum = 120 + 30 * static_cast<double>(n()) / static_cast<double>(params.lambda);
    if (static_cast<double>(run_generations) < minimum) return false;
    auto window =
        static_cast<std::size_t>(std::max(minimum, 0.2 * static_cast<double>(run_generations)));
    window = std::min({window, history_cap, best_history.size()});
    const auto part = static_cast<std::size_t>(std::ceil(0.3 * static_cast<double>(window)));
    auto compare = [&](const std::vector<double>& history) {
      auto begin = history.end() - static_cast<std::ptrdiff_t>(window);
      double old_median =
          median_of(std::vector<double>(begin, begin + static_cast<std::ptrdiff_t>(part)));
      double new_median = median_of(
          std::vector<double>(history.end() - static_cast<std::ptrdiff_t>(part), history.end()));
      return new_median >= old_median;
    };
    return compare(best_history) && compare(median_history);
  }
};

// ---- optimizer --------------------------------------------------------------------------------

namespace {

void validate(const options& o) {
  auto bad = [](const char* why) { throw std::invalid_argument(std::string("cmaes: ") + why); };
  if (o.x0.empty()) bad("x0 is empty");
  for (double v : o.x0) {
    if (!std::isfinite(v)) bad("x0 is not finite");
  }
  if (!(o.sigma0 > 0) || !std::isfinite(o.sigma0)) bad("sigma0 must be positive");
  // The upper limits only keep absurd requests from allocating without bound.
  if (o.population_size == 1 || o.population_size > 1'000'000) {
    bad("the population size must be 2 to 1,000,000");
  }
  if (o.evaluations_per_candidate < 1 || o.evaluations_per_candidate > 1'000'000) {
    bad("evaluations_per_candidate must be 1 to 1,000,000");
  }
  if (o.lower_bounds.empty() != o.upper_bounds.empty()) bad("give both bounds or none");
  if (!o.lower_bounds.empty()) {
    if (o.lower_bounds.size() != o.x0.size() || o.upper_bounds.size() != o.x0.size()) {
      bad("bounds need one value per coordinate");
    }
    for (std::size_t i = 0; i < o.x0.size(); ++i) {
      if (std::isnan(o.lower_bounds[i]) || std::isnan(o.upper_bounds[i]) ||
          !(o.lower_bounds[i] < o.upper_bounds[i])) {
        bad("each lower bound must be below its upper bound");
      }
    }
  }
  if (!(o.restart_population_factor >= 1 && o.restart_population_factor <= 100)) {
    bad("restart_population_factor must be 1 to 100");
  }
  if (std::isnan(o.target)) bad("target is NaN");
}

}  // namespace

optimizer::optimizer(const options& opts) : s_(std::make_unique<state>()) {
  validate(opts);
  s_->opts = opts;
  s_->random = normal_random(opts.seed);
  s_->start_run();
}

optimizer::optimizer(std::unique_ptr<state> s) : s_(std::move(s)) {}
optimizer::optimizer(const optimizer& other) : s_(std::make_unique<state>(*other.s_)) {}
optimizer& optimizer::operator=(const optimizer& other) {
  if (this != &other) s_ = std::make_unique<state>(*other.s_);
  return *this;
}
optimizer::optimizer(optimizer&&) noexcept = default;
optimizer& optimizer::operator=(optimizer&&) noexcept = default;
optimizer::~optimizer() = default;

std::vector<evaluation_request> optimizer::ask() const {
  std::vector<evaluation_request> requests;
  if (s_->stopped != stop_reason::none) return requests;
  for (const auto& s : s_->slots) {
    for (std::uint32_t r = 0; r < s.told.size(); ++r) {
      if (!s.told[r]) requests.push_back({{s_->generation, s.index}, r, s.x});
    }
  }
  return requests;
}

namespace {

// Finds the slot of a current candidate, or says why there is none.
refusal locate(const optimizer::state& s, candidate_id id, std::size_t& slot_index) {
  if (s.stopped != stop_reason::none) return refusal::finished;
  if (id.generation < s.generation) return refusal::stale;
  if (id.generation > s.generation || id.index >= s.slot_of_index.size()) return refusal::unknown;
  slot_index = s.slot_of_index[id.index];
  if (s.slots[slot_index].index != id.index) return refusal::replaced;
  return refusal::none;
}

}  // namespace

tell_result optimizer::tell(candidate_id id, double fitness, std::uint32_t repeat) {
  auto& st = *s_;
  std::size_t slot_index = 0;
  if (auto why = locate(st, id, slot_index); why != refusal::none) return {why, false};
  auto& s = st.slots[slot_index];
  if (repeat >= s.told.size()) return {refusal::unknown, false};
  if (s.told[repeat]) return {refusal::duplicate, false};
  if (!std::isfinite(fitness)) return {refusal::not_finite, false};
  s.values[repeat] = fitness;
  s.told[repeat] = 1;
  ++st.evaluations;
  if (++s.told_count < s.told.size()) return {refusal::none, false};
  if (++st.complete_slots < st.slots.size()) return {refusal::none, false};
  st.update();
  return {refusal::none, true};
}

resample_result optimizer::resample(candidate_id id) {
  auto& st = *s_;
  std::size_t slot_index = 0;
  if (auto why = locate(st, id, slot_index); why != refusal::none) return {why, {}};
  auto& s = st.slots[slot_index];
  if (s.told_count == s.told.size()) return {refusal::complete, {}};
  s.index = static_cast<std::uint32_t>(st.slot_of_index.size());
  st.slot_of_index.push_back(static_cast<std::uint32_t>(slot_index));
  st.sample(s);
  resample_result result;
  for (std::uint32_t r = 0; r < s.told.size(); ++r) {
    result.requests.push_back({{st.generation, s.index}, r, s.x});
  }
  return result;
}

bool optimizer::stopped() const { return s_->stopped != stop_reason::none; }
stop_reason optimizer::reason() const { return s_->stopped; }
std::vector<stop_reason> optimizer::restart_reasons() const { return s_->restart_reasons; }
std::uint64_t optimizer::generation() const { return s_->generation; }
std::uint64_t optimizer::evaluations() const { return s_->evaluations; }
std::uint32_t optimizer::restarts() const { return s_->restarts; }
std::size_t optimizer::dimension() const { return s_->n(); }
const strategy_parameters& optimizer::parameters() const { return s_->params; }

std::vector<double> optimizer::mean() const {
  return {s_->mean.data(), s_->mean.data() + s_->mean.size()};
}
std::vector<double> optimizer::mean_in_bounds() const { return s_->into_bounds(s_->mean); }
double optimizer::sigma() const { return s_->sigma; }
std::vector<double> optimizer::covariance() const {
  const auto dim = static_cast<Eigen::Index>(s_->n());
  std::vector<double> out;
  out.reserve(s_->n() * s_->n());
  for (Eigen::Index row = 0; row < dim; ++row) {
    for (Eigen::Index col = 0; col < dim; ++col) out.push_back(s_->c(row, col));
  }
  return out;
}
std::vector<double> optimizer::path_sigma() const {
  return {s_->path_sigma.data(), s_->path_sigma.data() + s_->path_sigma.size()};
}
std::vector<double> optimizer::path_c() const {
  return {s_->path_c.data(), s_->path_c.data() + s_->path_c.size()};
}
double optimizer::condition() const { return s_->condition; }
std::optional<double> optimizer::best_fitness() const {
  if (!s_->has_best) return std::nullopt;
  return s_->best_f;
}
std::vector<double> optimizer::best_x() const { return s_->best_x; }

// ---- serialization ----------------------------------------------------------------------------
// Little-endian fixed-width integers, doubles as their bit patterns, sizes before contents.

namespace {

constexpr std::string_view magic = "p2p-cmaes";
constexpr std::uint32_t format_version = 1;

class writer {
 public:
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void boolean(bool v) { u64(v ? 1 : 0); }
  void bytes(std::string_view v) {
    u64(v.size());
    out_.append(v);
  }
  void doubles(const std::vector<double>& v) {
    u64(v.size());
    for (double x : v) f64(x);
  }
  void vector(const vec& v) {
    u64(static_cast<std::uint64_t>(v.size()));
    for (Eigen::Index i = 0; i < v.size(); ++i) f64(v[i]);
  }
  void matrix(const mat& m) {
    u64(static_cast<std::uint64_t>(m.rows()));
    u64(static_cast<std::uint64_t>(m.cols()));
    for (Eigen::Index i = 0; i < m.size(); ++i) f64(m.data()[i]);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what writer wrote; any shortfall or implausible size sets failed().
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == in_.size(); }

  std::uint64_t u64() {
    if (in_.size() - pos_ < 8) {
      failed_ = true;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= std::uint64_t(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    return v;
  }
  std::uint32_t u32() {
    auto v = u64();
    if (v > 0xffffffffu) failed_ = true;
    return static_cast<std::uint32_t>(v);
  }
  double f64() { return std::bit_cast<double>(u64()); }
  bool boolean() {
    auto v = u64();
    if (v > 1) failed_ = true;
    return v == 1;
  }
  std::string bytes() {
    auto size = length(1);
    std::string v(in_.substr(pos_, size));
    pos_ += size;
    return v;
  }
  std::vector<double> doubles() {
    auto size = length(8);
    std::vector<double> v(size);
    for (auto& x : v) x = f64();
    return v;
  }
  vec vector(std::size_t expected) {
    auto size = length(8);
    if (failed_ || size != expected) {
      failed_ = true;
      return {};
    }
    vec v(static_cast<Eigen::Index>(size));
    for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = f64();
    return v;
  }
  mat matrix(std::size_t expected) {
    auto rows = u64(), cols = u64();
    // Checked before allocating: a damaged size must not ask for terabytes.
    if (failed_ || rows != expected || cols != expected ||
        rows > (in_.size() - pos_) / 8 / std::max<std::uint64_t>(cols, 1)) {
      failed_ = true;
      return {};
    }
    mat m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = f64();
    return m;
  }
  // A count of items of at least `item_bytes` each, refused if the input cannot hold them.
  std::size_t length(std::size_t item_bytes) {
    auto size = u64();
    if (failed_ || size > (in_.size() - pos_) / item_bytes) {
      failed_ = true;
      return 0;
    }
    return static_cast<std::size_t>(size);
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

void write_parameters(writer& w, const strategy_parameters& p) {
  w.u64(p.dimension);
  w.u64(p.lambda);
  w.u64(p.mu);
  w.doubles(p.weights);
  for (double v : {p.mu_eff, p.mu_eff_negative, p.c_m, p.c_sigma, p.d_sigma, p.c_c, p.c_1, p.c_mu,
                   p.expected_norm}) {
    w.f64(v);
  }
  w.u64(p.eigen_interval);
}

strategy_parameters read_parameters(reader& r) {
  strategy_parameters p;
  p.dimension = r.u64();
  p.lambda = r.u64();
  p.mu = r.u64();
  p.weights = r.doubles();
  for (double* v : {&p.mu_eff, &p.mu_eff_negative, &p.c_m, &p.c_sigma, &p.d_sigma, &p.c_c, &p.c_1,
                    &p.c_mu, &p.expected_norm}) {
    *v = r.f64();
  }
  p.eigen_interval = r.u64();
  return p;
}

}  // namespace

std::string optimizer::serialize() const {
  const auto& st = *s_;
  writer w;
  w.bytes(magic);
  w.u64(format_version);
  const auto& o = st.opts;
  w.doubles(o.x0);
  w.f64(o.sigma0);
  w.u64(o.seed);
  w.u64(o.population_size);
  w.boolean(o.active);
  w.doubles(o.lower_bounds);
  w.doubles(o.upper_bounds);
  w.u64(o.evaluations_per_candidate);
  w.f64(o.target);
  w.u64(o.max_evaluations);
  w.u64(o.max_generations);
  w.f64(o.tolerance_function);
  w.f64(o.tolerance_x);
  w.f64(o.tolerance_x_up);
  w.f64(o.max_condition);
  w.boolean(o.stop_on_stagnation);
  w.u64(o.max_restarts);
  w.f64(o.restart_population_factor);

  w.bytes(st.random.save());
  w.u64(st.generation);
  w.u64(st.evaluations);
  w.u64(st.restarts);
  w.u64(st.restart_reasons.size());
  for (auto reason : st.restart_reasons) w.u64(static_cast<std::uint64_t>(reason));
  w.u64(static_cast<std::uint64_t>(st.stopped));
  w.boolean(st.has_best);
  w.f64(st.best_f);
  w.doubles(st.best_x);

  write_parameters(w, st.params);
  w.vector(st.mean);
  w.f64(st.sigma);
  w.matrix(st.c);
  w.matrix(st.b);
  w.vector(st.d);
  w.vector(st.path_sigma);
  w.vector(st.path_c);
  w.u64(st.run_generations);
  w.u64(st.decomposed_at);
  w.f64(st.condition);
  w.boolean(st.decomposition_failed);
  w.doubles(st.best_history);
  w.doubles(st.median_history);

  w.u64(st.slots.size());
  for (const auto& s : st.slots) {
    w.u64(s.index);
    w.vector(s.z);
    w.vector(s.y);
    w.doubles(s.x);
    w.doubles(s.values);
    w.u64(s.told_count);
    for (auto t : s.told) w.boolean(t != 0);
  }
  w.u64(st.slot_of_index.size());
  for (auto slot : st.slot_of_index) w.u64(slot);
  w.u64(st.complete_slots);
  return w.take();
}

std::optional<optimizer> optimizer::deserialize(std::string_view bytes) {
  reader r(bytes);
  if (r.bytes() != magic || r.u64() != format_version || r.failed()) return std::nullopt;
  auto st = std::make_unique<state>();
  auto& o = st->opts;
  o.x0 = r.doubles();
  o.sigma0 = r.f64();
  o.seed = r.u64();
  o.population_size = r.u64();
  o.active = r.boolean();
  o.lower_bounds = r.doubles();
  o.upper_bounds = r.doubles();
  o.evaluations_per_candidate = r.u32();
  o.target = r.f64();
  o.max_evaluations = r.u64();
  o.max_generations = r.u64();
  o.tolerance_function = r.f64();
  o.tolerance_x = r.f64();
  o.tolerance_x_up = r.f64();
  o.max_condition = r.f64();
  o.stop_on_stagnation = r.boolean();
  o.max_restarts = r.u32();
  o.restart_population_factor = r.f64();
  if (r.failed()) return std::nullopt;
  try {
    validate(o);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  const std::size_t dim = o.x0.size();

  if (!st->random.restore(r.bytes())) return std::nullopt;
  st->generation = r.u64();
  st->evaluations = r.u64();
  st->restarts = r.u32();
  auto reason_count = r.length(8);
  auto valid_reason = [](std::uint64_t v) {
    return v <= static_cast<std::uint64_t>(stop_reason::stagnation);
  };
  for (std::size_t i = 0; i < reason_count; ++i) {
    auto v = r.u64();
    if (!valid_reason(v)) return std::nullopt;
    st->restart_reasons.push_back(static_cast<stop_reason>(v));
  }
  auto stopped = r.u64();
  if (!valid_reason(stopped)) return std::nullopt;
  st->stopped = static_cast<stop_reason>(stopped);
  st->has_best = r.boolean();
  st->best_f = r.f64();
  st->best_x = r.doubles();

  st->params = read_parameters(r);
  const auto& p = st->params;
  if (r.failed() || p.dimension != dim || p.lambda < 2 || p.weights.size() != p.lambda ||
      p.mu == 0 || p.mu >= p.lambda || p.eigen_interval == 0 ||
      (st->has_best && st->best_x.size() != dim)) {
    return std::nullopt;
  }
  st->mean = r.vector(dim);
  st->sigma = r.f64();
  st->c = r.matrix(dim);
  st->b = r.matrix(dim);
  st->d = r.vector(dim);
  st->path_sigma = r.vector(dim);
  st->path_c = r.vector(dim);
  st->run_generations = r.u64();
  st->decomposed_at = r.u64();
  st->condition = r.f64();
  st->decomposition_failed = r.boolean();
  st->best_history = r.doubles();
  st->median_history = r.doubles();
  if (r.failed() || st->best_history.size() != st->median_history.size()) return std::nullopt;

  const std::size_t slot_count = r.length(8);
  const bool running = st->stopped == stop_reason::none;
  if (slot_count != (running ? p.lambda : 0)) return std::nullopt;
  st->slots.resize(slot_count);
  for (auto& s : st->slots) {
    s.index = r.u32();
    s.z = r.vector(dim);
    s.y = r.vector(dim);
    s.x = r.doubles();
    s.values = r.doubles();
    s.told_count = r.u32();
    if (r.failed() || s.x.size() != dim || s.values.size() != o.evaluations_per_candidate) {
      return std::nullopt;
    }
    std::uint32_t told = 0;
    s.told.resize(s.values.size());
    for (auto& t : s.told) {
      t = r.boolean() ? 1 : 0;
      told += t;
    }
    if (told != s.told_count) return std::nullopt;
  }
  const std::size_t index_count = r.length(8);
  if (index_count < slot_count) return std::nullopt;
  for (std::size_t i = 0; i < index_count; ++i) {
    auto slot = r.u64();
    if (slot >= slot_count) return std::nullopt;
    st->slot_of_index.push_back(static_cast<std::uint32_t>(slot));
  }
  for (std::size_t i = 0; i < slot_count; ++i) {
    const auto index = st->slots[i].index;
    if (index >= index_count || st->slot_of_index[index] != i) return std::nullopt;
  }
  st->complete_slots = r.u32();
  std::uint32_t complete = 0;
  for (const auto& s : st->slots) complete += s.told_count == s.told.size() ? 1 : 0;
  if (r.failed() || !r.at_end() || complete != st->complete_slots ||
      (running && complete == slot_count)) {
    return std::nullopt;
  }
  return optimizer(std::move(st));
}

}  // namespace p2p::cmaes
