#include "actors/gossip/gossip_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/membership.hpp"

namespace p2p {

gossip_timing gossip_timing_for(const std::string& profile) {
  using ms = std::chrono::milliseconds;
  using std::chrono::hours;
  // Rounds are the safety net: changes do not wait for them (new records are pushed on at once,
  // and a node SWIM reports first is asked for its record); an idle round with two peers costs
  // two hash comparisons.
  if (profile == "test") return {ms(100), 3, ms(20), 3, ms(2000), ms(1000), ms(1000), ms(30'000)};
  if (profile == "local") return {ms(1000), 3, ms(100), 3, ms(15'000), ms(2000), ms(10'000), hours(1)};
  if (profile == "wan") return {ms(5000), 3, ms(500), 3, ms(60'000), ms(10'000), ms(10'000), hours(1)};
  return {ms(2000), 3, ms(200), 3, ms(30'000), ms(5000), ms(10'000), hours(1)};  // lan
}

namespace {

using self_ptr = caf::stateful_actor<gossip_state>*;

struct gossip_round {
  bool eager = false;
};
struct anti_entropy_round {};
struct refresh_round {};
struct join_retry {};
template <class F> auto inspect(F& f, gossip_round& x) { return f(x.eager); }
template <class F> auto inspect(F& f, anti_entropy_round&) { return f(); }
template <class F> auto inspect(F& f, refresh_round&) { return f(); }
template <class F> auto inspect(F& f, join_retry&) { return f(); }

std::int64_t now_ms(const gossip_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mono_now() - st.epoch).count();
}

bool is_alive(const gossip_state& st, const std::string& id) {
  auto it = st.members.find(id);
  return it != st.members.end() &&
         (it->second.state == swim::member_state::alive || it->second.state == swim::member_state::suspect);
}

caf::actor handle(self_ptr self, const std::string& name) {
  auto it = self->state.handles.find(name);
  return it == self->state.handles.end() ? caf::actor{} : it->second;
}

// Tells the peers actor where a node listens and SWIM that it exists (`fresh`: just learnt).
void introduce(self_ptr self, const gossip::record& r, bool fresh) {
  auto info = decode_node_info(r.info_json);
  if (!info) {
    log::warn("gossip", "a record's info is not a NodeInfo", {{"node_id", json::quote(r.id)}});
    return;
  }
  if (auto peers = handle(self, "peers")) self->send(peers, msg::peer_endpoint{r.id, info->cluster});
  if (auto swim = handle(self, "swim"))
    self->send(swim, msg::swim_learn{r.id, info->cluster, info->work_types, fresh});
}

void bulk(self_ptr self, int delta) {
  auto& st = self->state;
  bool before = st.bulk_transfers > 0;
  st.bulk_transfers += delta;
  bool after = st.bulk_transfers > 0;
  if (before != after)
    if (auto swim = handle(self, "swim")) self->send(swim, msg::swim_bulk_backlog{after});
}

void push_records(self_ptr self, const gossip_config& cfg, const std::string& to,
                  std::vector<gossip::record> records);

// Accepted records reach SWIM and the peers actor, and are pushed on to a few live peers at
// once (each node does this once per version, so the push dies out).
void on_accepted(self_ptr self, const gossip_config& cfg, const std::vector<gossip::record>& accepted,
                 const std::string& from) {
  if (accepted.empty()) return;
  auto& st = self->state;
  for (const auto& r : accepted) introduce(self, r, true);
  // Pushes can miss a node; quick rounds right after a change find it (hashes differ) at once.
  if (st.eager_left == 0) self->delayed_send(self, cfg.timing.eager_round, gossip_round{true});
  st.eager_left = cfg.timing.eager_rounds;
  auto targets = st.records->pick_peers(cfg.timing.fanout + 1, st.rng,
                                        [&](const std::string& id) { return is_alive(st, id); });
  std::size_t sent = 0;
  for (const auto& t : targets) {
    if (t == from || sent == cfg.timing.fanout) continue;
    std::vector<gossip::record> rumor;
    for (const auto& r : accepted)
      if (r.id != t) rumor.push_back(r);
    if (rumor.empty()) continue;
    ++sent;
    ++st.rumors;
    push_records(self, cfg, t, std::move(rumor));
  }
}

struct merge_outcome {
  std::vector<gossip::record> accepted;
  std::vector<gossip::record> conflicts;  // an id alive under another node_uuid
};

// Merges records from a peer; conflicts are counted, logged and handed back.
merge_outcome merge_all(self_ptr self, std::vector<gossip::record>& records) {
  auto& st = self->state;
  merge_outcome out;
  for (auto& r : records) {
    auto result = st.records->merge(r, [&](const std::string& id) { return is_alive(st, id); });
    if (result == gossip::merge_result::accepted) {
      out.accepted.push_back(std::move(r));
    } else if (result == gossip::merge_result::conflict) {
      ++st.conflicts;
      log::warn("gossip", "another process claims a known node id",
                {{"node_id", json::quote(r.id)}, {"node_uuid", json::quote(r.node_uuid)},
                 {"known_uuid", json::quote(st.records->records().at(r.id).node_uuid)}});
      out.conflicts.push_back(std::move(r));
    }
  }
  return out;
}

// Sends records in chunks of at most 64 KiB, one chunk in flight.
void push_chunks(self_ptr self, const gossip_config& cfg, const std::string& to,
                 std::shared_ptr<std::vector<std::vector<gossip::record>>> chunks, std::size_t index) {
  if (index >= chunks->size()) {
    if (chunks->size() > 1) bulk(self, -1);
    return;
  }
  auto peers = handle(self, "peers");
  if (!peers) {  // restarting: the rest goes with a later round
    if (chunks->size() > 1) bulk(self, -1);
    return;
  }
  msg::gossip_exchange ex;
  ex.from = cfg.info.node_id;
  ex.kind = msg::exchange_kind::push;
  ex.records = (*chunks)[index];
  self->request(peers, cfg.timing.exchange_timeout,
                msg::peer_request{to, "gossip", caf::make_message(std::move(ex))})
      .then([=](msg::gossip_delta&) { push_chunks(self, cfg, to, chunks, index + 1); },
            [=](caf::error& err) {
              if (chunks->size() > 1) bulk(self, -1);
              log::debug("gossip", "push failed", {{"to", json::quote(to)}, {"error", json::quote(describe_error(err))}});
            });
}

void push_records(self_ptr self, const gossip_config& cfg, const std::string& to,
                  std::vector<gossip::record> records) {
  if (records.empty() || !handle(self, "peers")) return;
  auto chunks = std::make_shared<std::vector<std::vector<gossip::record>>>(gossip::chunk(records));
  if (chunks->size() > 1) bulk(self, +1);
  push_chunks(self, cfg, to, chunks, 0);
}

using exchange_done = std::function<void(const caf::error*)>;

// One push-pull (or anti-entropy) exchange with `to`, following up with further chunks and
// with the records it asks for. `extra` rides along (our own record when joining).
void exchange(self_ptr self, const gossip_config& cfg, const std::string& to, msg::exchange_kind kind,
              std::string after, std::vector<gossip::record> extra, exchange_done done) {
  auto& st = self->state;
  auto peers = handle(self, "peers");
  if (!peers) {
    auto err = make_api_error(api_errc::unavailable, "the peers actor is not running");
    if (done) done(&err);
    return;
  }
  st.in_flight.insert(to);
  msg::gossip_exchange ex;
  ex.from = cfg.info.node_id;
  ex.kind = kind;
  ex.digest_hash = (kind == msg::exchange_kind::digest || kind == msg::exchange_kind::hash) && after.empty()
                       ? st.records->digest_hash()
                       : 0;
  if (kind != msg::exchange_kind::hash) ex.digest = st.records->make_digest();
  ex.records = std::move(extra);
  ex.after = after;
  self->request(peers, cfg.timing.exchange_timeout, msg::peer_request{to, "gossip", caf::make_message(std::move(ex))})
      .then(
          [=](msg::gossip_delta& d) {
            auto& s = self->state;
            s.in_flight.erase(to);
            if (!after.empty()) bulk(self, -1);
            if (kind == msg::exchange_kind::hash) {
              // The hashes differ: now the digest exchange proper.
              if (!d.in_sync) exchange(self, cfg, to, msg::exchange_kind::digest, {}, {}, done);
              else if (done) done(nullptr);
              return;
            }
            on_accepted(self, cfg, merge_all(self, d.records).accepted, to);
            push_records(self, cfg, to, s.records->records_for(d.wanted));
            if (!d.next_after.empty()) {
              bulk(self, +1);
              exchange(self, cfg, to, kind, d.next_after, {}, done);
              return;
            }
            if (done) done(nullptr);
          },
          [=](caf::error& err) {
            self->state.in_flight.erase(to);
            if (!after.empty()) bulk(self, -1);
            log::debug("gossip", "exchange failed", {{"with", json::quote(to)}, {"error", json::quote(describe_error(err))}});
            if (done) done(&err);
          });
}

void schedule_join_retry(self_ptr self) {
  auto& st = self->state;
  auto delay = std::chrono::milliseconds(std::min(10'000, 500 << std::min(st.join_failures, 5)));
  self->delayed_send(self, delay, join_retry{});
}

// Tries the seeds in turn until one acknowledges the join.
void try_seed(self_ptr self, const gossip_config& cfg, std::size_t index,
              std::shared_ptr<std::vector<std::string>> errors) {
  auto& st = self->state;
  if (index >= cfg.seeds.size()) {
    st.joining = false;
    ++st.join_failures;
    std::string all;
    for (const auto& e : *errors) all += (all.empty() ? "" : "; ") + e;
    log::warn("gossip", "cannot join through any seed; retrying",
              {{"errors", json::quote(all)}, {"attempts", std::to_string(st.join_failures)}});
    schedule_join_retry(self);
    return;
  }
  const auto seed = cfg.seeds[index];
  auto peers = handle(self, "peers");
  if (seed == cfg.info.cluster || !peers) {
    if (!peers) errors->push_back(seed + ": the peers actor is not running");
    try_seed(self, cfg, index + 1, errors);
    return;
  }
  self->request(peers, cfg.timing.exchange_timeout + std::chrono::seconds(3), msg::peer_connect{seed})
      .then(
          [=](msg::node_identity& id) {
            if (id.node_id == cfg.info.node_id) {
              if (id.node_uuid != cfg.info.node_uuid)
                errors->push_back(seed + " is another process with this node id");
              try_seed(self, cfg, index + 1, errors);
              return;
            }
            exchange(self, cfg, id.node_id, msg::exchange_kind::digest, {}, {self->state.records->self()},
                     [=](const caf::error* err) {
                       auto& s = self->state;
                       if (!err) {
                         s.joining = false;
                         s.joined = true;
                         s.join_failures = 0;
                         log::info("gossip", "joined the cluster",
                                   {{"seed", json::quote(seed)}, {"via", json::quote(id.node_id)},
                                    {"known_nodes", std::to_string(s.records->records().size())}});
                         return;
                       }
                       if (err->category() == api_error_category &&
                           api_errc_from_int(err->code()) == api_errc::conflict) {
                         s.joining = false;
                         cfg.fatal("seed " + seed + " refused this node: " + describe_error(*err));
                         return;
                       }
                       errors->push_back(seed + ": " + describe_error(*err));
                       try_seed(self, cfg, index + 1, errors);
                     });
          },
          [=](caf::error& err) {
            errors->push_back(seed + ": " + describe_error(err));
            try_seed(self, cfg, index + 1, errors);
          });
}

void join(self_ptr self, const gossip_config& cfg) {
  auto& st = self->state;
  if (cfg.seeds.empty() || st.joining || !handle(self, "peers")) return;
  st.joining = true;
  try_seed(self, cfg, 0, std::make_shared<std::vector<std::string>>());
}

std::size_t live_count(const gossip_state& st) {
  std::size_t n = 0;
  for (const auto& [id, m] : st.members)
    if (m.state == swim::member_state::alive || m.state == swim::member_state::suspect) ++n;
  return n;
}

}  // namespace

caf::behavior gossip_actor(caf::stateful_actor<gossip_state>* self, gossip_config cfg) {
  auto& st = self->state;
  st.epoch = mono_now();
  st.rng.seed(cfg.seed);
  st.info = cfg.info;
  st.info.resources = read_host_resources(cfg.data_dir);
  st.info.resources.gpus = cfg.info.resources.gpus;
  st.records.emplace(cfg.info.node_id, cfg.info.node_uuid, cfg.boot_epoch, encode_node_info(st.info));
  self->send(cfg.directory, msg::directory_subscribe{});
  self->delayed_send(self, cfg.timing.round, gossip_round{});
  self->delayed_send(self, cfg.timing.anti_entropy, anti_entropy_round{});
  self->delayed_send(self, cfg.timing.refresh, refresh_round{});

  auto summary = [self] {
    const auto& s = self->state;
    json::writer w;
    w.begin_object()
        .field("joined", s.joined)
        .field("joining", s.joining)
        .field("records", s.records->records().size())
        .field("live_members", live_count(s))
        .field("digest_hash", s.records->digest_hash())
        .field("in_flight", s.in_flight.size())
        .field("bulk_transfers", s.bulk_transfers)
        .field("rounds", s.rounds)
        .field("rumors", s.rumors)
        .field("conflicts", s.conflicts)
        .end_object();
    return w.take();
  };
  return instrumented(
      self, "gossip", summary, {},
      [=](msg::directory_update& u) {
        auto& s = self->state;
        const auto& name = u.entry.name;
        if (name != "peers" && name != "swim") return;
        if (!u.entry.handle || u.entry.handle == s.handles[name]) {
          s.handles[name] = u.entry.handle;
          return;
        }
        s.handles[name] = u.entry.handle;
        // A new (or restarted) actor hears everything we know.
        if (name == "swim") self->send(u.entry.handle, msg::swim_subscribe{});
        for (const auto& [id, r] : s.records->records())
          if (id != cfg.info.node_id) introduce(self, r, false);
        if (name == "peers" && !s.joined) join(self, cfg);
      },
      [=](msg::membership_change& c) {
        auto& s = self->state;
        s.members[c.node_id] = {c.state, now_ms(s)};
        // SWIM heard of a node before gossip did: ask that node for its record right away.
        if (c.state == swim::member_state::alive && !s.records->records().count(c.node_id) &&
            !s.in_flight.count(c.node_id) && !c.endpoint.empty()) {
          if (auto peers = handle(self, "peers")) self->send(peers, msg::peer_endpoint{c.node_id, c.endpoint});
          exchange(self, cfg, c.node_id, msg::exchange_kind::digest, {}, {}, nullptr);
        }
      },
      [=](gossip_round& r) {
        auto& s = self->state;
        if (r.eager) {
          if (s.eager_left > 0 && --s.eager_left > 0)
            self->delayed_send(self, cfg.timing.eager_round, gossip_round{true});
        } else {
          self->delayed_send(self, cfg.timing.round, gossip_round{});
        }
        ++s.rounds;
        for (const auto& peer : s.records->pick_peers(2, s.rng,
                                                      [&](const std::string& id) { return is_alive(s, id); }))
          if (!s.in_flight.count(peer)) exchange(self, cfg, peer, msg::exchange_kind::hash, {}, {}, nullptr);
      },
      [=](anti_entropy_round&) {
        auto& s = self->state;
        self->delayed_send(self, cfg.timing.anti_entropy, anti_entropy_round{});
        for (const auto& peer : s.records->pick_peers(2, s.rng, [&](const std::string& id) { return is_alive(s, id); }))
          if (!s.in_flight.count(peer)) exchange(self, cfg, peer, msg::exchange_kind::full, {}, {}, nullptr);
      },
      [=](refresh_round&) {
        auto& s = self->state;
        self->delayed_send(self, cfg.timing.refresh, refresh_round{});
        auto fresh = read_host_resources(cfg.data_dir);
        fresh.gpus = s.info.resources.gpus;
        if (resources_changed(s.info.resources, fresh)) {
          s.info.resources = fresh;
          s.records->update_self(encode_node_info(s.info));
          on_accepted(self, cfg, {s.records->self()}, {});
        }
        auto gone = s.records->expire(now_ms(s), cfg.timing.dead_ttl.count(),
                                      [&](const std::string& id) -> std::optional<std::int64_t> {
                                        auto it = s.members.find(id);
                                        if (it == s.members.end() || it->second.state == swim::member_state::alive ||
                                            it->second.state == swim::member_state::suspect)
                                          return std::nullopt;
                                        return it->second.since_ms;
                                      });
        for (const auto& id : gone) {
          log::info("gossip", "forgot a node gone for long", {{"node_id", json::quote(id)}});
          s.members.erase(id);
          if (auto swim = handle(self, "swim")) self->send(swim, msg::swim_forget{id});
        }
        // Alone although seeds exist (every peer died, or the join never happened): try again.
        if (!cfg.seeds.empty() && live_count(s) == 0) join(self, cfg);
      },
      [=](join_retry&) { join(self, cfg); },
      [=](msg::gossip_exchange& ex) -> caf::result<msg::gossip_delta> {
        auto& s = self->state;
        auto merged = merge_all(self, ex.records);
        on_accepted(self, cfg, merged.accepted, ex.from);
        // The sender's own record refused: it must not join under that id.
        for (const auto& r : merged.conflicts)
          if (r.id == ex.from && r.id != cfg.info.node_id)
            return make_api_error(api_errc::conflict,
                                  "node id " + r.id + " is already alive in this cluster as node_uuid " +
                                      s.records->records().at(r.id).node_uuid,
                                  R"({"field":"node_id"})");
        if (ex.kind == msg::exchange_kind::push) return msg::gossip_delta{};
        if (ex.kind == msg::exchange_kind::hash)
          return msg::gossip_delta{ex.digest_hash == s.records->digest_hash(), {}, {}, {}};
        if (ex.kind == msg::exchange_kind::digest && ex.after.empty() && ex.digest_hash != 0 &&
            ex.digest_hash == s.records->digest_hash())
          return msg::gossip_delta{true, {}, {}, {}};
        auto d = s.records->diff_chunk(ex.digest, ex.kind == msg::exchange_kind::full, ex.after);
        return msg::gossip_delta{false, std::move(d.records), std::move(d.wanted), std::move(d.next_after)};
      },
      [=](msg::gossip_peers_request&) -> caf::result<msg::gossip_peers_reply> {
        auto rp = self->make_response_promise<msg::gossip_peers_reply>();
        auto reply = [=](const std::map<std::string, std::string>& connections) mutable {
          const auto& s = self->state;
          msg::gossip_peers_reply r;
          r.node_id = cfg.info.node_id;
          r.joined = s.joined || cfg.seeds.empty();
          for (const auto& [id, rec] : s.records->records()) {
            msg::gossip_peer p{rec, {}, {}};
            if (id == cfg.info.node_id) {
              p.swim_state = "alive";
              p.connection = "self";
            } else {
              if (auto it = s.members.find(id); it != s.members.end())
                p.swim_state = std::string(swim::state_name(it->second.state));
              auto c = connections.find(id);
              p.connection = c == connections.end() ? "idle" : c->second;
            }
            r.peers.push_back(std::move(p));
          }
          rp.deliver(std::move(r));
        };
        auto peers = handle(self, "peers");
        if (!peers) {
          reply({});
          return rp;
        }
        self->request(peers, std::chrono::seconds(2), msg::peers_request{})
            .then(
                [=](msg::peers_reply& pr) mutable {
                  std::map<std::string, std::string> connections;
                  for (const auto& p : pr.peers) connections[p.node_id] = p.connection;
                  reply(connections);
                },
                [=](caf::error&) mutable { reply({}); });
        return rp;
      });
}

}  // namespace p2p
