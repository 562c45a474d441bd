#include "http/openapi.hpp"

#include <map>
#include <vector>

#include "protocol/common/json.hpp"

namespace p2p::http {
namespace {

void write_schema(json::writer& w, std::span<const field_spec> fields);

void write_field_schema(json::writer& w, const field_spec& f) {
  w.begin_object();
  if (f.type != field_type::any) w.field("type", type_name(f.type));
  if (!f.description.empty()) w.field("description", f.description);
  if (f.min) w.field("minimum", *f.min);
  if (f.max) w.field("maximum", *f.max);
  if (!f.one_of.empty()) {
    w.key("enum").begin_array();
    for (auto v : f.one_of) w.value(v);
    w.end_array();
  }
  if (f.type == field_type::object && !f.fields.empty()) {
    w.key("properties").begin_object();
    for (const auto& sub : f.fields) {
      w.key(sub.name);
      write_field_schema(w, sub);
    }
    w.end_object();
  }
  if (f.type == field_type::array && !f.fields.empty()) {
    w.key("items");
    write_schema(w, f.fields);
  }
  w.end_object();
}

void write_schema(json::writer& w, std::span<const field_spec> fields) {
  w.begin_object().field("type", "object").field("additionalProperties", false);
  w.key("properties").begin_object();
  for (const auto& f : fields) {
    w.key(f.name);
    write_field_schema(w, f);
  }
  w.end_object();
  std::vector<std::string_view> required;
  for (const auto& f : fields)
    if (f.required) required.push_back(f.name);
  if (!required.empty()) {
    w.key("required").begin_array();
    for (auto r : required) w.value(r);
    w.end_array();
  }
  w.end_object();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(c | 0x20);
  return out;
}

}  // namespace

std::string openapi_document(std::span<const route> table, std::string_view version) {
  json::writer w;
  w.begin_object().field("openapi", "3.0.3");
  w.key("info")
      .begin_object()
      .field("title", "p2p-orchestrator node API")
      .field("version", version)
      .end_object();
  w.key("components").begin_object();
  w.key("securitySchemes")
      .begin_object()
      .key("bearer")
      .begin_object()
      .field("type", "http")
      .field("scheme", "bearer")
      .end_object()
      .end_object();
  w.key("schemas").begin_object().key("Error");
  {
    static const field_spec envelope[] = {
        {"error", field_type::string, true, "human-readable message"},
        {"code", field_type::string, true, "machine code, e.g. bad_request"},
        {"status", field_type::integer, true, "HTTP status"},
        {"details", field_type::object, true, "field, retry_after_ms, outcome, ..."},
    };
    write_schema(w, envelope);
  }
  w.end_object().end_object();

  // Group by path, keeping table order.
  std::vector<std::string_view> paths;
  std::map<std::string_view, std::vector<const route*>> by_path;
  for (const auto& r : table) {
    if (!by_path.count(r.path)) paths.push_back(r.path);
    by_path[r.path].push_back(&r);
  }
  w.key("paths").begin_object();
  for (auto path : paths) {
    w.key(path).begin_object();
    for (const auto* r : by_path[path]) {
      w.key(lower(verb_name(r->method))).begin_object();
      w.field("operationId", r->id).field("summary", r->summary);
      w.key("tags").begin_array().value(r->domain).end_array();
      w.field("x-placement", placement_name(r->place));
      if (r->protocol) w.field("x-protocol-route", true);
      w.key("security").begin_array();
      if (r->auth != auth_kind::open) w.begin_object().key("bearer").begin_array().end_array().end_object();
      w.end_array();
      if (!r->query_params.empty()) {
        w.key("parameters").begin_array();
        for (const auto& p : r->query_params) {
          w.begin_object().field("name", p.name).field("in", "query").field("required", p.required);
          w.field("description", p.description).key("schema");
          write_field_schema(w, p);
          w.end_object();
        }
        w.end_array();
      }
      if (r->body != body_kind::none) {
        w.key("requestBody").begin_object().field("required", r->body == body_kind::json);
        w.key("content").begin_object().key("application/json").begin_object().key("schema");
        write_schema(w, r->request_fields);
        w.end_object().end_object().end_object();
      }
      w.key("responses").begin_object();
      w.key(std::to_string(r->success_status)).begin_object().field("description", "success");
      w.key("content").begin_object();
      if (r->reply == reply_kind::json) {
        w.key("application/json").begin_object().key("schema");
        if (r->response_fields.empty())
          w.begin_object().field("type", "object").end_object();
        else
          write_schema(w, r->response_fields);
        w.end_object();
      } else if (r->reply == reply_kind::text) {
        w.key("text/plain").begin_object().end_object();
      } else {
        w.key("text/event-stream").begin_object().end_object();
      }
      w.end_object().end_object();
      w.key("default")
          .begin_object()
          .field("description", "error envelope")
          .key("content")
          .begin_object()
          .key("application/json")
          .begin_object()
          .key("schema")
          .begin_object()
          .field("$ref", "#/components/schemas/Error")
          .end_object()
          .end_object()
          .end_object()
          .end_object();
      w.end_object();  // responses
      w.end_object();  // operation
    }
    w.end_object();
  }
  w.end_object();
  w.end_object();
  return w.take();
}

}  // namespace p2p::http
