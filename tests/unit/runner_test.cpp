// The runner's process core: the work-type options, PROGRESS lines, and one attempt as a child
// process (actors/runner/). The child is p2p-runner-test-child (runner_child.cpp), one mode per
// behaviour. Nothing here sleeps for correctness: tests wait on the outcome, on the notify
// callback, or poll /proc with a deadline.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "actors/runner/command_line.hpp"
#include "actors/runner/progress.hpp"
#include "actors/runner/work_process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using p2p::runner::attempt_outcome;
using p2p::runner::attempt_spec;
using p2p::runner::command_line_error;
using p2p::runner::outcome_kind;
using p2p::runner::progress_report;
using p2p::runner::work_process;

// How Boost.Test prints the runner's values in failure messages.
namespace p2p::runner {
std::ostream& boost_test_print_type(std::ostream& out, outcome_kind kind) {
  return out << outcome_kind_name(kind);
}
std::ostream& boost_test_print_type(std::ostream& out, const progress_line& line) {
  return out << "PROGRESS " << line.fraction << " '" << line.message << "'";
}
std::ostream& boost_test_print_type(std::ostream& out, const work_type_slots& slots) {
  return out << slots.work_type << "=" << slots.slots;
}
}  // namespace p2p::runner

namespace {

constexpr auto outcome_timeout = 30s;

struct scratch_dir {
  fs::path path;
  scratch_dir() {
    std::string pattern = (fs::temp_directory_path() / "p2p-runner-test-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Counts notify calls and lets a test wait for the next one.
struct notifications {
  std::mutex mutex;
  std::condition_variable changed;
  int count = 0;

  work_process::notify_fn callback() {
    return [this] {
      {
        std::lock_guard lock(mutex);
        ++count;
      }
      changed.notify_all();
    };
  }
  int value() {
    std::lock_guard lock(mutex);
    return count;
  }
  bool wait_beyond(int seen, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    return changed.wait_until(lock, deadline, [&] { return count != seen; });
  }
};

std::optional<progress_report> await_progress(work_process& process, notifications& notes) {
  auto deadline = std::chrono::steady_clock::now() + outcome_timeout;
  while (true) {
    int seen = notes.value();
    if (auto report = process.take_progress()) return report;
    if (!notes.wait_beyond(seen, deadline)) return std::nullopt;
  }
}

attempt_spec child_spec(const fs::path& base, std::vector<std::string> args,
                        std::string work_id = "w-7-0") {
  attempt_spec spec;
  spec.work_id = std::move(work_id);
  spec.work_type = "test";
  spec.attempt = 1;
  spec.item_json = R"({"work_id":"w-7-0","work_type":"test","config":{"n":1}})";
  spec.argv = {P2P_RUNNER_CHILD_BINARY};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.base_dir = base;
  spec.kill_grace = 5s;
  spec.output_drain_limit = 5s;
  return spec;
}

attempt_outcome finish(work_process& process) {
  BOOST_REQUIRE_MESSAGE(process.wait_for(outcome_timeout), "the attempt did not finish");
  auto outcome = process.outcome();
  BOOST_REQUIRE(outcome.has_value());
  return *outcome;
}

attempt_outcome run_child(const fs::path& base, std::vector<std::string> args) {
  auto process = work_process::start(child_spec(base, std::move(args)));
  return finish(*process);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto part : parts) out.append(part);
  return out;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Gone or a zombie (killed, but its new parent has not reaped it yet).
bool process_is_dead(pid_t pid) {
  std::string stat_path = "/proc/";
  stat_path.append(std::to_string(pid));
  stat_path.append("/stat");
  auto stat = read_text(stat_path);
  if (stat.empty()) return true;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() &&
         (stat[close + 2] == 'Z' || stat[close + 2] == 'X');
}

bool await_process_death(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + outcome_timeout;
  while (!process_is_dead(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling /proc with a deadline; nothing to wait on
  }
  return true;
}

pid_t helper_pid(const progress_report& report) { return static_cast<pid_t>(std::stol(report.message)); }

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element doc;
  BOOST_REQUIRE_MESSAGE(!parser.parse(text).get(doc), "not JSON: " << text);
  return doc;
}

std::string json_string(simdjson::dom::element doc, const char* key) {
  std::string_view value;
  BOOST_REQUIRE_MESSAGE(!doc[key].get(value), "no string " << key);
  return std::string(value);
}

using words = std::vector<std::string>;

std::string split_error(std::string_view text) {
  try {
    p2p::runner::split_words(text);
  } catch (const command_line_error& e) {
    return e.what();
  }
  return "no error";
}

template <class Parse>
std::string option_error(Parse parse, std::string_view value) {
  try {
    parse(value);
  } catch (const command_line_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(runner)

// ---- word splitting --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(split_separates_on_blanks) {
  using p2p::runner::split_words;
  BOOST_TEST(split_words("a b  c\t d\n e") == (words{"a", "b", "c", "d", "e"}));
  BOOST_TEST(split_words("  leading and trailing  ") == (words{"leading", "and", "trailing"}));
  BOOST_TEST(split_words("").empty());
  BOOST_TEST(split_words(" \t\n ").empty());
}

BOOST_AUTO_TEST_CASE(split_quotes_and_empty_words) {
  using p2p::runner::split_words;
  BOOST_TEST(split_words(R"('a b' "c d" e'f'"g")") == (words{"a b", "c d", "efg"}));
  BOOST_TEST(split_words(R"('' "" x)") == (words{"", "", "x"}));
  BOOST_TEST(split_words(R"(a'' ''b)") == (words{"a", "b"}));
  BOOST_TEST(split_words(R"("it's" 'say "hi"')") == (words{"it's", R"(say "hi")"}));
  BOOST_TEST(split_words("'multi\nline'") == (words{"multi\nline"}));
}

BOOST_AUTO_TEST_CASE(split_backslash_escapes) {
  using p2p::runner::split_words;
  BOOST_TEST(split_words(R"(a\ b)") == (words{"a b"}));
  BOOST_TEST(split_words(R"(\'x\' \"y\")") == (words{"'x'", "\"y\""}));
  BOOST_TEST(split_words(R"(\\ \$HOME \a)") == (words{"\\", "$HOME", "a"}));
  // Inside double quotes only \" \\ \$ \` escape; other backslashes stay.
  BOOST_TEST(split_words(R"("a\"b\\c\$d\`e")") == (words{"a\"b\\c$d`e"}));
  BOOST_TEST(split_words(R"("a\nb\x")") == (words{R"(a\nb\x)"}));
  // Nothing escapes inside single quotes.
  BOOST_TEST(split_words(R"('a\b\\')") == (words{R"(a\b\\)"}));
  // Backslash-newline joins lines, quoted or not.
  BOOST_TEST(split_words("ab\\\ncd \"ef\\\ngh\"") == (words{"abcd", "efgh"}));
  BOOST_TEST(split_words("one \\\n two") == (words{"one", "two"}));
}

BOOST_AUTO_TEST_CASE(split_expands_nothing) {
  using p2p::runner::split_words;
  BOOST_TEST(split_words("$HOME *.txt ~ a|b c;d e&&f >out <in #x $(x) `y` {a,b}") ==
             (words{"$HOME", "*.txt", "~", "a|b", "c;d", "e&&f", ">out", "<in", "#x", "$(x)", "`y`",
                    "{a,b}"}));
  BOOST_TEST(split_words(R"(a | b ; c)") == (words{"a", "|", "b", ";", "c"}));
}

BOOST_AUTO_TEST_CASE(split_reports_errors_with_columns) {
  BOOST_TEST(split_error("ab 'cd") == "unterminated single quote at column 4");
  BOOST_TEST(split_error(R"(x "a\" b)") == "unterminated double quote at column 3");
  BOOST_TEST(split_error(R"(abc\)") == "trailing backslash at column 4");
  BOOST_TEST(split_error(std::string_view("a\0b", 3)) == "NUL character at column 2");
  BOOST_TEST(split_error(std::string_view("'a\0b'", 5)) == "NUL character at column 3");
  BOOST_TEST(split_error(std::string_view("\"a\0b\"", 5)) == "NUL character at column 3");
}

// ---- option values ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(work_type_option_parses_type_and_argv) {
  using p2p::runner::parse_work_type_option;
  auto parsed = parse_work_type_option(R"(selfplay=/usr/bin/play --games 10 --name "my run" --x=1)");
  BOOST_TEST(parsed.work_type == "selfplay");
  BOOST_TEST(parsed.argv == (words{"/usr/bin/play", "--games", "10", "--name", "my run", "--x=1"}));
  BOOST_TEST(parse_work_type_option("t=prog").argv == (words{"prog"}));
  BOOST_TEST(parse_work_type_option("t=  prog  ").argv == (words{"prog"}));
  BOOST_TEST(parse_work_type_option("t=prog ''").argv == (words{"prog", ""}));
  BOOST_TEST(parse_work_type_option("t=prog arg\r").argv == (words{"prog", "arg"}));
}

BOOST_AUTO_TEST_CASE(work_type_option_errors) {
  auto error = [](std::string_view value) {
    return option_error(p2p::runner::parse_work_type_option, value);
  };
  BOOST_TEST(error("selfplay") == "--work-type must be TYPE=PROGRAM ARG..., got 'selfplay' (no '=')");
  BOOST_TEST(contains(error("=prog"), "needs a work type"));
  BOOST_TEST(contains(error("a b=prog"), "got 'a b'"));
  BOOST_TEST(contains(error("a,b=prog"), "got 'a,b'"));
  BOOST_TEST(contains(error(cat({std::string(65, 't'), "=prog"})), "needs a work type"));
  BOOST_TEST(error("t=") == "--work-type for 't' has no program after '='");
  BOOST_TEST(error("t=   ") == "--work-type for 't' has no program after '='");
  BOOST_TEST(error("t='' arg") == "--work-type for 't' has an empty program name");
  BOOST_TEST(error("t=prog 'open") ==
             "--work-type for 't': unterminated single quote at column 6 of 'prog 'open'");
}

BOOST_AUTO_TEST_CASE(runner_slots_option) {
  using p2p::runner::parse_runner_slots_option;
  BOOST_TEST(parse_runner_slots_option("selfplay=4") == (p2p::runner::work_type_slots{"selfplay", 4}));
  BOOST_TEST(parse_runner_slots_option("t= 16 ").slots == 16u);
  BOOST_TEST(parse_runner_slots_option("t=1024").slots == 1024u);
  auto error = [](std::string_view value) {
    return option_error(p2p::runner::parse_runner_slots_option, value);
  };
  BOOST_TEST(error("t") == "--runner-slots must be TYPE=N, got 't' (no '=')");
  BOOST_TEST(error("t=0") == "--runner-slots for 't' must be a whole number from 1 to 1024, got '0'");
  for (auto bad : {"t=", "t=-1", "t=+1", "t=abc", "t=1025", "t=1.5", "t=4x", "t=99999999999"})
    BOOST_TEST(contains(error(bad), "must be a whole number from 1 to 1024"), bad);
  BOOST_TEST(contains(error("=3"), "needs a work type"));
}

BOOST_AUTO_TEST_CASE(work_types_combine_commands_and_slots) {
  using p2p::runner::build_work_types;
  auto types = build_work_types({"selfplay=play --fast", "match=/opt/match 'a b'"}, {"match=3"}, 2);
  BOOST_TEST(types.size() == 2u);
  BOOST_TEST(types.at("selfplay").argv == (words{"play", "--fast"}));
  BOOST_TEST(types.at("selfplay").slots == 2u);
  BOOST_TEST(types.at("match").argv == (words{"/opt/match", "a b"}));
  BOOST_TEST(types.at("match").slots == 3u);
  BOOST_TEST(build_work_types({}, {}).empty());

  auto error = [](const std::vector<std::string>& commands, const std::vector<std::string>& slots) {
    try {
      build_work_types(commands, slots);
    } catch (const command_line_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  BOOST_TEST(error({"t=a", "t=b"}, {}) == "--work-type for 't' is given twice");
  BOOST_TEST(error({"t=a"}, {"u=2"}) == "--runner-slots names 'u', which has no --work-type");
  BOOST_TEST(error({"t=a"}, {"t=2", "t=3"}) == "--runner-slots for 't' is given twice");
  BOOST_TEST(error({"t=a"}, {"t=0"}) != "no error");
}

// ---- PROGRESS lines --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(progress_lines_parse) {
  using p2p::runner::parse_progress_line;
  using p2p::runner::progress_line;
  auto parsed = [](std::string_view line) {
    auto result = parse_progress_line(line);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<progress_line>(result), line);
    return std::get<progress_line>(result);
  };
  BOOST_TEST(parsed("PROGRESS 0.5 half way") == (progress_line{0.5, "half way"}));
  BOOST_TEST(parsed("PROGRESS 1") == (progress_line{1.0, ""}));
  BOOST_TEST(parsed("PROGRESS 0 ") == (progress_line{0.0, ""}));
  BOOST_TEST(parsed("PROGRESS 2.5e-1 quarter") == (progress_line{0.25, "quarter"}));
  BOOST_TEST(parsed("PROGRESS\t.75\t  games  12/16  \r") == (progress_line{0.75, "games  12/16"}));
  BOOST_TEST(parsed("PROGRESS 1.0 done: $x | y ; z") == (progress_line{1.0, "done: $x | y ; z"}));
}

BOOST_AUTO_TEST_CASE(other_lines_are_not_progress) {
  using p2p::runner::not_progress;
  using p2p::runner::parse_progress_line;
  for (auto line : {"", "progress 0.5", "PROGRESSIVE 0.5", "xPROGRESS 0.5", " PROGRESS 0.5",
                    "{\"PROGRESS\":1}"})
    BOOST_TEST(std::holds_alternative<not_progress>(parse_progress_line(line)), line);
}

BOOST_AUTO_TEST_CASE(malformed_progress_lines_are_refused) {
  using p2p::runner::malformed_progress;
  using p2p::runner::parse_progress_line;
  auto reason = [](std::string_view line) {
    auto result = parse_progress_line(line);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<malformed_progress>(result), line);
    return std::get<malformed_progress>(result).reason;
  };
  BOOST_TEST(reason("PROGRESS") == "PROGRESS without a fraction");
  BOOST_TEST(reason("PROGRESS   \r") == "PROGRESS without a fraction");
  BOOST_TEST(reason("PROGRESS 1.5 x") == "PROGRESS fraction is outside 0..1: '1.5'");
  BOOST_TEST(reason("PROGRESS 1e3") == "PROGRESS fraction is outside 0..1: '1e3'");
  BOOST_TEST(reason("PROGRESS 50% x") == "PROGRESS fraction is not a number: '50%'");
  for (auto line : {"PROGRESS -0.1", "PROGRESS -0", "PROGRESS +0.5", "PROGRESS nan", "PROGRESS inf",
                    "PROGRESS abc", "PROGRESS 0.5x msg", "PROGRESS 0x1", "PROGRESS 1/2"})
    BOOST_TEST(contains(reason(line), "not a number"), line);
}

BOOST_AUTO_TEST_CASE(progress_messages_are_cut_at_a_character_boundary) {
  using p2p::runner::max_progress_message_bytes;
  std::string message(max_progress_message_bytes - 1, 'a');
  message.append("\xC3\xA9 and more");  // a two-byte character straddles the limit
  std::string line = "PROGRESS 0.1 ";
  line.append(message);
  auto parsed = std::get<p2p::runner::progress_line>(p2p::runner::parse_progress_line(line));
  BOOST_TEST(parsed.message == std::string(max_progress_message_bytes - 1, 'a'));
  BOOST_TEST(p2p::runner::utf8_prefix("h\xC3\xA9llo", 2) == "h");
  BOOST_TEST(p2p::runner::utf8_prefix("h\xC3\xA9llo", 3) == "h\xC3\xA9");
  BOOST_TEST(p2p::runner::utf8_prefix("short", 100) == "short");
}

// ---- one attempt as a child process ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(result_file_completes_the_item) {
  scratch_dir dir;
  notifications notes;
  auto process = work_process::start(child_spec(dir.path, {"result-file", R"({"score": 0.75})"}),
                                     notes.callback());
  BOOST_TEST(process->pid() > 0);
  auto outcome = finish(*process);
  BOOST_TEST(p2p::runner::outcome_kind_name(outcome.kind) == "completed");
  BOOST_TEST(outcome.result == R"({"score": 0.75})");
  BOOST_TEST(outcome.exit_code.value_or(-1) == 0);
  BOOST_TEST(!outcome.signal.has_value());
  BOOST_TEST(notes.value() == 1);
  auto log = read_text(process->paths().log_file);
  BOOST_TEST(contains(log, "\nwrote the result file\n"));
  BOOST_TEST(contains(log, "[runner] exit code 0 after "));
  BOOST_TEST(contains(log, ": completed\n"));
}

BOOST_AUTO_TEST_CASE(result_from_the_last_stdout_line) {
  scratch_dir dir;
  auto outcome = run_child(dir.path, {"print", "warming up", R"({"games": 12})"});
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"games": 12})");
  // PROGRESS lines, malformed ones and blank lines after the result do not hide it.
  outcome = run_child(dir.path, {"print", R"(  {"r": 1}  )", "PROGRESS 1 done", "PROGRESS 7 x", "  "});
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"r": 1})");
  // The last line needs no newline.
  outcome = run_child(dir.path, {"print-no-newline", "text\n{\"tail\":true}"});
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"tail":true})");
}

