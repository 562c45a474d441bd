#include "actors/runner/runner_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/identity.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"

namespace p2p {
namespace {

using self_ptr = caf::stateful_actor<runner_state>*;
using phase = runner_state::phase;

// From an attempt's reader thread: its outcome is set or new progress arrived.
struct attempt_changed {
  std::string work_id;
  std::uint64_t generation = 0;
};
template <class F> auto inspect(F& f, attempt_changed& x) { return f(x.work_id, x.generation); }
struct heartbeat_due {
  std::string work_id;
  std::uint64_t generation = 0;
};
template <class F> auto inspect(F& f, heartbeat_due& x) { return f(x.work_id, x.generation); }
struct report_due {
  std::string work_id;
  std::uint64_t generation = 0;
};
template <class F> auto inspect(F& f, report_due& x) { return f(x.work_id, x.generation); }
struct claim_due {
  std::string work_type;
};
template <class F> auto inspect(F& f, claim_due& x) { return f(x.work_type); }
struct reconcile_due {};
template <class F> auto inspect(F& f, reconcile_due&) { return f(); }
struct drain_cut_due {};
template <class F> auto inspect(F& f, drain_cut_due&) { return f(); }

std::optional<api_errc> api_code(const caf::error& err) {
  if (err.category() != api_error_category) return std::nullopt;
  return api_errc_from_int(err.code());
}
// The queue no longer holds this claim (completed by another, expired, cancelled) or the item
// left: nothing this runner says about it can change anything.
bool claim_gone(const caf::error& err) {
  auto code = api_code(err);
  return code == api_errc::conflict || code == api_errc::not_found;
}
bool cancelled(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string, std::string>() &&
         ctx.get_as<std::string>(1).find(R"("cancel":true)") != std::string::npos;
}

std::chrono::milliseconds heartbeat_interval(const runner_config& cfg, const work::item& x) {
  const auto third = std::chrono::milliseconds(static_cast<std::int64_t>(x.lease_s) * 1000 / 3);
  return std::max(third, cfg.min_heartbeat_interval);
}

std::string new_request_id(runner_state& st) {
  return std::string(st.boot_nonce).append("-").append(std::to_string(st.next_request++));
}

void try_claim(self_ptr self, const runner_config& cfg, const std::string& type);
void launch(self_ptr self, const runner_config& cfg, work::item item, bool adopted);

std::uint32_t running_of(const runner_state& st, const std::string& type) {
  return static_cast<std::uint32_t>(
      std::count_if(st.attempts.begin(), st.attempts.end(), [&](const auto& a) { return a.second.item.work_type == type; }));
}

void claim_everything(self_ptr self, const runner_config& cfg) {
  for (const auto& [type, _] : cfg.work_types) try_claim(self, cfg, type);
}

void maybe_finish_drain(self_ptr self) {
  auto& st = self->state;
  if (!st.drain_promise || !st.attempts.empty()) return;
  st.drain_promise->deliver(msg::runner_drain_reply{st.drain_finished, st.handed_back});
  st.drain_promise.reset();
}

// The attempt is settled with the queue (or the queue no longer cares): forget it, free its slot.
void settle(self_ptr self, const runner_config& cfg, const std::string& work_id) {
  auto& st = self->state;
  auto it = st.attempts.find(work_id);
  if (it == st.attempts.end()) return;
  const auto type = it->second.item.work_type;
  if (st.draining) ++st.drain_finished;
  st.attempts.erase(it);  // the process has exited: its reader thread ends at once
  maybe_finish_drain(self);
  try_claim(self, cfg, type);
}

// ---- reporting the outcome ------------------------------------------------------------------

void report(self_ptr self, const runner_config& cfg, const std::string& work_id);

void report_later(self_ptr self, const runner_config& cfg, const std::string& work_id, const caf::error& err) {
  auto& st = self->state;
  auto it = st.attempts.find(work_id);
  if (it == st.attempts.end()) return;
  log::warn("runner", "outcome not acknowledged yet; retrying",
            {{"work_id", json::quote(work_id)}, {"error", json::quote(describe_error(err))}});
  self->delayed_send(self, cfg.retry_delay, report_due{work_id, it->second.generation});
}

template <class Request>
void send_report(self_ptr self, const runner_config& cfg, const std::string& work_id, Request req,
                 std::uint64_t runner_state::*counter) {
  auto& st = self->state;
  if (!st.work_queue) {
    self->delayed_send(self, cfg.retry_delay, report_due{work_id, st.attempts.at(work_id).generation});
    return;
  }
  self->request(st.work_queue, cfg.request_timeout, std::move(req))
      .then(
          [=](msg::work_command_reply&) {
            ++(self->state.*counter);
            settle(self, cfg, work_id);
          },
          [=](caf::error& err) {
            if (claim_gone(err)) {
              ++self->state.lost_claims;
              settle(self, cfg, work_id);
            } else {
              report_later(self, cfg, work_id, err);
            }
          });
}

void report(self_ptr self, const runner_config& cfg, const std::string& work_id) {
  auto& st = self->state;
  auto it = st.attempts.find(work_id);
  if (it == st.attempts.end()) return;
  auto& a = it->second;
  auto outcome = a.process->outcome();
  if (!outcome) return;
  const auto& token = a.item.claim_token;
  if (a.claim_lost) {
    ++st.lost_claims;
    settle(self, cfg, work_id);
    return;
  }
  log::info("runner", "attempt ended",
            {{"work_id", json::quote(work_id)},
             {"outcome", json::quote(runner::outcome_kind_name(outcome->kind))},
             {"reason", json::quote(outcome->reason)},
             {"runtime_ms", std::to_string(outcome->runtime.count())}});
  switch (outcome->kind) {
    case runner::outcome_kind::completed:
      send_report(self, cfg, work_id, msg::work_complete_request{work_id, token, outcome->result},
                  &runner_state::completed);
      break;
    case runner::outcome_kind::cancelled:
      if (a.release) {
        send_report(self, cfg, work_id, msg::work_release_request{work_id, token, outcome->reason},
                    &runner_state::handed_back);
      } else {
        // Stopped for a reason the queue already knows (it refused our heartbeat).
        ++st.lost_claims;
        settle(self, cfg, work_id);
      }
      break;
    case runner::outcome_kind::timed_out:
    case runner::outcome_kind::failed:
      // A missing program fails on every node alike; a crash or an exit code may be the machine's.
      send_report(self, cfg, work_id,
                  msg::work_fail_request{work_id, token, outcome->error_text(), true}, &runner_state::failed);
      break;
  }
}

// ---- heartbeats -----------------------------------------------------------------------------

void heartbeat(self_ptr self, const runner_config& cfg, const std::string& work_id) {
  auto& st = self->state;
  auto it = st.attempts.find(work_id);
  if (it == st.attempts.end() || !st.work_queue) return;
  auto& a = it->second;
  if (a.at != phase::running || a.claim_lost || a.heartbeat_in_flight) return;
  msg::work_heartbeat_request req;
  req.work_id = work_id;
  req.claim_token = a.item.claim_token;
  if (a.progress) {
    req.has_progress = true;
    req.progress = a.progress->fraction;
    req.message = a.progress->message;
    a.progress.reset();
  }
  a.heartbeat_in_flight = true;
  a.last_heartbeat = mono_now();
  const auto generation = a.generation;
  self->request(st.work_queue, cfg.request_timeout, std::move(req))
      .then(
          [=](msg::work_command_reply&) {
            auto it = self->state.attempts.find(work_id);
            if (it != self->state.attempts.end() && it->second.generation == generation)
              it->second.heartbeat_in_flight = false;
          },
          [=](caf::error& err) {
            auto it = self->state.attempts.find(work_id);
            if (it == self->state.attempts.end() || it->second.generation != generation) return;
            auto& a = it->second;
            a.heartbeat_in_flight = false;
            if (!claim_gone(err)) return;  // no leader for now: the next beat tries again
            a.claim_lost = true;
            const bool was_cancelled = cancelled(err);
            log::info("runner", was_cancelled ? "item cancelled; stopping its process" : "claim lost; stopping its process",
                      {{"work_id", json::quote(work_id)}, {"error", json::quote(describe_error(err))}});
            a.process->cancel(was_cancelled ? "cancelled" : "lost claim");
          });
}

// ---- starting attempts ----------------------------------------------------------------------

void launch(self_ptr self, const runner_config& cfg, work::item item, bool adopted) {
  auto& st = self->state;
  const auto work_id = item.work_id;
  if (st.attempts.count(work_id)) return;  // a replayed answer names what already runs
  auto type = cfg.work_types.find(item.work_type);
  auto release_now = [&](std::string why) {
    msg::work_release_request req{work_id, item.claim_token, std::move(why)};
    log::warn("runner", "releasing an item it cannot run", {{"work_id", json::quote(work_id)}, {"reason", json::quote(req.reason)}});
    if (!st.work_queue) return;  // its lease lapses and the leader takes it back
    self->request(st.work_queue, cfg.request_timeout, std::move(req))
        .then([=](msg::work_command_reply&) { ++self->state.handed_back; },
              [=](caf::error& err) {
                log::warn("runner", "release refused; the lease will lapse",
                          {{"work_id", json::quote(work_id)}, {"error", json::quote(describe_error(err))}});
              });
  };
  if (type == cfg.work_types.end()) {
    release_now("work type '" + item.work_type + "' is not configured on " + cfg.node_id);
    return;
  }
  if (st.draining) {
    release_now("node draining");
    return;
  }
  if (running_of(st, item.work_type) >= type->second.slots) {  // e.g. more claims found at start than slots
    release_now("no free " + item.work_type + " slot on " + cfg.node_id);
    return;
  }
  runner::attempt_spec spec;
  spec.work_id = work_id;
  spec.work_type = item.work_type;
  spec.attempt = std::max<std::uint32_t>(item.attempts, 1);
  spec.item_json = work::item_json(item);
  spec.argv = type->second.argv;
  spec.base_dir = cfg.attempts_dir;
  spec.kill_grace = cfg.kill_grace;
  // The leader ends an overrunning item by itself (timed_out); the local limit, a little later,
  // only makes sure the process does not outlive it.
  if (item.timeout_s > 0)
    spec.runtime_limit = std::chrono::seconds(item.timeout_s) + std::chrono::seconds(std::max<std::uint32_t>(1, item.lease_s / 3));
  const auto generation = st.next_generation++;
  auto handle = caf::actor_cast<caf::actor>(self);
  std::unique_ptr<runner::work_process> process;
  try {
    process = runner::work_process::start(std::move(spec),
                                          [handle, work_id, generation] { caf::anon_send(handle, attempt_changed{work_id, generation}); });
  } catch (const std::exception& e) {
    log::error("runner", "cannot start the work's process", {{"work_id", json::quote(work_id)}, {"error", json::quote(e.what())}});
    release_now(std::string("this node cannot run processes now: ") + e.what());
    return;
  }
  runner_state::attempt a;
  a.item = std::move(item);
  a.process = std::move(process);
  a.started = mono_now();
  a.generation = generation;
  a.last_heartbeat = a.started;
  const auto interval = heartbeat_interval(cfg, a.item);
  const bool needs_start = a.item.state == work::status::claimed;
  const auto token = a.item.claim_token;
  log::info("runner", adopted ? "attempt adopted" : "attempt started",
            {{"work_id", json::quote(work_id)}, {"work_type", json::quote(a.item.work_type)},
             {"attempt", std::to_string(a.item.attempts)}, {"pid", std::to_string(a.process->pid())}});
  st.attempts.emplace(work_id, std::move(a));
  if (adopted) ++st.adopted;
  if (needs_start && st.work_queue) {
    // Claimed -> running; a refusal means the claim is already gone, which the heartbeat finds.
    self->request(st.work_queue, cfg.request_timeout, msg::work_start_request{work_id, token})
        .then([](msg::work_command_reply&) {}, [=](caf::error& err) {
          if (claim_gone(err)) heartbeat(self, cfg, work_id);
        });
  }
  self->delayed_send(self, interval, heartbeat_due{work_id, generation});
  // A program that could not start has its outcome already.
  if (st.attempts.at(work_id).process->finished()) self->send(self, attempt_changed{work_id, generation});
}

// ---- claiming -------------------------------------------------------------------------------

void try_claim(self_ptr self, const runner_config& cfg, const std::string& type) {
  auto& st = self->state;
  if (!st.reconciled || st.draining || !st.work_queue) return;
  auto conf = cfg.work_types.find(type);
  if (conf == cfg.work_types.end()) return;
  auto& ts = st.types[type];
  if (ts.claiming || ts.backing_off) return;
  const auto running = running_of(st, type);
  if (running >= conf->second.slots) return;
  msg::work_claim_request req;
  req.node_id = cfg.node_id;
  req.work_types = {type};
  req.max_items = conf->second.slots - running;
  req.wait_s = std::chrono::duration<double>(cfg.claim_wait).count();
  if (ts.request_id.empty()) ts.request_id = new_request_id(st);
  req.request_id = ts.request_id;
  ts.claiming = true;
  ++ts.claims_sent;
  const auto sent = mono_now();
  auto back_off = [=] {
    auto& ts = self->state.types[type];
    ts.backing_off = true;
    self->delayed_send(self, cfg.retry_delay, claim_due{type});
  };
  self->request(st.work_queue, cfg.claim_wait + cfg.request_timeout, std::move(req))
      .then(
          [=](msg::work_command_reply& r) {
            auto& st = self->state;
            auto& ts = st.types[type];
            ts.claiming = false;
            ts.request_id.clear();  // answered: the next claim is a new one
            st.claimed += r.items.size();
            for (auto& item : r.items) launch(self, cfg, std::move(item), false);
            // An empty answer long before the wait was over: the queue does not hold polls here.
            if (r.items.empty() && mono_now() - sent < cfg.claim_wait / 2) back_off();
            else try_claim(self, cfg, type);
          },
          [=](caf::error& err) {
            auto& ts = self->state.types[type];
            ts.claiming = false;
            // The claim may have been applied with its answer lost: the same request_id replays it.
            if (api_code(err) == api_errc::bad_request) ts.request_id.clear();
            log::debug("runner", "claim failed; retrying", {{"work_type", json::quote(type)}, {"error", json::quote(describe_error(err))}});
            back_off();
          });
}

// ---- reconciliation -------------------------------------------------------------------------

// Claims the queue holds in this node's name, asked by status (a node's finished items far
// outnumber them, so a list of everything it ever claimed could hide them past its first page).
void reconcile(self_ptr self, const runner_config& cfg, std::size_t step = 0) {
  static constexpr std::string_view held[] = {"claimed", "running"};
  auto& st = self->state;
  if (step == 0) {
    if (st.reconciled || st.reconcile_in_flight || !st.work_queue) return;
    st.reconcile_in_flight = true;
  }
  msg::work_list_request req;
  req.status = std::string(held[step]);
  req.claimed_by = cfg.node_id;
  req.limit = 1000;  // more than the slots of every type together
  self->request(st.work_queue, cfg.request_timeout, std::move(req))
      .then(
          [=](msg::work_list_reply& r) {
            auto& st = self->state;
            for (auto& item : r.items) {
              if (!work::holds_claim(item.state) || item.claimed_by != cfg.node_id) continue;
              launch(self, cfg, std::move(item), true);  // an item seen twice (it started meanwhile) runs once
            }
            if (step + 1 < std::size(held)) return reconcile(self, cfg, step + 1);
            st.reconcile_in_flight = false;
            st.reconciled = true;
            log::info("runner", "reconciled", {{"claims_adopted", std::to_string(st.adopted)}});
            claim_everything(self, cfg);
          },
          [=](caf::error& err) {
            self->state.reconcile_in_flight = false;
            log::debug("runner", "reconciliation waits for the queue", {{"error", json::quote(describe_error(err))}});
            self->delayed_send(self, cfg.retry_delay, reconcile_due{});
          });
}

// ---- drain ----------------------------------------------------------------------------------

void cut_drain(self_ptr self) {
  for (auto& [id, a] : self->state.attempts) {
    if (a.at != phase::running || a.claim_lost) continue;
    a.release = true;
    a.process->cancel("node draining");
  }
}

// ---- status ---------------------------------------------------------------------------------

msg::runner_status_reply status_of(const runner_state& st, const runner_config& cfg) {
  msg::runner_status_reply r;
  r.node_id = cfg.node_id;
  r.draining = st.draining;
  for (const auto& [type, conf] : cfg.work_types) {
    msg::runner_type_status t;
    t.work_type = type;
    t.argv = conf.argv;
    t.slots = conf.slots;
    t.running = running_of(st, type);
    auto ts = st.types.find(type);
    t.claiming = ts != st.types.end() && ts->second.claiming;
    r.types.push_back(std::move(t));
  }
  const auto now = mono_now();
  for (const auto& [id, a] : st.attempts) {
    msg::runner_attempt_status s;
    s.work_id = id;
    s.work_type = a.item.work_type;
    s.attempt = a.item.attempts;
    s.pid = a.process->pid();
    s.runtime_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - a.started).count());
    s.progress = a.item.progress;
    s.progress_message = a.item.progress_message;
    s.phase = a.at == phase::running ? "running" : "reporting";
    r.attempts.push_back(std::move(s));
  }
  r.claimed = st.claimed;
  r.completed = st.completed;
  r.failed = st.failed;
  r.lost_claims = st.lost_claims;
  r.handed_back = st.handed_back;
  r.adopted = st.adopted;
  return r;
}

}  // namespace

