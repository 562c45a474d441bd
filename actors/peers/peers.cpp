#include "actors/peers/peers.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "actors/node/config.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/membership.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<peers_state>*;
using peer = peers_state::peer;

struct retry_peer {
  std::string node_id;
  std::uint64_t attempt = 0;
};
template <class F> auto inspect(F& f, retry_peer& x) { return f(x.node_id, x.attempt); }

std::string_view connection_name(connection_state s) {
  switch (s) {
    case connection_state::idle: return "idle";
    case connection_state::connecting: return "connecting";
    case connection_state::connected: return "connected";
    case connection_state::backoff: return "backoff";
  }
  return "idle";
}

void enter(peer& p, connection_state s) {
  if (p.state != s) p.since = wall_now();
  p.state = s;
}

caf::error unreachable(const std::string& node_id, const peer& p) {
  return make_api_error(api_errc::unavailable,
                        "node " + node_id + " is unreachable" +
                            (p.last_error.empty() ? "" : ": " + p.last_error),
                        R"({"retry_after_ms":1000})");
}

// Hands one message to the remote directory, which delivers it to the domain actor.
void deliver(self_ptr self, const std::string& node_id, peer& p, peers_state::pending item) {
  msg::routed r{node_id, std::move(item.domain), std::move(item.payload)};
  if (item.reply) item.reply->delegate(p.remote, std::move(r));
  else self->send(p.remote, std::move(r));
}

void fail_queue(const std::string& node_id, peer& p) {
  for (auto& item : p.queue) {
    if (item.reply) item.reply->deliver(unreachable(node_id, p));
    else ++p.dropped;
  }
  p.queue.clear();
}

// Connects to `endpoint` and asks who is there; calls `done(remote, identity)` or
// `failed(reason)`.
template <class Done, class Failed>
void connect_endpoint(self_ptr self, const peers_config& cfg, const std::string& endpoint,
                      Done done, Failed failed) {
  auto hp = parse_host_port(endpoint);
  if (!hp) {
    failed("'" + endpoint + "' is not host:port");
    return;
  }
  self->request(cfg.connector, cfg.connect_timeout, caf::connect_atom::value, hp->host, hp->port)
      .then(
          [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) mutable {
            if (!ptr) {
              failed("nothing is published at " + endpoint);
              return;
            }
            auto remote = caf::actor_cast<caf::actor>(ptr);
            self->request(remote, cfg.connect_timeout, msg::identify_request{})
                .then([=](msg::node_identity& id) mutable { done(remote, id); },
                      [=](caf::error& err) mutable {
                        failed("no answer from " + endpoint + ": " + describe_error(err));
                      });
          },
          [=](caf::error& err) mutable {
            failed("cannot connect to " + endpoint + ": " + describe_error(err));
          });
}

void on_connected(self_ptr self, const std::string& node_id, peer& p, caf::actor remote) {
  p.remote = remote;
  p.failures = 0;
  p.last_error.clear();
  ++p.connects;
  enter(p, connection_state::connected);
  self->monitor(remote);
  log::debug("peers", "connected", {{"node_id", json::quote(node_id)}, {"endpoint", json::quote(p.endpoint)}});
  while (!p.queue.empty()) {
    auto item = std::move(p.queue.front());
    p.queue.pop_front();
    deliver(self, node_id, p, std::move(item));
  }
}

void on_failed(self_ptr self, const peers_config& cfg, const std::string& node_id, peer& p,
               const std::string& reason) {
  p.remote = nullptr;
  p.last_error = reason;
  ++p.failures;
  enter(p, connection_state::backoff);
  fail_queue(node_id, p);
  // Exponential backoff with jitter, so a cluster restarting together does not reconnect in step.
  auto base = cfg.backoff_min.count() << std::min(p.failures - 1, 16);
  auto capped = std::min<std::int64_t>(base, cfg.backoff_max.count());
  auto jitter = std::uniform_real_distribution<double>(0.8, 1.2)(self->state.rng);
  auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(capped) * jitter));
  self->delayed_send(self, delay, retry_peer{node_id, p.attempt});
  log::debug("peers", "connection failed",
             {{"node_id", json::quote(node_id)}, {"error", json::quote(reason)},
              {"retry_ms", std::to_string(delay.count())}});
}

