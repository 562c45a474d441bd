#include "protocol/swim/swim.hpp"

#include <algorithm>
#include <cmath>

namespace p2p::swim {

std::optional<profile> profile_named(std::string_view name) {
  // name, interval, timeout, k, lambda, suspicion mult, max mult, awareness, piggyback,
  // gossip interval, gossip nodes, push-pull interval
  if (name == "lan") return profile{"lan", 1000, 500, 3, 4, 4, 6, 8, 8, 200, 3, 30'000, 10'000};
  if (name == "local") return profile{"local", 1000, 200, 1, 2, 3, 6, 8, 8, 100, 3, 15'000, 5'000};
  if (name == "wan") return profile{"wan", 5000, 3000, 3, 4, 6, 6, 8, 8, 500, 4, 60'000, 30'000};
  if (name == "test") return profile{"test", 100, 50, 2, 4, 4, 6, 8, 8, 20, 3, 3'000, 500};
  return std::nullopt;
}

time_ms detection_bound(const profile& p, std::size_t n) {
  auto size = static_cast<double>(std::max<std::size_t>(n, 2));
  auto suspicion_min = static_cast<double>(p.suspicion_mult) * std::max(1.0, std::log10(size)) *
                       static_cast<double>(p.probe_interval);
  auto spread = std::ceil(3 * std::log2(size)) * static_cast<double>(p.probe_interval);
  return p.probe_interval + p.probe_timeout + static_cast<time_ms>(suspicion_min + spread);
}

std::string_view state_name(member_state s) {
  switch (s) {
    case member_state::alive: return "alive";
    case member_state::suspect: return "suspect";
    case member_state::dead: return "dead";
    case member_state::left: return "left";
  }
  return "alive";
}

detector::detector(node_id self, std::string address, profile p, std::uint64_t seed, time_ms now)
    : self_(std::move(self)), address_(std::move(address)), profile_(std::move(p)), rng_(seed),
      next_probe_at_(now), next_sync_at_(now + profile_.push_pull_interval),
      next_reconnect_at_(now + profile_.reconnect_interval) {
  // Announce ourselves: members that learn of us first through SWIM get our address with it.
  broadcast(update{member_state::alive, self_, incarnation_, self_, address_});
}

void detector::add_member(const node_id& id, const std::string& address, time_ms now, bool announce) {
  if (id == self_) return;
  if (auto it = members_.find(id); it != members_.end()) {
    // Gossip knows where a node listens now (a restart may move it); SWIM keeps its verdict.
    if (!address.empty()) it->second.address = address;
    return;
  }
  member m;
  m.id = id;
  m.address = address;
  m.since = now;
  members_.emplace(id, m);
  enqueue_probe(id);
  verdicts_.push_back({id, member_state::alive, 0, now});
  if (announce) broadcast(update{member_state::alive, id, 0, self_, address});
  // A node that was alone probes its first member now rather than after a whole interval, and
  // exchanges state with it at once (a restarted node learns what others think of it).
  if (probes_.empty() && members_.size() == 1) next_probe_at_ = std::min(next_probe_at_, now);
  if (members_.size() == 1) next_sync_at_ = now;
}

void detector::enqueue_probe(const node_id& id) {
  // At a random place among those not yet probed this round (as memberlist does), so nodes
  // that learned the same members in the same order still probe in different orders.
  auto first = std::min(probe_index_, probe_order_.size());
  auto at = std::uniform_int_distribution<std::size_t>(first, probe_order_.size())(rng_);
  probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(at), id);
}

std::size_t detector::cluster_size() const {
  std::size_t n = 1;
  for (const auto& [id, m] : members_)
    if (m.state == member_state::alive || m.state == member_state::suspect) ++n;
  return n;
}

int detector::retransmit_limit() const {
  auto n = static_cast<double>(cluster_size());
  return profile_.retransmit_mult * static_cast<int>(std::ceil(std::log10(n + 1)));
}

time_ms detector::suspicion_timeout(std::size_t confirmations) const {
  auto n = static_cast<double>(cluster_size());
  auto min = static_cast<double>(profile_.suspicion_mult) *
             std::max(1.0, std::log10(std::max(1.0, n))) *
             static_cast<double>(profile_.probe_interval);
  auto max = static_cast<double>(profile_.suspicion_max_mult) * min;
  // Independent confirmations expected before the timeout reaches its minimum.
  int k = profile_.lifeguard ? profile_.suspicion_mult - 2 : 0;  // plain SWIM: fixed timeout
  if (static_cast<int>(n) - 2 < k) k = 0;
  if (k < 1) return static_cast<time_ms>(min);
  double frac = std::log(static_cast<double>(confirmations) + 1.0) / std::log(k + 1.0);
  return static_cast<time_ms>(std::max(min, max - frac * (max - min)));
}

int detector::local_health() const {
  return std::min(health_ + (bulk_backlog_ && profile_.lifeguard ? 1 : 0), profile_.awareness_max - 1);
}

void detector::adjust_health(int delta) {
  if (!profile_.lifeguard) return;
  health_ = std::clamp(health_ + delta, 0, profile_.awareness_max - 1);
}

std::vector<node_id> detector::live_peers(const node_id& except) const {
  std::vector<node_id> out;
  for (const auto& [id, m] : members_)
    if (id != except && m.state == member_state::alive) out.push_back(id);
  return out;
}

void detector::send(const node_id& to, message m) {
  m.from = self_;
  // Buddy system: a node we suspect (or hold dead or gone, yet hear from) is told first, so it
  // can refute at once with a higher incarnation.
  if (auto it = members_.find(to);
      profile_.lifeguard && it != members_.end() && it->second.state != member_state::alive)
    m.piggyback.push_back(update{it->second.state, to, it->second.incarnation, self_, {}});
  // Then the least-sent updates, each until it has gone out retransmit_limit() times.
  std::sort(broadcasts_.begin(), broadcasts_.end(), [](const auto& a, const auto& b) {
    return a.transmits != b.transmits ? a.transmits < b.transmits : a.order > b.order;
  });
  const int limit = retransmit_limit();
  for (auto& q : broadcasts_) {
    if (m.piggyback.size() >= profile_.max_piggyback) break;
    m.piggyback.push_back(q.u);
    ++q.transmits;
  }
  broadcasts_.erase(std::remove_if(broadcasts_.begin(), broadcasts_.end(),
                                   [&](const auto& q) { return q.transmits >= limit; }),
                    broadcasts_.end());
  outbox_.push_back({to, std::move(m)});
}

void detector::broadcast(update u) {
  // A newer claim about a node replaces the queued older one.
  broadcasts_.erase(std::remove_if(broadcasts_.begin(), broadcasts_.end(),
                                   [&](const auto& q) { return q.u.node == u.node; }),
                    broadcasts_.end());
  broadcasts_.push_back({std::move(u), 0, ++broadcast_order_});
}

void detector::set_state(member& m, member_state s, std::uint64_t incarnation, time_ms now) {
  bool changed = m.state != s;
  m.incarnation = incarnation;
  if (!changed) return;
  m.state = s;
  m.since = now;
  if (s == member_state::suspect) suspects_.insert(m.id);
  else suspects_.erase(m.id);
  verdicts_.push_back({m.id, s, incarnation, now});
}

void detector::refute(std::uint64_t claimed, time_ms now) {
  (void)now;
  if (leaving_) return;
  incarnation_ = std::max(incarnation_, claimed) + 1;
  adjust_health(+1);  // being suspected hints that we are the slow one
  broadcast(update{member_state::alive, self_, incarnation_, self_, address_});
}

void detector::apply(const update& u, time_ms now) {
  if (u.node == self_) {
    // "Left" is an accusation too unless we are leaving: a restarted node is told so.
    bool accused = u.state != member_state::alive;
    if ((accused && u.incarnation >= incarnation_) ||
        (u.state == member_state::alive && u.incarnation > incarnation_))
      refute(u.incarnation, now);
    return;
  }
  auto it = members_.find(u.node);
  if (it == members_.end()) {
    // Only an alive claim introduces a node: it carries the address.
    if (u.state != member_state::alive) return;
    member m;
    m.id = u.node;
    m.address = u.address;
    m.state = member_state::alive;
    m.incarnation = u.incarnation;
    m.since = now;
    members_.emplace(u.node, m);
    verdicts_.push_back({u.node, member_state::alive, u.incarnation, now});
    enqueue_probe(u.node);
    broadcast(u);
    return;
  }
  member& m = it->second;
  switch (u.state) {
    case member_state::alive:
      if (u.incarnation <= m.incarnation) return;
      if (!u.address.empty()) m.address = u.address;
      m.confirmations.clear();
      set_state(m, member_state::alive, u.incarnation, now);
      broadcast(u);
      return;
    case member_state::suspect:
      if (m.state == member_state::dead || m.state == member_state::left) return;
      if (u.incarnation < m.incarnation) return;
      if (m.state == member_state::suspect && u.incarnation == m.incarnation) {
        // Another node confirms the suspicion: the timeout shrinks (Lifeguard).
        if (m.confirmations.insert(u.from).second) broadcast(u);
        return;
      }
      m.suspected_at = now;
      m.confirmations = {u.from};
      set_state(m, member_state::suspect, u.incarnation, now);
      broadcast(u);
      return;
    case member_state::dead:
    case member_state::left:
      if (u.incarnation < m.incarnation) return;
      if (m.state == member_state::dead || m.state == member_state::left) return;
      set_state(m, u.state, u.incarnation, now);
      broadcast(u);
      return;
  }
}

void detector::start_probe(time_ms now) {
  next_probe_at_ = now + scaled(profile_.probe_interval);
  // Random order, every member once per round (SWIM's round-robin over a shuffled list).
  for (std::size_t tries = 0; tries <= probe_order_.size(); ++tries) {
    if (probe_index_ >= probe_order_.size()) {
      probe_order_.erase(std::remove_if(probe_order_.begin(), probe_order_.end(),
                                        [&](const node_id& id) {
                                          auto it = members_.find(id);
                                          return it == members_.end() ||
                                                 it->second.state == member_state::dead ||
                                                 it->second.state == member_state::left;
                                        }),
                         probe_order_.end());
      std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
      probe_index_ = 0;
      if (probe_order_.empty()) return;
    }
    const node_id target = probe_order_[probe_index_++];
    auto it = members_.find(target);
    if (it == members_.end() || it->second.state == member_state::dead ||
        it->second.state == member_state::left || probing(target))
      continue;
    send_probe(target, true, now);
    return;
  }
}

bool detector::probing(const node_id& target) const {
  return std::any_of(probes_.begin(), probes_.end(), [&](const probe& p) { return p.target == target; });
}

void detector::send_probe(const node_id& target, bool regular, time_ms now) {
  probe p;
  p.target = target;
  p.seq = next_seq_++;
  p.started = now;
  p.regular = regular;
  probes_.push_back(p);
  send(target, message{message_kind::ping, p.seq, {}, target, {}});
}

void detector::probe_now(const node_id& id, time_ms now) {
  auto it = members_.find(id);
  if (it == members_.end() || leaving_) return;
  if (it->second.state != member_state::alive && it->second.state != member_state::suspect) return;
  if (probing(id)) return;
  send_probe(id, false, now);
}

void detector::finish_probe(const probe& p, time_ms now) {
  // Lifeguard: indirect probers that did not even send a nack point at our own slowness.
  adjust_health(p.nacks_expected > 0 ? p.nacks_expected - p.nacks_received : 1);
  auto it = members_.find(p.target);
  if (it == members_.end()) return;
  // Suspect it, or, if someone already does, confirm their suspicion independently.
  if (it->second.state == member_state::alive || it->second.state == member_state::suspect)
    apply(update{member_state::suspect, p.target, it->second.incarnation, self_, {}}, now);
}

// memberlist's gossip: queued updates go to a few random members every gossip interval, besides
// riding on probes, so news spreads in a fraction of a probe interval.
void detector::gossip(time_ms now) {
  if (now < next_gossip_at_) return;
  next_gossip_at_ = now + profile_.gossip_interval;
  if (broadcasts_.empty()) return;
  std::vector<node_id> targets;
  for (const auto& [id, m] : members_)
    if (m.state == member_state::alive || m.state == member_state::suspect) targets.push_back(id);
  std::shuffle(targets.begin(), targets.end(), rng_);
  targets.resize(std::min<std::size_t>(targets.size(), static_cast<std::size_t>(profile_.gossip_nodes)));
  for (const auto& t : targets) {
    if (broadcasts_.empty()) break;
    send(t, message{message_kind::gossip, 0, {}, {}, {}});
  }
}

std::vector<update> detector::full_state() const {
  std::vector<update> out;
  out.reserve(members_.size() + 1);
  out.push_back(update{leaving_ ? member_state::left : member_state::alive, self_, incarnation_, self_, address_});
  for (const auto& [id, m] : members_) out.push_back(update{m.state, id, m.incarnation, self_, m.address});
  return out;
}

// As memberlist's mergeState: a remote "dead" only makes us suspect (our own timer decides),
// everything else applies as a claim from the sender.
void detector::merge_state(const message& m, time_ms now) {
  for (auto u : m.piggyback) {
    if (u.state == member_state::dead) u.state = member_state::suspect;
    u.from = m.from;
    apply(u, now);
  }
}

void detector::tick(time_ms now) {
  gossip(now);
  if (now >= next_sync_at_) {
    next_sync_at_ = now + profile_.push_pull_interval;
    auto peers = live_peers({});
    if (!peers.empty()) {
      auto target = peers[std::uniform_int_distribution<std::size_t>(0, peers.size() - 1)(rng_)];
      send(target, message{message_kind::sync, 0, {}, {}, full_state()});
    }
  }
  if (now >= next_reconnect_at_) {
    next_reconnect_at_ = now + profile_.reconnect_interval;
    std::vector<node_id> dead;
    for (const auto& [id, m] : members_)
      if (m.state == member_state::dead && !m.address.empty()) dead.push_back(id);
    if (!dead.empty() && !leaving_) {
      auto target = dead[std::uniform_int_distribution<std::size_t>(0, dead.size() - 1)(rng_)];
      send(target, message{message_kind::sync, 0, {}, {}, full_state()});
    }
  }
  std::vector<probe> finished;
  for (auto it = probes_.begin(); it != probes_.end();) {
    probe& p = *it;
    if (!p.indirect_sent && now - p.started >= scaled(profile_.probe_timeout)) {
      p.indirect_sent = true;
      auto helpers = live_peers(p.target);
      std::shuffle(helpers.begin(), helpers.end(), rng_);
      helpers.resize(std::min<std::size_t>(helpers.size(), profile_.indirect_checks));
      p.nacks_expected = static_cast<int>(helpers.size());
      for (const auto& h : helpers) send(h, message{message_kind::ping_req, p.seq, {}, p.target, {}});
    }
    if (now - p.started >= scaled(profile_.probe_interval)) {
      finished.push_back(p);
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& p : finished) finish_probe(p, now);
  bool regular_in_flight =
      std::any_of(probes_.begin(), probes_.end(), [](const probe& p) { return p.regular; });
  if (!regular_in_flight && now >= next_probe_at_) start_probe(now);

  for (auto it = relays_.begin(); it != relays_.end();) {
    // Nack a little before the prober's own deadline, so the nack can still count there.
    if (now - it->second.started >= scaled(profile_.probe_timeout) * 4 / 5) {
      if (profile_.lifeguard)
        send(it->second.origin, message{message_kind::nack, it->second.origin_seq, {}, {}, {}});
      it = relays_.erase(it);
    } else {
      ++it;
    }
  }

  for (auto it = suspects_.begin(); it != suspects_.end();) {
    member& m = members_.at(*it++);  // set_state below erases from suspects_
    auto confirmations = m.confirmations.empty() ? 0 : m.confirmations.size() - 1;
    if (now - m.suspected_at >= suspicion_timeout(confirmations)) {
      set_state(m, member_state::dead, m.incarnation, now);
      broadcast(update{member_state::dead, m.id, m.incarnation, self_, {}});
    }
  }
}

void detector::receive(const message& msg, time_ms now) {
  if (msg.kind == message_kind::sync || msg.kind == message_kind::sync_reply) {
    merge_state(msg, now);
    if (msg.kind == message_kind::sync)
      send(msg.from, message{message_kind::sync_reply, 0, {}, {}, full_state()});
    return;
  }
  for (const auto& u : msg.piggyback) apply(u, now);
  switch (msg.kind) {
    case message_kind::ping:
      send(msg.from, message{message_kind::ack, msg.seq, {}, {}, {}});
      return;
    case message_kind::ping_req: {
      auto seq = next_seq_++;
      relays_[seq] = relay{msg.from, msg.seq, now};
      send(msg.target, message{message_kind::ping, seq, {}, msg.target, {}});
      return;
    }
    case message_kind::ack: {
      if (auto it = relays_.find(msg.seq); it != relays_.end()) {
        send(it->second.origin, message{message_kind::ack, it->second.origin_seq, {}, {}, {}});
        relays_.erase(it);
        return;
      }
      leave_pending_.erase(msg.seq);
      for (auto it = probes_.begin(); it != probes_.end(); ++it)
        if (it->seq == msg.seq) {
          adjust_health(-1);
          probes_.erase(it);
          break;
        }
      return;
    }
    case message_kind::nack:
      for (auto& p : probes_)
        if (p.seq == msg.seq) ++p.nacks_received;
      return;
    case message_kind::gossip:
    case message_kind::sync:
    case message_kind::sync_reply:
      return;
  }
}

void detector::leave(time_ms now) {
  if (leaving_) return;
  leaving_ = true;
  leave_started_ = now;
  broadcast(update{member_state::left, self_, incarnation_, self_, address_});
  // Tell some members now rather than waiting for the next probes: the node is about to stop.
  auto peers = live_peers({});
  std::shuffle(peers.begin(), peers.end(), rng_);
  peers.resize(std::min<std::size_t>(peers.size(), static_cast<std::size_t>(std::max(1, retransmit_limit()))));
  for (const auto& p : peers) {
    auto seq = next_seq_++;
    leave_pending_.insert(seq);
    send(p, message{message_kind::ping, seq, {}, p, {}});
  }
}

bool detector::leave_settled(time_ms now) const {
  return leaving_ && (leave_pending_.empty() || now - leave_started_ >= scaled(profile_.probe_interval));
}

void detector::forget(const node_id& id) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  if (it->second.state != member_state::dead && it->second.state != member_state::left) return;
  members_.erase(it);
  probe_order_.erase(std::remove(probe_order_.begin(), probe_order_.end(), id), probe_order_.end());
  probe_index_ = std::min(probe_index_, probe_order_.size());
}

time_ms detector::next_deadline() const {
  time_ms next = std::min({next_probe_at_, next_sync_at_, next_reconnect_at_});
  if (!broadcasts_.empty()) next = std::min(next, next_gossip_at_);
  for (const auto& p : probes_) {
    next = std::min(next, p.started + scaled(profile_.probe_interval));
    if (!p.indirect_sent) next = std::min(next, p.started + scaled(profile_.probe_timeout));
  }
  for (const auto& [seq, r] : relays_)
    next = std::min(next, r.started + scaled(profile_.probe_timeout) * 4 / 5);
  for (const auto& id : suspects_) {
    const member& m = members_.at(id);
    auto confirmations = m.confirmations.empty() ? 0 : m.confirmations.size() - 1;
    next = std::min(next, m.suspected_at + suspicion_timeout(confirmations));
  }
  if (leaving_ && !leave_pending_.empty())
    next = std::min(next, leave_started_ + scaled(profile_.probe_interval));
  return next;
}

std::vector<outgoing> detector::take_outbox() {
  std::vector<outgoing> out;
  out.swap(outbox_);
  return out;
}

std::vector<verdict> detector::take_verdicts() {
  std::vector<verdict> out;
  out.swap(verdicts_);
  return out;
}

}  // namespace p2p::swim
