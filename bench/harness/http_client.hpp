#pragma once
// A small blocking HTTP/1.1 client on POSIX sockets for tests and benchmarks: one request per connection,
// chunked bodies decoded, every wait bounded by a deadline.
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace p2p::harness {

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& name) const;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// Throws std::runtime_error on connection failure or timeout.
http_reply http_call(const std::string& host_port, const std::string& method,
                     const std::string& target, const std::string& body = "",
                     const header_list& headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends raw bytes and returns everything the server answers until it closes (or the deadline).
std::string raw_exchange(const std::string& host_port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Reads a server-sent event stream incrementally.
class sse_stream {
 public:
  sse_stream(const std::string& host_port, const std::string& target, const header_list& headers);
  ~sse_stream();
  sse_stream(const sse_stream&) = delete;
  sse_stream& operator=(const sse_stream&) = delete;
  int status() const { return status_; }
  // Reads until `text()` contains `needle` (true) or the deadline passes or the stream ends.
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads until the server closes the stream (true) or the deadline passes.
  bool read_to_end(std::chrono::milliseconds timeout);
  // The decoded body so far.
  const std::string& text() const { return text_; }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline);
  void decode();
  int fd_ = -1;
  int status_ = 0;
  bool ended_ = false;
  std::string raw_;   // undecoded chunked bytes after the header
  std::string text_;  // decoded
};

}  // namespace p2p::harness
