#pragma once
// Starts and stops real p2p-node processes for tests and benchmarks: port 0, a fresh data dir, readiness from
// the node's machine-readable "ready" log line, exits awaited through a pidfd (no polling sleeps).
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace p2p::harness {

// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "p2p-test");
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class child_process {
 public:
  // Starts `binary args...`; stdout and stderr are captured.
  child_process(const std::string& binary, const std::vector<std::string>& args);
  ~child_process();  // SIGKILLs a child still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // The exit code (128 + signal when killed), or nullopt at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // Blocks until stderr has a line containing `needle`; returns that line. Gives up early when
  // the child closes its stderr (it exited).
  std::optional<std::string> wait_for_stderr(const std::string& needle,
                                             std::chrono::milliseconds timeout);
  // The same for stdout.
  std::optional<std::string> wait_for_stdout(const std::string& needle,
                                             std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;

 private:
  void pump(int fd, std::string& into);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string out_, err_;
  bool err_closed_ = false;
  bool out_closed_ = false;
  std::optional<std::string> wait_for_line(const std::string& stream, bool& closed,
                                           const std::string& needle,
                                           std::chrono::milliseconds timeout);
  std::thread out_thread_, err_thread_;
};

struct node_info {
  std::string http;     // host:port
  std::string cluster;  // host:port, empty when off
  std::string node_uuid;
};

// A p2p-node on ephemeral ports with its own data dir (unless one is given).
class node_process {
 public:
  // `launcher` runs the node through another program (e.g. inside a network namespace).
  explicit node_process(std::vector<std::string> extra_args = {},
                        std::optional<std::filesystem::path> data_dir = std::nullopt,
                        std::vector<std::string> launcher = {});
  const node_info& info() const { return info_; }
  const std::string& http() const { return info_.http; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::string token() const;  // the token in data_dir/auth-token
  child_process& process() { return *process_; }

 private:
  std::unique_ptr<temp_dir> owned_dir_;
  std::filesystem::path data_dir_;
  std::unique_ptr<child_process> process_;
  node_info info_;
};

// Several nodes on 127.0.0.1, each with its own data dir; all stopped (SIGTERM, then SIGKILL
// at the deadline) when the cluster goes out of scope.
class local_cluster {
 public:
  local_cluster(int count, const std::vector<std::string>& args_for_each);
  ~local_cluster();
  std::vector<std::unique_ptr<node_process>>& nodes() { return nodes_; }
  node_process& operator[](std::size_t i) { return *nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }

 private:
  std::vector<std::unique_ptr<node_process>> nodes_;
};

// Nodes joined into one cluster: node 0 starts alone, the others join through it (--seeds).
// Node ids are n00, n01, ...; every node has its own data dir, kept across restarts.
class joined_cluster {
 public:
  joined_cluster(int count, std::vector<std::string> extra_args);
  ~joined_cluster();
  node_process& operator[](std::size_t i) { return *nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }
  bool running(std::size_t i) const { return nodes_.at(i) != nullptr; }
  static std::string id(std::size_t i);
  const std::string& token() const { return token_; }
  // SIGKILL, and waits for the exit.
  void kill(std::size_t i);
  // SIGTERM, and waits for the exit code.
  std::optional<int> stop(std::size_t i);
  // Starts node i again on its data dir (new ports), joining through node 0 (or node 1 when
  // node 0 is down).
  void restart(std::size_t i);

 private:
  std::vector<std::string> args_for(std::size_t i) const;
  std::vector<std::string> extra_args_;
  std::string token_ = "joined-cluster-token";
  std::vector<std::unique_ptr<temp_dir>> dirs_;
  std::vector<std::unique_ptr<node_process>> nodes_;
};

std::string node_binary();

// Polls `condition` every 20 ms until it holds (true) or the deadline passes (false): for state
// that converges asynchronously, never a fixed sleep.
bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& condition);

}  // namespace p2p::harness
