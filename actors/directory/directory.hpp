#pragma once
// The directory actor: registered in the CAF registry and published on the cluster port; maps
// full domain names to the current handles and tells subscribers when a handle changes.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <string>
#include <vector>

#include "protocol/messages/directory.hpp"
#include "protocol/messages/membership.hpp"

namespace p2p {

// Registry keys are atoms of at most 10 characters.
constexpr caf::atom_value directory_registry_key = caf::atom("directory");

// Domains other nodes may reach through `routed` messages: node-to-node protocols only, never
// admin or the console's commands.
inline bool routable_domain(std::string_view domain) {
  return domain == "swim" || domain == "gossip" || domain == "raft" || domain == "elo" || domain == "work_queue" ||
         domain == "election";
}

struct directory_state {
  std::map<std::string, msg::directory_entry> entries;
  msg::node_identity identity;  // set by the node once its cluster port is bound
  std::vector<caf::actor> subscribers;
  static inline const char* name = "directory";
};

caf::behavior directory_actor(caf::stateful_actor<directory_state>* self);

}  // namespace p2p
