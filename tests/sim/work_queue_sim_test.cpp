// The replicated work queue under many seeded fault schedules (tests/sim/work_queue_sim.hpp): no
// item lost, none completed twice, lapsed claims reclaimed in time, replicas identical, and
// broken rules that the checks catch.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "tests/sim/work_queue_sim.hpp"

using namespace p2p::work_sim;

namespace {

constexpr const char* main_test = "fault_schedules_lose_nothing_and_complete_each_item_once";

std::string replay_command(std::uint64_t seed) {
  std::string cmd("SIM_SEED=");
  cmd.append(std::to_string(seed));
  cmd.append(" p2p-sim-tests --run_test=work_queue_sim/").append(main_test).append(" (SIM_VERBOSE=1 narrates)");
  return cmd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(work_queue_sim)

BOOST_AUTO_TEST_CASE(fault_schedules_lose_nothing_and_complete_each_item_once) {
  const auto started = std::chrono::steady_clock::now();
  stats total;
  std::vector<std::uint64_t> failed;
  for (auto seed : seeds_to_run(schedule_count(1000))) {
    auto o = run_schedule(seed);
    total.add(o.counted);
    if (!o.ok) {
      failed.push_back(seed);
      if (failed.size() <= 10)
        BOOST_ERROR("seed " << seed << " failed: " << o.violation << "\n  schedule: " << o.description
                            << "\n  replay: " << replay_command(seed));
    }
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  BOOST_TEST_MESSAGE("work_queue_sim: " << total.describe() << "; " << seconds << " s wall");
  std::string seeds;
  for (auto s : failed) seeds.append(" ").append(std::to_string(s));
  BOOST_TEST(failed.empty(), failed.size() << " of " << total.schedules << " schedules failed; seeds:" << seeds);
  // The schedules exercised what they claim to.
  if (total.schedules >= 100) {
    BOOST_TEST(total.items > 20 * total.schedules);
    BOOST_TEST(total.completed > 10 * total.schedules);
    for (auto n : {total.failed, total.timed_out, total.cancelled, total.archived, total.replayed_claims,
                   total.replayed_adds, total.duplicates, total.stale_completions, total.expired_lease,
                   total.expired_dead, total.timeouts, total.failovers, total.lost_proposals, total.crashes,
                   total.partitions, total.snapshot_installs})
      BOOST_TEST(n > 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_seed_replays_exactly) {
  for (std::uint64_t seed : {3u, 4u}) {
    auto a = run_schedule(seed);
    auto b = run_schedule(seed);
    BOOST_TEST(a.trace == b.trace, "seed " << seed);
    BOOST_TEST(a.counted.entries == b.counted.entries);
    BOOST_TEST(a.counted.completed == b.counted.completed);
  }
  BOOST_TEST(run_schedule(3).trace != run_schedule(4).trace);
}

// Each switch breaks one rule in the simulated leader or worker (never in the state machine);
// some seed among the first few must then fail the check named.
BOOST_AUTO_TEST_CASE(a_broken_rule_is_caught) {
  struct expectation {
    fault_switch fault;
    const char* name;
    const char* check;  // a phrase of the failure report
  };
  for (const auto& e : {expectation{fault_switch::no_expiry, "no_expiry", "lease"},
                        expectation{fault_switch::count_stale_completions, "count_stale_completions", "completed"}}) {
    std::optional<std::uint64_t> caught;
    std::string report;
    for (std::uint64_t seed = 1; seed <= 50 && !caught; ++seed) {
      auto o = run_schedule(seed, e.fault);
      if (!o.ok && o.violation.find(e.check) != std::string::npos) {
        caught = seed;
        report = o.violation;
      }
    }
    BOOST_TEST_REQUIRE(caught.has_value(), e.name << ": no failure mentioning \"" << e.check << "\" among 50 seeds");
    BOOST_TEST_MESSAGE(e.name << " caught by seed " << *caught << ": " << report);
  }
}

BOOST_AUTO_TEST_SUITE_END()
