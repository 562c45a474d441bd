// The work queue over HTTP with real processes: the lifecycle of an item on one node, every error
// code, idempotency replays, long-poll claims woken by an add, cancellation seen by a heartbeat,
// retention into the archive; and three voters where the leader dies with items claimed: the new
// leader keeps the live claims (a term change revokes nothing) and hands back the dead
// claimant's items.
#include <boost/test/unit_test.hpp>
#include <signal.h>
#include <simdjson.h>

#include <future>
#include <set>

#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

// A reply with its body parsed (when it is JSON).
struct answer {
  int status = 0;
  std::string body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool json = false;

  std::string text(std::string_view key) {
    std::string_view v;
    if (!json || doc[key].get(v)) return {};
    return std::string(v);
  }
  std::string detail(std::string_view key) {
    std::string_view v;
    if (!json || doc["details"][key].get(v)) return {};
    return std::string(v);
  }
  std::string code() { return text("code"); }
};

std::unique_ptr<answer> call(const std::string& http, const std::string& token, const std::string& method,
                             const std::string& target, const std::string& body = "",
                             std::chrono::milliseconds timeout = 15s) {
  auto a = std::make_unique<answer>();
  try {
    auto r = http_call(http, method, target, body, {{"Authorization", "Bearer " + token}}, timeout);
    a->status = r.status;
    a->body = r.body;
    a->json = !a->parser.parse(a->body).get(a->doc);
  } catch (const std::exception& e) {
    a->body = e.what();
  }
  return a;
}

struct work_node {
  node_process node;
  std::string token = node.token();

  explicit work_node(std::vector<std::string> extra = {}, std::optional<std::filesystem::path> data_dir = std::nullopt)
      : node(with_profiles(std::move(extra)), std::move(data_dir)) {
    // The one-voter cluster elects itself right after start.
    BOOST_REQUIRE(eventually(30s, [&] {
      return get("/raft/status")->body.find(R"("state":"leader")") != std::string::npos;
    }));
  }
  static std::vector<std::string> with_profiles(std::vector<std::string> extra) {
    extra.push_back("--raft-profile=test");
    extra.push_back("--swim-profile=test");
    return extra;
  }
  std::unique_ptr<answer> post(const std::string& path, const std::string& body, std::chrono::milliseconds t = 15s) {
    return call(node.http(), token, "POST", path, body, t);
  }
  std::unique_ptr<answer> get(const std::string& target) { return call(node.http(), token, "GET", target); }
};

std::string first_id(answer& a) {
  std::string_view id;
  if (a.doc["work_ids"].at(0).get(id)) return {};
  return std::string(id);
}

struct claimed_item {
  std::string work_id, token;
};
std::vector<claimed_item> claimed(answer& a) {
  std::vector<claimed_item> out;
  simdjson::dom::array items;
  if (!a.json || a.doc["items"].get(items)) return out;
  for (auto x : items) {
    std::string_view id, token;
    if (!x["work_id"].get(id) && !x["claim_token"].get(token)) out.push_back({std::string(id), std::string(token)});
  }
  return out;
}

std::string lease_body(const std::string& id, const std::string& token, const std::string& extra = "") {
  std::string body = R"({"work_id":")";
  body.append(id).append(R"(","claim_token":")").append(token).append("\"").append(extra).append("}");
  return body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(work_cluster)