BOOST_AUTO_TEST_CASE(missing_or_invalid_result_fails) {
  scratch_dir dir;
  auto outcome = run_child(dir.path, {"print", R"({"early": 1})", "all done"});
  BOOST_TEST(outcome.kind == outcome_kind::failed);
  BOOST_TEST(contains(outcome.reason, "no result: P2P_RESULT_FILE was not written and the last "
                                      "stdout line is not a JSON object"));
  BOOST_TEST(outcome.log_tail == "{\"early\": 1}\nall done");
  BOOST_TEST(outcome.exit_code.value_or(-1) == 0);

  outcome = run_child(dir.path, {"print", "[1, 2]"});
  BOOST_TEST(contains(outcome.reason, "(not an object)"));

  outcome = run_child(dir.path, {"print"});
  BOOST_TEST(outcome.reason == "no result: P2P_RESULT_FILE was not written and nothing was printed on stdout");

  outcome = run_child(dir.path, {"result-file", "not json"});
  BOOST_TEST(outcome.kind == outcome_kind::failed);
  BOOST_TEST(contains(outcome.reason, "result file is not a JSON object ("));

  outcome = run_child(dir.path, {"result-file", "[]"});
  BOOST_TEST(outcome.reason == "result file is not a JSON object (not an object)");

  auto spec = child_spec(dir.path, {"result-file", R"({"too": "large"})"});
  spec.max_result_bytes = 10;
  outcome = finish(*work_process::start(spec));
  BOOST_TEST(outcome.reason == "result file is 16 bytes, over the limit of 10");

  spec = child_spec(dir.path, {"print", R"({"too": "large"})"});
  spec.max_result_bytes = 10;
  outcome = finish(*work_process::start(spec));
  BOOST_TEST(contains(outcome.reason, "last stdout line is longer than the limit of 10 bytes"));
}

