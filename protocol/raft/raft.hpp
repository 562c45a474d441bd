#pragma once
// Raft (Ongaro's thesis) as a pure state machine in the style of etcd's raft package: time and
// messages are inputs; messages to send, state to persist and committed entries to apply are
// outputs. No clocks, files, sockets or actors.
//
// The caller's contract, as etcd's Ready: after step()/tick()/propose(), first persist
// take_persist() (fsync), then send take_messages(), then apply take_committed(). A vote or an
// acknowledged entry is never sent before it is durable.
//
// Here: elections with pre-vote and leader stickiness, check-quorum, log replication with
// batching and pipelining, commit by counting current-term entries, leadership transfer,
// read-index and the leader lease (reads only; safety never depends on clocks), and
// single-server membership changes with non-voters, one at a time.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::raft {

using node_id = std::string;
using term_t = std::uint64_t;
using index_t = std::uint64_t;
using time_ms = std::int64_t;

struct timing {
  std::string name;
  time_ms heartbeat;     // leader -> followers, at least this often
  time_ms election_min;  // election timeouts are drawn from [election_min, election_max)
  time_ms election_max;
  std::size_t max_batch_entries;  // entries per append message
  std::size_t max_batch_bytes;    // payload bytes per append message (one entry may exceed it)
  std::size_t max_inflight;       // append messages in flight per follower
};
// "test", "lan", "wan"; nullopt for other names.
std::optional<timing> timing_named(std::string_view name);

enum class entry_type : std::uint8_t { normal, noop, config };

// The first entry of every term is a no-op that names its leader and the leader of the latest
// term before it in that leader's log: applying it is the cluster's LEADER_CHANGED, and every
// voter reads the same names from it. The cluster's very first entry also carries the cluster
// id. Entries written before leaders were named hold the cluster id alone (or nothing).
struct term_start {
  std::string cluster_id;
  std::string leader;           // empty in entries written before leaders were named
  std::string previous_leader;  // empty when unknown (the first term, or compacted away)
};
std::string encode_term_start(const term_start& t);
term_start decode_term_start(std::string_view data);

// The cluster's membership; a config entry carries one (the latest in the log is in force).
struct membership {
  std::vector<node_id> voters;    // sorted
  std::vector<node_id> learners;  // non-voters: receive the log, never vote (sorted)
  bool operator==(const membership&) const = default;
};
std::string encode_membership(const membership& m);
std::optional<membership> decode_membership(std::string_view data);

// One change at a time (thesis §4.1). Replacing a voter is add_voter, then remove.
enum class change_kind : std::uint8_t { add_voter, add_learner, promote, remove };
struct membership_change {
  change_kind kind;
  node_id node;
};

struct entry {
  term_t term = 0;
  index_t index = 0;
  entry_type type = entry_type::normal;
  std::string data;
};

// The state machine as of `index` (log compaction, thesis §5): replaces the entries up to it.
struct snapshot {
  index_t index = 0;  // the last entry it covers
  term_t term = 0;    // that entry's term
  membership members;  // the membership in force at `index`
  std::string data;    // the state machine's bytes
  std::string cluster_id;
  bool operator==(const snapshot&) const = default;
};

enum class msg_type : std::uint8_t {
  pre_vote, pre_vote_reply, vote, vote_reply, append, append_reply,
  timeout_now,  // leadership transfer: campaign now
  snapshot, snapshot_reply,  // InstallSnapshot, one chunk at a time
};