BOOST_AUTO_TEST_CASE(an_item_goes_from_add_to_completion_and_every_error_has_its_code) {
  work_node n;
  // add -> 201 with the new id.
  auto added = n.post("/work/add", R"({"work_type":"selfplay","priority":80,"config":{"board_type":"hex8","num_players":2}})");
  BOOST_REQUIRE_MESSAGE(added->status == 201, added->body);
  const auto id = first_id(*added);
  BOOST_REQUIRE(!id.empty());

  // claim -> the item with its token; nothing more to claim.
  auto got = n.post("/work/claim", R"({"node_id":"runner-1","work_types":["selfplay"],"max_items":4})");
  BOOST_REQUIRE_MESSAGE(got->status == 200, got->body);
  BOOST_TEST(got->text("status") == "claimed");
  auto items = claimed(*got);
  BOOST_REQUIRE(items.size() == 1u);
  BOOST_TEST(items[0].work_id == id);
  const auto token = items[0].token;
  auto none = n.post("/work/claim", R"({"node_id":"runner-1"})");
  BOOST_TEST(none->body == R"({"status":"no_work"})");

  // start, heartbeats with progress, complete; a repeat is a duplicate.
  auto started = n.post("/work/start", lease_body(id, token));
  BOOST_TEST(started->status == 200, started->body);
  BOOST_TEST(started->text("status") == "running");
  auto beat = n.post("/work/heartbeat", lease_body(id, token, R"(,"progress":0.5,"message":"half way")"));
  BOOST_TEST(beat->status == 200, beat->body);
  BOOST_TEST(beat->text("status") == "running");
  auto done = n.post("/work/complete", lease_body(id, token, R"(,"result":{"games_generated":100})"));
  BOOST_TEST(done->status == 200, done->body);
  BOOST_TEST(done->body == R"({"status":"completed"})");
  auto again = n.post("/work/complete", lease_body(id, token, R"(,"result":{"games_generated":100})"));
  BOOST_TEST(again->body == R"({"status":"duplicate"})");

  // status: leader-read and stale, times in RFC 3339 UTC with ms.
  for (std::string q : {"", "&stale=1"}) {
    auto status = n.get("/work/status?work_id=" + id + q);
    BOOST_REQUIRE_MESSAGE(status->status == 200, status->body);
    BOOST_TEST(status->text("status") == "completed");
    BOOST_TEST(status->text("config_key") == "hex8_2p");
    const auto created = status->text("created_at");
    BOOST_TEST(created.size() == 24u, created);
    BOOST_TEST(created.back() == 'Z');
    BOOST_TEST(status->body.find(R"("result":{"games_generated":100})") != std::string::npos, status->body);
  }
  auto listed = n.get("/work/list?status=completed&work_type=selfplay");
  BOOST_REQUIRE(listed->status == 200);
  BOOST_TEST(listed->doc["items"].get_array().value().size() == 1u);
  BOOST_TEST(listed->doc["counts"]["by_status"]["completed"].get_uint64().value() == 1u);
  BOOST_TEST(listed->doc["counts"]["by_type"]["selfplay"]["completed"].get_uint64().value() == 1u);
  BOOST_TEST(listed->doc["total"].get_uint64().value() == 1u);

  // Every error code the work routes give.
  auto stale = n.post("/work/complete", lease_body(id, "9.9"));
  BOOST_TEST(stale->status == 409);
  BOOST_TEST(stale->code() == "conflict");
  BOOST_TEST(stale->detail("current_status") == "completed");
  auto unknown = n.post("/work/complete", lease_body("w-999-0", "1.1"));
  BOOST_TEST(unknown->status == 404);
  BOOST_TEST(unknown->code() == "not_found");
  BOOST_TEST(n.get("/work/status?work_id=w-999-0")->status == 404);
  BOOST_TEST(n.post("/work/heartbeat", lease_body("w-999-0", "1.1"))->status == 404);
  auto priority = n.post("/work/add", R"({"work_type":"x","priority":101})");
  BOOST_TEST(priority->status == 400);
  BOOST_TEST(priority->detail("field") == "priority");
  auto both = n.post("/work/add", R"({"work_type":"x","items":[{"work_type":"y"}]})");
  BOOST_TEST(both->status == 400);
  BOOST_TEST(both->detail("field") == "work_type");
  auto dependency = n.post("/work/add", R"({"work_type":"x","depends_on":["w-404-0"]})");
  BOOST_TEST(dependency->status == 400);
  BOOST_TEST(dependency->detail("field") == "depends_on");
  std::string big = R"({"work_type":"x","config":{"blob":")";
  big.append(70 * 1024, 'a').append("\"}}");
  auto too_large = n.post("/work/add", big);
  BOOST_TEST(too_large->status == 413);
  BOOST_TEST(too_large->code() == "payload_too_large");
  BOOST_TEST(too_large->detail("field") == "config");
  auto bad_claim = n.post("/work/claim", R"({"node_id":"runner-1","max_items":0})");
  BOOST_TEST(bad_claim->status == 400);
  BOOST_TEST(bad_claim->detail("field") == "max_items");
  BOOST_TEST(n.get("/work/list?status=sleeping")->detail("field") == "status");

  // A result over 64 KiB is refused and the claim stays usable.
  auto second = n.post("/work/add", R"({"work_type":"training","max_attempts":2})");
  const auto id2 = first_id(*second);
  auto got2 = claimed(*n.post("/work/claim", R"({"node_id":"runner-1"})"));
  BOOST_REQUIRE(got2.size() == 1u);
  std::string big_result = R"(,"result":{"blob":")";
  big_result.append(70 * 1024, 'b').append("\"}");
  auto refused = n.post("/work/complete", lease_body(id2, got2[0].token, big_result));
  BOOST_TEST(refused->status == 413);
  BOOST_TEST(refused->detail("field") == "result");
  // fail (retryable) -> pending again; the next attempt fails for good.
  auto failed = n.post("/work/fail", lease_body(id2, got2[0].token, R"(,"error":"out of memory")"));
  BOOST_TEST(failed->body == R"({"status":"pending"})");
  auto got3 = claimed(*n.post("/work/claim", R"({"node_id":"runner-2"})"));
  BOOST_REQUIRE(got3.size() == 1u);
  BOOST_TEST(got3[0].token != got2[0].token);
  BOOST_TEST(n.post("/work/heartbeat", lease_body(id2, got2[0].token))->status == 409);  // the old claim is gone
  auto final_fail = n.post("/work/fail", lease_body(id2, got3[0].token, R"(,"error":"again","retryable":true)"));
  BOOST_TEST(final_fail->body == R"({"status":"failed"})");

  // Idempotency: the same key and body replay the first ids; another body is a conflict.
  const std::string batch = R"({"items":[{"work_type":"a"},{"work_type":"b","depends_on":["#0"]}],"idempotency_key":"batch-1"})";
  auto first = n.post("/work/add", batch);
  BOOST_REQUIRE(first->status == 201);
  BOOST_TEST(first->doc["replayed"].get_bool().value() == false);
  auto replay = n.post("/work/add", batch);
  BOOST_TEST(replay->status == 201);
  BOOST_TEST(replay->doc["replayed"].get_bool().value() == true);
  BOOST_TEST(first_id(*replay) == first_id(*first));
  auto reused = n.post("/work/add", R"({"work_type":"a","idempotency_key":"batch-1"})");
  BOOST_TEST(reused->status == 409);
  BOOST_TEST(reused->detail("field") == "idempotency_key");
  // A claim's request id replays the items it handed out instead of claiming more.
  auto by_request = n.post("/work/claim", R"({"node_id":"runner-3","request_id":"req-1"})");
  auto replayed_claim = n.post("/work/claim", R"({"node_id":"runner-3","request_id":"req-1"})");
  BOOST_REQUIRE(claimed(*by_request).size() == 1u);
  BOOST_TEST(claimed(*replayed_claim).size() == 1u);
  BOOST_TEST(claimed(*replayed_claim)[0].token == claimed(*by_request)[0].token);

  // The replicated events carry their log ids and pass the catalog.
  sse_stream events(n.node.http(), "/events?last_event_id=0", {{"Authorization", "Bearer " + n.token}});
  BOOST_TEST(events.read_until("event: SELFPLAY_COMPLETE", 10s), events.text());
  BOOST_TEST(events.text().find(R"("event_id":"r:)") != std::string::npos);
  BOOST_TEST(events.text().find(R"("scope":"cluster")") != std::string::npos);
  BOOST_TEST(events.text().find("event: WORK_QUEUED") != std::string::npos);

  auto metrics = n.get("/metrics");
  BOOST_TEST(metrics->body.find(R"(p2p_work_items{status="completed"} 1)") != std::string::npos, metrics->body);
  BOOST_TEST(metrics->body.find("p2p_work_items_by_type{work_type=\"selfplay\",status=\"completed\"} 1") !=
             std::string::npos);
  BOOST_TEST(metrics->body.find("p2p_work_claim_latency_seconds_count") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_long_poll_claim_wakes_for_new_work_and_a_cancel_stops_the_worker) {
  work_node n;
  // Nothing to claim: the claim waits, and an add wakes it long before its deadline.
  auto waiting = std::async(std::launch::async, [&] {
    return n.post("/work/claim", R"({"node_id":"runner-1","wait_s":30,"request_id":"poll-1"})", 60s);
  });
  BOOST_REQUIRE(eventually(20s, [&] {
    return n.get("/metrics")->body.find("p2p_work_waiting_claims 1") != std::string::npos;
  }));
  auto added = n.post("/work/add", R"({"work_type":"match"})");
  BOOST_REQUIRE(added->status == 201);
  const auto id = first_id(*added);
  BOOST_REQUIRE(waiting.wait_for(20s) == std::future_status::ready);
  auto woken = waiting.get();
  BOOST_TEST(woken->status == 200, woken->body);
  auto items = claimed(*woken);
  BOOST_REQUIRE(items.size() == 1u);
  BOOST_TEST(items[0].work_id == id);
  // A short wait with nothing to claim ends with no_work.
  auto nothing = n.post("/work/claim", R"({"node_id":"runner-1","wait_s":0.3})");
  BOOST_TEST(nothing->body == R"({"status":"no_work"})");

  // Cancel: the worker's next heartbeat is refused with details.cancel, and so is its completion.
  auto cancelled = n.post("/work/cancel", R"({"work_id":")" + id + R"(","reason":"operator"})");
  BOOST_TEST(cancelled->body == R"({"status":"cancelled"})");
  auto beat = n.post("/work/heartbeat", lease_body(id, items[0].token));
  BOOST_TEST(beat->status == 409, beat->body);
  BOOST_TEST(beat->detail("current_status") == "cancelled");
  BOOST_TEST(beat->doc["details"]["cancel"].get_bool().value() == true);
  auto late = n.post("/work/complete", lease_body(id, items[0].token));
  BOOST_TEST(late->status == 409);
  BOOST_TEST(late->detail("current_status") == "cancelled");
  BOOST_TEST(n.post("/work/cancel", R"({"work_id":"w-404-0"})")->status == 404);
}

BOOST_AUTO_TEST_CASE(claims_match_requirements_against_the_nodes_gossiped_labels_and_types) {
  work_node n({"--node-id=w1", "--label=pool=fast", "--work-types=selfplay"});
  auto added = n.post("/work/add", R"({"items":[)"
                                   R"({"work_type":"selfplay","config":{"requires":{"labels":{"pool":"slow"}}}},)"
                                   R"({"work_type":"selfplay","config":{"requires":{"labels":{"pool":"fast"}}}},)"
                                   R"({"work_type":"selfplay","config":{"target_node":"elsewhere"}},)"
                                   R"({"work_type":"exotic"}]})");
  BOOST_REQUIRE_MESSAGE(added->status == 201, added->body);
  std::vector<std::string> ids;
  simdjson::dom::array listed;
  BOOST_REQUIRE(!added->doc["work_ids"].get(listed));
  for (auto id : listed) {
    std::string_view text;
    if (!id.get(text)) ids.emplace_back(text);
  }
  BOOST_REQUIRE(ids.size() == 4u);
  // w1's gossiped record says pool=fast and selfplay only: one item fits.
  auto mine = claimed(*n.post("/work/claim", R"({"node_id":"w1","max_items":10})"));
  BOOST_REQUIRE(mine.size() == 1u);
  BOOST_TEST(mine[0].work_id == ids[1]);
  // Naming work types overrides the gossiped ones.
  auto exotic = claimed(*n.post("/work/claim", R"({"node_id":"w1","work_types":["exotic"]})"));
  BOOST_REQUIRE(exotic.size() == 1u);
  BOOST_TEST(exotic[0].work_id == ids[3]);
  // An item aimed at a node goes to that node only.
  BOOST_TEST(claimed(*n.post("/work/claim", R"({"node_id":"stranger","work_types":["selfplay"]})")).size() == 0u);
  auto aimed = claimed(*n.post("/work/claim", R"({"node_id":"elsewhere","work_types":["selfplay"]})"));
  BOOST_REQUIRE(aimed.size() == 1u);
  BOOST_TEST(aimed[0].work_id == ids[2]);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_429_and_finished_items_move_to_the_archive) {
  work_node n({"--work-max-active=2", "--work-retention=1"});
  BOOST_REQUIRE(n.post("/work/add", R"({"items":[{"work_type":"a"},{"work_type":"a"}]})")->status == 201);
  auto full = n.post("/work/add", R"({"work_type":"a"})");
  BOOST_TEST(full->status == 429, full->body);
  BOOST_TEST(full->code() == "backpressure");
  // A finished item frees its place, and past retention it leaves for this node's archive.
  auto got = claimed(*n.post("/work/claim", R"({"node_id":"runner-1"})"));
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(n.post("/work/complete", lease_body(got[0].work_id, got[0].token))->status == 200);
  BOOST_TEST(n.post("/work/add", R"({"work_type":"a"})")->status == 201);
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return n.get("/work/status?work_id=" + got[0].work_id)->body.find(
                                                          R"("archived":true)") != std::string::npos; }),
                        "the completed item did not reach the archive");
  auto archived = n.get("/work/list?archived=1");
  BOOST_TEST(archived->status == 200);
  BOOST_TEST(archived->body.find(got[0].work_id) != std::string::npos, archived->body);
  BOOST_TEST(archived->doc["archived"].get_bool().value());
  auto live = n.get("/work/list");
  BOOST_TEST(live->body.find(got[0].work_id) == std::string::npos, live->body);
  BOOST_TEST(live->doc["counts"]["by_status"]["pending"].get_uint64().value() == 2u);
}

