// A stand-in work program for the runner tests (suite `runner`): each mode is one behaviour the
// runner must handle. Usage: p2p-runner-test-child MODE [ARG...].
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "protocol/common/json.hpp"

namespace {

void write_file(const char* path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

[[noreturn]] void wait_for_signals() {
  while (true) ::pause();
}

void say(std::string_view line) {
  std::cout << line << '\n' << std::flush;
}

// The test learns the helper's pid from the progress message.
void say_helper_pid(pid_t helper) {
  std::string line = "PROGRESS 0 ";
  line.append(std::to_string(helper));
  say(line);
}

// Forks a process that keeps stdout and stderr open and waits; returns its pid in the parent
// once the helper is settled (out of the group, if asked), so the test's outcome never depends
// on which of the two runs first.
pid_t fork_waiting_process(bool leave_group) {
  int settled[2];
  if (::pipe(settled) != 0) std::exit(70);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (leave_group) ::setsid();
    char byte = 1;
    if (::write(settled[1], &byte, 1) != 1) std::_Exit(71);
    wait_for_signals();
  }
  ::close(settled[1]);
  char byte;
  if (pid < 0 || ::read(settled[0], &byte, 1) != 1) std::exit(72);
  ::close(settled[0]);
  return pid;
}

int usage() {
  std::cerr << "usage: p2p-runner-test-child MODE [ARG...]\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string_view mode = argv[1];

  if (mode == "result-file" && argc == 3) {  // writes ARG to P2P_RESULT_FILE
    write_file(std::getenv("P2P_RESULT_FILE"), argv[2]);
    say("wrote the result file");
    return 0;
  }
  if (mode == "print") {  // prints each ARG as a stdout line
    for (int i = 2; i < argc; ++i) say(argv[i]);
    return 0;
  }
  if (mode == "print-no-newline" && argc == 3) {
    std::cout << argv[2] << std::flush;
    return 0;
  }
  if (mode == "exit" && argc == 4) {  // CODE LINES: LINES numbered lines on stderr, then exit CODE
    int lines = std::atoi(argv[3]);
    for (int i = 1; i <= lines; ++i) std::cerr << "failure detail " << i << '\n';
    return std::atoi(argv[2]);
  }
  if (mode == "crash") {
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    std::cerr << "about to crash" << std::endl;
    ::signal(SIGSEGV, SIG_DFL);  // sanitizer builds catch SIGSEGV and exit(1) otherwise
    ::raise(SIGSEGV);
    return 0;
  }
  if (mode == "env") {  // reports what the runner gave it, as the result file
    std::ostringstream item;
    item << std::ifstream(env_or_empty("P2P_WORK_FILE"), std::ios::binary).rdbuf();
    p2p::json::writer w;
    w.begin_object();
    for (const char* name : {"P2P_WORK_ID", "P2P_WORK_TYPE", "P2P_WORK_FILE", "P2P_WORK_DIR",
                             "P2P_RESULT_FILE", "P2P_RUNNER_TEST_INHERITED"})
      w.field(name, env_or_empty(name));
    w.field("cwd", std::filesystem::current_path().string());
    w.field("item", item.str());
    w.field("stdin_at_eof", std::cin.peek() == std::char_traits<char>::eof());
    w.end_object();
    write_file(std::getenv("P2P_RESULT_FILE"), w.str());
    return 0;
  }
  if (mode == "fresh-dir") {  // fails if an earlier attempt's file is in the work dir
    if (std::filesystem::exists("marker")) {
      std::cerr << "stale marker from an earlier attempt" << std::endl;
      return 1;
    }
    write_file("marker", "x");
    say(R"({"fresh":true})");
    return 0;
  }
  if (mode == "sleep") {
    say("PROGRESS 0 sleeping");
    wait_for_signals();
  }
  if (mode == "ignore-term") {
    ::signal(SIGTERM, SIG_IGN);
    say("PROGRESS 0 ignoring SIGTERM");
    wait_for_signals();
  }
  if (mode == "grandchild") {  // a helper in the same group; its pid is the progress message
    pid_t helper = fork_waiting_process(false);
    say_helper_pid(helper);
    wait_for_signals();
  }
  if (mode == "escape") {  // a helper that leaves the group with stdout open; the program exits
    pid_t helper = fork_waiting_process(true);
    say_helper_pid(helper);
    say(R"({"escaped":true})");
    return 0;
  }
  if (mode == "progress" && argc == 3) {  // N PROGRESS lines, then a result line
    int steps = std::atoi(argv[2]);
    for (int i = 1; i <= steps; ++i)
      std::printf("PROGRESS %.6f step %d of %d\n", static_cast<double>(i) / steps, i, steps);
    std::printf("{\"steps\":%d}\n", steps);
    return 0;
  }
  if (mode == "flood" && argc == 3) {  // BYTES on each of stdout and stderr, then a result line
    long long bytes = std::atoll(argv[2]);
    std::string line(99, 'x');
    line.push_back('\n');
    for (long long done = 0; done < bytes; done += static_cast<long long>(line.size())) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
    std::printf("{\"flooded\":%lld}\n", bytes);
    return 0;
  }
  return usage();
}
