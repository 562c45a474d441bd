#pragma once
// Summaries of repeated measurements: min, median and p99 (nearest rank) of the runs.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace p2p::bench {

struct summary {
  std::size_t runs = 0;
  double min = 0, median = 0, p99 = 0;
};

inline summary summarize(std::vector<double> values) {
  summary s;
  s.runs = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  auto n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  auto rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(n)));
  s.p99 = values[std::clamp<std::size_t>(rank, 1, n) - 1];
  return s;
}

// ours / baseline; none when the baseline measured zero.
inline std::optional<double> ratio(double ours, double baseline) {
  if (baseline == 0) return std::nullopt;
  return ours / baseline;
}

}  // namespace p2p::bench
