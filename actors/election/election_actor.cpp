#include "actors/election/election_actor.hpp"

#include <caf/all.hpp>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/election_codec.hpp"
#include "protocol/messages/membership.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<election_state>*;

struct election_tick {};
template <class F> auto inspect(F& f, election_tick&) { return f(); }
// The heard view may have lapsed: look again.
struct election_expiry {};
template <class F> auto inspect(F& f, election_expiry&) { return f(); }

election::time_ms now_ms(const election_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mono_now() - st.epoch).count();
}

// Both sides name a bootstrap voter list and they differ: another cluster's message.
bool foreign(const election_config& cfg, std::uint64_t voters_hash) {
  return voters_hash != 0 && cfg.voters_hash != 0 && voters_hash != cfg.voters_hash;
}

caf::error refused_foreign(self_ptr self, const std::string& what, const std::string& from) {
  ++self->state.refused;
  log::error("election", "refused a message from another voter set (check that --voters is the same on every voter)",
             {{"message", json::quote(what)}, {"from", json::quote(from)}});
  return make_api_error(api_errc::conflict,
                        std::string(what).append(" from ").append(from).append(
                            " refused: its bootstrap voter list differs from this node's"),
                        R"({"field":"voters_hash"})");
}

caf::error bad_field(const std::string& message, const std::string& field) {
  return make_api_error(api_errc::bad_request, message, std::string("{\"field\":").append(json::quote(field)).append("}"));
}

// A node that is not a Raft member forwards its leader placements to the leader heartbeats
// name: the raft actor hears of every change (and of none, once the lease runs out).
void tell_raft(self_ptr self) {
  auto& st = self->state;
  auto raft = st.handles["raft"];
  if (!raft) return;
  const auto heard = st.view->heard(now_ms(st));
  msg::heard_leader now{heard.leader, heard.term};
  if (st.told_raft && st.told_raft->leader_id == now.leader_id && st.told_raft->term == now.term) return;
  // Raft members log their leaders themselves; here the view is the heartbeats'.
  const bool was_known = st.told_raft && !st.told_raft->leader_id.empty();
  if (!st.view->raft().member && (was_known || !now.leader_id.empty())) {
    if (now.leader_id.empty())
      log::info("election", "no leader known: its heartbeats stopped for longer than their lease",
                {{"term", std::to_string(now.term)}});
    else
      log::info("election", "following the leader its heartbeats name",
                {{"leader_id", json::quote(now.leader_id)}, {"term", std::to_string(now.term)}});
  }
  st.told_raft = now;
  self->send(raft, std::move(now));
}

// One timer at a time, due when the heard view's lease ends.
void schedule_expiry(self_ptr self) {
  auto& st = self->state;
  if (st.expiry_scheduled) return;
  const auto now = now_ms(st);
  auto until = st.view->heard_until(now);
  if (!until) return;
  st.expiry_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds(*until - now + 1), election_expiry{});
}

void announce(self_ptr self, const election_config& cfg, const std::string& member) {
  auto& st = self->state;
  auto peers = st.handles["peers"];
  if (!peers || !st.view->leading() || !st.in_flight.insert(member).second) return;
  const auto hb = st.view->heartbeat_to_send(now_ms(st));
  msg::election_heartbeat wire{hb.leader, hb.term, hb.lease, {hb.where.http, hb.where.cluster}, cfg.voters_hash, {}, {}};
  ++st.heartbeats_sent;
  // Answered within an interval, or the member counts as not answering (and the next tick
  // announces again).
  self->request(peers, std::chrono::milliseconds(cfg.timing.heartbeat),
                msg::peer_request{member, "election", caf::make_message(std::move(wire))})
      .then(
          [=](msg::election_vote& v) {
            auto& s = self->state;
            s.in_flight.erase(member);
            ++s.votes_received;
            const auto verdict = s.view->vote_received({member, v.leader_id, v.term}, now_ms(s));
            // A member that names another leader or term hears from us again at once, but only
            // once per interval: a member whose Raft disagrees must not make us loop.
            if (verdict.recorded && !verdict.follower && s.reannounced.insert(member).second)
              announce(self, cfg, member);
          },
          [=](caf::error& err) {
            auto& s = self->state;
            s.in_flight.erase(member);
            s.view->no_answer(member);
            log::debug("election", "no vote from a member",
                       {{"member", json::quote(member)}, {"error", json::quote(describe_error(err))}});
          });
}

void announce_to_all(self_ptr self, const election_config& cfg) {
  for (const auto& member : self->state.view->alive_members()) announce(self, cfg, member);
}

msg::election_status_reply status_of(const election_state& st) {
  const auto now = now_ms(st);
  const auto s = st.view->snapshot(now);
  msg::election_status_reply r;
  r.node_id = s.self;
  r.leader_id = s.current.leader;
  r.term = s.current.term;
  r.role = std::string(election::role_name(s.r));
  r.lease_remaining_ms = s.current.lease_remaining;
  r.endpoints = {s.current.where.http, s.current.where.cluster};
  r.followers = s.followers;
  r.stragglers = s.stragglers;
  for (const auto& m : s.members)
    r.members.push_back({m.node, m.leader, m.term, m.voted_at ? now - *m.voted_at : -1});
  return r;
}

}  // namespace

