#pragma once
// Typed messages of the runner domain (DESIGN.md §4 "Runner"): its status for operators and
// tests, and the drain the node asks of it at shutdown. Local to one node; none cross the wire.
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

// GET /runner/status.
struct runner_status_request {};
struct runner_type_status {
  std::string work_type;
  std::vector<std::string> argv;
  std::uint32_t slots = 0;
  std::uint32_t running = 0;
  bool claiming = false;  // a claim (possibly a long poll) is out for this type
};
struct runner_attempt_status {
  std::string work_id;
  std::string work_type;
  std::uint32_t attempt = 0;
  std::int64_t pid = -1;
  std::uint64_t runtime_ms = 0;
  double progress = 0;
  std::string progress_message;
  std::string phase;  // "running", "reporting" (finished, its outcome not yet acknowledged)
};
struct runner_status_reply {
  std::string node_id;
  bool draining = false;
  std::vector<runner_type_status> types;
  std::vector<runner_attempt_status> attempts;
  std::uint64_t claimed = 0;      // items this runner claimed since start
  std::uint64_t completed = 0;    // completions the queue acknowledged
  std::uint64_t failed = 0;       // failures reported (retryable or not)
  std::uint64_t lost_claims = 0;  // attempts stopped because the claim was gone or cancelled
  std::uint64_t handed_back = 0;  // released at drain or at start (reconciliation)
  std::uint64_t adopted = 0;      // claims found at start and run again under their token
};

// node -> runner at shutdown: stop claiming; let attempts finish until `deadline_ms` from now,
// then stop them and hand their items back. Answered when every attempt is settled.
struct runner_drain_request {
  std::uint64_t deadline_ms = 0;
};
struct runner_drain_reply {
  std::uint64_t finished = 0;     // attempts that ended (and were reported) during the drain
  std::uint64_t handed_back = 0;  // items released unfinished
};

template <class F> auto inspect(F& f, runner_status_request&) { return f(); }
template <class F> auto inspect(F& f, runner_type_status& x) {
  return f(x.work_type, x.argv, x.slots, x.running, x.claiming);
}
template <class F> auto inspect(F& f, runner_attempt_status& x) {
  return f(x.work_id, x.work_type, x.attempt, x.pid, x.runtime_ms, x.progress, x.progress_message, x.phase);
}
template <class F> auto inspect(F& f, runner_status_reply& x) {
  return f(x.node_id, x.draining, x.types, x.attempts, x.claimed, x.completed, x.failed, x.lost_claims,
           x.handed_back, x.adopted);
}
template <class F> auto inspect(F& f, runner_drain_request& x) { return f(x.deadline_ms); }
template <class F> auto inspect(F& f, runner_drain_reply& x) { return f(x.finished, x.handed_back); }

}  // namespace p2p::msg
