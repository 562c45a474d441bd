#pragma once
// The runner domain actor (DESIGN.md §4 "Runner"): executes this node's share of the work queue.
// Thin: the process side is work_process (one attempt, its own thread), the queue side is the
// local work_queue actor (which proposes through Raft and forwards to the leader).
//
// Per configured work type it keeps one claim out (a long poll for as many items as it has free
// slots) with a request_id, so a reply lost on the way is replayed by the queue instead of
// claiming again; the id changes only once an answer arrived. At start it reconciles: claims the
// queue still holds for this node were made by an earlier run of it, whose processes died with
// it, so they are run again under their token (or released when this node no longer runs their
// type). Heartbeats carry the newest PROGRESS line; a heartbeat refused because the claim is gone
// or the item was cancelled kills the attempt's process group. An outcome is reported until the
// queue acknowledges it or says the claim is gone, so a leader change in between loses nothing.
// On drain it stops claiming, lets attempts finish for half the drain time, then stops the rest
// and releases their items (the attempt does not count against the item).
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/runner/command_line.hpp"
#include "actors/runner/work_process.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/runner.hpp"
#include "protocol/messages/work.hpp"

namespace p2p {

struct runner_config {
  std::string node_id;
  std::map<std::string, runner::work_type_config> work_types;  // none: the runner only idles
  std::filesystem::path attempts_dir;  // data_dir/work/attempts/<work_id>/attempt-<n>
  std::chrono::milliseconds claim_wait{std::chrono::seconds(10)};  // each claim's long poll
  std::chrono::milliseconds retry_delay{std::chrono::seconds(1)};  // after a failed request
  std::chrono::milliseconds request_timeout{std::chrono::seconds(20)};  // beyond a claim's wait
  std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};  // SIGTERM -> SIGKILL
  // Heartbeats go every third of an item's lease, but not more often than this.
  std::chrono::milliseconds min_heartbeat_interval{std::chrono::milliseconds(200)};
  caf::actor directory;
};

struct runner_state {
  caf::actor work_queue;
  bool reconciled = false;
  bool reconcile_in_flight = false;
  bool draining = false;
  std::optional<caf::response_promise> drain_promise;
  mono_clock::time_point drain_cut{};  // attempts still running then are stopped and released
  std::uint64_t drain_finished = 0;

  enum class phase { running, reporting };
  struct attempt {
    work::item item;  // as claimed (its claim_token is ours)
    std::unique_ptr<runner::work_process> process;
    mono_clock::time_point started;
    phase at = phase::running;
    std::optional<runner::progress_report> progress;  // newest, sent with the next heartbeat
    bool heartbeat_in_flight = false;
    mono_clock::time_point last_heartbeat{};
    bool claim_lost = false;  // the queue no longer holds our claim: report nothing
    bool release = false;     // stopped unfinished (drain): give the item back
    std::uint64_t generation = 0;  // tells this attempt's timers from an earlier one's
  };
  std::map<std::string, attempt> attempts;  // by work_id
  std::uint64_t next_generation = 1;

  struct type_state {
    std::string request_id;  // of the claim out now, or of the next one
    bool claiming = false;
    bool backing_off = false;
    std::uint64_t claims_sent = 0;
  };
  std::map<std::string, type_state> types;
  std::string boot_nonce;  // makes request ids unique across restarts of this node
  std::uint64_t next_request = 1;

  std::uint64_t claimed = 0, completed = 0, failed = 0, lost_claims = 0, handed_back = 0, adopted = 0;
  static inline const char* name = "runner";
};

caf::behavior runner_actor(caf::stateful_actor<runner_state>* self, runner_config cfg);

}  // namespace p2p