BOOST_AUTO_TEST_CASE(nonzero_exit_fails_with_the_log_tail) {
  scratch_dir dir;
  auto process = work_process::start(child_spec(dir.path, {"exit", "3", "100"}));
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::failed);
  BOOST_TEST(outcome.reason == "exit code 3");
  BOOST_TEST(outcome.exit_code.value_or(-1) == 3);
  auto tail = lines_of(outcome.log_tail);
  BOOST_REQUIRE_EQUAL(tail.size(), 40u);
  BOOST_TEST(tail.front() == "failure detail 61");
  BOOST_TEST(tail.back() == "failure detail 100");
  BOOST_TEST(outcome.error_text() ==
             cat({"exit code 3\n--- last lines of output ---\n", outcome.log_tail}));
  auto log = read_text(process->paths().log_file);
  BOOST_TEST(contains(log, "\nfailure detail 1\n"));
  BOOST_TEST(contains(log, "[runner] exit code 3 after "));
}

BOOST_AUTO_TEST_CASE(crash_fails_with_the_signal) {
  scratch_dir dir;
  auto outcome = run_child(dir.path, {"crash"});
  BOOST_TEST(outcome.kind == outcome_kind::failed);
  BOOST_TEST(outcome.reason == "killed by signal 11 (SIGSEGV)");
  BOOST_TEST(outcome.signal.value_or(-1) == SIGSEGV);
  BOOST_TEST(!outcome.exit_code.has_value());
  BOOST_TEST(outcome.log_tail == "about to crash");
}

