#include "actors/runner/command_line.hpp"

#include <charconv>
#include <initializer_list>

namespace p2p::runner {
namespace {

std::string concat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto part : parts) out.append(part);
  return out;
}

std::string column_text(std::size_t index) { return std::to_string(index + 1); }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Characters a backslash escapes inside double quotes (POSIX); elsewhere it stays literal.
bool escapable_in_double_quotes(char c) { return c == '"' || c == '\\' || c == '$' || c == '`'; }

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (is_blank(text.front()) || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// Splits "TYPE=REST" at the first '=' and checks TYPE; `usage` names the expected form.
std::pair<std::string, std::string_view> split_type_prefix(std::string_view option,
                                                           std::string_view value,
                                                           std::string_view usage) {
  auto eq = value.find('=');
  if (eq == std::string_view::npos)
    throw command_line_error(concat({option, " must be ", usage, ", got '", value, "' (no '=')"}));
  auto type = value.substr(0, eq);
  if (!is_valid_work_type(type))
    throw command_line_error(concat({option, " needs a work type of 1..64 characters without "
                                     "blanks, quotes, backslashes, '=' or ',' before '=', got '",
                                     type, "'"}));
  return {std::string(type), value.substr(eq + 1)};
}

}  // namespace

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started, possibly with an empty quoted part
  std::size_t i = 0;
  auto finish_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '\0') throw command_line_error(concat({"NUL character at column ", column_text(i)}));
    if (is_blank(c)) {
      finish_word();
      ++i;
    } else if (c == '\\') {
      if (i + 1 == text.size())
        throw command_line_error(concat({"trailing backslash at column ", column_text(i)}));
      char next = text[i + 1];
      if (next == '\0')
        throw command_line_error(concat({"NUL character at column ", column_text(i + 1)}));
      if (next != '\n') {  // backslash-newline is a line continuation: nothing is kept
        word.push_back(next);
        in_word = true;
      }
      i += 2;
    } else if (c == '\'') {
      auto close = text.find('\'', i + 1);
      if (close == std::string_view::npos)
        throw command_line_error(concat({"unterminated single quote at column ", column_text(i)}));
      auto quoted = text.substr(i + 1, close - i - 1);
      if (auto nul = quoted.find('\0'); nul != std::string_view::npos)
        throw command_line_error(concat({"NUL character at column ", column_text(i + 1 + nul)}));
      word.append(quoted);
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      std::size_t open = i++;
      bool closed = false;
      while (i < text.size()) {
        char q = text[i];
        if (q == '"') {
          closed = true;
          ++i;
          break;
        }
        if (q == '\0') throw command_line_error(concat({"NUL character at column ", column_text(i)}));
        if (q == '\\' && i + 1 < text.size() &&
            (escapable_in_double_quotes(text[i + 1]) || text[i + 1] == '\n')) {
          if (text[i + 1] != '\n') word.push_back(text[i + 1]);
          i += 2;
          continue;
        }
        word.push_back(q);
        ++i;
      }
      if (!closed)
        throw command_line_error(
            concat({"unterminated double quote at column ", column_text(open)}));
      in_word = true;
    } else {
      word.push_back(c);
      in_word = true;
      ++i;
    }
  }
  finish_word();
  return words;
}

bool is_valid_work_type(std::string_view type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '"' || c == '\'' || c == '\\' || c == '=' || c == ',')
      return false;
  }
  return true;
}

work_type_command parse_work_type_option(std::string_view value) {
  constexpr std::string_view option = "--work-type";
  auto [type, command] = split_type_prefix(option, value, "TYPE=PROGRAM ARG...");
  // A config file written on Windows leaves a CR at the end of the value.
  while (!command.empty() && command.back() == '\r') command.remove_suffix(1);
  std::vector<std::string> argv;
  try {
    argv = split_words(command);
  } catch (const command_line_error& e) {
    throw command_line_error(concat({option, " for '", type, "': ", e.what(), " of '", command, "'"}));
  }
  if (argv.empty())
    throw command_line_error(concat({option, " for '", type, "' has no program after '='"}));
  if (argv.front().empty())
    throw command_line_error(concat({option, " for '", type, "' has an empty program name"}));
  return {std::move(type), std::move(argv)};
}

work_type_slots parse_runner_slots_option(std::string_view value) {
  constexpr std::string_view option = "--runner-slots";
  auto [type, count_text] = split_type_prefix(option, value, "TYPE=N");
  auto digits = trim_blanks(count_text);
  unsigned slots = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), slots);
  bool all_digits = !digits.empty() && digits.front() != '-' && digits.front() != '+';
  if (!all_digits || error != std::errc() || end != digits.data() + digits.size() || slots < 1 ||
      slots > max_runner_slots)
    throw command_line_error(concat({option, " for '", type, "' must be a whole number from 1 to ",
                                     std::to_string(max_runner_slots), ", got '", count_text, "'"}));
  return {std::move(type), slots};
}

std::map<std::string, work_type_config> build_work_types(
    const std::vector<std::string>& work_type_values,
    const std::vector<std::string>& runner_slots_values, unsigned default_slots) {
  if (default_slots < 1 || default_slots > max_runner_slots)
    throw command_line_error(concat({"the default number of runner slots must be from 1 to ",
                                     std::to_string(max_runner_slots)}));
  std::map<std::string, work_type_config> types;
  for (const auto& value : work_type_values) {
    auto command = parse_work_type_option(value);
    if (types.count(command.work_type))
      throw command_line_error(concat({"--work-type for '", command.work_type, "' is given twice"}));
    types.emplace(std::move(command.work_type), work_type_config{std::move(command.argv), default_slots});
  }
  std::map<std::string, bool> slots_seen;
  for (const auto& value : runner_slots_values) {
    auto slots = parse_runner_slots_option(value);
    auto it = types.find(slots.work_type);
    if (it == types.end())
      throw command_line_error(concat({"--runner-slots names '", slots.work_type,
                                       "', which has no --work-type"}));
    if (slots_seen[slots.work_type])
      throw command_line_error(concat({"--runner-slots for '", slots.work_type, "' is given twice"}));
    slots_seen[slots.work_type] = true;
    it->second.slots = slots.slots;
  }
  return types;
}

}  // namespace p2p::runner
