// The gossip core: versions, push-pull convergence, identity conflicts, expiry, chunking.
#include <boost/test/unit_test.hpp>

#include <memory>

#include "protocol/gossip/gossip.hpp"

using namespace p2p::gossip;

namespace {

const auto everyone_alive = [](const node_id&) { return true; };
const auto nobody_alive = [](const node_id&) { return false; };

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) about operator+ on strings.
std::string prefixed(const char* prefix, const std::string& rest) {
  std::string n(prefix);
  n.append(rest);
  return n;
}
std::string name_of(int i) { return prefixed("g", std::to_string(i)); }

// One push-pull between a and b: a sends its digest, b answers with what a lacks and what it
// wants, a sends that.
void push_pull(state& a, state& b) {
  auto answer = b.diff(a.make_digest());
  for (const auto& r : answer.records) a.merge(r, everyone_alive);
  for (const auto& r : a.records_for(answer.wanted)) b.merge(r, everyone_alive);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gossip)

BOOST_AUTO_TEST_CASE(a_restarted_origin_outranks_its_old_counter) {
  state a("a", "uuid-a", 1, "{}");
  for (int i = 0; i < 56; ++i) a.update_self(prefixed("{\"n\":", std::to_string(i)).append("}"));
  BOOST_TEST(a.self().ver.counter == 57u);
  state b("b", "uuid-b", 1, "{}");
  BOOST_TEST((b.merge(a.self(), everyone_alive) == merge_result::accepted));
  state restarted("a", "uuid-a", 2, "{\"fresh\":true}");  // lost its counter, not its epoch
  BOOST_TEST((b.merge(restarted.self(), everyone_alive) == merge_result::accepted));
  BOOST_TEST(b.records().at("a").info_json == "{\"fresh\":true}");
  BOOST_TEST((b.merge(a.self(), everyone_alive) == merge_result::stale));
}

BOOST_AUTO_TEST_CASE(diff_sends_only_what_the_other_side_lacks) {
  state a("a", "ua", 1, "{}"), b("b", "ub", 1, "{}");
  state c("c", "uc", 1, "{}");
  a.merge(c.self(), everyone_alive);
  b.merge(c.self(), everyone_alive);
  auto d = b.diff(a.make_digest());
  BOOST_REQUIRE(d.records.size() == 1u);  // b's own record; both have c at the same version
  BOOST_TEST(d.records[0].id == "b");
  BOOST_REQUIRE(d.wanted.size() == 1u);
  BOOST_TEST(d.wanted[0] == "a");
  c.update_self("{\"v\":2}");
  a.merge(c.self(), everyone_alive);
  d = b.diff(a.make_digest());
  BOOST_TEST(d.wanted.size() == 2u);  // a, and c's newer version
}

BOOST_AUTO_TEST_CASE(push_pull_spreads_everything_from_one_seed_in_few_rounds) {
  const int n = 64;
  std::vector<std::unique_ptr<state>> nodes;
  for (int i = 0; i < n; ++i)
    nodes.push_back(std::make_unique<state>(name_of(i), prefixed("u", std::to_string(i)), 1, "{}"));
  // Everyone joins through g0 (one acknowledged exchange), then gossips with 3 random peers.
  for (int i = 1; i < n; ++i) push_pull(*nodes[i], *nodes[0]);
  std::mt19937_64 rng(42);
  auto gossip_round = [&] {
    for (auto& s : nodes)
      for (const auto& peer : s->pick_peers(3, rng, everyone_alive))
        push_pull(*s, *nodes[static_cast<std::size_t>(std::stoi(peer.substr(1)))]);
  };
  int rounds = 0;
  auto complete = [&] {
    for (auto& s : nodes)
      if (s->records().size() != static_cast<std::size_t>(n)) return false;
    return true;
  };
  while (!complete() && rounds < 20) {
    ++rounds;
    gossip_round();
  }
  BOOST_TEST(complete());
  BOOST_TEST(rounds <= 2, "rounds " << rounds);
  // An update then reaches everyone within a few rounds too.
  nodes[17]->update_self("{\"load\":3}");
  int update_rounds = 0;
  auto everyone_has_it = [&] {
    for (auto& s : nodes)
      if (s->records().at("g17").info_json != "{\"load\":3}") return false;
    return true;
  };
  while (!everyone_has_it() && update_rounds < 20) {
    ++update_rounds;
    gossip_round();
  }
  BOOST_TEST(everyone_has_it());
  BOOST_TEST(update_rounds <= 6, "rounds " << update_rounds);
}

