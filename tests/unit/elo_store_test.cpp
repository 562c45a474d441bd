// The elo domain's durable store, its in-memory rating pool, sync between stores by high-water
// marks, and the elo actor under CAF's deterministic scheduler.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>

#include "actors/common/api_error.hpp"
#include "actors/directory/directory.hpp"
#include "actors/elo/elo_actor.hpp"
#include "actors/elo/match_store.hpp"
#include "actors/elo/rating_pool.hpp"
#include "bench/harness/node_process.hpp"
#include "protocol/messages/elo.hpp"
#include "tests/unit/actor_fixture.hpp"

using p2p::harness::temp_dir;
namespace elo = p2p::elo;

namespace {

elo::match game(std::string id, std::string a, std::string b, double score, std::string key = "hex8",
                int second = 0) {
  char at[32];
  std::snprintf(at, sizeof at, "2026-11-30T10:%02d:%02d.000Z", second / 60 % 60, second % 60);
  return elo::match{std::move(id), std::move(key), std::move(a), std::move(b), score, std::nullopt, at};
}

// Games among `players` with strengths growing with the index, seeded.
std::vector<elo::match> random_games(std::size_t n, std::uint64_t seed, std::size_t players = 6) {
  std::mt19937_64 rng(seed);
  std::vector<elo::match> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto a = rng() % players, b = rng() % (players - 1);
    if (b >= a) ++b;
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    double p_win = 1 / (1 + std::pow(10.0, (static_cast<double>(b) - static_cast<double>(a)) * 60 / 400));
    double score = u < p_win * 0.9 ? 1 : u < p_win * 0.9 + 0.1 ? 0.5 : 0;
    out.push_back(game("g" + std::to_string(seed) + "-" + std::to_string(i), "p" + std::to_string(a),
                       "p" + std::to_string(b), score, "hex8", static_cast<int>(i)));
  }
  return out;
}

// Every number of a fit, for bit-identical comparison.
std::vector<double> numbers_of(const elo::bayes_ratings& r) {
  std::vector<double> out{r.draw_elo};
  for (const auto& p : r.players) out.insert(out.end(), {p.rating, p.ci_low, p.ci_high, p.score});
  return out;
}

