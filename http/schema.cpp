#include "http/schema.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>

#include "http/types.hpp"

namespace p2p::http {

std::string_view type_name(field_type t) {
  switch (t) {
    case field_type::string: return "string";
    case field_type::integer: return "integer";
    case field_type::number: return "number";
    case field_type::boolean: return "boolean";
    case field_type::object: return "object";
    case field_type::array: return "array";
    case field_type::any: return "any";
  }
  return "any";
}

namespace {

std::string join(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

std::optional<field_error> check_bounds(const field_spec& spec, double v, const std::string& path) {
  if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
    std::string range = "must be";
    if (spec.min) range += " >= " + std::to_string(static_cast<long long>(*spec.min));
    if (spec.min && spec.max) range += " and";
    if (spec.max) range += " <= " + std::to_string(static_cast<long long>(*spec.max));
    return field_error{path, range};
  }
  return std::nullopt;
}

std::optional<field_error> check_value(const simdjson::dom::element& v, const field_spec& spec,
                                       const std::string& path) {
  using simdjson::dom::element_type;
  auto t = v.type();
  auto wrong = [&] {
    return field_error{path, "must be " + std::string(type_name(spec.type))};
  };
  switch (spec.type) {
    case field_type::any: return std::nullopt;
    case field_type::string: {
      if (t != element_type::STRING) return wrong();
      if (!spec.one_of.empty()) {
        std::string_view s;
        if (v.get(s)) return wrong();
        for (auto allowed : spec.one_of)
          if (allowed == s) return std::nullopt;
        std::string list;
        for (auto allowed : spec.one_of) list += (list.empty() ? "" : ", ") + std::string(allowed);
        return field_error{path, "must be one of: " + list};
      }
      return std::nullopt;
    }
    case field_type::integer: {
      double d = 0;
      if (t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE) {
        if (!v.get(d) && std::floor(d) == d) return check_bounds(spec, d, path);
      }
      return wrong();
    }
    case field_type::number: {
      if (t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE) {
        double d = 0;
        if (v.get(d)) return wrong();
        return check_bounds(spec, d, path);
      }
      return wrong();
    }
    case field_type::boolean: return t == element_type::BOOL ? std::nullopt : std::optional(wrong());
    case field_type::object:
      if (t != element_type::OBJECT) return wrong();
      if (!spec.fields.empty()) return validate_object(v, spec.fields, path);
      return std::nullopt;
    case field_type::array: {
      if (t != element_type::ARRAY) return wrong();
      if (spec.fields.empty()) return std::nullopt;
      size_t i = 0;
      simdjson::dom::array items;
      if (v.get(items)) return wrong();
      for (auto item : items) {
        auto item_path = path + "." + std::to_string(i++);
        if (item.type() != element_type::OBJECT)
          return field_error{item_path, "must be object"};
        if (auto err = validate_object(item, spec.fields, item_path)) return err;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<field_error> validate_object(const simdjson::dom::element& value,
                                           std::span<const field_spec> fields,
                                           const std::string& prefix) {
  if (value.type() != simdjson::dom::element_type::OBJECT)
    return field_error{prefix.empty() ? std::string("body") : prefix, "must be a JSON object"};
  simdjson::dom::object obj;
  if (value.get(obj)) return field_error{prefix.empty() ? std::string("body") : prefix, "must be a JSON object"};
  for (auto [key, v] : obj) {
    const field_spec* spec = nullptr;
    for (const auto& f : fields)
      if (f.name == key) spec = &f;
    if (!spec) return field_error{join(prefix, key), "unknown field"};
    if (auto err = check_value(v, *spec, join(prefix, key))) return err;
  }
  for (const auto& f : fields) {
    if (!f.required) continue;
    simdjson::dom::element ignored;
    if (obj[f.name].get(ignored)) return field_error{join(prefix, f.name), "is required"};
  }
  return std::nullopt;
}

std::optional<field_error> validate_query(std::string_view query,
                                          std::span<const field_spec> params) {
  // Unknown parameters are refused for the same reason as unknown body fields.
  size_t pos = 0;
  while (pos < query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string_view::npos ? query.npos : amp - pos);
    pos = amp == std::string_view::npos ? query.size() : amp + 1;
    if (part.empty()) continue;
    auto key = part.substr(0, part.find('='));
    bool known = false;
    for (const auto& p : params) known = known || p.name == key;
    if (!known) return field_error{std::string(key), "unknown query parameter"};
  }
  for (const auto& p : params) {
    auto value = query_param(query, p.name);
    if (!value) {
      if (p.required) return field_error{std::string(p.name), "is required"};
      continue;
    }
    switch (p.type) {
      case field_type::integer:
      case field_type::number: {
        double d = 0;
        auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), d);
        if (ec != std::errc() || end != value->data() + value->size() ||
            (p.type == field_type::integer && std::floor(d) != d))
          return field_error{std::string(p.name), "must be " + std::string(type_name(p.type))};
        if (auto err = check_bounds(p, d, std::string(p.name))) return err;
        break;
      }
      case field_type::boolean:
        if (*value != "0" && *value != "1" && *value != "true" && *value != "false")
          return field_error{std::string(p.name), "must be 0, 1, true or false"};
        break;
      case field_type::string:
        if (!p.one_of.empty()) {
          bool ok = false;
          for (auto allowed : p.one_of) ok = ok || allowed == *value;
          if (!ok) return field_error{std::string(p.name), "has an unsupported value"};
        }
        break;
      default: break;
    }
  }
  return std::nullopt;
}

}  // namespace p2p::http
