#pragma once
// The elo domain actor: the node's durable match store, the ratings computed from it, the
// ELO_UPDATED announcements of games ingested here, and sync with the elo actors of the other
// nodes (push soon after new games, pull periodically; per-origin high-water marks, so a round
// costs O(new games)).
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/elo/match_store.hpp"
#include "actors/elo/rating_pool.hpp"
#include "protocol/messages/elo.hpp"

namespace p2p {

struct elo_config {
  std::string node_id;
  std::string node_uuid;  // the origin of the games ingested here
  std::filesystem::path data_dir;  // the store is data_dir/elo.sqlite
  std::chrono::milliseconds sync_interval{2000};  // a pull round with one random peer
  std::chrono::milliseconds push_delay{100};       // after new games: a round with every peer
  std::chrono::milliseconds announce_delay{500};   // ELO_UPDATED debounce
  std::chrono::milliseconds sync_timeout{5000};    // per step of a round
  std::uint64_t seed = 0;
  caf::actor directory;
};

struct elo_state {
  std::unique_ptr<elo::match_store> store;
  elo::rating_pool pool;
  std::map<std::string, elo::bayes_ratings> bayes_cache;  // default fit, by config key
  // Ratings of each key before the games ingested since the last announcement.
  std::map<std::string, std::vector<elo::player_rating>> announce_before;
  bool announce_scheduled = false;
  bool push_scheduled = false;
  std::map<std::string, caf::actor> handles;  // peers, events, swim
  std::set<std::string> alive_peers;
  std::set<std::string> syncing;  // peers with a round in flight (one at a time each)
  std::mt19937_64 rng;
  std::uint64_t rounds = 0, rows_received = 0, rows_sent = 0;
  static inline const char* name = "elo";
};

caf::behavior elo_actor(caf::stateful_actor<elo_state>* self, elo_config cfg);

// A stored game as it travels between nodes.
msg::elo_match to_wire(const elo::stored_match& row);

}  // namespace p2p
