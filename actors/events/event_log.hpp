#pragma once
// The node's event stream on disk (data_dir/events/): one JSON line per event, so the sequence
// continues across restarts and Last-Event-ID resumes survive them. No CAF here.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>

#include "protocol/messages/events.hpp"

namespace p2p {

class event_log {
 public:
  // Loads the retained tail; a torn last line (a crash mid-write) is ignored.
  event_log(std::filesystem::path dir, std::size_t retain);
  ~event_log();
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  std::uint64_t last_seq() const { return last_seq_; }
  const std::deque<msg::event_record>& retained() const { return retained_; }

  // Assigns the next sequence number to `e`, writes it and keeps it in memory.
  void append(msg::event_record& e);
  // Forces written events to stable storage (on shutdown).
  void sync();

 private:
  void open_for_append();
  void compact();

  std::filesystem::path file_;
  std::size_t retain_;
  std::deque<msg::event_record> retained_;
  std::uint64_t last_seq_ = 0;
  std::size_t lines_in_file_ = 0;
  std::FILE* out_ = nullptr;
};

}  // namespace p2p
