#include "protocol/messages/work_codec.hpp"

#include <simdjson.h>

#include <charconv>

#include "http/types.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

namespace p2p::codec {
namespace {

using simdjson::dom::element;

std::string text(element e, std::string_view key, std::string fallback = {}) {
  std::string_view v;
  if (e[key].get(v)) return fallback;
  return std::string(v);
}
std::uint64_t whole(element e, std::string_view key, std::uint64_t fallback) {
  std::uint64_t v = 0;
  if (e[key].get(v)) return fallback;
  return v;
}
double number(element e, std::string_view key, double fallback) {
  double v = 0;
  if (e[key].get(v)) return fallback;
  return v;
}
bool flag(element e, std::string_view key, bool fallback) {
  bool v = false;
  if (e[key].get(v)) return fallback;
  return v;
}
bool has(element e, std::string_view key) {
  element v;
  return !e[key].get(v) && !v.is_null();
}
// An object field as its JSON text; `fallback` when absent.
std::string object_text(element e, std::string_view key, std::string fallback) {
  element v;
  if (e[key].get(v) || v.type() != simdjson::dom::element_type::OBJECT) return fallback;
  return simdjson::minify(v);
}
// An array of strings; `ok` turns false when an element is something else.
std::vector<std::string> strings(element e, std::string_view key, bool& ok) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (e[key].get(a)) return out;
  for (auto x : a) {
    std::string_view s;
    if (x.get(s)) ok = false;
    else out.emplace_back(s);
  }
  return out;
}

constexpr std::string_view item_fields[] = {"work_type", "priority", "config", "depends_on", "max_attempts",
                                            "lease_s", "timeout_s", "campaign_id"};

work::new_item read_new_item(element e, msg::work_add_request& r) {
  work::new_item n;
  n.work_type = text(e, "work_type");
  n.priority = static_cast<int>(whole(e, "priority", 50));
  n.config = object_text(e, "config", "{}");
  bool ok = true;
  n.depends_on = strings(e, "depends_on", ok);
  if (!ok && r.error.empty()) {
    r.error = "must be an array of work ids";
    r.error_field = "depends_on";
  }
  n.max_attempts = static_cast<std::uint32_t>(whole(e, "max_attempts", 3));
  n.lease_s = static_cast<std::uint32_t>(whole(e, "lease_s", 60));
  n.timeout_s = static_cast<std::uint32_t>(whole(e, "timeout_s", 0));
  n.campaign_id = text(e, "campaign_id");
  return n;
}

bool query_flag(std::string_view query, std::string_view key) {
  auto v = http::query_param(query, key);
  return v && (*v == "1" || *v == "true");
}

void write_item(json::writer& w, const work::item& x) {
  w.begin_object();
  work::write_item_fields(w, x);
  w.end_object();
}

void write_counts(json::writer& w, const std::vector<msg::work_count>& by_status,
                  const std::vector<msg::work_count>& by_type) {
  w.key("by_status").begin_object();
  for (const auto& c : by_status) w.field(c.status, c.count);
  w.end_object().key("by_type").begin_object();
  // by_type arrives sorted by (type, status): one object per type.
  const std::string* open = nullptr;
  for (const auto& c : by_type) {
    if (!open || c.work_type != *open) {
      if (open) w.end_object();
      open = &c.work_type;
      w.key(*open).begin_object();
    }
    w.field(c.status, c.count);
  }
  if (open) w.end_object();
  w.end_object();
}

}  // namespace

msg::work_add_request decode_work_add(const element* body) {
  msg::work_add_request r;
  if (!body) {
    r.error = "is required";
    r.error_field = "work_type";
    return r;
  }
  r.idempotency_key = text(*body, "idempotency_key");
  simdjson::dom::array items;
  if (!(*body)["items"].get(items)) {
    for (auto f : item_fields)
      if (has(*body, f)) {
        r.error = "give one item's fields or items, not both";
        r.error_field = std::string(f);
        return r;
      }
    for (auto x : items) r.items.push_back(read_new_item(x, r));
    return r;
  }
  if (!has(*body, "work_type")) {
    r.error = "is required (or give items: a list of items)";
    r.error_field = "work_type";
    return r;
  }
  r.items.push_back(read_new_item(*body, r));
  return r;
}

msg::work_claim_request decode_work_claim(const element* body) {
  msg::work_claim_request r;
  if (!body) return r;
  r.node_id = text(*body, "node_id");
  bool ok = true;
  r.work_types = strings(*body, "work_types", ok);
  if (!ok) r.error = "work_types must be an array of strings";
  r.max_items = static_cast<std::uint32_t>(whole(*body, "max_items", 1));
  r.wait_s = number(*body, "wait_s", 0);
  r.request_id = text(*body, "request_id");
  return r;
}

msg::work_start_request decode_work_start(const element* body) {
  msg::work_start_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.claim_token = text(*body, "claim_token");
  return r;
}

