#pragma once
#include "actors/node/config.hpp"

namespace p2p {

// Runs a node until it is shut down (POST /admin/shutdown, SIGTERM, SIGINT); returns the
// process exit code: 0 after a drain, 1 when the node cannot start.
int run_node(const node_config& config);

}  // namespace p2p
