#include "actors/elo/match_store.hpp"

#include <sqlite3.h>

#include <optional>
#include <stdexcept>

namespace p2p::elo {
namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS matches (
  origin_node TEXT NOT NULL,
  origin_seq INTEGER NOT NULL,
  game_id TEXT NOT NULL,
  config_key TEXT NOT NULL,
  a TEXT NOT NULL,
  b TEXT NOT NULL,
  score REAL NOT NULL,
  pair_id TEXT,
  played_at TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (origin_node, origin_seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS matches_by_game ON matches (game_id);
CREATE TABLE IF NOT EXISTS conflicts (
  game_id TEXT NOT NULL,
  origin_node TEXT NOT NULL,
  origin_seq INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  held TEXT NOT NULL,
  incoming TEXT NOT NULL
);
)sql";

constexpr const char* columns =
    "origin_node, origin_seq, game_id, config_key, a, b, score, pair_id, played_at";

// RAII over one prepared statement's use: reset and unbind whatever happens.
struct statement_use {
  sqlite3_stmt* stmt;
  ~statement_use() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

void bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* stmt, int column) {
  const auto* text = sqlite3_column_text(stmt, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
              : std::string();
}

stored_match read_row(sqlite3_stmt* stmt) {
  stored_match row;
  row.origin_node = column_text(stmt, 0);
  row.origin_seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 1));
  row.game.game_id = column_text(stmt, 2);
  row.game.config_key = column_text(stmt, 3);
  row.game.a = column_text(stmt, 4);
  row.game.b = column_text(stmt, 5);
  row.game.score = sqlite3_column_double(stmt, 6);
  if (sqlite3_column_type(stmt, 7) != SQLITE_NULL) row.game.pair_id = column_text(stmt, 7);
  row.game.played_at = column_text(stmt, 8);
  return row;
}

// A readable form of a record for the conflicts table.
std::string describe(const match& m) {
  std::string out = m.config_key;
  out.append(" ").append(m.a).append(" vs ").append(m.b).append(" score ");
  out.append(m.score == 1 ? "1" : m.score == 0 ? "0" : "0.5");
  out.append(" at ").append(m.played_at);
  if (m.pair_id) out.append(" pair ").append(*m.pair_id);
  return out;
}

// One transaction; rolled back unless committed.
class transaction {
 public:
  explicit transaction(sqlite3* db) : db_(db) { run("BEGIN IMMEDIATE"); }
  ~transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      throw std::runtime_error(std::string(sql) + " failed: " + message);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace

std::size_t approximate_size(const stored_match& m) {
  return 64 + m.game.game_id.size() + m.game.config_key.size() + m.game.a.size() + m.game.b.size() +
         (m.game.pair_id ? m.game.pair_id->size() : 0) + m.game.played_at.size() + m.origin_node.size();
}

match_store::match_store(const std::filesystem::path& file) : file_(file) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open " + file.string() + ": " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(schema);
    insert_ = prepare(
        "INSERT OR IGNORE INTO matches (origin_node, origin_seq, game_id, config_key, a, b, score, "
        "pair_id, played_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    find_ = prepare((std::string("SELECT ") + columns + " FROM matches WHERE game_id = ?1").c_str());
    conflict_ = prepare(
        "INSERT INTO conflicts (game_id, origin_node, origin_seq, recorded_at, held, incoming) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    after_ = prepare((std::string("SELECT ") + columns +
                      " FROM matches WHERE origin_node = ?1 AND origin_seq > ?2 ORDER BY origin_seq LIMIT ?3")
                         .c_str());
    auto* marks = prepare("SELECT origin_node, MAX(origin_seq), COUNT(*) FROM matches GROUP BY origin_node");
    while (sqlite3_step(marks) == SQLITE_ROW) {
      marks_[column_text(marks, 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(marks, 1));
      rows_ += static_cast<std::uint64_t>(sqlite3_column_int64(marks, 2));
    }
    sqlite3_finalize(marks);
    auto* conflicts = prepare("SELECT COUNT(*) FROM conflicts");
    if (sqlite3_step(conflicts) == SQLITE_ROW)
      conflicts_ = static_cast<std::uint64_t>(sqlite3_column_int64(conflicts, 0));
    sqlite3_finalize(conflicts);
  } catch (...) {
    close();
    throw;
  }
}

match_store::~match_store() { close(); }

void match_store::close() {
  for (auto* stmt : {insert_, find_, conflict_, after_})
    if (stmt) sqlite3_finalize(stmt);
  insert_ = find_ = conflict_ = after_ = nullptr;
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

void match_store::fail(const std::string& what) const {
  throw std::runtime_error(file_.string() + ": " + what + ": " + sqlite3_errmsg(db_));
}

void match_store::exec(const char* sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(file_.string() + ": " + message);
  }
}

sqlite3_stmt* match_store::prepare(const char* sql) const {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) fail("cannot prepare a statement");
  return stmt;
}

std::optional<match> match_store::find_game(const std::string& game_id) const {
  statement_use use{find_};
  bind_text(find_, 1, game_id);
  std::optional<match> best;
  int rc;
  while ((rc = sqlite3_step(find_)) == SQLITE_ROW) {
    auto row = read_row(find_);
    if (!best || precedes_by_content(row.game, *best)) best = std::move(row.game);
  }
  if (rc != SQLITE_DONE) fail("cannot look up a game");
  return best;
}