BOOST_AUTO_TEST_CASE(missing_program_fails_at_once) {
  scratch_dir dir;
  auto missing = dir.path / "no-such-program";
  auto not_executable = dir.path / "not-executable";
  std::ofstream(not_executable) << "#!/bin/sh\necho hi\n";
  auto garbage = dir.path / "garbage";
  std::ofstream(garbage) << "this is not an executable format\n";
  fs::permissions(garbage, fs::perms::owner_all);
  struct program_case {
    std::string program;
    std::string reason;
  };
  const std::vector<program_case> cases = {
      {missing.string(), cat({"program not found: ", missing.string()})},
      {"p2p-no-such-program-anywhere",
       "program not found: 'p2p-no-such-program-anywhere' is not in PATH"},
      {not_executable.string(),
       cat({"program not executable: ", not_executable.string(), " (Permission denied)"})},
      {dir.path.string(), cat({"program not executable: ", dir.path.string(), " (not a regular file)"})},
      {garbage.string(), cat({"cannot execute ", garbage.string(), ": Exec format error"})},
  };
  int attempt = 0;
  for (const auto& c : cases) {
    notifications notes;
    auto spec = child_spec(dir.path / "attempts", {});
    spec.argv = {c.program, "arg"};
    spec.attempt = static_cast<std::uint32_t>(++attempt);
    auto process = work_process::start(spec, notes.callback());
    BOOST_TEST(process->finished());
    BOOST_TEST(process->pid() == -1);
    BOOST_TEST(notes.value() == 1);
    auto outcome = *process->outcome();
    BOOST_TEST(outcome.kind == outcome_kind::failed);
    BOOST_TEST(outcome.reason == c.reason);
    BOOST_TEST(contains(read_text(process->paths().log_file), cat({"[runner] cannot start: ", c.reason})));
    process->cancel();  // harmless once finished
  }
}

