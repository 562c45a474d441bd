#include "protocol/messages/raft_codec.hpp"

#include <simdjson.h>

#include <array>

#include "http/types.hpp"
#include "protocol/common/json.hpp"

namespace p2p::codec {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::string_view, 9> type_names{"pre_vote", "pre_vote_reply", "vote",     "vote_reply", "append",
                                                     "append_reply", "timeout_now", "snapshot", "snapshot_reply"};
constexpr std::array<std::string_view, 3> entry_type_names{"normal", "noop", "config"};

std::string text(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v)) return {};
  return std::string(v);
}
std::uint64_t number(simdjson::dom::element e, std::string_view key) {
  std::uint64_t v = 0;
  if (e[key].get(v)) return 0;
  return v;
}
bool flag(simdjson::dom::element e, std::string_view key) {
  bool v = false;
  if (e[key].get(v)) return false;
  return v;
}
// 64-bit values travel as strings (DESIGN.md §5); numbers are accepted too.
std::uint64_t big_number(simdjson::dom::element e, std::string_view key) {
  std::string_view s;
  if (!e[key].get(s)) {
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  }
  return number(e, key);
}

template <std::size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (two ? static_cast<unsigned char>(bytes[i + 1]) << 8 : 0);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += two ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size() || (i + 1 < text.size() && text[i + 1] != '=')) return false;
      break;
    }
    auto pos = alphabet.find(c);
    if (pos == std::string_view::npos) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

msg::raft_rpc decode_raft_rpc(const simdjson::dom::element* body, std::string_view route) {
  msg::raft_rpc rpc;
  rpc.route = std::string(route);
  if (!body) return rpc;
  auto& m = rpc.body;
  const auto type = index_of(type_names, text(*body, "type"));
  if (type < 0) {
    rpc.error = "type must be one of pre_vote, vote, append, snapshot, timeout_now";
    return rpc;
  }
  m.type = static_cast<raft::msg_type>(type);
  m.from = text(*body, "from");
  m.to = text(*body, "to");
  m.term = number(*body, "term");
  m.log_term = number(*body, "log_term");
  m.index = number(*body, "index");
  m.commit = number(*body, "commit");
  m.round = number(*body, "round");
  m.transfer = flag(*body, "transfer");
  m.offset = number(*body, "offset");
  m.done = flag(*body, "done");
  m.members = text(*body, "members");
  m.cluster = text(*body, "cluster");
  m.voters_hash = big_number(*body, "voters_hash");
  if (!base64_decode(text(*body, "data"), m.data)) rpc.error = "data must be base64";
  simdjson::dom::array entries;
  if (!(*body)["entries"].get(entries))
    for (auto e : entries) {
      raft::entry x;
      x.term = number(e, "term");
      x.index = number(e, "index");
      const auto et = index_of(entry_type_names, text(e, "type"));
      if (et < 0) rpc.error = "entries[].type must be normal, noop or config";
      x.type = static_cast<raft::entry_type>(std::max(et, 0));
      if (!base64_decode(text(e, "data"), x.data)) rpc.error = "entries[].data must be base64";
      m.entries.push_back(std::move(x));
    }
  return rpc;
}

msg::raft_members_request decode_raft_members(const simdjson::dom::element* body) {
  msg::raft_members_request r;
  if (!body) return r;
  auto add = text(*body, "add");
  auto remove = text(*body, "remove");
  if (add.empty() == remove.empty()) return r;  // neither or both: refused by the actor
  r.add = !add.empty();
  r.node_id = r.add ? add : remove;
  return r;
}

msg::raft_kv_put decode_raft_kv_put(const simdjson::dom::element* body) {
  if (!body) return {};
  return {text(*body, "key"), text(*body, "value")};
}

msg::raft_kv_get decode_raft_kv_get(std::string_view query) {
  msg::raft_kv_get g;
  g.key = http::query_param(query, "key").value_or("");
  auto stale = http::query_param(query, "stale").value_or("0");
  g.stale = stale == "1" || stale == "true";
  return g;
}

std::string encode(const raft::message& m) {
  json::writer w;
  w.begin_object()
      .field("type", type_names[static_cast<std::size_t>(m.type)])
      .field("from", m.from)
      .field("to", m.to)
      .field("term", m.term)
      .field("log_term", m.log_term)
      .field("index", m.index)
      .field("commit", m.commit)
      .field("reject", m.reject)
      .field("hint", m.hint)
      .field("round", m.round)
      .field("transfer", m.transfer)
      .field("offset", m.offset)
      .field("data", base64_encode(m.data))
      .field("members", m.members)
      .field("done", m.done)
      .field("cluster", m.cluster)
      .field("voters_hash", std::to_string(m.voters_hash))
      .key("entries")
      .begin_array();
  for (const auto& e : m.entries)
    w.begin_object()
        .field("term", e.term)
        .field("index", e.index)
        .field("type", entry_type_names[static_cast<std::size_t>(e.type)])
        .field("data", base64_encode(e.data))
        .end_object();
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::raft_rpc_reply& x) {
  json::writer w;
  w.begin_object().key("replies").begin_array();
  for (const auto& m : x.replies) w.raw(encode(m));
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::raft_status_reply& x) {
  json::writer w;
  w.begin_object()
      .field("node_id", x.node_id)
      .field("state", x.state)
      .field("term", x.term)
      .key("leader_id");
  if (x.leader_id.empty()) w.null();
  else w.value(x.leader_id);
  w.field("commit_index", x.commit_index)
      .field("last_applied", x.last_applied)
      .field("last_log_index", x.last_log_index)
      .field("snapshot_index", x.snapshot_index)
      .key("cluster_id");
  if (x.cluster_id.empty()) w.null();
  else w.value(x.cluster_id);
  w.key("voters").begin_array();
  for (const auto& v : x.voters) w.value(v);
  w.end_array().key("learners").begin_array();
  for (const auto& v : x.learners) w.value(v);
  w.end_array().key("peers").begin_object();
  for (const auto& p : x.peers)
    w.key(p.node_id)
        .begin_object()
        .field("match_index", p.match_index)
        .field("next_index", p.next_index)
        .field("snapshot", p.snapshot)
        .end_object();
  w.end_object()
      .field("profile", x.profile)
      .field("lease_remaining_ms", x.lease_remaining_ms)
      .field("fsyncs", x.fsyncs)
      .field("fsync_avg_ms", x.fsync_avg_ms)
      .field("refused_messages", x.refused_messages)
      .end_object();
  return w.take();
}

std::string encode(const msg::raft_members_reply& x) {
  json::writer w;
  w.begin_object().field("index", x.index).key("voters").begin_array();
  for (const auto& v : x.voters) w.value(v);
  w.end_array().key("learners").begin_array();
  for (const auto& v : x.learners) w.value(v);
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::raft_kv_reply& x) {
  json::writer w;
  w.begin_object().field("key", x.key).field("found", x.found).key("value");
  if (x.found) w.value(x.value);
  else w.null();
  w.field("index", x.index).end_object();
  return w.take();
}

}  // namespace p2p::codec
