#pragma once
// Typed messages of the election domain (DESIGN.md §4 "Membership, liveness, leadership"): the
// view of leadership every node holds. Those marked "wire" cross the cluster port.
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

// Where the leader listens, as the leader knows it.
struct leader_endpoints {
  std::string http;
  std::string cluster;
};

// Wire (and POST /election/heartbeat): the leader's announcement to a member SWIM holds alive.
// The member may trust it for lease_remaining_ms from receipt. Answered with an election_vote.
struct election_heartbeat {
  std::string leader_id;
  std::uint64_t term = 0;
  std::int64_t lease_remaining_ms = 0;
  leader_endpoints endpoints;
  std::uint64_t voters_hash = 0;  // the sender's bootstrap voter list (0: none); a mismatch is refused
  std::string error;              // set by the HTTP decoder: refused with bad_request
  std::string error_field;
};

// Wire (the answer to a heartbeat; POST /election/vote): "I follow leader_id in term" (leader_id
// empty: no leader known here).
struct election_vote {
  std::string node_id;
  std::string leader_id;
  std::uint64_t term = 0;
  std::uint64_t voters_hash = 0;
  std::string error;
  std::string error_field;
};
// POST /election/vote's answer: recorded by a leader, and whether it names this leader and term.
struct election_vote_ack {
  bool recorded = false;
  bool follower = false;
};

// GET /election/status.
struct election_status_request {};
struct election_member {
  std::string node_id;
  std::string leader_id;          // from its last vote; empty: none named (or no vote yet)
  std::uint64_t term = 0;
  std::int64_t last_vote_ms_ago = -1;  // -1: no vote yet
};
struct election_status_reply {
  std::string node_id;
  std::string leader_id;  // empty: no leader known
  std::uint64_t term = 0;
  std::string role;  // leader, follower, candidate, non_voter
  std::int64_t lease_remaining_ms = 0;
  leader_endpoints endpoints;  // the leader's, when known
  std::vector<std::string> followers;   // leader only
  std::vector<std::string> stragglers;  // leader only
  std::vector<election_member> members; // leader only
};

// POST /election/transfer (leader placement): hands leadership to the voter `to`; answered once
// it leads (or the hand-over clearly failed). Handled by the raft actor, which forwards it to
// the leader once.
struct leadership_transfer_request {
  std::string to;
  std::uint32_t hops = 0;
};
struct leadership_transfer_reply {
  std::string leader_id;
  std::uint64_t term = 0;
  std::string previous_leader_id;
};

// Local, raft -> election: Raft's word on this node whenever it changes. `member`: a voter or a
// learner (it holds the log, so Raft is the truth about its leader); others learn the leader
// from heartbeats.
struct raft_leadership {
  std::string role;  // leader, follower, candidate, non_voter
  std::string leader_id;
  std::uint64_t term = 0;
  bool member = false;
};

// Local, election -> raft: the leader heartbeats name on a node that is not a Raft member (empty
// once their lease ran out). Its leader placements forward there.
struct heard_leader {
  std::string leader_id;
  std::uint64_t term = 0;
};

template <class F> auto inspect(F& f, leader_endpoints& x) { return f(x.http, x.cluster); }
template <class F> auto inspect(F& f, election_heartbeat& x) {
  return f(x.leader_id, x.term, x.lease_remaining_ms, x.endpoints, x.voters_hash, x.error, x.error_field);
}
template <class F> auto inspect(F& f, election_vote& x) {
  return f(x.node_id, x.leader_id, x.term, x.voters_hash, x.error, x.error_field);
}
template <class F> auto inspect(F& f, election_vote_ack& x) { return f(x.recorded, x.follower); }
template <class F> auto inspect(F& f, election_status_request&) { return f(); }
template <class F> auto inspect(F& f, election_member& x) {
  return f(x.node_id, x.leader_id, x.term, x.last_vote_ms_ago);
}
template <class F> auto inspect(F& f, election_status_reply& x) {
  return f(x.node_id, x.leader_id, x.term, x.role, x.lease_remaining_ms, x.endpoints, x.followers, x.stragglers,
           x.members);
}
template <class F> auto inspect(F& f, leadership_transfer_request& x) { return f(x.to, x.hops); }
template <class F> auto inspect(F& f, leadership_transfer_reply& x) {
  return f(x.leader_id, x.term, x.previous_leader_id);
}
template <class F> auto inspect(F& f, raft_leadership& x) { return f(x.role, x.leader_id, x.term, x.member); }
template <class F> auto inspect(F& f, heard_leader& x) { return f(x.leader_id, x.term); }

}  // namespace p2p::msg
