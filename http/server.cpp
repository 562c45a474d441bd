#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include <atomic>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/envelope.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"

namespace p2p::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using strand_t = asio::any_io_executor;  // in practice a per-connection strand
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

verb to_verb(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return verb::get;
    case bhttp::verb::post: return verb::post;
    case bhttp::verb::put: return verb::put;
    case bhttp::verb::patch: return verb::patch;
    case bhttp::verb::delete_: return verb::del;
    case bhttp::verb::head: return verb::head;
    case bhttp::verb::options: return verb::options;
    default: return verb::other;
  }
}

// Completes a coroutine's wait for the dispatcher exactly once: with the dispatcher's response,
// or, if the dispatcher drops the callback without calling it, with a 503 so no connection hangs.
struct reply_slot {
  std::function<void(response)> resume;  // posts to the connection's strand
  std::atomic<bool> done{false};
  void complete(response r) {
    if (!done.exchange(true)) resume(std::move(r));
  }
  ~reply_slot() {
    if (!done.load())
      resume(error_response(api_errc::unavailable, "the node is shutting down",
                            R"({"retry_after_ms":1000})"));
  }
};

// Event-stream chunks from the producer (any thread) to the connection (its strand).
class strand_sink final : public stream_sink, public std::enable_shared_from_this<strand_sink> {
 public:
  strand_sink(strand_t ex, std::size_t limit) : ex_(ex), wake_(ex), limit_(limit) {}
  void push(std::string chunk) override {
    asio::post(ex_, [self = shared_from_this(), c = std::move(chunk)]() mutable {
      if (self->queue_.size() >= self->limit_) self->overflow_ = true;
      else self->queue_.push_back(std::move(c));
      self->wake_.cancel();
    });
  }
  void close() override {
    asio::post(ex_, [self = shared_from_this()] {
      self->closed_ = true;
      self->wake_.cancel();
    });
  }
  // Strand-only state.
  std::deque<std::string> queue_;
  bool closed_ = false;
  bool overflow_ = false;
  strand_t ex_;
  asio::steady_timer wake_;
  std::size_t limit_;
};

}  // namespace

struct server::impl {
  server_options opts;
  dispatcher* disp_ptr = nullptr;
  http_metrics& metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> requests_in_flight{0};
  std::mutex streams_mutex;  // guards `streams` only; touched when streams open, close, drain
  std::list<std::weak_ptr<strand_sink>> streams;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  impl(server_options o, http_metrics& m) : opts(std::move(o)), metrics(m) {}
  dispatcher& disp() { return *disp_ptr; }

