#pragma once
// Typed messages of the event bus (DESIGN.md §4 "Events", §6).
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

// One event as stored and delivered. `seq` is this node's stream sequence (the SSE id).
struct event_record {
  std::uint64_t seq = 0;
  std::string event_id;  // "n:<node_uuid>:<seq>" or "r:<log index>:<n>"
  std::string type;
  std::string scope;  // "node" or "cluster"
  std::string timestamp;
  std::string origin_node;
  std::uint64_t term = 0;
  std::string payload_json;  // a JSON object
};

// Asks the events actor to record and deliver a node-scope event. Replies with the record, or an
// error when the type is unknown or the payload lacks the catalog's fields.
struct publish_event {
  std::string type;
  std::string payload_json;
};

// A replicated transition handed over by the raft actor as its entry applies on this node
// (DESIGN.md §4 "Events"): recorded with scope "cluster" and the given id "r:<log index>:<n>",
// the same on every voter. The events actor drops one it has recorded before (an entry applied
// again after a restart). `timestamp_ms` is the command's time, assigned by the leader.
struct replicated_event {
  std::string event_id;
  std::string type;
  std::string payload_json;
  std::uint64_t term = 0;
  std::int64_t timestamp_ms = 0;
};

// The sender becomes a subscriber: it receives event_record messages until it exits.
struct subscribe_events {
  bool resume = false;        // true: replay what follows after_seq
  std::uint64_t after_seq = 0;
  std::vector<std::string> types;  // empty: every type
};
struct subscribe_reply {
  bool reset = false;  // after_seq is older than what is retained: the consumer must resync
  std::uint64_t last_seq = 0;
};

struct events_stats_request {};
struct events_stats {
  std::uint64_t last_seq = 0;
  std::uint64_t retained = 0;
  std::uint64_t subscribers = 0;
  std::uint64_t published = 0;  // since this process started
};

template <class F> auto inspect(F& f, event_record& x) {
  return f(x.seq, x.event_id, x.type, x.scope, x.timestamp, x.origin_node, x.term, x.payload_json);
}
template <class F> auto inspect(F& f, publish_event& x) { return f(x.type, x.payload_json); }
template <class F> auto inspect(F& f, replicated_event& x) {
  return f(x.event_id, x.type, x.payload_json, x.term, x.timestamp_ms);
}
template <class F> auto inspect(F& f, subscribe_events& x) {
  return f(x.resume, x.after_seq, x.types);
}
template <class F> auto inspect(F& f, subscribe_reply& x) { return f(x.reset, x.last_seq); }
template <class F> auto inspect(F& f, events_stats_request&) { return f(); }
template <class F> auto inspect(F& f, events_stats& x) {
  return f(x.last_seq, x.retained, x.subscribers, x.published);
}

}  // namespace p2p::msg
