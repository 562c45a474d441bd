#pragma once
// The environment every simulation reads: SIM_SCHEDULES scales the number of schedules, SIM_SEED
// replays one.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace p2p::sim {

inline int schedule_count(int fallback) {
  const char* env = std::getenv("SIM_SCHEDULES");
  return env ? std::max(1, std::atoi(env)) : fallback;
}

// The seeds to run: SIM_SEED alone when set (to replay a failure), else 1..n.
inline std::vector<std::uint64_t> seeds_to_run(int n) {
  if (const char* env = std::getenv("SIM_SEED")) return {std::strtoull(env, nullptr, 10)};
  std::vector<std::uint64_t> out;
  for (int i = 1; i <= n; ++i) out.push_back(static_cast<std::uint64_t>(i));
  return out;
}

}  // namespace p2p::sim
