#include "bench/http_connection.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace p2p::bench {

http_connection::http_connection(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos || ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &to_.sin_addr) != 1)
    throw std::invalid_argument("not an IPv4 host:port: " + host_port);
  to_.sin_family = AF_INET;
  to_.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
}

short http_connection::wanted() const { return connecting_ || sent_ < out_.size() ? POLLOUT : POLLIN; }

bool http_connection::begin(std::string request) {
  if (fd_ < 0 && !connect()) return false;
  out_ = std::move(request);
  sent_ = 0;
  in_.clear();
  body_at_ = std::string::npos;
  started_ = clock::now();
  return true;
}

int http_connection::advance(short revents) {
  if (revents & (POLLERR | POLLNVAL)) return fail();
  if (connecting_) {
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) return fail();
    connecting_ = false;
  }
  if (sent_ < out_.size()) {
    auto n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 0 : fail();
    sent_ += static_cast<std::size_t>(n);
    return 0;
  }
  if (!(revents & (POLLIN | POLLHUP))) return 0;
  char buf[16384];
  auto n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) return errno == EAGAIN ? 0 : fail();
  if (n == 0) {
    // A response without a length ends with the connection.
    int status = until_close_ ? status_ : -1;
    close();
    return status;
  }
  in_.append(buf, static_cast<std::size_t>(n));
  return parse();
}

std::string_view http_connection::body() const {
  if (body_at_ == std::string::npos || body_at_ > in_.size()) return {};
  return std::string_view(in_).substr(body_at_);
}

void http_connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connecting_ = false;
}

bool http_connection::connect() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&to_), sizeof to_) == 0) return true;
  if (errno == EINPROGRESS) {
    connecting_ = true;
    return true;
  }
  close();
  return false;
}

int http_connection::fail() {
  close();
  return -1;
}

int http_connection::parse() {
  until_close_ = false;
  auto head_end = in_.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  if (in_.size() < 12 || in_.compare(0, 7, "HTTP/1.") != 0) return fail();
  body_at_ = head_end + 4;
  std::string head = in_.substr(0, head_end + 2);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const int status = std::atoi(in_.c_str() + 9);
  const auto body = in_.size() - (head_end + 4);
  if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
    if (body < std::strtoull(head.c_str() + at + 17, nullptr, 10)) return 0;
  } else if (head.find("\r\ntransfer-encoding: chunked\r\n") != std::string::npos) {
    // One request at a time per connection: the last chunk is at the very end.
    const bool last = in_.size() >= 5 && in_.compare(in_.size() - 5, 5, "0\r\n\r\n") == 0 &&
                      (body == 5 || in_[in_.size() - 6] == '\n');
    if (!last) return 0;
  } else {
    until_close_ = true;
    status_ = status;
    return 0;
  }
  if (head.find("\r\nconnection: close\r\n") != std::string::npos) close();
  return status;
}

std::string http_request(const std::string& method, const std::string& host_port, const std::string& target,
                         const std::string& body, const std::string& extra_headers, bool keep_alive) {
  std::string r = method;
  r.append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_port).append("\r\n");
  r.append(keep_alive ? "" : "Connection: close\r\n").append(extra_headers);
  r.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
  r.append("\r\n\r\n").append(body);
  return r;
}

}  // namespace p2p::bench
