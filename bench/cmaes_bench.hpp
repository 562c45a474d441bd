#pragma once
// p2p-bench cmaes: evaluations the CMA-ES core needs to reach a target on a standard test
// function, over several seeds, against the reference implementation's (pycma's) medians
// measured on the project machine.
//
//   p2p-bench cmaes --function sphere|rosenbrock|ellipsoid --dim N --seeds K --target 1e-8
//                   [--x0 V] [--sigma0 S] [--rotated] [--noise SIGMA] [--json]
//
// Every run drives the optimizer through ask/tell as a campaign would. A run succeeds once a
// candidate's true (noiseless) value is at or below the target; its evaluations are counted
// when that generation completes, as pycma counts them. The figures are over the successful
// runs; `pycma_ratio` is our median / the reference median when the settings are those the
// reference was measured with (sphere 10-D from x0 = 1, sigma0 = 1; Rosenbrock 10-D from
// x0 = 0.1, sigma0 = 0.3; no rotation, no noise, target 1e-8), null otherwise.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace p2p::bench {

struct cmaes_bench_settings {
  std::string function = "sphere";  // sphere, rosenbrock or ellipsoid
  std::size_t dim = 10;
  int seeds = 15;
  std::uint64_t first_seed = 1;
  double target = 1e-8;
  std::optional<double> x0, sigma0;  // defaults depend on the function
  bool rotated = false;              // f(R x) with a random rotation R per seed
  double noise = 0;                  // f (1 + noise N(0, 1)), as an evaluation would return it
  std::size_t population = 0;        // 0: the default lambda
  std::uint32_t restarts = 0;        // IPOP restarts allowed per run
  std::uint32_t evaluations_per_candidate = 1;
  bool active = true;                      // negative weights (pycma's default)
  std::uint64_t max_evaluations = 200000;  // per run
  bool json = false;
};

struct cmaes_bench_run {
  std::uint64_t seed = 0;
  bool success = false;
  std::uint64_t evaluations = 0;  // to the target, or all spent
  double best_true_value = 0;
  std::uint32_t restarts = 0;
};

struct cmaes_bench_result {
  std::vector<cmaes_bench_run> runs;
  int successes = 0;
  std::optional<double> median_evaluations, min_evaluations, max_evaluations, p99_evaluations;
  std::optional<double> reference_median;  // pycma's, when the settings match it
  std::size_t population = 0;
  double seconds = 0;
};

// Throws std::invalid_argument for an unknown function or impossible settings.
cmaes_bench_result measure_cmaes(const cmaes_bench_settings& settings);

// One JSON object (bench, name, unit, runs, min, median, p99, pycma_median, pycma_ratio, ...).
std::string cmaes_bench_json(const cmaes_bench_settings& settings,
                             const cmaes_bench_result& result);

// The subcommand: argv[0] is its name ("cmaes"), the options follow. Prints one result and
// returns the exit code (2 for bad options).
int run_cmaes_bench(int argc, char** argv);

}  // namespace p2p::bench
