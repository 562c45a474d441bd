#pragma once
// The swim actor drives the pure SWIM/Lifeguard detector (protocol/swim) with real time and
// messages from other nodes' swim actors, and is the node's one source of membership verdicts
// (DESIGN.md §4): subscribers (gossip, peers, later Raft and the work queue) hear every change,
// and HOST_ONLINE / HOST_OFFLINE go to the event stream.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/common/time.hpp"
#include "protocol/swim/swim.hpp"

namespace p2p {

struct swim_config {
  std::string node_id;
  std::string endpoint;  // this node's cluster endpoint
  swim::profile profile;
  std::uint64_t seed = 0;
  caf::actor directory;
};

struct swim_state {
  std::optional<swim::detector> detector;
  mono_clock::time_point epoch;  // time_ms 0
  wall_clock::time_point epoch_wall;
  std::set<swim::time_ms> ticks;  // pending tick times
  std::vector<caf::actor> subscribers;
  std::map<std::string, caf::actor> handles;  // peers, events
  std::map<std::string, std::string> endpoints_told;  // to the peers actor, per node
  std::map<std::string, std::vector<std::string>> work_types;  // from gossip, for HOST_* events
  std::map<std::string, swim::member_state> verdicts;   // last verdict per member (for the log)
  std::map<std::string, swim::member_state> announced;  // last state behind a HOST_* event
  std::set<std::string> online_pending;  // alive, but gossip has not told its work types yet
  std::vector<caf::response_promise> leave_waiters;
  std::uint64_t suspicions = 0;
  std::uint64_t refutations = 0;
  static inline const char* name = "swim";
};

caf::behavior swim_actor(caf::stateful_actor<swim_state>* self, swim_config cfg);

}  // namespace p2p
