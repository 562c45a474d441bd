// The work queue over HTTP with real processes: the lifecycle of an item on one node, every error
// code, idempotency replays, long-poll claims woken by an add, cancellation seen by a heartbeat,
// retention into the archive; and three voters where the leader dies with items claimed: the new
// leader keeps the live claims (a term change revokes nothing) and hands back the dead
// claimant's items.
#include <boost/test/unit_test.hpp>
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

  explicit work_node(std::vector<std::string> extra = {}) : node(with_profiles(std::move(extra))) {
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
