#include "actors/raft/raft_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <fstream>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/election.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/raft.hpp"
#include "protocol/messages/raft_codec.hpp"
#include "protocol/messages/work.hpp"
#include "protocol/messages/work_codec.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<raft_state>*;

struct raft_tick {
  raft::time_ms at = 0;
};
template <class F> auto inspect(F& f, raft_tick& x) { return f(x.at); }
// Queued behind whatever is in the mailbox: everything that arrived meanwhile is persisted with
// one fsync (group commit).
struct raft_flush {};
template <class F> auto inspect(F& f, raft_flush&) { return f(); }

// The write-ahead log lives in its own thread (a detached actor): an fdatasync must not hold up
// the node's actors, and the raft actor goes on with new input while a batch is written.
struct storage_write {
  raft::persist_batch batch;
};
struct storage_written {
  bool synced = false;
  double ms = 0;
};

}  // namespace
}  // namespace p2p

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::storage_write)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::storage_written)

namespace p2p {
namespace {

// Writes batches in the order they come (the raft actor relies on it).
caf::behavior storage_actor(caf::event_based_actor*, std::shared_ptr<raft::wal> log) {
  return {[log](storage_write& w) -> caf::result<storage_written> {
    const auto start = mono_now();
    const bool synced = log->needs_sync(w.batch);
    try {
      log->write(w.batch);
    } catch (const std::exception& e) {
      return make_api_error(api_errc::internal, e.what());
    }
    return storage_written{synced, std::chrono::duration<double, std::milli>(mono_now() - start).count()};
  }};
}

raft::time_ms now_ms(const raft_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mono_now() - st.epoch).count();
}

std::string retry_details(const raft::timing& t) {
  return R"({"retry_after_ms":)" + std::to_string(t.election_max) + "}";
}

caf::error no_leader(const raft::timing& t) {
  return make_api_error(api_errc::unavailable, "no Raft leader is known yet (an election may be running)",
                        retry_details(t));
}

void schedule(self_ptr self) {
  auto& st = self->state;
  auto next = st.core->next_deadline();
  if (!st.ticks.empty() && *st.ticks.begin() <= next) return;
  st.ticks.insert(next);
  auto delay = std::max<raft::time_ms>(1, next - now_ms(st));
  self->delayed_send(self, std::chrono::milliseconds(delay), raft_tick{next});
}

void queue_flush(self_ptr self) {
  if (self->state.flush_queued) return;
  self->state.flush_queued = true;
  self->send(self, raft_flush{});
}


// A work query answered from this node's applied state (the caller decided it may be).
msg::work_query_reply answer_work_query(const work::work_queue_state_machine& m, const msg::work_query& q,
                                        raft::index_t applied) {
  msg::work_query_reply r;
  r.index = applied;
  auto with_counts = [&] {
    auto c = m.count();
    r.by_status = codec::status_counts(c);
    r.by_type = codec::type_counts(c);
    r.total = c.total;
    r.active = c.active;
  };
  switch (q.kind) {
    case msg::work_query_kind::get:
      if (const auto* x = m.get(q.work_id)) {
        r.found = true;
        r.items.push_back(*x);
      }
      break;
    case msg::work_query_kind::list: {
      work::list_filter f;
      if (!q.status.empty()) f.state = work::status_named(q.status);
      f.work_type = q.work_type;
      f.claimed_by = q.claimed_by;
      f.limit = q.limit;
      f.cursor = q.cursor;
      auto page = m.list(f);
      r.items = std::move(page.items);
      r.next_cursor = std::move(page.next_cursor);
      with_counts();
      break;
    }
    case msg::work_query_kind::counts:
      with_counts();
      r.oldest_finished_ms = m.oldest_finished();
      break;
    case msg::work_query_kind::claimed_by: r.items = m.claimed_by(q.node_id); break;
    case msg::work_query_kind::claims: r.claims = m.claims(); break;
    case msg::work_query_kind::recent:
      r.items = m.recent(q.limit);
      with_counts();
      break;
  }
  return r;
}

void serve_reads(self_ptr self) {
  auto& st = self->state;
  const auto applied = st.core->applied_index();
  for (auto it = st.reads.begin(); it != st.reads.end();) {
    auto& r = it->second;
    if (!r.index || *r.index > applied) {
      ++it;
      continue;
    }
    msg::raft_kv_reply reply{r.key, false, {}, applied};
    if (const auto* v = st.machine->kv().get(r.key)) {
      reply.found = true;
      reply.value = *v;
    }
    r.promise.deliver(std::move(reply));
    it = st.reads.erase(it);
  }
  for (auto it = st.work_reads.begin(); it != st.work_reads.end();) {
    auto& r = it->second;
    if (!r.index || *r.index > applied) {
      ++it;
      continue;
    }
    r.promise.deliver(answer_work_query(st.machine->work(), r.query, applied));
    it = st.work_reads.erase(it);
  }
}

// Hands what applied work commands produced to the events and work_queue actors, in apply order,
// once they are known.
void drain_outboxes(self_ptr self) {
  auto& st = self->state;
  if (auto events = st.handles["events"])
    for (; !st.events_outbox.empty(); st.events_outbox.pop_front()) self->send(events, std::move(st.events_outbox.front()));
  if (auto work = st.handles["work_queue"])
    for (; !st.work_outbox.empty(); st.work_outbox.pop_front()) self->send(work, std::move(st.work_outbox.front()));
}

std::string_view state_label(const raft::core& c);

// A voter or a learner: it holds the log and hears the leader's appends.
bool applies_log(const raft::core& c, const std::string& node_id) {
  const auto& learners = c.members().learners;
  return c.is_voter() || std::find(learners.begin(), learners.end(), node_id) != learners.end();
}

// The one answer to "who leads" on this node: Raft's on a member (a leader that removed itself
// counts until it steps down), the election actor's heartbeats elsewhere.
bool raft_knows_leader(const raft::core& c, const std::string& node_id) {
  return c.state() == raft::role::leader || applies_log(c, node_id);
}
const std::string& known_leader(const raft_state& st, const std::string& node_id) {
  return raft_knows_leader(*st.core, node_id) ? st.core->leader() : st.heard.leader_id;
}
raft::term_t known_term(const raft_state& st, const std::string& node_id) {
  return raft_knows_leader(*st.core, node_id) ? st.core->term() : st.heard.term;
}

// Tells the election actor Raft's word on this node whenever it changes.
void tell_election(self_ptr self, const std::string& node_id) {
  auto& st = self->state;
  auto election = st.handles["election"];
  if (!election) return;
  const auto& c = *st.core;
  msg::raft_leadership now{std::string(state_label(c)), c.leader(), c.term(), raft_knows_leader(c, node_id)};
  const auto& told = st.election_told;
  if (told && told->role == now.role && told->leader_id == now.leader_id && told->term == now.term &&
      told->member == now.member)
    return;
  st.election_told = now;
  self->send(election, std::move(now));
}

// Tells the work_queue actor who leads whenever that changes: the leader's work_queue actor
// keeps the leases, the others forward heartbeats to it.
void tell_leadership(self_ptr self, const std::string& node_id) {
  auto& st = self->state;
  auto work = st.handles["work_queue"];
  if (!work) return;
  const auto& c = *st.core;
  msg::work_leadership now{c.state() == raft::role::leader, known_leader(st, node_id), known_term(st, node_id),
                           applies_log(c, node_id)};
  const auto& told = st.leadership_told;
  if (told && told->leader == now.leader && told->leader_id == now.leader_id && told->term == now.term &&
      told->applies_log == now.applies_log)
    return;
  st.leadership_told = now;
  self->send(work, std::move(now));
}

// The replicated events and the work_queue actor's notice of one applied work command.
void hand_on_work(self_ptr self, const raft::entry& e, raft::applied_entry& applied) {
  auto& st = self->state;
  for (auto& ev : applied.work_answer.events)
    st.events_outbox.push_back({std::move(ev.event_id), std::move(ev.type), std::move(ev.payload_json), e.term, ev.at});
  const auto& reply = applied.work_answer.response;
  st.work_outbox.push_back(
      {e.index, e.term, applied.work_op, reply.ok() ? reply.status : std::string(), std::move(applied.work_answer.archived)});
  drain_outboxes(self);
}

// LEADER_CHANGED is the apply of a term's first entry (DESIGN.md §4 "Events"): the new leader's
// no-op, which names it and the leader before it, so every voter announces the same event with
// the same id. It follows the entry's own events (`events_before` of them) in the id order.
void announce_leader(self_ptr self, const raft::entry& e, std::size_t events_before) {
  auto& st = self->state;
  auto start = e.type == raft::entry_type::noop ? raft::decode_term_start(e.data) : raft::term_start{};
  // A term start written before leaders were named: Raft still knows who leads that term.
  if (start.leader.empty() && st.core->term() == e.term) start.leader = st.core->leader();
  json::writer w;
  w.begin_object().key("new_leader_id");
  if (start.leader.empty()) w.null();
  else w.value(start.leader);
  w.key("old_leader_id");
  if (start.previous_leader.empty()) w.null();
  else w.value(start.previous_leader);
  w.field("term", e.term).end_object();
  auto id = std::string("r:").append(std::to_string(e.index)).append(":").append(std::to_string(events_before));
  const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(wall_now().time_since_epoch()).count();
  st.events_outbox.push_back({std::move(id), "LEADER_CHANGED", w.take(), e.term, at});
  drain_outboxes(self);
}

void settle_change(self_ptr self, const raft_config& cfg);
void settle_transfer(self_ptr self, const raft_config& cfg);

void send_messages(self_ptr self, std::vector<raft::message> messages) {
  auto& st = self->state;
  auto peers = st.handles["peers"];
  for (auto& m : messages) {
    if (!peers) continue;  // lost, as on a network: Raft retries
    auto to = m.to;
    self->send(peers, msg::peer_send{std::move(to), "raft", caf::make_message(msg::raft_wire{std::move(m)})});
  }
}

void log_failed(self_ptr self, const raft_config& cfg, const caf::error& err) {
  // Nothing written after this may be acknowledged: stop.
  const auto why = describe_error(err);
  if (cfg.fatal) cfg.fatal(why);
  self->quit(err);
}

void flush(self_ptr self, const raft_config& cfg);

void count_write(raft_state& st, const storage_written& w) {
  if (!w.synced) return;
  ++st.fsyncs;
  st.fsync_total_ms += w.ms;
}

// Hands the core's batch to the storage thread and sends its messages: a leader's appends at
// once when the batch holds entries (and a commit index) only, since the core counts its own
// entries only once durable; anything else — a vote, a term, a follower's acknowledgement —
// once the batch is durable. Batches are written in order.
//
// One write at a time (group commit): what arrives meanwhile accumulates in the core and goes
// in the next write. Meanwhile a leader whose term and vote are already on their way to disk
// sends its appends at once.
void persist_and_send(self_ptr self, const raft_config& cfg) {
  auto& st = self->state;
  if (st.writes_in_flight > 0) {
    const auto& c = *st.core;
    if (c.state() == raft::role::leader && c.term() == st.queued_state.term && c.voted_for() == st.queued_state.vote)
      send_messages(self, st.core->take_messages());
    return;
  }
  auto batch = st.core->take_persist_deferred();
  auto messages = st.core->take_messages();
  if (batch.empty()) {
    send_messages(self, std::move(messages));
    return;
  }
  const bool votes_nothing_new =
      !batch.state || (batch.state->term == st.queued_state.term && batch.state->vote == st.queued_state.vote);
  const bool early = st.core->state() == raft::role::leader && votes_nothing_new && !batch.snapshot &&
                     !batch.truncate_from;
  if (batch.state) st.queued_state = *batch.state;
  if (early) send_messages(self, std::exchange(messages, {}));
  ++st.writes_in_flight;
  self->request(st.storage, caf::infinite, storage_write{std::move(batch)})
      .then(
          [=, held = std::move(messages)](storage_written& w) mutable {
            auto& s = self->state;
            --s.writes_in_flight;
            count_write(s, w);
            s.core->persisted();
            send_messages(self, std::move(held));
            flush(self, cfg);  // our entries may have completed a commit
          },
          [=](caf::error& err) { log_failed(self, cfg, err); });
}

// Persist, send, restore, apply: the core's contract, once per batch of inputs.
void flush(self_ptr self, const raft_config& cfg) {
  auto& st = self->state;
  auto& core = *st.core;
  for (int round = 0; round < 2; ++round) {  // a second round persists a snapshot just taken
    persist_and_send(self, cfg);
    if (auto snap = core.take_restore()) {
      try {
        st.machine->restore(snap->data);
      } catch (const std::exception& e) {
        // The leader's snapshot is unreadable: continuing would diverge from the cluster.
        if (cfg.fatal)
          cfg.fatal("cannot restore the state machine from the snapshot at index " + std::to_string(snap->index) +
                    ": " + e.what());
        self->quit(make_api_error(api_errc::internal, "unreadable snapshot"));
        return;
      }
      log::info("raft", "restored a snapshot from the leader", {{"index", std::to_string(snap->index)}});
      st.applied_term = std::max(st.applied_term, snap->term);  // the terms it covers started elsewhere
    }
    for (auto& e : core.take_committed()) {
      std::string result;
      std::size_t events = 0;
      if (e.type == raft::entry_type::normal) {
        auto applied = st.machine->apply_entry(e.index, e.data);
        if (applied.work) {
          events = applied.work_answer.events.size();
          hand_on_work(self, e, applied);
        }
        result = std::move(applied.result);
      }
      if (e.term > st.applied_term) announce_leader(self, e, events);
      st.applied_term = std::max(st.applied_term, e.term);
      auto it = st.proposals.find(e.index);
      if (it == st.proposals.end()) continue;
      if (it->second.term == e.term) {
        it->second.promise.deliver(msg::raft_applied{e.index, e.term, std::move(result)});
      } else {
        // Another leader's entry took this index: ours was never committed and never will be.
        it->second.promise.deliver(make_api_error(api_errc::unavailable,
                                                  "the leader changed before the command was committed; it was not applied",
                                                  retry_details(cfg.timing)));
      }
      st.proposals.erase(it);
    }
    for (const auto& r : core.take_reads()) {
      if (auto it = st.reads.find(r.id); it != st.reads.end()) it->second.index = r.index;
      if (auto it = st.work_reads.find(r.id); it != st.work_reads.end()) it->second.index = r.index;
    }
    for (auto id : core.take_failed_reads()) {
      auto lost = [&] {
        return make_api_error(api_errc::unavailable, "leadership was lost before the read was confirmed",
                              retry_details(cfg.timing));
      };
      if (auto it = st.reads.find(id); it != st.reads.end()) {
        it->second.promise.deliver(lost());
        st.reads.erase(it);
      }
      if (auto it = st.work_reads.find(id); it != st.work_reads.end()) {
        it->second.promise.deliver(lost());
        st.work_reads.erase(it);
      }
    }
    serve_reads(self);
    for (auto& why : core.take_refusals()) {
      ++st.refused;
      log::error("raft", "message from another cluster refused", {{"reason", json::quote(why)}});
    }
    const auto applied = core.applied_index();
    if (applied < core.latest_snapshot().index + cfg.snapshot_every || !core.compact(applied, st.machine->snapshot()))
      break;
    log::debug("raft", "snapshot taken", {{"index", std::to_string(applied)}});
  }
  if (core.leader() != st.last_leader) {
    st.last_leader = core.leader();
    if (!st.last_leader.empty())
      log::info("raft", st.last_leader == cfg.node_id ? "became the leader" : "following a leader",
                {{"leader_id", json::quote(st.last_leader)}, {"term", std::to_string(core.term())}});
  }
  settle_change(self, cfg);
  settle_transfer(self, cfg);
  tell_leadership(self, cfg.node_id);
  tell_election(self, cfg.node_id);
  schedule(self);
}

// Sweeps what waited too long: the outcome of a proposal is unknown (it may still commit).
void expire(self_ptr self) {
  auto& st = self->state;
  const auto now = mono_now();
  for (auto it = st.proposals.begin(); it != st.proposals.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    it->second.promise.deliver(make_api_error(api_errc::timeout, "the command was not applied in time; it may still be",
                                              R"({"outcome":"unknown"})"));
    it = st.proposals.erase(it);
  }
  if (st.change && st.change->deadline <= now) {
    st.change->promise.deliver(make_api_error(api_errc::timeout, "the membership change did not finish in time",
                                              R"({"outcome":"unknown"})"));
    st.change.reset();
  }
  if (st.transfer && st.transfer->deadline <= now) {
    for (auto& rp : st.transfer->promises)
      rp.deliver(make_api_error(api_errc::timeout, "the leadership hand-over did not finish in time; it may still",
                                R"({"outcome":"unknown"})"));
    st.transfer.reset();
  }
}

// Forwards a request to the leader's raft actor (once) and hands its answer back.
template <class Reply, class Request>
caf::result<Reply> forward(self_ptr self, const raft_config& cfg, Request req) {
  auto& st = self->state;
  const auto& leader = known_leader(st, cfg.node_id);
  if (leader.empty() || leader == cfg.node_id || req.hops > 0) return no_leader(cfg.timing);
  auto peers = st.handles["peers"];
  if (!peers) return make_api_error(api_errc::unavailable, "the peers actor is not running", retry_details(cfg.timing));
  req.hops += 1;
  auto rp = self->make_response_promise<Reply>();
  self->request(peers, cfg.proposal_timeout, msg::peer_request{leader, "raft", caf::make_message(std::move(req))})
      .then([rp](Reply& r) mutable { rp.deliver(std::move(r)); },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

caf::result<msg::raft_applied> propose(self_ptr self, const raft_config& cfg, msg::raft_propose p) {
  auto& st = self->state;
  auto& core = *st.core;
  if (core.state() != raft::role::leader) return forward<msg::raft_applied>(self, cfg, std::move(p));
  if (raft::composite_state_machine::is_work_command(p.command)) {
    const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall_now().time_since_epoch()).count();
    p.command = raft::stamp_work_command(p.command, wall_ms, core.term());
  }
  auto index = core.propose(std::move(p.command), now_ms(st));
  if (!index)
    return make_api_error(api_errc::unavailable, "leadership is being handed over", retry_details(cfg.timing));
  auto rp = self->make_response_promise<msg::raft_applied>();
  st.proposals.emplace(*index, raft_state::pending_proposal{core.term(), rp, mono_now() + cfg.proposal_timeout});
  queue_flush(self);
  return rp;
}

std::string_view state_label(const raft::core& c) {
  if (!c.is_voter() && c.state() != raft::role::leader) return "non_voter";
  if (c.state() == raft::role::pre_candidate) return "candidate";
  return raft::role_name(c.state());
}

msg::raft_members_reply members_view(const raft::core& c, raft::index_t index) {
  return {index, c.members().voters, c.members().learners};
}

// A hand-over is done once its target leads in a later term, and has failed once another node
// does, or once the core gave up on it (the target did not catch up and campaign in time) while
// this node still leads.
void settle_transfer(self_ptr self, const raft_config& cfg) {
  auto& st = self->state;
  if (!st.transfer) return;
  auto& t = *st.transfer;
  const auto& c = *st.core;
  std::optional<caf::error> failed;
  if (c.term() > t.from_term && c.leader() == t.to) {
    for (auto& rp : t.promises) rp.deliver(msg::leadership_transfer_reply{t.to, c.term(), cfg.node_id});
    st.transfer.reset();
    return;
  }
  json::writer details;
  details.begin_object().field("retry_after_ms", cfg.timing.election_max).field("leader_id", c.leader()).end_object();
  if (c.term() > t.from_term && !c.leader().empty()) {
    failed = make_api_error(api_errc::unavailable,
                            std::string("leadership went to ").append(c.leader()).append(", not ").append(t.to),
                            details.take());
  } else if (c.state() == raft::role::leader && c.transferring_to().empty()) {
    failed = make_api_error(api_errc::unavailable,
                            std::string("the hand-over to ").append(t.to).append(
                                " did not complete within an election timeout (is it reachable and caught up?); "
                                "this node still leads"),
                            details.take());
  } else {
    return;  // under way, or between leaders
  }
  for (auto& rp : t.promises) rp.deliver(*failed);
  st.transfer.reset();
}

// Membership: "add" makes a non-voter first and promotes it once it has caught up, so a new
// voter never holds back commits while it copies the log.
void settle_change(self_ptr self, const raft_config& cfg) {
  auto& st = self->state;
  if (!st.change) return;
  auto& ch = *st.change;
  auto& core = *st.core;
  if (core.state() != raft::role::leader) {
    ch.promise.deliver(make_api_error(api_errc::unavailable, "leadership was lost during the membership change",
                                      retry_details(cfg.timing)));
    st.change.reset();
    return;
  }
  if (ch.index != 0 && core.applied_index() < ch.index) return;  // not applied yet
  if (ch.add && !ch.promoting) {
    auto it = core.peers().find(ch.node);
    if (it == core.peers().end() || it->second.match + cfg.timing.max_batch_entries < core.commit_index()) return;
    std::string why;
    auto index = core.propose_change({raft::change_kind::promote, ch.node}, now_ms(st), &why);
    if (!index) return;  // e.g. the learner's own change is still being committed: try again later
    ch.promoting = true;
    ch.index = *index;
    queue_flush(self);
    return;
  }
  ch.promise.deliver(members_view(core, ch.index));
  st.change.reset();
}

}  // namespace

std::string resolve_raft_voters(const std::filesystem::path& data_dir, bool given, std::vector<std::string>& voters) {
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  std::string wanted;
  for (const auto& v : voters) wanted.append(wanted.empty() ? "" : ",").append(v);
  const auto file = data_dir / "raft" / "bootstrap-voters";
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    std::ifstream in(file);
    std::string recorded;
    std::getline(in, recorded);
    if (recorded == wanted) return {};
    if (!given) {
      voters.clear();
      for (std::size_t at = 0; at < recorded.size();) {
        auto comma = recorded.find(',', at);
        if (comma == std::string::npos) comma = recorded.size();
        voters.push_back(recorded.substr(at, comma - at));
        at = comma + 1;
      }
      return {};
    }
    auto describe = [](const std::string& list) { return list.empty() ? std::string("no voter list (joining through seeds)") : "voters " + list; };
    return "this data dir belongs to a cluster bootstrapped with " + describe(recorded) + ", but the node was started with " +
           describe(wanted) + "; use the same --voters as before, or a fresh --data-dir to join another cluster";
  }
  std::filesystem::create_directories(data_dir / "raft", ec);
  if (ec) return "cannot create " + (data_dir / "raft").string() + ": " + ec.message();
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << wanted << '\n';
    out.flush();
    if (!out) return "cannot write " + tmp.string();
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) return "cannot write " + file.string() + ": " + ec.message();
  return {};
}

