#pragma once
// The replicated work queue (DESIGN.md §4 "Work lifecycle"): a deterministic state machine fed
// committed commands through the Raft actor. Pure: no actors, clocks or I/O. Every timestamp
// comes in the command (assigned by the leader), every id is derived from the log index, and
// nothing depends on hash-map iteration order, so every voter applying the same commands from the
// same snapshot reaches the same state and gives the same answers and events.
//
// Commands, answers and snapshots use a compact versioned binary form (little endian, length-
// prefixed strings); `config` and `result` stay the JSON object texts they arrived as.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "actors/raft/state_machine.hpp"
#include "protocol/common/json.hpp"

namespace p2p::work {

using time_ms = std::int64_t;  // ms since the epoch, as the leader assigns it

enum class status : std::uint8_t { pending, claimed, running, completed, failed, timed_out, cancelled };
inline constexpr int status_count = 7;
std::string_view status_name(status s);
std::optional<status> status_named(std::string_view name);
bool is_terminal(status s);
bool holds_claim(status s);  // claimed or running

// What an item asks of the node that claims it (config "requires").
struct requirements {
  std::map<std::string, std::string> labels;  // every one must match the node's label exactly
  std::uint64_t gpus = 0;                     // at least this many GPUs ("gpu": true means 1)
  double min_memory_gb = 0;
  bool operator==(const requirements&) const = default;
};

struct item {
  std::string work_id;
  std::uint64_t seq = 0;  // creation order: FIFO within a priority, and the list cursor
  std::string work_type;
  int priority = 50;      // 0..100, higher first
  std::string config;     // a JSON object, as given
  // Read from config's reserved keys when the item was added.
  std::string config_key;
  std::string target_node;
  std::vector<std::string> exclude_nodes;
  requirements required;
  std::vector<std::string> depends_on;
  std::string campaign_id;
  status state = status::pending;
  std::uint32_t attempts = 0;
  std::uint32_t max_attempts = 3;
  std::uint32_t lease_s = 60;
  std::uint32_t timeout_s = 0;  // runtime limit from started_at; 0: none
  std::string claimed_by;
  std::string claim_token;  // "<term>.<log index>" of the latest claim
  time_ms created_at = 0, claimed_at = 0, started_at = 0, finished_at = 0, updated_at = 0;
  double progress = 0;  // 0..1
  std::string progress_message;
  std::string result;  // a JSON object, or empty before completion
  std::string error;
  bool operator==(const item&) const = default;
};

// The item as a JSON object, the one view of it everywhere (HTTP answers, P2P_WORK_FILE):
// times in RFC 3339 UTC with ms, empty strings as null.
std::string item_json(const item& x);
// The same object's fields, without the braces, for writers that add their own.
void write_item_fields(json::writer& w, const item& x);

// ---- commands --------------------------------------------------------------------------------

struct new_item {
  std::string work_type;
  int priority = 50;
  std::string config = "{}";
  // Existing work ids, or "#<n>" for the n-th (0-based, earlier) item of the same add.
  std::vector<std::string> depends_on;
  std::uint32_t max_attempts = 3;
  std::uint32_t lease_s = 60;
  std::uint32_t timeout_s = 0;
  std::string campaign_id;
  bool operator==(const new_item&) const = default;
};

struct add_command {
  std::vector<new_item> items;
  std::string idempotency_key;  // empty: none
  time_ms now = 0;
};

// What the claiming node offers; the leader fills it from the node's gossiped info.
struct node_offer {
  std::string node_id;
  std::vector<std::string> work_types;  // empty: any type
  std::map<std::string, std::string> labels;
  std::uint64_t gpus = 0;
  double memory_gb = 0;
};

struct claim_command {
  node_offer node;
  std::uint32_t max_items = 1;
  std::string request_id;  // empty: none; else a repeat replays the first answer
  std::uint64_t term = 0;  // the entry's term: tokens are "<term>.<log index>"
  time_ms now = 0;
};

struct start_command {
  std::string work_id, claim_token;
  time_ms now = 0;
};

struct heartbeat_command {
  std::string work_id, claim_token;
  bool has_progress = false;
  double progress = 0;
  std::string message;
  time_ms now = 0;
};

struct complete_command {
  std::string work_id, claim_token;
  std::string result = "{}";
  time_ms now = 0;
};

struct fail_command {
  std::string work_id, claim_token;
  std::string error;
  bool retryable = true;
  time_ms now = 0;
};

enum class expire_reason : std::uint8_t { lease_expired, claimant_dead };
std::string_view expire_reason_name(expire_reason r);

// Leader-proposed: the claim's lease lapsed or its node died.
struct expire_command {
  std::string work_id, claim_token;
  expire_reason reason = expire_reason::lease_expired;
  time_ms now = 0;
};

// Leader-proposed: a running item exceeded timeout_s (checked against `now`).
struct timeout_command {
  std::string work_id, claim_token;
  time_ms now = 0;
};

struct cancel_command {
  std::string work_id;
  std::string reason;  // empty: "cancelled"
  time_ms now = 0;
};

// The claimant gives the item back unfinished (a draining node, a runner that cannot run it):
// back to pending, and the attempt does not count, because the work was never judged.
struct release_command {
  std::string work_id, claim_token;
  std::string reason;  // empty: "released"
  time_ms now = 0;
};

// Leader-proposed retention: terminal items finished before `before` leave the replicated state
// (the answer carries them for the local archive). Items a live item depends on stay.
struct archive_command {
  time_ms before = 0;
  std::uint32_t max_items = 1000;
  time_ms now = 0;
};

using command = std::variant<add_command, claim_command, start_command, heartbeat_command, complete_command,
                             fail_command, expire_command, timeout_command, cancel_command, archive_command,
                             release_command>;

std::string encode_command(const command& c);
// nullopt for bytes that are not a command of a version this code knows.
std::optional<command> decode_command(std::string_view bytes);

// ---- answers ---------------------------------------------------------------------------------

// The error codes of DESIGN.md §5 that a command can earn.
enum class code : std::uint8_t { ok, bad_request, not_found, conflict, payload_too_large, backpressure };
std::string_view code_name(code c);

// What goes back to the client that proposed the command.
struct reply {
  code result = code::ok;
  // ok: "queued", "claimed", "no_work", "running", "completed", "duplicate", "pending" (a failure
  // or expiry that will be retried), "failed", "timed_out", "cancelled", "archived".
  std::string status;
  std::string message;         // errors: why
  std::string field;           // bad_request, payload_too_large: which field
  std::string current_status;  // conflict: the item's status now
  std::vector<std::string> work_ids;  // add: the new ids; archive: what left
  std::vector<item> items;            // claim: the items now held
  bool replayed = false;  // the first answer to this idempotency key or request id, again
  bool ok() const { return result == code::ok; }
  bool operator==(const reply&) const = default;
};

// The §5 response body: {"work_ids":[...]}, {"status":"claimed","items":[...]}, ... or the error
// envelope's fields ({"error","code","details"}).
std::string reply_json(const reply& r);

// A replicated transition, the same on every voter; the actor wraps it in the event envelope.
struct event {
  std::string event_id;  // "r:<log index>:<n>", n counting within the entry from 0
  std::string type;      // WORK_QUEUED, WORK_CLAIMED, ..., SELFPLAY_COMPLETE, TRAINING_*
  std::string payload_json;
  time_ms at = 0;  // the command's time: the envelope's timestamp, the same on every voter
  bool operator==(const event&) const = default;
};

struct answer {
  reply response;
  std::vector<event> events;
  std::vector<item> archived;  // archive: the items that left the replicated state
  bool operator==(const answer&) const = default;
};

std::string encode_answer(const answer& a);
std::optional<answer> decode_answer(std::string_view bytes);

// One item in the binary form (the local archive keeps items this way).
std::string encode_item(const item& x);
std::optional<item> decode_item(std::string_view bytes);

// ---- queries (read-only on the applied state) ------------------------------------------------

struct list_filter {
  std::optional<status> state;
  std::string work_type;   // empty: any
  std::string claimed_by;  // empty: any
  std::size_t limit = 100;
  std::string cursor;  // from a previous page's next_cursor; empty: from the start
};

struct list_page {
  std::vector<item> items;  // in creation order
  std::string next_cursor;  // empty: no more
};

struct counts {
  std::map<std::string, std::uint64_t> by_status;  // every status, zeros included
  std::map<std::string, std::map<std::string, std::uint64_t>> by_type;  // type -> status -> count (non-zero)
  std::uint64_t total = 0;
  std::uint64_t active = 0;  // not terminal: what backpressure counts
};

// A live claim, for the leader's lease tracker.
struct claim_info {
  std::string work_id;
  std::string claim_token;
  std::string node_id;
  status state = status::claimed;
  std::uint32_t lease_s = 0;
  std::uint32_t timeout_s = 0;
  time_ms claimed_at = 0;
  time_ms started_at = 0;  // 0 while claimed
  bool operator==(const claim_info&) const = default;
};

struct limits {
  std::size_t max_active_items = 10'000;  // non-terminal items; adds beyond are refused
  std::size_t max_payload_bytes = 64 * 1024;  // config and result, each
  time_ms dedupe_window_ms = 24LL * 3600 * 1000;  // idempotency keys and claim request ids
  std::uint32_t max_claim_items = 100;
  std::size_t max_add_items = 1000;
};

// ---- the state machine -----------------------------------------------------------------------

class work_queue_state_machine final : public raft::state_machine {
 public:
  // Every voter must use the same limits: they decide answers.
  explicit work_queue_state_machine(limits l = {});