  void set_common_headers(bhttp::response<bhttp::string_body>& res, const response& r) {
    res.set(bhttp::field::server, "p2p-node");
    res.set("X-Node-ID", opts.node_id);
    res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto conn_strand = asio::make_strand(ioc);
      tcp::socket socket(conn_strand);
      auto [ec] = co_await acceptor.async_accept(socket, use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        log::warn("http", "accept failed", {{"error", json::quote(ec.message())}});
        continue;
      }
      asio::co_spawn(conn_strand, session(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  // Waits for the dispatcher's answer without blocking the strand.
  template <class Token>
  auto async_call(std::size_t index, const route& r, const request& req,
                  const simdjson::dom::element* body, strand_t ex, Token&& token) {
    auto initiation = [this, index, &r, &req, body, ex](auto handler) {
      using handler_t = decltype(handler);
      auto held = std::make_shared<handler_t>(std::move(handler));
      auto timer = std::make_shared<asio::steady_timer>(ex, opts.request_timeout + std::chrono::seconds(r.long_poll_s));
      auto slot = std::make_shared<reply_slot>();
      slot->resume = [held, timer, ex](response res) {
        asio::post(ex, [held, timer, res = std::move(res)]() mutable {
          timer->cancel();
          (*held)(std::move(res));
        });
      };
      // Only the dispatcher's callback owns the slot, so dropping it answers 503 at once.
      timer->async_wait([weak = std::weak_ptr<reply_slot>(slot)](const boost::system::error_code& ec) {
        if (auto slot = weak.lock(); slot && !ec)
          slot->complete(error_response(api_errc::timeout, "no answer within the request timeout",
                                        R"({"outcome":"unknown"})"));
      });
      disp().call(index, r, req, body, [slot](response res) { slot->complete(std::move(res)); });
    };
    return asio::async_initiate<Token, void(response)>(initiation, token);
  }

  asio::awaitable<void> session(beast::tcp_stream stream) {
    metrics.connection_opened();
    struct closer {
      http_metrics& m;
      ~closer() { m.connection_closed(); }
    } on_exit{metrics};
    auto ex = strand_t(stream.get_executor());
    beast::flat_buffer buffer;
    simdjson::dom::parser json_parser;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(opts.body_limit);
      parser.header_limit(64 * 1024);
      stream.expires_after(opts.idle_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
      (void)hn;
      if (!hec) {
        stream.expires_after(opts.header_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
        (void)bn;
        hec = bec;
      }
      if (hec) {
        if (hec == bhttp::error::body_limit) {
          auto r = error_response(api_errc::payload_too_large,
                                  "request body exceeds " + std::to_string(opts.body_limit) +
                                      " bytes");
          metrics.record(route_table_size(), r.status, 0);
          co_await write_response(stream, r, 11, false);
        } else if (hec != bhttp::error::end_of_stream && hec != beast::error::timeout &&
                   hec != asio::error::eof && hec != asio::error::connection_reset &&
                   hec != asio::error::operation_aborted && parser.got_some()) {
          auto r = error_response(api_errc::bad_request, "malformed HTTP request: " + hec.message());
          metrics.record(route_table_size(), r.status, 0);
          co_await write_response(stream, r, 11, false);
        }
        break;
      }
      auto& msg = parser.get();
      requests_in_flight.fetch_add(1, std::memory_order_relaxed);
      struct in_flight_guard {
        std::atomic<std::size_t>& n;
        ~in_flight_guard() { n.fetch_sub(1, std::memory_order_relaxed); }
      };
      auto guard = std::make_unique<in_flight_guard>(requests_in_flight);
      const auto started = std::chrono::steady_clock::now();
      request req;
      req.method = to_verb(msg.method());
      auto target = std::string_view(msg.target().data(), msg.target().size());
      auto qpos = target.find('?');
      req.path = std::string(target.substr(0, qpos));
      if (qpos != std::string_view::npos) req.query = std::string(target.substr(qpos + 1));
      req.body = std::move(msg.body());
      if (auto it = msg.find(bhttp::field::content_type); it != msg.end())
        req.content_type = std::string(it->value());
      if (auto it = msg.find("Last-Event-ID"); it != msg.end())
        req.last_event_id = std::string(it->value());
      std::string_view authorization;
      if (auto it = msg.find(bhttp::field::authorization); it != msg.end())
        authorization = std::string_view(it->value().data(), it->value().size());
      const bool keep_alive = msg.keep_alive() && !draining.load(std::memory_order_relaxed);
      const unsigned version = msg.version();

      auto verdict = gate(route_table(), opts.gate, req.method, req.path, req.query, authorization);
      response res;
      if (verdict.reply) {
        res = std::move(*verdict.reply);
      } else if (verdict.found->reply == reply_kind::event_stream) {
        verdict.reply = disp().check_stream(*verdict.found, req);
        if (!verdict.reply) {
          guard.reset();  // a stream is not a request to wait for when draining
          metrics.record(verdict.route_index, 200, 0);
          co_await run_stream(stream, *verdict.found, verdict.route_index, req, version);
          break;
        }
        res = std::move(*verdict.reply);
      } else {
        simdjson::dom::element body;
        bool has_body = false;
        if (auto bad = check_body(*verdict.found, req, json_parser, body, has_body)) {
          res = std::move(*bad);
        } else {
          const simdjson::dom::element* body_ptr = has_body ? &body : nullptr;
          res = co_await async_call(verdict.route_index, *verdict.found, req, body_ptr, ex,
                                    asio::use_awaitable);
        }
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      metrics.record(verdict.route_index, res.status, seconds);
      const bool ok = co_await write_response(stream, res, version, keep_alive);
      if (!ok || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  std::size_t route_table_size() const { return route_table().size(); }

  asio::awaitable<bool> write_response(beast::tcp_stream& stream, const response& r,
                                       unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    set_common_headers(res, r);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    stream.expires_after(opts.header_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, res, use_tuple);
    (void)n;
    co_return !ec;
  }

  asio::awaitable<bool> write_chunk(beast::tcp_stream& stream, const std::string& data) {
    stream.expires_after(opts.stream_keepalive * 2);
    auto chunk = bhttp::make_chunk(asio::buffer(data));
    auto [ec, n] = co_await asio::async_write(stream, chunk, use_tuple);
    (void)n;
    co_return !ec;
  }

  asio::awaitable<void> run_stream(beast::tcp_stream& stream, const route& r, std::size_t index,
                                   const request& req, unsigned version) {
    auto sink = std::make_shared<strand_sink>(strand_t(stream.get_executor()),
                                              opts.stream_queue_limit);
    {
      std::lock_guard lock(streams_mutex);
      streams.push_back(sink);
    }
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, version};
    head.set(bhttp::field::server, "p2p-node");
    head.set("X-Node-ID", opts.node_id);
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    head.chunked(true);
    head.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(opts.header_timeout);
    auto [hec, hn] = co_await bhttp::async_write_header(stream, serializer, use_tuple);
    (void)hn;
    std::function<void()> cancel;
    if (!hec) cancel = disp().open_stream(index, r, req, sink);
    bool alive = !hec;
    // An event-stream client sends nothing after its request: the socket turning readable means
    // it closed (or misbehaves), so the stream ends now rather than at the next keep-alive.
    if (alive)
      stream.socket().async_wait(tcp::socket::wait_read,
                                 [weak = std::weak_ptr<strand_sink>(sink)](const boost::system::error_code& ec) {
                                   auto s = weak.lock();
                                   if (!s || ec == asio::error::operation_aborted) return;
                                   s->closed_ = true;
                                   s->wake_.cancel();
                                 });
    while (alive) {
      while (alive && !sink->queue_.empty()) {
        std::string data = std::move(sink->queue_.front());
        sink->queue_.pop_front();
        alive = co_await write_chunk(stream, data);
      }
      if (!alive) break;
      if (sink->overflow_) {
        // The consumer fell too far behind; it resumes with Last-Event-ID.
        std::string note = ": stream closed: consumer too slow, reconnect with Last-Event-ID\n\n";
        co_await write_chunk(stream, note);
        break;
      }
      if (sink->closed_) break;
      sink->wake_.expires_after(opts.stream_keepalive);
      auto [wec] = co_await sink->wake_.async_wait(use_tuple);
      if (!wec && sink->queue_.empty() && !sink->closed_) {
        std::string keepalive = ": keep-alive\n\n";
        alive = co_await write_chunk(stream, keepalive);
      }
    }
    if (cancel) cancel();
    if (alive) {
      auto last = bhttp::make_chunk_last();
      stream.expires_after(opts.header_timeout);
      auto [lec, ln] = co_await asio::async_write(stream, last, use_tuple);
      (void)lec;
      (void)ln;
    }
    std::lock_guard lock(streams_mutex);
    streams.remove_if([&](const auto& w) {
      auto s = w.lock();
      return !s || s == sink;
    });
  }
};

server::server(server_options options, http_metrics& metrics)
    : impl_(std::make_unique<impl>(std::move(options), metrics)) {}

server::~server() { stop(); }

std::uint16_t server::bind() {
  auto& i = *impl_;
  beast::error_code ec;
  auto address = asio::ip::make_address(i.opts.host, ec);
  if (ec) throw std::runtime_error("invalid --http-host '" + i.opts.host + "': " + ec.message());
  tcp::endpoint ep{address, i.opts.port};
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen for HTTP on " + i.opts.host + ":" +
                             std::to_string(i.opts.port) + ": " + ec.message());
  return i.acceptor.local_endpoint().port();
}

void server::serve(dispatcher& d) {
  auto& i = *impl_;
  i.disp_ptr = &d;
  i.work.emplace(i.ioc.get_executor());
  asio::co_spawn(i.ioc, i.accept_loop(), asio::detached);
  for (unsigned t = 0; t < std::max(1u, i.opts.threads); ++t)
    i.threads.emplace_back([&i] {
      try {
        i.ioc.run();
      } catch (const std::exception& e) {
        log::error("http", "server thread failed", {{"error", json::quote(e.what())}});
      }
    });
}

void server::begin_drain() { impl_->draining.store(true); }

std::size_t server::open_streams() const {
  auto& i = *impl_;
  std::lock_guard lock(i.streams_mutex);
  return i.streams.size();
}

void server::close_streams() {
  auto& i = *impl_;
  std::lock_guard lock(i.streams_mutex);
  for (auto& w : i.streams)
    if (auto s = w.lock()) s->close();
}

std::size_t server::in_flight() const { return impl_->requests_in_flight.load(); }

void server::stop() {
  auto& i = *impl_;
  if (i.threads.empty()) return;
  asio::post(i.ioc, [&i] {
    beast::error_code ignored;
    i.acceptor.close(ignored);
  });
  i.work.reset();
  i.ioc.stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
}

}  // namespace p2p::http
