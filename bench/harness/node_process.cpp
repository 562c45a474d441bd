#include "bench/harness/node_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace p2p::harness {

std::string node_binary() { return P2P_NODE_BINARY; }

bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

temp_dir::temp_dir(const std::string& prefix) {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

child_process::child_process(const std::string& binary, const std::vector<std::string>& args) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv_store{binary};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + binary);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  out_thread_ = std::thread([this, fd = out_pipe[0]] {
    pump(fd, out_);
    std::lock_guard lock(mutex_);
    out_closed_ = true;
    cv_.notify_all();
  });
  err_thread_ = std::thread([this, fd = err_pipe[0]] {
    pump(fd, err_);
    std::lock_guard lock(mutex_);
    err_closed_ = true;
    cv_.notify_all();
  });
}

child_process::~child_process() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  if (pidfd_ >= 0) ::close(pidfd_);
}

void child_process::pump(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mutex_);
    into.append(buf, static_cast<std::size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
}

void child_process::signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  pollfd p{pidfd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // Everything the child wrote is read once its pipes reach end of file.
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  return exit_code_;
}

std::optional<std::string> child_process::wait_for_stderr(const std::string& needle,
                                                          std::chrono::milliseconds timeout) {
  return wait_for_line(err_, err_closed_, needle, timeout);
}

std::optional<std::string> child_process::wait_for_stdout(const std::string& needle,
                                                          std::chrono::milliseconds timeout) {
  return wait_for_line(out_, out_closed_, needle, timeout);
}

std::optional<std::string> child_process::wait_for_line(const std::string& stream, bool& closed,
                                                        const std::string& needle,
                                                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::string line;
  auto found = [&] {
    auto at = stream.find(needle);
    if (at == std::string::npos) return false;
    auto begin = stream.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    auto end = stream.find('\n', at);
    if (end == std::string::npos) return false;  // wait for the whole line
    line = stream.substr(begin, end - begin);
    return true;
  };
  if (!cv_.wait_for(lock, timeout, [&] { return found() || closed; })) return std::nullopt;
  if (line.empty()) return std::nullopt;
  return line;
}

std::string child_process::out() const {
  std::lock_guard lock(mutex_);
  return out_;
}
std::string child_process::err() const {
  std::lock_guard lock(mutex_);
  return err_;
}

node_process::node_process(std::vector<std::string> extra_args,
                           std::optional<std::filesystem::path> data_dir, std::vector<std::string> launcher) {
  if (data_dir) {
    data_dir_ = *data_dir;
  } else {
    owned_dir_ = std::make_unique<temp_dir>("p2p-node");
    data_dir_ = owned_dir_->path();
  }
  std::vector<std::string> args{"--data-dir=" + data_dir_.string()};
  // OS-chosen ports unless the caller names them.
  for (const char* port : {"--http-port", "--cluster-port"}) {
    bool given = false;
    for (const auto& a : extra_args) given = given || a.rfind(port, 0) == 0;
    if (!given) args.push_back(std::string(port) + "=0");
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (launcher.empty()) {
    process_ = std::make_unique<child_process>(node_binary(), args);
  } else {
    std::vector<std::string> through(launcher.begin() + 1, launcher.end());
    through.push_back(node_binary());
    through.insert(through.end(), args.begin(), args.end());
    process_ = std::make_unique<child_process>(launcher.front(), through);
  }
  auto line = process_->wait_for_stderr("\"msg\":\"ready\"", std::chrono::seconds(30));
  if (!line)
    throw std::runtime_error("p2p-node did not become ready; its log:\n" + process_->err());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view http, uuid;
  if (parser.parse(*line).get(doc) || doc["http"].get(http) || doc["node_uuid"].get(uuid))
    throw std::runtime_error("unreadable ready line: " + *line);
  info_.http = std::string(http);
  info_.node_uuid = std::string(uuid);
  std::string_view cluster;
  if (!doc["cluster"].get(cluster)) info_.cluster = std::string(cluster);
}

local_cluster::local_cluster(int count, const std::vector<std::string>& args_for_each) {
  for (int i = 0; i < count; ++i) nodes_.push_back(std::make_unique<node_process>(args_for_each));
}

local_cluster::~local_cluster() {
  for (auto& n : nodes_) n->process().signal(SIGTERM);
  for (auto& n : nodes_) n->process().wait_exit(std::chrono::seconds(15));
}

joined_cluster::joined_cluster(int count, std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  for (int i = 0; i < count; ++i) {
    dirs_.push_back(std::make_unique<temp_dir>("p2p-cluster"));
    nodes_.push_back(nullptr);
  }
  for (int i = 0; i < count; ++i) restart(static_cast<std::size_t>(i));
}

joined_cluster::~joined_cluster() {
  for (auto& n : nodes_)
    if (n) n->process().signal(SIGTERM);
  for (auto& n : nodes_)
    if (n) n->process().wait_exit(std::chrono::seconds(15));
  nodes_.clear();  // before the data dirs go
}

std::string joined_cluster::id(std::size_t i) {
  std::string n = i < 10 ? "n0" : "n";
  n.append(std::to_string(i));
  return n;
}

std::vector<std::string> joined_cluster::args_for(std::size_t i) const {
  std::vector<std::string> args{"--node-id=" + id(i), "--auth-token=" + token_};
  for (std::size_t s = 0; s < nodes_.size(); ++s)
    if (s != i && nodes_[s]) {
      args.push_back("--seeds=" + nodes_[s]->info().cluster);
      break;
    }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  return args;
}

void joined_cluster::kill(std::size_t i) {
  if (!nodes_.at(i)) return;
  nodes_[i]->process().signal(SIGKILL);
  nodes_[i]->process().wait_exit(std::chrono::seconds(15));
  nodes_[i].reset();
}

std::optional<int> joined_cluster::stop(std::size_t i) {
  if (!nodes_.at(i)) return std::nullopt;
  nodes_[i]->process().signal(SIGTERM);
  auto code = nodes_[i]->process().wait_exit(std::chrono::seconds(30));
  nodes_[i].reset();
  return code;
}

void joined_cluster::restart(std::size_t i) {
  kill(i);
  nodes_[i] = std::make_unique<node_process>(args_for(i), dirs_[i]->path());
}

std::string node_process::token() const {
  std::ifstream in(data_dir_ / "auth-token");
  std::string token;
  in >> token;
  return token;
}

}  // namespace p2p::harness
