#include "protocol/raft/wal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <iterator>

namespace p2p::raft {
namespace {

constexpr char magic[8] = {'P', '2', 'P', 'R', 'A', 'F', 'T', '\0'};
constexpr char snapshot_magic[8] = {'P', '2', 'P', 'S', 'N', 'A', 'P', '\0'};
constexpr std::size_t header_size = 8 + 4 + 8;  // magic, format version, segment number
constexpr std::size_t record_header = 4 + 4 + 1;  // payload length, CRC-32C, type

enum record_type : std::uint8_t { rec_state = 1, rec_entry = 2, rec_truncate = 3 };

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_bytes(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

// Reads little-endian fields from a record's payload; `ok` turns false past its end.
struct reader {
  const std::string& data;
  std::size_t at = 0;
  bool ok = true;
  std::uint64_t uint(int bytes) {
    if (at + static_cast<std::size_t>(bytes) > data.size()) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[at + i])) << (8 * i);
    at += static_cast<std::size_t>(bytes);
    return v;
  }
  std::string bytes() {
    auto n = uint(4);
    if (!ok || at + n > data.size()) {
      ok = false;
      return {};
    }
    std::string s = data.substr(at, n);
    at += n;
    return s;
  }
};

std::string segment_name(std::uint64_t number) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "wal-%020llu.log", static_cast<unsigned long long>(number));
  return buf;
}

std::string entry_payload(const entry& e) {
  std::string p;
  put_u64(p, e.term);
  put_u64(p, e.index);
  p.push_back(static_cast<char>(e.type));
  put_bytes(p, e.data);
  return p;
}
std::string state_payload(const hard_state& st) {
  std::string p;
  put_u64(p, st.term);
  put_u64(p, st.commit);
  put_bytes(p, st.vote);
  return p;
}

std::string snapshot_name(index_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "snapshot-%020llu.snap", static_cast<unsigned long long>(index));
  return buf;
}
bool is_snapshot_file(const std::string& name) {
  return name.rfind("snapshot-", 0) == 0 && name.size() == 34 && name.substr(29) == ".snap";
}
bool is_segment_file(const std::string& name) {
  return name.rfind("wal-", 0) == 0 && name.size() == 28 && name.substr(24) == ".log";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) throw wal_error("cannot read " + path.string());
  return data;
}

void sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw wal_error("cannot open " + dir.string() + " to sync it");
  ::fsync(fd);
  ::close(fd);
}

void write_all(int fd, const std::string& bytes, const std::filesystem::path& what) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw wal_error("cannot write " + what.string() + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

wal::wal(std::filesystem::path dir, std::uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw wal_error("cannot create " + dir_.string() + ": " + ec.message());
  recover();
}

wal::~wal() {
  if (fd_ >= 0) ::close(fd_);
}

void wal::recover_snapshot() {
  std::vector<std::filesystem::path> snapshots;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    auto name = f.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") std::filesystem::remove(f.path());  // never renamed: never used
    else if (is_snapshot_file(name)) snapshots.push_back(f.path());
  }
  if (snapshots.empty()) return;
  std::sort(snapshots.begin(), snapshots.end());
  // Only the newest counts; older ones are left over when a crash came before their deletion.
  const auto& path = snapshots.back();
  const std::string data = read_file(path);
  auto refuse = [&](const std::string& why) {
    throw wal_error("the Raft snapshot " + path.string() + " is corrupted: " + why +
                    " (refusing to start; restore the data dir or rejoin from the cluster)");
  };
  if (data.size() < sizeof snapshot_magic + 8 || std::memcmp(data.data(), snapshot_magic, sizeof snapshot_magic) != 0)
    refuse("not a snapshot file");
  reader h{data, sizeof snapshot_magic};
  const auto version = h.uint(4);
  const auto crc = static_cast<std::uint32_t>(h.uint(4));
  if (version != format_version)
    refuse("format version " + std::to_string(version) + ", this node reads " + std::to_string(format_version));
  const std::size_t body = sizeof snapshot_magic + 8;
  if (crc32c(data.data() + body, data.size() - body) != crc) refuse("checksum mismatch");
  reader r{data, body};
  raft::snapshot snap;
  snap.index = r.uint(8);
  snap.term = r.uint(8);
  auto members = decode_membership(r.bytes());
  snap.data = r.bytes();
  snap.cluster_id = r.bytes();
  if (!r.ok || !members || snap.index == 0) refuse("malformed contents");
  snap.members = std::move(*members);
  snapshot_ = std::move(snap);
  for (std::size_t i = 0; i + 1 < snapshots.size(); ++i) std::filesystem::remove(snapshots[i]);
}

