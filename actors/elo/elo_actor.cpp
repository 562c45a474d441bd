#include "actors/elo/elo_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cmath>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/elo.hpp"
#include "protocol/messages/elo_codec.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/membership.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<elo_state>*;

struct elo_sync_tick {};
template <class F> auto inspect(F& f, elo_sync_tick&) { return f(); }
struct elo_push_tick {};
template <class F> auto inspect(F& f, elo_push_tick&) { return f(); }
struct elo_announce_tick {};
template <class F> auto inspect(F& f, elo_announce_tick&) { return f(); }

// Sync chunks stay under the bulk-data limit (DESIGN.md §4 "Bulk data").
constexpr std::size_t sync_chunk_bytes = 60 * 1024;
// A player whose rating moved less than this (and who played no new game) is not announced.
constexpr double announce_threshold = 0.5;

elo::match to_match(const msg::elo_match& m) {
  elo::match out{m.game_id, m.config_key, m.a, m.b, m.score, std::nullopt, m.played_at};
  if (m.has_pair_id) out.pair_id = m.pair_id;
  return out;
}

std::vector<msg::elo_mark> to_marks(const elo::high_water_marks& marks) {
  std::vector<msg::elo_mark> out;
  for (const auto& [origin, seq] : marks) out.push_back({origin, seq});
  return out;
}

elo::high_water_marks from_marks(const std::vector<msg::elo_mark>& marks) {
  elo::high_water_marks out;
  for (const auto& m : marks) out[m.origin] = m.seq;
  return out;
}

msg::elo_player to_player(const elo::player_rating& p) {
  return {p.player, p.rating, p.ci_low, p.ci_high, p.games, p.wins, p.draws, p.losses, p.score};
}

std::string now_text() { return format_rfc3339(wall_now()); }

const elo::bayes_ratings& default_bayes(elo_state& s, const std::string& key) {
  auto it = s.bayes_cache.find(key);
  if (it == s.bayes_cache.end()) it = s.bayes_cache.emplace(key, elo::fit_bayes(s.pool.tallies(key))).first;
  return it->second;
}

// Takes rows the store accepted into the ratings.
void rate(elo_state& s, const std::vector<elo::stored_match>& rows) {
  for (const auto& row : rows)
    for (const auto& key : s.pool.add(row.game)) s.bayes_cache.erase(key);
}

void schedule_push(self_ptr self, const elo_config& cfg) {
  if (std::exchange(self->state.push_scheduled, true)) return;
  self->delayed_send(self, cfg.push_delay, elo_push_tick{});
}

void schedule_announce(self_ptr self, const elo_config& cfg) {
  if (std::exchange(self->state.announce_scheduled, true)) return;
  self->delayed_send(self, cfg.announce_delay, elo_announce_tick{});
}

// ELO_UPDATED for every player of the keys that took games here whose games or rating changed
// since the ratings before those games.
void announce(self_ptr self) {
  auto& s = self->state;
  auto events = s.handles["events"];
  for (auto& [key, before] : std::exchange(s.announce_before, {})) {
    if (!s.pool.has_key(key)) continue;
    const auto& now = default_bayes(s, key);
    for (const auto& p : now.players) {
      auto old = std::find_if(before.begin(), before.end(), [&](const auto& b) { return b.player == p.player; });
      if (old != before.end() && old->games == p.games && std::abs(old->rating - p.rating) < announce_threshold)
        continue;
      json::writer w;
      w.begin_object().field("config_key", key).field("model_id", p.player).key("old_elo");
      if (old == before.end()) w.null();
      else w.value(old->rating);
      w.field("new_elo", p.rating).field("games_played", p.games).end_object();
      if (!events) {
        log::warn("elo", "cannot announce ELO_UPDATED: the events actor is not running",
                  {{"config_key", json::quote(key)}});
        break;
      }
      self->request(events, std::chrono::seconds(5), msg::publish_event{"ELO_UPDATED", w.take()})
          .then([](msg::event_record&) {},
                [](caf::error& err) {
                  log::warn("elo", "ELO_UPDATED not published", {{"error", json::quote(describe_error(err))}});
                });
    }
  }
}

