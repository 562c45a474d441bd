// The Beast server with a scripted dispatcher: timeouts, dropped callbacks, keep-alive and slow
// clients, without any actor system.
#include <boost/test/unit_test.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "http/envelope.hpp"
#include "http/server.hpp"
#include "bench/harness/http_client.hpp"

using namespace p2p;
using namespace p2p::http;
using namespace std::chrono_literals;

namespace {

// Answers admin.health at once, drops admin.status's callback unanswered, and never answers
// admin.log_level (keeps the callback).
class scripted_dispatcher : public dispatcher {
 public:
  std::vector<std::function<void(response)>> parked;
  std::atomic<int> calls{0};
  void call(std::size_t, const route& r, const request&, const simdjson::dom::element*,
            std::function<void(response)> done) override {
    ++calls;
    if (r.id == "admin.health") done(json_response(200, R"({"status":"ok"})"));
    else if (r.id == "admin.log_level") parked.push_back(std::move(done));
    // anything else: the callback is dropped here
  }
  std::optional<response> check_stream(const route&, const request&) override { return std::nullopt; }
  std::function<void()> open_stream(std::size_t, const route&, const request&,
                                    std::shared_ptr<stream_sink> sink) override {
    sink->push("data: one\n\n");
    return [] {};
  }
};

struct server_fixture {
  scripted_dispatcher disp;
  http_metrics metrics{route_table()};
  std::unique_ptr<server> srv;
  std::string address;
  server_fixture() {
    server_options o;
    o.port = 0;
    o.node_id = "test-node";
    o.gate.token = "tok";
    o.request_timeout = 300ms;
    o.header_timeout = 300ms;
    o.idle_timeout = 300ms;
    srv = std::make_unique<server>(o, metrics);
    address = "127.0.0.1:" + std::to_string(srv->bind());
    srv->serve(disp);
  }
  ~server_fixture() {
    srv->stop();
    disp.parked.clear();  // callbacks may not outlive the server (see server.hpp)
  }
};

const harness::header_list auth{{"Authorization", "Bearer tok"}};

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_FIXTURE_TEST_CASE(answers_through_the_dispatcher_with_node_id, server_fixture) {
  auto r = harness::http_call(address, "GET", "/admin/health");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"status":"ok"})");
  BOOST_TEST(r.header("X-Node-ID") == "test-node");
}

BOOST_FIXTURE_TEST_CASE(unanswered_requests_time_out_with_504, server_fixture) {
  auto r = harness::http_call(address, "POST", "/admin/log-level", R"({"level":"info"})", auth);
  BOOST_TEST(r.status == 504);
  BOOST_TEST(r.body.find("\"outcome\":\"unknown\"") != std::string::npos);
  BOOST_TEST(srv->in_flight() == 0u);
  // A late answer after the timeout is harmless.
  for (auto& done : disp.parked) done(json_response(200, "{}"));
  BOOST_TEST(harness::http_call(address, "GET", "/admin/health").status == 200);
}

BOOST_FIXTURE_TEST_CASE(dropped_callbacks_answer_503_instead_of_hanging, server_fixture) {
  auto r = harness::http_call(address, "GET", "/status", "", auth);
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.body.find("retry_after_ms") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(keep_alive_serves_many_requests_on_one_connection, server_fixture) {
  std::string two = "GET /admin/health HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  auto raw = harness::raw_exchange(address, two, 5s);
  std::size_t answers = 0;
  for (auto at = raw.find("HTTP/1.1 200"); at != std::string::npos; at = raw.find("HTTP/1.1 200", at + 1))
    ++answers;
  BOOST_TEST(answers == 2u);
}

BOOST_FIXTURE_TEST_CASE(slow_and_idle_clients_are_cut_off, server_fixture) {
  // Half a request, then silence: the server closes the connection after its header timeout.
  auto raw = harness::raw_exchange(address, "GET /admin/health HTTP/1.1\r\nHo", 5s);
  BOOST_TEST(raw.find("200") == std::string::npos);
  // The exchange returned because the server closed, well before our own 5 s deadline.
  auto before = std::chrono::steady_clock::now();
  harness::raw_exchange(address, "", 5s);  // idle connection
  BOOST_TEST((std::chrono::steady_clock::now() - before) < 4s);
}

BOOST_FIXTURE_TEST_CASE(drain_closes_connections_and_streams, server_fixture) {
  harness::sse_stream stream(address, "/events", auth);
  BOOST_TEST(stream.status() == 200);
  BOOST_TEST(stream.read_until("data: one", 5s));
  BOOST_TEST(srv->open_streams() == 1u);
  srv->begin_drain();
  auto r = harness::http_call(address, "GET", "/admin/health");
  BOOST_TEST(r.header("Connection") == "close");
  srv->close_streams();
  BOOST_TEST(stream.read_to_end(5s));
}

BOOST_AUTO_TEST_SUITE_END()
