#include "protocol/raft/raft.hpp"

#include <algorithm>

namespace p2p::raft {

std::optional<timing> timing_named(std::string_view name) {
  // name, heartbeat, election min/max, batch entries, batch bytes, in flight
  if (name == "lan") return timing{"lan", 50, 300, 600, 256, 256 * 1024, 64};
  if (name == "wan") return timing{"wan", 250, 1500, 3000, 256, 256 * 1024, 64};
  if (name == "test") return timing{"test", 10, 50, 100, 16, 16 * 1024, 8};
  return std::nullopt;
}

std::string_view role_name(role r) {
  switch (r) {
    case role::follower: return "follower";
    case role::pre_candidate: return "pre_candidate";
    case role::candidate: return "candidate";
    case role::leader: return "leader";
  }
  return "follower";
}

std::string encode_membership(const membership& m) {
  std::string out = "v:";
  for (std::size_t i = 0; i < m.voters.size(); ++i) out.append(i ? "," : "").append(m.voters[i]);
  out += ";l:";
  for (std::size_t i = 0; i < m.learners.size(); ++i) out.append(i ? "," : "").append(m.learners[i]);
  return out;
}

std::optional<membership> decode_membership(std::string_view data) {
  auto list = [](std::string_view text) {
    std::vector<node_id> out;
    while (!text.empty()) {
      auto comma = text.find(',');
      out.emplace_back(text.substr(0, comma));
      if (comma == std::string_view::npos) break;
      text.remove_prefix(comma + 1);
    }
    return out;
  };
  auto semi = data.find(";l:");
  if (data.rfind("v:", 0) != 0 || semi == std::string_view::npos) return std::nullopt;
  membership m{list(data.substr(2, semi - 2)), list(data.substr(semi + 3))};
  if (m.voters.empty()) return std::nullopt;
  return m;
}

namespace {
constexpr std::string_view term_start_tag = "term-start\n";
}  // namespace

std::string encode_term_start(const term_start& t) {
  std::string out(term_start_tag);
  out.append("leader=").append(t.leader).append("\nprevious=").append(t.previous_leader);
  out.append("\ncluster=").append(t.cluster_id);
  return out;
}

term_start decode_term_start(std::string_view data) {
  term_start t;
  if (data.substr(0, term_start_tag.size()) != term_start_tag) {
    t.cluster_id = std::string(data);  // written before leaders were named
    return t;
  }
  data.remove_prefix(term_start_tag.size());
  while (!data.empty()) {
    const auto newline = data.find('\n');
    const auto line = data.substr(0, newline);
    data = newline == std::string_view::npos ? std::string_view{} : data.substr(newline + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const auto key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "leader") t.leader = std::string(value);
    else if (key == "previous") t.previous_leader = std::string(value);
    else if (key == "cluster") t.cluster_id = std::string(value);
  }
  return t;
}

std::uint64_t voter_set_hash(std::vector<node_id> voters) {
  if (voters.empty()) return 0;
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  std::uint64_t h = 14695981039346656037ull;
  for (const auto& v : voters) {
    for (unsigned char c : v) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // separator: ("ab","c") differs from ("a","bc")
  }
  return h == 0 ? 1 : h;
}

core::core(node_id self, std::vector<node_id> voters, timing t, std::uint64_t seed, time_ms now,
           hard_state state, std::vector<entry> log, std::optional<snapshot> snap)
    : self_(std::move(self)), timing_(std::move(t)), rng_(seed), term_(state.term), vote_(state.vote),
      commit_(state.commit), log_(std::move(log)), persisted_state_(state) {
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  bootstrap_hash_ = voter_set_hash(voters);
  initial_.voters = std::move(voters);
  if (snap && snap->index > 0) {
    snapshot_ = std::move(*snap);
    // Storage hands over the entries after the snapshot; drop any it kept from before.
    std::erase_if(log_, [&](const entry& e) { return e.index <= snapshot_.index; });
    applied_ = snapshot_.index;
  }
  find_last_term_start();
  apply_latest_membership();
  stable_ = last_index();
  durable_ = last_index();
  commit_ = std::clamp(commit_, snapshot_.index, last_index());
  learn_cluster_id();
  reset_election_timer(now);
  // The only voter has nobody to wait for or disrupt: it leads from its first tick.
  if (members_.voters.size() == 1 && is_voter()) election_deadline_ = now;
}

void core::learn_cluster_id() {
  if (!cluster_id_.empty()) return;
  if (snapshot_.index > 0) cluster_id_ = snapshot_.cluster_id;
  else if (commit_ >= 1 && !log_.empty()) cluster_id_ = decode_term_start(log_.front().data).cluster_id;
}

bool core::refuse_foreign(const message& m) {
  std::string why;
  if (!m.cluster.empty() && !cluster_id_.empty() && m.cluster != cluster_id_)
    why = "cluster " + m.cluster + ", this node belongs to cluster " + cluster_id_;
  else if (m.voters_hash != 0 && bootstrap_hash_ != 0 && m.voters_hash != bootstrap_hash_)
    why = "a different bootstrap voter list (check that --voters is the same on every voter)";
  if (why.empty()) return false;
  refusals_.push_back("refused a message from " + m.from + ": " + why);
  return true;
}

std::vector<std::string> core::take_refusals() {
  std::vector<std::string> out;
  out.swap(refusals_);
  return out;
}

bool core::voter(const node_id& id) const {
  return std::binary_search(members_.voters.begin(), members_.voters.end(), id);
}
bool core::is_voter() const { return voter(self_); }

void core::apply_latest_membership() {
  members_ = snapshot_.index > 0 ? snapshot_.members : initial_;
  config_index_ = snapshot_.index;
  for (auto it = log_.rbegin(); it != log_.rend(); ++it)
    if (it->type == entry_type::config)
      if (auto m = decode_membership(it->data)) {
        members_ = *m;
        config_index_ = it->index;
        break;
      }
}

// The leader tracks every member but itself: new ones start probing at the end of the log.
void core::sync_progress(time_ms now) {
  if (role_ != role::leader) return;
  std::vector<node_id> members = members_.voters;
  members.insert(members.end(), members_.learners.begin(), members_.learners.end());
  for (auto it = progress_.begin(); it != progress_.end();)
    it = std::find(members.begin(), members.end(), it->first) == members.end() ? progress_.erase(it) : std::next(it);
  for (const auto& id : members)
    if (id != self_ && !progress_.count(id)) progress_[id] = progress{0, last_index() + 1, true, 0, true, now, 0};
}

template <class Value>
std::uint64_t core::quorum_value(std::uint64_t own, Value value) const {
  std::vector<std::uint64_t> values;
  for (const auto& v : members_.voters) {
    if (v == self_) values.push_back(own);
    else if (auto it = progress_.find(v); it != progress_.end()) values.push_back(value(it->second));
    else values.push_back(0);
  }
  std::sort(values.begin(), values.end(), std::greater<>());
  return values[quorum() - 1];
}

term_t core::term_at(index_t i) const {
  if (i == snapshot_.index) return snapshot_.term;
  if (i < first_index() || i > last_index()) return 0;
  return at(i).term;
}

void core::reset_election_timer(time_ms now) {
  election_deadline_ =
      now + std::uniform_int_distribution<time_ms>(timing_.election_min, timing_.election_max - 1)(rng_);
}

bool core::heard_from_leader_recently(time_ms now) const {
  if (role_ == role::leader) return true;  // check-quorum makes it step down when it loses the lease
  return !leader_.empty() && last_leader_contact_ >= 0 && now - last_leader_contact_ < timing_.election_min;
}

bool core::log_up_to_date(term_t last_term, index_t last_index) const {
  return last_term > this->last_term() || (last_term == this->last_term() && last_index >= this->last_index());
}

void core::send(message m) {
  m.from = self_;
  m.cluster = cluster_id_;
  m.voters_hash = bootstrap_hash_;
  outbox_.push_back(std::move(m));
}

void core::become_follower(term_t term, const node_id& leader, time_ms now) {
  if (role_ == role::leader) {
    fail_reads();
    transfer_to_.clear();
    round_sent_.clear();
    lease_until_ = 0;
  }
  if (term > term_) {
    term_ = term;
    vote_.clear();
  }
  role_ = role::follower;
  leader_ = leader;
  if (!leader.empty()) last_leader_contact_ = now;
  votes_.clear();
  progress_.clear();
  reset_election_timer(now);
}

void core::campaign(msg_type type, bool transfer) {
  const term_t term = type == msg_type::pre_vote ? term_ + 1 : term_;
  for (const auto& v : members_.voters) {
    if (v == self_) continue;
    message m;
    m.type = type;
    m.to = v;
    m.term = term;
    m.log_term = last_term();
    m.index = last_index();
    m.transfer = transfer;
    send(std::move(m));
  }
}

void core::become_pre_candidate(time_ms now) {
  // Pre-vote: ask whether we could win before raising the term, so a node cut off from the
  // cluster cannot disrupt it with ever higher terms when it comes back.
  if (start_campaign(role::pre_candidate, now)) become_candidate(now);
  else campaign(msg_type::pre_vote, false);
}

bool core::start_campaign(role r, time_ms now) {
  role_ = r;
  leader_.clear();
  votes_ = {{self_, true}};
  reset_election_timer(now);
  return votes_.size() >= quorum();
}

void core::become_candidate(time_ms now, bool transfer) {
  ++term_;
  vote_ = self_;
  if (start_campaign(role::candidate, now)) become_leader(now);
  else campaign(msg_type::vote, transfer);
}

void core::become_leader(time_ms now) {
  role_ = role::leader;
  leader_ = self_;
  votes_.clear();
  progress_.clear();
  sync_progress(now);
  next_quorum_check_ = now + timing_.election_min;
  next_heartbeat_ = now + timing_.heartbeat;
  round_ = 0;
  round_sent_.clear();
  lease_until_ = 0;
  new_round(now);
  // An entry of our own term: committing it commits everything before it (thesis §3.6.2). It
  // names us and the leader before us; the very first entry of a cluster also carries its
  // identity, drawn here.
  term_start start{{}, self_, last_term_start_.leader};
  if (last_index() == 0) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng_()),
                  static_cast<unsigned long long>(rng_()));
    start.cluster_id = buf;
  }
  append_local(entry{term_, last_index() + 1, entry_type::noop, encode_term_start(start)});
  broadcast_append(now, false);
  maybe_commit();
  update_lease_and_reads();
}

