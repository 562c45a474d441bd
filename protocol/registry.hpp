#pragma once
// The one message registry: every type that crosses a node boundary is named here.
#include <caf/fwd.hpp>

namespace p2p {

void register_messages(caf::actor_system_config& cfg);

}  // namespace p2p
