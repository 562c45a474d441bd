// Reference HTTP server for benchmarking: bare Boost.Beast on C++20
// coroutines, serving the same two admin routes as the node with the same
// JSON bodies, so the node's HTTP layer can be compared against a floor
// that has no actor system behind it.
//
// Build:
//   g++ -std=c++20 -O2 beast_server.cpp -lsimdjson -lpthread -o beast_server
//
// Usage: beast_server [--host H] [--port N] [--threads N]
//   --port 0 lets the OS choose; the bound port is printed on stdout as a
//   single line {"port":N} once the server is listening.

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <simdjson.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Errors come back as values rather than exceptions: a client closing its
// keep-alive connection is the normal case, not an exceptional one.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view node_id = "bench";
constexpr std::string_view node_uuid = "00000000-0000-0000-0000-000000000000";
constexpr std::string_view version = "0.1.0";

// Large enough for any admin request, small enough to bound memory per
// connection.
constexpr std::uint64_t body_limit = 64 * 1024;
constexpr auto idle_timeout = std::chrono::seconds(30);

constexpr std::array<std::string_view, 5> levels = {"trace", "debug", "info",
                                                    "warn", "error"};

// Index into `levels`; shared by all connections and threads.
std::atomic<std::size_t> current_level{2};

const auto start_time = std::chrono::steady_clock::now();

std::optional<std::size_t> level_index(std::string_view name) {
  for (std::size_t i = 0; i < levels.size(); ++i)
    if (levels[i] == name)
      return i;
  return std::nullopt;
}

using response = http::response<http::string_body>;

response make_json(http::status status, unsigned version_, bool keep_alive,
                   std::string body) {
  response res{status, version_};
  res.set(http::field::content_type, "application/json");
  res.set("X-Node-ID", node_id);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// Error bodies follow the node's error schema. `message` is always a
// literal from this file, so it needs no JSON escaping.
std::string error_body(std::string_view message, std::string_view code,
                       unsigned status, std::string_view field = {}) {
  std::string out;
  out.reserve(128);
  out += R"({"error":")";
  out += message;
  out += R"(","code":")";
  out += code;
  out += R"(","status":)";
  out += std::to_string(status);
  if (!field.empty()) {
    out += R"(,"details":{"field":")";
    out += field;
    out += R"("}})";
  } else {
    out += '}';
  }
  return out;
}

std::string health_body() {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - start_time)
                    .count();
  std::string out;
  out.reserve(160);
  out += R"({"status":"ok","node_id":")";
  out += node_id;
  out += R"(","node_uuid":")";
  out += node_uuid;
  out += R"(","uptime_s":)";
  out += std::to_string(uptime);
  out += R"(,"version":")";
  out += version;
  out += R"("})";
  return out;
}

response handle_log_level(const http::request<http::string_body>& req) {
  const auto bad = [&](std::string_view message) {
    return make_json(http::status::bad_request, req.version(),
                     req.keep_alive(),
                     error_body(message, "bad_request", 400, "level"));
  };

  // The DOM parser validates the whole document (ondemand would accept
  // trailing garbage after the field we read). One parser per thread keeps
  // its buffers warm without locking.
  thread_local simdjson::dom::parser parser;
  const auto& body = req.body();
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS)
    return bad("request body is not valid JSON");
  if (!doc.is_object())
    return bad("request body must be a JSON object");

  std::string_view name;
  if (doc["level"].get(name) != simdjson::SUCCESS)
    return bad("field 'level' must be a string");
  auto idx = level_index(name);
  if (!idx)
    return bad("level must be one of trace, debug, info, warn, error");

  auto previous = current_level.exchange(*idx);
  std::string out;
  out.reserve(48);
  out += R"({"level":")";
  out += levels[*idx];
  out += R"(","previous":")";
  out += levels[previous];
  out += R"("})";
  return make_json(http::status::ok, req.version(), req.keep_alive(),
                   std::move(out));
}

