// p2p-bench smoke test: every subcommand at a tiny size; checks the shape of what it reports,
// never the timings.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <filesystem>
#include <sstream>

#include "bench/harness/node_process.hpp"
#include "bench/stats.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

// Runs p2p-bench and returns its JSON result lines, checking each one's fields.
std::vector<std::string> run_bench(std::vector<std::string> args) {
  args.push_back("--json");
  args.push_back("--repeat=1");
  child_process bench(P2P_BENCH_BINARY, args);
  auto code = bench.wait_exit(300s);
  BOOST_REQUIRE_MESSAGE(code.value_or(-1) == 0, "p2p-bench " << args[0] << " failed: " << bench.err());
  std::vector<std::string> lines;
  std::istringstream out(bench.out());
  for (std::string line; std::getline(out, line);) {
    if (line.empty()) continue;
    simdjson::dom::parser p;
    simdjson::dom::object obj;
    BOOST_REQUIRE_MESSAGE(!p.parse(line).get(obj), "not a JSON object: " << line);
    std::string_view bench_name, name, unit;
    double min = -1, median = -1, p99 = -1;
    std::uint64_t runs = 0;
    BOOST_TEST(!obj["bench"].get(bench_name));
    BOOST_TEST(!obj["name"].get(name));
    BOOST_TEST(!obj["unit"].get(unit));
    BOOST_TEST(!obj["runs"].get(runs));
    BOOST_TEST(runs == 1u);
    BOOST_TEST(!obj["min"].get(min));
    BOOST_TEST(!obj["median"].get(median));
    BOOST_TEST(!obj["p99"].get(p99));
    BOOST_TEST((min <= median && median <= p99), line);
    std::size_t ratios = 0;
    for (auto [key, value] : obj) {
      if (key.size() > 6 && key.substr(key.size() - 6) == "_ratio") ++ratios;
    }
    BOOST_TEST(ratios >= 1u, "no baseline ratio in " << line);
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bench)

BOOST_AUTO_TEST_CASE(summaries_use_nearest_rank) {
  auto s = p2p::bench::summarize({5, 1, 3, 2, 4});
  BOOST_TEST(s.min == 1.0);
  BOOST_TEST(s.median == 3.0);
  BOOST_TEST(s.p99 == 5.0);
  BOOST_TEST(p2p::bench::summarize({1, 2}).median == 1.5);
  BOOST_TEST(!p2p::bench::ratio(1, 0).has_value());
}

BOOST_AUTO_TEST_CASE(http_reports_rate_and_p99_against_both_baselines) {
  auto lines = run_bench({"http", "--duration=1", "--connections=4"});
  BOOST_REQUIRE(lines.size() == 2u);
  for (const auto& l : lines) {
    BOOST_TEST(l.find("\"beast_ratio\"") != std::string::npos);
    BOOST_TEST(l.find("\"aiohttp_ratio\"") != std::string::npos);
  }
  BOOST_TEST(run_bench({"http", "--duration=1", "--connections=4", "--route=log-level"}).size() == 2u);
}

BOOST_AUTO_TEST_CASE(actors_and_remote_compare_with_raw_caf) {
  auto local = run_bench({"actors", "--messages=2000"});
  BOOST_TEST(local.size() == 3u);
  auto remote = run_bench({"remote", "--messages=2000"});
  BOOST_TEST(remote.size() == 3u);
  for (const auto& l : remote) BOOST_TEST(l.find("\"caf_ratio\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(idle_measures_nodes) {
  auto lines = run_bench({"idle", "--nodes=1", "--duration=1"});
  BOOST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("\"stealing_median\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(membership_compares_with_serf_and_the_bound) {
  auto lines = run_bench({"membership", "--cluster-size=3", "--duration=1"});
  BOOST_REQUIRE(lines.size() == 4u);
  for (const auto& line : lines) BOOST_TEST(line.find("\"serf_median\"") != std::string::npos, line);
  BOOST_TEST(lines[2].find("\"bound_median\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(raft_compares_with_etcd_pysyncobj_and_the_raw_baseline) {
  auto lines = run_bench({"raft", "--kills=2", "--duration=1"});
  BOOST_REQUIRE(lines.size() == 6u);
  BOOST_TEST(lines[0].find("\"goal_ratio\"") != std::string::npos, lines[0]);  // failover p50
  BOOST_TEST(lines[1].find("\"goal_ratio\"") != std::string::npos, lines[1]);  // failover p99
  BOOST_TEST(lines[2].find("\"raw_ratio\"") != std::string::npos, lines[2]);   // sequential p50
  BOOST_TEST(lines[3].find("\"raw_ratio\"") != std::string::npos, lines[3]);   // sequential rate
  BOOST_TEST(lines[4].find("\"goal_ratio\"") != std::string::npos, lines[4]);  // 64 in flight
  // The references run when installed (scripts/install-deps.sh); otherwise they are skipped.
  const bool etcd = std::filesystem::exists("/usr/bin/etcd");
  const bool pysyncobj = std::filesystem::exists("/usr/lib/python3/dist-packages/pysyncobj");
  for (const auto& line : lines) {
    BOOST_TEST(line.find("\"bench\":\"raft\"") != std::string::npos, line);
    if (etcd) BOOST_TEST(line.find("\"etcd_ratio\"") != std::string::npos, line);
    if (pysyncobj) BOOST_TEST(line.find("\"pysyncobj_ratio\"") != std::string::npos, line);
  }
  if (etcd) BOOST_TEST(lines[0].find("\"etcd_default_ratio\"") != std::string::npos, lines[0]);
}

BOOST_AUTO_TEST_CASE(elo_reports_fit_ingest_and_sync_against_replaying) {
  auto lines = run_bench({"elo", "--games=2000", "--players=10", "--new=50"});
  BOOST_REQUIRE(lines.size() == 4u);
  simdjson::dom::parser p;
  simdjson::dom::element sync_bytes;
  BOOST_REQUIRE(!p.parse(lines[2]).get(sync_bytes));
  double ratio = 1;
  BOOST_TEST(!sync_bytes["full_ratio"].get(ratio));
  BOOST_TEST(ratio < 0.1);  // 50 new games of 2,050: a small fraction of shipping everything
}

BOOST_AUTO_TEST_CASE(workload_reports_rates) {
  auto lines = run_bench({"workload", "--games=2", "--playout-count=1000", "--train-games=4", "--playouts=20"});
  BOOST_TEST(lines.size() == 7u);
}

BOOST_AUTO_TEST_CASE(work_reports_cycles_throughput_and_the_aiohttp_comparison) {
  auto lines = run_bench({"work", "--quick"});
  BOOST_REQUIRE(lines.size() == 7u);
  for (const auto& line : lines) {
    BOOST_TEST(line.find("\"bench\":\"work\"") != std::string::npos, line);
    simdjson::dom::parser p;
    double median = 0;
    BOOST_TEST(!p.parse(line)["median"].get(median));
    BOOST_TEST(median > 0, line);  // measured, not a placeholder
  }
  for (std::size_t i = 0; i < 4; ++i)  // HTTP and CAF cycles, p50 and p99
    BOOST_TEST(lines[i].find("\"kv2_ratio\"") != std::string::npos, lines[i]);
  BOOST_TEST(lines[2].find("\"http_ratio\"") != std::string::npos, lines[2]);
  BOOST_TEST(lines[4].find("\"goal_ratio\"") != std::string::npos, lines[4]);  // items/s on 3 voters
  BOOST_TEST(lines[4].find("\"kv_ratio\"") != std::string::npos, lines[4]);
  for (std::size_t i = 5; i < 7; ++i)  // the worker API under wrk
    BOOST_TEST(lines[i].find("\"aiohttp_ratio\"") != std::string::npos, lines[i]);
}

BOOST_AUTO_TEST_CASE(cmaes_reports_evaluations_against_the_reference) {
  auto lines = run_bench({"cmaes", "--function=sphere", "--dim=10"});
  BOOST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("\"successes\":1") != std::string::npos, lines[0]);
  BOOST_TEST(lines[0].find("\"median_evaluations\"") != std::string::npos, lines[0]);
  BOOST_TEST(lines[0].find("\"pycma_ratio\":0.") != std::string::npos, lines[0]);
  // Other settings than the reference's: the ratio is null, the figures are there.
  auto rosen = run_bench({"cmaes", "--function=rosenbrock", "--dim=4", "--rotated"});
  BOOST_REQUIRE(rosen.size() == 1u);
  BOOST_TEST(rosen[0].find("\"pycma_ratio\":null") != std::string::npos, rosen[0]);
}

BOOST_AUTO_TEST_CASE(report_writes_markdown_and_plots) {
  temp_dir out;
  run_bench({"report", "--duration=1", "--connections=4", "--messages=2000", "--nodes=1", "--cluster-size=3",
             "--out=" + out.path().string()});
  BOOST_TEST(std::filesystem::exists(out.path() / "report.md"));
  std::size_t svgs = 0;
  for (auto& f : std::filesystem::directory_iterator(out.path()))
    if (f.path().extension() == ".svg" && std::filesystem::file_size(f.path()) > 0) ++svgs;
  BOOST_TEST(svgs >= 13u);
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2) {
  child_process unknown(P2P_BENCH_BINARY, {"fly"});
  BOOST_TEST(unknown.wait_exit(30s).value_or(-1) == 2);
  child_process bad(P2P_BENCH_BINARY, {"actors", "--repeat=0"});
  BOOST_TEST(bad.wait_exit(30s).value_or(-1) == 2);
  child_process bad_batch(P2P_BENCH_BINARY, {"work", "--batch=101"});
  BOOST_TEST(bad_batch.wait_exit(30s).value_or(-1) == 2);
}

BOOST_AUTO_TEST_SUITE_END()
