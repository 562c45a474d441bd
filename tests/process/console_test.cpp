// p2p-console against a real node: one-shot commands, output, exit codes, TLS.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <csignal>

#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

struct console_result {
  int exit_code;
  std::string out, err;
};

console_result run_console(const std::vector<std::string>& args) {
  child_process p(P2P_CONSOLE_BINARY, args);
  auto code = p.wait_exit(60s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "p2p-console did not exit");
  return {*code, p.out(), p.err()};
}

std::vector<std::string> with(const node_process& node, std::vector<std::string> args) {
  args.insert(args.begin(), "--data-dir=" + node.data_dir().string());
  return args;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(console)

BOOST_AUTO_TEST_CASE(one_shot_commands_answer_from_the_actors) {
  node_process node;
  auto actors = run_console(with(node, {"-c", "actors"}));
  BOOST_TEST(actors.exit_code == 0, actors.err);
  for (auto name : {"directory", "admin", "events", "front", "supervisor", "peers", "swim", "gossip"})
    BOOST_TEST(actors.out.find(std::string("\n") + name + " ") != std::string::npos, name);
  BOOST_TEST(actors.out.find("MAILBOX") != std::string::npos);

  auto listed = run_console(with(node, {"--json", "-c", "actors"}));
  BOOST_TEST(listed.exit_code == 0);
  simdjson::dom::parser p;
  simdjson::dom::array rows;
  BOOST_REQUIRE(!p.parse(listed.out).get(rows));
  std::size_t running = 0;
  for (auto row : rows) {
    bool is_running = false;
    BOOST_TEST(!row["running"].get(is_running));
    simdjson::dom::object state;
    if (is_running) {
      ++running;
      BOOST_TEST(!row["state"].get(state));  // each state summary is a JSON object
    }
  }
  BOOST_TEST(running == 13u);

  auto admin = run_console(with(node, {"--json", "-c", "inspect admin"}));
  BOOST_TEST(admin.exit_code == 0);
  simdjson::dom::parser p2;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p2.parse(admin.out).get(doc));
  BOOST_TEST(std::string_view(doc["name"].get_string().value()) == "admin");
  BOOST_TEST(!doc["state"]["draining"].get_bool().value());
  BOOST_TEST(admin.out.find("\"log-level LEVEL\"") != std::string::npos);

  auto health = run_console(with(node, {"--json", "-c", "health"}));
  BOOST_TEST(health.exit_code == 0);
  BOOST_TEST(health.out.find("\"node_uuid\":\"" + node.info().node_uuid + "\"") != std::string::npos);

  auto changed = run_console(with(node, {"-c", "send admin log-level warn"}));
  BOOST_TEST(changed.exit_code == 0, changed.err);
  BOOST_TEST(changed.out.find("\"level\": \"warn\"") != std::string::npos, changed.out);
  auto status = http_call(node.http(), "GET", "/status", "", {{"Authorization", "Bearer " + node.token()}});
  BOOST_TEST(status.body.find("\"log_level\":\"warn\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(members_shows_swims_view_with_connections) {
  joined_cluster c(2, {"--swim-profile=local"});
  const std::vector<std::string> base{"--data-dir=" + c[0].data_dir().string()};
  auto args = [&](std::vector<std::string> more) {
    auto all = base;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  BOOST_REQUIRE(eventually(30s, [&] {
    auto listed = run_console(args({"--json", "-c", "members"}));
    return listed.exit_code == 0 && listed.out.find("\"node_id\":\"n01\",\"state\":\"alive\"") != std::string::npos;
  }));
  auto table = run_console(args({"-c", "members"}));
  BOOST_TEST(table.exit_code == 0, table.err);
  BOOST_TEST(table.out.rfind("NODE", 0) == 0u, table.out);
  auto line_of = [&](const std::string& id) {
    auto at = table.out.find("\n" + id + " ");
    return at == std::string::npos ? std::string() : table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
  };
  BOOST_TEST(line_of("n00").find("self") != std::string::npos, table.out);
  BOOST_TEST(line_of("n01").find("alive") != std::string::npos, table.out);
  BOOST_TEST(line_of("n01").find("connected") != std::string::npos, table.out);
}

BOOST_AUTO_TEST_CASE(raft_and_leader_show_the_replicated_log) {
  joined_cluster c(2, {"--voters=n00,n01", "--raft-profile=test", "--swim-profile=test"});
  const std::vector<std::string> base{"--data-dir=" + c[0].data_dir().string()};
  auto args = [&](std::vector<std::string> more) {
    auto all = base;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  console_result leader;
  BOOST_REQUIRE(eventually(30s, [&] {
    leader = run_console(args({"--json", "-c", "leader"}));
    return leader.exit_code == 0;
  }));
  BOOST_TEST((leader.out.find("\"leader_id\":\"n00\"") != std::string::npos ||
              leader.out.find("\"leader_id\":\"n01\"") != std::string::npos),
             leader.out);
  auto line = run_console(args({"-c", "leader"}));
  BOOST_TEST(line.out.find(", term ") != std::string::npos, line.out);
  // The leader's table lists its follower; a follower's shows its state.
  auto table = run_console(args({"-c", "raft"}));
  BOOST_TEST(table.exit_code == 0, table.err);
  BOOST_TEST(table.out.find("voters      n00,n01") != std::string::npos, table.out);
  const bool leads = line.out.find("(this node)") != std::string::npos;
  if (leads) BOOST_TEST(table.out.find("FOLLOWER") != std::string::npos, table.out);
  else BOOST_TEST(table.out.find("state       follower") != std::string::npos, table.out);
  auto json = run_console(args({"--json", "-c", "raft"}));
  BOOST_TEST(json.out.find("\"cluster_id\":\"") != std::string::npos, json.out);
}

BOOST_AUTO_TEST_CASE(elo_shows_the_store_and_the_rankings) {
  node_process node;
  auto stored = http_call(node.http(), "POST", "/elo/matches",
                          R"({"matches":[{"game_id":"g1","config_key":"hex8_2p","a":"strong","b":"weak","score":1,)"
                          R"("played_at":"2026-11-30T10:00:00.000Z"},{"game_id":"g2","config_key":"hex8_2p","a":"weak",)"
                          R"("b":"strong","score":0.5,"played_at":"2026-11-30T10:01:00.000Z"}]})",
                          {{"Authorization", "Bearer " + node.token()}});
  BOOST_TEST(stored.status == 200, stored.body);
  auto status = run_console(with(node, {"-c", "elo"}));
  BOOST_TEST(status.exit_code == 0, status.err);
  BOOST_TEST(status.out.find("games          2") != std::string::npos, status.out);
  BOOST_TEST(status.out.find("hex8_2p") != std::string::npos, status.out);
  auto table = run_console(with(node, {"-c", "elo hex8_2p"}));
  BOOST_TEST(table.out.find("1  strong") != std::string::npos, table.out);
  BOOST_TEST(table.out.find("1/1/0") != std::string::npos, table.out);
  auto classic = run_console(with(node, {"--json", "-c", "elo hex8_2p elo"}));
  BOOST_TEST(classic.out.find(R"("method":"elo")") != std::string::npos, classic.out);
  auto bad = run_console(with(node, {"-c", "elo hex8_2p glicko"}));
  BOOST_TEST(bad.exit_code == 2);
}

BOOST_AUTO_TEST_CASE(failures_have_distinct_exit_codes) {
  node_process node;
  auto unknown = run_console(with(node, {"-c", "inspect nobody"}));
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.err.find("no running actor named 'nobody'") != std::string::npos, unknown.err);
  auto bad_command = run_console(with(node, {"-c", "send admin reboot"}));
  BOOST_TEST(bad_command.exit_code == 1);
  BOOST_TEST(bad_command.err.find("no command 'reboot'") != std::string::npos, bad_command.err);
  auto bad_args = run_console(with(node, {"-c", "send admin log-level"}));
  BOOST_TEST(bad_args.exit_code == 1);
  auto usage = run_console(with(node, {"-c", "dance"}));
  BOOST_TEST(usage.exit_code == 2);
  BOOST_TEST(run_console({"--connect=nonsense"}).exit_code == 2);
  BOOST_TEST(run_console({"--no-such-flag"}).exit_code == 2);

  // A port nobody listens on: take one the OS gave a node that has since stopped.
  std::string dead;
  {
    node_process gone;
    dead = gone.info().cluster;
    gone.process().signal(SIGTERM);
    BOOST_REQUIRE(gone.process().wait_exit(15s).value_or(-1) == 0);
  }
  auto unreachable = run_console({"--connect=" + dead, "-c", "actors"});
  BOOST_TEST(unreachable.exit_code == 3);
  auto colon = dead.rfind(':');
  BOOST_TEST(unreachable.err.find(dead.substr(0, colon) + " port " + dead.substr(colon + 1)) !=
                 std::string::npos,
             unreachable.err);
  temp_dir empty;
  auto no_node = run_console({"--data-dir=" + empty.path().string(), "-c", "actors"});
  BOOST_TEST(no_node.exit_code == 3);
}

BOOST_AUTO_TEST_CASE(events_tail_follows_until_the_node_stops) {
  node_process node;
  child_process tail(P2P_CONSOLE_BINARY, with(node, {"--json", "-c", "events tail NODE_STOPPING"}));
  BOOST_REQUIRE(tail.wait_for_stderr("subscribed at event", 30s).has_value());
  auto reply = http_call(node.http(), "POST", "/admin/shutdown", "",
                         {{"Authorization", "Bearer " + node.token()}});
  BOOST_TEST(reply.status == 202);
  BOOST_TEST(tail.wait_exit(30s).value_or(-1) == 0);
  BOOST_TEST(tail.out().find("\"type\":\"NODE_STOPPING\"") != std::string::npos, tail.out());
  BOOST_TEST(tail.err().find("event stream ended") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(events_tail_stops_on_ctrl_c) {
  node_process node;
  child_process tail(P2P_CONSOLE_BINARY, with(node, {"-c", "events tail"}));
  BOOST_REQUIRE(tail.wait_for_stderr("subscribed at event", 30s).has_value());
  tail.signal(SIGINT);
  BOOST_TEST(tail.wait_exit(30s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(tls_cluster_needs_an_operator_certificate) {
  temp_dir certs;
  child_process make(std::string(P2P_SOURCE_DIR) + "/scripts/gen-certs.sh",
                     {"--out", certs.path().string(), "node1", "operator"});
  BOOST_REQUIRE(make.wait_exit(60s).value_or(-1) == 0);
  auto c = [&](const std::string& f) { return (certs.path() / f).string(); };
  node_process node({"--tls-cert=" + c("node1.pem"), "--tls-key=" + c("node1-key.pem"),
                     "--tls-ca=" + c("ca.pem")});
  auto ok = run_console({"--connect=" + node.info().cluster, "--tls-cert=" + c("operator.pem"),
                     "--tls-key=" + c("operator-key.pem"), "--tls-ca=" + c("ca.pem"), "-c", "health"});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  BOOST_TEST(ok.out.find("\"status\": \"ok\"") != std::string::npos);
  auto plain = run_console({"--connect=" + node.info().cluster, "--timeout-ms=3000", "-c", "health"});
  BOOST_TEST(plain.exit_code != 0);
}

BOOST_AUTO_TEST_CASE(work_shows_the_queue_counts_and_newest_items) {
  node_process node({"--raft-profile=test"});
  const header_list auth{{"Authorization", "Bearer " + node.token()}};
  http_reply added;
  BOOST_REQUIRE(eventually(30s, [&] {
    added = http_call(node.http(), "POST", "/work/add", R"({"items":[{"work_type":"selfplay"},{"work_type":"training"}]})",
                      auth);
    return added.status == 201;
  }));
  auto table = run_console(with(node, {"-c", "work"}));
  BOOST_TEST(table.exit_code == 0, table.err);
  BOOST_TEST(table.out.find("pending    2") != std::string::npos, table.out);
  BOOST_TEST(table.out.find("WORK_TYPE") != std::string::npos, table.out);
  BOOST_TEST(table.out.find("w-") != std::string::npos, table.out);
  auto json = run_console(with(node, {"--json", "-c", "work 1"}));
  BOOST_TEST(json.exit_code == 0, json.err);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(json.out).get(doc));
  BOOST_TEST(doc["total"].get_uint64().value() == 2u);
  BOOST_TEST(doc["recent"].get_array().value().size() == 1u);
  BOOST_TEST(doc["counts"]["by_type"]["training"]["pending"].get_uint64().value() == 1u);
  BOOST_TEST(run_console(with(node, {"-c", "work lots"})).exit_code != 0);
}

BOOST_AUTO_TEST_SUITE_END()