  std::string apply(std::uint64_t index, std::string_view command) override;
  std::string snapshot() const override;
  void restore(std::string_view data) override;

  // Typed form of apply (what apply does after decoding).
  answer apply_command(std::uint64_t index, const command& c);

  const item* get(std::string_view work_id) const;
  list_page list(const list_filter& f) const;
  counts count() const;
  std::vector<item> recent(std::size_t n) const;                  // the newest n items, newest first
  time_ms oldest_finished() const;  // the earliest finished_at of a terminal item; 0 when none
  std::vector<item> claimed_by(std::string_view node_id) const;  // claimed or running, by seq
  std::vector<claim_info> claims() const;                        // every live claim, by seq
  std::size_t size() const { return items_.size(); }
  std::size_t active() const { return active_; }
  std::size_t idempotency_records() const { return idempotency_.size(); }
  std::size_t request_records() const { return requests_.size(); }
  time_ms clock() const { return clock_; }

 private:
  struct dedupe_record {
    time_ms at = 0;
    std::uint64_t body_hash = 0;  // idempotency keys: the add it answered
    std::string reply_bytes;
  };

  answer add(std::uint64_t index, const add_command& c);
  answer claim(std::uint64_t index, const claim_command& c);
  answer start(const start_command& c);
  answer heartbeat(const heartbeat_command& c);
  answer complete(const complete_command& c);
  answer fail(const fail_command& c);
  answer expire(const expire_command& c);
  answer timeout(const timeout_command& c);
  answer cancel(const cancel_command& c);
  answer archive(const archive_command& c);
  answer release(const release_command& c);

