// The replicated work-queue state machine (actors/work_queue): every row of the lifecycle table,
// the error codes, replay of idempotent adds and claims, dependencies, matching, order, caps,
// retention, snapshots, malformed commands, and the leader's lease tracker.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <cmath>
#include <ostream>

#include "actors/work_queue/lease_tracker.hpp"
#include "actors/work_queue/work_queue.hpp"

using namespace p2p::work;

// How failed checks print the queue's values.
namespace p2p::work {
std::ostream& operator<<(std::ostream& o, code c) { return o << code_name(c); }
std::ostream& operator<<(std::ostream& o, const item& x) { return o << item_json(x); }
std::ostream& operator<<(std::ostream& o, const new_item& x) { return o << x.work_type << " " << x.config; }
}  // namespace p2p::work

namespace {

constexpr time_ms t0 = 1'700'000'000'000;  // some time in 2023, in ms
constexpr time_ms day_ms = 24LL * 3600 * 1000;

new_item of_type(std::string type, int priority = 50, std::string config = "{}") {
  new_item n;
  n.work_type = std::move(type);
  n.priority = priority;
  n.config = std::move(config);
  return n;
}

node_offer node(std::string id) {
  node_offer o;
  o.node_id = std::move(id);
  return o;
}

// A queue fed commands as the Raft actor would: one log index per command, the leader's time in it.
struct queue {
  work_queue_state_machine sm;
  std::uint64_t index = 0;
  std::uint64_t term = 3;
  time_ms now = t0;

  explicit queue(limits l = {}) : sm(l) {}

  answer run(command c) {
    std::visit([&](auto& x) { x.now = now; }, c);
    const std::string bytes = sm.apply(++index, encode_command(c));
    auto a = decode_answer(bytes);
    BOOST_REQUIRE(a.has_value());
    return *a;
  }
  answer add(std::vector<new_item> items, std::string key = {}) {
    add_command c;
    c.items = std::move(items);
    c.idempotency_key = std::move(key);
    return run(c);
  }
  std::string add_one(new_item n = of_type("selfplay")) {
    auto a = add({std::move(n)});
    BOOST_REQUIRE(a.response.ok());
    BOOST_REQUIRE(a.response.work_ids.size() == 1u);
    return a.response.work_ids[0];
  }
  answer claim(node_offer o, std::uint32_t max_items = 1, std::string request_id = {}) {
    claim_command c;
    c.node = std::move(o);
    c.max_items = max_items;
    c.request_id = std::move(request_id);
    c.term = term;
    return run(c);
  }
  // Claims one item for `node_id` and returns its token.
  std::string claim_one(const std::string& work_id, const std::string& node_id = "n1") {
    auto a = claim(node(node_id));
    BOOST_REQUIRE(a.response.status == "claimed");
    BOOST_REQUIRE(a.response.items.size() == 1u);
    BOOST_REQUIRE(a.response.items[0].work_id == work_id);
    return a.response.items[0].claim_token;
  }
  answer start(const std::string& id, const std::string& token) { return run(start_command{id, token, 0}); }
  answer heartbeat(const std::string& id, const std::string& token, std::optional<double> progress = {},
                   std::string message = {}) {
    heartbeat_command c;
    c.work_id = id;
    c.claim_token = token;
    c.has_progress = progress.has_value();
    c.progress = progress.value_or(0);
    c.message = std::move(message);
    return run(c);
  }
  answer complete(const std::string& id, const std::string& token, std::string result = "{}") {
    return run(complete_command{id, token, std::move(result), 0});
  }
  answer fail(const std::string& id, const std::string& token, std::string error = "boom", bool retryable = true) {
    return run(fail_command{id, token, std::move(error), retryable, 0});
  }
  answer expire(const std::string& id, const std::string& token, expire_reason r = expire_reason::lease_expired) {
    return run(expire_command{id, token, r, 0});
  }
  answer timeout(const std::string& id, const std::string& token) { return run(timeout_command{id, token, 0}); }
  answer cancel(const std::string& id, std::string reason = {}) { return run(cancel_command{id, std::move(reason), 0}); }
  answer archive(time_ms before, std::uint32_t max_items = 1000) { return run(archive_command{before, max_items, 0}); }
  answer release(const std::string& id, const std::string& token, std::string reason = {}) {
    return run(release_command{id, token, std::move(reason), 0});
  }

  status state_of(const std::string& id) const {
    const item* x = sm.get(id);
    BOOST_REQUIRE(x != nullptr);
    return x->state;
  }
};

std::vector<std::string> types_of(const answer& a) {
  std::vector<std::string> out;
  for (const auto& e : a.events) out.push_back(e.type);
  return out;
}

// A payload field as minified JSON ("" when absent or the payload is not an object).
std::string field_of(const std::string& payload, std::string_view key) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (p.parse(payload).get(obj)) return {};
  simdjson::dom::element e;
  if (obj[key].get(e)) return {};
  return simdjson::minify(e);
}

bool parses_as_object(const std::string& text) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  return !p.parse(text).get(obj);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(work_queue)

// ---- the lifecycle table ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(add_queues_items_with_ids_from_the_log_index) {
  queue q;
  q.index = 41;
  auto a = q.add({of_type("selfplay", 50, R"({"config_key":"hex8_2p"})"), of_type("training", 90)});
  BOOST_TEST(a.response.ok());
  BOOST_TEST(a.response.status == "queued");
  BOOST_TEST(a.response.work_ids == (std::vector<std::string>{"w-42-0", "w-42-1"}));
  BOOST_TEST(types_of(a) == (std::vector<std::string>{"WORK_QUEUED", "WORK_QUEUED"}));
  BOOST_TEST(a.events[0].event_id == "r:42:0");
  BOOST_TEST(a.events[1].event_id == "r:42:1");
  BOOST_TEST(a.events[0].at == t0);
  BOOST_TEST(field_of(a.events[0].payload_json, "config_key") == "\"hex8_2p\"");
  BOOST_TEST(field_of(a.events[1].payload_json, "work_type") == "\"training\"");
  const item* x = q.sm.get("w-42-0");
  BOOST_REQUIRE(x);
  BOOST_TEST((x->state == status::pending));
  BOOST_TEST(x->created_at == t0);
  BOOST_TEST(x->updated_at == t0);
  BOOST_TEST(x->attempts == 0u);
  BOOST_TEST(x->max_attempts == 3u);
  BOOST_TEST(x->lease_s == 60u);
  BOOST_TEST(x->config == R"({"config_key":"hex8_2p"})");
  BOOST_TEST(x->config_key == "hex8_2p");
  BOOST_TEST(q.sm.active() == 2u);
  // The config key is spelled from board_type and num_players when not given.
  auto b = q.add({of_type("selfplay", 50, R"({"board_type":"square8","num_players":4})")});
  BOOST_TEST(q.sm.get(b.response.work_ids[0])->config_key == "square8_4p");
}

BOOST_AUTO_TEST_CASE(claim_takes_the_highest_priority_first_and_fifo_within_it) {
  queue q;
  const auto low = q.add_one(of_type("selfplay", 10));
  const auto high1 = q.add_one(of_type("selfplay", 80));
  const auto mid = q.add_one(of_type("selfplay", 50));
  const auto high2 = q.add_one(of_type("selfplay", 80));
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    auto a = q.claim(node("n1"));
    BOOST_REQUIRE(a.response.items.size() == 1u);
    order.push_back(a.response.items[0].work_id);
  }
  BOOST_TEST(order == (std::vector<std::string>{high1, high2, mid, low}));
  BOOST_TEST(q.claim(node("n1")).response.status == "no_work");
  // A retried item keeps its place in line: it was created first.
  queue r;
  const auto first = r.add_one();
  const auto second = r.add_one();
  const auto token = r.claim_one(first);
  BOOST_TEST(r.fail(first, token).response.status == "pending");
  BOOST_TEST(r.claim(node("n2")).response.items[0].work_id == first);
  BOOST_TEST(r.claim(node("n2")).response.items[0].work_id == second);
}

