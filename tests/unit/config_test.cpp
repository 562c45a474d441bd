#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "actors/node/config.hpp"

using namespace p2p;

namespace {

parse_result parse(std::vector<std::string> args, const char* home = "/home/op",
                   const char* state = nullptr) {
  std::vector<const char*> argv{"p2p-node"};
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_node_options(static_cast<int>(argv.size()), argv.data(), home, state, "host-a");
}

void expect_usage_error(std::vector<std::string> args, const std::string& mentions) {
  auto r = parse(args);
  BOOST_TEST(!r.config.has_value());
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.message.find(mentions) != std::string::npos, r.message);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(no_arguments_give_a_working_standalone_node) {
  auto r = parse({});
  BOOST_REQUIRE(r.config.has_value());
  const auto& c = *r.config;
  BOOST_TEST(c.node_id == "host-a");
  BOOST_TEST(c.http_port == 8770);
  BOOST_TEST(c.cluster_port.value() == 8771);
  BOOST_TEST(c.http_host == "127.0.0.1");
  BOOST_TEST(c.cluster_host == "127.0.0.1");
  BOOST_TEST(c.data_dir == "/home/op/.local/state/p2p-orchestrator");
  BOOST_TEST(!c.clustered());
  BOOST_TEST(!c.tls());
}

BOOST_AUTO_TEST_CASE(xdg_state_home_wins_over_home) {
  auto r = parse({}, "/home/op", "/var/state");
  BOOST_TEST(r.config->data_dir == "/var/state/p2p-orchestrator");
  r = parse({}, nullptr, nullptr);
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(parse({"--data-dir=rel"}, nullptr, nullptr).config->data_dir.is_absolute());
}

BOOST_AUTO_TEST_CASE(ports_lists_and_switches_parse) {
  auto r = parse({"--http-port=0", "--cluster-port=0", "--seeds=a:1,b:2", "--seeds", "[::1]:3",
                  "--voters=n1,n2", "--voters=n3", "--auth-token=t", "--enable-protocol-routes",
                  "--log-level=debug", "--advertise=10.0.0.5:9000", "--node-id=n1"});
  BOOST_REQUIRE(r.config.has_value());
  const auto& c = *r.config;
  BOOST_TEST(c.http_port == 0);
  BOOST_TEST(c.cluster_port.value() == 0);
  BOOST_TEST(!parse({"--cluster-port=off"}).config->cluster_port.has_value());
  BOOST_REQUIRE(c.seeds.size() == 3u);
  BOOST_TEST(c.seeds[2].host == "::1");
  BOOST_TEST(c.seeds[2].str() == "[::1]:3");
  BOOST_TEST(c.voters.size() == 3u);
  BOOST_TEST(c.enable_protocol_routes);
  BOOST_TEST((c.log_level == log::level::debug));
  BOOST_TEST(c.advertise->str() == "10.0.0.5:9000");
}

BOOST_AUTO_TEST_CASE(bad_values_and_unknown_options_exit_2) {
  expect_usage_error({"--bogus"}, "unknown option");
  expect_usage_error({"extra"}, "unexpected argument");
  expect_usage_error({"--http-port=70000"}, "--http-port");
  expect_usage_error({"--http-port=abc"}, "--http-port");
  expect_usage_error({"--cluster-port=-1"}, "--cluster-port");
  expect_usage_error({"--seeds=nohost", "--auth-token=t"}, "--seeds");
  expect_usage_error({"--advertise=x"}, "--advertise");
  expect_usage_error({"--log-level=loud"}, "--log-level");
  expect_usage_error({"--http-threads=0"}, "--http-threads");
  expect_usage_error({"--node-id=a b"}, "--node-id");
  expect_usage_error({"--drain-timeout=-1"}, "--drain-timeout");
  expect_usage_error({"--tls-cert=x"}, "mutual TLS needs all");
  expect_usage_error({"--auth-token=a", "--auth-token-file=f"}, "not both");
}

BOOST_AUTO_TEST_CASE(membership_options_parse_and_are_checked) {
  auto defaults = parse({});
  BOOST_REQUIRE(defaults.config.has_value());
  BOOST_TEST(defaults.config->swim_profile == "lan");
  BOOST_TEST((defaults.config->work_types == std::vector<std::string>{"selfplay", "training", "match"}));
  auto r = parse({"--swim-profile=local", "--work-types=selfplay", "--work-types=gpu_train",
                  "--label=zone=eu", "--label", "gpu=a100"});
  BOOST_REQUIRE(r.config.has_value());
  BOOST_TEST(r.config->swim_profile == "local");
  BOOST_TEST((r.config->work_types == std::vector<std::string>{"selfplay", "gpu_train"}));
  BOOST_TEST(r.config->labels.at("zone") == "eu");
  BOOST_TEST(r.config->labels.at("gpu") == "a100");
  BOOST_TEST(parse({"--work-types=none"}).config->work_types.empty());
  expect_usage_error({"--swim-profile=fast"}, "--swim-profile");
  expect_usage_error({"--raft-profile=local"}, "--raft-profile");
  expect_usage_error({"--raft-snapshot-every=0"}, "--raft-snapshot-every");
  BOOST_TEST(defaults.config->raft_profile == "lan");
  BOOST_TEST(parse({"--raft-profile=wan"}).config->raft_profile == "wan");
  expect_usage_error({"--label=novalue"}, "--label");
  expect_usage_error({"--work-types=a b"}, "--work-types");
  expect_usage_error({"--seeds=h:1", "--auth-token=t", "--cluster-port=off"}, "cluster port");
}

BOOST_AUTO_TEST_CASE(work_queue_options_parse_and_are_checked) {
  auto defaults = parse({});
  BOOST_TEST(defaults.config->work_retention_s == 24 * 3600.0);
  BOOST_TEST(defaults.config->work_max_active == 10000u);
  auto r = parse({"--work-retention=60", "--work-max-active=5"});
  BOOST_REQUIRE(r.config.has_value());
  BOOST_TEST(r.config->work_retention_s == 60.0);
  BOOST_TEST(r.config->work_max_active == 5u);
  expect_usage_error({"--work-retention=0"}, "--work-retention");
  expect_usage_error({"--work-max-active=0"}, "--work-max-active");
}

BOOST_AUTO_TEST_CASE(clustered_nodes_need_a_token) {
  expect_usage_error({"--seeds=h:1"}, "needs --auth-token");
  expect_usage_error({"--voters=a,b,c"}, "needs --auth-token");
  BOOST_TEST(parse({"--voters=a", "--auth-token-file=/t"}).config.has_value());
}

BOOST_AUTO_TEST_CASE(cluster_port_stays_on_loopback_without_tls) {
  expect_usage_error({"--cluster-host=0.0.0.0"}, "not loopback");
  auto r = parse({"--cluster-host=0.0.0.0", "--insecure-cluster"});
  BOOST_TEST(r.config.has_value());
  BOOST_TEST(parse({"--cluster-host=0.0.0.0", "--cluster-port=off"}).config.has_value());
}

BOOST_AUTO_TEST_CASE(config_file_gives_the_same_options_and_the_command_line_wins) {
  auto file = std::filesystem::temp_directory_path() / "p2p-config-test.ini";
  std::ofstream(file) << "node-id = from-file\nhttp-port = 9100\nvoters = a,b\n"
                         "auth-token = tok\ninsecure-cluster = true\n"
                         "caf.scheduler.max-threads = 3\n";
  auto r = parse({"--config=" + file.string(), "--http-port=9200"});
  BOOST_REQUIRE(r.config.has_value());
  BOOST_TEST(r.config->node_id == "from-file");
  BOOST_TEST(r.config->http_port == 9200);
  BOOST_TEST(r.config->voters.size() == 2u);
  BOOST_TEST(r.config->insecure_cluster);
  BOOST_REQUIRE(r.config->caf_options.size() == 1u);
  BOOST_TEST(r.config->caf_options[0].first == "scheduler.max-threads");
  BOOST_TEST(r.config->caf_options[0].second == "3");
  std::ofstream(file) << "no-such-option = 1\n";
  BOOST_TEST(parse({"--config=" + file.string()}).exit_code == 2);
  std::filesystem::remove(file);
  BOOST_TEST(parse({"--config=" + file.string()}).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(caf_options_pass_through_from_the_command_line) {
  auto r = parse({"--caf.middleman.workers=2"});
  BOOST_REQUIRE(r.config.has_value());
  BOOST_REQUIRE(r.config->caf_options.size() == 1u);
  BOOST_TEST(r.config->caf_options[0].first == "middleman.workers");
}

BOOST_AUTO_TEST_CASE(help_and_version_exit_0_with_text) {
  auto r = parse({"--help"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(!r.config.has_value());
  for (auto opt : {"--node-id", "--http-port", "--cluster-port", "--advertise", "--data-dir",
                   "--auth-token-file", "--seeds", "--voters", "--tls-ca", "--insecure-cluster",
                   "--enable-protocol-routes", "--log-level", "--config"})
    BOOST_TEST(r.message.find(opt) != std::string::npos, opt);
  r = parse({"--version"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.message.find("wire version") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
