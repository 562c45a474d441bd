#include "actors/work_queue/work_queue_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <limits>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/common/prometheus.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/node_info.hpp"
#include "protocol/messages/raft.hpp"
#include "protocol/messages/work_codec.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<work_queue_state>*;
using command_result = caf::result<msg::work_command_reply>;

struct lease_tick {
  work::time_ms at = 0;
};
template <class F> auto inspect(F& f, lease_tick& x) { return f(x.at); }
struct archive_tick {};
template <class F> auto inspect(F& f, archive_tick&) { return f(); }
struct claim_deadline {
  std::uint64_t id = 0;
};
template <class F> auto inspect(F& f, claim_deadline& x) { return f(x.id); }
struct probe_tick {};
template <class F> auto inspect(F& f, probe_tick&) { return f(); }

constexpr auto gossip_timeout = std::chrono::seconds(2);
constexpr auto query_timeout = std::chrono::seconds(10);

// The clock the leader stamps commands with (the raft actor overwrites a command's time with its
// own reading of it on the leader); the lease tracker runs on it too.
work::time_ms wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall_now().time_since_epoch()).count();
}

caf::error no_leader() {
  return make_api_error(api_errc::unavailable, "no Raft leader is known yet (an election may be running)",
                        R"({"retry_after_ms":1000})");
}

// A refused command in the §5 envelope: details name the field, the item's status now, and
// `cancel: true` when the item was cancelled (the runner stops the work).
caf::error reply_error(const work::reply& r) {
  api_errc code = api_errc::internal;
  switch (r.result) {
    case work::code::ok:
    case work::code::bad_request: code = api_errc::bad_request; break;
    case work::code::not_found: code = api_errc::not_found; break;
    case work::code::conflict: code = api_errc::conflict; break;
    case work::code::payload_too_large: code = api_errc::payload_too_large; break;
    case work::code::backpressure: code = api_errc::backpressure; break;
  }
  json::writer w;
  w.begin_object();
  if (!r.field.empty()) w.field("field", r.field);
  if (!r.current_status.empty()) w.field("current_status", r.current_status);
  if (r.current_status == "cancelled") w.field("cancel", true);
  if (r.result == work::code::backpressure) w.field("retry_after_ms", 1000);
  w.end_object();
  return make_api_error(code, r.message, w.take());
}

msg::work_command_reply to_reply(work::reply&& r) {
  return {std::move(r.status), std::move(r.work_ids), std::move(r.items), r.replayed};
}


// Proposes `c` through the local raft actor and hands the state machine's answer (or the
// failure: no leader, not applied, outcome unknown) to the callbacks.
template <class OnAnswer, class OnError>
void propose(self_ptr self, const work_queue_config& cfg, const work::command& c, OnAnswer on_answer, OnError on_error) {
  auto raft = self->state.handles["raft"];
  if (!raft) {
    auto err = make_api_error(api_errc::unavailable, "the raft actor is not running", R"({"retry_after_ms":1000})");
    on_error(err);
    return;
  }
  self->request(raft, cfg.proposal_timeout, msg::raft_propose{work::encode_command(c), 0})
      .then(
          [=](msg::raft_applied& applied) mutable {
            auto answer = work::decode_answer(applied.result);
            if (!answer) {
              auto err = make_api_error(api_errc::internal, "the state machine's answer is unreadable");
              on_error(err);
              return;
            }
            on_answer(*answer);
          },
          [=](caf::error& err) mutable { on_error(err); });
}