void core::append_local(entry e) {
  const bool config = e.type == entry_type::config;
  if (e.type == entry_type::noop) last_term_start_ = {e.index, decode_term_start(e.data).leader};
  log_.push_back(std::move(e));
  // A server uses the latest membership in its log, committed or not (thesis §4.1).
  if (config) apply_latest_membership();
}

void core::find_last_term_start() {
  last_term_start_ = {};
  for (auto it = log_.rbegin(); it != log_.rend(); ++it)
    if (it->type == entry_type::noop) {
      last_term_start_ = {it->index, decode_term_start(it->data).leader};
      return;
    }
}

void core::truncate_from(index_t index) {
  if (index <= snapshot_.index || index > last_index()) return;
  log_.resize(index - snapshot_.index - 1);
  if (config_index_ >= index) apply_latest_membership();
  if (last_term_start_.index >= index) find_last_term_start();
  if (index <= stable_) {
    truncated_ = truncated_ ? std::min(*truncated_, index) : index;
    stable_ = index - 1;
  }
  // Batches still being written no longer vouch for the entries cut off here.
  durable_ = std::min(durable_, index - 1);
  for (auto& last : unpersisted_) last = std::min(last, index - 1);
}

void core::set_commit(index_t index) {
  if (index > commit_) commit_ = std::min(index, last_index());
  learn_cluster_id();
}