BOOST_AUTO_TEST_CASE(bare_program_names_are_found_in_path) {
  scratch_dir dir;
  auto spec = child_spec(dir.path, {});
  spec.argv = {"sh", "-c", R"(printf '{"via": "%s"}\n' "$P2P_WORK_TYPE")"};
  auto outcome = finish(*work_process::start(spec));
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"via": "test"})");
}

BOOST_AUTO_TEST_CASE(environment_work_file_and_directory) {
  scratch_dir dir;
  ::setenv("P2P_RUNNER_TEST_INHERITED", "from the node", 1);
  ::setenv("P2P_WORK_ID", "stale value from the node", 1);
  auto process = work_process::start(child_spec(dir.path, {"env"}));
  auto outcome = finish(*process);
  ::unsetenv("P2P_RUNNER_TEST_INHERITED");
  ::unsetenv("P2P_WORK_ID");
  BOOST_REQUIRE(outcome.kind == outcome_kind::completed);
  const auto& paths = process->paths();
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, outcome.result);
  BOOST_TEST(json_string(doc, "P2P_WORK_ID") == "w-7-0");
  BOOST_TEST(json_string(doc, "P2P_WORK_TYPE") == "test");
  BOOST_TEST(json_string(doc, "P2P_WORK_FILE") == paths.work_file.string());
  BOOST_TEST(json_string(doc, "P2P_WORK_DIR") == paths.work_dir.string());
  BOOST_TEST(json_string(doc, "P2P_RESULT_FILE") == paths.result_file.string());
  BOOST_TEST(json_string(doc, "P2P_RUNNER_TEST_INHERITED") == "from the node");
  BOOST_TEST(json_string(doc, "cwd") == paths.work_dir.string());
  BOOST_TEST(json_string(doc, "item") == process->spec().item_json);
  bool stdin_at_eof = false;
  BOOST_TEST(!doc["stdin_at_eof"].get(stdin_at_eof));
  BOOST_TEST(stdin_at_eof);
  BOOST_TEST(paths.dir == fs::absolute(dir.path) / "w-7-0" / "attempt-1");
  BOOST_TEST(paths.work_dir.parent_path() == paths.dir);
  BOOST_TEST(read_text(paths.work_file) == process->spec().item_json);
}