// A command whose answer is the reply: ok -> typed reply, refused -> envelope.
command_result propose_for_reply(self_ptr self, const work_queue_config& cfg, const work::command& c) {
  auto rp = self->make_response_promise<msg::work_command_reply>();
  propose(
      self, cfg, c,
      [rp](work::answer& a) mutable {
        if (a.response.ok()) rp.deliver(to_reply(std::move(a.response)));
        else rp.deliver(reply_error(a.response));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

void ask_raft(self_ptr self, msg::work_query q, std::function<void(msg::work_query_reply&)> on_reply,
              caf::response_promise rp) {
  auto raft = self->state.handles["raft"];
  if (!raft) {
    rp.deliver(make_api_error(api_errc::unavailable, "the raft actor is not running", R"({"retry_after_ms":1000})"));
    return;
  }
  self->request(raft, query_timeout, std::move(q))
      .then([on_reply](msg::work_query_reply& r) mutable { on_reply(r); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

void record_claim_latency(work_queue_state& st, mono_clock::time_point received) {
  const double s = std::chrono::duration<double>(mono_now() - received).count();
  for (std::size_t i = 0; i < claim_latency_buckets.size(); ++i)
    if (s <= claim_latency_buckets[i]) ++st.claim_latency_counts[i];
  ++st.claim_latency_count;
  st.claim_latency_sum_s += s;
}

// ---- long-poll claims -------------------------------------------------------------------------

void probe(self_ptr self, const work_queue_config& cfg, std::uint64_t id);

void finish_waiting(self_ptr self, std::uint64_t id, caf::error err) {
  auto& st = self->state;
  auto it = st.waiting.find(id);
  if (it == st.waiting.end()) return;
  it->second.promise.deliver(std::move(err));
  st.waiting.erase(it);
}

void finish_waiting(self_ptr self, std::uint64_t id, work::reply&& r) {
  auto& st = self->state;
  auto it = st.waiting.find(id);
  if (it == st.waiting.end()) return;
  if (!r.items.empty()) record_claim_latency(st, it->second.received);
  it->second.promise.deliver(to_reply(std::move(r)));
  st.waiting.erase(it);
}

void schedule_probe(self_ptr self, const work_queue_config& cfg) {
  auto& st = self->state;
  if (st.probe_scheduled || st.waiting.empty() || st.role.applies_log) return;
  st.probe_scheduled = true;
  self->delayed_send(self, cfg.unapplied_probe_interval, probe_tick{});
}

// Asks for work for a claim. It answers at once unless it found none and may still wait.
void probe(self_ptr self, const work_queue_config& cfg, std::uint64_t id) {
  auto& st = self->state;
  auto it = st.waiting.find(id);
  if (it == st.waiting.end() || it->second.in_flight) return;
  auto& w = it->second;
  w.in_flight = true;
  w.woken = false;
  work::claim_command c;
  c.node = w.offer;
  c.max_items = w.request.max_items;
  c.request_id = w.request.request_id;
  c.now = wall_ms();
  propose(
      self, cfg, c,
      [=](work::answer& a) {
        auto& s = self->state;
        auto found = s.waiting.find(id);
        if (found == s.waiting.end()) return;
        auto& waiting = found->second;
        waiting.in_flight = false;
        if (!a.response.ok()) return finish_waiting(self, id, reply_error(a.response));
        if (a.response.status != "no_work" || mono_now() >= waiting.deadline)
          return finish_waiting(self, id, std::move(a.response));
        if (waiting.woken) return probe(self, cfg, id);
        schedule_probe(self, cfg);
      },
      [=](caf::error& err) {
        auto& s = self->state;
        auto found = s.waiting.find(id);
        if (found == s.waiting.end()) return;
        found->second.in_flight = false;
        finish_waiting(self, id, std::move(err));
      });
}

// Something applied that may have made work claimable: every waiting claim asks again.
void wake_waiting(self_ptr self, const work_queue_config& cfg) {
  std::vector<std::uint64_t> ids;
  for (auto& [id, w] : self->state.waiting) {
    if (w.in_flight) w.woken = true;
    else ids.push_back(id);
  }
  for (auto id : ids) probe(self, cfg, id);
}

// Fills what the claiming node offers from its gossiped NodeInfo (labels, GPUs, memory, and its
// work types when the claim names none), then claims.
caf::result<msg::work_command_reply> claim(self_ptr self, const work_queue_config& cfg, msg::work_claim_request req) {
  auto& st = self->state;
  auto rp = self->make_response_promise<msg::work_command_reply>();
  const auto id = st.next_wait_id++;
  work_queue_state::waiting_claim w;
  w.request = std::move(req);
  w.offer.node_id = w.request.node_id;
  w.offer.work_types = w.request.work_types;
  w.promise = rp;
  w.received = mono_now();
  if (st.draining) w.request.wait_s = 0;  // a draining node holds no long polls
  w.deadline = w.received + std::chrono::duration_cast<mono_clock::duration>(std::chrono::duration<double>(w.request.wait_s));
  const bool named_types = !w.request.work_types.empty();
  const auto node_id = w.request.node_id;
  const double wait_s = w.request.wait_s;
  st.waiting.emplace(id, std::move(w));
  if (wait_s > 0)
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(wait_s)),
                       claim_deadline{id});
  auto gossip = st.handles["gossip"];
  if (!gossip) {
    probe(self, cfg, id);
    return rp;
  }
  self->request(gossip, gossip_timeout, msg::gossip_peers_request{})
      .then(
          [=](msg::gossip_peers_reply& peers) {
            auto found = self->state.waiting.find(id);
            if (found == self->state.waiting.end()) return;
            for (const auto& p : peers.peers) {
              if (p.rec.id != node_id) continue;
              auto info = decode_node_info(p.rec.info_json);
              if (!info) break;
              auto& offer = found->second.offer;
              offer.labels = info->labels;
              offer.gpus = info->resources.gpus.size();
              offer.memory_gb = static_cast<double>(info->resources.memory_total_mb) / 1024.0;
              if (!named_types) offer.work_types = info->work_types;
              break;
            }
            probe(self, cfg, id);
          },
          [=](caf::error& err) {
            // Without the gossiped record the claim still matches on what it named itself.
            log::debug("work_queue", "claim without the node's gossiped record",
                       {{"node_id", json::quote(node_id)}, {"error", json::quote(describe_error(err))}});
            probe(self, cfg, id);
          });
  return rp;
}

// ---- the leader's leases ----------------------------------------------------------------------

void schedule_lease_tick(self_ptr self) {
  auto& st = self->state;
  if (!st.tracker) return;
  const auto next = st.tracker->next_deadline();
  if (next == std::numeric_limits<work::time_ms>::max()) return;
  if (st.lease_tick_at >= 0 && st.lease_tick_at <= next) return;
  st.lease_tick_at = next;
  const auto delay = std::max<work::time_ms>(1, next - wall_ms());
  self->delayed_send(self, std::chrono::milliseconds(delay), lease_tick{next});
}

// Proposes what the tracker finds due: expiries for lapsed leases and gone claimants, timeouts
// for overruns. The machine checks each against the item's current claim, so one that raced
// with a completion is refused harmlessly.
void run_leases(self_ptr self, const work_queue_config& cfg) {
  auto& st = self->state;
  if (!st.tracker) return;
  const auto now = wall_ms();
  for (const auto& a : st.tracker->due(now)) {
    work::command c;
    if (a.kind == work::lease_tracker::action_kind::timeout) {
      c = work::timeout_command{a.work_id, a.claim_token, now};
      ++st.timeouts_proposed;
    } else {
      c = work::expire_command{a.work_id, a.claim_token,
                               a.kind == work::lease_tracker::action_kind::expire_dead_claimant
                                   ? work::expire_reason::claimant_dead
                                   : work::expire_reason::lease_expired,
                               now};
      ++st.expiries_proposed;
    }
    log::info("work_queue", "claim ended by the leader",
              {{"work_id", json::quote(a.work_id)}, {"reason", json::quote(work::action_kind_name(a.kind))}});
    propose(
        self, cfg, c, [](work::answer&) {},
        [work_id = a.work_id](caf::error& err) {
          // Offered again after retry_ms while the claim stays live.
          log::warn("work_queue", "an expiry was not applied",
                    {{"work_id", json::quote(work_id)}, {"error", json::quote(describe_error(err))}});
        });
  }
  schedule_lease_tick(self);
}

// Brings the tracker in line with the applied claims (one query in flight; more applies meanwhile
// ask for one more round).
void refresh_claims(self_ptr self, const work_queue_config& cfg) {
  auto& st = self->state;
  if (!st.tracker) return;
  if (st.refresh_in_flight) {
    st.refresh_again = true;
    return;
  }
  auto raft = st.handles["raft"];
  if (!raft) return;
  st.refresh_in_flight = true;
  msg::work_query q;
  q.kind = msg::work_query_kind::claims;
  q.stale = true;  // this node leads: its applied state is the one to follow
  self->request(raft, query_timeout, std::move(q))
      .then(
          [=](msg::work_query_reply& r) {
            auto& s = self->state;
            s.refresh_in_flight = false;
            if (s.tracker) {
              s.tracker->sync(r.claims, wall_ms());
              run_leases(self, cfg);
            }
            if (std::exchange(s.refresh_again, false)) refresh_claims(self, cfg);
          },
          [=](caf::error& err) {
            auto& s = self->state;
            s.refresh_in_flight = false;
            log::warn("work_queue", "cannot read the applied claims", {{"error", json::quote(describe_error(err))}});
            if (std::exchange(s.refresh_again, false)) refresh_claims(self, cfg);
          });
}

void become(self_ptr self, const work_queue_config& cfg, msg::work_leadership role) {
  auto& st = self->state;
  const bool was_leader = st.role.leader;
  st.role = std::move(role);
  if (st.role.leader && !was_leader) {
    // Fresh leases at full length for every applied claim: a term change alone revokes nothing.
    st.tracker.emplace(cfg.leases);
    for (const auto& n : st.gone_nodes) st.tracker->node_dead(n);
    st.lease_tick_at = -1;
    log::info("work_queue", "keeping the work leases", {{"term", std::to_string(st.role.term)}});
    refresh_claims(self, cfg);
  } else if (!st.role.leader && was_leader) {
    st.tracker.reset();
    st.lease_tick_at = -1;
  }
  schedule_probe(self, cfg);
}

// The leader moves terminal items past retention into the archives (one command at a time).
void archive_round(self_ptr self, const work_queue_config& cfg) {
  auto& st = self->state;
  if (!st.role.leader || st.archive_in_flight) return;
  auto raft = st.handles["raft"];
  if (!raft) return;
  st.archive_in_flight = true;
  msg::work_query q;
  q.kind = msg::work_query_kind::counts;
  q.stale = true;
  self->request(raft, query_timeout, std::move(q))
      .then(
          [=](msg::work_query_reply& r) {
            const auto now = wall_ms();
            const auto before = now - static_cast<work::time_ms>(cfg.retention.count());
            // Nothing finished before the horizon: no entry for the log.
            if (r.oldest_finished_ms == 0 || r.oldest_finished_ms >= before) {
              self->state.archive_in_flight = false;
              return;
            }
            work::archive_command c{before, 1000, now};
            propose(
                self, cfg, c,
                [=](work::answer& a) {
                  self->state.archive_in_flight = false;
                  // A full batch: more may be waiting.
                  if (a.response.work_ids.size() >= 1000) archive_round(self, cfg);
                },
                [=](caf::error& err) {
                  self->state.archive_in_flight = false;
                  log::warn("work_queue", "archive not applied", {{"error", json::quote(describe_error(err))}});
                });
          },
          [=](caf::error&) { self->state.archive_in_flight = false; });
}

std::string metrics_text(const work_queue_state& st, const msg::work_query_reply* counts) {
  namespace prom = prometheus;
  std::string t;
  if (counts) {
    prom::family(t, "p2p_work_items", "gauge", "Work items in the replicated queue by status (this node's applied view).");
    for (const auto& c : counts->by_status) {
      std::string labels = "{status=";
      labels.append(json::quote(c.status)).append("}");
      prom::sample(t, "p2p_work_items", labels, std::to_string(c.count));
    }
    prom::family(t, "p2p_work_items_by_type", "gauge", "Work items by work type and status.");
    for (const auto& c : counts->by_type) {
      std::string labels = "{work_type=";
      labels.append(json::quote(c.work_type)).append(",status=").append(json::quote(c.status)).append("}");
      prom::sample(t, "p2p_work_items_by_type", labels, std::to_string(c.count));
    }
  }
  prom::family(t, "p2p_work_claim_latency_seconds", "histogram",
               "From a claim's arrival here to its answer with items (long polls included).");
  for (std::size_t i = 0; i < claim_latency_buckets.size(); ++i) {
    std::string labels = "{le=\"";
    labels.append(json::number(claim_latency_buckets[i])).append("\"}");
    prom::sample(t, "p2p_work_claim_latency_seconds_bucket", labels, std::to_string(st.claim_latency_counts[i]));
  }
  prom::sample(t, "p2p_work_claim_latency_seconds_bucket", "{le=\"+Inf\"}", std::to_string(st.claim_latency_count));
  prom::sample(t, "p2p_work_claim_latency_seconds_sum", "", json::number(st.claim_latency_sum_s));
  prom::sample(t, "p2p_work_claim_latency_seconds_count", "", std::to_string(st.claim_latency_count));
  prom::family(t, "p2p_work_waiting_claims", "gauge", "Long-poll claims waiting on this node.");
  prom::sample(t, "p2p_work_waiting_claims", "", std::to_string(st.waiting.size()));
  prom::family(t, "p2p_work_leases", "gauge", "Leader only: claims whose leases this node keeps.");
  prom::sample(t, "p2p_work_leases", "", std::to_string(st.tracker ? st.tracker->tracked() : 0));
  prom::family(t, "p2p_work_expiries_proposed_total", "counter", "Leader: claims ended for lapsed leases or gone claimants.");
  prom::sample(t, "p2p_work_expiries_proposed_total", "", std::to_string(st.expiries_proposed));
  prom::family(t, "p2p_work_timeouts_proposed_total", "counter", "Leader: running items ended for overrunning timeout_s.");
  prom::sample(t, "p2p_work_timeouts_proposed_total", "", std::to_string(st.timeouts_proposed));
  prom::family(t, "p2p_work_heartbeats_absorbed_total", "counter",
               "Leader: heartbeats that renewed a lease in memory without a log entry.");
  prom::sample(t, "p2p_work_heartbeats_absorbed_total", "", std::to_string(st.heartbeats_absorbed));
  return t;
}

}  // namespace

caf::behavior work_queue_actor(self_ptr self, work_queue_config cfg) {
  auto& st = self->state;
  try {
    st.archive = std::make_unique<work::work_archive>(cfg.data_dir / "work" / "archive.sqlite");
  } catch (const std::exception& e) {
    log::error("work_queue", "cannot open the work archive", {{"error", json::quote(e.what())}});
    self->quit(make_api_error(api_errc::internal, e.what()));
    return {};
  }
  self->send(cfg.directory, msg::directory_subscribe{});
  self->delayed_send(self, cfg.archive_interval, archive_tick{});

  auto overview = [=](std::uint32_t recent) -> caf::result<msg::work_overview_reply> {
    auto rp = self->make_response_promise<msg::work_overview_reply>();
    msg::work_query q;
    q.kind = msg::work_query_kind::recent;
    q.limit = recent;
    q.stale = true;
    ask_raft(
        self, std::move(q),
        [=](msg::work_query_reply& r) mutable {
          const auto& s = self->state;
          msg::work_overview_reply o;
          o.by_status = std::move(r.by_status);
          o.by_type = std::move(r.by_type);
          o.total = r.total;
          o.recent = std::move(r.items);
          o.archived = s.archive->size();
          o.leader = s.role.leader;
          o.tracked_leases = s.tracker ? s.tracker->tracked() : 0;
          o.waiting_claims = s.waiting.size();
          rp.deliver(std::move(o));
        },
        rp);
    return rp;
  };
  auto summary = [self] {
    const auto& s = self->state;
    json::writer w;
    w.begin_object()
        .field("leader", s.role.leader)
        .field("leader_id", s.role.leader_id)
        .field("term", s.role.term)
        .field("tracked_leases", static_cast<std::uint64_t>(s.tracker ? s.tracker->tracked() : 0))
        .field("waiting_claims", static_cast<std::uint64_t>(s.waiting.size()))
        .field("gone_nodes", static_cast<std::uint64_t>(s.gone_nodes.size()))
        .field("archived", s.archive->size())
        .end_object();
    return w.take();
  };
  std::vector<safe_command> commands{
      safe<msg::work_overview_request, msg::work_overview_reply>(
          "overview", "[RECENT]",
          [](const std::vector<std::string>& args) -> std::optional<msg::work_overview_request> {
            if (args.size() > 1) return std::nullopt;
            msg::work_overview_request r;
            if (args.size() == 1) {
              try {
                r.recent = static_cast<std::uint32_t>(std::clamp(std::stoul(args[0]), 1UL, 1000UL));
              } catch (const std::exception&) {
                return std::nullopt;
              }
            }
            return r;
          },
          [](const msg::work_overview_reply& r) { return codec::encode(r); }),
  };
  return instrumented(
      self, "work_queue", summary, std::move(commands),
      [=](msg::work_add_request& r) -> command_result {
        if (!r.error.empty())
          return make_api_error(api_errc::bad_request, r.error_field + " " + r.error,
                                "{\"field\":" + json::quote(r.error_field) + "}");
        return propose_for_reply(self, cfg, work::add_command{std::move(r.items), std::move(r.idempotency_key), wall_ms()});
      },
      [=](msg::work_claim_request& r) -> command_result {
        if (!r.error.empty()) return make_api_error(api_errc::bad_request, r.error, R"({"field":"work_types"})");
        if (r.node_id.empty()) return make_api_error(api_errc::bad_request, "node_id is required", R"({"field":"node_id"})");
        return claim(self, cfg, std::move(r));
      },
      [=](msg::work_start_request& r) -> command_result {
        return propose_for_reply(self, cfg, work::start_command{std::move(r.work_id), std::move(r.claim_token), wall_ms()});
      },
      [=](msg::work_heartbeat_request& r) -> command_result {
        auto& s = self->state;
        if (!s.role.leader) {
          // Leases live in the leader's memory: the heartbeat goes there (once).
          if (s.role.leader_id.empty() || r.hops > 0) return no_leader();
          auto peers = s.handles["peers"];
          if (!peers) return make_api_error(api_errc::unavailable, "the peers actor is not running", R"({"retry_after_ms":1000})");
          ++r.hops;
          auto rp = self->make_response_promise<msg::work_command_reply>();
          self->request(peers, cfg.forward_timeout,
                        msg::peer_request{s.role.leader_id, "work_queue", caf::make_message(std::move(r))})
              .then([rp](msg::work_command_reply& reply) mutable { rp.deliver(std::move(reply)); },
                    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          return rp;
        }
        const auto now = wall_ms();
        work::lease_tracker::heartbeat_verdict verdict;
        if (s.tracker) verdict = s.tracker->heartbeat(r.work_id, r.claim_token, r.has_progress, now);
        if (verdict.valid && !verdict.propose) {
          ++s.heartbeats_absorbed;
          return msg::work_command_reply{"running", {}, {}, false};
        }
        // Due to be replicated, or a claim the tracker does not know (yet, or any more): the
        // state machine decides.
        return propose_for_reply(self, cfg,
                                 work::heartbeat_command{std::move(r.work_id), std::move(r.claim_token), r.has_progress,
                                                         r.progress, std::move(r.message), now});
      },
      [=](msg::work_complete_request& r) -> command_result {
        return propose_for_reply(
            self, cfg, work::complete_command{std::move(r.work_id), std::move(r.claim_token), std::move(r.result), wall_ms()});
      },
      [=](msg::work_fail_request& r) -> command_result {
        return propose_for_reply(self, cfg,
                                 work::fail_command{std::move(r.work_id), std::move(r.claim_token), std::move(r.error),
                                                    r.retryable, wall_ms()});
      },
      [=](msg::work_release_request& r) -> command_result {
        return propose_for_reply(self, cfg,
                                 work::release_command{std::move(r.work_id), std::move(r.claim_token), std::move(r.reason),
                                                       wall_ms()});
      },
      [=](msg::work_cancel_request& r) -> command_result {
        return propose_for_reply(self, cfg, work::cancel_command{std::move(r.work_id), std::move(r.reason), wall_ms()});
      },
      [=](msg::work_status_request& r) -> caf::result<msg::work_item_reply> {
        auto rp = self->make_response_promise<msg::work_item_reply>();
        msg::work_query q;
        q.kind = msg::work_query_kind::get;
        q.work_id = r.work_id;
        q.stale = r.stale;
        ask_raft(
            self, std::move(q),
            [=](msg::work_query_reply& reply) mutable {
              if (reply.found && !reply.items.empty()) {
                rp.deliver(msg::work_item_reply{std::move(reply.items.front()), false, reply.index});
                return;
              }
              std::optional<work::item> archived;
              try {
                archived = self->state.archive->get(r.work_id);
              } catch (const std::exception& e) {
                rp.deliver(make_api_error(api_errc::internal, e.what()));
                return;
              }
              if (archived) rp.deliver(msg::work_item_reply{std::move(*archived), true, 0});
              else rp.deliver(make_api_error(api_errc::not_found, "no work item " + r.work_id, R"({"field":"work_id"})"));
            },
            rp);
        return rp;
      },
      [=](msg::work_list_request& r) -> caf::result<msg::work_list_reply> {
        if (!r.error.empty())
          return make_api_error(api_errc::bad_request, r.error_field + " " + r.error,
                                "{\"field\":" + json::quote(r.error_field) + "}");
        if (r.archived) {
          work::list_filter f;
          if (!r.status.empty()) f.state = work::status_named(r.status);
          f.work_type = r.work_type;
          f.claimed_by = r.claimed_by;
          f.limit = r.limit;
          f.cursor = r.cursor;
          try {
            auto page = self->state.archive->list(f);
            auto c = self->state.archive->count();
            return msg::work_list_reply{std::move(page.items), std::move(page.next_cursor), codec::status_counts(c),
                                        codec::type_counts(c), c.total, true, 0};
          } catch (const std::exception& e) {
            return make_api_error(api_errc::internal, e.what());
          }
        }
        auto rp = self->make_response_promise<msg::work_list_reply>();
        msg::work_query q;
        q.kind = msg::work_query_kind::list;
        q.status = r.status;
        q.work_type = r.work_type;
        q.claimed_by = r.claimed_by;
        q.limit = r.limit;
        q.cursor = r.cursor;
        q.stale = r.stale;
        ask_raft(
            self, std::move(q),
            [=](msg::work_query_reply& reply) mutable {
              rp.deliver(msg::work_list_reply{std::move(reply.items), std::move(reply.next_cursor),
                                              std::move(reply.by_status), std::move(reply.by_type), reply.total, false,
                                              reply.index});
            },
            rp);
        return rp;
      },
      [=](msg::work_overview_request& r) { return overview(r.recent); },
      [=](msg::work_drain_request&) {
        auto& s = self->state;
        s.draining = true;
        std::vector<std::uint64_t> idle;
        for (auto& [id, w] : s.waiting) {
          w.deadline = mono_now();  // a probe in flight answers with what it finds
          if (!w.in_flight) idle.push_back(id);
        }
        for (auto id : idle) {
          work::reply none;
          none.status = "no_work";
          finish_waiting(self, id, std::move(none));
        }
        return msg::work_drain_reply{idle.size()};
      },
      [=](msg::work_metrics_request&) -> caf::result<msg::work_metrics_reply> {
        auto rp = self->make_response_promise<msg::work_metrics_reply>();
        auto raft = self->state.handles["raft"];
        if (!raft) return msg::work_metrics_reply{metrics_text(self->state, nullptr)};
        msg::work_query q;
        q.kind = msg::work_query_kind::counts;
        q.stale = true;
        self->request(raft, query_timeout, std::move(q))
            .then([=](msg::work_query_reply& r) mutable { rp.deliver(msg::work_metrics_reply{metrics_text(self->state, &r)}); },
                  [=](caf::error&) mutable { rp.deliver(msg::work_metrics_reply{metrics_text(self->state, nullptr)}); });
        return rp;
      },
      [=](msg::work_applied& a) {
        auto& s = self->state;
        if (!a.archived.empty()) {
          try {
            s.archive->store(a.archived);
          } catch (const std::exception& e) {
            // Applied again from the last snapshot after a restart, the archive entry stores them then.
            log::error("work_queue", "archived items not stored",
                       {{"items", std::to_string(a.archived.size())}, {"error", json::quote(e.what())}});
          }
        }
        // New items, items back to pending, and completions (dependencies) may make work claimable.
        if (a.op == "add" || a.op == "complete" || a.status == "pending") wake_waiting(self, cfg);
        if (s.role.leader && a.op != "add" && a.op != "archive") refresh_claims(self, cfg);
      },
      [=](msg::work_leadership& l) { become(self, cfg, std::move(l)); },
      [=](msg::membership_change& c) {
        auto& s = self->state;
        if (c.node_id == cfg.node_id) return;
        const bool gone = c.state == swim::member_state::dead || c.state == swim::member_state::left;
        if (gone) {
          s.gone_nodes.insert(c.node_id);
          if (s.tracker) {
            s.tracker->node_dead(c.node_id);
            run_leases(self, cfg);
          }
        } else if (c.state == swim::member_state::alive) {
          s.gone_nodes.erase(c.node_id);
          if (s.tracker) s.tracker->node_alive(c.node_id);
        }
      },
      [=](lease_tick& t) {
        auto& s = self->state;
        if (s.lease_tick_at == t.at) s.lease_tick_at = -1;
        run_leases(self, cfg);
      },
      [=](archive_tick&) {
        self->delayed_send(self, cfg.archive_interval, archive_tick{});
        archive_round(self, cfg);
      },
      [=](claim_deadline& d) {
        auto& s = self->state;
        auto it = s.waiting.find(d.id);
        // A probe in flight answers by itself (it sees the deadline has passed).
        if (it == s.waiting.end() || it->second.in_flight) return;
        work::reply none;
        none.status = "no_work";
        finish_waiting(self, d.id, std::move(none));
      },
      [=](probe_tick&) {
        self->state.probe_scheduled = false;
        wake_waiting(self, cfg);
      },
      [=](msg::directory_update& u) {
        const auto& name = u.entry.name;
        if (name != "raft" && name != "gossip" && name != "swim" && name != "peers") return;
        self->state.handles[name] = u.entry.handle;
        if (name == "swim" && u.entry.handle) self->send(u.entry.handle, msg::swim_subscribe{});
      });
}

}  // namespace p2p
