#include "protocol/messages/admin_codec.hpp"

#include <simdjson.h>

#include "protocol/common/json.hpp"

namespace p2p::codec {

msg::shutdown_request decode_shutdown_request(const simdjson::dom::element* body) {
  msg::shutdown_request req;
  double d = 0;
  if (body && !(*body)["drain_timeout_s"].get(d)) req.drain_timeout_s = d;
  return req;
}

msg::log_level_request decode_log_level_request(const simdjson::dom::element* body) {
  msg::log_level_request req;
  std::string_view level;
  if (body && !(*body)["level"].get(level)) req.level = std::string(level);
  return req;
}

namespace {
void write_node(json::writer& w, const msg::health_reply& x) {
  w.field("node_id", x.node_id)
      .field("node_uuid", x.node_uuid)
      .field("boot_epoch", x.boot_epoch)
      .field("uptime_s", x.uptime_s)
      .field("version", x.version)
      .field("wire_version", x.wire_version);
}
void write_strings(json::writer& w, std::string_view key, const std::vector<std::string>& v) {
  w.key(key).begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
}
}  // namespace

std::string encode(const msg::health_reply& x) {
  json::writer w;
  w.begin_object().field("status", x.draining ? "draining" : "ok");
  write_node(w, x);
  w.end_object();
  return w.take();
}

std::string encode(const msg::shutdown_reply& x) {
  json::writer w;
  w.begin_object().field("status", "draining").field("drain_timeout_s", x.drain_timeout_s).end_object();
  return w.take();
}

std::string encode(const msg::log_level_reply& x) {
  json::writer w;
  w.begin_object().field("level", x.level).field("previous", x.previous).end_object();
  return w.take();
}

std::string encode(const msg::status_reply& x) {
  json::writer w;
  w.begin_object();
  w.key("node").begin_object();
  write_node(w, x.node);
  w.field("started_at", x.started_at).field("draining", x.node.draining).end_object();
  w.key("endpoints").begin_object().field("http", x.http_endpoint).key("cluster");
  if (x.cluster_endpoint.empty()) w.null();
  else w.value(x.cluster_endpoint);
  w.end_object();
  w.key("cluster").begin_object();
  write_strings(w, "seeds", x.seeds);
  write_strings(w, "voters", x.voters);
  w.field("tls", x.tls).field("insecure_cluster", x.insecure_cluster).end_object();
  w.key("actors").begin_array();
  for (const auto& a : x.actors) {
    w.begin_object().field("name", a.name).field("restarts", a.restarts).key("last_error");
    if (a.last_error.empty()) w.null();
    else w.value(a.last_error);
    w.end_object();
  }
  w.end_array();
  w.key("events")
      .begin_object()
      .field("last_seq", x.events_last_seq)
      .field("retained", x.events_retained)
      .field("subscribers", x.events_subscribers)
      .end_object();
  w.field("log_level", x.log_level);
  w.end_object();
  return w.take();
}

}  // namespace p2p::codec
