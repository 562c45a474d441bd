#include "http/gate.hpp"

#include <simdjson.h>

#include "http/auth.hpp"
#include "http/envelope.hpp"
#include "protocol/common/json.hpp"

namespace p2p::http {

gate_result gate(std::span<const route> table, const gate_config& config, verb method,
                 std::string_view path, std::string_view query, std::string_view authorization) {
  gate_result result;
  auto m = match_route(table, method, path);
  if (!m.found) {
    result.route_index = table.size();
    if (m.allowed.empty()) {
      json::writer d;
      d.begin_object().field("path", path).end_object();
      result.reply = error_response(api_errc::not_found, "no route for " + std::string(path), d.str());
    } else {
      std::string allow;
      json::writer d;
      d.begin_object().key("allow").begin_array();
      for (auto v : m.allowed) {
        allow += (allow.empty() ? "" : ", ") + std::string(verb_name(v));
        d.value(verb_name(v));
      }
      d.end_array().end_object();
      result.reply = error_response(api_errc::method_not_allowed,
                                    std::string(verb_name(method)) + " is not allowed on " +
                                        std::string(path) + "; allowed: " + allow,
                                    d.str());
      result.reply->headers.emplace_back("Allow", allow);
    }
    return result;
  }
  result.found = m.found;
  result.route_index = m.index;
  const route& r = *m.found;
  bool needs_token = r.auth == auth_kind::token || (r.auth == auth_kind::metrics && !config.metrics_open);
  if (needs_token && !bearer_matches(authorization, config.token)) {
    result.reply = error_response(api_errc::unauthorized,
                                  authorization.empty() ? "missing bearer token"
                                                        : "invalid bearer token");
    result.reply->headers.emplace_back("WWW-Authenticate", "Bearer");
    return result;
  }
  if (r.protocol && !config.protocol_routes_enabled) {
    result.reply = error_response(api_errc::forbidden,
                                  std::string(path) +
                                      " is a node-to-node protocol route; nodes talk over the "
                                      "cluster port (start with --enable-protocol-routes to "
                                      "allow its HTTP form)");
    return result;
  }
  if (auto err = validate_query(query, r.query_params)) {
    result.reply = bad_field(err->field, err->message);
    return result;
  }
  return result;
}

std::optional<response> check_body(const route& r, const request& req,
                                   simdjson::dom::parser& parser, simdjson::dom::element& body,
                                   bool& has_body) {
  has_body = false;
  bool blank = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (r.body == body_kind::none) {
    if (!blank) return bad_field("body", "must be empty for this route");
    return std::nullopt;
  }
  if (blank) {
    if (r.body == body_kind::json) return bad_field("body", "is required (a JSON object)");
    return std::nullopt;
  }
  if (auto err = parser.parse(req.body).get(body)) {
    return bad_field("body", std::string("is not valid JSON: ") + simdjson::error_message(err));
  }
  if (auto err = validate_object(body, r.request_fields)) return bad_field(err->field, err->message);
  has_body = true;
  return std::nullopt;
}

}  // namespace p2p::http
