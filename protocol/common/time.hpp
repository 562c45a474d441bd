#pragma once
// Time as values: wall time only for display (RFC 3339), monotonic time for durations.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

using wall_clock = std::chrono::system_clock;
using mono_clock = std::chrono::steady_clock;

inline wall_clock::time_point wall_now() { return wall_clock::now(); }
inline mono_clock::time_point mono_now() { return mono_clock::now(); }

// "2026-11-30T12:00:00.123Z": UTC, milliseconds, always the same width.
std::string format_rfc3339(wall_clock::time_point t);
// Accepts RFC 3339 with 'Z' or a numeric offset and optional fractional seconds.
std::optional<wall_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace p2p
