#include "http/metrics.hpp"

#include <algorithm>

#include "protocol/common/json.hpp"
#include "protocol/common/prometheus.hpp"

namespace p2p::http {

http_metrics::http_metrics(std::span<const route> table)
    : table_(table), rows_(std::make_unique<per_route[]>(table.size() + 1)) {}

void http_metrics::record(std::size_t route_index, unsigned status, double seconds) {
  auto& row = rows_[std::min(route_index, table_.size())];
  std::size_t s = tracked_statuses.size() - 1;  // "other"
  for (std::size_t i = 0; i + 1 < tracked_statuses.size(); ++i)
    if (tracked_statuses[i] == status) s = i;
  row.by_status[s].fetch_add(1, std::memory_order_relaxed);
  std::size_t b = 0;
  while (b < bucket_bounds.size() && seconds > bucket_bounds[b]) ++b;
  row.buckets[b].fetch_add(1, std::memory_order_relaxed);
  row.sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void http_metrics::render(std::string& out) const {
  auto label = [&](std::size_t i) {
    return i < table_.size() ? std::string(table_[i].id) : std::string("unmatched");
  };
  prometheus::family(out, "p2p_http_requests_total", "counter",
                     "HTTP requests answered, by route and status.");
  for (std::size_t i = 0; i <= table_.size(); ++i) {
    for (std::size_t s = 0; s < tracked_statuses.size(); ++s) {
      auto n = rows_[i].by_status[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "p2p_http_requests_total{route=\"" + label(i) + "\",code=\"" +
             (tracked_statuses[s] ? std::to_string(tracked_statuses[s]) : "other") + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  prometheus::family(out, "p2p_http_request_duration_seconds", "histogram",
                     "Time from request parsed to response ready.");
  for (std::size_t i = 0; i <= table_.size(); ++i) {
    const auto& row = rows_[i];
    std::uint64_t cumulative = 0;
    std::string rows;
    for (std::size_t b = 0; b <= bucket_bounds.size(); ++b) {
      cumulative += row.buckets[b].load(std::memory_order_relaxed);
      rows += "p2p_http_request_duration_seconds_bucket{route=\"" + label(i) + "\",le=\"" +
              (b < bucket_bounds.size() ? json::number(bucket_bounds[b]) : "+Inf") + "\"} " +
              std::to_string(cumulative) + "\n";
    }
    if (cumulative == 0) continue;
    out += rows;
    out += "p2p_http_request_duration_seconds_sum{route=\"" + label(i) + "\"} " +
           json::number(static_cast<double>(row.sum_us.load(std::memory_order_relaxed)) / 1e6) +
           "\n";
    out += "p2p_http_request_duration_seconds_count{route=\"" + label(i) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  prometheus::family(out, "p2p_http_open_connections", "gauge", "HTTP connections open now.");
  prometheus::sample(out, "p2p_http_open_connections", "",
                     std::to_string(open_connections_.load(std::memory_order_relaxed)));
}

}  // namespace p2p::http
