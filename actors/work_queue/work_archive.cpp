#include "actors/work_queue/work_archive.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

namespace p2p::work {
namespace {

struct statement {
  sqlite3_stmt* stmt = nullptr;
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("work archive: ") + sqlite3_errmsg(db));
  }
  ~statement() { sqlite3_finalize(stmt); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  void text(int i, std::string_view s) {
    // An empty view may have no data pointer, which SQLite would bind as NULL, not ''.
    sqlite3_bind_text(stmt, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view s) {
    sqlite3_bind_blob(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(stmt, i, v); }
  std::string_view column_blob(int i) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))) : std::string_view();
  }
  std::string column_text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))) : std::string();
  }
};

}  // namespace

work_archive::work_archive(const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open the work archive " + file.string() + ": " + why);
  }
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS archived_items ("
         " work_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, work_type TEXT NOT NULL, status TEXT NOT NULL,"
         " claimed_by TEXT NOT NULL, finished_at INTEGER NOT NULL, item BLOB NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS archived_items_by_seq ON archived_items(seq)");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

work_archive::~work_archive() { sqlite3_close(db_); }

void work_archive::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("work archive: " + why);
  }
}

void work_archive::store(const std::vector<item>& items) {
  if (items.empty()) return;
  exec("BEGIN IMMEDIATE");
  try {
    statement st(db_,
                 "INSERT OR REPLACE INTO archived_items (work_id, seq, work_type, status, claimed_by, finished_at, item)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (const auto& x : items) {
      sqlite3_reset(st.stmt);
      st.text(1, x.work_id);
      st.integer(2, static_cast<std::int64_t>(x.seq));
      st.text(3, x.work_type);
      st.text(4, status_name(x.state));
      st.text(5, x.claimed_by);
      st.integer(6, x.finished_at);
      st.blob(7, encode_item(x));
      if (sqlite3_step(st.stmt) != SQLITE_DONE) throw std::runtime_error(std::string("work archive: ") + sqlite3_errmsg(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::optional<item> work_archive::get(std::string_view work_id) const {
  statement st(db_, "SELECT item FROM archived_items WHERE work_id = ?1");
  st.text(1, work_id);
  if (sqlite3_step(st.stmt) != SQLITE_ROW) return std::nullopt;
  return decode_item(st.column_blob(0));
}

list_page work_archive::list(const list_filter& f) const {
  list_page page;
  const std::size_t limit = std::clamp<std::size_t>(f.limit, 1, 1000);
  std::int64_t after = 0;
  if (!f.cursor.empty() && f.cursor.size() < 19 &&
      std::all_of(f.cursor.begin(), f.cursor.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    after = std::stoll(f.cursor);
  statement st(db_,
               "SELECT item, seq FROM archived_items WHERE seq > ?1 AND (?2 = '' OR status = ?2)"
               " AND (?3 = '' OR work_type = ?3) AND (?4 = '' OR claimed_by = ?4) ORDER BY seq LIMIT ?5");
  st.integer(1, after);
  st.text(2, f.state ? status_name(*f.state) : std::string_view());
  st.text(3, f.work_type);
  st.text(4, f.claimed_by);
  st.integer(5, static_cast<std::int64_t>(limit) + 1);  // one more tells whether a next page exists
  while (sqlite3_step(st.stmt) == SQLITE_ROW) {
    if (page.items.size() == limit) {
      page.next_cursor = std::to_string(page.items.back().seq);
      break;
    }
    if (auto x = decode_item(st.column_blob(0))) page.items.push_back(std::move(*x));
  }
  return page;
}

counts work_archive::count() const {
  counts c;
  for (int i = 0; i < status_count; ++i) c.by_status[std::string(status_name(static_cast<status>(i)))] = 0;
  statement st(db_, "SELECT work_type, status, COUNT(*) FROM archived_items GROUP BY work_type, status");
  while (sqlite3_step(st.stmt) == SQLITE_ROW) {
    const auto type = st.column_text(0);
    const auto state = st.column_text(1);
    const auto n = static_cast<std::uint64_t>(sqlite3_column_int64(st.stmt, 2));
    c.by_status[state] += n;
    c.by_type[type][state] += n;
    c.total += n;
  }
  return c;
}

std::uint64_t work_archive::size() const {
  statement st(db_, "SELECT COUNT(*) FROM archived_items");
  if (sqlite3_step(st.stmt) != SQLITE_ROW) return 0;
  return static_cast<std::uint64_t>(sqlite3_column_int64(st.stmt, 0));
}

}  // namespace p2p::work
