#pragma once
// The gossip actor spreads NodeInfo records (protocol/gossip) between nodes: it joins through
// the seeds (acknowledged, retried with backoff), runs push-pull rounds with a few random live
// peers, pushes new records on at once, runs periodic anti-entropy, and expires records of nodes
// SWIM has held dead for long. Liveness comes from the swim actor; nodes are reached through
// the peers actor.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/common/time.hpp"
#include "protocol/gossip/gossip.hpp"
#include "protocol/messages/node_info.hpp"
#include "protocol/swim/swim.hpp"

namespace p2p {

struct gossip_timing {
  std::chrono::milliseconds round;         // push-pull (digest hashes first) with two random live peers
  std::size_t fanout;                      // peers a new record is pushed on to at once
  std::chrono::milliseconds eager_round;   // after a change, a few quick rounds (below) catch
  int eager_rounds;                        // whatever the pushes missed
  std::chrono::milliseconds anti_entropy;  // full-state exchange with one random peer
  std::chrono::milliseconds exchange_timeout;
  std::chrono::milliseconds refresh;       // resources and expiry
  std::chrono::milliseconds dead_ttl;      // records of nodes dead or gone this long are dropped
};
// Per SWIM profile name ("test", "local", "lan", "wan").
gossip_timing gossip_timing_for(const std::string& profile);

struct gossip_config {
  node_info info;  // this node (resources are filled in and refreshed by the actor)
  std::uint64_t boot_epoch = 0;
  std::vector<std::string> seeds;  // cluster endpoints
  std::filesystem::path data_dir;
  gossip_timing timing;
  std::uint64_t seed = 0;
  caf::actor directory;
  // Called when this node must not keep running (another live process owns its node id).
  std::function<void(const std::string&)> fatal;
};

struct gossip_state {
  struct liveness {
    swim::member_state state = swim::member_state::alive;
    std::int64_t since_ms = 0;
  };
  std::optional<gossip::state> records;
  node_info info;
  std::mt19937_64 rng;
  mono_clock::time_point epoch;
  std::map<std::string, liveness> members;  // SWIM's verdicts
  std::map<std::string, caf::actor> handles;  // peers, swim
  std::set<std::string> in_flight;  // one exchange at a time per peer
  int bulk_transfers = 0;  // multi-chunk transfers under way (count as SWIM load)
  bool joined = false;
  bool joining = false;
  int join_failures = 0;
  int eager_left = 0;  // quick rounds still to run after the last change
  std::uint64_t rounds = 0, rumors = 0, conflicts = 0;
  static inline const char* name = "gossip";
};

caf::behavior gossip_actor(caf::stateful_actor<gossip_state>* self, gossip_config cfg);

}  // namespace p2p