bool core::maybe_commit() {
  if (role_ != role::leader) return false;
  // Our own copy counts once it is durable: the entries may go out before our fsync ends.
  const index_t candidate = quorum_value(durable_, [](const progress& p) { return p.match; });
  // Only entries of the current term are committed by counting replicas (thesis §3.6.2).
  if (candidate > commit_ && term_at(candidate) == term_) {
    set_commit(candidate);
    return true;
  }
  return false;
}

void core::send_append(const node_id& to, time_ms now, bool heartbeat) {
  auto& p = progress_.at(to);
  // The entries it needs are compacted away: it gets the snapshot instead, one chunk at a time.
  if (p.snapshot_index != 0 || p.next <= snapshot_.index) {
    if (p.snapshot_index != snapshot_.index) {
      p.snapshot_index = snapshot_.index;  // (a newer snapshot replaces one half sent)
      p.snapshot_offset = 0;
      p.inflight = 0;
    }
    if (p.inflight == 0) {
      send_snapshot_chunk(to, now);
    } else if (heartbeat) {
      // Keeps its election timer quiet and counts for read rounds: index 0 matches any log.
      message m;
      m.type = msg_type::append;
      m.to = to;
      m.term = term_;
      m.commit = 0;
      m.round = round_;
      send(std::move(m));
    }
    return;
  }
  const bool saturated = p.probing ? p.inflight > 0 : p.inflight >= timing_.max_inflight;
  const bool has_entries = p.next <= last_index();
  if (saturated && !heartbeat) return;
  if (!has_entries && !heartbeat) return;
  message m;
  m.type = msg_type::append;
  m.to = to;
  m.term = term_;
  m.index = p.next - 1;
  m.log_term = term_at(m.index);
  m.commit = commit_;
  m.round = round_;
  if (!saturated && has_entries) {
    std::size_t bytes = 0;
    for (index_t i = p.next; i <= last_index() && m.entries.size() < timing_.max_batch_entries; ++i) {
      const auto& e = at(i);
      if (!m.entries.empty() && bytes + e.data.size() > timing_.max_batch_bytes) break;
      bytes += e.data.size();
      m.entries.push_back(e);
    }
    ++p.inflight;
    // Replicating: send on optimistically (pipelining). Probing: wait for the answer.
    if (!p.probing) p.next = m.entries.back().index + 1;
    // Only appends that take a slot time out; a heartbeat must not keep a lost one alive.
    p.last_sent = now;
  }
  send(std::move(m));
}

