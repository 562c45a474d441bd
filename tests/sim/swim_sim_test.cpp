// Statistical properties of SWIM/Lifeguard over many seeded schedules (issue 4's proofs).
#define BOOST_TEST_MODULE p2p_sim_tests
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tests/sim/swim_sim.hpp"

using namespace p2p;
using namespace p2p::sim;
using swim::member_state;

BOOST_AUTO_TEST_SUITE(swim_sim)

BOOST_AUTO_TEST_CASE(a_crash_is_detected_by_everyone_within_the_analytic_bound) {
  const int n = 16;
  auto prof = *swim::profile_named("test");
  int within = 0, runs = 0;
  std::vector<std::uint64_t> late;
  for (auto seed : seeds(schedules(200))) {
    swim_cluster c(n, prof, seed, 0.0, 5);
    const std::size_t victim = seed % n;
    c.crash(victim);
    const time_ms bound = swim::detection_bound(prof, n);
    auto everyone_knows = [&] {
      for (std::size_t i = 0; i < c.size(); ++i)
        if (i != victim && c.node(i).members().at(c.id(victim)).state != member_state::dead)
          return false;
      return true;
    };
    c.run_until(bound, everyone_knows);
    ++runs;
    if (everyone_knows()) ++within;
    else late.push_back(seed);
    // Nobody healthy was declared dead on the way.
    for (const auto& o : c.log())
      BOOST_TEST(!(o.v.state == member_state::dead && o.v.node != c.id(victim)), "seed " << seed);
  }
  BOOST_TEST(within * 100 >= runs * 99, within << "/" << runs << " within the bound; late seeds: "
                                                << (late.empty() ? 0 : late.front()));
}

BOOST_AUTO_TEST_CASE(an_update_reaches_256_nodes_within_3_log2_n_rounds) {
  const int n = 256;
  auto prof = *swim::profile_named("test");
  const auto rounds = static_cast<time_ms>(std::ceil(3 * std::log2(n)));
  int within = 0, runs = 0;
  for (auto seed : seeds(schedules(200))) {
    swim_cluster c(n, prof, seed, 0.0, 5);
    const std::size_t leaver = seed % n;
    c.node(leaver).leave(0);
    auto everyone_knows = [&] {
      for (std::size_t i = 0; i < c.size(); ++i)
        if (i != leaver && c.node(i).members().at(c.id(leaver)).state != member_state::left)
          return false;
      return true;
    };
    c.run_until(rounds * prof.probe_interval, everyone_knows);
    ++runs;
    if (everyone_knows()) ++within;
    BOOST_TEST_MESSAGE("seed " << seed << " spread in " << c.now() << " ms");
  }
  BOOST_TEST(within * 100 >= runs * 99, within << "/" << runs << " within " << rounds << " rounds");
}

BOOST_AUTO_TEST_CASE(a_day_at_one_percent_loss_declares_no_healthy_node_dead) {
  auto prof = *swim::profile_named("lan");
  const time_ms day = 24LL * 3600 * 1000;
  for (auto seed : seeds(std::max(1, schedules(200) / 200))) {
    swim_cluster c(16, prof, seed, 0.01, 20);
    c.run_until(day);
    std::size_t dead = 0, suspected = 0;
    for (const auto& o : c.log()) {
      dead += o.v.state == member_state::dead;
      suspected += o.v.state == member_state::suspect;
    }
    BOOST_TEST(dead == 0u, "seed " << seed << ": " << dead << " dead verdicts");
    BOOST_TEST_MESSAGE("seed " << seed << ": " << suspected << " suspicions, all refuted");
  }
}

BOOST_AUTO_TEST_CASE(lifeguard_spares_healthy_nodes_from_a_slow_nodes_accusations) {
  // One node answers and acts 80 ms late (probe interval 100 ms, timeout 50 ms): it cannot get
  // answers in time and accuses healthy nodes. Counted: "dead" verdicts about healthy nodes.
  auto count_false_deaths = [](bool lifeguard) {
    auto prof = *swim::profile_named("test");
    prof.lifeguard = lifeguard;
    std::size_t false_deaths = 0;
    for (auto seed : seeds(std::max(1, schedules(200) / 2))) {
      swim_cluster c(16, prof, seed, 0.0, 5);
      const std::size_t slow = seed % 16;
      c.slow(slow, 80);
      c.run_until(30'000);
      for (const auto& o : c.log())
        false_deaths += o.v.state == member_state::dead && o.v.node != c.id(slow);
    }
    return false_deaths;
  };
  auto with = count_false_deaths(true);
  auto without = count_false_deaths(false);
  BOOST_TEST_MESSAGE("false deaths: lifeguard " << with << ", plain SWIM " << without);
  BOOST_TEST(without >= 50 * std::max<std::size_t>(with, 1),
             "lifeguard " << with << " vs plain " << without);
}

BOOST_AUTO_TEST_SUITE_END()