// Stores rows from another node; returns how many were new.
std::uint64_t take_rows(self_ptr self, const std::vector<msg::elo_match>& rows) {
  if (rows.empty()) return 0;
  auto& s = self->state;
  std::vector<elo::stored_match> incoming;
  incoming.reserve(rows.size());
  for (const auto& m : rows) incoming.push_back({to_match(m), m.origin_node, m.origin_seq});
  auto result = s.store->merge(incoming, now_text());
  if (result.refused)
    log::warn("elo", "sync rows refused (out of sequence or invalid)", {{"refused", std::to_string(result.refused)}});
  if (result.conflicts)
    log::warn("elo", "games with conflicting content received", {{"conflicts", std::to_string(result.conflicts)}});
  rate(s, result.stored);
  s.rows_received += result.stored.size();
  return result.stored.size();
}

std::vector<msg::elo_match> rows_beyond(elo_state& s, const elo::high_water_marks& known, bool& more) {
  std::vector<msg::elo_match> out;
  for (const auto& row : s.store->rows_after(known, sync_chunk_bytes, more)) out.push_back(to_wire(row));
  s.rows_sent += out.size();
  return out;
}

// One step of a round with `peer`: sends our marks and `push`, takes what comes back, and goes
// on while either side has more. One step in flight per peer.
void sync_step(self_ptr self, const elo_config& cfg, const std::string& peer, std::vector<msg::elo_match> push,
               int steps_left) {
  auto& s = self->state;
  auto peers = s.handles["peers"];
  if (!peers || steps_left <= 0) {
    s.syncing.erase(peer);
    return;
  }
  const bool pushed = !push.empty();
  msg::elo_sync_request req{cfg.node_id, to_marks(s.store->marks()), std::move(push), {}};
  self->request(peers, cfg.sync_timeout, msg::peer_request{peer, "elo", caf::make_message(std::move(req))})
      .then(
          [=](msg::elo_sync_reply& reply) {
            auto& st = self->state;
            take_rows(self, reply.matches);
            if (pushed && reply.accepted == 0 && !reply.more) {
              log::warn("elo", "a peer took none of the rows it lacks", {{"peer", json::quote(peer)}});
              st.syncing.erase(peer);
              return;
            }
            bool more_here = false;
            auto next = rows_beyond(st, from_marks(reply.marks), more_here);
            if (next.empty() && !reply.more) {
              st.syncing.erase(peer);
              return;
            }
            sync_step(self, cfg, peer, std::move(next), steps_left - 1);
          },
          [=](caf::error& err) {
            log::debug("elo", "sync round ended early", {{"peer", json::quote(peer)}, {"error", json::quote(describe_error(err))}});
            self->state.syncing.erase(peer);
          });
}

void start_round(self_ptr self, const elo_config& cfg, const std::string& peer) {
  auto& s = self->state;
  if (!s.syncing.insert(peer).second) return;
  ++s.rounds;
  sync_step(self, cfg, peer, {}, 10000);
}

