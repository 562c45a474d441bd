#pragma once
// p2p-node's options: the same from the command line and from --config=FILE (INI style).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/runner/command_line.hpp"
#include "protocol/common/log.hpp"

namespace p2p {

struct host_port {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;
};
std::optional<host_port> parse_host_port(std::string_view text);

struct node_config {
  std::string node_id;
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 8770;
  unsigned http_threads = 1;
  std::string cluster_host = "127.0.0.1";
  std::optional<std::uint16_t> cluster_port = 8771;  // nullopt: --cluster-port=off
  std::optional<host_port> advertise;
  std::filesystem::path data_dir;
  std::string auth_token;
  std::filesystem::path auth_token_file;
  std::vector<host_port> seeds;
  std::vector<std::string> voters;
  std::string swim_profile = "lan";
  std::string raft_profile = "lan";
  std::uint64_t raft_snapshot_every = 10000;
  std::vector<std::string> work_types{"selfplay", "training", "match"};
  // The runner: the command each work type runs on this node, and its slots (--work-type,
  // --runner-slots). When given without --work-types, these types are what the node offers.
  std::map<std::string, runner::work_type_config> runner_types;
  std::map<std::string, std::string> labels;
  double work_retention_s = 24 * 3600;  // terminal work items older leave the log for the archive
  std::uint64_t work_max_active = 10000;  // unfinished items beyond which adds get 429
  std::filesystem::path tls_cert, tls_key, tls_ca;
  bool insecure_cluster = false;
  bool enable_protocol_routes = false;
  bool metrics_open = false;
  log::level log_level = log::level::info;
  double drain_timeout_s = 10;
  std::vector<std::pair<std::string, std::string>> caf_options;  // "caf." stripped

  bool tls() const { return !tls_cert.empty(); }
  bool clustered() const { return !seeds.empty() || !voters.empty(); }
};

struct parse_result {
  // Set when the node should run; otherwise exit with `exit_code` after printing `message`
  // (to stdout for --help/--version with code 0, to stderr otherwise).
  std::optional<node_config> config;
  int exit_code = 0;
  std::string message;
};

// The per-user state directory: $XDG_STATE_HOME/p2p-orchestrator, else
// $HOME/.local/state/p2p-orchestrator; nullopt when neither variable is set.
std::optional<std::filesystem::path> default_data_dir(const char* env_home, const char* env_state);

// `env_home`/`env_state` stand for $HOME and $XDG_STATE_HOME (passed in so tests control them).
parse_result parse_node_options(int argc, const char* const argv[], const char* env_home,
                                const char* env_state, const std::string& host_name);

}  // namespace p2p
