#include "bench/harness/http_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace p2p::harness {
namespace {

using clock = std::chrono::steady_clock;

int connect_to(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bad address " + host_port);
  auto host = host_port.substr(0, colon);
  auto port = host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res)
    throw std::runtime_error("cannot resolve " + host_port);
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to " + host_port);
  }
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may refuse early (413); read what it answered
    done += static_cast<std::size_t>(n);
  }
}

// Appends what arrives before the deadline; false on timeout, true on data or end of stream.
bool recv_some(int fd, std::string& out, clock::time_point deadline, bool& closed) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char buf[16384];
  auto n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    closed = true;
    return true;
  }
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses the status line and headers; returns the offset of the body.
std::size_t parse_head(const std::string& raw, http_reply& reply) {
  auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::string::npos;
  auto sp = raw.find(' ');
  reply.status = std::stoi(raw.substr(sp + 1, 3));
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    auto eol = raw.find("\r\n", pos);
    auto line = raw.substr(pos, eol - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      reply.headers[lower(line.substr(0, colon))] = value;
    }
    pos = eol + 2;
  }
  return end + 4;
}

// Decodes complete chunks from `raw` into `out`, leaving a partial chunk in `raw`.
// Returns true when the last chunk was seen.
bool decode_chunks(std::string& raw, std::string& out) {
  for (;;) {
    auto eol = raw.find("\r\n");
    if (eol == std::string::npos) return false;
    auto size = std::stoul(raw.substr(0, eol), nullptr, 16);
    if (size == 0) return true;
    if (raw.size() < eol + 2 + size + 2) return false;
    out.append(raw, eol + 2, size);
    raw.erase(0, eol + 2 + size + 2);
  }
}

}  // namespace

std::string http_reply::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string raw_exchange(const std::string& host_port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  int fd = connect_to(host_port);
  send_all(fd, bytes);
  std::string out;
  bool closed = false;
  auto deadline = clock::now() + timeout;
  while (!closed && recv_some(fd, out, deadline, closed)) {
  }
  ::close(fd);
  return out;
}

http_reply http_call(const std::string& host_port, const std::string& method,
                     const std::string& target, const std::string& body,
                     const header_list& headers, std::chrono::milliseconds timeout) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  auto raw = raw_exchange(host_port, req, timeout);
  http_reply reply;
  auto body_at = parse_head(raw, reply);
  if (body_at == std::string::npos)
    throw std::runtime_error(method + " " + target + ": no complete response from " + host_port);
  auto rest = raw.substr(body_at);
  if (lower(reply.header("transfer-encoding")) == "chunked") {
    decode_chunks(rest, reply.body);
  } else {
    reply.body = rest;
  }
  return reply;
}

sse_stream::sse_stream(const std::string& host_port, const std::string& target,
                       const header_list& headers) {
  fd_ = connect_to(host_port);
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  send_all(fd_, req);
  auto deadline = clock::now() + std::chrono::seconds(10);
  std::string head;
  bool closed = false;
  while (head.find("\r\n\r\n") == std::string::npos && !closed)
    if (!recv_some(fd_, head, deadline, closed)) throw std::runtime_error("no stream header");
  http_reply reply;
  auto body_at = parse_head(head, reply);
  if (body_at == std::string::npos) throw std::runtime_error("stream closed before its header");
  status_ = reply.status;
  if (lower(reply.header("transfer-encoding")) == "chunked") {
    raw_ = head.substr(body_at);
    decode();
  } else {
    text_ = head.substr(body_at);
    ended_ = closed;
  }
}

sse_stream::~sse_stream() {
  if (fd_ >= 0) ::close(fd_);
}

void sse_stream::decode() {
  if (decode_chunks(raw_, text_)) ended_ = true;
}

bool sse_stream::read_some(clock::time_point deadline) {
  if (ended_) return false;
  bool closed = false;
  if (!recv_some(fd_, raw_, deadline, closed)) return false;
  decode();
  if (closed) ended_ = true;
  return true;
}

bool sse_stream::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (text_.find(needle) == std::string::npos)
    if (!read_some(deadline)) return text_.find(needle) != std::string::npos;
  return true;
}

bool sse_stream::read_to_end(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!ended_)
    if (!read_some(deadline)) return ended_;
  return true;
}

}  // namespace p2p::harness
