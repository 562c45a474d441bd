#include "protocol/messages/membership_codec.hpp"

#include <simdjson.h>

#include "protocol/common/json.hpp"

namespace p2p::codec {
namespace {

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

// The info is JSON a node wrote; one that somehow is not stays visible as a string.
void write_info(json::writer& w, const std::string& info_json) {
  simdjson::dom::parser check;
  simdjson::dom::element unused;
  if (check.parse(info_json).get(unused)) w.value(info_json);
  else w.raw(info_json);
}

void write_record(json::writer& w, const gossip::record& r) {
  w.begin_object()
      .field("node_id", r.id)
      .field("node_uuid", r.node_uuid)
      .field("boot_epoch", r.ver.boot_epoch)
      .field("counter", r.ver.counter)
      .key("info");
  write_info(w, r.info_json);
  w.end_object();
}

}  // namespace

msg::gossip_exchange decode_gossip_exchange(const simdjson::dom::element* body,
                                            msg::exchange_kind kind) {
  msg::gossip_exchange ex;
  ex.kind = kind;
  if (!body) return ex;
  ex.from = text(*body, "from");
  ex.digest_hash = number(*body, "digest_hash");
  ex.after = text(*body, "after");
  simdjson::dom::array list;
  if (!(*body)["digest"].get(list))
    for (auto e : list)
      ex.digest.push_back({text(e, "node_id"), text(e, "node_uuid"),
                           {number(e, "boot_epoch"), number(e, "counter")}});
  if (!(*body)["records"].get(list))
    for (auto e : list) {
      gossip::record r{text(e, "node_id"), text(e, "node_uuid"),
                       {number(e, "boot_epoch"), number(e, "counter")}, "{}"};
      simdjson::dom::element info;
      if (!e["info"].get(info)) r.info_json = simdjson::minify(info);
      ex.records.push_back(std::move(r));
    }
  return ex;
}

std::string encode(const msg::swim_status_reply& x) {
  json::writer w;
  w.begin_object()
      .field("node_id", x.node_id)
      .field("incarnation", x.incarnation)
      .field("profile", x.profile)
      .field("local_health", x.local_health)
      .field("alive", x.alive)
      .field("suspect", x.suspect)
      .field("dead", x.dead)
      .field("left", x.left)
      .field("suspicions", x.suspicions)
      .field("refutations", x.refutations)
      .end_object();
  return w.take();
}

std::string encode(const msg::swim_members_reply& x) {
  json::writer w;
  w.begin_object().key("members").begin_array();
  for (const auto& m : x.members)
    w.begin_object()
        .field("node_id", m.node_id)
        .field("state", m.state)
        .field("incarnation", m.incarnation)
        .field("address", m.address)
        .field("since", m.since)
        .end_object();
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::gossip_delta& x) {
  json::writer w;
  w.begin_object().field("in_sync", x.in_sync).key("records").begin_array();
  for (const auto& r : x.records) write_record(w, r);
  w.end_array().key("wanted").begin_array();
  for (const auto& id : x.wanted) w.value(id);
  w.end_array().key("next_after");
  if (x.next_after.empty()) w.null();
  else w.value(x.next_after);
  w.end_object();
  return w.take();
}

std::string encode(const msg::gossip_peers_reply& x) {
  json::writer w;
  w.begin_object().field("node_id", x.node_id).field("joined", x.joined).key("peers").begin_array();
  for (const auto& p : x.peers) {
    w.begin_object()
        .field("node_id", p.rec.id)
        .field("node_uuid", p.rec.node_uuid)
        .key("version")
        .begin_object()
        .field("boot_epoch", p.rec.ver.boot_epoch)
        .field("counter", p.rec.ver.counter)
        .end_object()
        .key("state");
    if (p.swim_state.empty()) w.null();
    else w.value(p.swim_state);
    w.field("connection", p.connection).key("info");
    write_info(w, p.rec.info_json);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

}  // namespace p2p::codec