void connect(self_ptr self, const peers_config& cfg, const std::string& node_id, peer& p) {
  enter(p, connection_state::connecting);
  auto attempt = ++p.attempt;
  auto current = [self, node_id, attempt]() -> peer* {
    auto it = self->state.peers.find(node_id);
    return it != self->state.peers.end() && it->second.attempt == attempt ? &it->second : nullptr;
  };
  connect_endpoint(
      self, cfg, p.endpoint,
      [=](caf::actor remote, msg::node_identity& id) {
        peer* q = current();
        if (!q) return;
        if (id.node_id != node_id) {
          on_failed(self, cfg, node_id, *q, q->endpoint + " is node " + id.node_id + ", not " + node_id);
          return;
        }
        on_connected(self, node_id, *q, remote);
      },
      [=](const std::string& reason) {
        if (peer* q = current()) on_failed(self, cfg, node_id, *q, reason);
      });
}

// Sends now, queues while connecting, or fails fast while backing off.
void route(self_ptr self, const peers_config& cfg, const std::string& node_id,
           peers_state::pending item) {
  auto it = self->state.peers.find(node_id);
  if (it == self->state.peers.end()) {
    if (item.reply)
      item.reply->deliver(make_api_error(api_errc::unavailable,
                                         "no endpoint is known for node " + node_id,
                                         R"({"retry_after_ms":1000})"));
    return;
  }
  peer& p = it->second;
  switch (p.state) {
    case connection_state::connected:
      deliver(self, node_id, p, std::move(item));
      return;
    case connection_state::backoff:
      if (item.reply) item.reply->deliver(unreachable(node_id, p));
      else ++p.dropped;
      return;
    case connection_state::idle:
      connect(self, cfg, node_id, p);
      [[fallthrough]];
    case connection_state::connecting:
      if (p.queue.size() >= cfg.queue_limit) {
        auto& oldest = p.queue.front();
        if (oldest.reply) oldest.reply->deliver(unreachable(node_id, p));
        else ++p.dropped;
        p.queue.pop_front();
      }
      p.queue.push_back(std::move(item));
      return;
  }
}

// Forgets the connection (it is re-established on the next message).
void disconnect(self_ptr self, const std::string& node_id, peer& p, const std::string& reason) {
  if (p.remote) self->demonitor(p.remote);
  p.remote = nullptr;
  ++p.attempt;
  p.last_error = reason;
  fail_queue(node_id, p);
  enter(p, connection_state::idle);
}

}  // namespace

