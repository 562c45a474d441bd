#include "bench/cmaes_bench.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <stdexcept>

#include "actors/cmaes/cmaes.hpp"
#include "bench/stats.hpp"
#include "protocol/common/json.hpp"

namespace p2p::bench {

namespace {

using objective = std::function<double(const std::vector<double>&)>;

double sphere(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v * v;
  return sum;
}

// Axis scales 1 to 1e3 (condition 1e6), as pycma's `elli`.
double ellipsoid(const std::vector<double>& x) {
  const auto n = x.size();
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double exponent = n > 1 ? 6.0 * static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
    sum += std::pow(10.0, exponent) * x[i] * x[i];
  }
  return sum;
}

double rosenbrock(const std::vector<double>& x) {
  double sum = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    sum += 100 * a * a + b * b;
  }
  return sum;
}

// A uniformly random rotation: Gram-Schmidt on a Gaussian matrix, rows orthonormal.
std::vector<std::vector<double>> random_rotation(std::size_t n, std::uint64_t seed) {
  cmaes::normal_random normal(seed);
  std::vector<std::vector<double>> rows(n, std::vector<double>(n));
  for (std::size_t i = 0; i < n; ++i) {
    auto& row = rows[i];
    for (auto& v : row) v = normal();
    for (std::size_t j = 0; j < i; ++j) {
      double dot = 0;
      for (std::size_t k = 0; k < n; ++k) dot += row[k] * rows[j][k];
      for (std::size_t k = 0; k < n; ++k) row[k] -= dot * rows[j][k];
    }
    double norm = std::sqrt(sphere(row));
    for (auto& v : row) v /= norm;
  }
  return rows;
}

objective base_function(const std::string& name) {
  if (name == "sphere") return sphere;
  if (name == "ellipsoid") return ellipsoid;
  if (name == "rosenbrock") return rosenbrock;
  std::string why = "unknown function '";
  why.append(name).append("' (sphere, rosenbrock, ellipsoid)");
  throw std::invalid_argument(why);
}

double default_x0(const std::string& function) { return function == "rosenbrock" ? 0.1 : 1.0; }
double default_sigma0(const std::string& function) { return function == "rosenbrock" ? 0.3 : 1.0; }

// pycma's medians on the project machine, 15 seeds, for the settings the issue names.
std::optional<double> reference_median(const cmaes_bench_settings& s, double x0, double sigma0) {
  if (s.dim != 10 || s.rotated || s.noise != 0 || s.target != 1e-8 || s.population != 0 ||
      s.evaluations_per_candidate != 1 || !s.active) {
    return std::nullopt;
  }
  if (s.function == "sphere" && x0 == 1 && sigma0 == 1) return 1450;
  if (s.function == "rosenbrock" && x0 == 0.1 && sigma0 == 0.3) return 6200;
  return std::nullopt;
}

cmaes_bench_run run_once(const cmaes_bench_settings& s, double x0, double sigma0,
                         std::uint64_t seed) {
  objective f = base_function(s.function);
  if (s.rotated) {
    // Distinct streams for the rotation, the noise and the optimizer.
    auto rotation = random_rotation(s.dim, seed * 2654435761u + 17);
    f = [f, rotation](const std::vector<double>& x) {
      std::vector<double> rotated(x.size(), 0.0);
      for (std::size_t i = 0; i < x.size(); ++i) {
        for (std::size_t k = 0; k < x.size(); ++k) rotated[i] += rotation[i][k] * x[k];
      }
      return f(rotated);
    };
  }
  cmaes::normal_random noise(seed * 2654435761u + 29);

  cmaes::options opts;
  opts.x0.assign(s.dim, x0);
  opts.sigma0 = sigma0;
  opts.seed = seed;
  opts.population_size = s.population;
  opts.max_restarts = s.restarts;
  opts.evaluations_per_candidate = s.evaluations_per_candidate;
  opts.active = s.active;
  opts.max_evaluations = s.max_evaluations;
  cmaes::optimizer opt(opts);

  cmaes_bench_run run;
  run.seed = seed;
  run.best_true_value = INFINITY;
  while (!opt.stopped()) {
    double generation_best = INFINITY;
    for (const auto& request : opt.ask()) {
      const double value = f(request.x);
      generation_best = std::min(generation_best, value);
      const double observed = s.noise > 0 ? value * (1 + s.noise * noise()) : value;
      opt.tell(request.id, observed, request.repeat);
    }
    run.best_true_value = std::min(run.best_true_value, generation_best);
    if (run.best_true_value <= s.target) {
      run.success = true;
      break;
    }
  }
  run.evaluations = opt.evaluations();
  run.restarts = opt.restarts();
  return run;
}

