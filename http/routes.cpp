#include "http/routes.hpp"

#include <array>

namespace p2p::http {

std::string_view verb_name(verb v) {
  switch (v) {
    case verb::get: return "GET";
    case verb::post: return "POST";
    case verb::put: return "PUT";
    case verb::patch: return "PATCH";
    case verb::del: return "DELETE";
    case verb::head: return "HEAD";
    case verb::options: return "OPTIONS";
    case verb::other: return "OTHER";
  }
  return "OTHER";
}

std::string_view placement_name(placement p) {
  switch (p) {
    case placement::local: return "local";
    case placement::leader_write: return "leader-write";
    case placement::leader_read: return "leader-read";
  }
  return "local";
}

namespace {

using ft = field_type;

constexpr std::array<std::string_view, 5> log_levels{"trace", "debug", "info", "warn", "error"};

const field_spec health_reply[] = {
    {"status", ft::string, true, "\"ok\", or \"draining\" (with status 503) while shutting down"},
    {"node_id", ft::string, true, "this node's id"},
    {"node_uuid", ft::string, true, "this node's persistent uuid"},
    {"boot_epoch", ft::integer, true, "how many times this data dir has started a node"},
    {"uptime_s", ft::number, true, "seconds since the node started"},
    {"version", ft::string, true, "software version"},
    {"wire_version", ft::integer, true, "cluster protocol version"},
};

const field_spec shutdown_request[] = {
    {"drain_timeout_s", ft::number, false,
     "seconds to let in-flight work finish before the node exits (default 10)", {}, 0.0, 3600.0},
};
const field_spec shutdown_reply[] = {
    {"status", ft::string, true, "\"draining\""},
    {"drain_timeout_s", ft::number, true, "the deadline the node exits by"},
};

const field_spec status_reply[] = {
    {"node", ft::object, true,
     "node_id, node_uuid, boot_epoch, version, wire_version, started_at, uptime_s, draining"},
    {"endpoints", ft::object, true, "http and cluster endpoints (host:port; cluster null if off)"},
    {"cluster", ft::object, true, "seeds, voters, tls, insecure_cluster"},
    {"actors", ft::array, true, "each actor in the directory: name, restarts, last_error"},
    {"events", ft::object, true, "last_seq, retained, subscribers"},
    {"log_level", ft::string, true, "current log level"},
};

const field_spec log_level_request[] = {
    {"level", ft::string, true, "new log level", {}, {}, {}, log_levels},
};
const field_spec log_level_reply[] = {
    {"level", ft::string, true, "the level now in force"},
    {"previous", ft::string, true, "the level before"},
};

const field_spec events_query[] = {
    {"types", ft::string, false, "comma-separated event types to deliver (default: all)"},
    {"last_event_id", ft::integer, false,
     "resume after this sequence number (same as the Last-Event-ID header)", {}, 0.0, {}},
};

const route table[] = {
    {"admin.health", verb::get, "/admin/health", "admin", auth_kind::open, placement::local, false,
     "Liveness of this node; 503 while draining", body_kind::none, {}, {}, reply_kind::json, 200,
     health_reply},
    {"admin.shutdown", verb::post, "/admin/shutdown", "admin", auth_kind::token, placement::local,
     false, "Graceful drain, then exit 0 by the deadline", body_kind::optional_json,
     shutdown_request, {}, reply_kind::json, 202, shutdown_reply},
    {"admin.log_level", verb::post, "/admin/log-level", "admin", auth_kind::token,
     placement::local, false, "Change this node's log level at run time", body_kind::json,
     log_level_request, {}, reply_kind::json, 200, log_level_reply},
    {"admin.status", verb::get, "/status", "admin", auth_kind::token, placement::local, false,
     "This node's identity, endpoints, actors and event stream", body_kind::none, {}, {},
     reply_kind::json, 200, status_reply},
    {"admin.metrics", verb::get, "/metrics", "admin", auth_kind::metrics, placement::local, false,
     "Prometheus text exposition", body_kind::none, {}, {}, reply_kind::text, 200, {}},
    {"http.openapi", verb::get, "/openapi.json", "http", auth_kind::token, placement::local, false,
     "This API as OpenAPI 3.0, generated from the route table", body_kind::none, {}, {},
     reply_kind::json, 200, {}},
    {"events.stream", verb::get, "/events", "events", auth_kind::token, placement::local, false,
     "Server-sent events: id is this node's sequence, event the type, data the envelope; "
     "Last-Event-ID resumes, a too-old id gets event: reset",
     body_kind::none, {}, events_query, reply_kind::event_stream, 200, {}},
};

}  // namespace

std::span<const route> route_table() { return table; }

match_result match_route(std::span<const route> routes, verb method, std::string_view path) {
  match_result result;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].path != path) continue;
    if (routes[i].method == method) {
      result.found = &routes[i];
      result.index = i;
      result.allowed.clear();
      return result;
    }
    result.allowed.push_back(routes[i].method);
  }
  return result;
}
namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string_view::npos ? query.npos : amp - pos);
    auto eq = part.find('=');
    auto k = part.substr(0, eq);
    if (k == key) return percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return std::nullopt;
}

}  // namespace p2p::http