response handle(const http::request<http::string_body>& req) {
  const auto target = std::string_view{req.target().data(),
                                       req.target().size()};
  if (req.method() == http::verb::get && target == "/admin/health")
    return make_json(http::status::ok, req.version(), req.keep_alive(),
                     health_body());
  if (req.method() == http::verb::post && target == "/admin/log-level")
    return handle_log_level(req);
  return make_json(http::status::not_found, req.version(), req.keep_alive(),
                   error_body("no such route", "not_found", 404));
}

// One coroutine per connection; loops for keep-alive.
asio::awaitable<void> session(beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    // A fresh parser per request: parsers are single-use, and this is
    // where the body limit is set.
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);

    stream.expires_after(idle_timeout);
    auto [read_ec, read_n] =
        co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)read_n;
    if (read_ec)
      break; // end_of_stream, timeout, malformed request: just close

    const auto& req = parser.get();
    auto res = handle(req);
    const bool keep_alive = res.keep_alive();

    auto [write_ec, write_n] =
        co_await http::async_write(stream, res, use_tuple);
    (void)write_n;
    if (write_ec || !keep_alive)
      break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> listener(tcp::acceptor& acceptor) {
  for (;;) {
    // Each connection gets its own strand so that, with several threads,
    // the session coroutine and the stream's timeout timer never run
    // concurrently.
    auto strand = asio::make_strand(acceptor.get_executor());
    auto [ec, socket] = co_await acceptor.async_accept(strand, use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted)
        co_return;
      continue; // e.g. EMFILE under load: keep serving existing connections
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))),
                   asio::detached);
  }
}

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  unsigned threads = 1;
};

[[noreturn]] void usage(int status) {
  (status == 0 ? std::cout : std::cerr)
      << "usage: beast_server [--host H] [--port N] [--threads N]\n"
         "  --host H     address to listen on (default 127.0.0.1)\n"
         "  --port N     port, 0 = chosen by the OS (default 0)\n"
         "  --threads N  I/O threads (default 1)\n";
  std::exit(status);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text, T min, T max) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < min ||
      value > max) {
    std::cerr << "beast_server: invalid value for " << flag << ": '" << text
              << "'\n";
    usage(2);
  }
  return value;
}

options parse_args(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help")
      usage(0);
    if (i + 1 >= argc) {
      std::cerr << "beast_server: unknown or incomplete option '" << arg
                << "'\n";
      usage(2);
    }
    std::string_view value = argv[++i];
    if (arg == "--host")
      opts.host = value;
    else if (arg == "--port")
      opts.port = parse_number<unsigned short>(arg, value, 0, 65535);
    else if (arg == "--threads")
      opts.threads = parse_number<unsigned>(arg, value, 1, 1024);
    else {
      std::cerr << "beast_server: unknown option '" << arg << "'\n";
      usage(2);
    }
  }
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  const auto opts = parse_args(argc, argv);
  try {
    asio::io_context ioc{static_cast<int>(opts.threads)};

    beast::error_code ec;
    auto address = asio::ip::make_address(opts.host, ec);
    if (ec) {
      std::cerr << "beast_server: invalid --host '" << opts.host
                << "' (expected an IP address)\n";
      return 2;
    }
    tcp::endpoint endpoint{address, opts.port};
    tcp::acceptor acceptor{ioc};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);

    // The harness waits for this line to learn the port, so flush it now.
    std::cout << R"({"port":)" << acceptor.local_endpoint().port() << "}"
              << std::endl;

    asio::signal_set signals{ioc, SIGINT, SIGTERM};
    signals.async_wait([&](const beast::error_code&, int) { ioc.stop(); });

    asio::co_spawn(ioc, listener(acceptor), asio::detached);

    std::vector<std::thread> pool;
    pool.reserve(opts.threads - 1);
    for (unsigned i = 1; i < opts.threads; ++i)
      pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool)
      t.join();
  } catch (const std::exception& e) {
    std::cerr << "beast_server: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
