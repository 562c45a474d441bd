#pragma once
// A non-blocking HTTP/1.1 client connection for the load generators of p2p-bench: many of them
// are driven from one thread with poll(), so the load generator takes little of the cores the
// servers under test share. One request at a time per connection, kept alive.
#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace p2p::bench {

class http_connection {
 public:
  using clock = std::chrono::steady_clock;

  // Throws std::invalid_argument unless `host_port` is an IPv4 host:port.
  explicit http_connection(const std::string& host_port);
  ~http_connection() { close(); }
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  short wanted() const;  // the poll() events to wait for
  clock::time_point started() const { return started_; }

  // Sends `request` (connecting first when needed). False when the connection cannot be made.
  bool begin(std::string request);

  // Moves on after poll() reported `revents`: the status once the whole response is in, 0 while
  // it is not, -1 when the connection failed (it is closed then).
  int advance(short revents);

  // The body of the response `advance` last completed, valid until the next `begin` (a chunked
  // body is returned as it came, chunk sizes included).
  std::string_view body() const;

  void close();

 private:
  bool connect();
  int fail();
  int parse();

  sockaddr_in to_{};
  int fd_ = -1;
  bool connecting_ = false;
  bool until_close_ = false;
  int status_ = 0;
  std::string out_;
  std::size_t sent_ = 0;
  std::string in_;
  std::size_t body_at_ = std::string::npos;
  clock::time_point started_;
};

// The bytes of one HTTP/1.1 request with a JSON body; `extra_headers` are complete lines
// ("Name: value\r\n").
std::string http_request(const std::string& method, const std::string& host_port, const std::string& target,
                         const std::string& body, const std::string& extra_headers, bool keep_alive);

}  // namespace p2p::bench
