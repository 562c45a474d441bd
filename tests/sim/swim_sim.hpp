#pragma once
// A deterministic cluster of SWIM detectors: virtual time, seeded loss and delay, crashes and
// slow nodes. Every run is replayable from its seed (SIM_SEED) and scaled by SIM_SCHEDULES.
#include <cstdlib>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/swim/swim.hpp"

namespace p2p::sim {

using swim::time_ms;

inline int schedules(int fallback) {
  const char* env = std::getenv("SIM_SCHEDULES");
  return env ? std::max(1, std::atoi(env)) : fallback;
}
// The seeds to run: SIM_SEED alone when set (to replay a failure), else 1..n.
inline std::vector<std::uint64_t> seeds(int n) {
  if (const char* env = std::getenv("SIM_SEED")) return {std::strtoull(env, nullptr, 10)};
  std::vector<std::uint64_t> out;
  for (int i = 1; i <= n; ++i) out.push_back(static_cast<std::uint64_t>(i));
  return out;
}

struct observed {
  std::size_t observer;
  swim::verdict v;
};

class swim_cluster {
 public:
  swim_cluster(int n, swim::profile p, std::uint64_t seed, double loss = 0, time_ms max_delay = 1)
      : profile_(p), rng_(seed), loss_(loss), max_delay_(max_delay) {
    for (int i = 0; i < n; ++i) {
      std::string id("n");  // append: GCC 12 -O3 warns falsely on operator+ (-Wrestrict)
      id.append(std::to_string(i));
      ids_.push_back(id);
      nodes_.push_back(std::make_unique<swim::detector>(ids_.back(), ids_.back(), p, seed * 1000 + i, 0));
    }
    for (auto& d : nodes_)
      for (const auto& id : ids_) d->add_member(id, id, 0);
    for (auto& d : nodes_) d->take_verdicts();
  }

  std::size_t size() const { return nodes_.size(); }
  swim::detector& node(std::size_t i) { return *nodes_[i]; }
  const std::string& id(std::size_t i) const { return ids_[i]; }
  time_ms now() const { return now_; }
  const std::vector<observed>& log() const { return log_; }

  void crash(std::size_t i) { crashed_.insert(i); }
  // Every message to or from node i takes `extra` longer, and its timers run `extra` late.
  void slow(std::size_t i, time_ms extra) { slow_[i] = extra; }

  // Runs until `until` (virtual ms) or until `stop()` holds after a step.
  template <class Stop>
  void run_until(time_ms until, Stop stop) {
    const time_ms step = nodes_.front()->tick_interval();
    while (now_ < until) {
      now_ += step;
      deliver_due();
      for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (!crashed_.count(i) && due_for_tick(i)) nodes_[i]->tick(now_);
      collect();
      if (stop()) return;
    }
  }
  void run_until(time_ms until) {
    run_until(until, [] { return false; });
  }

 private:
  struct in_flight {
    time_ms at;
    std::uint64_t order;
    std::size_t to;
    swim::message msg;
    bool operator>(const in_flight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  bool due_for_tick(std::size_t i) {
    auto it = slow_.find(i);
    if (it == slow_.end()) return true;
    // A slow node's timers fire once per `extra` at most.
    auto& last = last_tick_[i];
    if (now_ - last < it->second) return false;
    last = now_;
    return true;
  }

  std::size_t index_of(const std::string& id) const {
    return static_cast<std::size_t>(std::stoul(id.substr(1)));
  }

  void collect() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      for (auto& v : nodes_[i]->take_verdicts()) log_.push_back({i, v});
      auto out = nodes_[i]->take_outbox();
      if (crashed_.count(i)) continue;
      for (auto& o : out) {
        auto to = index_of(o.to);
        if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) continue;
        time_ms delay = std::uniform_int_distribution<time_ms>(1, max_delay_)(rng_);
        if (auto s = slow_.find(i); s != slow_.end()) delay += s->second;
        if (auto s = slow_.find(to); s != slow_.end()) delay += s->second;
        queue_.push({now_ + delay, ++order_, to, std::move(o.msg)});
      }
    }
  }

  void deliver_due() {
    while (!queue_.empty() && queue_.top().at <= now_) {
      auto m = queue_.top();
      queue_.pop();
      if (!crashed_.count(m.to)) nodes_[m.to]->receive(m.msg, now_);
    }
  }

  swim::profile profile_;
  std::mt19937_64 rng_;
  double loss_;
  time_ms max_delay_;
  time_ms now_ = 0;
  std::uint64_t order_ = 0;
  std::vector<std::string> ids_;
  std::vector<std::unique_ptr<swim::detector>> nodes_;
  std::set<std::size_t> crashed_;
  std::map<std::size_t, time_ms> slow_;
  std::map<std::size_t, time_ms> last_tick_;
  std::priority_queue<in_flight, std::vector<in_flight>, std::greater<>> queue_;
  std::vector<observed> log_;
};

}  // namespace p2p::sim