BOOST_AUTO_TEST_CASE(claim_sets_the_token_attempts_and_claimant) {
  queue q;
  const auto id = q.add_one();
  q.now += 1000;
  auto a = q.claim(node("n1"), 5);
  BOOST_TEST(a.response.status == "claimed");
  BOOST_REQUIRE(a.response.items.size() == 1u);
  const auto& x = a.response.items[0];
  BOOST_TEST(x.claim_token == "3." + std::to_string(q.index));
  BOOST_TEST(x.attempts == 1u);
  BOOST_TEST(x.claimed_by == "n1");
  BOOST_TEST(x.claimed_at == t0 + 1000);
  BOOST_TEST((x.state == status::claimed));
  BOOST_TEST(types_of(a) == (std::vector<std::string>{"WORK_CLAIMED"}));
  BOOST_TEST(field_of(a.events[0].payload_json, "node_id") == "\"n1\"");
  BOOST_TEST(field_of(a.events[0].payload_json, "claim_token") == "\"" + x.claim_token + "\"");
  BOOST_TEST(q.sm.get(id)->claim_token == x.claim_token);
  // Nothing pending: no work, and no events.
  auto none = q.claim(node("n2"));
  BOOST_TEST(none.response.status == "no_work");
  BOOST_TEST(none.events.empty());
  // max_items bounds a batch claim.
  for (int i = 0; i < 5; ++i) q.add_one();
  BOOST_TEST(q.claim(node("n3"), 3).response.items.size() == 3u);
  BOOST_TEST(q.claim(node("n3"), 3).response.items.size() == 2u);
  BOOST_TEST(q.claim(node("n3"), 0).response.result == code::bad_request);
  BOOST_TEST(q.claim(node(""), 1).response.field == "node_id");
}

BOOST_AUTO_TEST_CASE(start_or_the_first_heartbeat_runs_the_item) {
  queue q;
  const auto a = q.add_one();
  const auto b = q.add_one();
  const auto ta = q.claim_one(a);
  const auto tb = q.claim_one(b);
  q.now += 500;
  BOOST_TEST(q.start(a, ta).response.status == "running");
  BOOST_TEST((q.state_of(a) == status::running));
  BOOST_TEST(q.sm.get(a)->started_at == t0 + 500);
  q.now += 500;
  BOOST_TEST(q.start(a, ta).response.ok());  // again: nothing changes
  BOOST_TEST(q.sm.get(a)->started_at == t0 + 500);
  BOOST_TEST(q.heartbeat(b, tb).response.status == "running");
  BOOST_TEST(q.sm.get(b)->started_at == t0 + 1000);
  // Progress as the leader replicates it, clamped to 0..1.
  q.heartbeat(b, tb, 0.25, "a quarter");
  BOOST_TEST(q.sm.get(b)->progress == 0.25);
  BOOST_TEST(q.sm.get(b)->progress_message == "a quarter");
  q.heartbeat(b, tb, 7.0);
  BOOST_TEST(q.sm.get(b)->progress == 1.0);
  q.heartbeat(b, tb, std::nan(""));
  BOOST_TEST(q.sm.get(b)->progress == 0.0);
  // Heartbeats and starts with a stale token or for an unknown item.
  BOOST_TEST(q.heartbeat(b, "3.1").response.result == code::conflict);
  BOOST_TEST(q.heartbeat(b, "3.1").response.current_status == "running");
  BOOST_TEST(q.start("w-9-9", ta).response.result == code::not_found);
}

BOOST_AUTO_TEST_CASE(complete_with_the_current_token_then_duplicate_stale_and_unknown) {
  queue q;
  const auto id = q.add_one();
  const auto token = q.claim_one(id);
  q.start(id, token);
  q.now += 2500;
  auto done = q.complete(id, token, R"({"games_generated":12})");
  BOOST_TEST(done.response.status == "completed");
  BOOST_TEST(reply_json(done.response) == R"({"status":"completed"})");
  const item* x = q.sm.get(id);
  BOOST_TEST((x->state == status::completed));
  BOOST_TEST(x->result == R"({"games_generated":12})");
  BOOST_TEST(x->finished_at == t0 + 2500);
  BOOST_TEST(q.sm.active() == 0u);
  // The same completion again: duplicate, no events, nothing changes.
  auto again = q.complete(id, token, R"({"games_generated":99})");
  BOOST_TEST(again.response.status == "duplicate");
  BOOST_TEST(again.response.ok());
  BOOST_TEST(again.events.empty());
  BOOST_TEST(q.sm.get(id)->result == R"({"games_generated":12})");
  // Another token: conflict, naming the current status.
  auto stale = q.complete(id, "2.1");
  BOOST_TEST(stale.response.result == code::conflict);
  BOOST_TEST(stale.response.current_status == "completed");
  BOOST_TEST(field_of(reply_json(stale.response), "code") == "\"conflict\"");
  BOOST_TEST(reply_json(stale.response).find(R"("current_status":"completed")") != std::string::npos);
  BOOST_TEST(q.complete("w-77-0", token).response.result == code::not_found);
  // A token from an earlier claim of a re-queued item is stale too.
  const auto id2 = q.add_one();
  const auto first = q.claim_one(id2);
  q.expire(id2, first);
  const auto second = q.claim_one(id2, "n2");
  BOOST_TEST(q.complete(id2, first).response.result == code::conflict);
  BOOST_TEST(q.complete(id2, second).response.status == "completed");
}

BOOST_AUTO_TEST_CASE(fail_requeues_while_attempts_remain_then_fails_for_good) {
  queue q;
  new_item n = of_type("training");
  n.max_attempts = 2;
  const auto id = q.add_one(n);
  const auto t1 = q.claim_one(id);
  auto first = q.fail(id, t1, "CUDA out of memory");
  BOOST_TEST(first.response.status == "pending");
  BOOST_TEST(types_of(first) == (std::vector<std::string>{"WORK_FAILED"}));
  BOOST_TEST(field_of(first.events[0].payload_json, "final") == "false");
  BOOST_TEST(field_of(first.events[0].payload_json, "node_id") == "\"n1\"");
  const item* x = q.sm.get(id);
  BOOST_TEST((x->state == status::pending));
  BOOST_TEST(x->claimed_by.empty());
  BOOST_TEST(x->error == "CUDA out of memory");
  // The repeat of a failure whose claim is gone: conflict.
  BOOST_TEST(q.fail(id, t1).response.result == code::conflict);
  const auto t2 = q.claim_one(id, "n2");
  BOOST_TEST(q.sm.get(id)->attempts == 2u);
  auto last = q.fail(id, t2, "diverged");
  BOOST_TEST(last.response.status == "failed");
  BOOST_TEST(types_of(last) == (std::vector<std::string>{"WORK_FAILED", "TRAINING_FAILED"}));
  BOOST_TEST(field_of(last.events[0].payload_json, "final") == "true");
  BOOST_TEST(field_of(last.events[1].payload_json, "node_id") == "\"n2\"");
  BOOST_TEST(field_of(last.events[1].payload_json, "model_id") == "null");
  BOOST_TEST((q.state_of(id) == status::failed));
  BOOST_TEST(q.sm.get(id)->error == "diverged");
  // Not retryable: failed at once, attempts left or not.
  const auto other = q.add_one();
  const auto t3 = q.claim_one(other);
  BOOST_TEST(q.fail(other, t3, "bad config", false).response.status == "failed");
  BOOST_TEST(q.fail("w-1-7", t3).response.result == code::not_found);
}

