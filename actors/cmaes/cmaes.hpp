#pragma once
// CMA-ES, minimizing: the (mu/mu_w, lambda)-CMA-ES of N. Hansen, "The CMA Evolution Strategy:
// A Tutorial" (arXiv:1604.00772, 2016), with the defaults of the reference implementation
// (pycma): lambda = 4 + floor(3 ln n), the tutorial's recombination weights including the negative
// weights of active CMA, c_m = 1, cumulative step-size adaptation, rank-one and rank-mu updates
// of C with the h_sigma stall, and the eigendecomposition of C redone every
// max(1, floor(1 / (10 n (c1 + c_mu)))) generations.
//
// Pure: no actors, no I/O, no clock. The caller (a campaign in the cluster, a test, the bench)
// evaluates candidates wherever it likes:
//
//   optimizer opt(opts);
//   while (!opt.stopped()) {
//     for (auto& request : opt.ask()) opt.tell(request.id, f(request.x), request.repeat);
//   }
//
// Candidates are identified by (generation, index). ask() returns the evaluations the current
// generation still lacks, the same ones each time until they are told (re-asking a lost
// evaluation is just asking again). tell() takes results in any order and refuses, with a
// reason, those for past generations, unknown or replaced candidates, repeats already told and
// non-finite values. A candidate that cannot be evaluated at all is replaced by resample(): a
// fresh sample for the same slot under a new index. A generation is only ever completed by
// real evaluations; nothing is invented.
//
// Box bounds use pycma's BoundTransform: the distribution stays unbounded, and every candidate
// is handed out (and the best solution reported) at T(x), a coordinate-wise map into [lower,
// upper] that is the identity well inside the bounds, quadratic near them (so the map is
// smooth) and mirrors and repeats periodically outside. The optimizer thus learns the
// objective f(T(x)), which is f itself wherever the optimum is not at a bound.
//
// Noise: a candidate can be evaluated several times (evaluations_per_candidate) and ranked by
// the mean, which divides the noise's standard deviation by the square root of the count, as
// for a fitness from game results (more games per candidate). Selection uses ranks only, so
// moderate multiplicative noise needs nothing more (the unit tests measure it).
//
// Determinism: one std::mt19937_64 stream and a Box-Muller transform define every sample, and
// a generation's results are combined in slot and repeat order, so the seed, the results and
// the resample() calls define the whole run, whatever order the results arrive in. serialize()
// captures the entire state, doubles bit for bit, and a deserialized optimizer continues
// exactly as the original would.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::cmaes {

// Standard normal numbers from a 64-bit Mersenne Twister through the Box-Muller transform, so
// the stream is the same with every standard library and can be saved and restored.
class normal_random {
 public:
  explicit normal_random(std::uint64_t seed = 1) : engine_(seed) {}
  double operator()();
  // Uniform in (0, 1].
  double uniform();

  std::string save() const;
  bool restore(std::string_view saved);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

struct options {
  std::vector<double> x0;  // initial mean; its size is the dimension n
  double sigma0 = 1;       // initial step size
  std::uint64_t seed = 1;
  std::size_t population_size = 0;  // lambda, at most 1,000,000; 0 means 4 + floor(3 ln n)
  bool active = true;               // negative weights for the worst half (active CMA)
  // Box bounds: empty for none, else one value per coordinate (+-infinity for an open side).
  std::vector<double> lower_bounds, upper_bounds;
  // Each candidate is evaluated this many times (at most 1,000,000) and ranked by the mean.
  std::uint32_t evaluations_per_candidate = 1;

  // Stopping. target, max_evaluations and max_generations end the optimization; the others
  // end a run, which an IPOP restart may follow. Zero turns a limit or tolerance off.
  double target = -std::numeric_limits<double>::infinity();  // stop once best f <= target
  std::uint64_t max_evaluations = 0;  // over all runs; checked when a generation completes
  std::uint64_t max_generations = 0;  // over all runs
  // Range of the best values of the last 10 + ceil(30 n / lambda) generations and of all values
  // of the current one (checked once the run has had that many generations).
  double tolerance_function = 1e-12;
  // Every coordinate's standard deviation and sigma * p_c below this times sigma0.
  double tolerance_x = 1e-12;
  // sigma * sqrt(largest eigenvalue of C) grew by more than this factor: sigma0 far too small.
  double tolerance_x_up = 1e4;
  double max_condition = 1e14;     // of C
  bool stop_on_stagnation = true;  // no progress of the best and median values, see stop_reason