caf::result<msg::elo_rankings_reply> rankings(elo_state& s, const msg::elo_rankings_request& r) {
  if (!r.error.empty())
    return make_api_error(api_errc::bad_request, r.error_field + " " + r.error,
                          "{\"field\":" + json::quote(r.error_field) + "}");
  msg::elo_rankings_reply reply;
  reply.config_key = r.config_key;
  reply.method = r.method;
  if (!s.pool.has_key(r.config_key) && r.anchor_player.empty()) return reply;  // no games yet: no players
  if (r.method == "elo") {
    auto games = s.pool.games(r.config_key);
    reply.games = games.size();
    for (const auto& p : elo::classic_elo(games)) reply.players.push_back(to_player(p));
    return reply;
  }
  const elo::bayes_ratings* fit = nullptr;
  elo::bayes_ratings custom;
  if (!r.los && r.anchor_player.empty()) {
    fit = &default_bayes(s, r.config_key);
  } else {
    elo::bayes_options options;
    options.likelihood_of_superiority = r.los;
    auto tallies = s.pool.tallies(r.config_key);
    if (!r.anchor_player.empty()) {
      const bool played = std::any_of(tallies.begin(), tallies.end(), [&](const elo::pair_tally& t) {
        return t.a == r.anchor_player || t.b == r.anchor_player;
      });
      if (!played)
        return make_api_error(api_errc::bad_request,
                              "anchor: player " + r.anchor_player + " has no games in config_key " + r.config_key,
                              R"({"field":"anchor"})");
      options.anchor = elo::rating_anchor{r.anchor_player, r.anchor_rating};
    }
    custom = elo::fit_bayes(tallies, options);
    fit = &custom;
  }
  for (const auto& p : fit->players) {
    reply.players.push_back(to_player(p));
    reply.games += p.games;
  }
  reply.games /= 2;  // each game counts for both players
  reply.draw_elo = fit->draw_elo;
  reply.los = fit->los;
  return reply;
}

msg::elo_status_reply status(const elo_state& s) {
  msg::elo_status_reply r;
  r.rows = s.store->rows();
  r.games = s.pool.game_count();
  r.conflicts = s.store->conflicts();
  for (const auto& k : s.pool.summary()) r.config_keys.push_back({k.config_key, k.games, k.players});
  r.marks = to_marks(s.store->marks());
  r.sync_rounds = s.rounds;
  r.rows_received = s.rows_received;
  r.rows_sent = s.rows_sent;
  return r;
}

}  // namespace

msg::elo_match to_wire(const elo::stored_match& row) {
  msg::elo_match m;
  m.game_id = row.game.game_id;
  m.config_key = row.game.config_key;
  m.a = row.game.a;
  m.b = row.game.b;
  m.score = row.game.score;
  m.has_pair_id = row.game.pair_id.has_value();
  if (row.game.pair_id) m.pair_id = *row.game.pair_id;
  m.played_at = row.game.played_at;
  m.origin_node = row.origin_node;
  m.origin_seq = row.origin_seq;
  return m;
}

