#pragma once
// Typed messages of the admin domain. inspect() makes them serializable for the middleman.
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

struct health_request {};
struct health_reply {
  std::string node_id;
  std::string node_uuid;
  std::uint64_t boot_epoch = 0;
  double uptime_s = 0;
  std::string version;
  std::uint32_t wire_version = 0;
  bool draining = false;
};

struct shutdown_request {
  double drain_timeout_s = 10;
};
struct shutdown_reply {
  double drain_timeout_s = 0;
};

struct log_level_request {
  std::string level;
};
struct log_level_reply {
  std::string level;
  std::string previous;
};

struct status_request {};
struct actor_status {
  std::string name;
  std::uint64_t restarts = 0;
  std::string last_error;
};
struct status_reply {
  health_reply node;
  std::string started_at;
  std::string http_endpoint;
  std::string cluster_endpoint;  // empty when the cluster port is off
  std::vector<std::string> seeds;
  std::vector<std::string> voters;
  bool tls = false;
  bool insecure_cluster = false;
  std::vector<actor_status> actors;
  std::uint64_t events_last_seq = 0;
  std::uint64_t events_retained = 0;
  std::uint64_t events_subscribers = 0;
  std::string log_level;
};

struct metrics_request {};
struct metrics_reply {
  std::string text;  // Prometheus text exposition
};

template <class F> auto inspect(F& f, health_request&) { return f(); }
template <class F> auto inspect(F& f, health_reply& x) {
  return f(x.node_id, x.node_uuid, x.boot_epoch, x.uptime_s, x.version, x.wire_version, x.draining);
}
template <class F> auto inspect(F& f, shutdown_request& x) { return f(x.drain_timeout_s); }
template <class F> auto inspect(F& f, shutdown_reply& x) { return f(x.drain_timeout_s); }
template <class F> auto inspect(F& f, log_level_request& x) { return f(x.level); }
template <class F> auto inspect(F& f, log_level_reply& x) { return f(x.level, x.previous); }
template <class F> auto inspect(F& f, status_request&) { return f(); }
template <class F> auto inspect(F& f, actor_status& x) { return f(x.name, x.restarts, x.last_error); }
template <class F> auto inspect(F& f, status_reply& x) {
  return f(x.node, x.started_at, x.http_endpoint, x.cluster_endpoint, x.seeds, x.voters, x.tls,
           x.insecure_cluster, x.actors, x.events_last_seq, x.events_retained,
           x.events_subscribers, x.log_level);
}
template <class F> auto inspect(F& f, metrics_request&) { return f(); }
template <class F> auto inspect(F& f, metrics_reply& x) { return f(x.text); }

}  // namespace p2p::msg
