#pragma once
// Typed messages of the work_queue domain (DESIGN.md §4 "Work lifecycle", §5). The HTTP front
// decodes requests into these; the work_queue actor turns them into work-queue commands proposed
// through the raft actor, and the raft actor answers the queries from its state machine. Those
// marked "wire" cross the cluster port (forwarded to the leader, or asked by the console).
#include <cstdint>
#include <string>
#include <vector>

#include "actors/work_queue/work_queue.hpp"

namespace p2p::work {
template <class F> auto inspect(F& f, requirements& x) { return f(x.labels, x.gpus, x.min_memory_gb); }
template <class F> auto inspect(F& f, item& x) {
  return f(x.work_id, x.seq, x.work_type, x.priority, x.config, x.config_key, x.target_node, x.exclude_nodes,
           x.required, x.depends_on, x.campaign_id, x.state, x.attempts, x.max_attempts, x.lease_s, x.timeout_s,
           x.claimed_by, x.claim_token, x.created_at, x.claimed_at, x.started_at, x.finished_at, x.updated_at,
           x.progress, x.progress_message, x.result, x.error);
}
template <class F> auto inspect(F& f, new_item& x) {
  return f(x.work_type, x.priority, x.config, x.depends_on, x.max_attempts, x.lease_s, x.timeout_s, x.campaign_id);
}
template <class F> auto inspect(F& f, claim_info& x) {
  return f(x.work_id, x.claim_token, x.node_id, x.state, x.lease_s, x.timeout_s, x.claimed_at, x.started_at);
}
}  // namespace p2p::work