void core::broadcast_append(time_ms now, bool heartbeat) {
  for (const auto& [id, p] : progress_) send_append(id, now, heartbeat);
}

void core::tick(time_ms now) {
  if (role_ == role::leader) {
    if (now >= next_quorum_check_) {
      // Check-quorum: a leader that has not heard from a majority within an election timeout
      // steps down, so a partitioned leader cannot go on believing it leads.
      std::size_t active = is_voter() ? 1 : 0;
      for (auto& [id, p] : progress_) {
        active += p.recently_active && voter(id) ? 1 : 0;
        p.recently_active = false;
      }
      if (active < quorum()) {
        become_follower(term_, {}, now);
        return;
      }
      next_quorum_check_ = now + timing_.election_min;
    }
    if (!transfer_to_.empty() && now >= transfer_deadline_) transfer_to_.clear();  // give up
    if (now >= next_heartbeat_) {
      next_heartbeat_ = now + timing_.heartbeat;
      for (auto& [id, p] : progress_) {
        // Appends unanswered for two heartbeats were probably lost: start again from the match
        // (a snapshot chunk is sent again from where it was).
        if (p.inflight > 0 && now - p.last_sent >= 2 * timing_.heartbeat) {
          p.inflight = 0;
          if (p.snapshot_index != 0) continue;
          p.probing = true;
          p.next = p.match + 1;
        }
      }
      new_round(now);
      broadcast_append(now, true);
    }
    return;
  }
  // Non-voters follow; they never campaign, but they stop naming a leader they no longer hear
  // from (a voter does so by campaigning), so forwarding never goes to a stale one.
  if (now >= election_deadline_) {
    if (is_voter()) {
      become_pre_candidate(now);
    } else {
      if (!heard_from_leader_recently(now)) leader_.clear();
      reset_election_timer(now);
    }
  }
}

std::optional<index_t> core::propose(std::string data, time_ms now) {
  if (role_ != role::leader || !transfer_to_.empty()) return std::nullopt;
  append_local(entry{term_, last_index() + 1, entry_type::normal, std::move(data)});
  // Sent when the messages are taken: every proposal up to then goes in one append per
  // follower, not one each.
  append_due_ = now;
  maybe_commit();
  update_lease_and_reads();
  return last_index();
}

std::optional<index_t> core::propose_change(const membership_change& change, time_ms now, std::string* why) {
  auto refuse = [&](std::string reason) -> std::optional<index_t> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (role_ != role::leader) return refuse("not the leader");
  if (!transfer_to_.empty()) return refuse("leadership is being transferred");
  if (config_index_ > commit_) return refuse("another membership change is not committed yet");
  // Until an entry of its term commits, a new leader may not know the latest committed config.
  if (term_at(commit_) != term_) return refuse("this leader has not committed an entry of its term yet");
  membership next = members_;
  auto& v = next.voters;
  auto& l = next.learners;
  auto has = [](const std::vector<node_id>& xs, const node_id& x) { return std::find(xs.begin(), xs.end(), x) != xs.end(); };
  auto drop = [](std::vector<node_id>& xs, const node_id& x) { xs.erase(std::remove(xs.begin(), xs.end(), x), xs.end()); };
  if (change.node.empty()) return refuse("no node given");
  switch (change.kind) {
    case change_kind::add_voter:
      if (has(v, change.node)) return refuse(change.node + " is already a voter");
      drop(l, change.node);
      v.push_back(change.node);
      break;
    case change_kind::add_learner:
      if (has(v, change.node) || has(l, change.node)) return refuse(change.node + " is already a member");
      l.push_back(change.node);
      break;
    case change_kind::promote:
      if (!has(l, change.node)) return refuse(change.node + " is not a non-voter");
      drop(l, change.node);
      v.push_back(change.node);
      break;
    case change_kind::remove:
      if (!has(v, change.node) && !has(l, change.node)) return refuse(change.node + " is not a member");
      drop(v, change.node);
      drop(l, change.node);
      if (v.empty()) return refuse("the last voter cannot be removed");
      break;
  }
  std::sort(v.begin(), v.end());
  std::sort(l.begin(), l.end());
  append_local(entry{term_, last_index() + 1, entry_type::config, encode_membership(next)});
  sync_progress(now);
  broadcast_append(now, false);
  maybe_commit();
  return last_index();
}

