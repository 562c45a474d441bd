// Raft's write-ahead log: round trips, torn tails cut, corruption refused, segments.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "bench/harness/node_process.hpp"
#include "protocol/raft/wal.hpp"

using namespace p2p::raft;
using p2p::harness::temp_dir;

namespace {

entry make_entry(term_t term, index_t index, std::string data) {
  return entry{term, index, entry_type::normal, std::move(data)};
}

std::vector<std::filesystem::path> segments(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) out.push_back(f.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft)

BOOST_AUTO_TEST_CASE(wal_checksums_are_crc32c) {
  const std::string text = "123456789";
  BOOST_TEST(crc32c(text.data(), text.size()) == 0xE3069283u);  // the standard check value
}

BOOST_AUTO_TEST_CASE(wal_recovers_state_entries_and_truncations) {
  temp_dir dir("p2p-wal");
  {
    wal log(dir.path());
    BOOST_TEST(log.entries().empty());
    log.write({hard_state{1, "r1", 0}, std::nullopt, {make_entry(1, 1, "a"), make_entry(1, 2, "b"), make_entry(1, 3, "c")}, std::nullopt});
    // A new leader replaces entry 3 on, and the commit advances.
    log.write({hard_state{2, "r2", 2}, index_t{3}, {make_entry(2, 3, "C"), make_entry(2, 4, "d")}, std::nullopt});
  }
  wal again(dir.path());
  BOOST_TEST((again.state() == hard_state{2, "r2", 2}));
  BOOST_REQUIRE(again.entries().size() == 4u);
  BOOST_TEST(again.entries()[2].data == "C");
  BOOST_TEST(again.entries()[2].term == 2u);
  BOOST_TEST(again.entries()[3].data == "d");
  BOOST_TEST(again.torn_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(wal_syncs_all_but_commit_only_changes) {
  temp_dir dir("p2p-wal");
  wal log(dir.path());
  persist_batch entries{hard_state{1, "r1", 0}, std::nullopt, {make_entry(1, 1, "a")}, std::nullopt};
  BOOST_TEST(log.needs_sync(entries));
  log.write(entries);
  persist_batch commit_only{hard_state{1, "r1", 1}, std::nullopt, {}, std::nullopt};
  BOOST_TEST(!log.needs_sync(commit_only));
  persist_batch new_term{hard_state{2, "", 1}, std::nullopt, {}, std::nullopt};
  BOOST_TEST(log.needs_sync(new_term));
  persist_batch new_vote{hard_state{1, "r2", 1}, std::nullopt, {}, std::nullopt};
  BOOST_TEST(log.needs_sync(new_vote));
  log.write(commit_only);
  BOOST_TEST(log.state().commit == 1u);  // written all the same
}

BOOST_AUTO_TEST_CASE(wal_cuts_a_torn_tail_and_keeps_going) {
  temp_dir dir("p2p-wal");
  {
    wal log(dir.path());
    log.write({hard_state{1, "r1", 0}, std::nullopt, {make_entry(1, 1, "kept")}, std::nullopt});
    log.write({std::nullopt, std::nullopt, {make_entry(1, 2, std::string(100, 'x'))}, std::nullopt});
  }
  // The crash interrupted the second write: its last bytes never reached the disk.
  auto file = segments(dir.path()).back();
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 40);
  {
    wal log(dir.path());
    BOOST_TEST(log.torn_bytes() > 0u);
    BOOST_REQUIRE(log.entries().size() == 1u);
    BOOST_TEST(log.entries()[0].data == "kept");
    log.write({std::nullopt, std::nullopt, {make_entry(1, 2, "again")}, std::nullopt});
  }
  wal after(dir.path());
  BOOST_TEST(after.torn_bytes() == 0u);
  BOOST_REQUIRE(after.entries().size() == 2u);
  BOOST_TEST(after.entries()[1].data == "again");
}

BOOST_AUTO_TEST_CASE(wal_refuses_a_corrupted_record_in_the_middle) {
  temp_dir dir("p2p-wal");
  {
    wal log(dir.path());
    log.write({hard_state{1, "r1", 0}, std::nullopt, {make_entry(1, 1, "first-entry-payload")}, std::nullopt});
    log.write({std::nullopt, std::nullopt, {make_entry(1, 2, "second")}, std::nullopt});
  }
  auto file = segments(dir.path()).back();
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto at = bytes.find("first-entry-payload");
  BOOST_REQUIRE(at != std::string::npos);
  bytes[at + 3] ^= 0x20;  // one flipped bit, valid records after it
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  try {
    wal broken(dir.path());
    BOOST_ERROR("a corrupted log was accepted");
  } catch (const wal_error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("corrupted") != std::string::npos, what);
    BOOST_TEST(what.find(file.filename().string()) != std::string::npos, what);
    BOOST_TEST(what.find("checksum") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(wal_rolls_over_to_new_segments) {
  temp_dir dir("p2p-wal");
  {
    wal log(dir.path(), 256);
    for (index_t i = 1; i <= 40; ++i)
      log.write({hard_state{1, "r1", i - 1}, std::nullopt, {make_entry(1, i, std::string(30, 'e'))}, std::nullopt});
  }
  BOOST_TEST(segments(dir.path()).size() > 5u);
  wal again(dir.path(), 256);
  BOOST_TEST(again.entries().size() == 40u);
  BOOST_TEST(again.state().commit == 39u);
}

BOOST_AUTO_TEST_CASE(wal_snapshots_replace_old_segments_atomically) {
  temp_dir dir("p2p-wal");
  const membership members{{"r1", "r2", "r3"}, {}};
  {
    wal log(dir.path(), 256);
    for (index_t i = 1; i <= 30; ++i)
      log.write({hard_state{1, "r1", i - 1}, std::nullopt, {make_entry(1, i, std::string(30, 'e'))}, std::nullopt});
    BOOST_TEST(segments(dir.path()).size() > 3u);
    persist_batch b;
    b.snapshot = snapshot{25, 1, members, "state-at-25", "c1"};
    b.entries = {make_entry(1, 31, "after")};
    log.write(b);
    BOOST_TEST(log.entries().size() == 6u);  // 26..31
    BOOST_TEST(log.entries().front().index == 26u);
  }
  // One snapshot and one segment are left.
  auto files = segments(dir.path());
  BOOST_REQUIRE(files.size() == 2u);
  BOOST_TEST(files[0].filename().string() == "snapshot-00000000000000000025.snap");
  {
    wal again(dir.path(), 256);
    BOOST_REQUIRE(again.snapshot().has_value());
    BOOST_TEST((*again.snapshot() == snapshot{25, 1, members, "state-at-25", "c1"}));
    BOOST_REQUIRE(again.entries().size() == 6u);
    BOOST_TEST(again.entries().back().data == "after");
    BOOST_TEST(again.state().commit == 29u);
    // A follower installing a snapshot that conflicts with its log drops every entry after it.
    persist_batch b;
    b.state = hard_state{2, "r2", 40};
    b.snapshot = snapshot{40, 2, members, "state-at-40", "c1"};
    b.truncate_from = 41;
    again.write(b);
    BOOST_TEST(again.entries().empty());
  }
  wal last(dir.path(), 256);
  BOOST_TEST(last.snapshot()->index == 40u);
  BOOST_TEST(last.entries().empty());
  BOOST_TEST(last.state().term == 2u);
}

BOOST_AUTO_TEST_CASE(wal_recovers_from_a_crash_between_snapshot_and_cleanup) {
  temp_dir dir("p2p-wal");
  const membership members{{"r1"}, {}};
  {
    wal log(dir.path());
    for (index_t i = 1; i <= 10; ++i)
      log.write({hard_state{1, "r1", i}, std::nullopt, {make_entry(1, i, "x")}, std::nullopt});
  }
  // The crash left the snapshot file and the new segment (entries written again) beside the old one.
  const auto old_segment = segments(dir.path()).back();
  const auto kept = dir.path() / "old-copy";
  std::filesystem::copy_file(old_segment, kept);
  {
    wal log(dir.path());
    persist_batch b;
    b.snapshot = snapshot{6, 1, members, "six", "c1"};
    log.write(b);
  }
  std::filesystem::rename(kept, old_segment);
  // And a temporary file of a snapshot never renamed.
  std::ofstream(dir.path() / "snapshot-00000000000000000009.snap.tmp") << "half";
  wal after(dir.path());
  BOOST_TEST(after.snapshot()->index == 6u);
  BOOST_REQUIRE(after.entries().size() == 4u);
  BOOST_TEST(after.entries().front().index == 7u);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "snapshot-00000000000000000009.snap.tmp"));
}

BOOST_AUTO_TEST_CASE(wal_refuses_a_corrupted_snapshot) {
  temp_dir dir("p2p-wal");
  {
    wal log(dir.path());
    log.write({hard_state{1, "r1", 1}, std::nullopt, {make_entry(1, 1, "x")}, std::nullopt});
    persist_batch b;
    b.snapshot = snapshot{1, 1, membership{{"r1"}, {}}, "the-state-machine", "c1"};
    log.write(b);
  }
  const auto file = dir.path() / "snapshot-00000000000000000001.snap";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.find("state-machine")] ^= 0x01;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  try {
    wal broken(dir.path());
    BOOST_ERROR("a corrupted snapshot was accepted");
  } catch (const wal_error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("snapshot") != std::string::npos, what);
    BOOST_TEST(what.find("checksum") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(a_core_restarts_from_its_wal_with_every_entry_it_acknowledged) {
  temp_dir dir("p2p-wal");
  const auto t = *timing_named("test");
  {
    wal log(dir.path());
    core single("r1", {"r1"}, t, 1, 0);
    single.tick(1000);  // a one-voter cluster elects itself
    for (int i = 0; i < 5; ++i) single.propose(std::string(1, static_cast<char>('a' + i)), 1000);
    log.write(single.take_persist());
    // Durable here, the entries commit; the next batch records the commit index.
    BOOST_TEST(single.commit_index() == 6u);  // the leader's no-op and five entries
    log.write(single.take_persist());
  }
  wal log(dir.path());
  core restarted("r1", {"r1"}, t, 2, 0, log.state(), log.entries());
  BOOST_TEST(restarted.last_index() == 6u);
  BOOST_TEST(restarted.commit_index() == 6u);
  BOOST_TEST(restarted.take_committed().size() == 6u);
}

BOOST_AUTO_TEST_CASE(a_leaders_own_entries_count_toward_commit_only_once_durable) {
  const auto t = *timing_named("test");
  core single("r1", {"r1"}, t, 1, 0);
  single.tick(0);
  single.take_persist();
  BOOST_REQUIRE((single.state() == role::leader));
  const auto before = single.commit_index();
  auto index = single.propose("x", 1);
  BOOST_REQUIRE(index.has_value());
  auto batch = single.take_persist_deferred();
  BOOST_TEST(batch.entries.size() == 1u);
  BOOST_TEST(single.commit_index() == before);  // written, not yet durable: not committed
  single.persisted();
  BOOST_TEST(single.commit_index() == *index);

  // Three voters: the leader's undurable copy does not make a majority with one follower.
  core leader("a", {"a", "b", "c"}, t, 1, 0), b("b", {"a", "b", "c"}, t, 2, 0);
  leader.tick(1000);  // pre-vote
  for (auto& m : leader.take_messages())
    if (m.to == "b") {
      b.step(m, 1000);
      b.take_persist();
      for (auto& r : b.take_messages()) leader.step(r, 1000);
    }
  leader.take_persist();
  for (auto& m : leader.take_messages())  // the vote itself
    if (m.to == "b") {
      b.step(m, 1000);
      b.take_persist();
      for (auto& r : b.take_messages()) leader.step(r, 1000);
    }
  BOOST_REQUIRE((leader.state() == role::leader));
  leader.take_persist();
  auto deliver_to_b = [&] {
    for (auto& m : leader.take_messages())
      if (m.to == "b") {
        b.step(m, 1001);
        b.take_persist();
        for (auto& r : b.take_messages()) leader.step(r, 1001);
      }
  };
  deliver_to_b();  // the no-op replicates
  const auto settled = leader.commit_index();
  auto x = leader.propose("y", 1001);
  BOOST_REQUIRE(x.has_value());
  leader.take_persist_deferred();
  deliver_to_b();  // b acknowledges before the leader's own write ends
  BOOST_TEST(leader.commit_index() == settled);
  leader.persisted();
  BOOST_TEST(leader.commit_index() == *x);
}

BOOST_AUTO_TEST_SUITE_END()