void wal::recover() {
  recover_snapshot();
  const index_t base = snapshot_ ? snapshot_->index : 0;
  std::vector<std::filesystem::path> segments;
  for (const auto& f : std::filesystem::directory_iterator(dir_))
    if (is_segment_file(f.path().filename().string())) segments.push_back(f.path());
  std::sort(segments.begin(), segments.end());
  std::uint64_t next_number = 1;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const bool last = s + 1 == segments.size();
    const auto& path = segments[s];
    std::string data = read_file(path);
    auto refuse = [&](std::size_t offset, const std::string& why) {
      throw wal_error("the Raft log is corrupted: " + path.string() + " at offset " + std::to_string(offset) +
                      ": " + why + " (refusing to start; restore the data dir or rejoin from the cluster)");
    };
    if (data.size() < header_size || std::memcmp(data.data(), magic, sizeof magic) != 0) {
      if (last && data.size() < header_size) {
        // Created but never written in full: nothing in it was acknowledged.
        torn_bytes_ += data.size();
        std::filesystem::remove(path);
        continue;
      }
      refuse(0, "not a Raft log segment");
    }
    reader h{data, sizeof magic};
    auto version = h.uint(4);
    if (version != format_version)
      refuse(8, "format version " + std::to_string(version) + ", this node reads " + std::to_string(format_version));
    next_number = h.uint(8) + 1;
    std::size_t at = header_size;
    while (at < data.size()) {
      auto torn = [&] {
        if (!last) refuse(at, "a record is cut short inside an older segment");
        torn_bytes_ += data.size() - at;
        if (::truncate(path.c_str(), static_cast<off_t>(at)) != 0)
          throw wal_error("cannot cut the torn tail of " + path.string());
        data.resize(at);
      };
      if (data.size() - at < record_header) {
        torn();
        break;
      }
      reader r{data, at};
      auto length = r.uint(4);
      auto crc = static_cast<std::uint32_t>(r.uint(4));
      if (at + record_header + length > data.size()) {
        torn();
        break;
      }
      const char* body = data.data() + at + 8;  // type byte and payload
      if (crc32c(body, length + 1) != crc) {
        // The last record of the log may be a write the crash interrupted; anything else is damage.
        if (last && at + record_header + length == data.size()) {
          torn();
          break;
        }
        refuse(at, "checksum mismatch");
      }
      const auto type = static_cast<std::uint8_t>(data[at + 8]);
      std::string payload = data.substr(at + record_header, length);
      reader p{payload};
      switch (type) {
        case rec_state: {
          hard_state st;
          st.term = p.uint(8);
          st.commit = p.uint(8);
          st.vote = p.bytes();
          if (!p.ok) refuse(at, "malformed state record");
          state_ = st;
          break;
        }
        case rec_entry: {
          entry e;
          e.term = p.uint(8);
          e.index = p.uint(8);
          e.type = static_cast<entry_type>(p.uint(1));
          e.data = p.bytes();
          if (!p.ok) refuse(at, "malformed entry record");
          if (e.index <= base) break;  // covered by the snapshot
          // Written again (after a snapshot's rewrite): it replaces the old entry and all after.
          if (e.index <= base + entries_.size()) entries_.resize(e.index - base - 1);
          if (e.index != base + entries_.size() + 1)
            refuse(at, "entry " + std::to_string(e.index) + " does not follow entry " +
                           std::to_string(base + entries_.size()));
          entries_.push_back(std::move(e));
          break;
        }
        case rec_truncate: {
          auto from = p.uint(8);
          if (!p.ok || from == 0) refuse(at, "malformed truncation record");
          if (from <= base + entries_.size()) entries_.resize(from > base ? from - base - 1 : 0);
          break;
        }
        default: refuse(at, "unknown record type " + std::to_string(type));
      }
      at += record_header + length;
    }
  }
  // Continue in the last segment when there is one, else start the first.
  if (!segments.empty() && std::filesystem::exists(segments.back())) {
    fd_ = ::open(segments.back().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) throw wal_error("cannot open " + segments.back().string() + " for writing");
    segment_size_ = std::filesystem::file_size(segments.back());
    if (torn_bytes_ > 0) sync();
  } else {
    open_segment(next_number);
  }
}

void wal::open_segment(std::uint64_t number) {
  if (fd_ >= 0) {
    sync();
    ::close(fd_);
  }
  auto path = dir_ / segment_name(number);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw wal_error("cannot create " + path.string() + ": " + std::strerror(errno));
  std::string header(magic, sizeof magic);
  put_u32(header, format_version);
  put_u64(header, number);
  write_all(fd_, header, path);
  sync();
  sync_dir(dir_);
  segment_size_ = header.size();
}

