#pragma once
// HTTP requests and responses as plain values, so routing, auth and encoding are testable
// without sockets and the Beast server stays the only code that knows the wire.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p::http {

enum class verb { get, post, put, patch, del, head, options, other };
std::string_view verb_name(verb v);

struct request {
  verb method = verb::get;
  std::string path;   // without the query string
  std::string query;  // after '?', undecoded
  std::string body;
  std::string content_type;
  std::string last_event_id;  // the SSE resume header
};

struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// Receives the chunks of a long-lived stream (server-sent events). Called from any thread;
// implementations hand the chunk to their own executor.
class stream_sink {
 public:
  virtual ~stream_sink() = default;
  virtual void push(std::string chunk) = 0;
  // The producer ended the stream (for example the node is draining).
  virtual void close() = 0;
};

// Decodes query strings: "a=1&b=x%20y" -> value of a key (percent-decoded), if present.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

}  // namespace p2p::http