  void advance_clock(time_ms now);
  void prune_dedupe();
  item* find(std::string_view work_id);
  bool claimable_by(const item& x, const claim_command& c) const;
  // The next state after a failed attempt: pending while attempts remain, else `final_state`.
  // Returns whether the item went back to pending.
  bool end_attempt(item& x, status final_state, std::string error, bool retry);
  void set_state(item& x, status s);
  // Pending items depending (transitively) on `failed` are cancelled: dependency_failed.
  void cascade_dependency_failure(const item& failed, std::vector<event>& events);
  void emit(std::vector<event>& out, std::string_view type, std::string payload);
  void index_item(const item& x);
  void rebuild_indexes();

  limits limits_;
  std::map<std::uint64_t, item> items_;  // by seq
  std::map<std::string, std::uint64_t, std::less<>> by_id_;
  std::uint64_t next_seq_ = 1;
  time_ms clock_ = 0;  // the latest command time seen: timestamps never go back
  std::map<std::string, dedupe_record, std::less<>> idempotency_;
  std::map<std::pair<std::string, std::string>, dedupe_record> requests_;  // (node, request id)
  // Derived, rebuilt on restore.
  std::multimap<time_ms, std::string> idempotency_expiry_;  // record time -> key
  std::multimap<time_ms, std::pair<std::string, std::string>> request_expiry_;
  std::set<std::tuple<int, std::uint64_t>> pending_;  // (-priority, seq)
  std::set<std::uint64_t> holding_;  // seqs of claimed or running items: the leases, without a scan
  std::map<std::string, std::vector<std::string>, std::less<>> dependents_;
  std::size_t active_ = 0;
  std::uint64_t event_n_ = 0;  // within the entry being applied
  std::uint64_t entry_index_ = 0;
};

}  // namespace p2p::work
