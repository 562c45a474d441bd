// Membership with real processes: 16 p2p-node processes on 127.0.0.1 joined through one seed,
// a kill -9, a restart, a graceful leave, and a node id that is already taken.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <csignal>
#include <map>

#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

struct member_view {
  std::string state;
  std::uint64_t incarnation = 0;
};

// node id -> SWIM's view, as node `at` reports it (empty when it does not answer).
std::map<std::string, member_view> members_seen_by(joined_cluster& c, std::size_t at) {
  std::map<std::string, member_view> out;
  http_reply reply;
  try {
    reply = http_call(c[at].http(), "GET", "/swim/members", "", {{"Authorization", "Bearer " + c.token()}}, 5s);
  } catch (const std::exception&) {
    return out;
  }
  if (reply.status != 200) return out;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (p.parse(reply.body).get(doc) || doc["members"].get(list)) return out;
  for (auto m : list) {
    std::string_view id, state;
    std::uint64_t inc = 0;
    if (m["node_id"].get(id) || m["state"].get(state) || m["incarnation"].get(inc)) continue;
    out[std::string(id)] = {std::string(state), inc};
  }
  return out;
}

// Every running node except `about` sees `about` in `state`.
bool everyone_sees(joined_cluster& c, std::size_t about, const std::string& state,
                   std::uint64_t min_incarnation = 0) {
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i == about || !c.running(i)) continue;
    auto seen = members_seen_by(c, i);
    auto it = seen.find(joined_cluster::id(about));
    if (it == seen.end() || it->second.state != state || it->second.incarnation < min_incarnation)
      return false;
  }
  return true;
}

std::string describe(joined_cluster& c, std::size_t about) {
  std::string out;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i == about || !c.running(i)) continue;
    auto seen = members_seen_by(c, i);
    auto it = seen.find(joined_cluster::id(about));
    out += joined_cluster::id(i) + ":" + (it == seen.end() ? "?" : it->second.state) + " ";
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(membership)

