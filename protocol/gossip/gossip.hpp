#pragma once
// Gossip of node records as a pure state machine: each origin's record carries a version
// (boot_epoch, counter) that only its origin advances, so a restarted node that lost its counter
// is still heard (its boot epoch is higher). Push-pull exchanges compare digests and send only
// what the other side lacks, in chunks of bounded size. Liveness comes from SWIM, as an input.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace p2p::gossip {

using node_id = std::string;
using time_ms = std::int64_t;

struct version {
  std::uint64_t boot_epoch = 0;
  std::uint64_t counter = 0;
  auto operator<=>(const version&) const = default;
};

// One node's published state; `info_json` is its NodeInfo (endpoints, work types, resources...).
struct record {
  node_id id;
  std::string node_uuid;
  version ver;
  std::string info_json;
  std::size_t wire_size() const { return id.size() + node_uuid.size() + info_json.size() + 32; }
};

struct digest_entry {
  node_id id;
  std::string node_uuid;
  version ver;
};
using digest = std::vector<digest_entry>;

// The answer to a peer's digest: records it lacks (or holds older) and ids we want from it.
struct delta {
  std::vector<record> records;
  std::vector<node_id> wanted;
  node_id next_after;  // set when more records follow: ask again with this cursor
};

enum class merge_result { accepted, stale, conflict };

constexpr std::size_t max_chunk_bytes = 64 * 1024;

class state {
 public:
  state(node_id self, std::string self_uuid, std::uint64_t boot_epoch, std::string info_json);

  // Publishes new info for this node (its counter advances).
  void update_self(std::string info_json);

  digest make_digest() const;
  // A hash of the digest: two nodes with equal hashes hold the same versions (a round that
  // finds them equal sends nothing more).
  std::uint64_t digest_hash() const;
  delta diff(const digest& theirs) const;
  // One reply's worth of diff(theirs) (or of every record when `full`): records with ids after
  // `after`, within `limit` bytes; `wanted` only in the first chunk.
  delta diff_chunk(const digest& theirs, bool full, const node_id& after,
                   std::size_t limit = max_chunk_bytes) const;
  std::vector<record> records_for(const std::vector<node_id>& ids) const;
  std::vector<record> all_records() const;

  // Takes a record from a peer. A record for an id that SWIM holds alive under another
  // node_uuid is refused: two processes may not share an id.
  merge_result merge(const record& r, const std::function<bool(const node_id&)>& is_alive);

  // Forgets nodes SWIM has held dead or gone since before `now - ttl`.
  std::vector<node_id> expire(time_ms now, time_ms ttl,
                              const std::function<std::optional<time_ms>(const node_id&)>& down_since);

  // Up to `fanout` peers for the next push-pull round, chosen at random.
  std::vector<node_id> pick_peers(std::size_t fanout, std::mt19937_64& rng,
                                  const std::function<bool(const node_id&)>& is_alive) const;

  const std::map<node_id, record>& records() const { return records_; }
  const record& self() const { return records_.at(self_); }

 private:
  node_id self_;
  std::map<node_id, record> records_;
};

// Splits records into chunks whose wire size stays within `limit` (one oversized record goes
// alone), so bulk transfers never block heartbeats behind them.
std::vector<std::vector<record>> chunk(const std::vector<record>& records,
                                       std::size_t limit = max_chunk_bytes);

}  // namespace p2p::gossip
