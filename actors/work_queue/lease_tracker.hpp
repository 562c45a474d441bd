#pragma once
// The leader's lease tracker for the work queue (DESIGN.md §4 "Work lifecycle"). Pure: time is an
// input. Heartbeats renew leases here, in the leader's memory, not through the log; given the
// applied claims and the time, it says which claims to expire (their lease lapsed, or SWIM
// declared their node dead) and which running items overran timeout_s. A new leader starts a
// fresh tracker: every lease restarts at full length, so a term change alone never revokes a
// claim.
//
// One clock throughout: the one the leader stamps commands with (started_at comes from it).
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "actors/work_queue/work_queue.hpp"

namespace p2p::work {

class lease_tracker {
 public:
  struct options {
    time_ms progress_interval_ms = 5000;  // replicate an item's progress at most this often
    time_ms retry_ms = 2000;  // offer an action again if its claim is still live after this long
  };
  enum class action_kind : std::uint8_t { expire_lease, expire_dead_claimant, timeout };
  // What to propose: expire_command (lease_expired / claimant_dead) or timeout_command.
  struct action {
    action_kind kind = action_kind::expire_lease;
    std::string work_id;
    std::string claim_token;
    bool operator==(const action&) const = default;
  };
  struct heartbeat_verdict {
    bool valid = false;  // false: the claim is gone; the runner stops the work
    // Propose a heartbeat command: the first one (claimed -> running), or progress now due.
    bool propose = false;
  };

  lease_tracker() : lease_tracker(options{}) {}
  explicit lease_tracker(options o) : options_(o) {}

  // Reconciles with the applied claims (work_queue_state_machine::claims()): a claim not seen
  // before gets a full lease from `now`; claims no longer live are forgotten.
  void sync(const std::vector<claim_info>& live, time_ms now);
  // A runner's heartbeat for a claim; renews its lease when it names the live claim.
  heartbeat_verdict heartbeat(std::string_view work_id, std::string_view claim_token, bool has_progress, time_ms now);
  // SWIM's verdicts on nodes. A dead node's claims are expired at once (claimant_dead).
  void node_dead(const std::string& node_id);
  void node_alive(const std::string& node_id);
  // What to propose now, in work id order. An action is offered once, then again every retry_ms
  // while its claim stays live (the proposal may have been lost).
  std::vector<action> due(time_ms now);
  // The earliest time due() may have something new (max() when nothing is tracked).
  time_ms next_deadline() const;
  std::size_t tracked() const { return leases_.size(); }
  std::optional<time_ms> lease_expires_at(std::string_view work_id) const;

 private:
  struct lease {
    claim_info claim;
    time_ms expires_at = 0;
    std::optional<time_ms> progress_proposed_at;
    // When a heartbeat was last proposed to move the claim to running.
    std::optional<time_ms> running_proposed_at;
    time_ms offered_at = -1;  // when due() last offered an action for it; -1: never
  };
  std::optional<action_kind> verdict(const lease& l, time_ms now) const;
  time_ms deadline(const lease& l) const;

  options options_;
  std::map<std::string, lease, std::less<>> leases_;  // by work id
  std::set<std::string, std::less<>> dead_;
};

std::string_view action_kind_name(lease_tracker::action_kind k);

}  // namespace p2p::work