BOOST_AUTO_TEST_CASE(release_gives_an_item_back_without_counting_the_attempt) {
  queue q;
  new_item n = of_type("selfplay");
  n.max_attempts = 1;
  const auto id = q.add_one(n);
  const auto t1 = q.claim_one(id);
  BOOST_TEST(q.start(id, t1).response.status == "running");
  BOOST_TEST(q.heartbeat(id, t1, 0.5).response.ok());
  auto back = q.release(id, t1, "node draining");
  BOOST_TEST(back.response.status == "pending");
  BOOST_TEST(types_of(back) == (std::vector<std::string>{"WORK_QUEUED"}));
  BOOST_TEST(field_of(back.events[0].payload_json, "reason") == "\"released\"");
  BOOST_TEST(field_of(back.events[0].payload_json, "node_id") == "\"n1\"");
  const item* x = q.sm.get(id);
  BOOST_TEST((x->state == status::pending));
  BOOST_TEST(x->attempts == 0u);  // one attempt allowed, and it is still there
  BOOST_TEST(x->claimed_by.empty());
  BOOST_TEST(x->progress == 0.0);
  BOOST_TEST(x->error == "node draining");
  // The claim is gone: a second release, a completion or a heartbeat with it conflict.
  BOOST_TEST(q.release(id, t1).response.result == code::conflict);
  BOOST_TEST(q.complete(id, t1).response.result == code::conflict);
  // Claimed again, it runs its one allowed attempt and completes.
  const auto t2 = q.claim_one(id, "n2");
  BOOST_TEST(q.sm.get(id)->attempts == 1u);
  BOOST_TEST(q.complete(id, t2).response.status == "completed");
  BOOST_TEST(q.release(id, t2).response.result == code::conflict);
  BOOST_TEST(q.release("w-1-7", t2).response.result == code::not_found);
}

BOOST_AUTO_TEST_CASE(expiry_requeues_or_fails_with_the_reason) {
  queue q;
  new_item n = of_type("selfplay");
  n.max_attempts = 2;
  const auto id = q.add_one(n);
  const auto t1 = q.claim_one(id);
  q.start(id, t1);
  auto lapsed = q.expire(id, t1, expire_reason::lease_expired);
  BOOST_TEST(lapsed.response.status == "pending");
  BOOST_TEST(q.sm.get(id)->error == "lease_expired");
  BOOST_TEST(q.sm.get(id)->started_at == 0);
  // The expiry proposed twice (a lost reply, a new leader): the second finds the claim gone.
  auto twice = q.expire(id, t1);
  BOOST_TEST(twice.response.result == code::conflict);
  BOOST_TEST(twice.response.current_status == "pending");
  BOOST_TEST(twice.events.empty());
  const auto t2 = q.claim_one(id, "n2");
  auto dead = q.expire(id, t2, expire_reason::claimant_dead);
  BOOST_TEST(dead.response.status == "failed");
  BOOST_TEST(q.sm.get(id)->error == "claimant_dead");
  BOOST_TEST(field_of(dead.events[0].payload_json, "error") == "\"claimant_dead\"");
  BOOST_TEST(q.expire("w-5-5", t2).response.result == code::not_found);
}

BOOST_AUTO_TEST_CASE(runtime_over_timeout_requeues_then_times_out) {
  queue q;
  new_item n = of_type("training");
  n.timeout_s = 10;
  n.max_attempts = 2;
  const auto id = q.add_one(n);
  const auto t1 = q.claim_one(id);
  // Only a running item can overrun, and only once its time is up.
  BOOST_TEST(q.timeout(id, t1).response.result == code::conflict);
  q.start(id, t1);
  q.now += 9'999;
  BOOST_TEST(q.timeout(id, t1).response.result == code::conflict);
  BOOST_TEST((q.state_of(id) == status::running));
  q.now += 1;
  auto first = q.timeout(id, t1);
  BOOST_TEST(first.response.status == "pending");
  BOOST_TEST(types_of(first) == (std::vector<std::string>{"WORK_TIMED_OUT"}));
  BOOST_TEST(field_of(first.events[0].payload_json, "final") == "false");
  const auto t2 = q.claim_one(id);
  q.heartbeat(id, t2);
  q.now += 10'000;
  auto last = q.timeout(id, t2);
  BOOST_TEST(last.response.status == "timed_out");
  BOOST_TEST(types_of(last) == (std::vector<std::string>{"WORK_TIMED_OUT", "TRAINING_FAILED"}));
  BOOST_TEST((q.state_of(id) == status::timed_out));
  BOOST_TEST(q.sm.get(id)->error == "timeout");
  // No limit: never over time.
  const auto free = q.add_one();
  const auto t3 = q.claim_one(free);
  q.start(free, t3);
  q.now += 365 * day_ms;
  BOOST_TEST(q.timeout(free, t3).response.result == code::conflict);
}

BOOST_AUTO_TEST_CASE(cancel_ends_pending_claimed_and_running_items) {
  queue q;
  const auto claimed = q.add_one();
  const auto running = q.add_one();
  const auto done = q.add_one();
  const auto pending = q.add_one();
  const auto tc = q.claim_one(claimed);
  const auto tr = q.claim_one(running);
  q.start(running, tr);
  const auto td = q.claim_one(done);
  q.complete(done, td);

  BOOST_TEST(q.cancel(pending).response.status == "cancelled");
  auto c1 = q.cancel(claimed, "operator request");
  BOOST_TEST(c1.response.status == "cancelled");
  BOOST_TEST(types_of(c1) == (std::vector<std::string>{"WORK_CANCELLED"}));
  BOOST_TEST(field_of(c1.events[0].payload_json, "reason") == "\"operator request\"");
  BOOST_TEST(q.cancel(running).response.status == "cancelled");
  BOOST_TEST((q.state_of(pending) == status::cancelled));
  BOOST_TEST((q.state_of(running) == status::cancelled));
  BOOST_TEST(q.sm.get(running)->error == "cancelled");
  // A later completion of a cancelled item: conflict, naming the status.
  auto late = q.complete(claimed, tc);
  BOOST_TEST(late.response.result == code::conflict);
  BOOST_TEST(late.response.current_status == "cancelled");
  BOOST_TEST(q.heartbeat(running, tr).response.current_status == "cancelled");
  // Cancelling again is harmless; a finished item cannot be cancelled.
  auto again = q.cancel(claimed);
  BOOST_TEST(again.response.status == "cancelled");
  BOOST_TEST(again.events.empty());
  auto finished = q.cancel(done);
  BOOST_TEST(finished.response.result == code::conflict);
  BOOST_TEST(finished.response.current_status == "completed");
  BOOST_TEST(q.cancel("w-0-0").response.result == code::not_found);
  BOOST_TEST(q.sm.active() == 0u);
}

