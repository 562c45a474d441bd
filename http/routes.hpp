#pragma once
// The route table: the one place routes exist. It drives matching, auth, placement, body
// validation, the OpenAPI document, metrics labels and the contract tests.
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "http/schema.hpp"
#include "http/types.hpp"

namespace p2p::http {

enum class auth_kind {
  token,    // bearer token required
  open,     // never needs a token (health checks from load balancers)
  metrics,  // open only when the node runs with --metrics-open
};

// Where a request is answered (DESIGN.md §4). Only the node's domain actors act on it.
enum class placement { local, leader_write, leader_read };
std::string_view placement_name(placement p);

enum class body_kind { none, optional_json, json };
enum class reply_kind { json, text, event_stream };

struct route {
  std::string_view id;      // operation id, "<domain>.<operation>"; also the metrics label
  verb method;
  std::string_view path;
  std::string_view domain;  // the actor that answers; "http" = the front answers by itself
  auth_kind auth;
  placement place;
  bool protocol;            // a node-to-node message's HTTP form: 403 unless enabled
  std::string_view summary;
  body_kind body;
  std::span<const field_spec> request_fields;
  std::span<const field_spec> query_params;
  reply_kind reply;
  unsigned success_status;
  std::span<const field_spec> response_fields;
  // A long poll (work claims with wait_s) may be answered this many seconds after the usual
  // request timeout.
  unsigned long_poll_s = 0;
};

std::span<const route> route_table();

struct match_result {
  const route* found = nullptr;
  std::size_t index = 0;
  std::vector<verb> allowed;  // set when the path exists but not with this method
};

match_result match_route(std::span<const route> table, verb method, std::string_view path);

}  // namespace p2p::http