void wal::append_record(std::uint8_t type, const std::string& payload) {
  std::string body;
  body.push_back(static_cast<char>(type));
  body += payload;
  put_u32(pending_, static_cast<std::uint32_t>(payload.size()));
  put_u32(pending_, crc32c(body.data(), body.size()));
  pending_ += body;
}

void wal::sync() {
  if (::fdatasync(fd_) != 0) throw wal_error(std::string("fdatasync of the Raft log failed: ") + std::strerror(errno));
}

std::uint64_t wal::next_segment_number() const {
  std::uint64_t number = 1;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    auto name = f.path().filename().string();
    if (is_segment_file(name)) number = std::max<std::uint64_t>(number, std::stoull(name.substr(4, 20)) + 1);
  }
  return number;
}

void wal::write_snapshot(const raft::snapshot& snap) {
  std::string body;
  put_u64(body, snap.index);
  put_u64(body, snap.term);
  put_bytes(body, encode_membership(snap.members));
  put_bytes(body, snap.data);
  put_bytes(body, snap.cluster_id);
  std::string file(snapshot_magic, sizeof snapshot_magic);
  put_u32(file, format_version);
  put_u32(file, crc32c(body.data(), body.size()));
  file += body;
  const auto path = dir_ / snapshot_name(snap.index);
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw wal_error("cannot create " + tmp.string() + ": " + std::strerror(errno));
  try {
    write_all(fd, file, tmp);
    if (::fdatasync(fd) != 0) throw wal_error("cannot sync " + tmp.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  std::filesystem::rename(tmp, path);
  sync_dir(dir_);
}

bool wal::needs_sync(const persist_batch& batch) const {
  return !batch.entries.empty() || batch.truncate_from || batch.snapshot ||
         (batch.state && (batch.state->term != state_.term || batch.state->vote != state_.vote));
}

void wal::write(const persist_batch& batch) {
  if (batch.empty()) return;
  const bool synced = needs_sync(batch);
  if (batch.snapshot) {
    write_snapshot(*batch.snapshot);
    // The same changes in memory, in the contract's order.
    if (batch.state) state_ = *batch.state;
    const index_t base = batch.snapshot->index;
    std::erase_if(entries_, [&](const entry& e) { return e.index <= base; });
    if (!entries_.empty() && entries_.front().index != base + 1) entries_.clear();
    snapshot_ = batch.snapshot;
    if (batch.truncate_from && *batch.truncate_from <= base + entries_.size())
      entries_.resize(*batch.truncate_from > base ? *batch.truncate_from - base - 1 : 0);
    for (const auto& e : batch.entries) entries_.push_back(e);
    // Everything still needed goes to a fresh segment; then the old ones are dropped.
    const auto first_new = next_segment_number();
    open_segment(first_new);
    pending_.clear();
    append_record(rec_state, state_payload(state_));
    for (const auto& e : entries_) append_record(rec_entry, entry_payload(e));
    write_all(fd_, pending_, dir_);
    sync();
    segment_size_ += pending_.size();
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      auto name = f.path().filename().string();
      if ((is_segment_file(name) && std::stoull(name.substr(4, 20)) < first_new) ||
          (is_snapshot_file(name) && name != snapshot_name(base)))
        std::filesystem::remove(f.path());
    }
    sync_dir(dir_);
    return;
  }
  pending_.clear();
  if (batch.truncate_from) {
    std::string p;
    put_u64(p, *batch.truncate_from);
    append_record(rec_truncate, p);
  }
  for (const auto& e : batch.entries) append_record(rec_entry, entry_payload(e));
  if (batch.state) append_record(rec_state, state_payload(*batch.state));
  if (segment_size_ > header_size && segment_size_ + pending_.size() > segment_bytes_) {
    open_segment(next_segment_number());  // numbered after the current one
  }
  write_all(fd_, pending_, dir_);
  if (synced) sync();
  segment_size_ += pending_.size();
  // The same changes in memory, in the same order as recovery applies them.
  const index_t base = snapshot_ ? snapshot_->index : 0;
  if (batch.truncate_from && *batch.truncate_from <= base + entries_.size())
    entries_.resize(*batch.truncate_from > base ? *batch.truncate_from - base - 1 : 0);
  for (const auto& e : batch.entries) entries_.push_back(e);
  if (batch.state) state_ = *batch.state;
}

}  // namespace p2p::raft
