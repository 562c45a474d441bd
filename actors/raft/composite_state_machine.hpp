#pragma once
// The cluster's replicated state (DESIGN.md §4 "Replicated cluster state"): the key-value map and
// the work queue behind one Raft log. Commands are told apart by their first bytes (work-queue
// commands start with the magic "WQC"); the snapshot holds both parts under one version tag, and
// a plain key-value snapshot ("KV1", written before the work queue joined the log) still restores.
// Pure: no actors, clocks or I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/raft/state_machine.hpp"
#include "actors/work_queue/work_queue.hpp"

namespace p2p::raft {

// What one applied entry produced. `work` entries also carry the typed answer, so the raft actor
// can hand their events and archived items on without decoding its own result again.
struct applied_entry {
  std::string result;  // the answer for the proposer (an encoded work answer for work commands)
  bool work = false;
  std::string work_op;  // "add", "claim", ...; empty when the command could not be decoded
  work::answer work_answer;
};

class composite_state_machine final : public state_machine {
 public:
  // Every voter must use the same work limits: they decide answers.
  explicit composite_state_machine(work::limits limits = {});

  static bool is_work_command(std::string_view command);

  std::string apply(std::uint64_t index, std::string_view command) override;
  std::string snapshot() const override;
  void restore(std::string_view data) override;

  applied_entry apply_entry(std::uint64_t index, std::string_view command);

  const kv_state_machine& kv() const { return kv_; }
  const work::work_queue_state_machine& work() const { return work_; }

 private:
  kv_state_machine kv_;
  work::work_queue_state_machine work_;
  work::limits limits_;
};

// The name of a work command's operation ("add", "claim", ...).
std::string_view work_op_name(const work::command& c);

// The leader's stamp on a work command before it enters the log (DESIGN.md §4: every timestamp
// in a command is assigned by the leader): the command's time becomes `now`, and a claim gets the
// term its entry is proposed in (claim tokens are "<term>.<log index>"). Bytes that are not a
// work command come back unchanged; the state machine answers them with an error.
std::string stamp_work_command(std::string_view command, work::time_ms now, std::uint64_t term);

}  // namespace p2p::raft
