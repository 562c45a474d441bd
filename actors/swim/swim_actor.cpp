#include "actors/swim/swim_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/membership_codec.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<swim_state>*;

struct swim_tick {
  swim::time_ms at = 0;
};
template <class F> auto inspect(F& f, swim_tick& x) { return f(x.at); }

swim::time_ms now_ms(const swim_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mono_now() - st.epoch).count();
}

std::string wall_at(const swim_state& st, swim::time_ms t) {
  return format_rfc3339(st.epoch_wall + std::chrono::milliseconds(t));
}

void publish(self_ptr self, const std::string& type, std::string payload) {
  auto it = self->state.handles.find("events");
  if (it == self->state.handles.end() || !it->second) {
    log::warn("swim", "cannot publish an event: the events actor is not running", {{"type", json::quote(type)}});
    return;
  }
  self->request(it->second, std::chrono::seconds(5), msg::publish_event{type, std::move(payload)})
      .then([](msg::event_record&) {},
            [type](caf::error& err) {
              log::error("swim", "cannot publish an event",
                         {{"type", json::quote(type)}, {"error", json::quote(describe_error(err))}});
            });
}

// HOST_ONLINE when a member appears or comes back, HOST_OFFLINE when it dies or leaves;
// suspicion alone is not news. Node-scoped observations until a leader speaks for the cluster.
void announce(self_ptr self, const swim::verdict& v, const std::string& endpoint) {
  auto& st = self->state;
  auto previous = st.announced.find(v.node);
  bool was_online = previous != st.announced.end() && previous->second == swim::member_state::alive;
  std::string type;
  std::string reason;
  if (v.state == swim::member_state::alive && !was_online) type = "HOST_ONLINE";
  if (v.state == swim::member_state::dead || v.state == swim::member_state::left) {
    if (previous != st.announced.end() && previous->second == v.state) return;
    type = "HOST_OFFLINE";
    reason = v.state == swim::member_state::dead ? "failed" : "left";
  }
  if (type.empty()) return;
  // HOST_ONLINE names the node's work types: wait for its gossip record if SWIM was first.
  if (type == "HOST_ONLINE" && !st.work_types.count(v.node)) {
    st.online_pending.insert(v.node);
    return;
  }
  st.online_pending.erase(v.node);
  st.announced[v.node] = v.state;
  json::writer w;
  w.begin_object().field("node_id", v.node).key("work_types").begin_array();
  for (const auto& t : st.work_types[v.node]) w.value(t);
  w.end_array().field("incarnation", v.incarnation).field("endpoint", endpoint);
  if (!reason.empty()) w.field("reason", reason);
  w.end_object();
  publish(self, type, w.take());
}

void schedule(self_ptr self) {
  auto& st = self->state;
  auto next = st.detector->next_deadline();
  if (!st.ticks.empty() && *st.ticks.begin() <= next) return;
  st.ticks.insert(next);
  auto delay = std::max<swim::time_ms>(1, next - now_ms(st));
  self->delayed_send(self, std::chrono::milliseconds(delay), swim_tick{next});
}

// Sends what the detector wants sent, tells subscribers its verdicts, answers a finished leave.
void flush(self_ptr self, const swim_config& cfg) {
  auto& st = self->state;
  auto& d = *st.detector;
  auto peers = st.handles["peers"];
  for (auto& out : d.take_outbox()) {
    if (!peers) continue;  // like a lost datagram: SWIM copes
    self->send(peers, msg::peer_send{out.to, "swim",
                                     caf::make_message(msg::swim_packet{cfg.endpoint, std::move(out.msg)})});
  }
  for (const auto& v : d.take_verdicts()) {
    std::string endpoint;
    if (auto it = d.members().find(v.node); it != d.members().end()) endpoint = it->second.address;
    // The log follows SWIM's verdicts as they happen (events may wait for gossip's details).
    auto previous = st.verdicts.find(v.node);
    bool was_known = previous != st.verdicts.end();
    const char* what = nullptr;
    if (v.state == swim::member_state::suspect) {
      ++st.suspicions;
      what = "member suspected";
    } else if (v.state == swim::member_state::alive) {
      what = was_known && previous->second == swim::member_state::suspect ? "member cleared" : "member online";
    } else {
      what = "member offline";
    }
    st.verdicts[v.node] = v.state;
    log::info("swim", what,
              {{"node_id", json::quote(v.node)}, {"state", json::quote(swim::state_name(v.state))},
               {"incarnation", std::to_string(v.incarnation)}});
    for (const auto& s : st.subscribers)
      self->send(s, msg::membership_change{v.node, v.state, v.incarnation, endpoint});
    announce(self, v, endpoint);
  }
  if (!st.leave_waiters.empty() && d.leave_settled(now_ms(st))) {
    for (auto& rp : st.leave_waiters) rp.deliver(msg::swim_leave_reply{true});
    st.leave_waiters.clear();
  }
  schedule(self);
}

msg::swim_member member_view(const swim_state& st, const swim::member& m) {
  return {m.id, std::string(swim::state_name(m.state)), m.incarnation, m.address, wall_at(st, m.since)};
}

}  // namespace