BOOST_AUTO_TEST_CASE(every_attempt_gets_a_fresh_directory) {
  scratch_dir dir;
  auto spec = child_spec(dir.path, {"fresh-dir"});
  auto first = work_process::start(spec);
  BOOST_TEST(finish(*first).kind == outcome_kind::completed);
  auto again = work_process::start(spec);  // the same attempt number again
  BOOST_TEST(finish(*again).kind == outcome_kind::completed);
  spec.attempt = 2;
  auto second = work_process::start(spec);
  BOOST_TEST(finish(*second).kind == outcome_kind::completed);
  BOOST_TEST(first->paths().dir.filename() == "attempt-1");
  BOOST_TEST(again->paths().dir.filename() == "attempt-1.2");
  BOOST_TEST(second->paths().dir.filename() == "attempt-2");
  BOOST_TEST(fs::exists(first->paths().work_dir / "marker"));  // earlier attempts stay for inspection
}

BOOST_AUTO_TEST_CASE(cancel_kills_the_whole_process_group) {
  scratch_dir dir;
  notifications notes;
  auto process = work_process::start(child_spec(dir.path, {"grandchild"}), notes.callback());
  auto report = await_progress(*process, notes);
  BOOST_REQUIRE(report.has_value());
  pid_t grandchild = helper_pid(*report);
  BOOST_REQUIRE(grandchild > 0);
  BOOST_TEST(!process->finished());
  BOOST_TEST(::getpgid(grandchild) == process->pid());
  process->cancel("lost claim");
  process->cancel("node draining");  // the first reason counts
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::cancelled);
  BOOST_TEST(outcome.signal.value_or(-1) == SIGTERM);
  BOOST_TEST(outcome.reason == "lost claim (killed by signal 15 (SIGTERM))");
  BOOST_TEST(await_process_death(grandchild));
  auto log = read_text(process->paths().log_file);
  BOOST_TEST(contains(log, "[runner] lost claim: SIGTERM to the process group"));
  BOOST_TEST(!contains(log, "node draining"));
}