// Syncs `to` from `from` the way two elo actors do: rows beyond the marks, in chunks.
std::size_t pull(elo::match_store& to, const elo::match_store& from, elo::rating_pool& pool,
                 std::size_t chunk_bytes = 60 * 1024) {
  std::size_t moved = 0;
  bool more = true;
  while (more) {
    auto rows = from.rows_after(to.marks(), chunk_bytes, more);
    auto result = to.merge(rows, "2026-11-30T12:00:00.000Z");
    BOOST_TEST(result.refused == 0u);
    for (const auto& r : result.stored) pool.add(r.game);
    moved += rows.size();
  }
  return moved;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(elo_store)

BOOST_AUTO_TEST_CASE(ingest_accepts_counts_duplicates_and_records_conflicts) {
  temp_dir dir("p2p-elo");
  elo::match_store store(dir.path() / "elo.sqlite");
  std::vector<elo::match> batch{game("g1", "a", "b", 1), game("g2", "b", "c", 0.5), game("g1", "a", "b", 1),
                                game("g1", "a", "b", 0), game("g3", "a", "a", 1), game("g4", "a", "b", 0.7)};
  auto r = store.ingest(batch, "origin-1", "2026-11-30T12:00:00.000Z");
  BOOST_TEST(r.accepted == 2u);
  BOOST_TEST(r.duplicates == 1u);
  BOOST_REQUIRE(r.rejected.size() == 3u);
  BOOST_TEST(r.rejected[0].index == 3u);
  BOOST_TEST(r.rejected[0].reason.find("conflict") == 0u);
  BOOST_TEST(r.rejected[1].reason == "a player cannot play itself");
  BOOST_TEST(r.rejected[2].reason == "score must be 1, 0.5 or 0");
  BOOST_TEST(store.conflicts() == 1u);
  BOOST_TEST(store.marks().at("origin-1") == 2u);
  BOOST_TEST(r.stored[0].origin_seq == 1u);
  BOOST_TEST(r.stored[1].origin_seq == 2u);
  // A second batch continues the sequence.
  auto again = store.ingest(std::vector<elo::match>{game("g5", "c", "a", 0)}, "origin-1", "t");
  BOOST_TEST(again.stored.at(0).origin_seq == 3u);
}

BOOST_AUTO_TEST_CASE(what_was_acknowledged_is_there_after_reopening) {
  temp_dir dir("p2p-elo");
  auto games = random_games(500, 7);
  {
    elo::match_store store(dir.path() / "elo.sqlite");
    BOOST_TEST(store.ingest(games, "o", "t").accepted == 500u);
    store.ingest(std::vector<elo::match>{game("g7-3", "x", "y", 1)}, "o", "t");  // a conflict
  }
  elo::match_store reopened(dir.path() / "elo.sqlite");
  BOOST_TEST(reopened.rows() == 500u);
  BOOST_TEST(reopened.conflicts() == 1u);
  BOOST_TEST(reopened.marks().at("o") == 500u);
  auto rows = reopened.all_rows();
  BOOST_REQUIRE(rows.size() == 500u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST(rows[i].origin_seq == i + 1);
    BOOST_TEST(elo::same_content(rows[i].game, games[i]));
  }
  // The next game of this origin gets the next number.
  BOOST_TEST(reopened.ingest(std::vector<elo::match>{game("new", "p1", "p2", 1)}, "o", "t").stored.at(0).origin_seq ==
             501u);
}

BOOST_AUTO_TEST_CASE(merge_keeps_sequences_without_gaps) {
  temp_dir dir("p2p-elo");
  elo::match_store store(dir.path() / "elo.sqlite");
  auto row = [](std::string origin, std::uint64_t seq, elo::match m) {
    return elo::stored_match{std::move(m), std::move(origin), seq};
  };
  std::vector<elo::stored_match> rows{row("o1", 1, game("a1", "x", "y", 1)), row("o1", 2, game("a2", "x", "y", 0)),
                                      row("o2", 2, game("b2", "x", "y", 1)),  // gap: o2 starts at 1
                                      row("o2", 3, game("b3", "x", "y", 1)), row("o1", 1, game("a1", "x", "y", 1))};
  auto r = store.merge(rows, "t");
  BOOST_TEST(r.stored.size() == 2u);
  BOOST_TEST(r.refused == 2u);  // b2 (the gap) and b3 (after it)
  BOOST_TEST(store.marks().count("o2") == 0u);
  BOOST_TEST(store.marks().at("o1") == 2u);
  // The same game from another origin with other content: stored (sync must pass it on) and
  // counted as a conflict.
  auto c = store.merge(std::vector<elo::stored_match>{row("o3", 1, game("a1", "x", "y", 0))}, "t");
  BOOST_TEST(c.stored.size() == 1u);
  BOOST_TEST(c.conflicts == 1u);
}

BOOST_AUTO_TEST_CASE(rows_after_sends_only_what_lies_beyond_the_marks_in_chunks) {
  temp_dir dir("p2p-elo");
  elo::match_store store(dir.path() / "elo.sqlite");
  store.ingest(random_games(300, 1), "o1", "t");
  store.ingest(random_games(200, 2), "o2", "t");
  bool more = false;
  auto rows = store.rows_after({{"o1", 290}, {"o2", 200}}, 1 << 20, more);
  BOOST_TEST(!more);
  BOOST_REQUIRE(rows.size() == 10u);
  BOOST_TEST(rows.front().origin_seq == 291u);
  auto chunk = store.rows_after({}, 4096, more);
  BOOST_TEST(more);
  BOOST_TEST(!chunk.empty());
  std::size_t bytes = 0;
  for (const auto& r : chunk) bytes += elo::approximate_size(r);
  BOOST_TEST(bytes <= 4096u);
  BOOST_TEST(store.rows_after(store.marks(), 4096, more).empty());
  BOOST_TEST(!more);
}

BOOST_AUTO_TEST_CASE(the_pool_picks_the_same_content_whatever_the_arrival_order) {
  auto m1 = game("g", "a", "b", 1, "k1");
  auto m2 = game("g", "a", "b", 0, "k2");  // another content for the same game
  elo::rating_pool first, second;
  first.add(m1);
  auto changed = first.add(m2);
  second.add(m2);
  BOOST_TEST(second.add(m1).empty() == !elo::precedes_by_content(m1, m2));
  BOOST_TEST(first.game_count() == 1u);
  BOOST_TEST(first.has_key("k1") == second.has_key("k1"));
  BOOST_TEST(first.has_key("k2") == second.has_key("k2"));
  BOOST_TEST(first.has_key("k1") != first.has_key("k2"));
  if (elo::precedes_by_content(m2, m1)) BOOST_TEST(changed.size() == 2u);  // it moved between keys
}

BOOST_AUTO_TEST_CASE(pool_tallies_equal_a_fresh_tally_of_the_games) {
  auto games = random_games(2000, 3);
  // Some games twice, some with other content.
  for (std::size_t i = 0; i < 200; ++i) games.push_back(games[i * 7]);
  for (std::size_t i = 0; i < 50; ++i) {
    auto g = games[i * 11];
    g.score = 1 - g.score;
    games.push_back(g);
  }
  std::mt19937_64 rng(5);
  std::shuffle(games.begin(), games.end(), rng);
  elo::rating_pool pool;
  for (const auto& g : games) pool.add(g);
  auto expected = elo::tally_matches(games);
  auto got = pool.tallies("hex8");
  BOOST_REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(got[i].a == expected[i].a);
    BOOST_TEST(got[i].b == expected[i].b);
    BOOST_TEST(got[i].wins_a == expected[i].wins_a);
    BOOST_TEST(got[i].draws == expected[i].draws);
    BOOST_TEST(got[i].losses_a == expected[i].losses_a);
  }
  BOOST_TEST(pool.games("hex8").size() == 2000u);
}

