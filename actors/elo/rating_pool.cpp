#include "actors/elo/rating_pool.hpp"

#include <set>

namespace p2p::elo {

void rating_pool::count(const match& game, int sign) {
  auto& p = pools_[game.config_key];
  const pair_tally t = tally_of(game);
  auto& sum = p.tallies[{t.a, t.b}];
  sum.a = t.a;
  sum.b = t.b;
  auto apply = [sign](std::uint64_t& total, std::uint64_t n) { total = sign > 0 ? total + n : total - n; };
  apply(sum.wins_a, t.wins_a);
  apply(sum.draws, t.draws);
  apply(sum.losses_a, t.losses_a);
  if (sign > 0) {
    p.game_ids.insert(game.game_id);
    return;
  }
  p.game_ids.erase(game.game_id);
  if (sum.games() == 0) p.tallies.erase({t.a, t.b});
  if (p.game_ids.empty()) pools_.erase(game.config_key);
}

std::vector<std::string> rating_pool::add(const match& game) {
  auto [it, fresh] = chosen_.try_emplace(game.game_id, game);
  if (fresh) {
    count(game, +1);
    return {game.config_key};
  }
  if (!precedes_by_content(game, it->second)) return {};
  std::vector<std::string> changed{it->second.config_key};
  if (game.config_key != it->second.config_key) changed.push_back(game.config_key);
  count(it->second, -1);
  it->second = game;
  count(game, +1);
  return changed;
}

std::vector<rating_pool::key_summary> rating_pool::summary() const {
  std::vector<key_summary> out;
  for (const auto& [key, p] : pools_) {
    std::set<std::string> players;
    for (const auto& [pair, t] : p.tallies) {
      players.insert(t.a);
      players.insert(t.b);
    }
    out.push_back({key, p.game_ids.size(), players.size()});
  }
  return out;
}

std::vector<pair_tally> rating_pool::tallies(const std::string& config_key) const {
  std::vector<pair_tally> out;
  auto it = pools_.find(config_key);
  if (it == pools_.end()) return out;
  out.reserve(it->second.tallies.size());
  for (const auto& [pair, t] : it->second.tallies) out.push_back(t);
  return out;  // the map's (a, b) order is the canonical order
}

std::vector<match> rating_pool::games(const std::string& config_key) const {
  std::vector<match> out;
  auto it = pools_.find(config_key);
  if (it == pools_.end()) return out;
  out.reserve(it->second.game_ids.size());
  for (const auto& id : it->second.game_ids) out.push_back(chosen_.at(id));
  return out;
}

}  // namespace p2p::elo
