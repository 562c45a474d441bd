#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "actors/common/api_error.hpp"
#include "actors/events/event_log.hpp"
#include "actors/events/events.hpp"
#include "bench/harness/node_process.hpp"
#include "protocol/common/identity.hpp"
#include "protocol/messages/events_codec.hpp"
#include "tests/unit/actor_fixture.hpp"

using namespace p2p;
namespace harness = p2p::harness;

namespace {

msg::event_record make_event(const std::string& type, const std::string& payload) {
  msg::event_record e;
  e.type = type;
  e.scope = "node";
  e.timestamp = "2026-11-30T12:00:00.000Z";
  e.origin_node = "n1";
  e.event_id = "n:u:x";
  e.payload_json = payload;
  return e;
}

const std::string started_payload =
    R"({"node_id":"n1","node_uuid":"u","boot_epoch":1,"http":"127.0.0.1:1","version":"0"})";

}  // namespace

BOOST_AUTO_TEST_SUITE(events)

BOOST_AUTO_TEST_CASE(catalog_refuses_unknown_types_and_missing_fields) {
  BOOST_TEST(!codec::check_event("NODE_STARTED", started_payload));
  BOOST_TEST(codec::check_event("NODE_BOOTED", "{}").value().find("unknown") != std::string::npos);
  BOOST_TEST(codec::check_event("NODE_STARTED", R"({"node_id":"n1"})").value().find("lacks") !=
             std::string::npos);
  BOOST_TEST(codec::check_event("NODE_STARTED", "[1]").has_value());
  BOOST_TEST(codec::find_event_type("LEADER_CHANGED")->scope == "cluster");
}

BOOST_AUTO_TEST_CASE(envelope_and_sse_frame_are_well_formed) {
  auto e = make_event("NODE_STARTED", started_payload);
  e.seq = 7;
  auto frame = codec::sse_frame(e);
  BOOST_TEST(frame.rfind("id: 7\nevent: NODE_STARTED\ndata: {", 0) == 0u);
  BOOST_TEST(frame.substr(frame.size() - 2) == "\n\n");
  simdjson::dom::parser p;
  auto doc = p.parse(codec::envelope_json(e)).value();
  for (auto key : {"event_id", "type", "scope", "timestamp", "origin_node", "term", "payload"}) {
    simdjson::dom::element v;
    BOOST_TEST(!doc[key].get(v), key);
  }
}

BOOST_AUTO_TEST_CASE(log_continues_its_sequence_after_reopen) {
  harness::temp_dir dir;
  {
    event_log log(dir.path(), 10);
    for (int i = 0; i < 3; ++i) {
      auto e = make_event("NODE_STARTED", started_payload);
      log.append(e);
      BOOST_TEST(e.seq == static_cast<std::uint64_t>(i + 1));
    }
  }
  event_log reopened(dir.path(), 10);
  BOOST_TEST(reopened.last_seq() == 3u);
  BOOST_REQUIRE(reopened.retained().size() == 3u);
  BOOST_TEST(reopened.retained().back().payload_json == started_payload);
  auto e = make_event("NODE_STARTED", started_payload);
  reopened.append(e);
  BOOST_TEST(e.seq == 4u);
}

BOOST_AUTO_TEST_CASE(torn_last_line_is_dropped_and_appends_stay_readable) {
  harness::temp_dir dir;
  {
    event_log log(dir.path(), 10);
    auto e = make_event("NODE_STARTED", started_payload);
    log.append(e);
  }
  std::ofstream(dir.path() / "events.jsonl", std::ios::app) << "{\"seq\":2,\"event\":{\"ty";
  {
    event_log log(dir.path(), 10);
    BOOST_TEST(log.last_seq() == 1u);
    auto e = make_event("NODE_STARTED", started_payload);
    log.append(e);
    BOOST_TEST(e.seq == 2u);
  }
  event_log again(dir.path(), 10);
  BOOST_TEST(again.last_seq() == 2u);
  BOOST_TEST(again.retained().size() == 2u);
}

BOOST_AUTO_TEST_CASE(log_keeps_only_the_retained_tail_on_disk) {
  harness::temp_dir dir;
  {
    event_log log(dir.path(), 5);
    for (int i = 0; i < 23; ++i) {
      auto e = make_event("NODE_STARTED", started_payload);
      log.append(e);
    }
    BOOST_TEST(log.retained().size() == 5u);
    BOOST_TEST(log.retained().front().seq == 19u);
  }
  std::ifstream in(dir.path() / "events.jsonl");
  std::size_t lines = 0;
  for (std::string l; std::getline(in, l);) ++lines;
  BOOST_TEST(lines <= 10u);
  event_log reopened(dir.path(), 5);
  BOOST_TEST(reopened.last_seq() == 23u);
}

