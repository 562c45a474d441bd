#include "http/envelope.hpp"

#include "protocol/common/json.hpp"

namespace p2p::http {

response error_response(api_errc code, std::string_view message, std::string_view details_json) {
  json::writer w;
  w.begin_object()
      .field("error", message)
      .field("code", code_name(code))
      .field("status", http_status(code))
      .key("details")
      .raw(details_json.empty() ? std::string_view("{}") : details_json)
      .end_object();
  return json_response(http_status(code), w.take());
}

response bad_field(std::string_view field, std::string_view message) {
  json::writer details;
  details.begin_object().field("field", field).end_object();
  std::string text = std::string(field) + " " + std::string(message);
  return error_response(api_errc::bad_request, text, details.str());
}

response json_response(unsigned status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace p2p::http
