#include "actors/runner/work_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <stdexcept>
#include <utility>

#include "actors/runner/progress.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

extern char** environ;

namespace p2p::runner {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view runner_prefix = "[runner] ";
constexpr std::size_t max_tail_line_bytes = 500;
constexpr std::size_t read_chunk_bytes = 64 * 1024;
// Reads per readiness before polling again, so one flooding stream cannot starve the other
// stream, the exit notification or a cancel.
constexpr int reads_per_wakeup = 16;
// Without a pidfd (kernels before 5.3) the exit is checked this often.
constexpr milliseconds exit_check_interval{20};

std::string concat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto part : parts) out.append(part);
  return out;
}

std::string errno_text(int error) { return std::strerror(error); }

[[noreturn]] void throw_system(std::string_view what, const std::filesystem::path& path, int error) {
  throw std::runtime_error(concat({what, " ", path.string(), ": ", errno_text(error)}));
}

std::string seconds_text(milliseconds duration) {
  auto ms = duration.count();
  std::string out = std::to_string(ms / 1000);
  auto fraction = std::to_string(1000 + ms % 1000);  // "1xyz": keeps the leading zeros
  out.push_back('.');
  out.append(fraction, 1, 3);
  out.append(" s");
  return out;
}

std::string signal_text(int signal) {
  std::string out = "killed by signal ";
  out.append(std::to_string(signal));
  if (const char* abbrev = ::sigabbrev_np(signal)) {
    out.append(" (SIG");
    out.append(abbrev);
    out.push_back(')');
  }
  return out;
}