BOOST_AUTO_TEST_CASE(runtime_limit_times_out) {
  scratch_dir dir;
  auto spec = child_spec(dir.path, {"sleep"});
  spec.runtime_limit = 300ms;
  auto outcome = finish(*work_process::start(spec));
  BOOST_TEST(outcome.kind == outcome_kind::timed_out);
  BOOST_TEST(outcome.reason == "runtime limit of 0.300 s exceeded (killed by signal 15 (SIGTERM))");
  BOOST_TEST(outcome.signal.value_or(-1) == SIGTERM);
  BOOST_TEST(outcome.runtime >= 300ms);
  BOOST_TEST(outcome.log_tail == "PROGRESS 0 sleeping");
}

BOOST_AUTO_TEST_CASE(sigkill_follows_when_sigterm_is_ignored) {
  scratch_dir dir;
  notifications notes;
  auto spec = child_spec(dir.path, {"ignore-term"});
  spec.kill_grace = 200ms;
  auto process = work_process::start(spec, notes.callback());
  BOOST_REQUIRE(await_progress(*process, notes).has_value());  // SIGTERM is ignored from now on
  process->cancel();
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::cancelled);
  BOOST_TEST(outcome.signal.value_or(-1) == SIGKILL);
  BOOST_TEST(outcome.runtime >= 200ms);
  BOOST_TEST(contains(read_text(process->paths().log_file),
                      "[runner] still running 0.200 s after SIGTERM: SIGKILL to the process group"));
}

BOOST_AUTO_TEST_CASE(many_progress_lines_coalesce) {
  scratch_dir dir;
  notifications notes;
  auto process = work_process::start(child_spec(dir.path, {"progress", "20000"}), notes.callback());
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"steps":20000})");
  // Nobody took the progress, so one notification for it and one for the outcome.
  BOOST_TEST(notes.value() == 2);
  auto report = process->take_progress();
  BOOST_REQUIRE(report.has_value());
  BOOST_TEST(report->fraction == 1.0);
  BOOST_TEST(report->message == "step 20000 of 20000");
  BOOST_TEST(report->lines_seen == 20000u);
  BOOST_TEST(!process->take_progress().has_value());
  BOOST_TEST(lines_of(read_text(process->paths().log_file)).size() == 20000u + 4u);  // + notes
}

BOOST_AUTO_TEST_CASE(progress_is_reported_while_running) {
  scratch_dir dir;
  notifications notes;
  auto process = work_process::start(child_spec(dir.path, {"sleep"}), notes.callback());
  auto report = await_progress(*process, notes);
  BOOST_REQUIRE(report.has_value());
  BOOST_TEST(report->fraction == 0.0);
  BOOST_TEST(report->message == "sleeping");
  BOOST_TEST(report->lines_seen == 1u);
  BOOST_TEST(!process->finished());
  process->cancel();
  BOOST_TEST(finish(*process).kind == outcome_kind::cancelled);
}

