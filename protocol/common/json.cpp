#include "protocol/common/json.hpp"

#include <charconv>
#include <cmath>

namespace p2p::json {

void append_quoted(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_quoted(out, text);
  return out;
}

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  return std::string(buf, end);
}

void writer::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

writer& writer::begin_object() {
  comma();
  out_ += '{';
  first_.push_back(true);
  return *this;
}
writer& writer::end_object() {
  out_ += '}';
  first_.pop_back();
  return *this;
}
writer& writer::begin_array() {
  comma();
  out_ += '[';
  first_.push_back(true);
  return *this;
}
writer& writer::end_array() {
  out_ += ']';
  first_.pop_back();
  return *this;
}
writer& writer::key(std::string_view k) {
  comma();
  append_quoted(out_, k);
  out_ += ':';
  after_key_ = true;
  return *this;
}
writer& writer::value(std::string_view v) {
  comma();
  append_quoted(out_, v);
  return *this;
}
writer& writer::value(bool v) {
  comma();
  out_ += v ? "true" : "false";
  return *this;
}
writer& writer::value(std::int64_t v) {
  comma();
  out_ += std::to_string(v);
  return *this;
}
writer& writer::value(std::uint64_t v) {
  comma();
  out_ += std::to_string(v);
  return *this;
}
writer& writer::value(double v) {
  comma();
  out_ += number(v);
  return *this;
}
writer& writer::null() {
  comma();
  out_ += "null";
  return *this;
}
writer& writer::raw(std::string_view json_text) {
  comma();
  out_ += json_text;
  return *this;
}

}  // namespace p2p::json