struct message {
  msg_type type = msg_type::append;
  node_id from;
  node_id to;
  term_t term = 0;
  // vote, pre_vote: the candidate's last log term and index. append: the previous entry's.
  term_t log_term = 0;
  index_t index = 0;
  std::vector<entry> entries;  // append
  index_t commit = 0;          // append: the leader's commit index
  bool reject = false;         // replies
  // append_reply: on success the follower's last matching index; on reject a hint where the
  // logs may agree (the leader retries after it).
  index_t hint = 0;
  // append: the leader's latest heartbeat round; append_reply: echoed. A reply acknowledges
  // the leader as of that round (read-index and the lease count them).
  std::uint64_t round = 0;
  bool transfer = false;  // vote: campaigning on the leader's request; stickiness does not apply
  // snapshot: `index`/`log_term` name the snapshot, `offset` is where `data` (a chunk) starts in
  // it, `done` marks the last chunk, `members` its encoded membership.
  // snapshot_reply: `hint` is the next offset wanted (`reject` when it restarts), or with
  // `done` the snapshot index now installed.
  std::uint64_t offset = 0;
  std::string data;
  std::string members;
  bool done = false;
  // Cluster identity, on every message: the sender's cluster id (empty until it knows it) and
  // the hash of its bootstrap voter list (0 when it has none). A mismatch is refused.
  std::string cluster;
  std::uint64_t voters_hash = 0;
};

// The hash every message carries of the bootstrap voter list (FNV-1a over the sorted names).
std::uint64_t voter_set_hash(std::vector<node_id> voters);

// What must be durable before the messages of the same step are sent.
struct hard_state {
  term_t term = 0;
  node_id vote;
  index_t commit = 0;
  bool operator==(const hard_state&) const = default;
};

// Applied by storage in this order: state, snapshot (drops every entry up to its index),
// truncation, entries.
struct persist_batch {
  std::optional<hard_state> state;         // set when it changed
  std::optional<index_t> truncate_from;    // drop persisted entries from this index on
  std::vector<entry> entries;              // then append these
  std::optional<raft::snapshot> snapshot;  // written atomically
  bool empty() const { return !state && !snapshot && !truncate_from && entries.empty(); }
};

enum class role { follower, pre_candidate, candidate, leader };
std::string_view role_name(role r);

// A read confirmed at `index`: serve it once the state machine has applied `index`.
struct read_state {
  std::uint64_t id = 0;
  index_t index = 0;
};

struct progress {
  index_t match = 0;
  index_t next = 1;
  bool probing = true;    // one append at a time until the follower's position is known
  std::size_t inflight = 0;
  bool recently_active = false;  // answered since the last quorum check
  time_ms last_sent = 0;
  std::uint64_t acked_round = 0;  // the latest heartbeat round it acknowledged
  // Sending a snapshot (the entries it needs are compacted away): which one, and the next offset.
  index_t snapshot_index = 0;
  std::uint64_t snapshot_offset = 0;
};

class core {
 public:
  // `voters` is the bootstrap membership (config entries in the log override it); a node not
  // in it is a non-voter until a change says otherwise. `state` and `log` are what storage
  // recovered (empty when new): the log continues right after `snap` when one is given.
  core(node_id self, std::vector<node_id> voters, timing t, std::uint64_t seed, time_ms now,
       hard_state state = {}, std::vector<entry> log = {}, std::optional<snapshot> snap = std::nullopt);

  void tick(time_ms now);
  void step(const message& m, time_ms now);
  // Leader only: appends an entry and returns its index; nullopt when not the leader or while
  // it hands leadership over.
  std::optional<index_t> propose(std::string data, time_ms now);
  // Leader only: hands leadership to `to` (a voter): catches it up, then tells it to campaign.
  // Proposals are refused meanwhile; abandoned after an election timeout.
  bool transfer_leadership(const node_id& to, time_ms now);
  // The connection to `node` broke. If it is our leader, it has probably crashed: stop deferring
  // to it (leader stickiness) and campaign within a heartbeat or two instead of waiting out the
  // election timeout. Only liveness depends on this; votes still need a majority's logs.
  void leader_unreachable(const node_id& node, time_ms now);
  // Leader only: appends a membership change; nullopt with `why` set when refused (not the
  // leader, a change still uncommitted, nothing of this term committed yet, invalid change).
  std::optional<index_t> propose_change(const membership_change& change, time_ms now, std::string* why = nullptr);
  const membership& members() const { return members_; }
  bool is_voter() const;
  const node_id& transferring_to() const { return transfer_to_; }
  // Leader only: a linearizable read. Within the lease it is confirmed at once; otherwise after
  // a heartbeat round acknowledged by a majority (and once an entry of this term committed).
  // The result comes out of take_reads(), or take_failed_reads() if leadership is lost first.
  bool read_index(std::uint64_t id, time_ms now);
  std::vector<read_state> take_reads();
  std::vector<std::uint64_t> take_failed_reads();
  // Until when reads may skip the round (0: no lease). Safety never depends on it.
  time_ms lease_until() const { return lease_until_; }

