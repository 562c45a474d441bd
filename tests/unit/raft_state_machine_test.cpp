// The key-value state machine and the JSON forms of Raft messages.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include "actors/raft/state_machine.hpp"
#include "protocol/messages/raft_codec.hpp"

using namespace p2p;
using raft::kv_state_machine;

BOOST_AUTO_TEST_SUITE(raft)

BOOST_AUTO_TEST_CASE(kv_puts_answer_the_previous_value_and_snapshots_round_trip) {
  kv_state_machine kv;
  auto first = kv_state_machine::decode_put_result(kv.apply(1, kv_state_machine::put_command("k", "v1")));
  BOOST_TEST(!first.existed);
  auto second = kv_state_machine::decode_put_result(kv.apply(2, kv_state_machine::put_command("k", "v2")));
  BOOST_TEST(second.existed);
  BOOST_TEST(second.previous == "v1");
  // Any bytes in keys and values.
  const std::string odd("a\0b\xff", 4);
  kv.apply(3, kv_state_machine::put_command(odd, odd));
  // A command it does not know is applied as an error answer, never an exception.
  BOOST_TEST(kv.apply(4, "garbage").rfind("error:", 0) == 0u);
  BOOST_TEST(kv.apply(5, kv_state_machine::put_command("k", "v").substr(0, 4)).rfind("error:", 0) == 0u);

  kv_state_machine copy;
  copy.restore(kv.snapshot());
  BOOST_TEST(copy.size() == 2u);
  BOOST_TEST(*copy.get("k") == "v2");
  BOOST_TEST(*copy.get(odd) == odd);
  BOOST_TEST(copy.snapshot() == kv.snapshot());
  BOOST_CHECK_THROW(copy.restore("not a snapshot"), std::invalid_argument);
  BOOST_CHECK_THROW(copy.restore(kv.snapshot().substr(0, kv.snapshot().size() - 1)), std::invalid_argument);
  BOOST_TEST(*copy.get("k") == "v2");  // a refused restore changes nothing
}

BOOST_AUTO_TEST_CASE(base64_round_trips_and_refuses_garbage) {
  const std::vector<std::string> samples{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)};
  for (const auto& s : samples) {
    std::string back;
    BOOST_TEST(codec::base64_decode(codec::base64_encode(s), back));
    BOOST_TEST(back == s);
  }
  BOOST_TEST(codec::base64_encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(codec::base64_encode("fo") == "Zm8=");
  std::string out;
  BOOST_TEST(!codec::base64_decode("Zm9", out));
  BOOST_TEST(!codec::base64_decode("Zm!v", out));
  BOOST_TEST(!codec::base64_decode("Z=9v", out));
}

BOOST_AUTO_TEST_CASE(raft_messages_survive_their_json_form) {
  p2p::raft::message m;
  m.type = p2p::raft::msg_type::append;
  m.from = "node-a";
  m.to = "node-b";
  m.term = 7;
  m.log_term = 6;
  m.index = 41;
  m.commit = 40;
  m.round = 3;
  m.cluster = "c0ffee";
  m.voters_hash = 18446744073709551557ull;  // above 2^53: travels as a string
  m.entries.push_back({7, 42, p2p::raft::entry_type::normal, std::string("\x01\x02", 2)});
  m.entries.push_back({7, 43, p2p::raft::entry_type::config, "v:a,b;l:"});
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(codec::encode(m)).get(doc));
  auto rpc = codec::decode_raft_rpc(&doc, "append");
  BOOST_TEST(rpc.error.empty(), rpc.error);
  const auto& back = rpc.body;
  BOOST_TEST((back.type == m.type));
  BOOST_TEST(back.from == "node-a");
  BOOST_TEST(back.term == 7u);
  BOOST_TEST(back.index == 41u);
  BOOST_TEST(back.commit == 40u);
  BOOST_TEST(back.voters_hash == m.voters_hash);
  BOOST_TEST(back.cluster == "c0ffee");
  BOOST_REQUIRE(back.entries.size() == 2u);
  BOOST_TEST(back.entries[0].data == m.entries[0].data);
  BOOST_TEST((back.entries[1].type == p2p::raft::entry_type::config));

  simdjson::dom::element bad;
  const std::string unknown_type = R"({"type":"gossip","from":"a","term":1})";
  BOOST_REQUIRE(!p.parse(unknown_type).get(bad));
  BOOST_TEST(!codec::decode_raft_rpc(&bad, "vote").error.empty());
}

BOOST_AUTO_TEST_SUITE_END()
