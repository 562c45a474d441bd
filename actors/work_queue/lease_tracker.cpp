#include "actors/work_queue/lease_tracker.hpp"

#include <algorithm>

namespace p2p::work {

std::string_view action_kind_name(lease_tracker::action_kind k) {
  switch (k) {
    case lease_tracker::action_kind::expire_lease: return "lease_expired";
    case lease_tracker::action_kind::expire_dead_claimant: return "claimant_dead";
    case lease_tracker::action_kind::timeout: return "timeout";
  }
  return "lease_expired";
}

void lease_tracker::sync(const std::vector<claim_info>& live, time_ms now) {
  std::map<std::string, lease, std::less<>> next;
  for (const auto& c : live) {
    auto it = leases_.find(c.work_id);
    if (it != leases_.end() && it->second.claim.claim_token == c.claim_token) {
      lease l = std::move(it->second);
      l.claim = c;  // started_at and state may have moved on
      next.emplace(c.work_id, std::move(l));
    } else {
      lease l;
      l.claim = c;
      l.expires_at = now + static_cast<time_ms>(c.lease_s) * 1000;
      next.emplace(c.work_id, std::move(l));
    }
  }
  leases_ = std::move(next);
}

lease_tracker::heartbeat_verdict lease_tracker::heartbeat(std::string_view work_id, std::string_view claim_token,
                                                          bool has_progress, time_ms now) {
  auto it = leases_.find(work_id);
  if (it == leases_.end() || it->second.claim.claim_token != claim_token) return {};
  auto& l = it->second;
  l.expires_at = std::max(l.expires_at, now + static_cast<time_ms>(l.claim.lease_s) * 1000);
  heartbeat_verdict v;
  v.valid = true;
  if (l.claim.state == status::claimed &&
      (!l.running_proposed_at || now - *l.running_proposed_at >= options_.retry_ms)) {
    // Until it applies; again after retry_ms if the proposal was lost.
    l.running_proposed_at = now;
    v.propose = true;
  } else if (has_progress &&
             (!l.progress_proposed_at || now - *l.progress_proposed_at >= options_.progress_interval_ms)) {
    v.propose = true;
  }
  if (v.propose && has_progress) l.progress_proposed_at = now;
  return v;
}

void lease_tracker::node_dead(const std::string& node_id) { dead_.insert(node_id); }
void lease_tracker::node_alive(const std::string& node_id) { dead_.erase(node_id); }

std::optional<lease_tracker::action_kind> lease_tracker::verdict(const lease& l, time_ms now) const {
  if (dead_.contains(l.claim.node_id)) return action_kind::expire_dead_claimant;
  if (now >= l.expires_at) return action_kind::expire_lease;
  if (l.claim.state == status::running && l.claim.timeout_s > 0 && l.claim.started_at > 0 &&
      now >= l.claim.started_at + static_cast<time_ms>(l.claim.timeout_s) * 1000)
    return action_kind::timeout;
  return std::nullopt;
}

std::vector<lease_tracker::action> lease_tracker::due(time_ms now) {
  std::vector<action> out;
  for (auto& [id, l] : leases_) {
    if (l.offered_at >= 0 && now < l.offered_at + options_.retry_ms) continue;
    if (auto kind = verdict(l, now)) {
      out.push_back({*kind, id, l.claim.claim_token});
      l.offered_at = now;
    }
  }
  return out;
}

time_ms lease_tracker::deadline(const lease& l) const {
  if (l.offered_at >= 0) return l.offered_at + options_.retry_ms;
  if (dead_.contains(l.claim.node_id)) return std::numeric_limits<time_ms>::min();
  time_ms t = l.expires_at;
  if (l.claim.state == status::running && l.claim.timeout_s > 0 && l.claim.started_at > 0)
    t = std::min(t, l.claim.started_at + static_cast<time_ms>(l.claim.timeout_s) * 1000);
  return t;
}

time_ms lease_tracker::next_deadline() const {
  time_ms t = std::numeric_limits<time_ms>::max();
  for (const auto& [id, l] : leases_) t = std::min(t, deadline(l));
  return t;
}

std::optional<time_ms> lease_tracker::lease_expires_at(std::string_view work_id) const {
  auto it = leases_.find(work_id);
  if (it == leases_.end()) return std::nullopt;
  return it->second.expires_at;
}

}  // namespace p2p::work
