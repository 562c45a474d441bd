#pragma once
// HTTP request counters and latency histograms per route, updated by the server's threads with
// relaxed atomics (no locks on the request path) and rendered as Prometheus text.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "http/routes.hpp"

namespace p2p::http {

class http_metrics {
 public:
  explicit http_metrics(std::span<const route> table);

  // route_index == table size means "no route matched".
  void record(std::size_t route_index, unsigned status, double seconds);
  void connection_opened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }

  void render(std::string& out) const;

  static constexpr std::array<unsigned, 15> tracked_statuses{200, 201, 202, 400, 401, 403, 404,
                                                             405, 409, 413, 429, 500, 503, 504, 0};
  static constexpr std::array<double, 13> bucket_bounds{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,  0.1,    0.25,  0.5,
                                                        1.0,    2.5,   5.0};

 private:
  struct per_route {
    std::array<std::atomic<std::uint64_t>, tracked_statuses.size()> by_status{};
    std::array<std::atomic<std::uint64_t>, bucket_bounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_us{0};
  };
  std::span<const route> table_;
  std::unique_ptr<per_route[]> rows_;  // table size + 1 (unmatched)
  std::atomic<std::int64_t> open_connections_{0};
};

}  // namespace p2p::http
