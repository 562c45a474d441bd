// The elo domain across real nodes: games posted to different nodes reach every node through
// sync, and the rankings are bit-identical everywhere (the JSON bodies are compared byte for
// byte: numbers are written in their shortest round-trip form, so equal text is equal bits).
// With root, a real partition: three nodes in their own network namespaces take disjoint games
// while one is cut off, and agree on every number once the link is back.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <csignal>
#include <random>

#include "bench/harness/http_client.hpp"
#include "bench/harness/netns.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

// The cluster's bearer token, set by each test.
header_list auth;

// `count` games between players p0..p5 of growing strength, ids prefixed with `prefix`.
std::string games_body(const std::string& prefix, int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string body = R"({"matches":[)";
  for (int i = 0; i < count; ++i) {
    auto a = rng() % 6, b = (a + 1 + rng() % 5) % 6;
    const double p_a = 1 / (1 + std::pow(10.0, (static_cast<double>(b) - static_cast<double>(a)) * 50 / 400));
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const char* score = u < 0.1 ? "0.5" : u < 0.1 + 0.9 * p_a ? "1" : "0";
    if (i > 0) body += ",";
    body += R"({"game_id":")" + prefix + std::to_string(i) + R"(","config_key":"hex8_2p","a":"p)" + std::to_string(a) +
            R"(","b":"p)" + std::to_string(b) + R"(","score":)" + score +
            R"(,"played_at":"2026-11-30T10:00:00.000Z"})";
  }
  return body + "]}";
}

std::uint64_t accepted_of(const http_reply& reply, bool with_duplicates = false) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::uint64_t n = 0, duplicates = 0;
  if (reply.status != 200 || p.parse(reply.body).get(doc) || doc["accepted"].get(n) ||
      doc["duplicates"].get(duplicates))
    return 0;
  return with_duplicates ? n + duplicates : n;
}

