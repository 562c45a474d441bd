#pragma once
// Minimal JSON output: a streaming writer with automatic commas. Parsing uses simdjson.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::json {

// Returns `text` as a quoted JSON string literal.
std::string quote(std::string_view text);
void append_quoted(std::string& out, std::string_view text);
// Shortest round-trippable form; non-finite numbers become null (JSON has no NaN).
std::string number(double value);

class writer {
 public:
  writer& begin_object();
  writer& end_object();
  writer& begin_array();
  writer& end_array();
  writer& key(std::string_view k);
  writer& value(std::string_view v);
  writer& value(const char* v) { return value(std::string_view{v}); }
  writer& value(const std::string& v) { return value(std::string_view{v}); }
  writer& value(bool v);
  writer& value(std::int64_t v);
  writer& value(std::uint64_t v);
  writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  writer& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  writer& value(double v);
  writer& null();
  // Inserts already-serialized JSON as one value.
  writer& raw(std::string_view json_text);

  template <class T>
  writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void comma();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace p2p::json