BOOST_AUTO_TEST_CASE(a_new_leader_keeps_live_claims_and_reclaims_a_dead_claimants_items) {
  joined_cluster c(3, {"--voters=n00,n01,n02", "--raft-profile=test", "--swim-profile=test"});
  auto raft_leader = [&]() -> std::optional<std::size_t> {
    std::string leader;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!c.running(i)) continue;
      auto s = call(c[i].http(), c.token(), "GET", "/raft/status", "", 5s);
      if (s->status != 200) return std::nullopt;
      auto l = s->text("leader_id");
      if (l.empty() || (!leader.empty() && l != leader)) return std::nullopt;
      leader = l;
    }
    for (std::size_t i = 0; i < c.size(); ++i)
      if (joined_cluster::id(i) == leader && c.running(i)) return i;
    return std::nullopt;
  };
  std::optional<std::size_t> leader;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (leader = raft_leader()).has_value(); }), "no leader");
  const std::size_t follower = (*leader + 1) % 3;
  auto on = [&](std::size_t i, const std::string& path, const std::string& body) {
    return call(c[i].http(), c.token(), "POST", path, body);
  };

  // Two items with long leases, added through a follower (forwarded to the leader).
  auto added = on(follower, "/work/add", R"({"items":[{"work_type":"selfplay","lease_s":600},{"work_type":"selfplay","lease_s":600}]})");
  BOOST_REQUIRE_MESSAGE(added->status == 201, added->body);
  // One claimed by the follower, one by the leader's node.
  auto mine = claimed(*on(follower, "/work/claim", R"({"node_id":")" + joined_cluster::id(follower) + R"("})"));
  auto doomed = claimed(*on(*leader, "/work/claim", R"({"node_id":")" + joined_cluster::id(*leader) + R"("})"));
  BOOST_REQUIRE(mine.size() == 1u);
  BOOST_REQUIRE(doomed.size() == 1u);
  BOOST_TEST(on(follower, "/work/heartbeat", lease_body(mine[0].work_id, mine[0].token))->status == 200);

  // kill -9 the leader: the survivors elect another.
  const auto old_leader = *leader;
  c.kill(old_leader);
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (leader = raft_leader()).has_value() && *leader != old_leader; }),
                        "no new leader");

  // The live claim survives the term change: heartbeats (forwarded to the new leader) and the
  // completion are accepted with the old token.
  std::unique_ptr<answer> beat;
  BOOST_REQUIRE(eventually(30s, [&] {
    beat = on(follower, "/work/heartbeat", lease_body(mine[0].work_id, mine[0].token, R"(,"progress":0.9)"));
    return beat->status != 503;
  }));
  BOOST_TEST(beat->status == 200, beat->body);
  auto status = call(c[*leader].http(), c.token(), "GET", "/work/status?work_id=" + mine[0].work_id);
  BOOST_TEST(status->text("status") == "running", status->body);
  BOOST_TEST(status->text("claim_token") == mine[0].token);
  auto done = on(*leader, "/work/complete", lease_body(mine[0].work_id, mine[0].token));
  BOOST_TEST(done->body == R"({"status":"completed"})");

  // The dead node's claim comes back to pending once SWIM declares it dead.
  // The message is a string of its own: Boost may evaluate it before the condition has run.
  std::unique_ptr<answer> back = std::make_unique<answer>();
  std::string last_answer = "no answer yet";
  BOOST_REQUIRE_MESSAGE(eventually(60s, [&] {
    back = call(c[*leader].http(), c.token(), "GET", "/work/status?work_id=" + doomed[0].work_id);
    last_answer = back->body;
    return back->text("status") == "pending";
  }), last_answer);
  BOOST_TEST(back->text("error") == "claimant_dead", back->body);
  auto reclaimed = claimed(*on(follower, "/work/claim", R"({"node_id":")" + joined_cluster::id(follower) + R"("})"));
  BOOST_REQUIRE(reclaimed.size() == 1u);
  BOOST_TEST(reclaimed[0].work_id == doomed[0].work_id);
  BOOST_TEST(on(follower, "/work/complete", lease_body(doomed[0].work_id, doomed[0].token))->status == 409);
  // Every surviving voter answers the same from its own state.
  const auto commit_target = reclaimed[0].token;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.running(i)) continue;
    BOOST_TEST(eventually(20s, [&] {
      return call(c[i].http(), c.token(), "GET", "/work/status?stale=1&work_id=" + doomed[0].work_id)->text("claim_token") ==
             commit_target;
    }));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// The runner: items of configured work types run as child processes on the node that claimed