BOOST_AUTO_TEST_CASE(a_live_id_with_another_uuid_is_refused) {
  state a("a", "ua", 1, "{}");
  state impostor("b", "other", 1, "{}");
  state b("b", "ub", 1, "{}");
  a.merge(b.self(), everyone_alive);
  BOOST_TEST((a.merge(impostor.self(), everyone_alive) == merge_result::conflict));
  BOOST_TEST(a.records().at("b").node_uuid == "ub");
  // Once SWIM holds the old one dead, a new process may take the id.
  BOOST_TEST((a.merge(impostor.self(), nobody_alive) == merge_result::accepted));
  BOOST_TEST(a.records().at("b").node_uuid == "other");
  // Our own id from another process is always a conflict.
  state twin("a", "twin", 5, "{}");
  BOOST_TEST((a.merge(twin.self(), everyone_alive) == merge_result::conflict));
}

BOOST_AUTO_TEST_CASE(records_of_long_dead_nodes_expire) {
  state a("a", "ua", 1, "{}");
  for (const char* id : {"b", "c", "d"}) a.merge(state(id, prefixed("u", id), 1, "{}").self(), everyone_alive);
  auto down_since = [](const node_id& id) -> std::optional<time_ms> {
    if (id == "b") return 1000;   // dead long ago
    if (id == "c") return 9'500;  // dead recently
    return std::nullopt;          // alive
  };
  auto gone = a.expire(10'000, 5'000, down_since);
  BOOST_REQUIRE(gone.size() == 1u);
  BOOST_TEST(gone[0] == "b");
  BOOST_TEST(a.records().size() == 3u);  // a itself, c, d
}

BOOST_AUTO_TEST_CASE(chunks_stay_within_64_kib) {
  std::vector<record> records;
  for (int i = 0; i < 100; ++i)
    records.push_back(record{name_of(i), "u", {1, 1}, std::string(3000, 'x')});
  records.push_back(record{"huge", "u", {1, 1}, std::string(100 * 1024, 'y')});
  auto chunks = chunk(records);
  std::size_t total = 0;
  for (const auto& c : chunks) {
    std::size_t bytes = 0;
    for (const auto& r : c) bytes += r.wire_size();
    BOOST_TEST((bytes <= max_chunk_bytes || c.size() == 1u));
    total += c.size();
  }
  BOOST_TEST(total == records.size());
  BOOST_TEST(chunks.size() >= 6u);
  BOOST_TEST(chunks.back().back().id == "huge");
  BOOST_TEST(chunk({}).empty());
}

BOOST_AUTO_TEST_CASE(equal_hashes_mean_equal_versions) {
  state a("a", "ua", 1, "{}"), b("b", "ub", 1, "{}");
  BOOST_TEST(a.digest_hash() != b.digest_hash());
  push_pull(a, b);
  BOOST_TEST(a.digest_hash() == b.digest_hash());
  a.update_self("{\"load\":1}");
  BOOST_TEST(a.digest_hash() != b.digest_hash());
  push_pull(b, a);
  BOOST_TEST(a.digest_hash() == b.digest_hash());
  BOOST_TEST(a.digest_hash() != 0u);
}

BOOST_AUTO_TEST_CASE(a_diff_larger_than_a_chunk_arrives_in_order_over_several_replies) {
  state big("big", "u0", 1, "{}"), empty("new", "u1", 1, "{}");
  for (int i = 0; i < 60; ++i)
    big.merge(record{name_of(i), "u", {1, 1}, std::string(3000, 'x')}, everyone_alive);
  std::size_t replies = 0;
  std::string after;
  do {
    auto part = big.diff_chunk(empty.make_digest(), false, after);
    ++replies;
    std::size_t bytes = 0;
    for (const auto& r : part.records) {
      bytes += r.wire_size();
      BOOST_TEST((empty.merge(r, everyone_alive) == merge_result::accepted));
    }
    BOOST_TEST(bytes <= max_chunk_bytes);
    BOOST_TEST((after.empty() ? part.wanted.size() == 1u : part.wanted.empty()));
    after = part.next_after;
  } while (!after.empty());
  BOOST_TEST(replies == 3u);  // about 180 KB in chunks of at most 64 KiB
  BOOST_TEST(empty.records().size() == 62u);
  // A full (anti-entropy) exchange sends every record, whatever the digest says.
  auto full = big.diff_chunk(empty.make_digest(), true, "", 1 << 30);
  BOOST_TEST(full.records.size() == 61u);
  BOOST_REQUIRE(full.wanted.size() == 1u);  // and asks for the one record it lacks
  BOOST_TEST(full.wanted[0] == "new");
  BOOST_TEST(big.diff_chunk(empty.make_digest(), false, "", 1 << 30).records.empty());
}

BOOST_AUTO_TEST_SUITE_END()