std::string case_name(const cmaes_bench_settings& s) {
  std::string name = s.function;
  name.append(" ").append(std::to_string(s.dim)).append("-D");
  if (s.rotated) name.append(" rotated");
  if (!s.active) name.append(" no-active");
  if (s.noise > 0) name.append(" noise ").append(json::number(s.noise));
  return name;
}

}  // namespace

cmaes_bench_result measure_cmaes(const cmaes_bench_settings& s) {
  base_function(s.function);  // refuses an unknown name before anything runs
  if (s.dim < 1 || s.seeds < 1 || std::isnan(s.target) || s.noise < 0 ||
      s.evaluations_per_candidate < 1) {
    throw std::invalid_argument(
        "--dim, --seeds and --evaluations-per-candidate must be positive, "
        "--noise not negative");
  }
  const double x0 = s.x0.value_or(default_x0(s.function));
  const double sigma0 = s.sigma0.value_or(default_sigma0(s.function));
  const auto started = std::chrono::steady_clock::now();
  cmaes_bench_result result;
  std::vector<double> evaluations;
  for (int i = 0; i < s.seeds; ++i) {
    auto run = run_once(s, x0, sigma0, s.first_seed + static_cast<std::uint64_t>(i));
    if (run.success) {
      ++result.successes;
      evaluations.push_back(static_cast<double>(run.evaluations));
    }
    result.runs.push_back(run);
  }
  if (!evaluations.empty()) {
    auto stats = summarize(evaluations);
    result.median_evaluations = stats.median;
    result.min_evaluations = stats.min;
    result.p99_evaluations = stats.p99;
    result.max_evaluations = *std::max_element(evaluations.begin(), evaluations.end());
  }
  result.reference_median = reference_median(s, x0, sigma0);
  result.population = s.population ? s.population : cmaes::default_parameters(s.dim).lambda;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::string cmaes_bench_json(const cmaes_bench_settings& s, const cmaes_bench_result& r) {
  auto optional_field = [](json::writer& w, std::string_view key, std::optional<double> v) {
    w.key(key);
    if (v) {
      w.value(*v);
    } else {
      w.null();
    }
  };
  std::optional<double> ratio_to_reference;
  if (r.median_evaluations && r.reference_median) {
    ratio_to_reference = ratio(*r.median_evaluations, *r.reference_median);
  }
  json::writer w;
  w.begin_object()
      .field("bench", "cmaes")
      .field("name", case_name(s))
      .field("unit", "evaluations")
      .field("higher_is_better", false)
      .field("runs", static_cast<std::uint64_t>(r.runs.size()));
  optional_field(w, "min", r.min_evaluations);
  optional_field(w, "median", r.median_evaluations);
  optional_field(w, "p99", r.p99_evaluations);
  w.field("function", s.function)
      .field("dim", static_cast<std::uint64_t>(s.dim))
      .field("x0", s.x0.value_or(default_x0(s.function)))
      .field("sigma0", s.sigma0.value_or(default_sigma0(s.function)))
      .field("rotated", s.rotated)
      .field("noise", s.noise)
      .field("target", s.target)
      .field("population", static_cast<std::uint64_t>(r.population))
      .field("restarts_allowed", static_cast<std::uint64_t>(s.restarts))
      .field("evaluations_per_candidate", static_cast<std::uint64_t>(s.evaluations_per_candidate))
      .field("active", s.active)
      .field("seeds", static_cast<std::uint64_t>(r.runs.size()))
      .field("successes", static_cast<std::uint64_t>(r.successes));
  optional_field(w, "median_evaluations", r.median_evaluations);
  optional_field(w, "min_evaluations", r.min_evaluations);
  optional_field(w, "max_evaluations", r.max_evaluations);
  optional_field(w, "pycma_median", r.reference_median);
  optional_field(w, "pycma_ratio", ratio_to_reference);
  w.key("evaluations").begin_array();
  for (const auto& run : r.runs) {
    if (run.success) {
      w.value(run.evaluations);
    } else {
      w.null();
    }
  }
  w.end_array().field("seconds", r.seconds).end_object();
  return w.take();
}

int run_cmaes_bench(int argc, char** argv) {
  namespace po = boost::program_options;
  cmaes_bench_settings s;
  double x0 = 0, sigma0 = 0;
  bool no_active = false;
  po::options_description desc("cmaes options");
  auto add = desc.add_options();
  add("json", po::bool_switch(&s.json), "one JSON object");
  add("function", po::value(&s.function)->default_value(s.function),
      "sphere, rosenbrock or ellipsoid");
  add("dim", po::value(&s.dim)->default_value(s.dim), "dimension");
  add("seeds", po::value(&s.seeds)->default_value(s.seeds),
      "runs, with seeds first-seed, first-seed + 1, ...");
  add("repeat", po::value<int>(), "the same as --seeds (the other subcommands' name for runs)");
  add("first-seed", po::value(&s.first_seed)->default_value(s.first_seed), "seed of the first run");
  add("target", po::value(&s.target)->default_value(s.target),
      "success: a true value at or below this");
  add("x0", po::value(&x0),
      "initial mean in every coordinate (sphere, ellipsoid 1; rosenbrock 0.1)");
  add("sigma0", po::value(&sigma0), "initial step size (sphere, ellipsoid 1; rosenbrock 0.3)");
  add("rotated", po::bool_switch(&s.rotated), "f(R x) with a random rotation R");
  add("noise", po::value(&s.noise)->default_value(s.noise),
      "multiplicative noise: f (1 + noise N(0,1))");
  add("population", po::value(&s.population)->default_value(s.population),
      "lambda; 0 for 4 + 3 ln n");
  add("restarts", po::value(&s.restarts)->default_value(s.restarts), "IPOP restarts per run");
  add("evaluations-per-candidate", po::value(&s.evaluations_per_candidate)->default_value(1),
      "evaluations averaged per candidate");
  add("no-active", po::bool_switch(&no_active), "without negative weights (no pycma ratio then)");
  add("max-evaluations", po::value(&s.max_evaluations)->default_value(s.max_evaluations),
      "budget per run");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("x0")) s.x0 = x0;
    if (vm.count("sigma0")) s.sigma0 = sigma0;
    s.active = !no_active;
    if (vm.count("repeat") && vm["seeds"].defaulted()) s.seeds = vm["repeat"].as<int>();
  } catch (const po::error& e) {
    std::cerr << "p2p-bench cmaes: " << e.what() << "\n" << desc;
    return 2;
  }
  cmaes_bench_result r;
  try {
    r = measure_cmaes(s);
  } catch (const std::invalid_argument& e) {
    std::cerr << "p2p-bench cmaes: " << e.what() << "\n";
    return 2;
  }
  if (s.json) {
    std::printf("%s\n", cmaes_bench_json(s, r).c_str());
  } else {
    auto show = [](std::optional<double> v) { return v ? *v : NAN; };
    std::printf("cmaes %s, lambda %zu: %d/%zu successes, evaluations min %.0f median %.0f max %.0f",
                case_name(s).c_str(), r.population, r.successes, r.runs.size(),
                show(r.min_evaluations), show(r.median_evaluations), show(r.max_evaluations));
    if (r.reference_median && r.median_evaluations) {
      std::printf(", pycma %.0f (%.2fx)", *r.reference_median,
                  *r.median_evaluations / *r.reference_median);
    }
    std::printf(" [%.2f s]\n", r.seconds);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace p2p::bench