caf::behavior peers_actor(caf::stateful_actor<peers_state>* self, peers_config cfg) {
  self->send(cfg.directory, msg::directory_subscribe{});
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& [id, p] : self->state.peers)
      if (p.remote && p.remote.address() == dm.source) {
        log::info("peers", "connection lost",
                  {{"node_id", json::quote(id)}, {"reason", json::quote(caf::to_string(dm.reason))}});
        disconnect(self, id, p, "connection lost: " + caf::to_string(dm.reason));
        // A broken connection often means a dead process: SWIM checks at once, and Raft stops
        // waiting out an election timeout if it was the leader.
        if (self->state.swim) self->send(self->state.swim, msg::peer_lost{id});
        if (self->state.raft) self->send(self->state.raft, msg::peer_lost{id});
        return;
      }
  });
  auto summary = [self] {
    json::writer w;
    w.begin_object().key("peers").begin_object();
    for (const auto& [id, p] : self->state.peers)
      w.key(id)
          .begin_object()
          .field("endpoint", p.endpoint)
          .field("connection", connection_name(p.state))
          .field("queued", p.queue.size())
          .field("connects", p.connects)
          .field("dropped", p.dropped)
          .field("last_error", p.last_error)
          .end_object();
    w.end_object().end_object();
    return w.take();
  };
  return instrumented(
      self, "peers", summary, {},
      [=](msg::directory_update& u) {
        if (u.entry.name == "raft") self->state.raft = u.entry.handle;
        if (u.entry.name != "swim" || !u.entry.handle || u.entry.handle == self->state.swim) return;
        self->state.swim = u.entry.handle;
        self->send(u.entry.handle, msg::swim_subscribe{});
      },
      [=](msg::membership_change& c) {
        // A node SWIM gives up on: its connection (if the middleman has not noticed) goes too.
        if (c.state != swim::member_state::dead && c.state != swim::member_state::left) return;
        if (auto it = self->state.peers.find(c.node_id); it != self->state.peers.end())
          disconnect(self, c.node_id, it->second, std::string("SWIM holds it ") +
                                                      std::string(swim::state_name(c.state)));
      },
      [=](msg::peer_endpoint& e) {
        if (e.node_id == cfg.self_id || e.endpoint.empty()) return;
        auto& p = self->state.peers[e.node_id];
        if (p.endpoint == e.endpoint) return;
        // A new endpoint (a restart on another port): a fresh start, no backoff.
        if (!p.endpoint.empty())
          log::info("peers", "endpoint changed",
                    {{"node_id", json::quote(e.node_id)}, {"from", json::quote(p.endpoint)},
                     {"to", json::quote(e.endpoint)}});
        bool had_queue = !p.queue.empty();
        p.endpoint = e.endpoint;
        p.failures = 0;
        if (p.state != connection_state::idle) {
          auto queued = std::move(p.queue);
          p.queue.clear();
          disconnect(self, e.node_id, p, "endpoint changed");
          for (auto& item : queued) route(self, cfg, e.node_id, std::move(item));
        } else if (had_queue) {
          connect(self, cfg, e.node_id, p);
        }
      },
      [=](msg::peer_send& s) {
        route(self, cfg, s.node_id, {std::move(s.domain), std::move(s.payload), std::nullopt});
      },
      [=](msg::peer_request& r) {
        auto rp = self->make_response_promise();
        route(self, cfg, r.node_id, {std::move(r.domain), std::move(r.payload), rp});
      },
      [=](msg::peer_connect& c) -> caf::result<msg::node_identity> {
        auto rp = self->make_response_promise<msg::node_identity>();
        connect_endpoint(
            self, cfg, c.endpoint,
            [=](caf::actor remote, msg::node_identity& id) mutable {
              if (id.node_id != cfg.self_id) {
                // Keep the connection: the caller is about to talk to this node.
                auto& p = self->state.peers[id.node_id];
                if (p.state != connection_state::connected) {
                  p.endpoint = id.cluster_endpoint.empty() ? c.endpoint : id.cluster_endpoint;
                  ++p.attempt;
                  on_connected(self, id.node_id, p, remote);
                }
              }
              rp.deliver(std::move(id));
            },
            [=](const std::string& reason) mutable {
              rp.deliver(make_api_error(api_errc::unavailable, reason, R"({"retry_after_ms":1000})"));
            });
        return rp;
      },
      [=](retry_peer& r) {
        auto it = self->state.peers.find(r.node_id);
        if (it == self->state.peers.end() || it->second.attempt != r.attempt ||
            it->second.state != connection_state::backoff)
          return;
        enter(it->second, connection_state::idle);  // the next message connects
      },
      [=](msg::peers_request&) {
        msg::peers_reply reply;
        for (const auto& [id, p] : self->state.peers)
          reply.peers.push_back({id, p.endpoint, std::string(connection_name(p.state)),
                                 format_rfc3339(p.since), p.connects, p.dropped, p.last_error});
        return reply;
      });
}

}  // namespace p2p
