#pragma once
// Typed messages of the raft domain (DESIGN.md §4). Those marked "wire" cross the cluster port.
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/raft/raft.hpp"

namespace p2p::raft {
template <class F> auto inspect(F& f, entry& x) { return f(x.term, x.index, x.type, x.data); }
template <class F> auto inspect(F& f, message& x) {
  return f(x.type, x.from, x.to, x.term, x.log_term, x.index, x.entries, x.commit, x.reject, x.hint, x.round,
           x.transfer, x.offset, x.data, x.members, x.done, x.cluster, x.voters_hash);
}
}  // namespace p2p::raft

namespace p2p::msg {

// Wire: one Raft message between raft actors (one-way; answers are messages too).
struct raft_wire {
  raft::message body;
};
// POST /raft/append and /raft/vote: one Raft message stepped here; the answers to its sender
// come back in the reply instead of over the cluster port.
struct raft_rpc {
  raft::message body;
  std::string route;  // "append" or "vote": the message types each route accepts
  std::string error;  // set by the decoder: refused with bad_request
};
struct raft_rpc_reply {
  std::vector<raft::message> replies;
};

// Wire (forwarded to the leader) and local: a command for the replicated state machine. The
// reply comes once the command is committed and applied, with what the state machine said.
struct raft_propose {
  std::string command;
  std::uint32_t hops = 0;  // forwards so far: a command is forwarded at most once
};
struct raft_applied {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::string result;
};

// The key-value state machine's routes: POST /raft/kv (leader-write), GET /raft/kv (leader-read).
struct raft_kv_put {
  std::string key;
  std::string value;
};
struct raft_kv_get {
  std::string key;
  bool stale = false;  // answer from this node's state, without asking the leader
  std::uint32_t hops = 0;
};
struct raft_kv_reply {
  std::string key;
  bool found = false;
  std::string value;     // the value (get), or the previous value (put)
  std::uint64_t index = 0;  // the log index the answer reflects
};

// POST /raft/members {"add"|"remove": node_id} (leader-write).
struct raft_members_request {
  bool add = true;
  std::string node_id;
  std::uint32_t hops = 0;
};
struct raft_members_reply {
  std::uint64_t index = 0;
  std::vector<std::string> voters;
  std::vector<std::string> learners;
};

struct raft_status_request {};
struct raft_peer_progress {
  std::string node_id;
  std::uint64_t match_index = 0;
  std::uint64_t next_index = 0;
  bool snapshot = false;  // being sent a snapshot
};
struct raft_status_reply {
  std::string node_id;
  std::string state;  // leader, follower, candidate, non_voter
  std::uint64_t term = 0;
  std::string leader_id;
  std::uint64_t commit_index = 0;
  std::uint64_t last_applied = 0;
  std::uint64_t last_log_index = 0;
  std::uint64_t snapshot_index = 0;
  std::string cluster_id;
  std::vector<std::string> voters;
  std::vector<std::string> learners;
  std::vector<raft_peer_progress> peers;
  std::string profile;
  std::int64_t lease_remaining_ms = 0;
  std::uint64_t fsyncs = 0;
  double fsync_avg_ms = 0;
  std::uint64_t refused_messages = 0;  // from another cluster or voter list
};

template <class F> auto inspect(F& f, raft_wire& x) { return f(x.body); }
template <class F> auto inspect(F& f, raft_rpc& x) { return f(x.body, x.route, x.error); }
template <class F> auto inspect(F& f, raft_rpc_reply& x) { return f(x.replies); }
template <class F> auto inspect(F& f, raft_propose& x) { return f(x.command, x.hops); }
template <class F> auto inspect(F& f, raft_applied& x) { return f(x.index, x.term, x.result); }
template <class F> auto inspect(F& f, raft_kv_put& x) { return f(x.key, x.value); }
template <class F> auto inspect(F& f, raft_kv_get& x) { return f(x.key, x.stale, x.hops); }
template <class F> auto inspect(F& f, raft_kv_reply& x) { return f(x.key, x.found, x.value, x.index); }
template <class F> auto inspect(F& f, raft_members_request& x) { return f(x.add, x.node_id, x.hops); }
template <class F> auto inspect(F& f, raft_members_reply& x) { return f(x.index, x.voters, x.learners); }
template <class F> auto inspect(F& f, raft_status_request&) { return f(); }
template <class F> auto inspect(F& f, raft_peer_progress& x) {
  return f(x.node_id, x.match_index, x.next_index, x.snapshot);
}
template <class F> auto inspect(F& f, raft_status_reply& x) {
  return f(x.node_id, x.state, x.term, x.leader_id, x.commit_index, x.last_applied, x.last_log_index,
           x.snapshot_index, x.cluster_id, x.voters, x.learners, x.peers, x.profile, x.lease_remaining_ms,
           x.fsyncs, x.fsync_avg_ms, x.refused_messages);
}

}  // namespace p2p::msg
