#include "actors/admin/admin.hpp"

#include <caf/all.hpp>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/messages/admin_codec.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/common/prometheus.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/raft.hpp"
#include "protocol/messages/work.hpp"

namespace p2p {
namespace {

constexpr auto ask_timeout = std::chrono::seconds(5);

msg::health_reply health_of(const admin_context& ctx) {
  const auto& f = ctx.facts;
  msg::health_reply h;
  h.node_id = f.node_id;
  h.node_uuid = f.node_uuid;
  h.boot_epoch = f.boot_epoch;
  h.uptime_s = std::chrono::duration<double>(mono_now() - f.started_mono).count();
  h.version = f.version;
  h.wire_version = f.wire_version;
  h.draining = ctx.draining();
  return h;
}

// What status and metrics report besides the admin's own facts.
struct node_snapshot {
  std::vector<msg::directory_entry> entries;
  msg::events_stats events;
  std::optional<msg::swim_status_reply> swim;  // absent while the swim actor is down
  std::optional<msg::raft_status_reply> raft;  // absent while the raft actor is down
};

caf::actor entry_named(const std::vector<msg::directory_entry>& entries, std::string_view name) {
  for (const auto& e : entries)
    if (e.name == name) return e.handle;
  return {};
}

// Asks the directory for the supervised actors, then the events, swim and raft actors for their
// numbers, and hands the snapshot to `next`. An actor that does not answer leaves its part empty.
template <class Next>
void gather(caf::stateful_actor<admin_state>* self, const admin_context& ctx, Next callback) {
  // Shared so the (mutable) continuation can be called from the const response handlers.
  auto next_ptr = std::make_shared<Next>(std::move(callback));
  auto snap = std::make_shared<node_snapshot>();
  auto done = [=] { (*next_ptr)(*snap); };
  auto with_raft = [=] {
    auto raft = entry_named(snap->entries, "raft");
    if (!raft) return done();
    self->request(raft, ask_timeout, msg::raft_status_request{})
        .then(
            [=](msg::raft_status_reply& r) {
              snap->raft = std::move(r);
              done();
            },
            [=](caf::error&) { done(); });
  };
  auto with_swim = [=] {
    auto swim = entry_named(snap->entries, "swim");
    if (!swim) return with_raft();
    self->request(swim, ask_timeout, msg::swim_status_request{})
        .then(
            [=](msg::swim_status_reply& s) {
              snap->swim = std::move(s);
              with_raft();
            },
            [=](caf::error&) { with_raft(); });
  };
  self->request(ctx.directory, ask_timeout, msg::directory_list{})
      .then(
          [=](std::vector<msg::directory_entry>& entries) {
            snap->entries = std::move(entries);
            auto events = entry_named(snap->entries, "events");
            if (!events) return with_swim();
            self->request(events, ask_timeout, msg::events_stats_request{})
                .then(
                    [=](msg::events_stats& stats) {
                      snap->events = stats;
                      with_swim();
                    },
                    [=](caf::error&) { with_swim(); });
          },
          [=](caf::error&) { (*next_ptr)(*snap); });
}

}  // namespace

caf::behavior admin_actor(caf::stateful_actor<admin_state>* self, admin_context ctx) {
  auto summary = [ctx] {
    json::writer w;
    w.begin_object()
        .field("node_id", ctx.facts.node_id)
        .field("draining", ctx.draining())
        .field("log_level", log::level_name(log::current_level()))
        .field("started_at", format_rfc3339(ctx.facts.started_wall))
        .end_object();
    return w.take();
  };
  auto encode = [](const auto& reply) { return codec::encode(reply); };
  auto none = [](const std::vector<std::string>& args) -> std::optional<msg::health_request> {
    if (!args.empty()) return std::nullopt;
    return msg::health_request{};
  };
  std::vector<safe_command> commands{
      safe<msg::health_request, msg::health_reply>("health", "", none, encode),
      safe<msg::status_request, msg::status_reply>(
          "status", "",
          [](const std::vector<std::string>& args) -> std::optional<msg::status_request> {
            if (!args.empty()) return std::nullopt;
            return msg::status_request{};
          },
          encode),
      safe<msg::log_level_request, msg::log_level_reply>(
          "log-level", "LEVEL",
          [](const std::vector<std::string>& args) -> std::optional<msg::log_level_request> {
            if (args.size() != 1) return std::nullopt;
            return msg::log_level_request{args[0]};
          },
          encode),
  };
  return instrumented(self, "admin", summary, std::move(commands),
      [=](msg::health_request&) { return health_of(ctx); },
      [=](msg::shutdown_request& req) -> msg::shutdown_reply {
        // A repeated request does not move the deadline already promised.
        return {ctx.begin_shutdown(req.drain_timeout_s)};
      },
      [=](msg::log_level_request& req) -> caf::result<msg::log_level_reply> {
        auto level = log::parse_level(req.level);
        if (!level)
          return make_api_error(api_errc::bad_request, "unknown log level " + req.level,
                                R"({"field":"level"})");
        auto previous = log::current_level();
        log::set_level(*level);
        if (*level != previous)
          log::info("admin", "log level changed", {{"level", json::quote(req.level)}});
        return msg::log_level_reply{std::string(log::level_name(*level)),
                                    std::string(log::level_name(previous))};
      },
      [=](msg::status_request&) -> caf::result<msg::status_reply> {
        auto rp = self->make_response_promise<msg::status_reply>();
        gather(self, ctx, [=](const node_snapshot& snap) mutable {
                 const auto& entries = snap.entries;
                 const auto& stats = snap.events;
                 const auto& f = ctx.facts;
                 msg::status_reply s;
                 s.node = health_of(ctx);
                 s.started_at = format_rfc3339(f.started_wall);
                 s.http_endpoint = f.http_endpoint;
                 s.cluster_endpoint = f.cluster_endpoint;
                 s.seeds = f.seeds;
                 s.voters = f.voters;
                 s.tls = f.tls;
                 s.insecure_cluster = f.insecure_cluster;
                 for (const auto& e : entries) s.actors.push_back({e.name, e.restarts, e.last_error});
                 s.events_last_seq = stats.last_seq;
                 s.events_retained = stats.retained;
                 s.events_subscribers = stats.subscribers;
                 s.log_level = std::string(log::level_name(log::current_level()));
                 rp.deliver(std::move(s));
               });
        return rp;
      },
      [=](msg::metrics_request&) -> caf::result<msg::metrics_reply> {
        auto rp = self->make_response_promise<msg::metrics_reply>();
        gather(self, ctx, [=](const node_snapshot& snap) mutable {
                 const auto& entries = snap.entries;
                 const auto& stats = snap.events;
                 auto h = health_of(ctx);
                 namespace prom = prometheus;
                 std::string t;
                 prom::family(t, "p2p_node_info", "gauge", "Constant 1, labelled with this node's identity.");
                 prom::sample(t, "p2p_node_info",
                              "{node_id=" + json::quote(h.node_id) + ",node_uuid=" +
                                  json::quote(h.node_uuid) + ",version=" + json::quote(h.version) + "}",
                              "1");
                 prom::family(t, "p2p_uptime_seconds", "gauge", "Seconds since this node started.");
                 prom::sample(t, "p2p_uptime_seconds", "", json::number(h.uptime_s));
                 prom::family(t, "p2p_boot_epoch", "gauge", "Starts of this data dir.");
                 prom::sample(t, "p2p_boot_epoch", "", std::to_string(h.boot_epoch));
                 prom::family(t, "p2p_draining", "gauge", "1 while the node drains for shutdown.");
                 prom::sample(t, "p2p_draining", "", h.draining ? "1" : "0");
                 prom::family(t, "p2p_actor_restarts_total", "counter", "Restarts of each actor.");
                 for (const auto& e : entries)
                   prom::sample(t, "p2p_actor_restarts_total", "{actor=" + json::quote(e.name) + "}",
                                std::to_string(e.restarts));
                 prom::family(t, "p2p_events_published_total", "counter", "Events published since start.");
                 prom::sample(t, "p2p_events_published_total", "", std::to_string(stats.published));
                 prom::family(t, "p2p_events_last_seq", "gauge", "Sequence number of the newest event.");
                 prom::sample(t, "p2p_events_last_seq", "", std::to_string(stats.last_seq));
                 prom::family(t, "p2p_events_subscribers", "gauge", "Event stream subscribers now.");
                 prom::sample(t, "p2p_events_subscribers", "", std::to_string(stats.subscribers));
                 if (const auto& sw = snap.swim) {
                   prom::family(t, "p2p_swim_members", "gauge", "Members by SWIM state, this node included.");
                   for (auto [state, n] : {std::pair{"alive", sw->alive}, {"suspect", sw->suspect},
                                           {"dead", sw->dead}, {"left", sw->left}})
                     prom::sample(t, "p2p_swim_members", std::string("{state=\"") + state + "\"}", std::to_string(n));
                   prom::family(t, "p2p_swim_suspicions_total", "counter", "Suspicions this node has seen.");
                   prom::sample(t, "p2p_swim_suspicions_total", "", std::to_string(sw->suspicions));
                   prom::family(t, "p2p_swim_refutations_total", "counter", "Suspicions of this node it refuted.");
                   prom::sample(t, "p2p_swim_refutations_total", "", std::to_string(sw->refutations));
                   prom::family(t, "p2p_swim_local_health", "gauge", "Lifeguard's local health score (0 healthy).");
                   prom::sample(t, "p2p_swim_local_health", "", std::to_string(sw->local_health));
                   prom::family(t, "p2p_swim_incarnation", "gauge", "This node's SWIM incarnation.");
                   prom::sample(t, "p2p_swim_incarnation", "", std::to_string(sw->incarnation));
                 }
                 if (const auto& r = snap.raft) {
                   prom::family(t, "p2p_raft_term", "gauge", "The current Raft term.");
                   prom::sample(t, "p2p_raft_term", "", std::to_string(r->term));
                   prom::family(t, "p2p_raft_leader", "gauge", "1 while this node is the Raft leader.");
                   prom::sample(t, "p2p_raft_leader", "", r->state == "leader" ? "1" : "0");
                   prom::family(t, "p2p_raft_commit_index", "gauge", "The highest committed log index.");
                   prom::sample(t, "p2p_raft_commit_index", "", std::to_string(r->commit_index));
                   prom::family(t, "p2p_raft_apply_lag", "gauge", "Committed entries not applied yet.");
                   prom::sample(t, "p2p_raft_apply_lag", "",
                                std::to_string(r->commit_index - std::min(r->commit_index, r->last_applied)));
                   prom::family(t, "p2p_raft_follower_lag", "gauge", "Leader only: entries each follower lacks.");
                   for (const auto& p : r->peers)
                     prom::sample(t, "p2p_raft_follower_lag", "{follower=\"" + p.node_id + "\"}",
                                  std::to_string(r->last_log_index - std::min(r->last_log_index, p.match_index)));
                   prom::family(t, "p2p_raft_fsyncs_total", "counter", "Raft log writes made durable.");
                   prom::sample(t, "p2p_raft_fsyncs_total", "", std::to_string(r->fsyncs));
                   prom::family(t, "p2p_raft_fsync_avg_ms", "gauge", "Mean duration of those writes.");
                   prom::sample(t, "p2p_raft_fsync_avg_ms", "", json::number(r->fsync_avg_ms));
                   prom::family(t, "p2p_raft_refused_messages_total", "counter",
                                "Raft messages refused as coming from another cluster.");
                   prom::sample(t, "p2p_raft_refused_messages_total", "", std::to_string(r->refused_messages));
                 }
                 // The work queue's depth and claim latency, from the work_queue actor.
                 auto work = entry_named(entries, "work_queue");
                 if (!work) {
                   rp.deliver(msg::metrics_reply{std::move(t)});
                   return;
                 }
                 self->request(work, ask_timeout, msg::work_metrics_request{})
                     .then([rp, t](msg::work_metrics_reply& w) mutable { rp.deliver(msg::metrics_reply{t + w.text}); },
                           [rp, t](caf::error&) mutable { rp.deliver(msg::metrics_reply{t}); });
               });
        return rp;
      });
}

}  // namespace p2p
