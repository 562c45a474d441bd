#pragma once
// Structured logging: one JSON object per line on stderr, so operators and tests can parse it.
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace p2p::log {

enum class level { trace = 0, debug, info, warn, error };

std::optional<level> parse_level(std::string_view name);
std::string_view level_name(level l);

void set_level(level l);
level current_level();
inline bool enabled(level l) { return l >= current_level(); }

// A field value is pre-rendered JSON (use json::quote for strings).
using field = std::pair<std::string_view, std::string>;

void write(level l, std::string_view component, std::string_view message,
           std::initializer_list<field> fields = {});

inline void info(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::info)) write(level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::warn)) write(level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::error)) write(level::error, c, m, f);
}
inline void debug(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, c, m, f);
}

}  // namespace p2p::log