// ---- dependencies ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dependencies_hold_items_until_they_complete) {
  queue q;
  const auto a = q.add_one(of_type("selfplay", 10));
  new_item n = of_type("training", 100);
  n.depends_on = {a};
  const auto b = q.add_one(n);
  // b has the higher priority but waits for a.
  BOOST_TEST(q.claim(node("n1")).response.items[0].work_id == a);
  BOOST_TEST(q.claim(node("n1")).response.status == "no_work");
  const auto ta = q.sm.get(a)->claim_token;
  q.complete(a, ta);
  BOOST_TEST(q.claim(node("n1")).response.items[0].work_id == b);
  // Within one add, "#n" names an earlier item of the same add.
  new_item first = of_type("selfplay");
  new_item second = of_type("training");
  second.depends_on = {"#0"};
  auto batch = q.add({first, second});
  BOOST_REQUIRE(batch.response.ok());
  BOOST_TEST(q.sm.get(batch.response.work_ids[1])->depends_on == (std::vector<std::string>{batch.response.work_ids[0]}));
  // Unknown dependencies, and references forward or to itself, are refused.
  new_item bad = of_type("selfplay");
  bad.depends_on = {"w-999-0"};
  auto refused = q.add({bad});
  BOOST_TEST(refused.response.result == code::bad_request);
  BOOST_TEST(refused.response.field == "depends_on");
  new_item forward = of_type("selfplay");
  forward.depends_on = {"#0"};
  BOOST_TEST(q.add({forward}).response.result == code::bad_request);
  BOOST_TEST(q.add({of_type("selfplay"), forward, forward}).response.ok());
}

BOOST_AUTO_TEST_CASE(a_failed_dependency_cancels_its_dependents_transitively) {
  queue q;
  new_item root = of_type("selfplay");
  root.max_attempts = 1;
  const auto a = q.add_one(root);
  new_item child = of_type("training");
  child.depends_on = {a};
  const auto b = q.add_one(child);
  new_item grandchild = of_type("gauntlet");
  grandchild.depends_on = {b};
  const auto c = q.add_one(grandchild);
  const auto unrelated = q.add_one();
  const auto ta = q.claim_one(a);
  q.index = 99;
  auto failed = q.fail(a, ta);
  BOOST_TEST(failed.response.status == "failed");
  BOOST_TEST(types_of(failed) == (std::vector<std::string>{"WORK_FAILED", "WORK_CANCELLED", "WORK_CANCELLED"}));
  BOOST_TEST(failed.events[1].event_id == "r:100:1");
  BOOST_TEST(failed.events[2].event_id == "r:100:2");
  BOOST_TEST(field_of(failed.events[1].payload_json, "reason") == "\"dependency_failed\"");
  BOOST_TEST((q.state_of(b) == status::cancelled));
  BOOST_TEST((q.state_of(c) == status::cancelled));
  BOOST_TEST(q.sm.get(c)->error == "dependency_failed");
  BOOST_TEST((q.state_of(unrelated) == status::pending));
  q.cancel(unrelated);  // out of the way of the claims below
  // A new item on a dependency that already failed is cancelled as it is added.
  new_item late = of_type("training");
  late.depends_on = {b};
  auto added = q.add({late});
  BOOST_TEST(added.response.ok());
  BOOST_TEST(types_of(added) == (std::vector<std::string>{"WORK_QUEUED", "WORK_CANCELLED"}));
  BOOST_TEST((q.state_of(added.response.work_ids[0]) == status::cancelled));
  // Cancellation and timeouts cascade as well.
  const auto d = q.add_one();
  new_item on_d = of_type("training");
  on_d.depends_on = {d};
  const auto e = q.add_one(on_d);
  q.cancel(d);
  BOOST_TEST((q.state_of(e) == status::cancelled));
  new_item timed = of_type("selfplay");
  timed.timeout_s = 1;
  timed.max_attempts = 1;
  const auto f = q.add_one(timed);
  new_item on_f = of_type("training");
  on_f.depends_on = {f};
  const auto g = q.add_one(on_f);
  const auto tf = q.claim_one(f);
  q.start(f, tf);
  q.now += 1000;
  BOOST_TEST(q.timeout(f, tf).response.status == "timed_out");
  BOOST_TEST((q.state_of(g) == status::cancelled));
}

// ---- matching --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(claims_honour_requirements_targets_exclusions_and_types) {
  queue q;
  const auto gpu = q.add_one(of_type("training", 50, R"({"requires":{"gpu":true,"min_memory_gb":32}})"));
  const auto two_gpus = q.add_one(of_type("training", 50, R"({"requires":{"gpu":2}})"));
  const auto labelled = q.add_one(of_type("selfplay", 50, R"({"requires":{"labels":{"zone":"eu","arch":"x86"}}})"));
  const auto targeted = q.add_one(of_type("selfplay", 50, R"({"target_node":"n7"})"));
  const auto excluded = q.add_one(of_type("gauntlet", 50, R"({"exclude_nodes":["n1","n2"]})"));

  auto claim_all = [&](node_offer o) {
    auto a = q.claim(std::move(o), 10);
    std::vector<std::string> ids;
    for (const auto& x : a.response.items) ids.push_back(x.work_id);
    // Put them back for the next probe.
    for (const auto& x : a.response.items) q.expire(x.work_id, x.claim_token);
    return ids;
  };
  node_offer plain = node("n1");
  BOOST_TEST(claim_all(plain).empty());
  node_offer big = node("n1");
  big.gpus = 1;
  big.memory_gb = 64;
  BOOST_TEST(claim_all(big) == (std::vector<std::string>{gpu}));
  big.memory_gb = 16;
  BOOST_TEST(claim_all(big).empty());
  big.gpus = 2;
  BOOST_TEST(claim_all(big) == (std::vector<std::string>{two_gpus}));
  node_offer eu = node("n2");
  eu.labels = {{"zone", "eu"}, {"arch", "x86"}, {"extra", "yes"}};
  BOOST_TEST(claim_all(eu) == (std::vector<std::string>{labelled}));
  eu.labels["arch"] = "arm";
  BOOST_TEST(claim_all(eu).empty());
  BOOST_TEST(claim_all(node("n7")) == (std::vector<std::string>{targeted, excluded}));
  node_offer only_gauntlets = node("n3");
  only_gauntlets.work_types = {"gauntlet", "tournament"};
  BOOST_TEST(claim_all(only_gauntlets) == (std::vector<std::string>{excluded}));
}

// ---- replay ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_idempotency_key_replays_the_first_answer_for_a_day) {
  queue q;
  auto first = q.add({of_type("selfplay")}, "key-1");
  BOOST_TEST(first.response.ok());
  BOOST_TEST(!first.response.replayed);
  q.now += 1000;
  auto again = q.add({of_type("selfplay")}, "key-1");
  BOOST_TEST(again.response.ok());
  BOOST_TEST(again.response.replayed);
  BOOST_TEST(again.response.work_ids == first.response.work_ids);
  BOOST_TEST(again.events.empty());
  BOOST_TEST(q.sm.size() == 1u);
  // The same key with another body.
  auto other = q.add({of_type("training")}, "key-1");
  BOOST_TEST(other.response.result == code::conflict);
  BOOST_TEST(other.response.field == "idempotency_key");
  BOOST_TEST(q.sm.size() == 1u);
  // A refused add is not remembered: the retry is judged afresh.
  auto refused = q.add({of_type("selfplay", 500)}, "key-2");
  BOOST_TEST(refused.response.result == code::bad_request);
  BOOST_TEST(q.add({of_type("selfplay", 50)}, "key-2").response.ok());
  BOOST_TEST(q.sm.idempotency_records() == 2u);
  // A day later the key is forgotten (by the commands' time, never a clock).
  q.now = t0 + day_ms + 1000;
  auto later = q.add({of_type("selfplay")}, "key-1");
  BOOST_TEST(!later.response.replayed);
  BOOST_TEST(later.response.work_ids != first.response.work_ids);
  BOOST_TEST(q.sm.size() == 3u);
  BOOST_TEST(q.sm.idempotency_records() == 1u);  // key-2 is gone too; key-1 is new
}

