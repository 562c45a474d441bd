#pragma once
// The games a node rates, in memory: one content per game_id (the smallest, as every node picks
// it) and, per config key, the per-pair tallies the bayes fit reads and the games classic Elo
// replays. Updated one game at a time as the store takes them, so a ranking never re-reads the
// store. Pure: no actors, no I/O.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "actors/elo/ratings.hpp"

namespace p2p::elo {

class rating_pool {
 public:
  // Takes a valid game; returns the config keys whose rated games changed (none when the game
  // is already held with content that wins, two when a winning conflict moves it between keys).
  std::vector<std::string> add(const match& game);

  struct key_summary {
    std::string config_key;
    std::uint64_t games = 0;
    std::uint64_t players = 0;
  };
  std::vector<key_summary> summary() const;  // by config key
  bool has_key(const std::string& config_key) const { return pools_.count(config_key) != 0; }

  // The key's tallies in canonical order (see canonical_tallies).
  std::vector<pair_tally> tallies(const std::string& config_key) const;
  // The key's games, one per game_id, in no particular order.
  std::vector<match> games(const std::string& config_key) const;
  std::uint64_t game_count() const { return chosen_.size(); }

 private:
  struct pool {
    std::map<std::pair<std::string, std::string>, pair_tally> tallies;  // by (a, b), a < b
    std::unordered_set<std::string> game_ids;
  };
  void count(const match& game, int sign);

  std::unordered_map<std::string, match> chosen_;  // by game_id
  std::map<std::string, pool> pools_;              // by config key
};

}  // namespace p2p::elo