caf::behavior runner_actor(caf::stateful_actor<runner_state>* self, runner_config cfg) {
  self->state.boot_nonce = random_hex(6);
  self->send(cfg.directory, msg::directory_subscribe{});
  auto summary = [self, cfg] {
    const auto& st = self->state;
    json::writer w;
    w.begin_object()
        .field("work_types", static_cast<std::uint64_t>(cfg.work_types.size()))
        .field("running", static_cast<std::uint64_t>(st.attempts.size()))
        .field("reconciled", st.reconciled)
        .field("draining", st.draining)
        .field("claimed", st.claimed)
        .field("completed", st.completed)
        .field("failed", st.failed)
        .field("lost_claims", st.lost_claims)
        .field("handed_back", st.handed_back)
        .end_object();
    return w.take();
  };
  return instrumented(
      self, "runner", summary, {},
      [=](msg::runner_status_request&) { return status_of(self->state, cfg); },
      [=](msg::runner_drain_request& r) -> caf::result<msg::runner_drain_reply> {
        auto& st = self->state;
        if (st.drain_promise) return make_api_error(api_errc::conflict, "the runner is already draining");
        st.draining = true;
        st.drain_finished = 0;
        const auto half = std::chrono::milliseconds(r.deadline_ms / 2);
        st.drain_cut = mono_now() + half;
        log::info("runner", "draining", {{"running", std::to_string(st.attempts.size())}});
        if (st.attempts.empty()) return msg::runner_drain_reply{0, 0};
        st.drain_promise = self->make_response_promise<msg::runner_drain_reply>();
        self->delayed_send(self, half, drain_cut_due{});
        return *st.drain_promise;
      },
      [=](drain_cut_due&) { cut_drain(self); },
      [=](attempt_changed& c) {
        auto& st = self->state;
        auto it = st.attempts.find(c.work_id);
        if (it == st.attempts.end() || it->second.generation != c.generation) return;
        auto& a = it->second;
        if (auto p = a.process->take_progress()) {
          a.item.progress = p->fraction;
          a.item.progress_message = p->message;
          a.progress = std::move(p);
          // PROGRESS lines become heartbeats, at most one per minimum interval.
          if (mono_now() - a.last_heartbeat >= cfg.min_heartbeat_interval) heartbeat(self, cfg, c.work_id);
        }
        if (a.at == phase::running && a.process->finished()) {
          a.at = phase::reporting;
          report(self, cfg, c.work_id);
        }
      },
      [=](heartbeat_due& h) {
        auto& st = self->state;
        auto it = st.attempts.find(h.work_id);
        if (it == st.attempts.end() || it->second.generation != h.generation) return;
        if (it->second.at != phase::running) return;
        heartbeat(self, cfg, h.work_id);
        self->delayed_send(self, heartbeat_interval(cfg, it->second.item), heartbeat_due{h.work_id, h.generation});
      },
      [=](report_due& r) {
        auto it = self->state.attempts.find(r.work_id);
        if (it == self->state.attempts.end() || it->second.generation != r.generation) return;
        report(self, cfg, r.work_id);
      },
      [=](claim_due& c) {
        self->state.types[c.work_type].backing_off = false;
        try_claim(self, cfg, c.work_type);
      },
      [=](reconcile_due&) { reconcile(self, cfg); },
      [=](msg::directory_update& u) {
        if (u.entry.name != "work_queue") return;
        auto& st = self->state;
        st.work_queue = u.entry.handle;
        if (!st.work_queue) return;
        // A restarted queue actor forgot the long polls it held: ask again.
        for (auto& [type, ts] : st.types) ts.claiming = false;
        if (cfg.work_types.empty()) return;
        if (!st.reconciled) reconcile(self, cfg);
        else claim_everything(self, cfg);
      });
}

}  // namespace p2p
