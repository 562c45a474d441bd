// Raft with real processes: three voters elect a leader; kill -9 the leader and a new one
// commits; the old one restarts and catches up; every acknowledged write survives; a fourth
// voter is added and one removed while writes go on.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

struct raft_view {
  bool answered = false;
  std::string state;
  std::string leader;
  std::uint64_t term = 0;
  std::uint64_t commit = 0;
  std::uint64_t applied = 0;
  std::string cluster_id;
  std::set<std::string> voters;
};

raft_view raft_status(joined_cluster& c, std::size_t i) {
  raft_view v;
  if (!c.running(i)) return v;
  http_reply reply;
  try {
    reply = http_call(c[i].http(), "GET", "/raft/status", "", {{"Authorization", "Bearer " + c.token()}}, 5s);
  } catch (const std::exception&) {
    return v;
  }
  if (reply.status != 200) return v;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(reply.body).get(doc)) return v;
  v.answered = true;
  std::string_view s;
  if (!doc["state"].get(s)) v.state = s;
  if (!doc["leader_id"].get(s)) v.leader = s;
  if (!doc["cluster_id"].get(s)) v.cluster_id = s;
  if (doc["term"].get(v.term) || doc["commit_index"].get(v.commit) || doc["last_applied"].get(v.applied))
    v.answered = false;
  simdjson::dom::array voters;
  if (!doc["voters"].get(voters))
    for (auto x : voters)
      if (!x.get(s)) v.voters.insert(std::string(s));
  return v;
}

// The index of the node every running voter follows, once they agree.
std::optional<std::size_t> agreed_leader(joined_cluster& c, const std::set<std::size_t>& voters) {
  std::string leader;
  for (auto i : voters) {
    if (!c.running(i)) continue;
    auto v = raft_status(c, i);
    if (!v.answered || v.leader.empty()) return std::nullopt;
    if (!leader.empty() && v.leader != leader) return std::nullopt;
    leader = v.leader;
  }
  for (std::size_t i = 0; i < c.size(); ++i)
    if (joined_cluster::id(i) == leader && c.running(i) && raft_status(c, i).state == "leader") return i;
  return std::nullopt;
}

std::string kv_body(const std::string& key, const std::string& value) {
  return R"({"key":")" + key + R"(","value":")" + value + R"("})";
}

int put(joined_cluster& c, std::size_t i, const std::string& key, const std::string& value) {
  try {
    return http_call(c[i].http(), "POST", "/raft/kv", kv_body(key, value),
                     {{"Authorization", "Bearer " + c.token()}}, 15s)
        .status;
  } catch (const std::exception&) {
    return 0;
  }
}

// key -> value as node i answers (linearizable unless `stale`).
std::optional<std::string> get(joined_cluster& c, std::size_t i, const std::string& key, bool stale = false) {
  auto target = "/raft/kv?key=" + key + (stale ? "&stale=1" : "");
  auto reply = http_call(c[i].http(), "GET", target, "", {{"Authorization", "Bearer " + c.token()}}, 15s);
  if (reply.status != 200) return std::nullopt;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(reply.body).get(doc)) return std::nullopt;
  std::string_view v;
  if (doc["value"].get(v)) return std::nullopt;
  return std::string(v);
}

// Writes keys one after another from a thread, to whichever node is given, retrying on
// "no leader" answers; remembers what was acknowledged.
struct writer {
  writer(joined_cluster& cluster, std::string key_prefix, std::set<std::size_t> nodes)
      : c(cluster), prefix(std::move(key_prefix)), targets(std::move(nodes)) {}
  joined_cluster& c;
  std::string prefix;
  std::set<std::size_t> targets;
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread thread;