bool core::transfer_leadership(const node_id& to, time_ms now) {
  if (role_ != role::leader || to == self_ || !voter(to) || !progress_.count(to)) return false;
  transfer_to_ = to;
  transfer_deadline_ = now + timing_.election_max;
  lease_until_ = 0;  // the target may win before any lease would end
  if (progress_.at(to).match == last_index()) {
    message m;
    m.type = msg_type::timeout_now;
    m.to = to;
    m.term = term_;
    send(std::move(m));
  } else {
    send_append(to, now, false);
  }
  return true;
}

void core::leader_unreachable(const node_id& node, time_ms now) {
  if (role_ != role::follower || node.empty() || node != leader_) return;
  leader_.clear();
  last_leader_contact_ = -1;
  // Spread over two heartbeats so the followers that noticed together do not split the vote.
  election_deadline_ = std::min(
      election_deadline_, now + std::uniform_int_distribution<time_ms>(0, 2 * timing_.heartbeat)(rng_));
}

void core::new_round(time_ms now) {
  round_sent_[++round_] = now;
}

void core::update_lease_and_reads() {
  if (role_ != role::leader) return;
  // The latest round a majority (counting ourselves) has acknowledged.
  const std::uint64_t confirmed = quorum_value(round_, [](const progress& p) { return p.acked_round; });
  if (auto it = round_sent_.find(confirmed); it != round_sent_.end() && transfer_to_.empty()) {
    // No voter grants a vote within election_min of hearing from us (stickiness), so nobody
    // else can lead before this; a tenth is kept back for clock drift. Not while handing
    // over: the target's campaign skips stickiness.
    lease_until_ = std::max(lease_until_, it->second + timing_.election_min - timing_.election_min / 10);
    round_sent_.erase(round_sent_.begin(), it);
  }
  // A read needs an entry of this term committed, so that commit_ covers every earlier leader's.
  if (term_at(commit_) != term_) return;
  auto ready = std::stable_partition(pending_reads_.begin(), pending_reads_.end(),
                                     [&](const pending_read& r) { return r.round > confirmed; });
  for (auto it = ready; it != pending_reads_.end(); ++it) ready_reads_.push_back({it->id, commit_});
  pending_reads_.erase(ready, pending_reads_.end());
}

bool core::read_index(std::uint64_t id, time_ms now) {
  if (role_ != role::leader) return false;
  if (term_at(commit_) == term_ && now < lease_until_) {
    ready_reads_.push_back({id, commit_});
    return true;
  }
  new_round(now);
  pending_reads_.push_back({id, commit_, round_});
  broadcast_append(now, true);
  update_lease_and_reads();
  return true;
}

void core::fail_reads() {
  for (const auto& r : pending_reads_) failed_reads_.push_back(r.id);
  pending_reads_.clear();
}

std::vector<read_state> core::take_reads() {
  std::vector<read_state> out;
  out.swap(ready_reads_);
  return out;
}

std::vector<std::uint64_t> core::take_failed_reads() {
  std::vector<std::uint64_t> out;
  out.swap(failed_reads_);
  return out;
}

