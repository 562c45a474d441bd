#pragma once
// `PROGRESS <0..1> <message>` lines on a work program's stdout (DESIGN.md §4 "Runner"); the runner
// turns them into heartbeats with progress.
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace p2p::runner {

// Messages are replicated with the item, so they are kept short.
inline constexpr std::size_t max_progress_message_bytes = 1000;

struct progress_line {
  double fraction = 0;  // 0..1
  std::string message;  // may be empty; cut to max_progress_message_bytes at a UTF-8 boundary
  bool operator==(const progress_line&) const = default;
};

// A line that starts with the PROGRESS keyword but cannot be used; `reason` says why.
struct malformed_progress {
  std::string reason;
};

struct not_progress {};

using progress_parse = std::variant<not_progress, progress_line, malformed_progress>;

// The keyword is exactly "PROGRESS" followed by a blank (or nothing, which is malformed); the
// fraction is a finite decimal number from 0 to 1 ("0.5", "1", "2.5e-1"; no "50%", no sign, no
// nan); blanks separate it from the message, whose trailing blanks and CR are dropped.
progress_parse parse_progress_line(std::string_view line);

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

}  // namespace p2p::runner
