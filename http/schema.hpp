#pragma once
// Declarative request/response schemas: the route table's field lists validate bodies (400 with
// details.field) and generate /openapi.json, so documentation and checks cannot drift apart.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace simdjson::dom {
class element;
}

namespace p2p::http {

enum class field_type { string, integer, number, boolean, object, array, any };
std::string_view type_name(field_type t);

struct field_spec {
  std::string_view name;
  field_type type;
  bool required;
  std::string_view description;
  // For objects: their fields; for arrays: the fields of each element (when elements are objects).
  std::span<const field_spec> fields{};
  // Inclusive numeric bounds, when the field has them.
  std::optional<double> min{};
  std::optional<double> max{};
  // Allowed string values, when restricted.
  std::span<const std::string_view> one_of{};
};

struct field_error {
  std::string field;  // dotted path: "items.3.priority"
  std::string message;
};

// Checks a parsed JSON value against a field list. Unknown fields are refused: a typo in a field
// name must not be silently ignored.
std::optional<field_error> validate_object(const simdjson::dom::element& value,
                                           std::span<const field_spec> fields,
                                           const std::string& prefix = {});

// Checks query parameters (all strings on the wire) against a field list.
std::optional<field_error> validate_query(std::string_view query,
                                          std::span<const field_spec> params);

}  // namespace p2p::http