BOOST_FIXTURE_TEST_CASE(actor_publishes_delivers_and_replays, test::actor_fixture) {
  harness::temp_dir dir;
  auto events = sys.spawn(events_actor, events_config{dir.path(), 3, "n1", "uuid-1"});
  sched.run();
  auto rec = ask<msg::event_record>(events, msg::publish_event{"NODE_STARTED", started_payload});
  BOOST_TEST(rec.seq == 1u);
  BOOST_TEST(rec.event_id == "n:uuid-1:1");
  BOOST_TEST(rec.origin_node == "n1");
  auto err = ask_error(events, msg::publish_event{"NOT_A_TYPE", "{}"});
  BOOST_TEST(err.category() == api_error_category);
  BOOST_TEST(err.code() == static_cast<std::uint8_t>(api_errc::bad_request));

  // Live subscribers: one filtered to another type sees nothing, an unfiltered one sees all.
  caf::scoped_actor filtered{sys}, everything{sys};
  auto h1 = filtered->request(events, caf::infinite, msg::subscribe_events{false, 0, {"ACTOR_RESTARTED"}});
  auto h2 = everything->request(events, caf::infinite, msg::subscribe_events{false, 0, {}});
  sched.run();
  h1.receive([](msg::subscribe_reply&) {}, [](caf::error&) { BOOST_FAIL("subscribe failed"); });
  h2.receive([](msg::subscribe_reply&) {}, [](caf::error&) { BOOST_FAIL("subscribe failed"); });
  for (int i = 0; i < 4; ++i)
    caf::anon_send(events, msg::publish_event{"NODE_STARTED", started_payload});
  sched.run();
  std::vector<std::uint64_t> live;
  everything->receive_while([&] { return live.size() < 4; })(
      [&](msg::event_record& e) { live.push_back(e.seq); },
      caf::after(std::chrono::seconds(0)) >> [&] { live.push_back(0); });
  BOOST_TEST((live == std::vector<std::uint64_t>{2, 3, 4, 5}));
  bool filtered_got_one = false;
  filtered->receive([&](msg::event_record&) { filtered_got_one = true; },
                    caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(!filtered_got_one);

  // Resume inside the retained window replays exactly what followed; too old means reset.
  auto stats = ask<msg::events_stats>(events, msg::events_stats_request{});
  BOOST_TEST(stats.last_seq == 5u);
  BOOST_TEST(stats.retained == 3u);
  auto resumer = caf::scoped_actor{sys};
  auto h = resumer->request(events, caf::infinite, msg::subscribe_events{true, 3, {}});
  sched.run();
  msg::subscribe_reply reply;
  h.receive([&](msg::subscribe_reply& r) { reply = r; }, [](caf::error&) {});
  BOOST_TEST(!reply.reset);
  std::vector<std::uint64_t> replayed;
  resumer->receive_while([&] { return replayed.size() < 2; })(
      [&](msg::event_record& e) { replayed.push_back(e.seq); },
      caf::after(std::chrono::seconds(0)) >> [&] { replayed.push_back(0); });
  BOOST_TEST((replayed == std::vector<std::uint64_t>{4, 5}));
  auto old = caf::scoped_actor{sys};
  auto h3 = old->request(events, caf::infinite, msg::subscribe_events{true, 1, {}});
  sched.run();
  h3.receive([&](msg::subscribe_reply& r) { reply = r; }, [](caf::error&) {});
  BOOST_TEST(reply.reset);
  BOOST_TEST(reply.last_seq == 5u);
  caf::anon_send_exit(events, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_FIXTURE_TEST_CASE(replicated_events_are_recorded_once_with_their_ids, test::actor_fixture) {
  harness::temp_dir dir;
  const std::string payload = R"({"work_id":"w-2-0","work_type":"selfplay"})";
  auto events = sys.spawn(events_actor, events_config{dir.path(), 100, "n1", "uuid-1"});
  sched.run();
  caf::anon_send(events, msg::replicated_event{"r:2:0", "WORK_QUEUED", payload, 3, 1764504000123});
  caf::anon_send(events, msg::replicated_event{"r:2:0", "WORK_QUEUED", payload, 3, 1764504000123});  // again
  caf::anon_send(events, msg::replicated_event{"r:3:0", "WORK_CLAIMED", "{}", 3, 1764504000200});  // no fields
  caf::anon_send(events, msg::replicated_event{"r:4:0", "WORK_CLAIMED", payload, 3, 1764504000300});
  caf::anon_send(events, msg::replicated_event{"n:x:1", "WORK_CLAIMED", payload, 3, 1764504000300});  // not replicated
  sched.run();
  auto stats = ask<msg::events_stats>(events, msg::events_stats_request{});
  BOOST_TEST(stats.last_seq == 2u);
  caf::anon_send_exit(events, caf::exit_reason::user_shutdown);
  sched.run();

  // After a restart the entries apply again from the last snapshot: what was recorded stays once.
  event_log reopened(dir.path(), 100);
  BOOST_REQUIRE(reopened.retained().size() == 2u);
  const auto& first = reopened.retained().front();
  BOOST_TEST(first.event_id == "r:2:0");
  BOOST_TEST(first.scope == "cluster");
  BOOST_TEST(first.term == 3u);
  BOOST_TEST(first.timestamp == "2025-11-30T12:00:00.123Z");
  BOOST_TEST(first.origin_node == "n1");
  auto again = sys.spawn(events_actor, events_config{dir.path(), 100, "n1", "uuid-1"});
  sched.run();
  caf::anon_send(again, msg::replicated_event{"r:2:0", "WORK_QUEUED", payload, 3, 1764504000123});
  caf::anon_send(again, msg::replicated_event{"r:4:0", "WORK_CLAIMED", payload, 3, 1764504000300});
  caf::anon_send(again, msg::replicated_event{"r:4:1", "WORK_COMPLETED", payload, 3, 1764504000300});
  sched.run();
  BOOST_TEST(ask<msg::events_stats>(again, msg::events_stats_request{}).last_seq == 3u);
  BOOST_TEST((replicated_position("r:12:3") == std::pair<std::uint64_t, std::uint64_t>{12, 3}));
  BOOST_TEST(!replicated_position("r:12").has_value());
  BOOST_TEST(!replicated_position("n:u:1").has_value());
  caf::anon_send_exit(again, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_AUTO_TEST_SUITE_END()
