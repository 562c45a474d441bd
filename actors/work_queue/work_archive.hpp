#pragma once
// This node's archive of work items past retention (DESIGN.md §4: terminal items older than the
// retention period move from the replicated state into a local SQLite archive,
// data_dir/work/archive.sqlite). Every voter archives what its own apply of the archive command
// returned; storing an item again (the entry applied again after a restart) replaces it.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "actors/work_queue/work_queue.hpp"

namespace p2p::work {

class work_archive {
 public:
  // Creates the file and its table when missing; throws std::runtime_error when it cannot.
  explicit work_archive(const std::filesystem::path& file);
  ~work_archive();
  work_archive(const work_archive&) = delete;
  work_archive& operator=(const work_archive&) = delete;

  // All or nothing, in one transaction.
  void store(const std::vector<item>& items);
  std::optional<item> get(std::string_view work_id) const;
  // The same filter and cursor (creation order) as the replicated list.
  list_page list(const list_filter& f) const;
  counts count() const;
  std::uint64_t size() const;

 private:
  void exec(const char* sql) const;
  sqlite3* db_ = nullptr;
};

}  // namespace p2p::work