void core::step(const message& m, time_ms now) {
  // Messages come from any node: a server added to the cluster hears from the leader before
  // it knows its own membership. Votes go only to voters (handle_vote_request).
  if (m.from == self_ || m.from.empty()) return;
  if (refuse_foreign(m)) return;
  const bool vote_request = m.type == msg_type::pre_vote || m.type == msg_type::vote;
  if (m.term > term_) {
    // Leader stickiness: while we hear from a leader, a higher-term candidate is refused
    // without moving our term (unless the leader itself asked it to campaign). This is what
    // keeps a removed server that goes on campaigning from disrupting the cluster (§4.2.3).
    if (vote_request && !m.transfer && heard_from_leader_recently(now)) {
      message r;
      r.type = m.type == msg_type::pre_vote ? msg_type::pre_vote_reply : msg_type::vote_reply;
      r.to = m.from;
      r.term = term_;  // lower than the candidate's: it ignores the answer as stale
      r.reject = true;
      send(std::move(r));
      return;
    }
    const bool keeps_term =
        m.type == msg_type::pre_vote || (m.type == msg_type::pre_vote_reply && !m.reject);
    const bool from_leader = m.type == msg_type::append || m.type == msg_type::snapshot;
    if (!keeps_term) become_follower(m.term, from_leader ? m.from : node_id{}, now);
  } else if (m.term < term_) {
    // A stale leader or candidate learns the current term from our answer and steps down.
    if (m.type == msg_type::append || m.type == msg_type::snapshot || m.type == msg_type::pre_vote ||
        m.type == msg_type::vote) {
      message r;
      r.type = m.type == msg_type::append     ? msg_type::append_reply
               : m.type == msg_type::snapshot ? msg_type::snapshot_reply
               : m.type == msg_type::pre_vote ? msg_type::pre_vote_reply
                                              : msg_type::vote_reply;
      r.to = m.from;
      r.term = term_;
      r.reject = true;
      r.index = m.index;
      r.hint = last_index();
      send(std::move(r));
    }
    return;
  }
  switch (m.type) {
    case msg_type::pre_vote:
    case msg_type::vote: handle_vote_request(m, now); return;
    case msg_type::pre_vote_reply:
    case msg_type::vote_reply: handle_vote_reply(m, now); return;
    case msg_type::append: handle_append(m, now); return;
    case msg_type::append_reply: handle_append_reply(m, now); return;
    case msg_type::snapshot: handle_snapshot(m, now); return;
    case msg_type::snapshot_reply: handle_snapshot_reply(m, now); return;
    case msg_type::timeout_now:
      // Our leader hands over: campaign at once, skipping pre-vote.
      if (role_ == role::follower && m.from == leader_) become_candidate(now, true);
      return;
  }
}

void core::handle_vote_request(const message& m, time_ms now) {
  // Votes are granted without consulting our configuration (thesis §4.1): configurations may
  // differ between servers while a change spreads, and refusing then can leave no candidate
  // able to win. The candidate counts only the votes of its own configuration's voters.
  bool grant = false;
  if (m.type == msg_type::pre_vote) {
    // Would we vote in the candidate's next term? Nothing changes here.
    grant = m.term > term_ && log_up_to_date(m.log_term, m.index);
  } else {
    const bool can_vote = vote_ == m.from || (vote_.empty() && leader_.empty());
    grant = can_vote && log_up_to_date(m.log_term, m.index);
    if (grant) {
      vote_ = m.from;
      reset_election_timer(now);
    }
  }
  message r;
  r.type = m.type == msg_type::pre_vote ? msg_type::pre_vote_reply : msg_type::vote_reply;
  r.to = m.from;
  r.term = grant && m.type == msg_type::pre_vote ? m.term : term_;
  r.reject = !grant;
  send(std::move(r));
}

void core::handle_vote_reply(const message& m, time_ms now) {
  const bool counts = (role_ == role::pre_candidate && m.type == msg_type::pre_vote_reply) ||
                      (role_ == role::candidate && m.type == msg_type::vote_reply);
  if (!counts) return;
  if (!voter(m.from)) return;
  votes_[m.from] = !m.reject;
  std::size_t granted = 0, rejected = 0;
  for (const auto& [id, yes] : votes_) (yes ? granted : rejected) += 1;
  if (granted >= quorum()) {
    if (role_ == role::pre_candidate) become_candidate(now);
    else become_leader(now);
  } else if (rejected >= quorum()) {
    become_follower(term_, {}, now);
  }
}

void core::handle_append(const message& m, time_ms now) {
  if (role_ == role::leader) return;  // cannot happen: one leader per term (election safety)
  if (role_ != role::follower || leader_ != m.from) become_follower(term_, m.from, now);
  last_leader_contact_ = now;
  reset_election_timer(now);
  message r;
  r.type = msg_type::append_reply;
  r.to = m.from;
  r.term = term_;
  r.index = m.index;
  if (m.index < commit_) {
    // Everything up to our commit index is settled; tell the leader where we are.
    r.hint = commit_;
    r.round = m.round;
    send(std::move(r));
    return;
  }
  if (m.index > last_index() || term_at(m.index) != m.log_term) {
    // The logs may agree at the last index whose term is at most the leader's previous term.
    index_t i = std::min(m.index, last_index());
    while (i > 0 && term_at(i) > m.log_term) --i;
    if (i == m.index) --i;
    r.reject = true;
    r.hint = i;
    send(std::move(r));
    return;
  }
  for (const auto& e : m.entries) {
    if (e.index <= last_index()) {
      if (term_at(e.index) == e.term) continue;
      truncate_from(e.index);  // a conflicting suffix from an older leader
    }
    append_local(e);
  }
  const index_t last_new = m.index + m.entries.size();
  if (m.commit > commit_) set_commit(std::min(m.commit, last_new));
  r.hint = last_new;
  r.round = m.round;
  send(std::move(r));
}

