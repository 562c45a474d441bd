#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <csignal>
#include <fstream>

#include "protocol/common/files.hpp"
#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

header_list bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element doc;
  BOOST_REQUIRE_MESSAGE(!p.parse(text).get(doc), "not JSON: " << text);
  return doc;
}

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

struct run_result {
  int exit_code;
  std::string out, err;
};
run_result run_node_to_exit(const std::vector<std::string>& args) {
  child_process p(node_binary(), args);
  auto code = p.wait_exit(30s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "p2p-node did not exit");
  return {*code, p.out(), p.err()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node)

BOOST_AUTO_TEST_CASE(starts_on_os_chosen_ports_and_describes_itself) {
  node_process node;
  auto endpoints = p2p::files::read_all(node.data_dir() / "endpoints.json");
  BOOST_REQUIRE(endpoints.has_value());
  simdjson::dom::parser p;
  auto doc = parse(p, *endpoints);
  BOOST_TEST(str(doc["http"]) == node.http());
  BOOST_TEST(str(doc["cluster"]) == node.info().cluster);
  BOOST_TEST(str(doc["node_uuid"]) == node.info().node_uuid);
  BOOST_TEST(doc["pid"].get_int64().value() == node.process().pid());
  BOOST_TEST(node.info().cluster.rfind("127.0.0.1:", 0) == 0u);

  struct stat st {};
  BOOST_REQUIRE(::stat((node.data_dir() / "auth-token").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  auto health = http_call(node.http(), "GET", "/admin/health");
  BOOST_TEST(health.status == 200);
  BOOST_TEST(health.header("X-Node-ID") == str(doc["node_id"]));
  simdjson::dom::parser p2;
  auto h = parse(p2, health.body);
  BOOST_TEST(str(h["status"]) == "ok");
  BOOST_TEST(str(h["node_uuid"]) == node.info().node_uuid);
  BOOST_TEST(h["uptime_s"].get_double().value() >= 0.0);

  auto status = http_call(node.http(), "GET", "/status", "", bearer(node.token()));
  BOOST_TEST(status.status == 200);
  simdjson::dom::parser p3;
  auto s = parse(p3, status.body);
  BOOST_TEST(str(s["endpoints"]["http"]) == node.http());
  std::vector<std::string> actors;
  simdjson::dom::array listed;
  BOOST_REQUIRE(!s["actors"].get(listed));
  for (auto a : listed) actors.push_back(str(a["name"]));
  BOOST_TEST((actors == std::vector<std::string>{"admin", "election", "elo", "events", "front", "gossip", "peers",
                                                 "raft", "runner", "supervisor", "swim", "work_queue"}));
}

BOOST_AUTO_TEST_CASE(shutdown_over_http_drains_and_exits_0) {
  node_process node;
  http_call(node.http(), "GET", "/admin/health");  // the node serves before the drain
  sse_stream events(node.http(), "/events", bearer(node.token()));
  BOOST_TEST(events.status() == 200);
  BOOST_REQUIRE(events.read_until(": subscribed", 10s));
  auto reply = http_call(node.http(), "POST", "/admin/shutdown", R"({"drain_timeout_s": 5})",
                         bearer(node.token()));
  BOOST_TEST(reply.status == 202);
  BOOST_TEST(reply.body.find("\"status\":\"draining\"") != std::string::npos);
  // Open event streams see the drain announced, then end.
  BOOST_TEST(events.read_until("event: NODE_STOPPING", 10s));
  BOOST_TEST(events.read_to_end(10s));
  BOOST_TEST(node.process().wait_exit(15s) .value_or(-1) == 0);
  BOOST_TEST(node.process().err().find("\"msg\":\"stopped\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_departed_stream_client_is_forgotten_at_once) {
  node_process node;
  auto subscribers = [&] {
    auto status = http_call(node.http(), "GET", "/status", "", bearer(node.token()));
    simdjson::dom::parser p;
    return parse(p, status.body)["events"]["subscribers"].get_int64().value();
  };
  {
    sse_stream events(node.http(), "/events", bearer(node.token()));
    BOOST_REQUIRE(events.read_until(": subscribed", 10s));
    BOOST_TEST(subscribers() == 1);
  }
  // Well before the 15 s keep-alive would have found out.
  BOOST_TEST(eventually(5s, [&] { return subscribers() == 0; }));
}

BOOST_AUTO_TEST_CASE(sigterm_and_sigint_drain_and_exit_0) {
  for (int sig : {SIGTERM, SIGINT}) {
    node_process node;
    node.process().signal(sig);
    BOOST_TEST(node.process().wait_exit(15s) .value_or(-1) == 0, "signal " << sig);
  }
}

BOOST_AUTO_TEST_CASE(restart_keeps_identity_and_resumes_the_event_stream) {
  temp_dir dir;
  std::string uuid;
  {
    node_process first({}, dir.path());
    uuid = first.info().node_uuid;
    first.process().signal(SIGTERM);
    BOOST_REQUIRE(first.process().wait_exit(15s) .value_or(-1) == 0);
  }
  node_process second({}, dir.path());
  BOOST_TEST(second.info().node_uuid == uuid);
  simdjson::dom::parser p;
  auto health = parse(p, http_call(second.http(), "GET", "/admin/health").body);
  BOOST_TEST(health["boot_epoch"].get_int64().value() == 2);
  // The first run recorded NODE_STARTED and its one-voter cluster's LEADER_CHANGED (events 1 and
  // 2, in either order, or LEADER_CHANGED after NODE_STOPPING); resuming after 1 replays the rest, up to this
  // run's NODE_STARTED (recorded before the node reports ready).
  sse_stream resumed(second.http(), "/events", {{"Authorization", "Bearer " + second.token()},
                                                {"Last-Event-ID", "1"}});
  BOOST_TEST(resumed.read_until(": subscribed", 10s), resumed.text());
  const auto& replayed = resumed.text();
  // LEADER_CHANGED may be recorded before or after NODE_STOPPING when the first run is short.
  const auto stopping = replayed.find("event: NODE_STOPPING");
  BOOST_TEST(stopping != std::string::npos, replayed);
  BOOST_TEST(replayed.find("id: 2\n") != std::string::npos, replayed);
  BOOST_TEST(replayed.find("id: 3\n") != std::string::npos, replayed);
  BOOST_TEST(replayed.find("id: 1\n") == std::string::npos, replayed);
  BOOST_TEST(replayed.find("event: NODE_STARTED", stopping) != std::string::npos, replayed);
  // An id this node never issued cannot be resumed: the consumer is told to resync.
  sse_stream future(second.http(), "/events?last_event_id=999", bearer(second.token()));
  BOOST_TEST(future.read_until("event: reset", 10s));
  // Type filters apply to replay too.
  sse_stream filtered(second.http(), "/events?last_event_id=0&types=NODE_STOPPING",
                      bearer(second.token()));
  BOOST_TEST(filtered.read_until("event: NODE_STOPPING", 10s));
  BOOST_TEST(filtered.text().find("NODE_STARTED") == std::string::npos);
  auto bad = http_call(second.http(), "GET", "/events?types=NOPE", "", bearer(second.token()));
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.body.find("\"field\":\"types\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_node_per_data_dir) {
  node_process first;
  auto second = run_node_to_exit({"--data-dir=" + first.data_dir().string(), "--http-port=0",
                                  "--cluster-port=0"});
  BOOST_TEST(second.exit_code == 1);
  BOOST_TEST(second.err.find("another p2p-node") != std::string::npos, second.err);
  BOOST_TEST(http_call(first.http(), "GET", "/admin/health").status == 200);
}

BOOST_AUTO_TEST_CASE(busy_ports_make_the_node_exit_1) {
  node_process first;
  temp_dir dir;
  auto port_of = [](const std::string& address) { return address.substr(address.rfind(':') + 1); };
  auto http_taken = run_node_to_exit({"--data-dir=" + dir.path().string(),
                                      "--http-port=" + port_of(first.http()), "--cluster-port=0"});
  BOOST_TEST(http_taken.exit_code == 1);
  BOOST_TEST(http_taken.err.find("cannot listen for HTTP") != std::string::npos, http_taken.err);
  auto cluster_taken = run_node_to_exit({"--data-dir=" + dir.path().string(), "--http-port=0",
                                         "--cluster-port=" + port_of(first.info().cluster)});
  BOOST_TEST(cluster_taken.exit_code == 1);
  BOOST_TEST(cluster_taken.err.find("cannot listen on the cluster port") != std::string::npos,
             cluster_taken.err);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_a_message) {
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  const bad cases[] = {
      {{"--no-such-option"}, "unknown option"},
      {{"--http-port=http"}, "--http-port"},
      {{"--seeds=127.0.0.1:9"}, "needs --auth-token"},
      {{"--cluster-host=0.0.0.0"}, "not loopback"},
  };
  for (const auto& c : cases) {
    auto r = run_node_to_exit(c.args);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find(c.says) != std::string::npos, r.err);
  }
  auto help = run_node_to_exit({"--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(help.out.find("--enable-protocol-routes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(token_from_file_guards_every_route_but_health) {
  temp_dir dir;
  std::ofstream(dir.path() / "token") << "file-token\n";
  node_process node({"--auth-token-file=" + (dir.path() / "token").string()});
  BOOST_TEST(!std::filesystem::exists(node.data_dir() / "auth-token"));
  BOOST_TEST(http_call(node.http(), "GET", "/status", "", bearer("file-token")).status == 200);
  BOOST_TEST(http_call(node.http(), "GET", "/status", "", bearer("file-token2")).status == 401);
  BOOST_TEST(http_call(node.http(), "GET", "/metrics").status == 401);
  node_process open_metrics({"--metrics-open"});
  auto metrics = http_call(open_metrics.http(), "GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.header("Content-Type").rfind("text/plain", 0) == 0u);
  BOOST_TEST(metrics.body.find("p2p_uptime_seconds") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cluster_port_speaks_mutual_tls) {
  temp_dir certs;
  auto gen = std::string(P2P_SOURCE_DIR) + "/scripts/gen-certs.sh";
  child_process make(gen, {"--out", certs.path().string(), "node1", "node2"});
  BOOST_REQUIRE(make.wait_exit(60s) .value_or(-1) == 0);
  auto c = [&](const std::string& f) { return (certs.path() / f).string(); };
  node_process node({"--tls-cert=" + c("node1.pem"), "--tls-key=" + c("node1-key.pem"),
                     "--tls-ca=" + c("ca.pem"), "--cluster-host=0.0.0.0"});
  simdjson::dom::parser p;
  auto status = parse(p, http_call(node.http(), "GET", "/status", "", bearer(node.token())).body);
  BOOST_TEST(status["cluster"]["tls"].get_bool().value());
  // A peer with a certificate from the cluster CA completes the handshake; one without none.
  // TLS 1.2 so that a refused client certificate fails the handshake itself.
  auto handshake = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"s_client", "-connect", node.info().cluster, "-CAfile", c("ca.pem"),
                                  "-verify_return_error", "-brief", "-tls1_2"};
    args.insert(args.end(), extra.begin(), extra.end());
    child_process client("/usr/bin/openssl", args);
    auto code = client.wait_exit(20s);
    return std::make_pair(code.value_or(-1), client.err() + client.out());
  };
  auto with_cert = handshake({"-cert", c("node2.pem"), "-key", c("node2-key.pem")});
  BOOST_TEST(with_cert.second.find("CONNECTION ESTABLISHED") != std::string::npos, with_cert.second);
  auto without = handshake({});
  BOOST_TEST(without.second.find("CONNECTION ESTABLISHED") == std::string::npos, without.second);
  temp_dir strangers;
  child_process other_ca(gen, {"--out", strangers.path().string(), "intruder"});
  BOOST_REQUIRE(other_ca.wait_exit(60s).value_or(-1) == 0);
  auto s = [&](const std::string& f) { return (strangers.path() / f).string(); };
  auto foreign = handshake({"-cert", s("intruder.pem"), "-key", s("intruder-key.pem")});
  BOOST_TEST(foreign.second.find("CONNECTION ESTABLISHED") == std::string::npos, foreign.second);
}

BOOST_AUTO_TEST_SUITE_END()