  void start() {
    thread = std::thread([this] {
      for (int k = 0; !stop; ++k) {
        std::string key = prefix;
        key.append(std::to_string(k));
        std::size_t target;
        {
          std::lock_guard lock(mutex);
          target = *std::next(targets.begin(), k % static_cast<int>(targets.size()));
        }
        if (!c.running(target)) continue;
        if (put(c, target, key, "v") == 200) {
          std::lock_guard lock(mutex);
          acknowledged.push_back(key);
        }
      }
    });
  }
  void finish() {
    stop = true;
    thread.join();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(raft_cluster)

BOOST_AUTO_TEST_CASE(three_voters_survive_a_leader_crash_and_change_membership_under_writes) {
  joined_cluster c(4, {"--voters=n00,n01,n02", "--raft-profile=test", "--swim-profile=test",
                       "--raft-snapshot-every=50"});
  const std::set<std::size_t> voters{0, 1, 2};
  std::optional<std::size_t> leader;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (leader = agreed_leader(c, voters)).has_value(); }),
                        "the three voters did not agree on a leader");
  const auto cluster_id = raft_status(c, *leader).cluster_id;
  BOOST_TEST(cluster_id.size() == 32u);
  BOOST_TEST(raft_status(c, 3).state == "non_voter");

  // Writes through the leader and through a follower (forwarded) are acknowledged.
  std::vector<std::string> acknowledged;
  const std::size_t follower = (*leader + 1) % 3;
  for (int k = 0; k < 60; ++k) {
    std::string key = "before";
    key.append(std::to_string(k));
    BOOST_REQUIRE(put(c, k % 2 ? *leader : follower, key, "v") == 200);
    acknowledged.push_back(key);
  }
  BOOST_TEST(get(c, follower, "before59").value_or("") == "v");
  auto metrics = http_call(c[*leader].http(), "GET", "/metrics", "", {{"Authorization", "Bearer " + c.token()}}).body;
  BOOST_TEST(metrics.find("p2p_raft_leader 1") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("p2p_raft_follower_lag{follower=") != std::string::npos, metrics);

  // kill -9 the leader: the other two elect a new one that commits.
  const auto old_leader = *leader;
  c.kill(old_leader);
  std::set<std::size_t> survivors = voters;
  survivors.erase(old_leader);
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (leader = agreed_leader(c, survivors)).has_value(); }),
                        "no new leader after the crash");
  BOOST_TEST(*leader != old_leader);
  bool committed = eventually(30s, [&] { return put(c, *leader, "after-crash", "v") == 200; });
  BOOST_REQUIRE_MESSAGE(committed, "the new leader does not commit");
  acknowledged.push_back("after-crash");

  // The old leader restarts on its data dir and catches up.
  c.restart(old_leader);
  const auto target = raft_status(c, *leader).commit;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return raft_status(c, old_leader).applied >= target; }),
                        "the restarted node does not catch up");
  BOOST_TEST(raft_status(c, old_leader).cluster_id == cluster_id);
  for (const auto& key : acknowledged) BOOST_TEST(get(c, old_leader, key, true).value_or("") == "v", key);

  // Writes go on while the fourth node becomes a voter and one voter leaves.
  writer w(c, "during", {0, 1, 2});
  w.start();
  auto members = [&](std::size_t via, const std::string& body) {
    return http_call(c[via].http(), "POST", "/raft/members", body, {{"Authorization", "Bearer " + c.token()}}, 60s);
  };
  auto added = members(follower == *leader ? old_leader : follower, R"({"add":"n03"})");
  BOOST_REQUIRE_MESSAGE(added.status == 200, added.body);
  BOOST_TEST(added.body.find("\"n03\"") != std::string::npos, added.body);
  // Remove a voter that is not the leader (the leader could remove itself too: it would step down).
  leader = agreed_leader(c, {0, 1, 2, 3});
  BOOST_REQUIRE(leader.has_value());
  std::size_t leaving = 0;
  while (leaving == *leader || leaving == 3) ++leaving;
  {
    std::lock_guard lock(w.mutex);
    w.targets.erase(leaving);
  }
  auto removed = members(*leader, R"({"remove":")" + joined_cluster::id(leaving) + R"("})");
  BOOST_REQUIRE_MESSAGE(removed.status == 200, removed.body);
  // Let the writer acknowledge a few more under the new membership, then stop.
  std::size_t seen = 0;
  {
    std::lock_guard lock(w.mutex);
    seen = w.acknowledged.size();
  }
  eventually(30s, [&] {
    std::lock_guard lock(w.mutex);
    return w.acknowledged.size() >= seen + 20;
  });
  w.finish();
  BOOST_TEST(w.acknowledged.size() >= seen + 20);

  std::set<std::size_t> final_voters{0, 1, 2, 3};
  final_voters.erase(leaving);
  std::set<std::string> expected_ids;
  for (auto i : final_voters) expected_ids.insert(joined_cluster::id(i));
  BOOST_REQUIRE(eventually(30s, [&] { return (leader = agreed_leader(c, final_voters)).has_value(); }));
  BOOST_TEST((raft_status(c, *leader).voters == expected_ids));
  // Every acknowledged write is there, read linearizably through the leader.
  for (const auto& key : acknowledged) BOOST_TEST(get(c, *leader, key).value_or("") == "v", key);
  for (const auto& key : w.acknowledged) BOOST_TEST(get(c, *leader, key).value_or("") == "v", key);
  // The new voter holds the log too.
  const auto commit = raft_status(c, *leader).commit;
  BOOST_TEST(eventually(30s, [&] { return raft_status(c, 3).applied >= commit; }));
  BOOST_TEST(raft_status(c, 3).state == "follower");
}

BOOST_AUTO_TEST_CASE(a_node_refuses_a_data_dir_bootstrapped_with_other_voters) {
  temp_dir dir("p2p-raft-dir");
  {
    node_process first({"--node-id=a", "--auth-token=t"}, dir.path());
    first.process().signal(SIGTERM);
    BOOST_TEST(first.process().wait_exit(30s).value_or(-1) == 0);
  }
  child_process again(node_binary(), {"--node-id=a", "--auth-token=t", "--data-dir=" + dir.path().string(),
                                      "--http-port=0", "--cluster-port=0", "--voters=a,b,c"});
  auto code = again.wait_exit(30s);
  BOOST_TEST(code.value_or(0) != 0);
  BOOST_TEST(again.err().find("bootstrapped with voters a") != std::string::npos, again.err());
}

BOOST_AUTO_TEST_SUITE_END()