progress* core::answered_by(const message& m) {
  if (role_ != role::leader) return nullptr;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return nullptr;
  auto& p = it->second;
  p.recently_active = true;
  p.acked_round = std::max(p.acked_round, m.round);
  update_lease_and_reads();
  return &p;
}

void core::handle_append_reply(const message& m, time_ms now) {
  auto* answered = answered_by(m);
  if (!answered) return;
  auto& p = *answered;
  if (p.snapshot_index != 0) return;  // a heartbeat's answer while the snapshot goes out
  if (m.reject) {
    if (m.index < p.match) return;  // stale
    p.next = std::max(p.match + 1, std::min(m.index, m.hint + 1));
    p.probing = true;
    p.inflight = 0;
    send_append(m.from, now, false);
    if (p.inflight == 0) send_append(m.from, now, true);  // nothing to send: still check the logs
    return;
  }
  // Only answers to appends that carried entries free a slot (heartbeats never took one).
  if (m.hint > m.index && p.inflight > 0) --p.inflight;
  if (m.hint > p.match) {
    p.match = m.hint;
    p.next = std::max(p.next, p.match + 1);
    if (p.probing) {
      p.probing = false;
      p.inflight = 0;
    }
    if (maybe_commit()) {
      broadcast_append(now, true);  // followers learn the commit at once
      update_lease_and_reads();
      // A leader removed from the voters hands over once the change is committed (§4.2.2).
      if (!is_voter() && commit_ >= config_index_) {
        become_follower(term_, {}, now);
        return;
      }
    }
  }
  send_append(m.from, now, false);
  if (m.from == transfer_to_ && p.match == last_index()) {
    message t;
    t.type = msg_type::timeout_now;
    t.to = m.from;
    t.term = term_;
    send(std::move(t));
  }
}

void core::send_snapshot_chunk(const node_id& to, time_ms now) {
  auto& p = progress_.at(to);
  message m;
  m.type = msg_type::snapshot;
  m.to = to;
  m.term = term_;
  m.index = snapshot_.index;
  m.log_term = snapshot_.term;
  m.round = round_;
  m.offset = std::min<std::uint64_t>(p.snapshot_offset, snapshot_.data.size());
  m.data = snapshot_.data.substr(m.offset, std::max<std::size_t>(timing_.max_batch_bytes, 1));
  m.done = m.offset + m.data.size() == snapshot_.data.size();
  m.members = encode_membership(snapshot_.members);
  p.inflight = 1;
  p.last_sent = now;
  send(std::move(m));
}

void core::handle_snapshot(const message& m, time_ms now) {
  if (role_ == role::leader) return;
  if (role_ != role::follower || leader_ != m.from) become_follower(term_, m.from, now);
  last_leader_contact_ = now;
  reset_election_timer(now);
  message r;
  r.type = msg_type::snapshot_reply;
  r.to = m.from;
  r.term = term_;
  r.index = m.index;
  r.round = m.round;
  if (m.index <= commit_) {
    // Everything it covers is settled here already (committed entries match the leader's).
    r.done = true;
    r.hint = commit_;
    send(std::move(r));
    return;
  }
  const bool same = incoming_.index == m.index && incoming_.term == m.log_term;
  if (m.offset == 0) {
    incoming_ = snapshot{m.index, m.log_term, {}, {}, {}};
  } else if (!same || m.offset != incoming_.data.size()) {
    // A chunk out of order (lost or duplicated): ask for where we are, or the start.
    r.reject = true;
    r.hint = same ? incoming_.data.size() : 0;
    send(std::move(r));
    return;
  }
  incoming_.data += m.data;
  if (!m.done) {
    r.hint = incoming_.data.size();
    send(std::move(r));
    return;
  }
  auto members = decode_membership(m.members);
  if (!members) {
    incoming_ = {};
    r.reject = true;
    r.hint = 0;
    send(std::move(r));
    return;
  }
  incoming_.members = std::move(*members);
  incoming_.cluster_id = m.cluster;  // the leader's: its snapshot covers the first entry
  if (term_at(m.index) == m.log_term && m.index <= last_index()) {
    // Our log already holds the snapshot's last entry: keep what follows it (thesis §5.3).
    log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(m.index - snapshot_.index));
  } else {
    log_.clear();
    find_last_term_start();  // ours may have been an entry the snapshot replaces
    truncated_ = truncated_ ? std::min(*truncated_, m.index + 1) : m.index + 1;
    // What we had persisted after the snapshot is dropped with the rest of the log.
    stable_ = std::min(stable_, m.index);
    durable_ = std::min(durable_, m.index);
    for (auto& last : unpersisted_) last = std::min(last, m.index);
  }
  snapshot_ = std::move(incoming_);
  incoming_ = {};
  learn_cluster_id();
  stable_ = std::max(stable_, snapshot_.index);
  commit_ = std::max(commit_, snapshot_.index);
  applied_ = std::max(applied_, snapshot_.index);
  apply_latest_membership();
  to_persist_snapshot_ = snapshot_;
  to_restore_ = snapshot_;
  r.done = true;
  r.hint = snapshot_.index;
  send(std::move(r));
}

