#pragma once
// The election domain actor: the view of leadership for every node, voters and non-voters
// (DESIGN.md §4). Raft decides who leads; this actor spreads and checks that decision. A thin
// shell around election::view (the bookkeeping): timers, the peers actor, SWIM's verdicts.
//
// - The leader announces itself every heartbeat interval, through the peers actor (domain
//   "election"), to every member SWIM holds alive or only suspects; each answers with its vote
//   of allegiance. Members that do not answer or name another leader or term are stragglers:
//   announced to again at once (once per interval), and at the next tick anyway.
// - Raft tells this actor its word on the node (role, leader, term, membership); a node that is
//   not a Raft member takes the leader from heartbeats and tells the raft actor, whose leader
//   placements forward there; once the lease runs out it names no leader.
// - POST /election/transfer goes to the raft actor, which hands leadership over on the leader.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "actors/election/election_view.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/election.hpp"

namespace p2p {

struct election_config {
  std::string node_id;
  election::timing timing;
  election::endpoints own;        // this node's HTTP and cluster endpoints, sent when it leads
  std::uint64_t voters_hash = 0;  // of the bootstrap voter list (0: none); heartbeats carry it
  caf::actor directory;
};

struct election_state {
  std::optional<election::view> view;
  mono_clock::time_point epoch;
  std::map<std::string, caf::actor> handles;  // peers, swim, raft
  std::set<std::string> in_flight;    // members whose heartbeat awaits its answer
  std::set<std::string> reannounced;  // announced to again since the last tick
  std::optional<msg::heard_leader> told_raft;
  bool expiry_scheduled = false;
  std::uint64_t heartbeats_sent = 0, heartbeats_received = 0, votes_received = 0, refused = 0;
  static inline const char* name = "election";
};

caf::behavior election_actor(caf::stateful_actor<election_state>* self, election_config cfg);

}  // namespace p2p
