#pragma once
// What the raft actor replicates: a deterministic state machine fed committed commands in log
// order (DESIGN.md §4 "Replicated cluster state"). Pure: no actors, clocks or I/O; every node
// applying the same commands from the same snapshot reaches the same state.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace p2p::raft {

class state_machine {
 public:
  virtual ~state_machine() = default;
  // Applies a committed command (entry `index`) and returns the answer for its proposer. A
  // command the machine does not understand must still be applied deterministically (answered
  // with an error text), never throw: every node sees the same log.
  virtual std::string apply(std::uint64_t index, std::string_view command) = 0;
  virtual std::string snapshot() const = 0;
  // Replaces the whole state; throws std::invalid_argument on bytes it did not write.
  virtual void restore(std::string_view data) = 0;
};

// A replicated key-value map: the state machine of the tests and the benchmark, and a small
// cluster-wide settings store.
class kv_state_machine final : public state_machine {
 public:
  static std::string put_command(std::string_view key, std::string_view value);
  // The answer to a put: the previous value, if there was one.
  struct put_result {
    bool existed = false;
    std::string previous;
  };
  static put_result decode_put_result(std::string_view result);

  std::string apply(std::uint64_t index, std::string_view command) override;
  std::string snapshot() const override;
  void restore(std::string_view data) override;

  const std::string* get(const std::string& key) const;
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace p2p::raft