  // Log compaction: the application has applied up to `index` (≤ what take_committed() gave
  // out) and `data` is its state there. Entries up to `index` are dropped; the snapshot goes
  // out in the next persist batch. False when `index` is not applied or already compacted.
  bool compact(index_t index, std::string data);
  const snapshot& latest_snapshot() const { return snapshot_; }

  persist_batch take_persist();
  // The leader may send its appends while its own copy is being written (thesis §10.2.1): a
  // batch that changes neither the hard state nor a snapshot nor a truncation may be taken
  // with take_persist_deferred(), the messages sent, and persisted() called once it is
  // durable. Our own entries count toward commit only from then on. take_persist() is both.
  // Several deferred batches may be under way; they are written in order, and each persisted()
  // says the oldest of them is durable (an empty batch needs no persisted()).
  persist_batch take_persist_deferred();
  void persisted();
  std::vector<message> take_messages();  // a leader's new proposals go out here, in one append per follower
  // A snapshot received from the leader, once durable: the application replaces its state
  // with it before applying take_committed(). Call after take_persist().
  std::optional<snapshot> take_restore();
  std::vector<entry> take_committed();  // newly committed entries, in order, to apply

  role state() const { return role_; }
  term_t term() const { return term_; }
  const node_id& leader() const { return leader_; }
  const node_id& voted_for() const { return vote_; }
  const node_id& self() const { return self_; }
  index_t commit_index() const { return commit_; }
  index_t last_index() const { return log_.empty() ? snapshot_.index : log_.back().index; }
  term_t last_term() const { return log_.empty() ? snapshot_.term : log_.back().term; }
  index_t first_index() const { return snapshot_.index + 1; }  // the first entry still in the log
  term_t term_at(index_t i) const;  // 0 when unknown (compacted before the snapshot, or past the end)
  const std::vector<entry>& log() const { return log_; }  // from first_index() on
  index_t applied_index() const { return applied_; }
  const std::map<node_id, progress>& peers() const { return progress_; }
  const std::vector<node_id>& voters() const { return members_.voters; }
  // The cluster's identity: drawn by its first leader, carried by the first entry; empty until
  // that entry commits (or a snapshot brings it).
  const std::string& cluster_id() const { return cluster_id_; }
  std::uint64_t bootstrap_hash() const { return bootstrap_hash_; }
  // Messages refused since the last call because they came from another cluster: why, for logs.
  std::vector<std::string> take_refusals();
  // The earliest time tick() has work to do.
  time_ms next_deadline() const;