void match_store::insert_row(const stored_match& row, const std::string& received_at) {
  statement_use use{insert_};
  bind_text(insert_, 1, row.origin_node);
  sqlite3_bind_int64(insert_, 2, static_cast<sqlite3_int64>(row.origin_seq));
  bind_text(insert_, 3, row.game.game_id);
  bind_text(insert_, 4, row.game.config_key);
  bind_text(insert_, 5, row.game.a);
  bind_text(insert_, 6, row.game.b);
  sqlite3_bind_double(insert_, 7, row.game.score);
  if (row.game.pair_id) bind_text(insert_, 8, *row.game.pair_id);
  bind_text(insert_, 9, row.game.played_at);
  bind_text(insert_, 10, received_at);
  if (sqlite3_step(insert_) != SQLITE_DONE) fail("cannot store a match");
}

void match_store::record_conflict(const stored_match& incoming, const match& held, const std::string& at) {
  statement_use use{conflict_};
  bind_text(conflict_, 1, incoming.game.game_id);
  bind_text(conflict_, 2, incoming.origin_node);
  sqlite3_bind_int64(conflict_, 3, static_cast<sqlite3_int64>(incoming.origin_seq));
  bind_text(conflict_, 4, at);
  bind_text(conflict_, 5, describe(held));
  bind_text(conflict_, 6, describe(incoming.game));
  if (sqlite3_step(conflict_) != SQLITE_DONE) fail("cannot record a conflict");
}

ingest_result match_store::ingest(std::span<const match> batch, const std::string& origin_node,
                                  const std::string& received_at) {
  ingest_result result;
  std::uint64_t next_seq = marks_.count(origin_node) ? marks_.at(origin_node) : 0;
  std::uint64_t new_conflicts = 0;
  transaction tx(db_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const match& game = batch[i];
    if (auto problem = match_problem(game); !problem.empty()) {
      result.rejected.push_back({i, std::string(problem)});
      continue;
    }
    if (auto held = find_game(game.game_id)) {
      if (same_content(*held, game)) {
        ++result.duplicates;
        continue;
      }
      record_conflict(stored_match{game, origin_node, 0}, *held, received_at);
      ++new_conflicts;
      result.rejected.push_back(
          {i, "conflict: game_id " + game.game_id + " is already recorded with other content (" +
                  describe(*held) + ")"});
      continue;
    }
    stored_match row{game, origin_node, ++next_seq};
    insert_row(row, received_at);
    result.stored.push_back(std::move(row));
    ++result.accepted;
  }
  tx.commit();
  if (!result.stored.empty()) marks_[origin_node] = next_seq;
  rows_ += result.accepted;
  conflicts_ += new_conflicts;
  return result;
}

merge_result match_store::merge(std::span<const stored_match> rows, const std::string& received_at) {
  merge_result result;
  high_water_marks marks = marks_;
  std::map<std::string, bool> broken;  // origins with a refused row in this batch
  transaction tx(db_);
  for (const auto& row : rows) {
    auto& mark = marks[row.origin_node];
    if (row.origin_seq <= mark) continue;  // already held
    if (broken[row.origin_node] || row.origin_node.empty() || row.origin_seq != mark + 1 ||
        !match_problem(row.game).empty()) {
      broken[row.origin_node] = true;
      ++result.refused;
      continue;
    }
    auto held = find_game(row.game.game_id);
    if (held && !same_content(*held, row.game)) {
      record_conflict(row, *held, received_at);
      ++result.conflicts;
    }
    insert_row(row, received_at);
    mark = row.origin_seq;
    result.stored.push_back(row);
  }
  tx.commit();
  for (auto it = marks.begin(); it != marks.end();)  // origins only touched by refused rows
    it = it->second == 0 ? marks.erase(it) : std::next(it);
  marks_ = std::move(marks);
  rows_ += result.stored.size();
  conflicts_ += result.conflicts;
  return result;
}

std::vector<stored_match> match_store::rows_after(const high_water_marks& known, std::size_t max_bytes,
                                                  bool& more) const {
  std::vector<stored_match> out;
  std::size_t bytes = 0;
  more = false;
  for (const auto& [origin, mark] : marks_) {
    auto it = known.find(origin);
    const std::uint64_t from = it == known.end() ? 0 : it->second;
    if (from >= mark) continue;
    if (bytes >= max_bytes) {
      more = true;
      break;
    }
    statement_use use{after_};
    bind_text(after_, 1, origin);
    sqlite3_bind_int64(after_, 2, static_cast<sqlite3_int64>(from));
    sqlite3_bind_int64(after_, 3, 4096);
    int rc;
    std::uint64_t last = from;
    while ((rc = sqlite3_step(after_)) == SQLITE_ROW) {
      auto row = read_row(after_);
      const auto size = approximate_size(row);
      if (!out.empty() && bytes + size > max_bytes) {
        more = true;
        return out;
      }
      bytes += size;
      last = row.origin_seq;
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) fail("cannot read matches");
    if (last < mark) more = true;  // the LIMIT cut this origin short
  }
  return out;
}

std::vector<stored_match> match_store::all_rows() const {
  auto* stmt = prepare((std::string("SELECT ") + columns + " FROM matches ORDER BY origin_node, origin_seq").c_str());
  std::vector<stored_match> out;
  out.reserve(rows_);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(read_row(stmt));
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) fail("cannot read matches");
  return out;
}

}  // namespace p2p::elo