namespace p2p::msg {

// ---- commands (HTTP -> work_queue actor) ------------------------------------------------------
// A decoder that finds a problem the schema cannot express sets `error` and `error_field`; the
// actor answers 400 with them.

// POST /work/add: one item, or {"items": [...]}.
struct work_add_request {
  std::vector<work::new_item> items;
  std::string idempotency_key;
  std::string error, error_field;
};
// POST /work/claim.
struct work_claim_request {
  std::string node_id;
  std::vector<std::string> work_types;  // empty: the node's gossiped work types, else any
  std::uint32_t max_items = 1;
  double wait_s = 0;  // long poll: wait this long for work before answering no_work
  std::string request_id;
  std::string error;  // set by the decoder: refused with bad_request naming work_types
};
// POST /work/start.
struct work_start_request {
  std::string work_id, claim_token;
};
// Wire: POST /work/heartbeat, forwarded to the leader's work_queue actor (leases live there).
struct work_heartbeat_request {
  std::string work_id, claim_token;
  bool has_progress = false;
  double progress = 0;
  std::string message;
  std::uint32_t hops = 0;
};
// POST /work/complete.
struct work_complete_request {
  std::string work_id, claim_token;
  std::string result = "{}";  // a JSON object's text
};
// POST /work/fail.
struct work_fail_request {
  std::string work_id, claim_token;
  std::string error;
  bool retryable = true;
};
// POST /work/release: the claimant gives an unfinished item back; the attempt does not count.
struct work_release_request {
  std::string work_id, claim_token;
  std::string reason;
};
// POST /work/cancel.
struct work_cancel_request {
  std::string work_id;
  std::string reason;
};
// Wire: what a command answered when it succeeded (failures are error envelopes).
struct work_command_reply {
  std::string status;  // "queued", "claimed", "no_work", "running", "completed", "duplicate", ...
  std::vector<std::string> work_ids;
  std::vector<work::item> items;
  bool replayed = false;
};

// ---- queries ------------------------------------------------------------------------------------

// Wire: GET /work/status (leader-read; stale answers locally).
struct work_status_request {
  std::string work_id;
  bool stale = false;
};
struct work_item_reply {
  work::item item;
  bool archived = false;  // read from this node's archive: it left the replicated state
  std::uint64_t index = 0;  // the log index the answer reflects (0 from the archive)
};

struct work_count {
  std::string work_type;  // empty in counts by status
  std::string status;
  std::uint64_t count = 0;
};
// Wire: GET /work/list.
struct work_list_request {
  std::string status;  // empty: any
  std::string work_type;
  std::string claimed_by;
  std::uint32_t limit = 100;
  std::string cursor;
  bool archived = false;  // read this node's archive of items past retention
  bool stale = false;
  std::string error, error_field;
};
struct work_list_reply {
  std::vector<work::item> items;
  std::string next_cursor;
  std::vector<work_count> by_status;
  std::vector<work_count> by_type;
  std::uint64_t total = 0;
  bool archived = false;
  std::uint64_t index = 0;
};

// Wire: the raft actor answers queries on its state machine (leader-read through its forwarding,
// or from this node's state with `stale`).
enum class work_query_kind : std::uint8_t { get, list, counts, claimed_by, claims, recent };
struct work_query {
  work_query_kind kind = work_query_kind::get;
  std::string work_id;     // get
  std::string node_id;     // claimed_by
  std::string status;      // list: empty or a status name
  std::string work_type;   // list
  std::string claimed_by;  // list
  std::uint32_t limit = 100;  // list, recent
  std::string cursor;         // list
  bool stale = false;
  std::uint32_t hops = 0;
};
struct work_query_reply {
  bool found = false;  // get
  std::vector<work::item> items;  // get (one), list, claimed_by, recent
  std::string next_cursor;
  std::vector<work_count> by_status;  // counts, list
  std::vector<work_count> by_type;
  std::uint64_t total = 0;
  std::uint64_t active = 0;
  std::vector<work::claim_info> claims;
  std::int64_t oldest_finished_ms = 0;  // counts: the earliest finished_at of a terminal item (0: none)
  std::uint64_t index = 0;  // the applied index the answer reflects
};

// ---- inside one node ----------------------------------------------------------------------------

// raft -> work_queue: a work command applied here (on every voter, in log order).
struct work_applied {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::string op;      // "add", "claim", ...
  std::string status;  // the reply's status ("" for an error answer)
  std::vector<work::item> archived;  // archive: what left the replicated state, for the local archive
};
// raft -> work_queue: who leads now, and whether this node applies the log.
struct work_leadership {
  bool leader = false;
  std::string leader_id;  // empty: none known
  std::uint64_t term = 0;
  bool applies_log = false;  // a voter or learner: work_applied arrives here
};

// node -> work_queue at shutdown: answer every waiting long poll now (no_work, or what a probe in
// flight finds) and hold no new ones, so no claim keeps the drain waiting.
struct work_drain_request {};
struct work_drain_reply {
  std::uint64_t answered = 0;  // long polls answered at once
};

// Console and admin.
struct work_overview_request {
  std::uint32_t recent = 10;
};
struct work_overview_reply {
  std::vector<work_count> by_status;
  std::vector<work_count> by_type;
  std::uint64_t total = 0;
  std::vector<work::item> recent;  // newest first
  std::uint64_t archived = 0;      // rows in this node's archive
  bool leader = false;
  std::uint64_t tracked_leases = 0;
  std::uint64_t waiting_claims = 0;
};
struct work_metrics_request {};
struct work_metrics_reply {
  std::string text;  // Prometheus exposition lines
};

template <class F> auto inspect(F& f, work_add_request& x) {
  return f(x.items, x.idempotency_key, x.error, x.error_field);
}
template <class F> auto inspect(F& f, work_claim_request& x) {
  return f(x.node_id, x.work_types, x.max_items, x.wait_s, x.request_id, x.error);
}
template <class F> auto inspect(F& f, work_start_request& x) { return f(x.work_id, x.claim_token); }
template <class F> auto inspect(F& f, work_heartbeat_request& x) {
  return f(x.work_id, x.claim_token, x.has_progress, x.progress, x.message, x.hops);
}
template <class F> auto inspect(F& f, work_complete_request& x) { return f(x.work_id, x.claim_token, x.result); }
template <class F> auto inspect(F& f, work_fail_request& x) {
  return f(x.work_id, x.claim_token, x.error, x.retryable);
}
template <class F> auto inspect(F& f, work_release_request& x) {
  return f(x.work_id, x.claim_token, x.reason);
}
template <class F> auto inspect(F& f, work_cancel_request& x) { return f(x.work_id, x.reason); }
template <class F> auto inspect(F& f, work_command_reply& x) { return f(x.status, x.work_ids, x.items, x.replayed); }
template <class F> auto inspect(F& f, work_status_request& x) { return f(x.work_id, x.stale); }
template <class F> auto inspect(F& f, work_item_reply& x) { return f(x.item, x.archived, x.index); }
template <class F> auto inspect(F& f, work_count& x) { return f(x.work_type, x.status, x.count); }
template <class F> auto inspect(F& f, work_list_request& x) {
  return f(x.status, x.work_type, x.claimed_by, x.limit, x.cursor, x.archived, x.stale, x.error, x.error_field);
}
template <class F> auto inspect(F& f, work_list_reply& x) {
  return f(x.items, x.next_cursor, x.by_status, x.by_type, x.total, x.archived, x.index);
}
template <class F> auto inspect(F& f, work_query& x) {
  return f(x.kind, x.work_id, x.node_id, x.status, x.work_type, x.claimed_by, x.limit, x.cursor, x.stale, x.hops);
}
template <class F> auto inspect(F& f, work_query_reply& x) {
  return f(x.found, x.items, x.next_cursor, x.by_status, x.by_type, x.total, x.active, x.claims,
           x.oldest_finished_ms, x.index);
}
template <class F> auto inspect(F& f, work_applied& x) { return f(x.index, x.term, x.op, x.status, x.archived); }
template <class F> auto inspect(F& f, work_leadership& x) {
  return f(x.leader, x.leader_id, x.term, x.applies_log);
}
template <class F> auto inspect(F& f, work_drain_request&) { return f(); }
template <class F> auto inspect(F& f, work_drain_reply& x) { return f(x.answered); }
template <class F> auto inspect(F& f, work_overview_request& x) { return f(x.recent); }
template <class F> auto inspect(F& f, work_overview_reply& x) {
  return f(x.by_status, x.by_type, x.total, x.recent, x.archived, x.leader, x.tracked_leases, x.waiting_claims);
}
template <class F> auto inspect(F& f, work_metrics_request&) { return f(); }
template <class F> auto inspect(F& f, work_metrics_reply& x) { return f(x.text); }

}  // namespace p2p::msg