// Three nodes take disjoint games (and a few the same, and a conflict) while apart, then sync
// pairwise in a seeded order: every store ends with every row and bit-identical ratings.
BOOST_AUTO_TEST_CASE(stores_that_sync_by_marks_converge_to_identical_ratings) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    temp_dir dir("p2p-elo");
    std::vector<std::unique_ptr<elo::match_store>> stores;
    std::vector<elo::rating_pool> pools(3);
    for (int i = 0; i < 3; ++i)
      stores.push_back(std::make_unique<elo::match_store>(dir.path() / ("n" + std::to_string(i) + ".sqlite")));
    for (int i = 0; i < 3; ++i) {
      auto games = random_games(400 + 100 * static_cast<std::size_t>(i), seed * 10 + static_cast<std::uint64_t>(i));
      games.push_back(game("shared", "p0", "p1", 1));
      if (i == 2) games.push_back(game("disputed", "p2", "p3", 0));
      if (i == 1) games.push_back(game("disputed", "p2", "p3", 1));
      auto r = stores[static_cast<std::size_t>(i)]->ingest(games, "origin-" + std::to_string(i), "t");
      for (const auto& row : r.stored) pools[static_cast<std::size_t>(i)].add(row.game);
    }
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 6; ++round) {
      auto to = rng() % 3, from = (to + 1 + rng() % 2) % 3;
      pull(*stores[to], *stores[from], pools[to], 2048);
    }
    for (std::size_t to = 0; to < 3; ++to)  // whatever the random rounds left, one full pass
      for (std::size_t from = 0; from < 3; ++from)
        if (to != from) pull(*stores[to], *stores[from], pools[to]);
    for (std::size_t to = 0; to < 3; ++to)
      for (std::size_t from = 0; from < 3; ++from)
        if (to != from) pull(*stores[to], *stores[from], pools[to]);
    auto reference = numbers_of(elo::fit_bayes(pools[0].tallies("hex8")));
    for (std::size_t i = 0; i < 3; ++i) {
      BOOST_TEST(stores[i]->rows() == stores[0]->rows());
      BOOST_TEST(stores[i]->marks() == stores[0]->marks());
      BOOST_TEST(pools[i].game_count() == 400u + 500u + 600u + 2u);
      BOOST_TEST(numbers_of(elo::fit_bayes(pools[i].tallies("hex8"))) == reference, "seed " << seed);
    }
    // A second round moves nothing: a round costs O(new games).
    bool more = false;
    BOOST_TEST(stores[0]->rows_after(stores[1]->marks(), 1 << 20, more).empty());
  }
}

