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

namespace p2p {

// Registry keys are atoms of at most 10 characters.
constexpr caf::atom_value directory_registry_key = caf::atom("directory");

struct directory_state {
  std::map<std::string, msg::directory_entry> entries;
  std::vector<caf::actor> subscribers;
  static inline const char* name = "directory";
};

caf::behavior directory_actor(caf::stateful_actor<directory_state>* self);

}  // namespace p2p
