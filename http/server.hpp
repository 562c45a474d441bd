#pragma once
// The HTTP front's socket side: Beast on Asio with one C++20 coroutine per connection. It knows
// nothing of actors: after the gate it hands each request to a dispatcher (the node's front
// actor) and writes back whatever the dispatcher answers. Beast stays inside server.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "http/gate.hpp"
#include "http/metrics.hpp"
#include "http/routes.hpp"
#include "http/types.hpp"

namespace p2p::http {

class dispatcher {
 public:
  virtual ~dispatcher() = default;
  // Answers one request; `done` may be called once, from any thread, and must be called or
  // dropped before the server is destroyed (dropping it answers 503). `body` is the validated
  // JSON body (null when the request had none); it is valid only during this call.
  virtual void call(std::size_t route_index, const route& r, const request& req,
                    const simdjson::dom::element* body, std::function<void(response)> done) = 0;
  // Checks a stream request before any header is written (an error ends it with that reply).
  virtual std::optional<response> check_stream(const route& r, const request& req) = 0;
  // Starts a long-lived stream into `sink`; returns the function that ends it.
  virtual std::function<void()> open_stream(std::size_t route_index, const route& r,
                                            const request& req,
                                            std::shared_ptr<stream_sink> sink) = 0;
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8770;
  unsigned threads = 1;
  std::size_t body_limit = 8 * 1024 * 1024;
  std::chrono::milliseconds header_timeout{10'000};  // time to send a request once started
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive connection with no request
  std::chrono::milliseconds stream_keepalive{15'000};
  // A request the dispatcher has not answered by then gets 504 (outcome unknown). Kept here, on
  // the connection's own thread, so the fast path needs no timer in the actor system.
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t stream_queue_limit = 4096;  // chunks; a consumer that falls further behind is cut
  std::string node_id;
  gate_config gate;
};

class server {
 public:
  server(server_options options, http_metrics& metrics);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket; returns the bound port. Throws std::runtime_error on failure.
  std::uint16_t bind();
  // Starts answering with `d`, which must outlive stop().
  void serve(dispatcher& d);
  // Marks responses `Connection: close`; requests keep being answered, streams keep flowing.
  void begin_drain();
  // Ends every event stream after what was already queued for it.
  void close_streams();
  std::size_t open_streams() const;
  // Requests read and not yet fully answered (event streams excluded).
  std::size_t in_flight() const;
  // Stops accepting, closes every connection and joins the threads.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace p2p::http
