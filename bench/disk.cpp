#include "bench/disk.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "bench/harness/node_process.hpp"

namespace p2p::bench {

std::vector<double> fdatasync_ms(std::size_t count) {
  harness::temp_dir dir("p2p-bench-fsync");
  const auto file = dir.path() / "log";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + file.string());
  const std::string block(4096, 'x');
  std::vector<double> ms;
  for (std::size_t i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + file.string());
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  return ms;
}

bool await_settled_disk(const std::string& what) {
  using namespace std::chrono_literals;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto ms = fdatasync_ms(20);
    std::sort(ms.begin(), ms.end());
    if (ms[(ms.size() + 1) / 2 - 1] <= 3 * ms.front()) return true;  // the median (nearest rank)
    if (std::chrono::steady_clock::now() - start > 10s) {
      std::cerr << "p2p-bench: " << what << ": fsync latency did not settle within 10 s; measuring anyway\n";
      return false;
    }
    std::this_thread::sleep_for(100ms);
  }
}

}  // namespace p2p::bench
