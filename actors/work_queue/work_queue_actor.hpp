#pragma once
// The work_queue domain actor (DESIGN.md §4 "Work lifecycle"). Thin: the HTTP front decodes, this
// actor turns requests into work-queue commands and proposes them through the raft actor (which
// forwards a follower's proposal to the leader and stamps the leader's time on it); the raft
// actor answers the queries from its state machine, so no state is shared between actors.
//
// On the leader it keeps the leases (heartbeats renew them in memory; the first heartbeat and
// throttled progress are proposed), proposes `expire` for lapsed leases and for claimants SWIM
// declares dead or gone, `timeout` for runtime overruns, and the periodic archive of terminal
// items past retention. A new leader rebuilds its leases from the applied claims at full length,
// so a term change alone never revokes a claim. Followers forward heartbeats to the leader's
// work_queue actor. Long-poll claims wait here, on the node that was asked, and are retried as
// soon as an applied command may have made work claimable. Every node archives what its own
// apply of an archive command returned into data_dir/work/archive.sqlite.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "actors/work_queue/lease_tracker.hpp"
#include "actors/work_queue/work_archive.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/work.hpp"

namespace p2p {

struct work_queue_config {
  std::string node_id;
  std::filesystem::path data_dir;  // the archive is data_dir/work/archive.sqlite
  std::chrono::milliseconds retention{std::chrono::hours(24)};  // terminal items older leave the log
  std::chrono::milliseconds archive_interval{std::chrono::seconds(60)};  // how often the leader looks
  work::lease_tracker::options leases;
  std::chrono::milliseconds proposal_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds forward_timeout{std::chrono::seconds(5)};  // a heartbeat to the leader
  // How often a waiting claim asks again on a node that applies no log (it hears of no new work).
  std::chrono::milliseconds unapplied_probe_interval{std::chrono::seconds(2)};
  caf::actor directory;
};

// Claim latency buckets (seconds), for the Prometheus histogram.
inline constexpr std::array<double, 11> claim_latency_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1.0,  2.5,   5.0,  10.0};

struct work_queue_state {
  std::map<std::string, caf::actor> handles;  // raft, gossip, swim, peers
  std::unique_ptr<work::work_archive> archive;
  msg::work_leadership role;
  std::optional<work::lease_tracker> tracker;  // on the leader only
  std::set<std::string> gone_nodes;            // SWIM says dead or left
  bool refresh_in_flight = false;
  bool refresh_again = false;
  work::time_ms lease_tick_at = -1;  // the lease timer set (leader time); -1: none
  bool archive_in_flight = false;
  struct waiting_claim {
    msg::work_claim_request request;
    work::node_offer offer;
    caf::response_promise promise;
    mono_clock::time_point received;
    mono_clock::time_point deadline;
    bool in_flight = false;
    bool woken = false;  // something applied while a probe was in flight: probe again
  };
  std::uint64_t next_wait_id = 1;
  std::map<std::uint64_t, waiting_claim> waiting;
  bool probe_scheduled = false;
  bool draining = false;  // long polls are answered at once
  // Metrics.
  std::array<std::uint64_t, claim_latency_buckets.size()> claim_latency_counts{};
  std::uint64_t claim_latency_count = 0;
  double claim_latency_sum_s = 0;
  std::uint64_t expiries_proposed = 0, timeouts_proposed = 0, heartbeats_absorbed = 0;
  static inline const char* name = "work_queue";
};

caf::behavior work_queue_actor(caf::stateful_actor<work_queue_state>* self, work_queue_config cfg);

}  // namespace p2p