caf::behavior election_actor(self_ptr self, election_config cfg) {
  auto& st = self->state;
  st.epoch = mono_now();
  st.view.emplace(cfg.node_id, cfg.timing, cfg.own);
  self->send(cfg.directory, msg::directory_subscribe{});
  self->delayed_send(self, std::chrono::milliseconds(cfg.timing.heartbeat), election_tick{});

  auto summary = [self] {
    const auto& s = self->state;
    json::writer w;
    w.begin_object()
        .key("status")
        .raw(codec::encode(status_of(s)))
        .field("profile", s.view->times().name)
        .field("heartbeat_ms", s.view->times().heartbeat)
        .field("lease_ms", s.view->times().lease)
        .field("heartbeats_sent", s.heartbeats_sent)
        .field("heartbeats_received", s.heartbeats_received)
        .field("votes_received", s.votes_received)
        .field("refused_messages", s.refused)
        .end_object();
    return w.take();
  };
  std::vector<safe_command> commands{
      safe<msg::election_status_request, msg::election_status_reply>(
          "status", "",
          [](const std::vector<std::string>& args) -> std::optional<msg::election_status_request> {
            if (!args.empty()) return std::nullopt;
            return msg::election_status_request{};
          },
          [](const msg::election_status_reply& r) { return codec::encode(r); }),
  };
  return instrumented(
      self, "election", summary, std::move(commands),
      [=](election_tick&) {
        auto& s = self->state;
        self->delayed_send(self, std::chrono::milliseconds(cfg.timing.heartbeat), election_tick{});
        s.reannounced.clear();
        announce_to_all(self, cfg);
        tell_raft(self);
      },
      [=](election_expiry&) {
        self->state.expiry_scheduled = false;
        tell_raft(self);
        schedule_expiry(self);  // a later heartbeat extended the lease
      },
      [=](msg::election_heartbeat& hb) -> caf::result<msg::election_vote> {
        auto& s = self->state;
        if (!hb.error.empty()) return bad_field(hb.error, hb.error_field);
        if (foreign(cfg, hb.voters_hash)) return refused_foreign(self, "heartbeat", hb.leader_id);
        ++s.heartbeats_received;
        const auto v = s.view->heartbeat_received({hb.leader_id, hb.term, hb.lease_remaining_ms,
                                                   {hb.endpoints.http, hb.endpoints.cluster}},
                                                  now_ms(s));
        tell_raft(self);
        schedule_expiry(self);
        return msg::election_vote{v.node, v.leader, v.term, cfg.voters_hash, {}, {}};
      },
      [=](msg::election_vote& v) -> caf::result<msg::election_vote_ack> {
        auto& s = self->state;
        if (!v.error.empty()) return bad_field(v.error, v.error_field);
        if (foreign(cfg, v.voters_hash)) return refused_foreign(self, "vote", v.node_id);
        ++s.votes_received;
        const auto verdict = s.view->vote_received({v.node_id, v.leader_id, v.term}, now_ms(s));
        if (verdict.recorded && !verdict.follower && s.reannounced.insert(v.node_id).second)
          announce(self, cfg, v.node_id);
        return msg::election_vote_ack{verdict.recorded, verdict.follower};
      },
      [=](msg::election_status_request&) { return status_of(self->state); },
      [=](msg::leadership_transfer_request& r) -> caf::result<msg::leadership_transfer_reply> {
        if (r.to.empty()) return bad_field("to must name the voter to hand leadership to", "to");
        auto raft = self->state.handles["raft"];
        if (!raft)
          return make_api_error(api_errc::unavailable, "the raft actor is not running", R"({"retry_after_ms":1000})");
        // Raft hands leadership over (forwarding to the leader if needed) and answers once done.
        auto rp = self->make_response_promise();
        rp.delegate(raft, std::move(r));
        return rp;
      },
      [=](msg::raft_leadership& l) {
        auto& s = self->state;
        const bool was_leading = s.view->leading();
        const auto role = election::role_named(l.role).value_or(election::role::non_voter);
        s.view->raft_changed({role, l.leader_id, l.term, l.member});
        // A new leader announces itself at once rather than at the next tick.
        if (s.view->leading() && !was_leading) announce_to_all(self, cfg);
      },
      [=](msg::membership_change& c) {
        auto& s = self->state;
        if (c.node_id == cfg.node_id) return;
        // A suspect member may well be alive (a slow probe): it keeps hearing from the leader
        // until SWIM declares it dead or gone, so a false suspicion does not blank its view.
        if (c.state == swim::member_state::alive || c.state == swim::member_state::suspect) {
          s.view->member_alive(c.node_id);
          announce(self, cfg, c.node_id);  // a member that comes (back) hears of the leader at once
        } else {
          s.view->member_gone(c.node_id);
        }
      },
      [=](msg::directory_update& u) {
        const auto& name = u.entry.name;
        if (name != "peers" && name != "swim" && name != "raft") return;
        auto& s = self->state;
        s.handles[name] = u.entry.handle;
        if (name == "swim" && u.entry.handle) self->send(u.entry.handle, msg::swim_subscribe{});
        if (name == "raft") {
          s.told_raft.reset();  // a (re)started raft actor learns the view anew
          tell_raft(self);
        }
      });
}

}  // namespace p2p
