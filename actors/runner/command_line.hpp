#pragma once
// The runner's work-type configuration (DESIGN.md §4 "Runner"): `--work-type=TYPE=PROGRAM ARG...`
// and `--runner-slots=TYPE=N`, from the command line or the config file. The command after
// `TYPE=` is split into words by our own small splitter; no shell ever sees it.
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::runner {

// A configuration value the runner cannot use; the message names the option and the problem.
class command_line_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Splits `text` into words the way a POSIX shell splits a simple command, and does nothing else:
//  - unquoted blanks (space, tab, newline) separate words;
//  - '...' keeps every character literally;
//  - "..." keeps every character literally except \" \\ \$ \` (the backslash is dropped) and a
//    backslash-newline (both dropped); any other backslash stays;
//  - an unquoted backslash keeps the next character literally; backslash-newline joins lines;
//  - adjacent parts form one word (a'b c'"d" is "ab cd"); '' and "" make an empty word.
// There is no expansion of any kind: $ ` * ? ~ | ; & < > ( ) # are ordinary characters.
// Throws command_line_error for an unterminated quote, a trailing backslash or a NUL byte, with
// the 1-based column where the problem starts.
std::vector<std::string> split_words(std::string_view text);

// Work type names: 1..64 characters, none of them blank, a quote, a backslash, '=' or ','.
bool is_valid_work_type(std::string_view type);

// One --work-type value: the type and the argument vector (program first, never empty).
struct work_type_command {
  std::string work_type;
  std::vector<std::string> argv;
  bool operator==(const work_type_command&) const = default;
};
work_type_command parse_work_type_option(std::string_view value);

inline constexpr unsigned max_runner_slots = 1024;

// One --runner-slots value: at most `slots` items of `work_type` run at once (1..max_runner_slots).
struct work_type_slots {
  std::string work_type;
  unsigned slots = 1;
  bool operator==(const work_type_slots&) const = default;
};
work_type_slots parse_runner_slots_option(std::string_view value);

struct work_type_config {
  std::vector<std::string> argv;
  unsigned slots = 1;
  bool operator==(const work_type_config&) const = default;
};

// Combines the repeated option values: every type needs exactly one --work-type; --runner-slots
// may name only configured types, at most once each; the others get `default_slots`.
std::map<std::string, work_type_config> build_work_types(
    const std::vector<std::string>& work_type_values,
    const std::vector<std::string>& runner_slots_values, unsigned default_slots = 1);

}  // namespace p2p::runner
