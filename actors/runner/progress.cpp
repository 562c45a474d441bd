#include "actors/runner/progress.hpp"

#include <charconv>
#include <cmath>

namespace p2p::runner {
namespace {

constexpr std::string_view keyword = "PROGRESS";

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view skip_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  return text;
}

std::string_view trim_end(std::string_view text) {
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

malformed_progress malformed(std::string_view why, std::string_view token) {
  malformed_progress m;
  m.reason.append(why);
  if (!token.empty()) {
    m.reason.append(": '");
    m.reason.append(utf8_prefix(token, 40));
    m.reason.append("'");
  }
  return m;
}

}  // namespace

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

progress_parse parse_progress_line(std::string_view line) {
  line = trim_end(line);
  if (line.substr(0, keyword.size()) != keyword) return not_progress{};
  auto rest = line.substr(keyword.size());
  if (!rest.empty() && !is_blank(rest.front())) return not_progress{};  // e.g. PROGRESSIVE
  rest = skip_blanks(rest);
  if (rest.empty()) return malformed("PROGRESS without a fraction", {});
  auto token_end = rest.find_first_of(" \t");
  auto token = rest.substr(0, token_end);
  double fraction = 0;
  bool plain_number = token.front() != '+' && token.front() != '-';
  auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), fraction,
                                      std::chars_format::general);
  if (!plain_number || error != std::errc() || end != token.data() + token.size() ||
      !std::isfinite(fraction))
    return malformed("PROGRESS fraction is not a number", token);
  if (fraction < 0 || fraction > 1) return malformed("PROGRESS fraction is outside 0..1", token);
  progress_line parsed;
  parsed.fraction = fraction;
  if (token_end != std::string_view::npos)
    parsed.message = std::string(utf8_prefix(skip_blanks(rest.substr(token_end)),
                                             max_progress_message_bytes));
  return parsed;
}

}  // namespace p2p::runner