caf::behavior raft_actor(caf::stateful_actor<raft_state>* self, raft_config cfg) {
  auto& st = self->state;
  st.epoch = mono_now();
  st.machine = std::make_unique<raft::composite_state_machine>(cfg.work_limits);
  try {
    st.log = std::make_shared<raft::wal>(cfg.data_dir / "raft");
  } catch (const std::exception& e) {
    if (cfg.fatal) cfg.fatal(e.what());
    self->quit(make_api_error(api_errc::internal, e.what()));
    return {};
  }
  if (st.log->torn_bytes() > 0)
    log::warn("raft", "cut a torn write off the end of the Raft log", {{"bytes", std::to_string(st.log->torn_bytes())}});
  const auto& snap = st.log->snapshot();
  if (snap) {
    try {
      st.machine->restore(snap->data);
    } catch (const std::exception& e) {
      if (cfg.fatal) cfg.fatal(std::string("cannot restore the state machine from the local snapshot: ") + e.what());
      self->quit(make_api_error(api_errc::internal, e.what()));
      return {};
    }
  }
  st.core.emplace(cfg.node_id, cfg.voters, cfg.timing, cfg.seed, now_ms(st), st.log->state(), st.log->entries(), snap);
  // Entries after the snapshot apply again: their LEADER_CHANGED events come with the same ids,
  // and the events actor drops the ones it recorded before.
  st.applied_term = snap ? snap->term : 0;
  st.queued_state = st.log->state();
  // From here on only the storage thread touches the log.
  st.storage = self->spawn<caf::detached + caf::linked>(storage_actor, std::exchange(st.log, nullptr));
  log::info("raft", "raft started",
            {{"term", std::to_string(st.core->term())},
             {"last_log_index", std::to_string(st.core->last_index())},
             {"snapshot_index", std::to_string(st.core->latest_snapshot().index)},
             {"voters", std::to_string(st.core->voters().size())},
             {"profile", json::quote(cfg.timing.name)}});
  self->send(cfg.directory, msg::directory_subscribe{});
  // Committed entries from before the restart apply again from the snapshot on.
  flush(self, cfg);

  auto status = [=]() {
    const auto& s = self->state;
    const auto& c = *s.core;
    msg::raft_status_reply r;
    r.node_id = cfg.node_id;
    r.state = std::string(state_label(c));
    r.term = c.term();
    r.leader_id = c.leader();
    r.commit_index = c.commit_index();
    r.last_applied = c.applied_index();
    r.last_log_index = c.last_index();
    r.snapshot_index = c.latest_snapshot().index;
    r.cluster_id = c.cluster_id();
    r.voters = c.members().voters;
    r.learners = c.members().learners;
    for (const auto& [id, p] : c.peers()) r.peers.push_back({id, p.match, p.next, p.snapshot_index != 0});
    r.profile = cfg.timing.name;
    r.lease_remaining_ms = std::max<raft::time_ms>(0, c.lease_until() - now_ms(s));
    r.fsyncs = s.fsyncs;
    r.fsync_avg_ms = s.fsyncs ? s.fsync_total_ms / static_cast<double>(s.fsyncs) : 0.0;
    r.refused_messages = s.refused;
    return r;
  };
  auto summary = [=] {
    const auto& s = self->state;
    json::writer w;
    w.begin_object()
        .key("status")
        .raw(codec::encode(status()))
        .field("pending_proposals", s.proposals.size())
        .field("pending_reads", s.reads.size())
        .field("keys", s.machine->kv().size())
        .field("work_items", s.machine->work().size())
        .end_object();
    return w.take();
  };
  std::vector<safe_command> commands{
      safe<msg::raft_status_request, msg::raft_status_reply>(
          "status", "",
          [](const std::vector<std::string>& args) -> std::optional<msg::raft_status_request> {
            if (!args.empty()) return std::nullopt;
            return msg::raft_status_request{};
          },
          [](const msg::raft_status_reply& r) { return codec::encode(r); }),
  };
  return instrumented(
      self, "raft", summary, std::move(commands),
      [=](raft_tick& t) {
        auto& s = self->state;
        s.ticks.erase(t.at);
        s.core->tick(now_ms(s));
        expire(self);
        flush(self, cfg);
      },
      [=](raft_flush&) {
        self->state.flush_queued = false;
        flush(self, cfg);
      },
      [=](msg::raft_wire& w) {
        auto& s = self->state;
        s.core->step(w.body, now_ms(s));
        queue_flush(self);
      },
      [=](msg::raft_rpc& r) -> caf::result<msg::raft_rpc_reply> {
        using raft::msg_type;
        const auto t = r.body.type;
        const bool fits = r.route == "vote" ? (t == msg_type::pre_vote || t == msg_type::vote)
                                            : (t == msg_type::append || t == msg_type::snapshot || t == msg_type::timeout_now);
        if (r.error.empty() && !fits)
          r.error = r.route == "vote" ? "type must be pre_vote or vote on /raft/vote"
                                      : "type must be append, snapshot or timeout_now on /raft/append";
        if (r.error.empty() && r.body.from.empty()) r.error = "from is required";
        if (!r.error.empty()) return make_api_error(api_errc::bad_request, r.error, R"({"field":"type"})");
        auto& s = self->state;
        const auto from = r.body.from;
        s.core->step(r.body, now_ms(s));
        // Durable before answering: the sender's answers come back in the reply, the rest goes
        // out as usual. The write queues behind any under way (the storage thread keeps order).
        auto batch = s.core->take_persist_deferred();
        auto split = [=](std::vector<raft::message> messages) {
          msg::raft_rpc_reply reply;
          std::vector<raft::message> others;
          for (auto& m : messages) (m.to == from ? reply.replies : others).push_back(std::move(m));
          send_messages(self, std::move(others));
          return reply;
        };
        if (batch.empty()) {
          auto reply = split(s.core->take_messages());
          flush(self, cfg);
          return reply;
        }
        if (batch.state) s.queued_state = *batch.state;
        auto rp = self->make_response_promise<msg::raft_rpc_reply>();
        auto messages = s.core->take_messages();
        ++s.writes_in_flight;
        self->request(s.storage, caf::infinite, storage_write{std::move(batch)})
            .await(
                [=, messages = std::move(messages)](storage_written& w) mutable {
                  auto& st = self->state;
                  --st.writes_in_flight;
                  count_write(st, w);
                  st.core->persisted();
                  rp.deliver(split(std::move(messages)));
                  flush(self, cfg);
                },
                [=](caf::error& err) mutable {
                  rp.deliver(err);
                  log_failed(self, cfg, err);
                });
        return rp;
      },
      [=](msg::raft_propose& p) { return propose(self, cfg, std::move(p)); },
      [=](msg::raft_kv_put& p) -> caf::result<msg::raft_kv_reply> {
        auto rp = self->make_response_promise<msg::raft_kv_reply>();
        auto key = p.key;
        self->request(caf::actor_cast<caf::actor>(self), caf::infinite,
                      msg::raft_propose{raft::kv_state_machine::put_command(p.key, p.value), 0})
            .then(
                [rp, key](msg::raft_applied& a) mutable {
                  auto prev = raft::kv_state_machine::decode_put_result(a.result);
                  rp.deliver(msg::raft_kv_reply{key, prev.existed, std::move(prev.previous), a.index});
                },
                [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [=](msg::raft_kv_get& g) -> caf::result<msg::raft_kv_reply> {
        auto& s = self->state;
        auto& c = *s.core;
        if (g.stale) {
          msg::raft_kv_reply reply{g.key, false, {}, c.applied_index()};
          if (const auto* v = s.machine->kv().get(g.key)) {
            reply.found = true;
            reply.value = *v;
          }
          return reply;
        }
        if (c.state() != raft::role::leader) return forward<msg::raft_kv_reply>(self, cfg, std::move(g));
        const auto id = s.next_read_id++;
        if (!c.read_index(id, now_ms(s))) return no_leader(cfg.timing);
        auto rp = self->make_response_promise<msg::raft_kv_reply>();
        s.reads.emplace(id, raft_state::pending_read{g.key, rp, std::nullopt});
        queue_flush(self);
        return rp;
      },
      [=](msg::work_query& q) -> caf::result<msg::work_query_reply> {
        auto& s = self->state;
        auto& c = *s.core;
        if (q.stale) return answer_work_query(s.machine->work(), q, c.applied_index());
        if (c.state() != raft::role::leader) return forward<msg::work_query_reply>(self, cfg, std::move(q));
        const auto id = s.next_read_id++;
        if (!c.read_index(id, now_ms(s))) return no_leader(cfg.timing);
        auto rp = self->make_response_promise<msg::work_query_reply>();
        s.work_reads.emplace(id, raft_state::pending_work_read{std::move(q), rp, std::nullopt});
        queue_flush(self);
        return rp;
      },
      [=](msg::raft_members_request& m) -> caf::result<msg::raft_members_reply> {
        auto& s = self->state;
        auto& c = *s.core;
        if (m.node_id.empty())
          return make_api_error(api_errc::bad_request, "give exactly one of add or remove, with a node id",
                                R"({"field":"add"})");
        if (c.state() != raft::role::leader) return forward<msg::raft_members_reply>(self, cfg, std::move(m));
        if (s.change)
          return make_api_error(api_errc::conflict, "another membership change is in progress (" +
                                                        std::string(s.change->add ? "adding " : "removing ") +
                                                        s.change->node + ")");
        const auto& members = c.members();
        auto has = [](const std::vector<std::string>& xs, const std::string& x) {
          return std::find(xs.begin(), xs.end(), x) != xs.end();
        };
        raft::membership_change change{raft::change_kind::remove, m.node_id};
        if (m.add) {
          if (has(members.voters, m.node_id)) return members_view(c, c.commit_index());
          change.kind = has(members.learners, m.node_id) ? raft::change_kind::promote : raft::change_kind::add_learner;
        } else if (!has(members.voters, m.node_id) && !has(members.learners, m.node_id)) {
          return members_view(c, c.commit_index());  // already gone: nothing to do
        }
        std::string why;
        auto index = c.propose_change(change, now_ms(s), &why);
        if (!index) return make_api_error(api_errc::unavailable, "membership change refused: " + why, retry_details(cfg.timing));
        auto rp = self->make_response_promise<msg::raft_members_reply>();
        s.change = raft_state::pending_change{m.add, m.node_id, *index, change.kind == raft::change_kind::promote, rp,
                                              mono_now() + 6 * cfg.proposal_timeout};
        queue_flush(self);
        return rp;
      },
      [=](msg::peer_lost& l) {
        auto& s = self->state;
        s.core->leader_unreachable(l.node_id, now_ms(s));
        schedule(self);
      },
      [=](msg::leadership_transfer_request& r) -> caf::result<msg::leadership_transfer_reply> {
        auto& s = self->state;
        auto& c = *s.core;
        if (r.to.empty())
          return make_api_error(api_errc::bad_request, "to must name the voter to hand leadership to", R"({"field":"to"})");
        if (c.state() != raft::role::leader) return forward<msg::leadership_transfer_reply>(self, cfg, std::move(r));
        if (r.to == cfg.node_id) return msg::leadership_transfer_reply{cfg.node_id, c.term(), cfg.node_id};
        const auto& voters = c.members().voters;
        if (std::find(voters.begin(), voters.end(), r.to) == voters.end()) {
          std::string list;
          for (const auto& v : voters) list.append(list.empty() ? "" : ", ").append(v);
          return make_api_error(api_errc::bad_request,
                                std::string("to: ").append(r.to).append(" is not a voter (voters: ").append(list).append(")"),
                                R"({"field":"to"})");
        }
        if (s.transfer && s.transfer->to != r.to)
          return make_api_error(api_errc::conflict,
                                std::string("leadership is being handed to ").append(s.transfer->to).append(" already"),
                                R"({"field":"to"})");
        if (!s.transfer) {
          if (!c.transfer_leadership(r.to, now_ms(s)))
            return make_api_error(api_errc::unavailable, "leadership cannot be handed over now", retry_details(cfg.timing));
          log::info("raft", "handing leadership over", {{"to", json::quote(r.to)}, {"term", std::to_string(c.term())}});
          s.transfer = raft_state::pending_transfer{r.to, c.term(), {}, mono_now() + cfg.proposal_timeout / 2};
          queue_flush(self);
        }
        auto rp = self->make_response_promise();
        s.transfer->promises.push_back(rp);
        return rp;
      },
      [=](msg::heard_leader& h) {
        self->state.heard = std::move(h);
        tell_leadership(self, cfg.node_id);  // a non-member's work_queue forwards heartbeats there
      },
      [=](msg::raft_status_request&) { return status(); },
      [=](msg::directory_update& u) {
        const auto& name = u.entry.name;
        if (name != "peers" && name != "events" && name != "work_queue" && name != "election") return;
        self->state.handles[name] = u.entry.handle;
        // A (re)started actor learns the view anew.
        if (name == "work_queue") self->state.leadership_told.reset();
        if (name == "election") self->state.election_told.reset();
        drain_outboxes(self);
        tell_leadership(self, cfg.node_id);
        tell_election(self, cfg.node_id);
      });
}

}  // namespace p2p