BOOST_AUTO_TEST_CASE(a_claim_request_id_replays_the_first_answer_instead_of_claiming_again) {
  queue q;
  for (int i = 0; i < 4; ++i) q.add_one();
  auto first = q.claim(node("n1"), 2, "req-1");
  BOOST_TEST(first.response.items.size() == 2u);
  auto lost_reply_retry = q.claim(node("n1"), 2, "req-1");
  BOOST_TEST(lost_reply_retry.response.replayed);
  BOOST_TEST(lost_reply_retry.response.items == first.response.items);
  BOOST_TEST(lost_reply_retry.events.empty());
  BOOST_TEST(q.sm.claimed_by("n1").size() == 2u);
  // Request ids belong to their node.
  BOOST_TEST(q.claim(node("n2"), 2, "req-1").response.items.size() == 2u);
  BOOST_TEST(q.sm.request_records() == 2u);
  // "no_work" is not kept: the same request id probes again (a long-poll claim) and claims
  // once work appears; that answer is then the one replayed.
  auto none = q.claim(node("n3"), 1, "req-9");
  BOOST_TEST(none.response.status == "no_work");
  BOOST_TEST(q.sm.request_records() == 2u);
  q.add_one();
  auto woken = q.claim(node("n3"), 1, "req-9");
  BOOST_TEST(woken.response.status == "claimed");
  BOOST_TEST(!woken.response.replayed);
  BOOST_TEST(q.claim(node("n3"), 1, "req-9").response.replayed);
  BOOST_TEST(q.sm.request_records() == 3u);
  // Pruned after a day.
  q.now += day_ms;
  q.add_one();
  BOOST_TEST(q.sm.request_records() == 0u);
  auto fresh = q.claim(node("n1"), 2, "req-1");
  BOOST_TEST(!fresh.response.replayed);
  BOOST_TEST(fresh.response.items.size() == 1u);
}

// ---- caps ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(config_and_result_are_checked_and_capped) {
  queue q;
  const std::string big = "{\"blob\":\"" + std::string(64 * 1024, 'x') + "\"}";
  auto too_large = q.add({of_type("selfplay", 50, big)});
  BOOST_TEST(too_large.response.result == code::payload_too_large);
  BOOST_TEST(too_large.response.field == "config");
  BOOST_TEST(field_of(reply_json(too_large.response), "code") == "\"payload_too_large\"");
  const std::string fits = "{\"b\":\"" + std::string(64 * 1024 - 8, 'x') + "\"}";
  BOOST_TEST(fits.size() == 64u * 1024);
  BOOST_TEST(q.add({of_type("selfplay", 50, fits)}).response.ok());

  for (const char* not_object : {"[]", "3", "\"text\"", "{", "", "{\"a\":1} x"}) {
    auto a = q.add({of_type("selfplay", 50, not_object)});
    BOOST_TEST(a.response.result == code::bad_request, not_object);
    BOOST_TEST(a.response.field == "config");
  }
  struct bad_config {
    const char* json;
    const char* field;
  };
  for (const auto& b : {bad_config{R"({"config_key":7})", "config.config_key"},
                        bad_config{R"({"target_node":["a"]})", "config.target_node"},
                        bad_config{R"({"exclude_nodes":"a"})", "config.exclude_nodes"},
                        bad_config{R"({"exclude_nodes":[1]})", "config.exclude_nodes"},
                        bad_config{R"({"requires":[]})", "config.requires"},
                        bad_config{R"({"requires":{"labels":{"a":1}}})", "config.requires.labels"},
                        bad_config{R"({"requires":{"gpu":"yes"}})", "config.requires.gpu"},
                        bad_config{R"({"requires":{"min_memory_gb":-1}})", "config.requires.min_memory_gb"}}) {
    auto a = q.add({of_type("selfplay", 50, b.json)});
    BOOST_TEST(a.response.result == code::bad_request, b.json);
    BOOST_TEST(a.response.field == b.field, b.json);
  }
  struct bad_item {
    new_item n;
    const char* field;
  };
  new_item no_type = of_type("");
  new_item low = of_type("selfplay", -1);
  new_item high = of_type("selfplay", 101);
  new_item no_attempts = of_type("selfplay");
  no_attempts.max_attempts = 0;
  new_item no_lease = of_type("selfplay");
  no_lease.lease_s = 0;
  for (const auto& b : {bad_item{no_type, "work_type"}, bad_item{low, "priority"}, bad_item{high, "priority"},
                        bad_item{no_attempts, "max_attempts"}, bad_item{no_lease, "lease_s"}}) {
    auto a = q.add({b.n});
    BOOST_TEST(a.response.result == code::bad_request, b.field);
    BOOST_TEST(a.response.field == b.field);
  }
  BOOST_TEST(q.add({}).response.field == "items");
  // An add is all or nothing: one bad item refuses the batch.
  const auto before = q.sm.size();
  BOOST_TEST(q.add({of_type("selfplay"), of_type("selfplay", 50, "[]")}).response.result == code::bad_request);
  BOOST_TEST(q.sm.size() == before);

  const auto id = q.add_one();
  const auto token = q.claim(node("n1"), 1).response.items.at(0).claim_token;
  BOOST_TEST(q.sm.get(id) != nullptr);
  const auto claimed_id = q.sm.claims().at(0).work_id;
  auto huge = q.complete(claimed_id, token, big);
  BOOST_TEST(huge.response.result == code::payload_too_large);
  BOOST_TEST(huge.response.field == "result");
  BOOST_TEST(q.complete(claimed_id, token, "[1,2]").response.field == "result");
  BOOST_TEST(holds_claim(q.state_of(claimed_id)));  // refused completions change nothing
  BOOST_TEST(q.complete(claimed_id, token, "").response.status == "completed");
  BOOST_TEST(q.sm.get(claimed_id)->result == "{}");
}

BOOST_AUTO_TEST_CASE(adds_past_the_active_limit_get_backpressure) {
  limits l;
  l.max_active_items = 3;
  queue q(l);
  BOOST_TEST(q.add({of_type("a"), of_type("b")}).response.ok());
  auto over = q.add({of_type("c"), of_type("d")});
  BOOST_TEST(over.response.result == code::backpressure);
  BOOST_TEST(field_of(reply_json(over.response), "code") == "\"backpressure\"");
  const auto c = q.add_one(of_type("c"));
  BOOST_TEST(q.add({of_type("d")}).response.result == code::backpressure);
  // Finished items do not count.
  const auto token = q.claim_one("w-1-0");
  q.complete("w-1-0", token);
  BOOST_TEST(q.add({of_type("d")}).response.ok());
  q.cancel(c);
  BOOST_TEST(q.sm.active() == 2u);
  BOOST_TEST(q.sm.count().active == 2u);
}