void core::handle_snapshot_reply(const message& m, time_ms now) {
  auto* answered = answered_by(m);
  if (!answered) return;
  auto& p = *answered;
  if (m.done) {
    if (m.hint > p.match) p.match = m.hint;
    p.next = p.match + 1;
    p.snapshot_index = 0;
    p.snapshot_offset = 0;
    p.inflight = 0;
    p.probing = true;
    if (maybe_commit()) {
      broadcast_append(now, true);
      update_lease_and_reads();
    }
    send_append(m.from, now, false);
    return;
  }
  if (p.snapshot_index != m.index || p.snapshot_index != snapshot_.index) return;  // about an older one
  p.snapshot_offset = m.hint;
  p.inflight = 0;
  send_snapshot_chunk(m.from, now);
}

bool core::compact(index_t index, std::string data) {
  if (index <= snapshot_.index || index > applied_ || index > last_index()) return false;
  // The membership in force at `index`: the latest config entry up to it.
  membership members = snapshot_.index > 0 ? snapshot_.members : initial_;
  for (index_t i = index; i >= first_index(); --i)
    if (const auto& e = at(i); e.type == entry_type::config) {
      if (auto m = decode_membership(e.data)) members = *m;
      break;
    }
  const term_t term = term_at(index);
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(index - snapshot_.index));
  snapshot_ = snapshot{index, term, std::move(members), std::move(data), cluster_id_};
  stable_ = std::max(stable_, index);
  apply_latest_membership();
  to_persist_snapshot_ = snapshot_;
  return true;
}

persist_batch core::take_persist() {
  auto b = take_persist_deferred();
  if (!b.empty()) persisted();
  return b;
}

void core::persisted() {
  if (unpersisted_.empty()) return;
  const index_t last = unpersisted_.front();
  unpersisted_.pop_front();
  durable_ = std::max(durable_, std::min(last, last_index()));
  if (maybe_commit()) update_lease_and_reads();
}

persist_batch core::take_persist_deferred() {
  persist_batch b;
  hard_state now{term_, vote_, commit_};
  if (now != persisted_state_) {
    b.state = now;
    persisted_state_ = now;
  }
  b.snapshot = std::move(to_persist_snapshot_);
  to_persist_snapshot_.reset();
  b.truncate_from = truncated_;
  truncated_.reset();
  for (index_t i = std::max(stable_, snapshot_.index) + 1; i <= last_index(); ++i) b.entries.push_back(at(i));
  stable_ = last_index();
  if (!b.empty()) unpersisted_.push_back(last_index());
  return b;
}

std::optional<snapshot> core::take_restore() {
  auto out = std::move(to_restore_);
  to_restore_.reset();
  return out;
}

std::vector<message> core::take_messages() {
  if (append_due_ && role_ == role::leader) broadcast_append(*append_due_, false);
  append_due_.reset();
  std::vector<message> out;
  out.swap(outbox_);
  return out;
}

std::vector<entry> core::take_committed() {
  std::vector<entry> out;
  for (index_t i = std::max(applied_, snapshot_.index) + 1; i <= commit_; ++i) out.push_back(at(i));
  applied_ = commit_;
  return out;
}

time_ms core::next_deadline() const {
  if (role_ == role::leader) {
    auto next = std::min(next_heartbeat_, next_quorum_check_);
    if (!transfer_to_.empty()) next = std::min(next, transfer_deadline_);
    return next;
  }
  return election_deadline_;
}

}  // namespace p2p::raft
