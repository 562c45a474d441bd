#pragma once
// One attempt of one work item as a child process (DESIGN.md §4 "Runner"): a fresh directory,
// the item as JSON, the P2P_* environment, a log of both output streams, PROGRESS lines, the
// process group killed on cancel or at the runtime limit, and the exit turned into an outcome.
//
// Plain POSIX rather than Boost.Process v2. posix_spawn does, in one call that is safe in a
// multi-threaded process (glibc uses vfork semantics, no fork of the actor system's threads):
// a new session and process group (POSIX_SPAWN_SETSID), default signal dispositions and an empty
// signal mask (the node ignores SIGPIPE, which exec would otherwise pass on), the working
// directory, and exec errors as its return value, so "program not found" is exact. A pidfd tells
// us the child exited before we reap it, so leftover group members are killed while the zombie
// leader still pins the group id (no signal can reach a recycled pid). Boost.Process v2 in 1.81
// has no process-group option on POSIX (only a hand-written on_exec_setup initializer would do)
// and needs an Asio executor, which the runner actor has none of.
//
// Threads: each attempt owns one reader thread, started by start() and joined by the destructor.
// It drains both pipes continuously (a chatty child never blocks on a full pipe), enforces the
// runtime limit and the SIGTERM -> SIGKILL escalation, and reaps the child. The owner talks to it
// only through the non-blocking calls below, so an actor can poll from a timer, or react to the
// `notify` callback by sending itself a message.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace p2p::runner {

struct attempt_spec {
  std::string work_id;    // names the attempt's directory: letters, digits, '.', '_', '-'
  std::string work_type;
  std::uint32_t attempt = 1;
  std::string item_json;  // written to P2P_WORK_FILE as given
  std::vector<std::string> argv;  // the work type's command: program first; no shell
  std::filesystem::path base_dir;  // attempts live in base_dir/<work_id>/attempt-<n>[.<k>]
  std::chrono::milliseconds runtime_limit{0};  // 0: none
  std::chrono::milliseconds kill_grace{5000};  // between SIGTERM and SIGKILL
  // After the child exits, how long output from processes that left its group (and kept the
  // pipes open) is still awaited.
  std::chrono::milliseconds output_drain_limit{2000};
  std::size_t log_tail_lines = 40;
  std::size_t max_result_bytes = 64 * 1024;  // the queue's cap on `result`
  std::uint64_t max_log_bytes = 64ull << 20;  // beyond this the log keeps only a note
};

// Everything one attempt puts on disk; `dir` is fresh for every attempt.
struct attempt_paths {
  std::filesystem::path dir;
  std::filesystem::path work_dir;     // P2P_WORK_DIR, the child's working directory
  std::filesystem::path work_file;    // P2P_WORK_FILE
  std::filesystem::path result_file;  // P2P_RESULT_FILE (the child may write it)
  std::filesystem::path log_file;
};

enum class outcome_kind { completed, failed, timed_out, cancelled };
std::string_view outcome_kind_name(outcome_kind kind);

struct attempt_outcome {
  outcome_kind kind = outcome_kind::failed;
  std::string result;    // completed: the result JSON object as written by the program
  std::string reason;    // otherwise: "exit code 3", "killed by signal 11 (SEGV)", ...
  std::string log_tail;  // the last log_tail_lines lines of the program's output
  std::optional<int> exit_code;  // the program exited on its own with this code
  std::optional<int> signal;     // the program was killed by this signal
  std::chrono::milliseconds runtime{0};
  // The reason followed by the log tail: the `error` of a failed item.
  std::string error_text() const;
};

// The newest PROGRESS line since the last take_progress(); older unread ones are superseded.
struct progress_report {
  double fraction = 0;
  std::string message;
  std::uint64_t lines_seen = 0;  // PROGRESS lines read in this attempt so far
};

class work_process {
 public:
  // Called from the reader thread (or, for a program that could not be started, from start()
  // itself) when the outcome is set, and when progress arrives while none is waiting unread, so
  // a slow owner gets one call per take_progress(), not one per line. It must be cheap and
  // thread-safe: sending the owning actor a message is the intended use.
  using notify_fn = std::function<void()>;

  // Creates the attempt's directory and files and starts the program. A program that is missing,
  // not executable or not a valid executable gives an attempt that is already finished with a
  // `failed` outcome (the item's fault). Throws std::runtime_error when the node cannot run
  // anything (bad spec, no disk space, no file descriptors, process limit): hand the item back.
  static std::unique_ptr<work_process> start(attempt_spec spec, notify_fn notify = {});

  // A program still running is killed at once (SIGKILL to its group) and reaped; the reader
  // thread is joined, so this may block for up to output_drain_limit.
  ~work_process();
  work_process(const work_process&) = delete;
  work_process& operator=(const work_process&) = delete;

  const attempt_spec& spec() const { return spec_; }
  const attempt_paths& paths() const { return paths_; }
  pid_t pid() const { return pid_; }  // also the process group id; -1 if it never started

  // Non-blocking.
  std::optional<progress_report> take_progress();
  std::optional<attempt_outcome> outcome() const;
  bool finished() const;
  // SIGTERM to the process group now, SIGKILL after kill_grace; the outcome will be `cancelled`
  // with `why` as its reason, unless the program had already exited. For a cancelled item, a lost
  // claim and drain alike ("lost claim", "node draining"); the log says which. The first call
  // counts; later ones do nothing.
  void cancel(std::string why = "cancelled");

  // Blocks until the outcome is set and the notify call for it has returned, or until `timeout`
  // passes; true if finished.
  bool wait_for(std::chrono::milliseconds timeout) const;

 private:
  struct pipes;
  work_process(attempt_spec spec, notify_fn notify);
  void run(std::unique_ptr<pipes> io);
  void request(bool abandon, std::string why = {});
  void publish_progress(progress_report report);
  void publish_outcome(attempt_outcome outcome);

  const attempt_spec spec_;
  const notify_fn notify_;
  attempt_paths paths_;
  pid_t pid_ = -1;
  int wake_fd_ = -1;  // eventfd: cancel and destruction wake the reader thread

  mutable std::mutex mutex_;
  mutable std::condition_variable finished_cv_;
  bool cancel_requested_ = false;
  std::string cancel_reason_;
  bool abandon_requested_ = false;
  std::optional<progress_report> unread_progress_;
  std::optional<attempt_outcome> outcome_;
  bool outcome_announced_ = false;  // the notify call for the outcome has returned

  std::thread reader_;
};

}  // namespace p2p::runner
