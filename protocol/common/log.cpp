#include "protocol/common/log.hpp"

#include <atomic>
#include <cstdio>

#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

namespace p2p::log {
namespace {
std::atomic<level> g_level{level::info};
constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error"};
}  // namespace

std::optional<level> parse_level(std::string_view name) {
  for (int i = 0; i < 5; ++i)
    if (names[i] == name) return static_cast<level>(i);
  return std::nullopt;
}

std::string_view level_name(level l) { return names[static_cast<int>(l)]; }

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }
level current_level() { return g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view component, std::string_view message,
           std::initializer_list<field> fields) {
  std::string line;
  line.reserve(128);
  line += "{\"ts\":";
  line += json::quote(format_rfc3339(wall_now()));
  line += ",\"level\":\"";
  line += level_name(l);
  line += "\",\"component\":";
  line += json::quote(component);
  line += ",\"msg\":";
  line += json::quote(message);
  for (const auto& [key, value] : fields) {
    line += ',';
    line += json::quote(key);
    line += ':';
    line += value;
  }
  line += "}\n";
  // One fwrite per line: stdio locks the stream, so lines from threads never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace p2p::log
