// The Raft core under many seeded fault schedules (tests/sim/raft_sim.hpp): safety invariants
// after every step, linearizable client histories, and broken rules that the checks catch.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "tests/sim/raft_sim.hpp"

using namespace p2p::raft_sim;

namespace {

constexpr const char* main_test = "fault_schedules_keep_raft_safe_and_histories_linearizable";

std::string replay_command(std::uint64_t seed, fault_switch fault) {
  std::string cmd("SIM_SEED=");
  cmd.append(std::to_string(seed));
  if (fault != fault_switch::none) cmd.append(" SIM_FAULT=").append(fault_name(fault));
  cmd.append(" p2p-sim-tests --run_test=raft_sim/").append(main_test).append(" (SIM_VERBOSE=1 or 2 narrates)");
  return cmd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft_sim)

BOOST_AUTO_TEST_CASE(fault_schedules_keep_raft_safe_and_histories_linearizable) {
  // SIM_FAULT turns a broken rule on, to replay a seed that a_broken_rule_is_caught reported.
  const auto fault = fault_from_env();
  const auto started = std::chrono::steady_clock::now();
  stats total;
  std::vector<std::uint64_t> failed;
  for (auto seed : seeds_to_run(schedule_count(1000))) {
    auto o = run_schedule(seed, fault);
    total.add(o.counted);
    if (!o.ok()) {
      failed.push_back(seed);
      // The first few in full; the rest by seed.
      if (failed.size() <= 10)
        BOOST_ERROR("seed " << seed << " failed: " << o.failure() << "\n  schedule: " << o.description
                            << "\n  replay: " << replay_command(seed, fault));
    }
    if (o.counted.checker_gave_up)
      BOOST_TEST_MESSAGE("seed " << seed << ": the linearizability search gave up: " << o.linearizability.explanation);
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  BOOST_TEST_MESSAGE("raft_sim: " << total.describe() << "; " << seconds << " s wall");
  std::string seeds;
  for (auto s : failed) seeds.append(" ").append(std::to_string(s));
  BOOST_TEST(failed.empty(), failed.size() << " of " << total.schedules << " schedules failed; seeds:" << seeds);
  // The schedules exercised what they claim to, and the checker had work.
  if (total.schedules >= 100) {
    BOOST_TEST(total.crashes > 0u);
    BOOST_TEST(total.restores > 0u);
    BOOST_TEST(total.snapshot_messages > 0u);
    BOOST_TEST(total.changes_committed > 0u);
    BOOST_TEST(total.transfers > 0u);
    BOOST_TEST(total.ops_ok > 100 * total.schedules);
    BOOST_TEST(total.ops_unknown > 0u);
    BOOST_TEST(total.checker_gave_up * 100 <= total.schedules);
  }
}

BOOST_AUTO_TEST_CASE(a_seed_replays_exactly) {
  for (std::uint64_t seed : {7u, 8u}) {
    auto a = run_schedule(seed);
    auto b = run_schedule(seed);
    BOOST_TEST(a.trace == b.trace, "seed " << seed);
    BOOST_TEST(a.counted.delivered == b.counted.delivered);
    BOOST_TEST(a.counted.ops_ok == b.counted.ops_ok);
  }
  BOOST_TEST(run_schedule(7).trace != run_schedule(8).trace);
}

// Each switch breaks one rule in the simulated server or disk (never in the core); some seed
// among the first few must then fail the check named.
BOOST_AUTO_TEST_CASE(a_broken_rule_is_caught) {
  struct expectation {
    fault_switch fault;
    const char* check;  // how the failure report starts
    std::uint64_t seeds;
  };
  for (const auto& e : {expectation{fault_switch::stale_reads, "linearizability", 100},
                        expectation{fault_switch::unsynced_writes, "safety", 100}}) {
    std::optional<std::uint64_t> caught;
    std::string report;
    for (std::uint64_t seed = 1; seed <= e.seeds && !caught; ++seed) {
      auto o = run_schedule(seed, e.fault);
      if (o.failure().rfind(e.check, 0) == 0) {
        caught = seed;
        report = o.failure();
      }
    }
    BOOST_TEST_REQUIRE(caught.has_value(),
                       fault_name(e.fault) << ": no " << e.check << " failure among " << e.seeds << " seeds");
    BOOST_TEST_MESSAGE(fault_name(e.fault) << " caught by seed " << *caught << ": " << report
                                           << "\n  replay: " << replay_command(*caught, e.fault));
  }
}

BOOST_AUTO_TEST_SUITE_END()