BOOST_AUTO_TEST_CASE(large_output_is_drained) {
  scratch_dir dir;
  constexpr long long bytes = 8 << 20;  // far beyond any pipe buffer, on both streams
  auto process = work_process::start(child_spec(dir.path, {"flood", std::to_string(bytes)}));
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"flooded":8388608})");
  BOOST_TEST(fs::file_size(process->paths().log_file) > static_cast<std::uintmax_t>(2 * bytes));
  BOOST_TEST(lines_of(outcome.log_tail).size() == 40u);
}

BOOST_AUTO_TEST_CASE(log_size_is_capped) {
  scratch_dir dir;
  auto spec = child_spec(dir.path, {"flood", "1000000"});
  spec.max_log_bytes = 64 * 1024;
  auto process = work_process::start(spec);
  auto outcome = finish(*process);
  BOOST_TEST(outcome.kind == outcome_kind::completed);  // the result line is still seen
  BOOST_TEST(outcome.result == R"({"flooded":1000000})");
  auto log = read_text(process->paths().log_file);
  BOOST_TEST(log.size() <= 64u * 1024u + 1024u);
  BOOST_TEST(contains(log, "[runner] log limit of 65536 bytes reached: further output is not logged"));
  BOOST_TEST(contains(log, "[runner] exit code 0 after "));
}

BOOST_AUTO_TEST_CASE(destruction_kills_a_running_program) {
  scratch_dir dir;
  notifications notes;
  auto process = work_process::start(child_spec(dir.path, {"grandchild"}), notes.callback());
  auto report = await_progress(*process, notes);
  BOOST_REQUIRE(report.has_value());
  pid_t child = process->pid();
  pid_t grandchild = helper_pid(*report);
  process.reset();
  BOOST_TEST(process_is_dead(child));  // reaped before the destructor returned
  BOOST_TEST(await_process_death(grandchild));
}

BOOST_AUTO_TEST_CASE(an_escaped_helper_does_not_hold_back_the_outcome) {
  scratch_dir dir;
  notifications notes;
  auto spec = child_spec(dir.path, {"escape"});
  spec.output_drain_limit = 300ms;
  auto process = work_process::start(spec, notes.callback());
  auto outcome = finish(*process);
  auto report = process->take_progress();
  BOOST_REQUIRE(report.has_value());
  pid_t escaped = helper_pid(*report);
  ::kill(escaped, SIGKILL);  // it left the group, so cleaning it up is ours
  BOOST_TEST(outcome.kind == outcome_kind::completed);
  BOOST_TEST(outcome.result == R"({"escaped":true})");
  BOOST_TEST(contains(read_text(process->paths().log_file), "no longer read"));
  BOOST_TEST(await_process_death(escaped));
}

BOOST_AUTO_TEST_CASE(attempts_do_not_inherit_each_others_pipes) {
  scratch_dir dir;
  notifications notes;
  auto sleeper = work_process::start(child_spec(dir.path, {"sleep"}, "w-1-0"), notes.callback());
  // Started while the sleeper runs: a leaked pipe end in either child would keep the other's
  // output open, and this attempt would wait out its drain limit (far beyond the test's wait).
  auto spec = child_spec(dir.path, {"print", R"({"quick":true})"}, "w-2-0");
  spec.output_drain_limit = 10min;
  auto quick = work_process::start(spec);
  BOOST_TEST(finish(*quick).kind == outcome_kind::completed);
  BOOST_TEST(!sleeper->finished());
  sleeper->cancel();
  BOOST_TEST(finish(*sleeper).kind == outcome_kind::cancelled);
}

BOOST_AUTO_TEST_CASE(unusable_specs_throw) {
  scratch_dir dir;
  for (auto work_id : {"", ".", "..", "../escape", "a/b", "a b"}) {
    auto spec = child_spec(dir.path, {"print"}, work_id);
    BOOST_CHECK_THROW(work_process::start(spec), std::runtime_error);
  }
  auto spec = child_spec(dir.path, {});
  spec.argv.clear();
  BOOST_CHECK_THROW(work_process::start(spec), std::runtime_error);
  spec = child_spec(dir.path, {});
  spec.base_dir.clear();
  BOOST_CHECK_THROW(work_process::start(spec), std::runtime_error);
  auto file = dir.path / "a-file";
  std::ofstream(file) << "x";
  spec = child_spec(file, {"print"});  // the base dir cannot be created
  BOOST_CHECK_THROW(work_process::start(spec), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