std::uint64_t games_at(const std::string& http) {
  try {
    auto reply = http_call(http, "GET", "/elo/status", "", auth, 5s);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::uint64_t n = 0;
    if (reply.status != 200 || p.parse(reply.body).get(doc) || doc["games"].get(n)) return 0;
    return n;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string rankings_at(const std::string& http, const std::string& method) {
  return http_call(http, "GET", "/elo/rankings?config_key=hex8_2p&los=" + std::string(method == "bayes" ? "1" : "0") +
                                    "&method=" + method,
                   "", auth, 5s)
      .body;
}

// Every node holds `games` games and answers identical rankings by both methods.
bool converged(const std::vector<std::string>& https, std::uint64_t games) {
  for (const auto& h : https)
    if (games_at(h) != games) return false;
  for (const char* method : {"bayes", "elo"}) {
    const auto first = rankings_at(https[0], method);
    for (const auto& h : https)
      if (rankings_at(h, method) != first) return false;
  }
  return true;
}

bool all_alive(const std::vector<std::string>& https, std::size_t members) {
  for (const auto& h : https) {
    try {
      auto reply = http_call(h, "GET", "/swim/status", "", auth, 5s);
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      std::uint64_t alive = 0;
      if (reply.status != 200 || p.parse(reply.body).get(doc) || doc["alive"].get(alive) || alive != members)
        return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(elo_cluster)

BOOST_AUTO_TEST_CASE(games_posted_anywhere_reach_every_node_with_identical_rankings) {
  joined_cluster cluster(3, {"--swim-profile=test"});
  auth = {{"Authorization", "Bearer " + cluster.token()}};
  std::vector<std::string> https{cluster[0].http(), cluster[1].http(), cluster[2].http()};
  BOOST_REQUIRE(eventually(30s, [&] { return all_alive(https, 3); }));
  sse_stream updates(https[0], "/events?types=ELO_UPDATED", auth);
  BOOST_REQUIRE(updates.read_until("subscribed", 10s));
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", games_body("a", 300, 1), auth)) == 300u);
  // Announced once, debounced, with real numbers: new players have no old rating.
  BOOST_TEST(updates.read_until(R"("model_id":"p5","old_elo":null,"new_elo":)", 10s), updates.text());
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", games_body("z", 100, 9), auth)) == 100u);
  BOOST_TEST(updates.read_until(R"("model_id":"p5","old_elo":1)", 10s), updates.text());
  BOOST_TEST(accepted_of(http_call(https[1], "POST", "/elo/matches", games_body("b", 200, 2), auth)) == 200u);
  // The same games on another node: new records there, or duplicates if sync was faster.
  BOOST_TEST(accepted_of(http_call(https[2], "POST", "/elo/matches", games_body("a", 10, 1), auth), true) == 10u);
  BOOST_TEST(eventually(60s, [&] { return converged(https, 600); }));
  BOOST_TEST(rankings_at(https[0], "bayes").find(R"("games":600)") != std::string::npos);

  // A node restarted on its data dir keeps every game and catches up with those it missed.
  cluster.kill(2);
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", games_body("c", 50, 3), auth)) == 50u);
  cluster.restart(2);
  https[2] = cluster[2].http();
  BOOST_TEST(eventually(60s, [&] { return converged(https, 650); }));
}

BOOST_AUTO_TEST_CASE(disjoint_games_during_a_partition_converge_after_it_heals) {
  if (auto why = netns_lab::unavailable_reason(); !why.empty()) {
    BOOST_TEST_MESSAGE("skipped: " << why);
    return;
  }
  netns_lab lab(3);
  const std::string token = "elo-partition-token";
  auth = {{"Authorization", "Bearer " + token}};
  std::vector<temp_dir> dirs(3);
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> args{"--node-id=n" + std::to_string(i), "--auth-token=" + token, "--swim-profile=test",
                                  "--http-host=" + lab.http_host(i), "--cluster-host=" + lab.cluster_host(i),
                                  "--insecure-cluster"};
    if (i > 0) args.push_back("--seeds=" + nodes[0]->info().cluster);
    nodes.push_back(std::make_unique<node_process>(args, dirs[static_cast<std::size_t>(i)].path(), lab.launcher(i)));
  }
  std::vector<std::string> https{nodes[0]->http(), nodes[1]->http(), nodes[2]->http()};
  BOOST_REQUIRE(eventually(30s, [&] { return all_alive(https, 3); }));
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", games_body("before", 100, 1), auth)) == 100u);
  BOOST_REQUIRE(eventually(60s, [&] { return converged(https, 100); }));

  lab.cut(2, true);
  // The majority side sees n2 go; n2 sees both others go.
  BOOST_REQUIRE(eventually(60s, [&] {
    return all_alive({https[0], https[1]}, 2) && all_alive({https[2]}, 1);
  }));
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", games_body("left", 200, 2), auth)) == 200u);
  BOOST_TEST(accepted_of(http_call(https[1], "POST", "/elo/matches", games_body("middle", 150, 3), auth)) == 150u);
  BOOST_TEST(accepted_of(http_call(https[2], "POST", "/elo/matches", games_body("right", 120, 4), auth)) == 120u);
  // The same game on both sides (a duplicate), and another with differing content (a conflict
  // every node settles alike).
  BOOST_TEST(accepted_of(http_call(https[2], "POST", "/elo/matches", games_body("left", 5, 2), auth)) == 5u);
  auto disputed = [](const char* score) {
    return std::string(R"({"matches":[{"game_id":"disputed","config_key":"hex8_2p","a":"p1","b":"p2","score":)") +
           score + R"(,"played_at":"2026-11-30T11:00:00.000Z"}]})";
  };
  BOOST_TEST(accepted_of(http_call(https[0], "POST", "/elo/matches", disputed("1"), auth)) == 1u);
  BOOST_TEST(accepted_of(http_call(https[2], "POST", "/elo/matches", disputed("0"), auth)) == 1u);
  BOOST_TEST(eventually(60s, [&] { return converged({https[0], https[1]}, 451); }));
  BOOST_TEST(games_at(https[2]) == 100u + 120u + 5u + 1u);  // nothing crossed the cut

  lab.cut(2, false);
  BOOST_REQUIRE(eventually(90s, [&] { return all_alive(https, 3); }));
  BOOST_TEST(eventually(90s, [&] { return converged(https, 571); }));
  BOOST_TEST(rankings_at(https[2], "bayes").find(R"("games":571)") != std::string::npos);
  for (auto& n : nodes) n->process().signal(SIGTERM);
  for (auto& n : nodes) n->process().wait_exit(15s);
}

BOOST_AUTO_TEST_SUITE_END()
