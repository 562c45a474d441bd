#pragma once
// The peers actor: the one path from this node's actors to other nodes (DESIGN.md §4). It maps
// node ids to cluster endpoints (learned from gossip, SWIM packets and seeds), connects lazily
// through the middleman, reconnects with backoff, and delivers messages to a domain actor on
// the other node through that node's directory. It reports each connection's state.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <string>

#include "protocol/common/time.hpp"

namespace p2p {

struct peers_config {
  std::string self_id;
  caf::io::middleman_actor connector;  // the middleman, or the TLS manager's
  caf::actor directory;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::size_t queue_limit = 1024;  // messages held per node while connecting
};

enum class connection_state { idle, connecting, connected, backoff };

struct peers_state {
  struct pending {
    std::string domain;
    caf::message payload;
    std::optional<caf::response_promise> reply;  // set for requests
  };
  struct peer {
    std::string endpoint;
    connection_state state = connection_state::idle;
    wall_clock::time_point since = wall_clock::now();
    caf::actor remote;  // the node's directory, while connected
    std::uint64_t attempt = 0;  // ignores answers to attempts superseded since
    int failures = 0;
    std::uint64_t connects = 0;
    std::uint64_t dropped = 0;
    std::string last_error;
    std::deque<pending> queue;
  };
  std::map<std::string, peer> peers;
  caf::actor swim;
  caf::actor raft;  // told of broken connections too: a leader's may mean a crash
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "peers";
};

caf::behavior peers_actor(caf::stateful_actor<peers_state>* self, peers_config cfg);

}  // namespace p2p