// ---- retention -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(archive_moves_old_finished_items_out_of_the_replicated_state) {
  queue q;
  const auto done = q.add_one();
  const auto failed_dep = q.add_one();
  const auto still_pending = q.add_one();
  const auto t1 = q.claim_one(done);
  q.complete(done, t1, R"({"games":3})");
  const auto t2 = q.claim_one(failed_dep);
  q.fail(failed_dep, t2, "no", false);
  // A finished item an unfinished one waits on stays.
  const auto needed = q.add_one();
  new_item waiting = of_type("training");
  waiting.depends_on = {needed};
  const auto waiter = q.add_one(waiting);
  q.run(claim_command{node("n9"), 1, "", 3, 0});  // takes still_pending
  const auto tn = q.claim_one(needed);
  q.complete(needed, tn);
  q.now += 10'000;
  const auto recent = q.add_one(of_type("recent"));
  node_offer only_recent = node("n1");
  only_recent.work_types = {"recent"};
  const auto tr = q.claim(only_recent).response.items.at(0).claim_token;
  q.complete(recent, tr);

  auto a = q.archive(t0 + 5000);
  BOOST_TEST(a.response.status == "archived");
  BOOST_TEST(a.response.work_ids == (std::vector<std::string>{done, failed_dep}));
  BOOST_REQUIRE(a.archived.size() == 2u);
  BOOST_TEST(a.archived[0].work_id == done);
  BOOST_TEST(a.archived[0].result == R"({"games":3})");
  BOOST_TEST((a.archived[1].state == status::failed));
  BOOST_TEST(q.sm.get(done) == nullptr);
  BOOST_TEST(q.sm.get(needed) != nullptr);
  BOOST_TEST(q.sm.get(recent) != nullptr);
  BOOST_TEST(q.sm.get(still_pending) != nullptr);
  BOOST_TEST(q.complete(done, t1).response.result == code::not_found);
  // Once the waiter finishes, its dependency may go too; max_items bounds one archive.
  const auto tw = q.claim_one(waiter);
  q.complete(waiter, tw);
  q.now += 10'000;
  auto bounded = q.archive(q.now, 2);
  BOOST_TEST(bounded.archived.size() == 2u);
  BOOST_TEST(bounded.response.work_ids[0] == needed);
  auto rest = q.archive(q.now);
  BOOST_TEST(rest.response.work_ids == (std::vector<std::string>{recent}));
  BOOST_TEST(q.sm.size() == 1u);  // still_pending, claimed by n9
}

// ---- snapshots and determinism ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(snapshots_round_trip_exactly_and_replicas_agree) {
  queue q;
  std::vector<std::string> commands;
  auto record = [&](command c) {
    std::visit([&](auto& x) { x.now = q.now; }, c);
    commands.push_back(encode_command(c));
    q.sm.apply(++q.index, commands.back());
  };
  add_command add;
  add.items = {of_type("selfplay", 70, R"({"config_key":"hex8_2p","requires":{"labels":{"z":"1"},"gpu":1}})"),
               of_type("training", 20), of_type("gauntlet", 40, R"({"exclude_nodes":["n2"]})")};
  add.items[1].depends_on = {"#0"};
  add.idempotency_key = "k";
  record(add);
  q.now += 100;
  node_offer n1 = node("n1");
  n1.labels = {{"z", "1"}};
  n1.gpus = 1;
  record(claim_command{n1, 2, "r1", 4, 0});
  q.now += 100;
  record(heartbeat_command{"w-1-0", "4.2", true, 0.5, "half", 0});
  record(complete_command{"w-1-0", "4.2", R"({"games_generated":5})", 0});
  record(cancel_command{"w-1-2", "", 0});

  work_queue_state_machine copy;
  copy.restore(q.sm.snapshot());
  BOOST_TEST(copy.snapshot() == q.sm.snapshot());
  BOOST_TEST(copy.idempotency_records() == 1u);
  BOOST_TEST(copy.request_records() == 1u);
  BOOST_TEST(copy.active() == q.sm.active());
  BOOST_TEST(*copy.get("w-1-0") == *q.sm.get("w-1-0"));
  // Both go on identically: the same answers (replays included) and the same state.
  work_queue_state_machine replay;
  for (std::size_t i = 0; i < commands.size(); ++i) replay.apply(i + 1, commands[i]);
  BOOST_TEST(replay.snapshot() == q.sm.snapshot());
  std::vector<command> more{add_command{{of_type("selfplay")}, "k", t0 + 1000}, claim_command{n1, 2, "r1", 4, t0 + 1000},
                            claim_command{node("n3"), 5, "r2", 4, t0 + 1000}, archive_command{t0 + 5000, 10, t0 + 9000}};
  for (const auto& c : more) {
    const auto bytes = encode_command(c);
    ++q.index;
    const auto expected = q.sm.apply(q.index, bytes);
    BOOST_TEST(copy.apply(q.index, bytes) == expected);
    BOOST_TEST(replay.apply(q.index, bytes) == expected);
  }
  BOOST_TEST(copy.snapshot() == q.sm.snapshot());
  BOOST_TEST(replay.snapshot() == q.sm.snapshot());

  // A refused restore changes nothing.
  const auto kept = copy.snapshot();
  BOOST_CHECK_THROW(copy.restore("not a snapshot"), std::invalid_argument);
  BOOST_CHECK_THROW(copy.restore(kept.substr(0, kept.size() - 1)), std::invalid_argument);
  BOOST_CHECK_THROW(copy.restore(kept + "x"), std::invalid_argument);
  BOOST_TEST(copy.snapshot() == kept);
  work_queue_state_machine empty;
  copy.restore(empty.snapshot());
  BOOST_TEST(copy.size() == 0u);
  BOOST_TEST(copy.snapshot() == empty.snapshot());
}

BOOST_AUTO_TEST_CASE(malformed_commands_are_answered_as_errors_and_change_nothing) {
  queue q;
  const auto id = q.add_one();
  q.claim_one(id);
  const auto before = q.sm.snapshot();
  const std::string good = encode_command(complete_command{id, "3.2", "{}", t0});
  std::vector<std::string> garbage{"", "garbage", good.substr(0, good.size() - 1), good + "x",
                                   std::string("WQC\x01\x63", 5), std::string("WQC\x02", 4) + good.substr(4),
                                   std::string(good.size(), '\xff')};
  // Every prefix of a valid command is refused too.
  for (std::size_t n = 0; n < good.size(); ++n) garbage.push_back(good.substr(0, n));
  for (const auto& bytes : garbage) {
    auto a = decode_answer(q.sm.apply(++q.index, bytes));
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(a->response.result == code::bad_request);
    BOOST_TEST(a->events.empty());
  }
  BOOST_TEST(q.sm.snapshot() == before);
  BOOST_TEST(!decode_answer("nope").has_value());
  BOOST_TEST(!decode_command(good.substr(0, 10)).has_value());
}

BOOST_AUTO_TEST_CASE(every_command_survives_its_binary_form) {
  add_command add{{of_type("selfplay", 7, R"({"a":1})")}, "key", t0};
  add.items[0].depends_on = {"w-1-0", "#0"};
  add.items[0].timeout_s = 30;
  add.items[0].campaign_id = "c-1";
  node_offer o = node("n1");
  o.work_types = {"selfplay"};
  o.labels = {{"a", "b"}};
  o.gpus = 2;
  o.memory_gb = 15.5;
  const std::vector<command> all{add,
                                 claim_command{o, 4, "req", 9, t0},
                                 start_command{"w", "1.2", t0},
                                 heartbeat_command{"w", "1.2", true, 0.75, "msg", t0},
                                 complete_command{"w", "1.2", R"({"x":[1]})", t0},
                                 fail_command{"w", "1.2", "err", false, t0},
                                 expire_command{"w", "1.2", expire_reason::claimant_dead, t0},
                                 timeout_command{"w", "1.2", t0},
                                 cancel_command{"w", "why", t0},
                                 archive_command{t0 - 5, 17, t0},
                                 release_command{"w", "1.2", "node draining", t0}};
  for (const auto& c : all) {
    const auto bytes = encode_command(c);
    auto back = decode_command(bytes);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->index() == c.index());
    BOOST_TEST(encode_command(*back) == bytes);
  }
  const auto decoded_add = decode_command(encode_command(add));
  const auto& back_add = std::get<add_command>(*decoded_add);
  BOOST_TEST(back_add.items == add.items);
  BOOST_TEST(back_add.idempotency_key == "key");
  BOOST_TEST(back_add.now == t0);
  const auto decoded_claim = decode_command(encode_command(all[1]));
  const auto& back_claim = std::get<claim_command>(*decoded_claim);
  BOOST_TEST(back_claim.node.memory_gb == 15.5);
  BOOST_TEST(back_claim.node.labels == o.labels);
  BOOST_TEST(back_claim.term == 9u);
}

