// The /work routes' JSON: requests into typed messages, replies with RFC 3339 times.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include "protocol/messages/work_codec.hpp"

using namespace p2p;

namespace {

struct parsed {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  explicit parsed(const std::string& json) { BOOST_REQUIRE(!parser.parse(json).get(doc)); }
  const simdjson::dom::element* get() const { return &doc; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(work_queue)

BOOST_AUTO_TEST_CASE(codec_reads_one_item_or_a_list_but_not_both) {
  parsed one(R"({"work_type":"selfplay","priority":70,"config":{ "a" : [1, 2] },"depends_on":["w-1-0"],)"
             R"("max_attempts":5,"lease_s":30,"timeout_s":600,"campaign_id":"c1","idempotency_key":"k"})");
  auto r = codec::decode_work_add(one.get());
  BOOST_TEST(r.error.empty());
  BOOST_REQUIRE(r.items.size() == 1u);
  const auto& n = r.items[0];
  BOOST_TEST(n.work_type == "selfplay");
  BOOST_TEST(n.priority == 70);
  BOOST_TEST(n.config == R"({"a":[1,2]})");  // minified: the 64 KiB cap counts what is stored
  BOOST_TEST(n.depends_on == std::vector<std::string>{"w-1-0"});
  BOOST_TEST(n.max_attempts == 5u);
  BOOST_TEST(n.lease_s == 30u);
  BOOST_TEST(n.timeout_s == 600u);
  BOOST_TEST(n.campaign_id == "c1");
  BOOST_TEST(r.idempotency_key == "k");

  parsed many(R"({"items":[{"work_type":"a"},{"work_type":"b","depends_on":["#0"]}]})");
  auto m = codec::decode_work_add(many.get());
  BOOST_TEST(m.error.empty());
  BOOST_REQUIRE(m.items.size() == 2u);
  BOOST_TEST(m.items[0].config == "{}");
  BOOST_TEST(m.items[0].priority == 50);
  BOOST_TEST(m.items[1].depends_on == std::vector<std::string>{"#0"});

  parsed both(R"({"items":[],"priority":3})");
  auto b = codec::decode_work_add(both.get());
  BOOST_TEST(b.error_field == "priority");
  parsed neither(R"({"idempotency_key":"k"})");
  BOOST_TEST(codec::decode_work_add(neither.get()).error_field == "work_type");
  parsed bad_dependency(R"({"work_type":"a","depends_on":[1]})");
  BOOST_TEST(codec::decode_work_add(bad_dependency.get()).error_field == "depends_on");
}

BOOST_AUTO_TEST_CASE(codec_reads_claims_heartbeats_and_completions) {
  parsed claim(R"({"node_id":"n1","work_types":["selfplay"],"max_items":4,"wait_s":2.5,"request_id":"r1"})");
  auto c = codec::decode_work_claim(claim.get());
  BOOST_TEST(c.node_id == "n1");
  BOOST_TEST(c.work_types == std::vector<std::string>{"selfplay"});
  BOOST_TEST(c.max_items == 4u);
  BOOST_TEST(c.wait_s == 2.5);
  BOOST_TEST(c.request_id == "r1");

  parsed beat(R"({"work_id":"w-1-0","claim_token":"1.2","progress":0.5,"message":"half"})");
  auto h = codec::decode_work_heartbeat(beat.get());
  BOOST_TEST(h.has_progress);
  BOOST_TEST(h.progress == 0.5);
  BOOST_TEST(h.message == "half");
  parsed bare(R"({"work_id":"w-1-0","claim_token":"1.2"})");
  BOOST_TEST(!codec::decode_work_heartbeat(bare.get()).has_progress);

  parsed done(R"({"work_id":"w-1-0","claim_token":"1.2","result":{"games": 10}})");
  BOOST_TEST(codec::decode_work_complete(done.get()).result == R"({"games":10})");
  BOOST_TEST(codec::decode_work_complete(bare.get()).result == "{}");
  parsed failed(R"({"work_id":"w-1-0","claim_token":"1.2","error":"oom","retryable":false})");
  auto f = codec::decode_work_fail(failed.get());
  BOOST_TEST(f.error == "oom");
  BOOST_TEST(!f.retryable);
  BOOST_TEST(codec::decode_work_fail(bare.get()).retryable);
}

BOOST_AUTO_TEST_CASE(codec_reads_queries) {
  auto s = codec::decode_work_status("work_id=w-1-0&stale=1");
  BOOST_TEST(s.work_id == "w-1-0");
  BOOST_TEST(s.stale);
  auto l = codec::decode_work_list("status=running&work_type=selfplay&claimed_by=n1&limit=5&cursor=7&archived=true");
  BOOST_TEST(l.error.empty());
  BOOST_TEST(l.status == "running");
  BOOST_TEST(l.work_type == "selfplay");
  BOOST_TEST(l.claimed_by == "n1");
  BOOST_TEST(l.limit == 5u);
  BOOST_TEST(l.cursor == "7");
  BOOST_TEST(l.archived);
  BOOST_TEST(!l.stale);
  BOOST_TEST(codec::decode_work_list("status=sleeping").error_field == "status");
  BOOST_TEST(codec::decode_work_list("limit=0").error_field == "limit");
}

BOOST_AUTO_TEST_CASE(codec_writes_items_with_rfc3339_times_and_the_section_5_bodies) {
  work::item x;
  x.work_id = "w-3-0";
  x.work_type = "selfplay";
  x.config = R"({"a":1})";
  x.state = work::status::running;
  x.attempts = 1;
  x.claimed_by = "n1";
  x.claim_token = "2.4";
  x.created_at = 1764504000123;  // 2025-11-30T12:00:00.123Z
  x.claimed_at = 1764504001000;
  x.updated_at = 1764504001000;
  const auto json = codec::encode(x);
  BOOST_TEST(json.find(R"("created_at":"2025-11-30T12:00:00.123Z")") != std::string::npos, json);
  BOOST_TEST(json.find(R"("claimed_at":"2025-11-30T12:00:01.000Z")") != std::string::npos, json);
  BOOST_TEST(json.find(R"("started_at":null)") != std::string::npos, json);
  BOOST_TEST(json.find(R"("claim_token":"2.4")") != std::string::npos, json);
  BOOST_TEST(json.find("_ms") == std::string::npos, json);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_TEST(!p.parse(json).get(doc));

  BOOST_TEST(codec::encode(msg::work_command_reply{"queued", {"w-1-0", "w-1-1"}, {}, false}) ==
             R"({"work_ids":["w-1-0","w-1-1"],"replayed":false})");
  BOOST_TEST(codec::encode(msg::work_command_reply{"no_work", {}, {}, false}) == R"({"status":"no_work"})");
  BOOST_TEST(codec::encode(msg::work_command_reply{"completed", {}, {}, false}) == R"({"status":"completed"})");
  auto claimed = codec::encode(msg::work_command_reply{"claimed", {}, {x}, false});
  BOOST_TEST(claimed.rfind(R"({"status":"claimed","items":[{"work_id":"w-3-0",)", 0) == 0u, claimed);

  msg::work_list_reply page;
  page.items = {x};
  page.by_status = {{"", "pending", 0}, {"", "running", 1}};
  page.by_type = {{"selfplay", "running", 1}, {"training", "completed", 2}, {"training", "pending", 1}};
  page.total = 4;
  auto listed = codec::encode(page);
  BOOST_TEST(listed.find(R"("next_cursor":null)") != std::string::npos, listed);
  BOOST_TEST(listed.find(R"("counts":{"by_status":{"pending":0,"running":1},"by_type":{"selfplay":{"running":1},)"
                         R"("training":{"completed":2,"pending":1}}},"total":4,"archived":false})") != std::string::npos,
             listed);
}

BOOST_AUTO_TEST_SUITE_END()