msg::work_heartbeat_request decode_work_heartbeat(const element* body) {
  msg::work_heartbeat_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.claim_token = text(*body, "claim_token");
  r.has_progress = has(*body, "progress") || has(*body, "message");
  r.progress = number(*body, "progress", 0);
  r.message = text(*body, "message");
  return r;
}

msg::work_complete_request decode_work_complete(const element* body) {
  msg::work_complete_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.claim_token = text(*body, "claim_token");
  r.result = object_text(*body, "result", "{}");
  return r;
}

msg::work_fail_request decode_work_fail(const element* body) {
  msg::work_fail_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.claim_token = text(*body, "claim_token");
  r.error = text(*body, "error");
  r.retryable = flag(*body, "retryable", true);
  return r;
}

msg::work_release_request decode_work_release(const element* body) {
  msg::work_release_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.claim_token = text(*body, "claim_token");
  r.reason = text(*body, "reason");
  return r;
}

msg::work_cancel_request decode_work_cancel(const element* body) {
  msg::work_cancel_request r;
  if (!body) return r;
  r.work_id = text(*body, "work_id");
  r.reason = text(*body, "reason");
  return r;
}

msg::work_status_request decode_work_status(std::string_view query) {
  msg::work_status_request r;
  r.work_id = http::query_param(query, "work_id").value_or("");
  r.stale = query_flag(query, "stale");
  return r;
}

msg::work_list_request decode_work_list(std::string_view query) {
  msg::work_list_request r;
  r.status = http::query_param(query, "status").value_or("");
  r.work_type = http::query_param(query, "work_type").value_or("");
  r.claimed_by = http::query_param(query, "claimed_by").value_or("");
  r.cursor = http::query_param(query, "cursor").value_or("");
  if (auto limit = http::query_param(query, "limit")) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (ec != std::errc() || end != limit->data() + limit->size() || v < 1 || v > 1000) {
      r.error = "must be an integer from 1 to 1000";
      r.error_field = "limit";
    } else {
      r.limit = v;
    }
  }
  if (!r.status.empty() && !work::status_named(r.status)) {
    r.error = "is not a work status";
    r.error_field = "status";
  }
  r.archived = query_flag(query, "archived");
  r.stale = query_flag(query, "stale");
  return r;
}

std::vector<msg::work_count> status_counts(const work::counts& c) {
  std::vector<msg::work_count> out;
  for (const auto& [status, n] : c.by_status) out.push_back({{}, status, n});
  return out;
}

std::vector<msg::work_count> type_counts(const work::counts& c) {
  std::vector<msg::work_count> out;
  for (const auto& [type, statuses] : c.by_type)
    for (const auto& [status, n] : statuses) out.push_back({type, status, n});
  return out;
}

std::string format_work_time(work::time_ms t) {
  if (t <= 0) return {};
  return format_rfc3339(wall_clock::time_point(std::chrono::milliseconds(t)));
}

std::string encode(const work::item& x) {
  json::writer w;
  write_item(w, x);
  return w.take();
}

std::string encode(const msg::work_command_reply& x) {
  json::writer w;
  w.begin_object();
  if (x.status == "queued") {
    w.key("work_ids").begin_array();
    for (const auto& id : x.work_ids) w.value(id);
    w.end_array().field("replayed", x.replayed);
  } else if (x.status == "claimed") {
    w.field("status", x.status).key("items").begin_array();
    for (const auto& item : x.items) write_item(w, item);
    w.end_array();
    if (x.replayed) w.field("replayed", true);
  } else {
    w.field("status", x.status);
    if (!x.work_ids.empty()) {
      w.key("work_ids").begin_array();
      for (const auto& id : x.work_ids) w.value(id);
      w.end_array();
    }
  }
  w.end_object();
  return w.take();
}

std::string encode(const msg::work_item_reply& x) {
  json::writer w;
  w.begin_object();
  work::write_item_fields(w, x.item);
  w.field("archived", x.archived).end_object();
  return w.take();
}

std::string encode(const msg::work_list_reply& x) {
  json::writer w;
  w.begin_object().key("items").begin_array();
  for (const auto& item : x.items) write_item(w, item);
  w.end_array().key("next_cursor");
  if (x.next_cursor.empty()) w.null();
  else w.value(x.next_cursor);
  w.key("counts").begin_object();
  write_counts(w, x.by_status, x.by_type);
  w.end_object().field("total", x.total).field("archived", x.archived).end_object();
  return w.take();
}

std::string encode(const msg::work_overview_reply& x) {
  json::writer w;
  w.begin_object().key("counts").begin_object();
  write_counts(w, x.by_status, x.by_type);
  w.end_object().field("total", x.total).key("recent").begin_array();
  for (const auto& item : x.recent) write_item(w, item);
  w.end_array()
      .field("archived", x.archived)
      .field("leader", x.leader)
      .field("tracked_leases", x.tracked_leases)
      .field("waiting_claims", x.waiting_claims)
      .end_object();
  return w.take();
}

}  // namespace p2p::codec