BOOST_AUTO_TEST_CASE(timestamps_never_go_back_when_a_new_leaders_clock_is_behind) {
  queue q;
  q.now = t0 + 10'000;
  const auto id = q.add_one();
  q.now = t0;  // a new leader whose clock lags
  const auto token = q.claim_one(id);
  BOOST_TEST(q.sm.get(id)->claimed_at == t0 + 10'000);
  BOOST_TEST(q.sm.clock() == t0 + 10'000);
  q.now = t0 + 20'000;
  q.complete(id, token);
  BOOST_TEST(q.sm.get(id)->finished_at == t0 + 20'000);
}

// ---- events ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(selfplay_and_training_completions_carry_their_results) {
  queue q;
  const auto sp = q.add_one(of_type("selfplay", 50, R"({"config_key":"sq8_2p"})"));
  const auto ts = q.claim_one(sp, "gpu-1");
  q.start(sp, ts);
  q.now += 90'500;
  auto a = q.complete(sp, ts, R"({"games_generated":256,"note":"x"})");
  BOOST_TEST(types_of(a) == (std::vector<std::string>{"WORK_COMPLETED", "SELFPLAY_COMPLETE"}));
  const auto& p = a.events[1].payload_json;
  BOOST_TEST(field_of(p, "work_id") == "\"" + sp + "\"");
  BOOST_TEST(field_of(p, "config_key") == "\"sq8_2p\"");
  BOOST_TEST(field_of(p, "games_generated") == "256");
  BOOST_TEST(field_of(p, "node_id") == "\"gpu-1\"");
  BOOST_TEST(field_of(p, "duration_s") == "90.5");
  BOOST_TEST(a.events[1].event_id == "r:" + std::to_string(q.index) + ":1");

  const auto tr = q.add_one(of_type("training", 50, R"({"config_key":"hex8_2p"})"));
  const auto tt = q.claim_one(tr, "gpu-2");
  auto b = q.complete(tr, tt,
                      R"({"model_id":"m-7","model_path":"models/m-7.pth","train_loss":0.125,"val_loss":0.25,)"
                      R"("training_samples":100000,"duration_s":12})");
  BOOST_TEST(types_of(b) == (std::vector<std::string>{"WORK_COMPLETED", "TRAINING_COMPLETED"}));
  const auto& t = b.events[1].payload_json;
  BOOST_TEST(field_of(t, "model_id") == "\"m-7\"");
  BOOST_TEST(field_of(t, "model_path") == "\"models/m-7.pth\"");
  BOOST_TEST(field_of(t, "train_loss") == "0.125");
  BOOST_TEST(field_of(t, "val_loss") == "0.25");
  BOOST_TEST(field_of(t, "training_samples") == "100000");
  BOOST_TEST(field_of(t, "duration_s") == "12");
  BOOST_TEST(field_of(t, "node_id") == "\"gpu-2\"");
  BOOST_TEST(field_of(t, "config_key") == "\"hex8_2p\"");
  // Fields the result lacks are null, not missing.
  const auto bare = q.add_one(of_type("training"));
  const auto tb = q.claim_one(bare);
  auto c = q.complete(bare, tb);
  BOOST_TEST(field_of(c.events[1].payload_json, "val_loss") == "null");
  BOOST_TEST(field_of(c.events[1].payload_json, "model_path") == "null");
  // Every payload is a JSON object.
  for (const auto* ans : {&a, &b, &c})
    for (const auto& e : ans->events) BOOST_TEST(parses_as_object(e.payload_json), e.type);
}

// ---- queries ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(list_filters_pages_with_a_stable_cursor_and_counts) {
  queue q;
  for (int i = 0; i < 12; ++i) q.add_one(of_type(i % 3 == 0 ? "training" : "selfplay"));
  const auto t = q.claim(node("n1"), 2).response.items;  // w-1-0 (training) and w-2-0
  q.complete(t[0].work_id, t[0].claim_token);

  list_filter all;
  all.limit = 5;
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    all.cursor = cursor;
    auto page = q.sm.list(all);
    for (const auto& x : page.items) seen.push_back(x.work_id);
    cursor = page.next_cursor;
    ++pages;
    // An item added between pages does not shift what follows.
    if (pages == 1) q.add_one(of_type("late"));
  } while (!cursor.empty());
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen.size() == 13u);
  BOOST_TEST(seen.front() == "w-1-0");
  BOOST_TEST(seen.back() == "w-" + std::to_string(q.index) + "-0");

  list_filter pending;
  pending.state = status::pending;
  pending.work_type = "selfplay";
  auto p = q.sm.list(pending);
  BOOST_TEST(p.items.size() == 7u);
  BOOST_TEST(p.next_cursor.empty());
  for (const auto& x : p.items) BOOST_TEST((x.state == status::pending && x.work_type == "selfplay"));
  list_filter by_node;
  by_node.claimed_by = "n1";
  BOOST_TEST(q.sm.list(by_node).items.size() == 2u);

  auto c = q.sm.count();
  BOOST_TEST(c.total == 13u);
  BOOST_TEST(c.by_status.at("pending") == 11u);
  BOOST_TEST(c.by_status.at("claimed") == 1u);
  BOOST_TEST(c.by_status.at("completed") == 1u);
  BOOST_TEST(c.by_status.at("timed_out") == 0u);
  BOOST_TEST(c.by_type.at("training").at("completed") == 1u);
  BOOST_TEST(c.by_type.at("training").at("pending") == 3u);
  BOOST_TEST(c.by_type.at("selfplay").at("claimed") == 1u);
  BOOST_TEST(c.active == 12u);

  // A runner's reconciliation at start, and the lease tracker's view.
  auto mine = q.sm.claimed_by("n1");
  BOOST_REQUIRE(mine.size() == 1u);
  BOOST_TEST(mine[0].work_id == t[1].work_id);
  auto claims = q.sm.claims();
  BOOST_REQUIRE(claims.size() == 1u);
  BOOST_TEST(claims[0].claim_token == t[1].claim_token);
  BOOST_TEST(claims[0].node_id == "n1");
  BOOST_TEST(claims[0].lease_s == 60u);
}

