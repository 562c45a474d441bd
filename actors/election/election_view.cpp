#include "actors/election/election_view.hpp"

#include <algorithm>

namespace p2p::election {

std::optional<timing> timing_named(std::string_view name) {
  // A lease of three heartbeats: one lost heartbeat (or a slow one) does not blank the view.
  if (name == "test") return timing{"test", 100, 300};
  if (name == "lan") return timing{"lan", 500, 1500};
  if (name == "wan") return timing{"wan", 1000, 3000};
  return std::nullopt;
}

std::string_view role_name(role r) {
  switch (r) {
    case role::leader: return "leader";
    case role::follower: return "follower";
    case role::candidate: return "candidate";
    case role::non_voter: return "non_voter";
  }
  return "non_voter";
}

std::optional<role> role_named(std::string_view name) {
  for (auto r : {role::leader, role::follower, role::candidate, role::non_voter})
    if (role_name(r) == name) return r;
  return std::nullopt;
}

view::view(node_id self, timing t, endpoints own) : self_(std::move(self)), timing_(std::move(t)), own_(std::move(own)) {}

void view::raft_changed(raft_word word) {
  const bool new_term_as_leader = word.r == role::leader && (!leading() || word.term != raft_.term);
  raft_ = std::move(word);
  if (new_term_as_leader || !leading()) lease_sent_at_.reset();
}

vote view::heartbeat_received(const heartbeat& hb, time_ms now) {
  // An older term never replaces a newer leader still within its lease: the old leader learns
  // of the newer term from our vote.
  if (hb.leader != self_ && !hb.leader.empty() && (!heard_live(now) || hb.term >= heard_->hb.term)) {
    heard_ = heard_heartbeat{hb, now};
    heard_->hb.lease = std::clamp<time_ms>(hb.lease, 0, max_lease);
  }
  return own_vote(now);
}

void view::member_alive(const node_id& node) {
  if (node != self_) members_.try_emplace(node);
}

void view::member_gone(const node_id& node) { members_.erase(node); }

std::vector<node_id> view::alive_members() const {
  std::vector<node_id> out;
  for (const auto& [id, t] : members_) out.push_back(id);
  return out;
}

heartbeat view::heartbeat_to_send(time_ms now) {
  lease_sent_at_ = now;
  return {self_, raft_.term, timing_.lease, own_};
}

bool view::follows_us(const tracked& t) const {
  return t.last && !t.unanswered && t.last->leader == self_ && t.last->term == raft_.term;
}

vote_verdict view::vote_received(const vote& v, time_ms now) {
  if (!leading()) return {};
  auto it = members_.find(v.node);
  if (it == members_.end()) return {};
  it->second.last = v;
  it->second.voted_at = now;
  it->second.unanswered = false;
  return {true, follows_us(it->second)};
}

void view::no_answer(const node_id& node) {
  if (auto it = members_.find(node); it != members_.end()) it->second.unanswered = true;
}

bool view::straggler(const node_id& node) const {
  auto it = members_.find(node);
  return leading() && it != members_.end() && !follows_us(it->second);
}

std::vector<node_id> view::followers() const {
  std::vector<node_id> out;
  if (!leading()) return out;
  for (const auto& [id, t] : members_)
    if (follows_us(t)) out.push_back(id);
  return out;
}

std::vector<node_id> view::stragglers() const {
  std::vector<node_id> out;
  if (!leading()) return out;
  for (const auto& [id, t] : members_)
    if (!follows_us(t)) out.push_back(id);
  return out;
}

leadership view::heard(time_ms now) const {
  if (!heard_) return {};
  if (!heard_live(now)) return {{}, heard_->hb.term, 0, {}};  // the term stays known; the leader does not
  return {heard_->hb.leader, heard_->hb.term, heard_->received + heard_->hb.lease - now, heard_->hb.where};
}

std::optional<time_ms> view::heard_until(time_ms now) const {
  if (!heard_live(now)) return std::nullopt;
  return heard_->received + heard_->hb.lease;
}

leadership view::current(time_ms now) const {
  if (!raft_.member) return heard(now);
  leadership out{raft_.leader, raft_.term, 0, {}};
  if (leading()) {
    out.where = own_;
    if (lease_sent_at_) out.lease_remaining = std::max<time_ms>(0, *lease_sent_at_ + timing_.lease - now);
  } else if (!raft_.leader.empty()) {
    // The heartbeats of the leader Raft names tell where it listens and how long it vouched for.
    auto h = heard(now);
    if (h.leader == raft_.leader && h.term == raft_.term) {
      out.lease_remaining = h.lease_remaining;
      out.where = h.where;
    }
  }
  return out;
}

vote view::own_vote(time_ms now) const {
  auto c = current(now);
  return {self_, c.leader, c.term};
}

status view::snapshot(time_ms now) const {
  status s;
  s.self = self_;
  s.r = raft_.r;
  s.current = current(now);
  if (!leading()) return s;
  s.followers = followers();
  s.stragglers = stragglers();
  for (const auto& [id, t] : members_) {
    member_vote m{id, {}, 0, std::nullopt};
    if (t.last) {
      m.leader = t.last->leader;
      m.term = t.last->term;
      m.voted_at = t.voted_at;
    }
    s.members.push_back(std::move(m));
  }
  return s;
}

}  // namespace p2p::election
