// The linearizability checker (tests/sim/linearizability.hpp) on hand-written histories.
#include <boost/test/unit_test.hpp>

#include "tests/sim/linearizability.hpp"

using namespace p2p::lin;

namespace {

kv_operation put(int client, std::string key, std::string value, std::uint64_t call, std::uint64_t ret) {
  return {client, {kv_kind::put, std::move(key), std::move(value)}, {}, call, ret};
}
kv_operation append(int client, std::string key, std::string value, std::uint64_t call, std::uint64_t ret) {
  return {client, {kv_kind::append, std::move(key), std::move(value)}, {}, call, ret};
}
kv_operation get(int client, std::string key, std::string seen, std::uint64_t call, std::uint64_t ret) {
  return {client, {kv_kind::get, std::move(key), {}}, {std::move(seen)}, call, ret};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linearizability)

BOOST_AUTO_TEST_CASE(a_sequential_history_that_follows_the_model_is_accepted) {
  auto r = check_kv({put(0, "x", "1", 1, 2), get(0, "x", "1", 3, 4), append(0, "x", "2", 5, 6),
                     get(0, "x", "1,2", 7, 8), get(0, "y", "", 9, 10)});
  BOOST_TEST(r.linearizable(), r.explanation);
}

BOOST_AUTO_TEST_CASE(a_stale_read_after_a_completed_write_is_rejected) {
  // The put returned before the get began: the get must see it.
  auto r = check_kv({put(0, "x", "1", 1, 2), put(1, "x", "2", 3, 4), get(2, "x", "1", 5, 6)});
  BOOST_TEST(r.violated());
  BOOST_TEST(r.explanation.find("key x") != std::string::npos, r.explanation);
  BOOST_TEST(r.explanation.find("get(x) -> \"1\"") != std::string::npos, r.explanation);
}

BOOST_AUTO_TEST_CASE(concurrent_operations_may_take_effect_in_either_order) {
  // Two overlapping puts; reads during and after them fix one order: 1 then 2.
  auto r = check_kv({put(0, "x", "1", 1, 10), put(1, "x", "2", 2, 9), get(2, "x", "1", 3, 4),
                     get(2, "x", "2", 11, 12)});
  BOOST_TEST(r.linearizable(), r.explanation);
  // The other order: also fine.
  r = check_kv({put(0, "x", "1", 1, 10), put(1, "x", "2", 2, 9), get(2, "x", "2", 3, 4), get(2, "x", "1", 11, 12)});
  BOOST_TEST(r.linearizable(), r.explanation);
}

BOOST_AUTO_TEST_CASE(reads_that_disagree_on_the_order_of_concurrent_writes_are_rejected) {
  // Both puts overlap both reads' predecessors, but after both finished one reader sees 1 then 2
  // and the other 2 then 1: no single order explains both.
  auto r = check_kv({put(0, "x", "1", 1, 5), put(1, "x", "2", 2, 6), get(2, "x", "1", 7, 8), get(3, "x", "2", 9, 10),
                     get(2, "x", "1", 11, 12)});
  BOOST_TEST(r.violated());
}

BOOST_AUTO_TEST_CASE(a_read_may_not_see_a_write_that_begins_after_it_returns) {
  auto r = check_kv({get(0, "x", "1", 1, 2), put(1, "x", "1", 3, 4)});
  BOOST_TEST(r.violated());
  // Overlapping, it may.
  r = check_kv({get(0, "x", "1", 1, 4), put(1, "x", "1", 2, 3)});
  BOOST_TEST(r.linearizable(), r.explanation);
}

BOOST_AUTO_TEST_CASE(an_operation_without_a_response_may_or_may_not_take_effect) {
  // The client gave up on put(x, 1): a later read may see it...
  auto r = check_kv({put(0, "x", "1", 1, never), get(1, "x", "1", 5, 6)});
  BOOST_TEST(r.linearizable(), r.explanation);
  // ...or not...
  r = check_kv({put(0, "x", "1", 1, never), get(1, "x", "", 5, 6)});
  BOOST_TEST(r.linearizable(), r.explanation);
  // ...but once seen it cannot be unseen, and it cannot act before its invocation.
  r = check_kv({put(0, "x", "1", 1, never), get(1, "x", "1", 5, 6), get(1, "x", "", 7, 8)});
  BOOST_TEST(r.violated());
  r = check_kv({get(1, "x", "1", 1, 2), put(0, "x", "1", 3, never)});
  BOOST_TEST(r.violated());
}

BOOST_AUTO_TEST_CASE(appends_keep_their_order) {
  auto r = check_kv({append(0, "x", "a", 1, 2), append(1, "x", "b", 3, 4), get(2, "x", "a,b", 5, 6)});
  BOOST_TEST(r.linearizable(), r.explanation);
  r = check_kv({append(0, "x", "a", 1, 2), append(1, "x", "b", 3, 4), get(2, "x", "b,a", 5, 6)});
  BOOST_TEST(r.violated());
  // Concurrent appends: either order, but a lost append is caught.
  r = check_kv({append(0, "x", "a", 1, 4), append(1, "x", "b", 2, 3), get(2, "x", "b,a", 5, 6)});
  BOOST_TEST(r.linearizable(), r.explanation);
  r = check_kv({append(0, "x", "a", 1, 4), append(1, "x", "b", 2, 3), get(2, "x", "a", 5, 6)});
  BOOST_TEST(r.violated());
}

BOOST_AUTO_TEST_CASE(keys_are_checked_independently) {
  // Fine per key; a violation on one key is reported with that key.
  auto r = check_kv({put(0, "x", "1", 1, 2), put(0, "y", "1", 3, 4), get(1, "x", "1", 5, 6), get(1, "y", "", 7, 8)});
  BOOST_TEST(r.violated());
  BOOST_TEST(r.explanation.rfind("key y", 0) == 0u, r.explanation);
}

BOOST_AUTO_TEST_CASE(many_concurrent_clients_are_checked_quickly) {
  // Eight clients, 400 operations on one key, each overlapping the next seven: linearizable,
  // since every read returns what the puts before it in invocation order left.
  std::vector<kv_operation> h;
  std::string value;
  for (std::uint64_t i = 0; i < 400; ++i) {
    const int client = static_cast<int>(i % 8);
    const std::uint64_t call = 10 * i, ret = 10 * i + 75;
    if (i % 3 == 0) {
      value = std::to_string(i);
      h.push_back(put(client, "x", value, call, ret));
    } else {
      h.push_back(get(client, "x", value, call, ret));
    }
  }
  auto r = check_kv(h);
  BOOST_TEST(r.linearizable(), r.explanation);
  BOOST_TEST(r.explored < 100'000u);
  // One read of a value overwritten long before it began breaks it.
  h[200].output.value = "3";
  r = check_kv(h);
  BOOST_TEST(r.violated());
}

BOOST_AUTO_TEST_CASE(unknown_writes_nobody_saw_cost_nothing) {
  // Thirty writes without a response, concurrent with everything after them, then a stale read:
  // to reject the history the plain search must try every subset of them and gives up, but
  // none was read, so none matters.
  std::vector<kv_operation> h;
  for (int i = 0; i < 30; ++i) {
    std::string v("lost");
    v.append(std::to_string(i));
    const auto call = static_cast<std::uint64_t>(i);
    h.push_back(i % 2 ? put(i, "x", v, call, never) : append(i, "x", v, call, never));
  }
  for (std::uint64_t t = 100; t < 200; t += 4) {
    h.push_back(put(50, "x", std::to_string(t), t, t + 1));
    h.push_back(get(51, "x", std::to_string(t), t + 2, t + 3));
  }
  auto r = check_kv(h);
  BOOST_TEST(r.linearizable(), r.explanation);
  BOOST_TEST(r.explored < 1000u);
  h.push_back(get(52, "x", "100", 300, 301));
  auto plain = check<kv_model>(h, 100'000);
  BOOST_TEST((plain.outcome == verdict::gave_up));
  r = check_kv(h);
  BOOST_TEST(r.violated());
  BOOST_TEST(r.explored < 10'000u);
  // One of them seen counts again: it may come last, but not before an older value reappears.
  h.pop_back();
  h.push_back(get(52, "x", "lost3", 300, 301));
  BOOST_TEST(check_kv(h).linearizable());
  h.push_back(get(52, "x", "196", 302, 303));
  BOOST_TEST(check_kv(h).violated());
}

BOOST_AUTO_TEST_CASE(the_search_gives_up_at_its_budget) {
  std::vector<kv_operation> h;
  for (int i = 0; i < 30; ++i) {
    std::string v("v");
    v.append(std::to_string(i));
    h.push_back(append(i, "x", v, static_cast<std::uint64_t>(i), never));
  }
  h.push_back(get(99, "x", "impossible", 100, 101));
  auto r = check<kv_model>(h, 1000);
  BOOST_TEST((r.outcome == verdict::gave_up));
}

BOOST_AUTO_TEST_SUITE_END()