 private:
  std::size_t quorum() const { return members_.voters.size() / 2 + 1; }
  bool voter(const node_id& id) const;
  void apply_latest_membership();
  void sync_progress(time_ms now);
  // The quorum-th highest of `value` over the voters (ours given by `own`).
  template <class Value>
  std::uint64_t quorum_value(std::uint64_t own, Value value) const;
  void become_follower(term_t term, const node_id& leader, time_ms now);
  void become_pre_candidate(time_ms now);
  // Enters a campaigning role with our own vote; true when that alone is a quorum.
  bool start_campaign(role r, time_ms now);
  void become_candidate(time_ms now, bool transfer = false);
  void become_leader(time_ms now);
  void reset_election_timer(time_ms now);
  void campaign(msg_type type, bool transfer);
  void send(message m);
  void send_append(const node_id& to, time_ms now, bool heartbeat);
  void broadcast_append(time_ms now, bool heartbeat);
  void handle_vote_request(const message& m, time_ms now);
  void handle_vote_reply(const message& m, time_ms now);
  void handle_append(const message& m, time_ms now);
  void handle_append_reply(const message& m, time_ms now);
  // Leader: a follower's answer counts as contact and acknowledges its round; its progress.
  progress* answered_by(const message& m);
  void handle_snapshot(const message& m, time_ms now);
  void handle_snapshot_reply(const message& m, time_ms now);
  void send_snapshot_chunk(const node_id& to, time_ms now);
  const entry& at(index_t i) const { return log_[i - snapshot_.index - 1]; }
  void append_local(entry e);
  void truncate_from(index_t index);
  bool maybe_commit();
  void set_commit(index_t index);
  bool log_up_to_date(term_t last_term, index_t last_index) const;
  bool heard_from_leader_recently(time_ms now) const;
  void new_round(time_ms now);
  void update_lease_and_reads();
  void fail_reads();
  void learn_cluster_id();
  bool refuse_foreign(const message& m);
  // Keeps last_term_start_ on the latest term-start entry still in the log.
  void find_last_term_start();

  node_id self_;
  membership initial_;  // from the constructor
  membership members_;  // in force: the latest config entry's, else initial_
  index_t config_index_ = 0;  // the latest config entry, 0 for the initial membership
  timing timing_;
  std::mt19937_64 rng_;
  std::string cluster_id_;
  std::uint64_t bootstrap_hash_ = 0;
  std::vector<std::string> refusals_;
  // The latest term-start entry in the log (kept when compaction drops it): its leader is the
  // previous leader a new leader names in its own term start.
  struct known_term_start {
    index_t index = 0;
    node_id leader;
  };
  known_term_start last_term_start_;

  role role_ = role::follower;
  term_t term_ = 0;
  node_id vote_;
  node_id leader_;
  index_t commit_ = 0;
  index_t applied_ = 0;
  std::vector<entry> log_;  // index i lives at log_[i - snapshot_.index - 1]
  snapshot snapshot_;       // the latest (index 0: none)
  // Follower: the snapshot being received, and one received but not yet restored.
  snapshot incoming_;
  std::optional<snapshot> to_persist_snapshot_;
  std::optional<snapshot> to_restore_;

  time_ms election_deadline_ = 0;
  time_ms last_leader_contact_ = -1;  // when we last heard from a current leader
  time_ms next_heartbeat_ = 0;        // leader
  time_ms next_quorum_check_ = 0;     // leader
  std::map<node_id, bool> votes_;     // candidate, pre-candidate: who answered and how
  std::map<node_id, progress> progress_;  // leader: every other voter
  node_id transfer_to_;
  time_ms transfer_deadline_ = 0;
  std::uint64_t round_ = 0;                     // leader: heartbeat rounds
  std::map<std::uint64_t, time_ms> round_sent_;  // when each unconfirmed round went out
  time_ms lease_until_ = 0;
  struct pending_read {
    std::uint64_t id;
    index_t index;
    std::uint64_t round;
  };
  std::vector<pending_read> pending_reads_;
  std::vector<read_state> ready_reads_;
  std::vector<std::uint64_t> failed_reads_;

  hard_state persisted_state_;
  index_t stable_ = 0;  // entries up to here are in a batch already handed out
  std::deque<index_t> unpersisted_;  // per deferred batch being written, oldest first: its last index
  index_t durable_ = 0;     // our entries up to here are on disk: they count toward commit
  std::optional<index_t> truncated_;
  std::vector<message> outbox_;
  std::optional<time_ms> append_due_;  // proposals not sent yet: when the latest came
};

}  // namespace p2p::raft
