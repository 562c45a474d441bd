// The cluster state machine: the key-value map and the work queue behind one log, one snapshot.
#include <boost/test/unit_test.hpp>

#include <set>

#include "actors/raft/composite_state_machine.hpp"
#include "protocol/messages/events_codec.hpp"

using namespace p2p;
using p2p::raft::composite_state_machine;
using p2p::raft::kv_state_machine;

namespace {

std::string add_command(const std::string& type, const std::string& config = "{}", work::time_ms now = 1000) {
  work::new_item n;
  n.work_type = type;
  n.config = config;
  return work::encode_command(work::add_command{{n}, "", now});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft)

BOOST_AUTO_TEST_CASE(composite_dispatches_by_command_prefix) {
  composite_state_machine m;
  BOOST_TEST(composite_state_machine::is_work_command(add_command("selfplay")));
  BOOST_TEST(!composite_state_machine::is_work_command(kv_state_machine::put_command("k", "v")));

  auto kv = m.apply_entry(1, kv_state_machine::put_command("k", "v1"));
  BOOST_TEST(!kv.work);
  BOOST_TEST(!kv_state_machine::decode_put_result(kv.result).existed);
  BOOST_TEST(*m.kv().get("k") == "v1");

  auto added = m.apply_entry(2, add_command("selfplay"));
  BOOST_TEST(added.work);
  BOOST_TEST(added.work_op == "add");
  BOOST_TEST(added.work_answer.response.work_ids == std::vector<std::string>{"w-2-0"});
  BOOST_REQUIRE(added.work_answer.events.size() == 1u);
  BOOST_TEST(added.work_answer.events[0].event_id == "r:2:0");
  // The proposer's bytes are the encoded answer.
  auto decoded = work::decode_answer(added.result);
  BOOST_REQUIRE(decoded.has_value());
  BOOST_TEST(decoded->response.work_ids == added.work_answer.response.work_ids);
  BOOST_TEST(m.work().size() == 1u);

  // Broken work bytes still apply deterministically: an error answer, never an exception.
  auto broken = m.apply_entry(3, "WQC\x01garbage");
  BOOST_TEST(broken.work);
  BOOST_TEST(broken.work_op.empty());
  BOOST_TEST((broken.work_answer.response.result == work::code::bad_request));
  BOOST_TEST(m.apply(4, "garbage").rfind("error:", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(composite_snapshots_hold_both_parts_and_restore_old_kv_snapshots) {
  composite_state_machine m;
  m.apply(1, kv_state_machine::put_command("k", "v"));
  m.apply(2, add_command("selfplay"));
  m.apply(3, add_command("training"));

  composite_state_machine copy;
  copy.restore(m.snapshot());
  BOOST_TEST(*copy.kv().get("k") == "v");
  BOOST_TEST(copy.work().size() == 2u);
  BOOST_REQUIRE(copy.work().get("w-3-0") != nullptr);
  BOOST_TEST(copy.work().get("w-3-0")->work_type == "training");
  BOOST_TEST(copy.snapshot() == m.snapshot());

  // A snapshot from before the work queue joined the log: the key-value part alone.
  kv_state_machine old;
  old.apply(1, kv_state_machine::put_command("old", "value"));
  copy.restore(old.snapshot());
  BOOST_TEST(*copy.kv().get("old") == "value");
  BOOST_TEST(copy.kv().get("k") == nullptr);
  BOOST_TEST(copy.work().size() == 0u);

  // Refused snapshots change nothing.
  const auto before = copy.snapshot();
  BOOST_CHECK_THROW(copy.restore("nonsense"), std::invalid_argument);
  const auto good = m.snapshot();
  BOOST_CHECK_THROW(copy.restore(good.substr(0, good.size() - 1)), std::invalid_argument);
  BOOST_CHECK_THROW(copy.restore(good + "x"), std::invalid_argument);
  BOOST_TEST(copy.snapshot() == before);
}

BOOST_AUTO_TEST_CASE(the_leader_stamps_time_and_term_on_work_commands) {
  work::claim_command c;
  c.node.node_id = "n1";
  c.now = 5;
  auto stamped = work::decode_command(p2p::raft::stamp_work_command(work::encode_command(c), 123456, 7));
  BOOST_REQUIRE(stamped.has_value());
  const auto& claim = std::get<work::claim_command>(*stamped);
  BOOST_TEST(claim.now == 123456);
  BOOST_TEST(claim.term == 7u);
  BOOST_TEST(claim.node.node_id == "n1");
  auto start = work::decode_command(p2p::raft::stamp_work_command(work::encode_command(work::start_command{"w", "t", 1}), 99, 7));
  BOOST_TEST(std::get<work::start_command>(*start).now == 99);
  // Bytes that are not a work command pass unchanged (the machine answers them).
  BOOST_TEST(p2p::raft::stamp_work_command("WQC?", 1, 1) == "WQC?");

  // The claim token carries the stamped term.
  composite_state_machine m;
  m.apply(1, add_command("selfplay"));
  auto claimed = m.apply_entry(2, p2p::raft::stamp_work_command(work::encode_command(c), 2000, 7));
  BOOST_REQUIRE(claimed.work_answer.response.items.size() == 1u);
  BOOST_TEST(claimed.work_answer.response.items[0].claim_token == "7.2");
}

BOOST_AUTO_TEST_CASE(every_event_the_work_queue_emits_passes_the_catalog) {
  composite_state_machine m;
  std::vector<work::event> seen;
  std::uint64_t index = 0;
  auto run = [&](const work::command& c) {
    auto a = m.apply_entry(++index, work::encode_command(c));
    for (auto& e : a.work_answer.events) seen.push_back(e);
    return a.work_answer.response;
  };
  auto node = [](const std::string& id) {
    work::node_offer o;
    o.node_id = id;
    return o;
  };
  auto add = [&](const std::string& type, std::uint32_t attempts = 1, std::uint32_t timeout_s = 0) {
    work::new_item n;
    n.work_type = type;
    n.config = R"({"board_type":"hex8","num_players":2})";
    n.max_attempts = attempts;
    n.timeout_s = timeout_s;
    return run(work::add_command{{n}, "", 1000}).work_ids.at(0);
  };
  auto claim = [&](const std::string& id, work::time_ms now = 2000) {
    auto r = run(work::claim_command{node("n1"), 1, "", 1, now});
    BOOST_REQUIRE(r.items.size() == 1u);
    BOOST_TEST(r.items[0].work_id == id);
    return r.items[0].claim_token;
  };
  auto selfplay = add("selfplay");
  run(work::complete_command{selfplay, claim(selfplay), R"({"games_generated":100})", 3000});
  auto training = add("training");
  run(work::complete_command{training, claim(training), R"({"model_id":"m1","train_loss":0.1})", 3000});
  auto failing = add("training");
  auto dependent = [&] {
    work::new_item n;
    n.work_type = "selfplay";
    n.depends_on = {failing};
    return run(work::add_command{{n}, "", 1000}).work_ids.at(0);
  }();
  run(work::fail_command{failing, claim(failing), "crashed", false, 3000});  // cascades to `dependent`
  auto expiring = add("training");
  run(work::expire_command{expiring, claim(expiring), work::expire_reason::claimant_dead, 4000});
  auto slow = add("training", 1, 1);
  auto token = claim(slow, 5000);
  run(work::start_command{slow, token, 5000});
  run(work::timeout_command{slow, token, 7000});
  auto cancelled = add("match");
  run(work::cancel_command{cancelled, "", 8000});
  BOOST_TEST((m.work().get(dependent)->state == work::status::cancelled));
  // The queries behind the console and the archive round.
  BOOST_TEST(m.work().oldest_finished() == 3000);
  auto newest = m.work().recent(2);
  BOOST_REQUIRE(newest.size() == 2u);
  BOOST_TEST(newest[0].work_id == cancelled);
  BOOST_TEST(newest[1].work_id == slow);

  std::set<std::string> types;
  for (const auto& e : seen) {
    types.insert(e.type);
    auto why = codec::check_event(e.type, e.payload_json);
    BOOST_TEST(!why.has_value(), e.type << ": " << why.value_or("") << " in " << e.payload_json);
  }
  for (auto t : {"WORK_QUEUED", "WORK_CLAIMED", "WORK_COMPLETED", "SELFPLAY_COMPLETE", "TRAINING_COMPLETED",
                 "WORK_FAILED", "TRAINING_FAILED", "WORK_CANCELLED", "WORK_TIMED_OUT"})
    BOOST_TEST(types.count(t) == 1u, t);
}

BOOST_AUTO_TEST_SUITE_END()
