#pragma once
// Helpers of the workload tests: temporary directories, running the p2p-workload binary, and
// an independent full-board oracle for the rules.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::workload::testing {

// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "p2p-workload-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Joins pieces; "literal" + std::string temporaries trip GCC 12's -Wrestrict false positive.
inline std::string concat(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (auto piece : pieces) out.append(piece);
  return out;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

struct process_result {
  int exit_code = -1;
  std::string out, err;
  // The last stdout line: the result when no result file is set.
  std::string last_line() const {
    auto lines = lines_of(out);
    return lines.empty() ? std::string{} : lines.back();
  }
};

// Runs p2p-workload with `args`, the runner's P2P_* variables cleared and then `env` set; stdout
// and stderr go to files in `scratch`. Blocks until the process exits (CTest's timeout guards it).
inline process_result run_workload(const std::vector<std::string>& args, const temp_dir& scratch,
                                   const std::map<std::string, std::string>& env = {}) {
  static int runs = 0;
  const auto stem = scratch.path() / concat({"run-", std::to_string(++runs)});
  const auto out_path = stem.string() + ".out", err_path = stem.string() + ".err";
  std::vector<std::string> argv_text{P2P_WORKLOAD_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (const char* name : {"P2P_RESULT_FILE", "P2P_WORK_FILE", "P2P_WORK_DIR", "P2P_WORK_ID",
                             "P2P_WORK_TYPE"}) {
      ::unsetenv(name);
    }
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  process_result result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

}  // namespace p2p::workload::testing
