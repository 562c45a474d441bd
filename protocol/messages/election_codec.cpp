#include "protocol/messages/election_codec.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "protocol/common/json.hpp"

namespace p2p::codec {
namespace {

std::string text(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v)) return {};
  return std::string(v);
}

// False when present but not a non-negative integer that fits 64 bits (e.g. 1e30).
bool read_number(simdjson::dom::element e, std::string_view key, std::uint64_t& out) {
  simdjson::dom::element v;
  if (e[key].get(v)) return true;  // absent: the schema decides whether it may be
  if (!v.get(out)) return true;
  double d = 0;  // the schema lets an integral double such as 3.0 through
  if (v.get(d) || d < 0 || d >= 18446744073709551616.0) return false;
  out = static_cast<std::uint64_t>(d);
  return true;
}

// 64-bit hashes travel as strings of digits (DESIGN.md §5).
bool read_hash(simdjson::dom::element e, std::uint64_t& out) {
  std::string_view s;
  if (e["voters_hash"].get(s)) return true;  // absent: 0
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

void refuse(std::string& error, std::string& error_field, std::string field, std::string message) {
  if (!error.empty()) return;  // the first problem is the one reported
  error_field = std::move(field);
  error = std::move(message);
}

void optional_id(json::writer& w, std::string_view key, const std::string& id) {
  w.key(key);
  if (id.empty()) w.null();
  else w.value(id);
}

}  // namespace

msg::election_heartbeat decode_election_heartbeat(const simdjson::dom::element* body) {
  msg::election_heartbeat h;
  if (!body) return h;
  h.leader_id = text(*body, "leader_id");
  if (h.leader_id.empty()) refuse(h.error, h.error_field, "leader_id", "leader_id must name the leader");
  if (!read_number(*body, "term", h.term)) refuse(h.error, h.error_field, "term", "term must be a non-negative integer");
  std::uint64_t lease = 0;
  if (!read_number(*body, "lease_remaining_ms", lease))
    refuse(h.error, h.error_field, "lease_remaining_ms", "lease_remaining_ms must be a non-negative integer");
  h.lease_remaining_ms = static_cast<std::int64_t>(std::min<std::uint64_t>(lease, std::numeric_limits<std::int64_t>::max()));
  simdjson::dom::element where;
  if (!(*body)["endpoints"].get(where)) {
    h.endpoints.http = text(where, "http");
    h.endpoints.cluster = text(where, "cluster");
  }
  if (!read_hash(*body, h.voters_hash))
    refuse(h.error, h.error_field, "voters_hash", "voters_hash must be a decimal string");
  return h;
}

msg::election_vote decode_election_vote(const simdjson::dom::element* body) {
  msg::election_vote v;
  if (!body) return v;
  v.node_id = text(*body, "node_id");
  if (v.node_id.empty()) refuse(v.error, v.error_field, "node_id", "node_id must name the voting node");
  v.leader_id = text(*body, "leader_id");
  if (!read_number(*body, "term", v.term)) refuse(v.error, v.error_field, "term", "term must be a non-negative integer");
  if (!read_hash(*body, v.voters_hash))
    refuse(v.error, v.error_field, "voters_hash", "voters_hash must be a decimal string");
  return v;
}

msg::leadership_transfer_request decode_leadership_transfer(const simdjson::dom::element* body) {
  msg::leadership_transfer_request r;
  if (body) r.to = text(*body, "to");
  return r;
}

std::string encode(const msg::election_vote& x) {
  // No leader known: leader_id is left out (not null), so the answer posts back as a vote.
  json::writer w;
  w.begin_object().field("node_id", x.node_id);
  if (!x.leader_id.empty()) w.field("leader_id", x.leader_id);
  w.field("term", x.term).end_object();
  return w.take();
}

std::string encode(const msg::election_vote_ack& x) {
  json::writer w;
  w.begin_object().field("recorded", x.recorded).field("follower", x.follower).end_object();
  return w.take();
}

std::string encode(const msg::election_status_reply& x) {
  json::writer w;
  w.begin_object().field("node_id", x.node_id);
  optional_id(w, "leader_id", x.leader_id);
  w.field("term", x.term).field("role", x.role).field("lease_remaining_ms", x.lease_remaining_ms).key("endpoints");
  if (x.leader_id.empty()) {
    w.null();
  } else {
    w.begin_object();
    optional_id(w, "http", x.endpoints.http);
    optional_id(w, "cluster", x.endpoints.cluster);
    w.end_object();
  }
  w.key("followers").begin_array();
  for (const auto& f : x.followers) w.value(f);
  w.end_array().key("stragglers").begin_array();
  for (const auto& s : x.stragglers) w.value(s);
  w.end_array().key("members").begin_array();
  for (const auto& m : x.members) {
    w.begin_object().field("node_id", m.node_id);
    optional_id(w, "leader_id", m.leader_id);
    w.field("term", m.term).key("last_vote_ms_ago");
    if (m.last_vote_ms_ago < 0) w.null();
    else w.value(m.last_vote_ms_ago);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::leadership_transfer_reply& x) {
  json::writer w;
  w.begin_object().field("leader_id", x.leader_id).field("term", x.term);
  optional_id(w, "previous_leader_id", x.previous_leader_id);
  w.end_object();
  return w.take();
}

}  // namespace p2p::codec