caf::behavior elo_actor(self_ptr self, elo_config cfg) {
  auto& s = self->state;
  s.rng.seed(cfg.seed);
  s.store = std::make_unique<elo::match_store>(cfg.data_dir / "elo.sqlite");
  rate(s, s.store->all_rows());
  log::info("elo", "match store opened",
            {{"rows", std::to_string(s.store->rows())}, {"games", std::to_string(s.pool.game_count())}});
  self->send(cfg.directory, msg::directory_subscribe{});
  self->delayed_send(self, cfg.sync_interval, elo_sync_tick{});

  auto summary = [self] {
    return codec::encode(status(self->state));
  };
  std::vector<safe_command> commands{
      safe<msg::elo_status_request, msg::elo_status_reply>(
          "status", "",
          [](const std::vector<std::string>& args) -> std::optional<msg::elo_status_request> {
            if (!args.empty()) return std::nullopt;
            return msg::elo_status_request{};
          },
          [](const msg::elo_status_reply& r) { return codec::encode(r); }),
      safe<msg::elo_rankings_request, msg::elo_rankings_reply>(
          "rankings", "CONFIG_KEY [bayes|elo]",
          [](const std::vector<std::string>& args) -> std::optional<msg::elo_rankings_request> {
            if (args.empty() || args.size() > 2) return std::nullopt;
            msg::elo_rankings_request r;
            r.config_key = args[0];
            if (args.size() == 2) {
              if (args[1] != "bayes" && args[1] != "elo") return std::nullopt;
              r.method = args[1];
            }
            return r;
          },
          [](const msg::elo_rankings_reply& r) { return codec::encode(r); }),
  };
  return instrumented(
      self, "elo", summary, std::move(commands),
      [=](msg::elo_ingest& in) -> caf::result<msg::elo_ingest_reply> {
        auto& st = self->state;
        std::vector<elo::match> batch;
        batch.reserve(in.matches.size());
        for (const auto& m : in.matches) batch.push_back(to_match(m));
        // Ratings before these games, for ELO_UPDATED's old values.
        for (const auto& m : batch)
          if (!st.announce_before.count(m.config_key))
            st.announce_before[m.config_key] =
                st.pool.has_key(m.config_key) ? default_bayes(st, m.config_key).players
                                              : std::vector<elo::player_rating>{};
        elo::ingest_result result;
        try {
          result = st.store->ingest(batch, cfg.node_uuid, now_text());
        } catch (const std::exception& e) {
          log::error("elo", "matches not stored", {{"error", json::quote(e.what())}});
          return make_api_error(api_errc::internal, std::string("matches not stored: ") + e.what());
        }
        rate(st, result.stored);
        msg::elo_ingest_reply reply{result.accepted, result.duplicates, {}};
        for (const auto& r : result.rejected) reply.rejected.push_back({in.indexes[r.index], r.reason});
        for (auto& r : in.unreadable) reply.rejected.push_back(std::move(r));
        std::sort(reply.rejected.begin(), reply.rejected.end(),
                  [](const auto& x, const auto& y) { return x.index < y.index; });
        if (result.accepted > 0) {
          schedule_announce(self, cfg);
          schedule_push(self, cfg);
        }
        return reply;
      },
      [=](msg::elo_rankings_request& r) { return rankings(self->state, r); },
      [=](msg::elo_sync_request& r) -> caf::result<msg::elo_sync_reply> {
        auto& st = self->state;
        if (!r.error.empty()) return make_api_error(api_errc::bad_request, r.error);
        msg::elo_sync_reply reply;
        try {
          reply.accepted = take_rows(self, r.matches);
          reply.matches = rows_beyond(st, from_marks(r.marks), reply.more);
        } catch (const std::exception& e) {
          log::error("elo", "sync rows not stored", {{"error", json::quote(e.what())}});
          return make_api_error(api_errc::internal, std::string("sync rows not stored: ") + e.what());
        }
        reply.marks = to_marks(st.store->marks());
        return reply;
      },
      [=](msg::elo_status_request&) { return status(self->state); },
      [=](elo_sync_tick&) {
        auto& st = self->state;
        self->delayed_send(self, cfg.sync_interval, elo_sync_tick{});
        std::vector<std::string> idle;
        for (const auto& p : st.alive_peers)
          if (!st.syncing.count(p)) idle.push_back(p);
        if (idle.empty()) return;
        start_round(self, cfg, idle[std::uniform_int_distribution<std::size_t>(0, idle.size() - 1)(st.rng)]);
      },
      [=](elo_push_tick&) {
        self->state.push_scheduled = false;
        for (const auto& p : std::set<std::string>(self->state.alive_peers)) start_round(self, cfg, p);
      },
      [=](elo_announce_tick&) {
        self->state.announce_scheduled = false;
        announce(self);
      },
      [=](msg::membership_change& c) {
        if (c.node_id == cfg.node_id) return;
        auto& st = self->state;
        if (c.state == swim::member_state::alive) {
          // A peer that comes (back) gets a round at once: it may hold games we lack.
          if (st.alive_peers.insert(c.node_id).second) start_round(self, cfg, c.node_id);
        } else {
          st.alive_peers.erase(c.node_id);
        }
      },
      [=](msg::directory_update& u) {
        const auto& name = u.entry.name;
        if (name != "peers" && name != "events" && name != "swim") return;
        self->state.handles[name] = u.entry.handle;
        if (name == "swim" && u.entry.handle) self->send(u.entry.handle, msg::swim_subscribe{});
      });
}

}  // namespace p2p