// them, their outcomes reported to the queue.
BOOST_AUTO_TEST_SUITE(runner)

namespace {

const std::string child = P2P_RUNNER_CHILD_BINARY;

std::string work_type_arg(const std::string& type, const std::string& command) {
  return std::string("--work-type=").append(type).append("=").append(command);
}

// The item once it reached `wanted` (or whatever it was at the deadline).
std::unique_ptr<answer> await_status(work_node& n, const std::string& id, const std::string& wanted,
                                     std::chrono::milliseconds timeout = 30s) {
  std::unique_ptr<answer> last = std::make_unique<answer>();
  eventually(timeout, [&] {
    last = n.get("/work/status?work_id=" + id);
    return last->text("status") == wanted;
  });
  return last;
}

std::string add_one(work_node& n, const std::string& body) {
  auto added = n.post("/work/add", body);
  BOOST_REQUIRE_MESSAGE(added->status == 201, added->body);
  return first_id(*added);
}

std::uint64_t count_of(answer& a, std::string_view key) {
  std::uint64_t v = 0;
  if (!a.json || a.doc["counts"][key].get(v)) return 0;
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(items_run_as_processes_and_every_outcome_reaches_the_queue) {
  work_node n({work_type_arg("env", child + " env"), work_type_arg("steps", child + " progress 3"),
               work_type_arg("exits", child + " exit 3 5"), work_type_arg("missing", "/nonexistent/p2p-program --x"),
               work_type_arg("sleeps", child + " sleep"), "--runner-slots=steps=2", "--node-id=test-node"});
  auto status = n.get("/runner/status");
  BOOST_REQUIRE_MESSAGE(status->status == 200, status->body);
  BOOST_TEST(status->body.find(R"("work_type":"steps","argv":[")" + child + R"(","progress","3"],"slots":2)") !=
                 std::string::npos,
             status->body);

  // The program gets the item and the P2P_* variables; its result file becomes the result.
  const auto env_id = add_one(n, R"({"work_type":"env","config":{"board_type":"hex8"}})");
  auto env = await_status(n, env_id, "completed");
  BOOST_REQUIRE_MESSAGE(env->text("status") == "completed", env->body);
  simdjson::dom::element result;
  BOOST_REQUIRE(!env->doc["result"].get(result));
  std::string_view seen;
  BOOST_TEST((!result["P2P_WORK_ID"].get(seen) && seen == env_id));
  BOOST_TEST((!result["P2P_WORK_TYPE"].get(seen) && seen == "env"));
  BOOST_TEST((!result["item"].get(seen) && seen.find(R"("board_type":"hex8")") != std::string_view::npos));
  BOOST_TEST((!result["cwd"].get(seen) && seen.find(env_id) != std::string_view::npos));
  BOOST_TEST(env->text("claimed_by") == "test-node", env->body);

  // The last stdout line is the result when there is no result file.
  const auto steps_id = add_one(n, R"({"work_type":"steps"})");
  auto steps = await_status(n, steps_id, "completed");
  BOOST_TEST(steps->body.find(R"("result":{"steps":3})") != std::string::npos, steps->body);

  // A non-zero exit and a missing program fail the item with the reason (and the log's tail).
  const auto exits_id = add_one(n, R"({"work_type":"exits","max_attempts":1})");
  auto exits = await_status(n, exits_id, "failed");
  BOOST_TEST(exits->text("error").find("exit code 3") != std::string::npos, exits->body);
  BOOST_TEST(exits->text("error").find("failure detail 5") != std::string::npos, exits->body);
  const auto missing_id = add_one(n, R"({"work_type":"missing","max_attempts":2})");
  auto missing = await_status(n, missing_id, "failed");
  BOOST_TEST(missing->text("error").find("/nonexistent/p2p-program") != std::string::npos, missing->body);
  BOOST_TEST(missing->doc["attempts"].get_uint64().value() == 2u, missing->body);

  // A running item shows its PROGRESS line; cancelling it stops the process group.
  const auto sleeps_id = add_one(n, R"({"work_type":"sleeps","lease_s":3})");
  std::unique_ptr<answer> running = std::make_unique<answer>();
  BOOST_REQUIRE(eventually(30s, [&] {
    running = n.get("/work/status?work_id=" + sleeps_id);
    std::string_view message;
    return running->json && !running->doc["progress"]["message"].get(message) && message == "sleeping";
  }));
  BOOST_TEST(running->text("status") == "running");
  BOOST_TEST(n.post("/work/cancel", R"({"work_id":")" + sleeps_id + R"("})")->status == 200);
  std::unique_ptr<answer> runner = std::make_unique<answer>();
  BOOST_TEST(eventually(30s, [&] {
    runner = n.get("/runner/status");
    return runner->body.find(R"("attempts":[])") != std::string::npos && count_of(*runner, "lost_claims") == 1u;
  }), runner->body);
  BOOST_TEST(count_of(*runner, "completed") == 2u, runner->body);
  BOOST_TEST(count_of(*runner, "failed") == 3u, runner->body);
  BOOST_TEST(n.get("/work/status?work_id=" + sleeps_id)->text("status") == "cancelled");

  // Bad runner options are refused at start with the option named.
  child_process bad(node_binary(), {"--http-port=0", "--cluster-port=off", "--work-type=sleeps"});
  BOOST_TEST(bad.wait_exit(30s).value_or(-1) == 2);
  BOOST_TEST(bad.err().find("--work-type") != std::string::npos, bad.err());
}

BOOST_AUTO_TEST_CASE(a_restarted_node_adopts_its_claims_and_a_drained_node_gives_work_back) {
  temp_dir dir("p2p-runner");
  const std::vector<std::string> sleeper{work_type_arg("sleeps", child + " sleep")};
  std::string id, token;
  {
    work_node n(sleeper, dir.path());
    id = add_one(n, R"({"work_type":"sleeps","lease_s":600,"max_attempts":1})");
    auto running = await_status(n, id, "running");
    BOOST_REQUIRE_MESSAGE(running->text("status") == "running", running->body);
    token = running->text("claim_token");
    n.node.process().signal(SIGKILL);
    BOOST_REQUIRE(n.node.process().wait_exit(30s).has_value());
  }
  {
    // The claim outlived the node; the runner finds it at start and runs it again, same token.
    work_node n(sleeper, dir.path());
    std::unique_ptr<answer> runner = std::make_unique<answer>();
    BOOST_REQUIRE_MESSAGE(eventually(30s, [&] {
      runner = n.get("/runner/status");
      return count_of(*runner, "adopted") == 1u && runner->body.find(id) != std::string::npos;
    }), runner->body);
    auto item = n.get("/work/status?work_id=" + id);
    BOOST_TEST(item->text("claim_token") == token, item->body);
    BOOST_TEST(item->doc["attempts"].get_uint64().value() == 1u);
    // Drain: the unfinished item goes back to the queue, its one attempt not spent.
    n.node.process().signal(SIGTERM);
    BOOST_TEST(n.node.process().wait_exit(30s).value_or(-1) == 0);
    BOOST_TEST(n.node.process().err().find("runner did not settle") == std::string::npos, n.node.process().err());
  }
  {
    work_node n({"--work-types=none"}, dir.path());
    auto item = n.get("/work/status?work_id=" + id);
    BOOST_TEST(item->text("status") == "pending", item->body);
    BOOST_TEST(item->doc["attempts"].get_uint64().value() == 0u, item->body);
    BOOST_TEST(item->text("error").rfind("node draining", 0) == 0u, item->body);
  }
}

BOOST_AUTO_TEST_CASE(three_nodes_complete_2000_items_exactly_once_while_the_leader_is_killed) {
  const std::size_t total = 2000;
  joined_cluster c(3, {"--voters=n00,n01,n02", "--raft-profile=test", "--swim-profile=test",
                       work_type_arg("quick", child + R"( print '{"ok":true}')"), "--runner-slots=quick=16"});
  const auto auth = header_list{{"Authorization", "Bearer " + c.token()}};
  auto leader_of = [&]() -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!c.running(i)) continue;
      if (call(c[i].http(), c.token(), "GET", "/raft/status")->text("state") == "leader") return i;
    }
    return std::nullopt;
  };
  std::optional<std::size_t> leader;
  BOOST_REQUIRE(eventually(60s, [&] { return (leader = leader_of()).has_value(); }));
  // One survivor's event stream, open from before the first add.
  const std::size_t watcher = (*leader + 1) % 3;
  sse_stream events(c[watcher].http(), "/events?types=WORK_COMPLETED,WORK_QUEUED", auth);
  BOOST_REQUIRE(events.status() == 200);

  std::set<std::string> ids;
  for (std::size_t batch = 0; batch < total / 200; ++batch) {
    // A retried add (its answer lost in the failover) replays the first one through its key.
    std::string body = R"({"idempotency_key":"batch-)" + std::to_string(batch) + R"(","items":[)";
    for (int i = 0; i < 200; ++i) body.append(i ? "," : "").append(R"({"work_type":"quick","lease_s":5,"max_attempts":10})");
    body.append("]}");
    std::unique_ptr<answer> added;
    BOOST_REQUIRE(eventually(60s, [&] {
      added = call(c[watcher].http(), c.token(), "POST", "/work/add", body);
      return added->status == 201;
    }));
    simdjson::dom::array list;
    BOOST_REQUIRE(!added->doc["work_ids"].get(list));
    for (auto id : list) ids.insert(std::string(id.get_string().value()));
    // Kill the leader, runner and all, once the cluster is busy.
    if (batch == total / 400) {
      auto busy = call(c[watcher].http(), c.token(), "GET", "/work/list?status=completed&limit=1");
      std::uint64_t completed = 0;
      if (busy->doc["counts"]["by_status"]["completed"].get(completed)) completed = 0;
      BOOST_TEST_MESSAGE("killing the leader with " << completed << " items completed");
      c.kill(*leader);
    }
  }
  BOOST_REQUIRE(ids.size() == total);

  auto completed_count = [&]() -> std::uint64_t {
    auto r = call(c[watcher].http(), c.token(), "GET", "/work/list?stale=1&limit=1");
    std::uint64_t done = 0;
    return r->json && !r->doc["counts"]["by_status"]["completed"].get(done) ? done : 0;
  };
  std::uint64_t done = 0;
  BOOST_REQUIRE_MESSAGE(eventually(240s, [&] {
    events.read_until("\x01", 10ms);  // keep the stream drained while waiting
    return (done = completed_count()) == total;
  }), "completed " << done << " of " << total);

  // The stream: every item completed exactly once, every event id once.
  BOOST_REQUIRE(eventually(60s, [&] {
    events.read_until("\x01", 50ms);
    std::size_t n = 0;
    for (std::size_t at = 0; (at = events.text().find("event: WORK_COMPLETED", at)) != std::string::npos; ++at) ++n;
    return n >= total;
  }));
  std::map<std::string, int> completions;
  std::set<std::string> event_ids;
  std::size_t duplicates = 0;
  simdjson::dom::parser parser;
  const auto& text = events.text();
  for (std::size_t at = 0; (at = text.find("data: ", at)) != std::string::npos;) {
    const auto end = text.find('\n', at);
    simdjson::dom::element e;
    if (parser.parse(text.substr(at + 6, end - at - 6)).get(e)) {
      at = end;
      continue;
    }
    at = end;
    std::string_view event_id, type, work_id;
    if (e["event_id"].get(event_id) || e["type"].get(type) || e["payload"]["work_id"].get(work_id)) continue;
    if (!event_ids.insert(std::string(event_id)).second) ++duplicates;
    if (type == "WORK_COMPLETED") ++completions[std::string(work_id)];
  }
  BOOST_TEST(duplicates == 0u);
  BOOST_TEST(completions.size() == total);
  std::size_t twice = 0;
  for (const auto& [id, count] : completions) {
    if (count != 1) ++twice;
    BOOST_TEST(ids.count(id) == 1u, id);
  }
  BOOST_TEST(twice == 0u);
  // The survivors' runners did the work; together with the dead node's they claimed every item.
  std::uint64_t completed_by_survivors = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.running(i)) continue;
    auto r = call(c[i].http(), c.token(), "GET", "/runner/status");
    completed_by_survivors += count_of(*r, "completed");
  }
  BOOST_TEST(completed_by_survivors <= total);
  BOOST_TEST(completed_by_survivors > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
