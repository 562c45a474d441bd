#pragma once
// Raft's write-ahead log: term, vote, commit and entries under data_dir/raft/, in segment files
// with a format version and a CRC-32C per record. write() appends one persist_batch and
// fdatasyncs once (group commit: the caller batches whatever accumulated meanwhile). Recovery
// replays the records; a torn tail (a crash in the middle of a write) is cut off, a corrupted
// record with valid data after it is refused with an error naming the file and offset.
//
// A snapshot is written to its own file atomically (temporary file, fsync, rename, fsync of
// the directory); then the entries after it and the state go to a fresh segment and the older
// segments and snapshots are deleted. A crash anywhere in between recovers the same log: entries
// the snapshot covers are skipped, and an entry written again replaces the old one and all after.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/raft/raft.hpp"

namespace p2p::raft {

class wal_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class wal {
 public:
  static constexpr std::uint32_t format_version = 1;

  // Opens (or creates) the log in `dir` and recovers it. Throws wal_error.
  explicit wal(std::filesystem::path dir, std::uint64_t segment_bytes = 64ull << 20);
  ~wal();
  wal(const wal&) = delete;
  wal& operator=(const wal&) = delete;

  // What recovery found (and, after writes, what the log holds).
  const hard_state& state() const { return state_; }
  const std::vector<entry>& entries() const { return entries_; }  // after the snapshot
  const std::optional<raft::snapshot>& snapshot() const { return snapshot_; }
  // Bytes cut off a torn tail during recovery (0 when the log was clean).
  std::uint64_t torn_bytes() const { return torn_bytes_; }

  // Appends the batch and makes it durable before returning — unless it only moves the commit
  // index, which is written without an fdatasync (as etcd's MustSync): a lost commit index is
  // learnt again from the leader, and the next synced write covers it anyway.
  void write(const persist_batch& batch);
  // Whether write() will fdatasync this batch: entries, a truncation, a snapshot, or a new
  // term or vote.
  bool needs_sync(const persist_batch& batch) const;

 private:
  void recover();
  void recover_snapshot();
  void write_snapshot(const raft::snapshot& snap);
  std::uint64_t next_segment_number() const;
  void open_segment(std::uint64_t first_index);
  void append_record(std::uint8_t type, const std::string& payload);
  void sync();

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_;
  int fd_ = -1;
  std::uint64_t segment_size_ = 0;
  hard_state state_;
  std::vector<entry> entries_;
  std::optional<raft::snapshot> snapshot_;
  std::uint64_t torn_bytes_ = 0;
  std::string pending_;  // records of the batch being written
};

// CRC-32C (Castagnoli), as used by many logs; exposed for tests.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace p2p::raft