caf::behavior swim_actor(caf::stateful_actor<swim_state>* self, swim_config cfg) {
  auto& st = self->state;
  st.epoch = mono_now();
  st.epoch_wall = wall_now();
  st.detector.emplace(cfg.node_id, cfg.endpoint, cfg.profile, cfg.seed, 0);
  self->send(cfg.directory, msg::directory_subscribe{});
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& a) { return a.address() == dm.source; }),
               subs.end());
  });
  schedule(self);
  auto status = [=]() {
    const auto& s = self->state;
    const auto& d = *s.detector;
    msg::swim_status_reply r;
    r.node_id = cfg.node_id;
    r.incarnation = d.incarnation();
    r.profile = d.settings().name;
    r.local_health = d.local_health();
    (d.leaving() ? r.left : r.alive) += 1;
    for (const auto& [id, m] : d.members()) {
      switch (m.state) {
        case swim::member_state::alive: ++r.alive; break;
        case swim::member_state::suspect: ++r.suspect; break;
        case swim::member_state::dead: ++r.dead; break;
        case swim::member_state::left: ++r.left; break;
      }
    }
    r.suspicions = s.suspicions;
    r.refutations = s.refutations;
    return r;
  };
  auto members = [=]() {
    const auto& s = self->state;
    const auto& d = *s.detector;
    msg::swim_members_reply r;
    r.members.push_back({cfg.node_id, d.leaving() ? "left" : "alive", d.incarnation(), cfg.endpoint,
                         wall_at(s, 0)});
    for (const auto& [id, m] : d.members()) r.members.push_back(member_view(s, m));
    return r;
  };
  auto summary = [=] {
    json::writer w;
    w.begin_object()
        .key("status")
        .raw(codec::encode(status()))
        .field("subscribers", self->state.subscribers.size())
        .field("pending_ticks", self->state.ticks.size())
        .end_object();
    return w.take();
  };
  auto no_args = [](const std::vector<std::string>& args) -> std::optional<msg::swim_members_request> {
    if (!args.empty()) return std::nullopt;
    return msg::swim_members_request{};
  };
  std::vector<safe_command> commands{
      safe<msg::swim_members_request, msg::swim_members_reply>(
          "members", "", no_args, [](const msg::swim_members_reply& r) { return codec::encode(r); }),
  };
  return instrumented(
      self, "swim", summary, std::move(commands),
      [=](swim_tick& t) {
        self->state.ticks.erase(t.at);
        self->state.detector->tick(now_ms(self->state));
        flush(self, cfg);
      },
      [=](msg::swim_packet& p) {
        auto& s = self->state;
        auto& from = p.body.from;
        if (from.empty() || from == cfg.node_id) return;
        if (!p.from_endpoint.empty() && s.endpoints_told[from] != p.from_endpoint) {
          s.endpoints_told[from] = p.from_endpoint;
          if (auto peers = s.handles["peers"]) self->send(peers, msg::peer_endpoint{from, p.from_endpoint});
        }
        auto before = s.detector->incarnation();
        s.detector->receive(p.body, now_ms(s));
        if (s.detector->incarnation() > before) {
          ++s.refutations;
          log::info("swim", "refuted a suspicion", {{"incarnation", std::to_string(s.detector->incarnation())}});
        }
        flush(self, cfg);
      },
      [=](msg::swim_learn& l) {
        auto& s = self->state;
        if (l.node_id == cfg.node_id) return;
        s.work_types[l.node_id] = l.work_types;
        s.detector->add_member(l.node_id, l.endpoint, now_ms(s), l.fresh);
        if (s.online_pending.count(l.node_id)) {
          const auto& m = s.detector->members().at(l.node_id);
          if (m.state == swim::member_state::alive)
            announce(self, {l.node_id, m.state, m.incarnation, now_ms(s)}, m.address);
        }
        flush(self, cfg);
      },
      [=](msg::swim_forget& f) {
        self->state.detector->forget(f.node_id);
        self->state.announced.erase(f.node_id);
      },
      [=](msg::swim_bulk_backlog& b) { self->state.detector->set_bulk_backlog(b.outstanding); },
      [=](msg::peer_lost& l) {
        self->state.detector->probe_now(l.node_id, now_ms(self->state));
        flush(self, cfg);
      },
      [=](msg::swim_subscribe&) {
        auto sub = caf::actor_cast<caf::actor>(self->current_sender());
        if (!sub) return;
        self->monitor(sub);
        for (const auto& [id, m] : self->state.detector->members())
          self->send(sub, msg::membership_change{id, m.state, m.incarnation, m.address});
        self->state.subscribers.push_back(sub);
      },
      [=](msg::swim_leave_request&) -> caf::result<msg::swim_leave_reply> {
        auto& s = self->state;
        auto rp = self->make_response_promise<msg::swim_leave_reply>();
        s.leave_waiters.push_back(rp);
        if (!s.detector->leaving()) log::info("swim", "leaving the cluster");
        s.detector->leave(now_ms(s));
        flush(self, cfg);
        return rp;
      },
      [=](msg::swim_status_request&) { return status(); },
      [=](msg::swim_members_request&) { return members(); },
      [=](msg::directory_update& u) {
        if (u.entry.name == "peers" || u.entry.name == "events")
          self->state.handles[u.entry.name] = u.entry.handle;
      });
}

}  // namespace p2p