  // IPOP: after a run ends on one of the run criteria, start again from x0 and sigma0 with a
  // population this many times larger, up to max_restarts times.
  std::uint32_t max_restarts = 0;
  double restart_population_factor = 2;  // 1 to 100
};

// Strategy parameters of one run, after Table 1 of the tutorial.
struct strategy_parameters {
  std::size_t dimension = 0;
  std::size_t lambda = 0;
  std::size_t mu = 0;                // number of positive weights, floor(lambda / 2)
  std::vector<double> weights;       // lambda of them, decreasing; the positive ones sum to 1
  double mu_eff = 0;                 // variance effective selection mass of the positive weights
  double mu_eff_negative = 0;        // the same of the negative (raw) weights
  double c_m = 1;                    // learning rate of the mean
  double c_sigma = 0, d_sigma = 0;   // cumulation and damping of the step size
  double c_c = 0;                    // cumulation for the rank-one update
  double c_1 = 0, c_mu = 0;          // learning rates of the rank-one and rank-mu updates
  double expected_norm = 0;          // E||N(0, I)||, approximated
  std::uint64_t eigen_interval = 1;  // generations between eigendecompositions
};

// The defaults for dimension n and population size lambda (0: the default lambda).
strategy_parameters default_parameters(std::size_t n, std::size_t lambda = 0, bool active = true);

// pycma's BoundTransform in one coordinate (see the top of this file); either bound may be
// infinite.
double transform_into_bounds(double x, double lower, double upper);

struct candidate_id {
  std::uint64_t generation = 0;  // counts on across restarts, so ids are never reused
  std::uint32_t index = 0;       // 0..lambda-1, then one more for each resampled slot
  friend bool operator==(const candidate_id&, const candidate_id&) = default;
};

// One evaluation to perform: the candidate, which of its repeated evaluations this is, and the
// point to evaluate (inside the bounds).
struct evaluation_request {
  candidate_id id;
  std::uint32_t repeat = 0;
  std::vector<double> x;
};

enum class refusal {
  none,        // accepted
  finished,    // the optimizer has stopped
  stale,       // an earlier generation
  unknown,     // never handed out (a later generation, an unused index, a repeat out of range)
  replaced,    // this candidate's slot was resampled
  duplicate,   // this evaluation was already told
  not_finite,  // NaN or infinity: resample the candidate or evaluate it again
  complete,    // resample: the candidate already has all its evaluations
};
const char* to_string(refusal r);

struct tell_result {
  refusal refused = refusal::none;
  bool generation_complete = false;  // this result completed the generation and updated it
  bool accepted() const { return refused == refusal::none; }
};

struct resample_result {
  refusal refused = refusal::none;
  std::vector<evaluation_request> requests;  // for the replacement candidate
};

enum class stop_reason {
  none,
  target,
  max_evaluations,
  max_generations,
  tolerance_function,
  equal_function_values,  // the best values of recent generations are all equal
  tolerance_x,
  tolerance_x_up,
  condition,             // of C above max_condition, or C lost positive definiteness
  no_effect_axis,        // a 0.1 standard deviation step along a principal axis leaves m equal
  no_effect_coordinate,  // a 0.2 standard deviation step in a coordinate leaves m equal
  stagnation,            // median best and median values no better than long ago
};
const char* to_string(stop_reason r);

class optimizer {
 public:
  // Throws std::invalid_argument on inconsistent options. A moved-from optimizer may only be
  // assigned to or destroyed.
  explicit optimizer(const options& opts);
  optimizer(const optimizer& other);
  optimizer& operator=(const optimizer& other);
  optimizer(optimizer&&) noexcept;
  optimizer& operator=(optimizer&&) noexcept;
  ~optimizer();

  // Evaluations the current generation still lacks, by slot then repeat; empty once stopped.
  std::vector<evaluation_request> ask() const;
  tell_result tell(candidate_id id, double fitness, std::uint32_t repeat = 0);
  // Replaces a candidate of the current generation that lacks evaluations by a fresh sample
  // for its slot; evaluations already told for it are dropped.
  resample_result resample(candidate_id id);

  bool stopped() const;
  stop_reason reason() const;  // why it stopped (none while running)
  // Why each earlier run ended, one entry per restart.
  std::vector<stop_reason> restart_reasons() const;

  std::uint64_t generation() const;   // of the candidates ask() hands out
  std::uint64_t evaluations() const;  // accepted results, all runs
  std::uint32_t restarts() const;
  std::size_t dimension() const;
  const strategy_parameters& parameters() const;  // of the current run

  // The distribution: mean (unbounded), step size, covariance matrix (row-major n x n),
  // evolution paths, and the condition of C at the last eigendecomposition.
  std::vector<double> mean() const;
  std::vector<double> mean_in_bounds() const;  // the mean mapped into the bounds
  double sigma() const;
  std::vector<double> covariance() const;
  std::vector<double> path_sigma() const;
  std::vector<double> path_c() const;
  double condition() const;

  // Best candidate of the completed generations (over all runs); its x is inside the bounds.
  std::optional<double> best_fitness() const;
  std::vector<double> best_x() const;

  // The whole state, options included, as bytes; deserialize() gives it back or nothing if
  // the bytes are not a state of this format.
  std::string serialize() const;
  static std::optional<optimizer> deserialize(std::string_view bytes);

  struct state;  // defined in cmaes.cpp

 private:
  explicit optimizer(std::unique_ptr<state> s);
  std::unique_ptr<state> s_;
};

}  // namespace p2p::cmaes
