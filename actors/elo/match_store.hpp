#pragma once
// The durable match store of the elo domain: every game this node has, in SQLite
// (`data_dir/elo.sqlite`, WAL journal, synchronous=FULL, so an acknowledged batch survives a
// SIGKILL or a power cut).
//
// A game enters a node once, from a client (`ingest`: the node becomes its origin and numbers
// it with the next origin_seq) or from another node (`merge`: it keeps the origin it came with).
// Rows are keyed by (origin_node, origin_seq), so each origin's games form a numbered sequence
// and a node's knowledge of an origin is one number, its high-water mark: sync sends what lies
// beyond the other side's marks, never everything. A game_id ingested on two nodes is one row
// per origin; when the contents differ the store records a conflict, and the ratings take the
// smallest content (elo::precedes_by_content), which every node picks alike.
//
// No actors, no clocks: the caller passes the time a batch arrived.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "actors/elo/ratings.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace p2p::elo {

struct stored_match {
  match game;
  std::string origin_node;  // node_uuid of the node that ingested it from a client
  std::uint64_t origin_seq = 0;
};

// The wire size of a stored match, roughly: what a sync chunk counts against its limit.
std::size_t approximate_size(const stored_match& m);

// Per origin: the highest origin_seq held (sequences are held without gaps).
using high_water_marks = std::map<std::string, std::uint64_t>;

struct rejected_match {
  std::size_t index = 0;
  std::string reason;
};

struct ingest_result {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;  // same game_id, same content: nothing to do
  std::vector<rejected_match> rejected;
  std::vector<stored_match> stored;  // the accepted games as stored
};

struct merge_result {
  std::vector<stored_match> stored;  // rows new to this store
  std::uint64_t conflicts = 0;       // of those, games whose content differs from one held
  // Rows refused: out of sequence (a gap after this store's mark) or invalid. Nothing of an
  // origin after its first refused row is taken, so sequences stay without gaps.
  std::uint64_t refused = 0;
};

class match_store {
 public:
  // Opens or creates the database; throws std::runtime_error with the file and SQLite's message.
  explicit match_store(const std::filesystem::path& file);
  ~match_store();
  match_store(const match_store&) = delete;
  match_store& operator=(const match_store&) = delete;

  // A client's batch, ingested by origin `origin_node` in one transaction. Each record is
  // accepted, a duplicate, or rejected with its reason (invalid, or a conflict with the content
  // already held for its game_id, which is also recorded).
  ingest_result ingest(std::span<const match> batch, const std::string& origin_node,
                       const std::string& received_at);

  // Rows from another node, in one transaction; rows already held are skipped.
  merge_result merge(std::span<const stored_match> rows, const std::string& received_at);

  const high_water_marks& marks() const { return marks_; }

  // Rows beyond `known` (an origin missing from it counts as 0), ascending by origin then
  // sequence, until about `max_bytes`; `more` says whether rows were left out.
  std::vector<stored_match> rows_after(const high_water_marks& known, std::size_t max_bytes,
                                       bool& more) const;

  // Every row, for building the in-memory ratings at start.
  std::vector<stored_match> all_rows() const;

  std::uint64_t rows() const { return rows_; }
  std::uint64_t conflicts() const { return conflicts_; }

 private:
  void close();
  void exec(const char* sql) const;
  sqlite3_stmt* prepare(const char* sql) const;
  void insert_row(const stored_match& row, const std::string& received_at);
  // The content held for a game_id (the smallest, when several), if any.
  std::optional<match> find_game(const std::string& game_id) const;
  void record_conflict(const stored_match& incoming, const match& held, const std::string& at);
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* find_ = nullptr;
  sqlite3_stmt* conflict_ = nullptr;
  sqlite3_stmt* after_ = nullptr;
  high_water_marks marks_;
  std::uint64_t rows_ = 0;
  std::uint64_t conflicts_ = 0;
};

}  // namespace p2p::elo
