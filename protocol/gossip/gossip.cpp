#include "protocol/gossip/gossip.hpp"

#include <algorithm>

namespace p2p::gossip {

state::state(node_id self, std::string self_uuid, std::uint64_t boot_epoch, std::string info_json)
    : self_(self) {
  records_[self] = record{self, std::move(self_uuid), version{boot_epoch, 1}, std::move(info_json)};
}

void state::update_self(std::string info_json) {
  auto& r = records_.at(self_);
  r.info_json = std::move(info_json);
  ++r.ver.counter;
}

digest state::make_digest() const {
  digest d;
  d.reserve(records_.size());
  for (const auto& [id, r] : records_) d.push_back({id, r.node_uuid, r.ver});
  return d;
}

std::uint64_t state::digest_hash() const {
  // FNV-1a over the digest in id order; fields are separated so concatenations cannot collide.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [id, r] : records_) {
    mix(id);
    mix(r.node_uuid);
    mix(std::to_string(r.ver.boot_epoch));
    mix(std::to_string(r.ver.counter));
  }
  return h == 0 ? 1 : h;  // 0 means "no hash" on the wire
}

delta state::diff_chunk(const digest& theirs, bool full, const node_id& after,
                        std::size_t limit) const {
  delta all = full ? delta{all_records(), {}, {}} : diff(theirs);
  if (full) {
    for (const auto& e : theirs)
      if (e.id != self_ && !records_.count(e.id)) all.wanted.push_back(e.id);
  }
  delta out;
  if (after.empty()) out.wanted = std::move(all.wanted);
  std::size_t used = 0;
  for (auto& r : all.records) {  // in id order: records_ is a map
    if (!after.empty() && r.id <= after) continue;
    auto size = r.wire_size();
    if (!out.records.empty() && used + size > limit) {
      out.next_after = out.records.back().id;
      break;
    }
    used += size;
    out.records.push_back(std::move(r));
  }
  return out;
}

delta state::diff(const digest& theirs) const {
  delta out;
  std::map<node_id, const digest_entry*> seen;
  for (const auto& e : theirs) seen[e.id] = &e;
  for (const auto& [id, r] : records_) {
    auto it = seen.find(id);
    if (it == seen.end() || it->second->node_uuid != r.node_uuid || it->second->ver < r.ver)
      out.records.push_back(r);
  }
  for (const auto& e : theirs) {
    if (e.id == self_) continue;
    auto it = records_.find(e.id);
    // Unknown, newer, or another process under that id (merge decides whether to take it).
    if (it == records_.end() || it->second.node_uuid != e.node_uuid || it->second.ver < e.ver)
      out.wanted.push_back(e.id);
  }
  return out;
}

std::vector<record> state::records_for(const std::vector<node_id>& ids) const {
  std::vector<record> out;
  for (const auto& id : ids)
    if (auto it = records_.find(id); it != records_.end()) out.push_back(it->second);
  return out;
}

std::vector<record> state::all_records() const {
  std::vector<record> out;
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

merge_result state::merge(const record& r, const std::function<bool(const node_id&)>& is_alive) {
  if (r.id == self_) {
    // Our own record comes back: only another process using our id could make it differ.
    const auto& mine = records_.at(self_);
    return r.node_uuid == mine.node_uuid ? merge_result::stale : merge_result::conflict;
  }
  auto it = records_.find(r.id);
  if (it == records_.end()) {
    records_.emplace(r.id, r);
    return merge_result::accepted;
  }
  auto& current = it->second;
  if (current.node_uuid != r.node_uuid) {
    if (is_alive(r.id)) return merge_result::conflict;
    // The old process is gone: the id now belongs to the new one.
    current = r;
    return merge_result::accepted;
  }
  if (!(current.ver < r.ver)) return merge_result::stale;
  current = r;
  return merge_result::accepted;
}

std::vector<node_id> state::expire(
    time_ms now, time_ms ttl,
    const std::function<std::optional<time_ms>(const node_id&)>& down_since) {
  std::vector<node_id> gone;
  for (auto it = records_.begin(); it != records_.end();) {
    auto since = it->first == self_ ? std::nullopt : down_since(it->first);
    if (since && now - *since >= ttl) {
      gone.push_back(it->first);
      it = records_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

std::vector<node_id> state::pick_peers(std::size_t fanout, std::mt19937_64& rng,
                                       const std::function<bool(const node_id&)>& is_alive) const {
  std::vector<node_id> candidates;
  for (const auto& [id, r] : records_)
    if (id != self_ && is_alive(id)) candidates.push_back(id);
  std::shuffle(candidates.begin(), candidates.end(), rng);
  if (candidates.size() > fanout) candidates.resize(fanout);
  return candidates;
}

std::vector<std::vector<record>> chunk(const std::vector<record>& records, std::size_t limit) {
  std::vector<std::vector<record>> out;
  std::size_t used = 0;
  for (const auto& r : records) {
    auto size = r.wire_size();
    if (out.empty() || (used + size > limit && !out.back().empty())) {
      out.emplace_back();
      used = 0;
    }
    out.back().push_back(r);
    used += size;
  }
  return out;
}

}  // namespace p2p::gossip