BOOST_AUTO_TEST_CASE(sixteen_nodes_join_detect_a_crash_readmit_a_restart_and_see_a_leave) {
  joined_cluster c(16, {"--swim-profile=local"});
  const auto n = c.size();

  // Joined through one seed, every node lists all 16 alive.
  bool converged = eventually(60s, [&] {
    for (std::size_t i = 0; i < n; ++i) {
      auto seen = members_seen_by(c, i);
      if (seen.size() != n) return false;
      for (const auto& [id, m] : seen)
        if (m.state != "alive") return false;
    }
    return true;
  });
  BOOST_REQUIRE_MESSAGE(converged, "not all 16 nodes list 16 alive members");

  // Gossip carries each node's NodeInfo: endpoints and work types of everyone.
  auto peers = http_call(c[3].http(), "GET", "/gossip/peers", "", {{"Authorization", "Bearer " + c.token()}});
  BOOST_TEST(peers.status == 200);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(peers.body).get(doc));
  simdjson::dom::array listed;
  BOOST_REQUIRE(!doc["peers"].get(listed));
  BOOST_TEST(listed.size() == n);
  for (auto peer : listed) {
    std::string_view id, cluster;
    BOOST_TEST(!peer["node_id"].get(id));
    BOOST_TEST(!peer["info"]["cluster"].get(cluster));
    BOOST_TEST(!cluster.empty(), id);
    simdjson::dom::array types;
    BOOST_TEST(!peer["info"]["work_types"].get(types));
  }

  // kill -9: every other node marks it dead.
  const std::size_t victim = 5;
  c.kill(victim);
  BOOST_REQUIRE_MESSAGE(eventually(60s, [&] { return everyone_sees(c, victim, "dead"); }),
                        "not everyone saw the crash: " << describe(c, victim));
  std::uint64_t dead_incarnation = 0;
  for (const auto& [id, m] : members_seen_by(c, 0))
    if (id == joined_cluster::id(victim)) dead_incarnation = m.incarnation;

  // Restarted on its data dir, it is alive again everywhere with a higher incarnation.
  c.restart(victim);
  BOOST_REQUIRE_MESSAGE(
      eventually(60s, [&] { return everyone_sees(c, victim, "alive", dead_incarnation + 1); }),
      "the restarted node was not readmitted: " << describe(c, victim));

  // A graceful leave is "left", never "dead".
  const std::size_t leaver = 9;
  BOOST_TEST(c.stop(leaver).value_or(-1) == 0);
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return everyone_sees(c, leaver, "left"); }),
                        "not everyone saw the leave: " << describe(c, leaver));

  // Metrics count the verdicts (polled: a passing suspicion may be under way at any moment).
  std::string metrics;
  bool counted = eventually(20s, [&] {
    metrics = http_call(c[0].http(), "GET", "/metrics", "", {{"Authorization", "Bearer " + c.token()}}).body;
    return metrics.find("p2p_swim_members{state=\"left\"} 1") != std::string::npos &&
           metrics.find("p2p_swim_members{state=\"alive\"} 15") != std::string::npos;
  });
  BOOST_TEST(counted, metrics);
  BOOST_TEST(metrics.find("p2p_swim_suspicions_total 0") == std::string::npos);

  // The node-scoped events record the crash and the leave, with their reasons.
  sse_stream events(c[0].http(), "/events?types=HOST_OFFLINE&last_event_id=0",
                    {{"Authorization", "Bearer " + c.token()}});
  BOOST_TEST(events.read_until("\"reason\":\"left\"", 10s), events.text());
  BOOST_TEST(events.text().find("\"node_id\":\"" + joined_cluster::id(victim) + "\"") != std::string::npos);
  BOOST_TEST(events.text().find("\"reason\":\"failed\"") != std::string::npos);
  // HOST_ONLINE names what each node runs (from its gossiped NodeInfo).
  sse_stream online(c[0].http(), "/events?types=HOST_ONLINE&last_event_id=0",
                    {{"Authorization", "Bearer " + c.token()}});
  BOOST_TEST(online.read_until("\"node_id\":\"" + joined_cluster::id(n - 1) + "\"", 10s), online.text());
  BOOST_TEST(online.text().find("\"work_types\":[]") == std::string::npos, online.text());
  BOOST_TEST(online.text().find("\"work_types\":[\"selfplay\",\"training\",\"match\"]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_node_id_alive_under_another_uuid_is_refused) {
  joined_cluster c(2, {"--swim-profile=local"});
  BOOST_REQUIRE(eventually(30s, [&] { return members_seen_by(c, 0).size() == 2u; }));
  // Another process (its own data dir, so another node_uuid) claims n01's id.
  temp_dir other("p2p-impostor");
  child_process impostor(node_binary(), {"--data-dir=" + other.path().string(), "--http-port=0",
                                         "--cluster-port=0", "--node-id=" + joined_cluster::id(1),
                                         "--auth-token=" + c.token(), "--swim-profile=local",
                                         "--seeds=" + c[0].info().cluster});
  auto code = impostor.wait_exit(30s);
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == 1);
  BOOST_TEST(impostor.err().find("already alive in this cluster") != std::string::npos, impostor.err());
  // The real n01 is still alive everywhere.
  BOOST_TEST(everyone_sees(c, 1, "alive"));
}

BOOST_AUTO_TEST_CASE(a_join_keeps_trying_until_a_seed_answers) {
  // The seed is not there yet: the node starts, retries, and joins once the seed appears.
  temp_dir seed_dir("p2p-late-seed");
  // Reserve a port for the seed by starting it once and stopping it.
  std::string seed_endpoint;
  {
    node_process probe({"--node-id=late-seed", "--auth-token=t"}, seed_dir.path());
    seed_endpoint = probe.info().cluster;
    probe.process().signal(SIGTERM);
    probe.process().wait_exit(15s);
  }
  auto port = seed_endpoint.substr(seed_endpoint.rfind(':') + 1);
  node_process joiner({"--node-id=joiner", "--auth-token=t", "--swim-profile=local", "--seeds=" + seed_endpoint});
  BOOST_TEST(joiner.process().wait_for_stderr("cannot join through any seed", 15s).has_value());
  node_process seed({"--node-id=late-seed", "--auth-token=t", "--swim-profile=local", "--cluster-port=" + port},
                    seed_dir.path());
  BOOST_TEST(joiner.process().wait_for_stderr("joined the cluster", 30s).has_value(), joiner.process().err());
}

BOOST_AUTO_TEST_SUITE_END()