BOOST_AUTO_TEST_CASE(the_elo_actor_ingests_rates_and_answers_sync) {
  temp_dir dir("p2p-elo");
  p2p::test::actor_fixture fx;
  auto directory = fx.sys.spawn(p2p::directory_actor);
  p2p::elo_config cfg;
  cfg.node_id = "n1";
  cfg.node_uuid = "uuid-1";
  cfg.data_dir = dir.path();
  cfg.directory = directory;
  auto actor = fx.sys.spawn(p2p::elo_actor, cfg);
  fx.sched.run();

  p2p::msg::elo_ingest in;
  auto add = [&](std::string id, std::string a, std::string b, double score) {
    p2p::msg::elo_match m;
    m.game_id = std::move(id);
    m.config_key = "hex8";
    m.a = std::move(a);
    m.b = std::move(b);
    m.score = score;
    m.played_at = "2026-11-30T10:00:00.000Z";
    in.indexes.push_back(in.matches.size() + in.unreadable.size());
    in.matches.push_back(std::move(m));
  };
  add("g1", "m1", "m2", 1);
  in.unreadable.push_back({1, "must be an object"});
  add("g2", "m2", "m3", 0.5);
  add("g3", "m1", "m3", 2);
  auto reply = fx.ask<p2p::msg::elo_ingest_reply>(actor, in);
  BOOST_TEST(reply.accepted == 2u);
  BOOST_REQUIRE(reply.rejected.size() == 2u);
  BOOST_TEST(reply.rejected[0].index == 1u);
  BOOST_TEST(reply.rejected[1].index == 3u);

  p2p::msg::elo_rankings_request ask_rankings;
  ask_rankings.config_key = "hex8";
  auto rankings = fx.ask<p2p::msg::elo_rankings_reply>(actor, ask_rankings);
  BOOST_REQUIRE(rankings.players.size() == 3u);
  BOOST_TEST(rankings.players[0].player == "m1");
  BOOST_TEST(rankings.games == 2u);
  ask_rankings.config_key = "unknown";
  BOOST_TEST(fx.ask<p2p::msg::elo_rankings_reply>(actor, ask_rankings).players.empty());

  // A peer that knows nothing gets both rows; one that pushes a row of its own hands it over.
  p2p::msg::elo_sync_request sync;
  sync.from = "n2";
  auto pulled = fx.ask<p2p::msg::elo_sync_reply>(actor, sync);
  BOOST_TEST(pulled.matches.size() == 2u);
  BOOST_TEST(!pulled.more);
  p2p::msg::elo_match theirs = pulled.matches[0];
  theirs.game_id = "g9";
  theirs.origin_node = "uuid-2";
  theirs.origin_seq = 1;
  sync.marks = pulled.marks;
  sync.marks.push_back({"uuid-2", 1});  // the requester holds what it pushes
  sync.matches = {theirs};
  auto pushed = fx.ask<p2p::msg::elo_sync_reply>(actor, sync);
  BOOST_TEST(pushed.accepted == 1u);
  BOOST_TEST(pushed.matches.empty());
  auto status = fx.ask<p2p::msg::elo_status_reply>(actor, p2p::msg::elo_status_request{});
  BOOST_TEST(status.games == 3u);
  BOOST_TEST(status.marks.size() == 2u);
  sync.error = "matches[0]: origin_seq must be a positive integer";
  BOOST_TEST(fx.ask_error(actor, sync).code() == static_cast<std::uint8_t>(p2p::api_errc::bad_request));
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

BOOST_AUTO_TEST_SUITE_END()
