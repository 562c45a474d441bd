#pragma once
// The admin domain: health, status, metrics, run-time log level and the graceful shutdown.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <functional>
#include <string>
#include <vector>

#include "protocol/common/time.hpp"
#include "protocol/messages/admin.hpp"

namespace p2p {

// Facts about this node, fixed once its ports are bound.
struct node_facts {
  std::string node_id;
  std::string node_uuid;
  std::uint64_t boot_epoch = 0;
  std::string version;
  std::uint32_t wire_version = 0;
  wall_clock::time_point started_wall;
  mono_clock::time_point started_mono;
  std::string http_endpoint;
  std::string cluster_endpoint;
  std::vector<std::string> seeds;
  std::vector<std::string> voters;
  bool tls = false;
  bool insecure_cluster = false;
};

struct admin_context {
  node_facts facts;
  caf::actor directory;
  // Starts the node's drain (the first call wins) and returns the deadline in force, seconds.
  std::function<double(double)> begin_shutdown;
  // Whether the node drains; owned by the node so a restarted admin actor still knows.
  std::function<bool()> draining;
};

struct admin_state {
  static inline const char* name = "admin";
};

caf::behavior admin_actor(caf::stateful_actor<admin_state>* self, admin_context ctx);

}  // namespace p2p