BOOST_AUTO_TEST_CASE(json_views_are_well_formed) {
  queue q;
  const auto id = q.add_one(of_type("selfplay", 50, R"({"k":"v \"quoted\""})"));
  const auto token = q.claim_one(id);
  q.heartbeat(id, token, 0.5, "line\nbreak");
  const auto text = item_json(*q.sm.get(id));
  BOOST_TEST(parses_as_object(text));
  BOOST_TEST(field_of(text, "config") == R"({"k":"v \"quoted\""})");
  BOOST_TEST(field_of(text, "claim_token") == "\"" + token + "\"");
  BOOST_TEST(field_of(text, "result") == "null");
  auto add = q.add({of_type("a"), of_type("b")});
  BOOST_TEST(reply_json(add.response) == R"({"work_ids":["w-)" + std::to_string(q.index) + R"(-0","w-)" +
                                             std::to_string(q.index) + R"(-1"]})");
  q.add_one();
  auto claimed = q.claim(node("n2"));
  BOOST_TEST(parses_as_object(reply_json(claimed.response)));
  BOOST_TEST(field_of(reply_json(claimed.response), "status") == "\"claimed\"");
  reply none;
  none.status = "no_work";
  BOOST_TEST(reply_json(none) == R"({"status":"no_work"})");
}

// ---- the lease tracker -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(leases_start_at_full_length_and_heartbeats_renew_them) {
  lease_tracker t;
  claim_info c{"w-1-0", "3.2", "n1", status::claimed, 10, 0, t0, 0};
  t.sync({c}, t0);
  BOOST_TEST(t.tracked() == 1u);
  BOOST_TEST(*t.lease_expires_at("w-1-0") == t0 + 10'000);
  BOOST_TEST(t.next_deadline() == t0 + 10'000);
  BOOST_TEST(t.due(t0 + 9'999).empty());
  // A heartbeat for the live claim renews it; one for another token does not.
  auto v = t.heartbeat("w-1-0", "3.2", false, t0 + 5'000);
  BOOST_TEST(v.valid);
  BOOST_TEST(v.propose);  // the first one moves the item to running
  BOOST_TEST(*t.lease_expires_at("w-1-0") == t0 + 15'000);
  BOOST_TEST(!t.heartbeat("w-1-0", "3.1", false, t0 + 6'000).valid);
  BOOST_TEST(!t.heartbeat("w-9-9", "3.2", false, t0 + 6'000).valid);
  BOOST_TEST(*t.lease_expires_at("w-1-0") == t0 + 15'000);
  BOOST_TEST(t.due(t0 + 14'999).empty());
  auto d = t.due(t0 + 15'000);
  BOOST_REQUIRE(d.size() == 1u);
  BOOST_TEST((d[0] == lease_tracker::action{lease_tracker::action_kind::expire_lease, "w-1-0", "3.2"}));
  BOOST_TEST(action_kind_name(d[0].kind) == "lease_expired");
  // Offered once, then again after retry_ms while the claim stays live (a lost proposal).
  BOOST_TEST(t.due(t0 + 15'001).empty());
  BOOST_TEST(t.due(t0 + 17'000).size() == 1u);
  // Once the expiry applies, the claim is gone.
  t.sync({}, t0 + 17'100);
  BOOST_TEST(t.tracked() == 0u);
  BOOST_TEST(t.due(t0 + 100'000).empty());
}

BOOST_AUTO_TEST_CASE(a_new_leader_restarts_every_lease_and_a_term_change_revokes_nothing) {
  // The old leader's tracker saw no heartbeat for a long time; the new one starts afresh.
  claim_info c{"w-1-0", "3.2", "n1", status::running, 10, 0, t0, t0 + 100};
  lease_tracker old_leader;
  old_leader.sync({c}, t0);
  BOOST_TEST(old_leader.due(t0 + 60'000).size() == 1u);
  lease_tracker new_leader;
  new_leader.sync({c}, t0 + 60'000);
  BOOST_TEST(new_leader.due(t0 + 60'000).empty());
  BOOST_TEST(new_leader.due(t0 + 69'999).empty());
  BOOST_TEST(new_leader.due(t0 + 70'000).size() == 1u);
  // A re-claim (another token) gets a fresh lease; sync keeps a lease across unrelated changes.
  lease_tracker t;
  t.sync({c}, t0);
  t.heartbeat("w-1-0", "3.2", false, t0 + 8'000);
  claim_info progressed = c;
  progressed.started_at = t0 + 200;
  t.sync({progressed}, t0 + 9'000);
  BOOST_TEST(*t.lease_expires_at("w-1-0") == t0 + 18'000);
  claim_info reclaimed = c;
  reclaimed.claim_token = "4.9";
  t.sync({reclaimed}, t0 + 9'500);
  BOOST_TEST(*t.lease_expires_at("w-1-0") == t0 + 19'500);
}

BOOST_AUTO_TEST_CASE(dead_claimants_and_overrunning_items_are_reported) {
  lease_tracker t;
  claim_info a{"w-1-0", "3.2", "n1", status::running, 60, 0, t0, t0};
  claim_info b{"w-1-1", "3.2", "n1", status::claimed, 60, 0, t0, 0};
  claim_info c{"w-2-0", "3.3", "n2", status::running, 60, 30, t0, t0 + 1'000};
  t.sync({a, b, c}, t0);
  BOOST_TEST(t.due(t0 + 1'000).empty());
  t.node_dead("n1");
  BOOST_TEST(t.next_deadline() <= t0 + 1'000);
  auto d = t.due(t0 + 1'000);
  BOOST_REQUIRE(d.size() == 2u);
  BOOST_TEST((d[0].kind == lease_tracker::action_kind::expire_dead_claimant));
  BOOST_TEST(d[0].work_id == "w-1-0");
  BOOST_TEST(d[1].work_id == "w-1-1");
  BOOST_TEST(action_kind_name(d[1].kind) == "claimant_dead");
  // A node that comes back before its expiries apply keeps what is left of its leases.
  t.node_alive("n1");
  BOOST_TEST(t.due(t0 + 5'000).empty());
  // Runtime over timeout_s (from started_at), though heartbeats keep the lease alive.
  for (time_ms at = t0 + 10'000; at <= t0 + 30'000; at += 10'000) t.heartbeat("w-2-0", "3.3", false, at);
  BOOST_TEST(t.due(t0 + 30'999).empty());
  auto over = t.due(t0 + 31'000);
  BOOST_REQUIRE(over.size() == 1u);
  BOOST_TEST((over[0] == lease_tracker::action{lease_tracker::action_kind::timeout, "w-2-0", "3.3"}));
}

BOOST_AUTO_TEST_CASE(progress_is_replicated_at_most_every_few_seconds) {
  lease_tracker::options o;
  o.progress_interval_ms = 5'000;
  lease_tracker t(o);
  claim_info c{"w-1-0", "3.2", "n1", status::claimed, 60, 0, t0, 0};
  t.sync({c}, t0);
  BOOST_TEST(t.heartbeat("w-1-0", "3.2", true, t0 + 100).propose);  // the first: claimed -> running
  // Until the running state applies, repeated heartbeats do not flood the log.
  BOOST_TEST(!t.heartbeat("w-1-0", "3.2", false, t0 + 200).propose);
  c.state = status::running;
  c.started_at = t0 + 100;
  t.sync({c}, t0 + 300);
  BOOST_TEST(!t.heartbeat("w-1-0", "3.2", true, t0 + 1'000).propose);
  BOOST_TEST(!t.heartbeat("w-1-0", "3.2", true, t0 + 5'099).propose);
  BOOST_TEST(t.heartbeat("w-1-0", "3.2", true, t0 + 5'100).propose);
  BOOST_TEST(!t.heartbeat("w-1-0", "3.2", true, t0 + 6'000).propose);
  BOOST_TEST(!t.heartbeat("w-1-0", "3.2", false, t0 + 20'000).propose);  // no progress, nothing to replicate
  BOOST_TEST(t.heartbeat("w-1-0", "3.2", true, t0 + 20'001).propose);
}

BOOST_AUTO_TEST_SUITE_END()
