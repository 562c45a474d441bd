#pragma once
// The checks every request passes before it reaches a domain, in order: route (404/405), auth
// (401), protocol-route gate (403), query and body schema (400). Pure, so each is unit-tested.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/routes.hpp"
#include "http/types.hpp"

namespace simdjson::dom {
class parser;
class element;
}  // namespace simdjson::dom

namespace p2p::http {

struct gate_config {
  std::string token;
  bool protocol_routes_enabled = false;
  bool metrics_open = false;
};

struct gate_result {
  std::optional<response> reply;  // set when the request ends here
  const route* found = nullptr;
  std::size_t route_index = 0;    // table size when no route matched (metrics "unmatched")
};

gate_result gate(std::span<const route> table, const gate_config& config, verb method,
                 std::string_view path, std::string_view query, std::string_view authorization);

// Parses and validates the body for `r`. On success `body` points into `parser`'s document (or
// is left untouched when the route takes no body and none was sent).
std::optional<response> check_body(const route& r, const request& req,
                                   simdjson::dom::parser& parser, simdjson::dom::element& body,
                                   bool& has_body);

}  // namespace p2p::http
