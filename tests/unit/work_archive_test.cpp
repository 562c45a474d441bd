// The local archive of work items past retention (data_dir/work/archive.sqlite).
#include <boost/test/unit_test.hpp>

#include "actors/work_queue/work_archive.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p;

namespace {

work::item finished(std::uint64_t seq, const std::string& type, work::status state) {
  work::item x;
  x.seq = seq;
  x.work_id = "w-" + std::to_string(seq) + "-0";
  x.work_type = type;
  x.config = R"({"k":1})";
  x.state = state;
  x.attempts = 1;
  x.claimed_by = seq % 2 ? "n1" : "n2";
  x.claim_token = "1.2";
  x.created_at = 1000;
  x.finished_at = 2000;
  x.result = R"({"games":3})";
  return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(work_queue)

BOOST_AUTO_TEST_CASE(archive_keeps_items_across_reopen_lists_them_in_order_and_counts_them) {
  harness::temp_dir dir;
  const auto file = dir.path() / "work" / "archive.sqlite";
  {
    work::work_archive a(file);
    a.store({finished(3, "selfplay", work::status::completed), finished(1, "training", work::status::failed),
             finished(2, "selfplay", work::status::cancelled)});
    // Stored again (an archive entry applied again after a restart): replaced, not doubled.
    a.store({finished(3, "selfplay", work::status::completed)});
    BOOST_TEST(a.size() == 3u);
  }
  work::work_archive a(file);
  BOOST_TEST(a.size() == 3u);
  auto x = a.get("w-3-0");
  BOOST_REQUIRE(x.has_value());
  BOOST_TEST((*x == finished(3, "selfplay", work::status::completed)));
  BOOST_TEST(!a.get("w-9-0").has_value());

  work::list_filter all;
  all.limit = 2;
  auto page = a.list(all);
  BOOST_REQUIRE(page.items.size() == 2u);
  BOOST_TEST(page.items[0].work_id == "w-1-0");
  BOOST_TEST(page.items[1].work_id == "w-2-0");
  BOOST_TEST(page.next_cursor == "2");
  all.cursor = page.next_cursor;
  auto rest = a.list(all);
  BOOST_REQUIRE(rest.items.size() == 1u);
  BOOST_TEST(rest.items[0].work_id == "w-3-0");
  BOOST_TEST(rest.next_cursor.empty());

  work::list_filter selfplay;
  selfplay.work_type = "selfplay";
  selfplay.state = work::status::completed;
  BOOST_TEST(a.list(selfplay).items.size() == 1u);
  work::list_filter by_node;
  by_node.claimed_by = "n1";
  BOOST_TEST(a.list(by_node).items.size() == 2u);

  auto c = a.count();
  BOOST_TEST(c.total == 3u);
  BOOST_TEST(c.by_status.at("completed") == 1u);
  BOOST_TEST(c.by_status.at("pending") == 0u);
  BOOST_TEST(c.by_type.at("selfplay").at("cancelled") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
