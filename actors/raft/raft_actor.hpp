#pragma once
// The raft actor drives the pure Raft core (protocol/raft) with real time, the write-ahead log
// under data_dir/raft/ and messages from other nodes' raft actors (through the peers actor). It
// owns the replicated state machine: a proposal is answered once committed and applied, or with
// an error (no leader, not applied, unknown outcome after a timeout). Writes and linearizable
// reads sent to a follower are forwarded to the leader here (DESIGN.md §4 placements).
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <deque>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/raft/composite_state_machine.hpp"
#include "protocol/messages/election.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/work.hpp"
#include "protocol/common/time.hpp"
#include "protocol/raft/raft.hpp"
#include "protocol/raft/wal.hpp"

namespace p2p {

struct raft_config {
  std::string node_id;
  // The bootstrap voters: --voters, or this node alone (no --voters, no --seeds), or none (a
  // node that joins through seeds and holds no log until it is added).
  std::vector<std::string> voters;
  raft::timing timing;
  std::filesystem::path data_dir;  // the log lives in data_dir/raft
  std::uint64_t seed = 0;
  std::uint64_t snapshot_every = 10000;  // applied entries between snapshots
  std::chrono::milliseconds proposal_timeout{10000};
  caf::actor directory;
  // The work queue's limits (backpressure, payload caps): the same on every voter, since they
  // decide the answers every voter computes.
  work::limits work_limits;
  // The log or snapshot cannot be read or written: the node must stop (a restart loop would not
  // help, and going on could lose acknowledged entries).
  std::function<void(const std::string&)> fatal;
};

// The data dir remembers the voter list it was bootstrapped with (recorded on first start). A
// node restarted without --voters keeps it (the first node of a cluster may later be started
// with --seeds); one started with a different --voters list is refused: membership changes go
// through Raft. `voters` is what the options say (`given`: --voters was set) and becomes the
// list to use. Returns the error text, empty when fine.
std::string resolve_raft_voters(const std::filesystem::path& data_dir, bool given, std::vector<std::string>& voters);

struct raft_state {
  std::optional<raft::core> core;
  std::shared_ptr<raft::wal> log;  // until the storage thread takes it over, at start
  caf::actor storage;              // writes the log, in order, off the actor threads
  raft::hard_state queued_state;   // the latest state handed to storage
  std::size_t writes_in_flight = 0;
  std::unique_ptr<raft::composite_state_machine> machine;
  mono_clock::time_point epoch;
  std::set<raft::time_ms> ticks;
  bool flush_queued = false;
  std::map<std::string, caf::actor> handles;  // peers, events
  struct pending_proposal {
    raft::term_t term;
    caf::response_promise promise;
    mono_clock::time_point deadline;
  };
  std::map<raft::index_t, pending_proposal> proposals;
  struct pending_read {
    std::string key;
    caf::response_promise promise;
    std::optional<raft::index_t> index;  // confirmed at
  };
  std::uint64_t next_read_id = 1;
  std::map<std::uint64_t, pending_read> reads;
  struct pending_work_read {
    msg::work_query query;
    caf::response_promise promise;
    std::optional<raft::index_t> index;  // confirmed at
  };
  std::map<std::uint64_t, pending_work_read> work_reads;  // ids shared with `reads`
  // What applied work commands produced, held until the events and work_queue actors are known
  // (at start, committed entries apply before the directory has told us about them): nothing is
  // dropped.
  std::deque<msg::replicated_event> events_outbox;
  std::deque<msg::work_applied> work_outbox;
  std::optional<msg::work_leadership> leadership_told;  // the last view sent to work_queue
  std::optional<msg::raft_leadership> election_told;   // the last word sent to election
  // On a node that is not a Raft member (it hears no appends): the leader the election actor
  // learned from heartbeats, empty once their lease ran out. Its leader placements go there.
  msg::heard_leader heard;
  // The term of the latest applied entry: an entry of a higher term is a term's first, whose
  // apply is LEADER_CHANGED.
  raft::term_t applied_term = 0;
  // A leadership hand-over under way on the leader, answered once another node leads.
  struct pending_transfer {
    std::string to;
    raft::term_t from_term = 0;
    std::vector<caf::response_promise> promises;
    mono_clock::time_point deadline;
  };
  std::optional<pending_transfer> transfer;
  struct pending_change {
    bool add;
    std::string node;
    raft::index_t index = 0;  // the change's entry (0 while waiting to propose the promotion)
    bool promoting = false;
    caf::response_promise promise;
    mono_clock::time_point deadline;
  };
  std::optional<pending_change> change;
  std::uint64_t fsyncs = 0;
  double fsync_total_ms = 0;
  std::uint64_t refused = 0;
  std::string last_leader;  // for the log: leadership changes are worth a line
  static inline const char* name = "raft";
};

caf::behavior raft_actor(caf::stateful_actor<raft_state>* self, raft_config cfg);

}  // namespace p2p