class file_descriptor {
 public:
  file_descriptor() = default;
  explicit file_descriptor(int fd) : fd_(fd) {}
  file_descriptor(file_descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  file_descriptor& operator=(file_descriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~file_descriptor() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool is_safe_path_component(std::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

void check_spec(const attempt_spec& spec) {
  if (!is_safe_path_component(spec.work_id))
    throw std::runtime_error(concat({"work id '", spec.work_id,
                                     "' cannot name a directory (letters, digits, '.', '_', '-')"}));
  if (spec.argv.empty() || spec.argv.front().empty())
    throw std::runtime_error(concat({"work type '", spec.work_type, "' has no program"}));
  for (const auto& arg : spec.argv)
    if (arg.find('\0') != std::string::npos)
      throw std::runtime_error(concat({"work type '", spec.work_type, "' has a NUL in an argument"}));
  if (spec.base_dir.empty()) throw std::runtime_error("the runner's work base directory is not set");
  if (spec.kill_grace.count() < 0 || spec.runtime_limit.count() < 0 ||
      spec.output_drain_limit.count() < 0)
    throw std::runtime_error("runner durations must not be negative");
}

// base_dir/<work_id>/attempt-<n>, or attempt-<n>.<k> when an earlier run of the node left one:
// mkdir either creates a new directory or fails, so the directory is always fresh.
attempt_paths make_attempt_dir(const attempt_spec& spec) {
  auto item_dir = std::filesystem::absolute(spec.base_dir) / spec.work_id;
  std::error_code ec;
  std::filesystem::create_directories(item_dir, ec);
  if (ec) throw std::runtime_error(concat({"cannot create ", item_dir.string(), ": ", ec.message()}));
  std::string name = "attempt-";
  name.append(std::to_string(spec.attempt));
  attempt_paths paths;
  for (int suffix = 1;; ++suffix) {
    std::string candidate = name;
    if (suffix > 1) {
      candidate.push_back('.');
      candidate.append(std::to_string(suffix));
    }
    paths.dir = item_dir / candidate;
    if (::mkdir(paths.dir.c_str(), 0700) == 0) break;
    if (errno != EEXIST || suffix >= 10000) throw_system("cannot create", paths.dir, errno);
  }
  paths.work_dir = paths.dir / "work";
  paths.work_file = paths.dir / "item.json";
  paths.result_file = paths.dir / "result.json";
  paths.log_file = paths.dir / "output.log";
  if (::mkdir(paths.work_dir.c_str(), 0755) != 0) throw_system("cannot create", paths.work_dir, errno);
  return paths;
}

void write_new_file(const std::filesystem::path& path, std::string_view content) {
  file_descriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_system("cannot create", path, errno);
  if (!write_fully(fd.get(), content)) throw_system("cannot write", path, errno);
}

// The program as an absolute path, or why it cannot run. PATH is searched here rather than by
// posix_spawnp so that relative PATH entries mean the node's directory, not the work dir the child
// starts in, and so that "not found" and "not executable" are told apart.
struct program_lookup {
  std::string path;
  std::string error;
};

std::string executable_problem(const std::filesystem::path& candidate) {
  struct stat st {};
  if (::stat(candidate.c_str(), &st) != 0) return errno_text(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (::access(candidate.c_str(), X_OK) != 0) return errno_text(errno);
  return {};
}

program_lookup find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    auto path = std::filesystem::absolute(program).lexically_normal();
    auto problem = executable_problem(path);
    if (problem.empty()) return {path.string(), {}};
    if (::access(path.c_str(), F_OK) != 0) return {{}, concat({"program not found: ", path.string()})};
    return {{}, concat({"program not executable: ", path.string(), " (", problem, ")"})};
  }
  const char* path_env = std::getenv("PATH");
  std::string_view search = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::string first_problem;
  while (true) {
    auto colon = search.find(':');
    auto entry = search.substr(0, colon);
    auto dir = std::filesystem::absolute(entry.empty() ? std::string_view(".") : entry);
    auto candidate = (dir / program).lexically_normal();
    auto problem = executable_problem(candidate);
    if (problem.empty()) return {candidate.string(), {}};
    if (first_problem.empty() && ::access(candidate.c_str(), F_OK) == 0)
      first_problem = concat({candidate.string(), " (", problem, ")"});
    if (colon == std::string_view::npos) break;
    search.remove_prefix(colon + 1);
  }
  if (!first_problem.empty())
    return {{}, concat({"program not executable: '", program, "' in PATH is ", first_problem})};
  return {{}, concat({"program not found: '", program, "' is not in PATH"})};
}

constexpr std::array<std::string_view, 5> work_variables = {
    "P2P_WORK_ID", "P2P_WORK_TYPE", "P2P_WORK_FILE", "P2P_WORK_DIR", "P2P_RESULT_FILE"};

// The node's environment with the P2P_* variables of this attempt (ours win over inherited ones).
std::vector<std::string> child_environment(const attempt_spec& spec, const attempt_paths& paths) {
  std::vector<std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto name = text.substr(0, text.find('='));
    if (std::find(work_variables.begin(), work_variables.end(), name) == work_variables.end())
      env.emplace_back(text);
  }
  const std::array<std::string_view, 5> values = {spec.work_id, spec.work_type,
                                                  paths.work_file.native(), paths.work_dir.native(),
                                                  paths.result_file.native()};
  for (std::size_t i = 0; i < work_variables.size(); ++i)
    env.push_back(concat({work_variables[i], "=", values[i]}));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string_view trim(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

// Empty when `text` is one JSON object; otherwise why not.
std::string json_object_problem(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(text);
  if (auto error = parser.parse(padded).get(doc)) return simdjson::error_message(error);
  if (doc.type() != simdjson::dom::element_type::OBJECT) return "not an object";
  return {};
}

// The attempt's log file and the tail kept for the outcome.
class output_log {
 public:
  output_log(file_descriptor fd, std::uint64_t max_bytes, std::size_t tail_lines)
      : fd_(std::move(fd)), max_bytes_(max_bytes), tail_lines_(tail_lines) {}

  // One line of the program's output (without its newline).
  void program_line(std::string_view line) {
    if (tail_lines_ > 0) {
      if (tail_.size() == tail_lines_) tail_.pop_front();
      auto kept = utf8_prefix(line, max_tail_line_bytes);
      tail_.emplace_back(kept);
      if (kept.size() < line.size()) tail_.back().append("...");
    }
    if (written_ + pending_.size() + line.size() + 1 > max_bytes_) {
      if (!limit_noted_) {
        limit_noted_ = true;
        std::string note = "log limit of ";
        note.append(std::to_string(max_bytes_));
        note.append(" bytes reached: further output is not logged");
        pending_.append(runner_prefix);
        pending_.append(note);
        pending_.push_back('\n');
      }
      return;
    }
    pending_.append(line);
    pending_.push_back('\n');
  }

  // A line of the runner's own, always logged, never part of the tail.
  void note(std::string_view text) {
    pending_.append(runner_prefix);
    pending_.append(text);
    pending_.push_back('\n');
    flush();
  }

  // Complete lines reach the file after every read, so `tail -f` follows the program live.
  void flush() {
    if (pending_.empty() || !fd_) return;
    if (write_fully(fd_.get(), pending_)) written_ += pending_.size();
    else fd_.reset();  // disk full or similar: the attempt goes on without its log
    pending_.clear();
  }

  std::string tail() const {
    std::string out;
    for (const auto& line : tail_) {
      if (!out.empty()) out.push_back('\n');
      out.append(line);
    }
    return out;
  }

 private:
  file_descriptor fd_;
  std::uint64_t max_bytes_;
  std::size_t tail_lines_;
  std::uint64_t written_ = 0;
  bool limit_noted_ = false;
  std::string pending_;
  std::deque<std::string> tail_;
};

// One output pipe of the child, cut into lines.
struct output_stream {
  file_descriptor fd;
  bool is_stdout = false;
  std::string partial;  // bytes after the last newline
};

}  // namespace

// What start() hands the reader thread: it owns these from then on.
struct work_process::pipes {
  output_stream out, err;
  file_descriptor pidfd;
  output_log log;
  clock::time_point started;
};

std::string_view outcome_kind_name(outcome_kind kind) {
  switch (kind) {
    case outcome_kind::completed: return "completed";
    case outcome_kind::failed: return "failed";
    case outcome_kind::timed_out: return "timed_out";
    case outcome_kind::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string attempt_outcome::error_text() const {
  std::string out = reason;
  if (!log_tail.empty()) {
    out.append("\n--- last lines of output ---\n");
    out.append(log_tail);
  }
  return out;
}

work_process::work_process(attempt_spec spec, notify_fn notify)
    : spec_(std::move(spec)), notify_(std::move(notify)) {}

std::unique_ptr<work_process> work_process::start(attempt_spec spec, notify_fn notify) {
  check_spec(spec);
  std::unique_ptr<work_process> self(new work_process(std::move(spec), std::move(notify)));
  const auto& s = self->spec_;
  auto& paths = self->paths_;
  paths = make_attempt_dir(s);
  write_new_file(paths.work_file, s.item_json);
  file_descriptor log_fd(
      ::open(paths.log_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd) throw_system("cannot create", paths.log_file, errno);
  output_log log(std::move(log_fd), s.max_log_bytes, s.log_tail_lines);
  {
    std::string header = "attempt ";
    header.append(std::to_string(s.attempt));
    header.append(" of ");
    header.append(s.work_id);
    header.append(" (");
    header.append(s.work_type);
    header.append(") at ");
    header.append(format_rfc3339(wall_now()));
    header.append(", argv:");
    for (const auto& arg : s.argv) {
      header.push_back(' ');
      json::append_quoted(header, arg);
    }
    log.note(header);
  }

  auto fail_to_start = [&](std::string reason) {
    log.note(concat({"cannot start: ", reason}));
    attempt_outcome outcome;
    outcome.kind = outcome_kind::failed;
    outcome.reason = std::move(reason);
    self->publish_outcome(std::move(outcome));
    return std::move(self);
  };

  auto program = find_program(s.argv.front());
  if (!program.error.empty()) return fail_to_start(std::move(program.error));

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_system("cannot create a pipe for", paths.log_file, errno);
  file_descriptor out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_system("cannot create a pipe for", paths.log_file, errno);
  file_descriptor err_read(err_pipe[0]), err_write(err_pipe[1]);
  file_descriptor wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) throw_system("cannot create an eventfd for", paths.log_file, errno);

  auto env = child_environment(s, paths);
  auto env_pointers = c_strings(env);
  auto args = s.argv;
  auto arg_pointers = c_strings(args);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, paths.work_dir.c_str());
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSIGMASK);
  sigset_t all_signals, no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  pid_t pid = -1;
  int spawn_error = ::posix_spawn(&pid, program.path.c_str(), &actions, &attributes,
                                  arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  auto started = clock::now();
  out_write.reset();  // only the child holds the write ends now, so its exit means EOF
  err_write.reset();
  if (spawn_error != 0) {
    // Running out of processes or memory is the node's problem, not the item's.
    if (spawn_error == EAGAIN || spawn_error == ENOMEM || spawn_error == EMFILE ||
        spawn_error == ENFILE)
      throw_system("cannot start a process for", paths.dir, spawn_error);
    return fail_to_start(concat({"cannot execute ", program.path, ": ", errno_text(spawn_error)}));
  }
  self->pid_ = pid;
  {
    std::string note = "started process ";
    note.append(std::to_string(pid));
    note.append(" (its own process group)");
    log.note(note);
  }

  try {
    auto io = std::make_unique<pipes>(pipes{
        output_stream{std::move(out_read), true, {}}, output_stream{std::move(err_read), false, {}},
        file_descriptor(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))), std::move(log),
        started});
    for (int fd : {io->out.fd.get(), io->err.fd.get()}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    self->wake_fd_ = wake.release();
    self->reader_ = std::thread(
        [raw = self.get(), io = std::move(io)]() mutable { raw->run(std::move(io)); });
  } catch (...) {
    // Without its reader thread nobody would ever reap the child or read its pipes.
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
    self->pid_ = -1;
    throw;
  }
  return self;
}

work_process::~work_process() {
  if (reader_.joinable()) {
    request(true);
    reader_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::optional<progress_report> work_process::take_progress() {
  std::lock_guard lock(mutex_);
  return std::exchange(unread_progress_, std::nullopt);
}

std::optional<attempt_outcome> work_process::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

bool work_process::finished() const {
  std::lock_guard lock(mutex_);
  return outcome_.has_value();
}

void work_process::cancel(std::string why) {
  if (!finished()) request(false, std::move(why));
}

bool work_process::wait_for(milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return finished_cv_.wait_for(lock, timeout, [this] { return outcome_announced_; });
}

void work_process::request(bool abandon, std::string why) {
  {
    std::lock_guard lock(mutex_);
    if (abandon) {
      abandon_requested_ = true;
    } else if (!cancel_requested_) {
      cancel_requested_ = true;
      cancel_reason_ = why.empty() ? std::string("cancelled") : std::move(why);
    }
  }
  std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void work_process::publish_progress(progress_report report) {
  bool was_read;
  {
    std::lock_guard lock(mutex_);
    was_read = !unread_progress_.has_value();
    unread_progress_ = std::move(report);
  }
  if (was_read && notify_) notify_();
}

void work_process::publish_outcome(attempt_outcome outcome) {
  {
    std::lock_guard lock(mutex_);
    outcome_ = std::move(outcome);
  }
  if (notify_) notify_();
  {
    std::lock_guard lock(mutex_);
    outcome_announced_ = true;
  }
  finished_cv_.notify_all();
}

namespace {

enum class termination { none, cancel, timeout, abandon };

// What the program left as its result when it exited with code 0.
attempt_outcome read_result(const attempt_spec& spec, const attempt_paths& paths,
                            const std::string& last_stdout_line, bool last_line_too_long) {
  attempt_outcome outcome;
  outcome.kind = outcome_kind::failed;
  std::string limit = std::to_string(spec.max_result_bytes);
  std::error_code ec;
  auto size = std::filesystem::file_size(paths.result_file, ec);
  if (!ec) {
    if (size > spec.max_result_bytes) {
      outcome.reason = concat({"result file is ", std::to_string(size), " bytes, over the limit of ",
                               limit});
      return outcome;
    }
    file_descriptor fd(::open(paths.result_file.c_str(), O_RDONLY | O_CLOEXEC));
    std::string text(size, '\0');
    std::size_t done = 0;
    while (fd && done < text.size()) {
      auto n = ::read(fd.get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (!fd || done != text.size()) {
      outcome.reason = concat({"cannot read the result file ", paths.result_file.string()});
      return outcome;
    }
    auto result = trim(text);
    if (auto problem = json_object_problem(result); !problem.empty()) {
      outcome.reason = concat({"result file is not a JSON object (", problem, ")"});
      return outcome;
    }
    outcome.kind = outcome_kind::completed;
    outcome.result = std::string(result);
    return outcome;
  }
  if (ec != std::errc::no_such_file_or_directory) {
    outcome.reason = concat({"cannot read the result file: ", ec.message()});
    return outcome;
  }
  if (last_line_too_long) {
    outcome.reason = concat({"no result: P2P_RESULT_FILE was not written and the last stdout line is "
                             "longer than the limit of ", limit, " bytes"});
    return outcome;
  }
  if (last_stdout_line.empty()) {
    outcome.reason = "no result: P2P_RESULT_FILE was not written and nothing was printed on stdout";
    return outcome;
  }
  if (auto problem = json_object_problem(last_stdout_line); !problem.empty()) {
    outcome.reason = concat({"no result: P2P_RESULT_FILE was not written and the last stdout line is "
                             "not a JSON object (", problem, ")"});
    return outcome;
  }
  outcome.kind = outcome_kind::completed;
  outcome.result = last_stdout_line;
  return outcome;
}

}  // namespace

void work_process::run(std::unique_ptr<pipes> io_owner) {
  ::pthread_setname_np(::pthread_self(), "p2p-attempt");
  auto& io = *io_owner;
  auto& log = io.log;
  const std::size_t max_line_bytes = std::max<std::size_t>(1 << 20, spec_.max_result_bytes + 1);

  termination cause = termination::none;
  bool exited = false;  // reaped: from then on the pid and group id may belong to others
  siginfo_t exit_info{};
  clock::time_point exit_time = io.started;
  bool sigkill_sent = false;
  std::optional<clock::time_point> kill_deadline;   // SIGTERM sent; SIGKILL due then
  std::optional<clock::time_point> drain_deadline;  // exited; stop waiting for EOF then
  std::optional<clock::time_point> runtime_deadline;
  if (spec_.runtime_limit.count() > 0) runtime_deadline = io.started + spec_.runtime_limit;
  std::uint64_t progress_lines = 0;
  std::string last_stdout_line;
  bool last_line_too_long = false;
  std::string cancel_why;
  bool exit_status_lost = false;

  auto signal_group = [&](int signal) {
    if (!exited) ::kill(-pid_, signal);
  };
  auto send_sigkill = [&](std::string_view why) {
    if (exited || sigkill_sent) return;
    log.note(concat({why, ": SIGKILL to the process group"}));
    signal_group(SIGKILL);
    sigkill_sent = true;
  };
  auto terminate = [&](termination why, std::string_view note) {
    if (exited) return;
    if (why == termination::abandon) {
      if (cause == termination::none) cause = why;
      send_sigkill(note);
      return;
    }
    if (cause != termination::none) return;
    cause = why;
    log.note(concat({note, ": SIGTERM to the process group"}));
    signal_group(SIGTERM);
    kill_deadline = clock::now() + spec_.kill_grace;
  };

  auto on_line = [&](const output_stream& stream, std::string_view line) {
    log.program_line(line);
    if (!stream.is_stdout) return;
    auto parsed = parse_progress_line(line);
    if (auto* progress = std::get_if<progress_line>(&parsed)) {
      ++progress_lines;
      publish_progress({progress->fraction, std::move(progress->message), progress_lines});
    } else if (auto* bad = std::get_if<malformed_progress>(&parsed)) {
      log.note(concat({"ignored a line: ", bad->reason}));
    } else if (auto text = trim(line); !text.empty()) {
      last_line_too_long = text.size() > spec_.max_result_bytes;
      last_stdout_line = last_line_too_long ? std::string() : std::string(text);
    }
  };
  auto split_lines = [&](output_stream& stream) {
    std::size_t start = 0;
    for (auto newline = stream.partial.find('\n'); newline != std::string::npos;
         newline = stream.partial.find('\n', start)) {
      on_line(stream, std::string_view(stream.partial).substr(start, newline - start));
      start = newline + 1;
    }
    stream.partial.erase(0, start);
    while (stream.partial.size() >= max_line_bytes) {  // a line without end: cut it into pieces
      on_line(stream, std::string_view(stream.partial).substr(0, max_line_bytes));
      stream.partial.erase(0, max_line_bytes);
    }
  };
  auto close_stream = [&](output_stream& stream) {
    if (!stream.partial.empty()) on_line(stream, stream.partial);  // a last line without newline
    stream.partial.clear();
    stream.fd.reset();
    log.flush();
  };
  std::vector<char> buffer(read_chunk_bytes);
  auto read_stream = [&](output_stream& stream) {
    for (int i = 0; i < reads_per_wakeup && stream.fd; ++i) {
      auto n = ::read(stream.fd.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        close_stream(stream);
        break;
      }
      stream.partial.append(buffer.data(), static_cast<std::size_t>(n));
      split_lines(stream);
    }
    log.flush();
  };
  // Observes the exit without reaping first: while the leader is a zombie its pid, and so the
  // group id, cannot be reused, so killing what is left of the group cannot hit a stranger.
  auto check_exit = [&] {
    siginfo_t info{};
    int peeked = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (peeked != 0 && errno == ECHILD) {
      // Someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)): the pid may already be
      // reused, so the group is left alone and the status is unknown.
      exit_status_lost = true;
    } else {
      if (peeked != 0 || info.si_pid != pid_) return;
      ::kill(-pid_, SIGKILL);  // helpers the program left behind in its group
      while (::waitid(P_PID, static_cast<id_t>(pid_), &exit_info, WEXITED) != 0 && errno == EINTR) {}
    }
    exited = true;
    exit_time = clock::now();
    auto drain = cause == termination::abandon ? std::min(spec_.output_drain_limit, milliseconds(100))
                                               : spec_.output_drain_limit;
    drain_deadline = exit_time + drain;
    io.pidfd.reset();
  };

  try {
    while (true) {
      if (exited && !io.out.fd && !io.err.fd) break;
      auto now = clock::now();
      if (exited && now >= *drain_deadline) {
        log.note("output still open after the exit (a process that left the group holds it): "
                 "no longer read");
        close_stream(io.out);
        close_stream(io.err);
        break;
      }
      bool abandon, cancel;
      {
        std::lock_guard lock(mutex_);
        abandon = abandon_requested_;
        cancel = cancel_requested_;
        if (cancel && cancel_why.empty()) cancel_why = cancel_reason_;
      }
      if (abandon && exited) drain_deadline = std::min(*drain_deadline, now + milliseconds(100));
      if (abandon) terminate(termination::abandon, "the runner is discarding this attempt");
      else if (cancel) terminate(termination::cancel, cancel_why);
      if (runtime_deadline && now >= *runtime_deadline)
        terminate(termination::timeout,
                  concat({"runtime limit of ", seconds_text(spec_.runtime_limit), " reached"}));
      if (kill_deadline && now >= *kill_deadline)
        send_sigkill(concat({"still running ", seconds_text(spec_.kill_grace), " after SIGTERM"}));

      std::optional<clock::time_point> wake_at;
      auto wake_no_later_than = [&](std::optional<clock::time_point> t) {
        if (t && (!wake_at || *t < *wake_at)) wake_at = t;
      };
      if (!exited) {
        if (cause == termination::none) wake_no_later_than(runtime_deadline);
        if (!sigkill_sent) wake_no_later_than(kill_deadline);
        if (!io.pidfd) wake_no_later_than(now + exit_check_interval);
      } else {
        wake_no_later_than(drain_deadline);
      }
      int timeout_ms = -1;
      if (wake_at) {
        auto wait = std::chrono::ceil<milliseconds>(*wake_at - clock::now()).count();
        timeout_ms = static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
      }

      std::array<pollfd, 4> fds{};
      nfds_t count = 0;
      auto watch = [&](int fd) -> pollfd* {
        if (fd < 0) return nullptr;
        fds[count] = pollfd{fd, POLLIN, 0};
        return &fds[count++];
      };
      pollfd* wake_poll = watch(wake_fd_);
      pollfd* out_poll = watch(io.out.fd.get());
      pollfd* err_poll = watch(io.err.fd.get());
      pollfd* exit_poll = exited ? nullptr : watch(io.pidfd.get());
      if (::poll(fds.data(), count, timeout_ms) < 0 && errno != EINTR)
        throw std::runtime_error(concat({"poll failed: ", errno_text(errno)}));

      if (wake_poll && wake_poll->revents) {
        std::uint64_t wakeups;
        (void)!::read(wake_fd_, &wakeups, sizeof wakeups);
      }
      if (out_poll && out_poll->revents) read_stream(io.out);
      if (err_poll && err_poll->revents) read_stream(io.err);
      if (!exited && (!io.pidfd || (exit_poll && exit_poll->revents))) check_exit();
    }
    log.flush();

    attempt_outcome outcome;
    bool signalled = exit_info.si_code == CLD_KILLED || exit_info.si_code == CLD_DUMPED;
    std::string exit_text;
    if (exit_status_lost) {
      exit_text = "exit status lost (the node reaped the process elsewhere)";
    } else if (signalled) {
      exit_text = signal_text(exit_info.si_status);
    } else {
      exit_text = "exit code ";
      exit_text.append(std::to_string(exit_info.si_status));
    }
    switch (cause) {
      case termination::cancel:
        outcome.kind = outcome_kind::cancelled;
        outcome.reason = concat({cancel_why, " (", exit_text, ")"});
        break;
      case termination::abandon:
        outcome.kind = outcome_kind::cancelled;
        outcome.reason = concat({"discarded by the runner (", exit_text, ")"});
        break;
      case termination::timeout:
        outcome.kind = outcome_kind::timed_out;
        outcome.reason = concat({"runtime limit of ", seconds_text(spec_.runtime_limit),
                                 " exceeded (", exit_text, ")"});
        break;
      case termination::none:
        if (exit_status_lost || signalled || exit_info.si_status != 0) {
          outcome.kind = outcome_kind::failed;
          outcome.reason = exit_text;
        } else {
          outcome = read_result(spec_, paths_, last_stdout_line, last_line_too_long);
        }
        break;
    }
    if (exit_status_lost) {
      // neither an exit code nor a signal is known
    } else if (signalled) {
      outcome.signal = exit_info.si_status;
    } else {
      outcome.exit_code = exit_info.si_status;
    }
    outcome.runtime = std::chrono::duration_cast<milliseconds>(exit_time - io.started);
    outcome.log_tail = log.tail();
    {
      std::string footer = exit_text;
      footer.append(" after ");
      footer.append(seconds_text(outcome.runtime));
      footer.append(": ");
      footer.append(outcome_kind_name(outcome.kind));
      if (outcome.kind != outcome_kind::completed) {
        footer.append(": ");
        footer.append(outcome.reason);
      }
      log.note(footer);
    }
    publish_outcome(std::move(outcome));
  } catch (const std::exception& e) {
    // The thread must never end without the child reaped and an outcome published.
    if (!exited) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {}
    }
    log.note(concat({"runner error: ", e.what()}));
    attempt_outcome outcome;
    outcome.kind = outcome_kind::failed;
    outcome.reason = concat({"runner error: ", e.what()});
    outcome.log_tail = log.tail();
    publish_outcome(std::move(outcome));
  }
}

}  // namespace p2p::runner
