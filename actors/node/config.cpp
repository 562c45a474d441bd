#include "actors/node/config.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <fstream>
#include <sstream>

#include "actors/election/election_view.hpp"
#include "protocol/raft/raft.hpp"
#include "protocol/swim/swim.hpp"

namespace p2p {

namespace po = boost::program_options;

std::string host_port::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

namespace {

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ','))
      if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

std::optional<std::filesystem::path> default_data_dir(const char* env_home, const char* env_state) {
  if (env_state && *env_state) return std::filesystem::path(env_state) / "p2p-orchestrator";
  if (env_home && *env_home) return std::filesystem::path(env_home) / ".local/state/p2p-orchestrator";
  return std::nullopt;
}

std::optional<host_port> parse_host_port(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {  // [v6]:port
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_port(port);
  if (host.empty() || !p) return std::nullopt;
  return host_port{std::string(host), *p};
}

parse_result parse_node_options(int argc, const char* const argv[], const char* env_home,
                                const char* env_state, const std::string& host_name) {
  po::options_description desc(
      "p2p-node: one node of a p2p-orchestrator cluster.\n"
      "With no options it starts a single-node cluster on 127.0.0.1:8770 (HTTP) and :8771.\n"
      "Every option may also be given in --config=FILE as 'name = value' lines; options of CAF\n"
      "itself pass through as --caf.<key>=<value> (for example --caf.scheduler.max-threads=2).\n"
      "Options");
  std::string http_port = "8770", cluster_port = "8771", advertise, data_dir, log_level = "info";
  std::vector<std::string> seeds, voters, work_types, labels, runner_commands, runner_slots;
  std::string config_file;
  node_config cfg;
  std::string tls_cert, tls_key, tls_ca, token_file;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("config", po::value(&config_file), "read options from this INI-style file")
      ("node-id", po::value(&cfg.node_id), "this node's id (default: the host name)")
      ("http-host", po::value(&cfg.http_host)->default_value("127.0.0.1"),
       "address the HTTP API listens on (0.0.0.0 for every interface)")
      ("http-port", po::value(&http_port)->default_value("8770"), "HTTP port; 0 lets the OS choose")
      ("http-threads", po::value(&cfg.http_threads)->default_value(1),
       "threads serving HTTP connections")
      ("cluster-host", po::value(&cfg.cluster_host)->default_value("127.0.0.1"),
       "address the cluster port listens on; other than loopback needs TLS or --insecure-cluster")
      ("cluster-port", po::value(&cluster_port)->default_value("8771"),
       "cluster (node-to-node) port; 0 lets the OS choose; 'off' disables it")
      ("advertise", po::value(&advertise), "host:port other nodes use to reach the cluster port")
      ("data-dir", po::value(&data_dir),
       "state directory (default: $XDG_STATE_HOME/p2p-orchestrator, else "
       "~/.local/state/p2p-orchestrator)")
      ("auth-token", po::value(&cfg.auth_token), "bearer token every API request must carry")
      ("auth-token-file", po::value(&token_file), "file holding the bearer token")
      ("seeds", po::value(&seeds)->composing(),
       "host:cluster_port of nodes to join through; comma-separated, repeatable")
      ("voters", po::value(&voters)->composing(),
       "node ids of the Raft voters (the same list on every voter); comma-separated, repeatable")
      ("swim-profile", po::value(&cfg.swim_profile)->default_value("lan"),
       "SWIM and gossip timing: test, local, lan or wan (see README)")
      ("raft-profile", po::value(&cfg.raft_profile)->default_value("lan"),
       "Raft and leadership timing (heartbeat, election timeout, leader announcements and their lease): "
       "test, lan or wan (see README)")
      ("raft-snapshot-every", po::value(&cfg.raft_snapshot_every)->default_value(10000),
       "applied Raft entries between snapshots of the state machine (at least 1)")
      ("work-types", po::value(&work_types)->composing(),
       "work types this node runs, comma-separated (default selfplay,training,match; 'none' for "
       "none)")
      ("work-type", po::value(&runner_commands)->composing(),
       "TYPE=PROGRAM ARG...: the runner runs items of TYPE with this command (split into words like a "
       "shell would, but no shell runs it); repeatable, one per type")
      ("runner-slots", po::value(&runner_slots)->composing(),
       "TYPE=N: at most N items of TYPE run at once on this node (default 1); repeatable")
      ("label", po::value(&labels)->composing(),
       "KEY=VALUE published with this node for work requirements; repeatable")
      ("work-retention", po::value(&cfg.work_retention_s)->default_value(24 * 3600),
       "seconds finished work items stay in the replicated queue before moving to the local archive")
      ("work-max-active", po::value(&cfg.work_max_active)->default_value(10000),
       "unfinished work items the queue holds before adds get 429 backpressure (the same on every voter)")
      ("tls-cert", po::value(&tls_cert), "this node's certificate (PEM) for mutual TLS")
      ("tls-key", po::value(&tls_key), "this node's private key (PEM)")
      ("tls-ca", po::value(&tls_ca), "the cluster CA certificate (PEM)")
      ("insecure-cluster", po::bool_switch(&cfg.insecure_cluster),
       "allow a non-loopback cluster port without TLS")
      ("enable-protocol-routes", po::bool_switch(&cfg.enable_protocol_routes),
       "answer the HTTP forms of node-to-node messages (403 otherwise)")
      ("metrics-open", po::bool_switch(&cfg.metrics_open), "serve /metrics without a token")
      ("log-level", po::value(&log_level)->default_value("info"),
       "trace, debug, info, warn or error")
      ("drain-timeout", po::value(&cfg.drain_timeout_s)->default_value(10),
       "seconds a SIGTERM/SIGINT drain may take before the node exits");

  parse_result result;
  try {
    po::variables_map vm;
    auto handle_unregistered = [&](const po::basic_parsed_options<char>& parsed) {
      for (const auto& opt : parsed.options) {
        if (!opt.unregistered) continue;
        if (opt.string_key.rfind("caf.", 0) == 0 && opt.string_key.size() > 4) {
          std::string value = opt.value.empty() ? "true" : opt.value.front();
          cfg.caf_options.emplace_back(opt.string_key.substr(4), value);
        } else {
          throw usage_error("unknown option '" + opt.string_key + "' (see --help)");
        }
      }
    };
    auto cli = po::command_line_parser(argc, argv).options(desc).allow_unregistered().run();
    for (const auto& opt : cli.options)
      if (opt.position_key >= 0)
        throw usage_error("unexpected argument '" + opt.value.front() + "' (see --help)");
    handle_unregistered(cli);
    po::store(cli, vm);
    if (vm.count("help")) {
      std::ostringstream ss;
      ss << desc;
      result.message = ss.str();
      return result;
    }
    if (vm.count("version")) {
      result.message = std::string("p2p-node ") + P2P_VERSION + " (wire version " +
                       std::to_string(P2P_WIRE_VERSION) + ")\n";
      return result;
    }
    if (vm.count("config")) {
      std::ifstream in(vm["config"].as<std::string>());
      if (!in) throw usage_error("cannot read --config file '" + vm["config"].as<std::string>() + "'");
      auto file = po::parse_config_file(in, desc, true);
      handle_unregistered(file);
      po::store(file, vm);  // the command line wins: stored first
    }
    po::notify(vm);

    auto hp = parse_port(http_port);
    if (!hp) throw usage_error("--http-port must be 0..65535, got '" + http_port + "'");
    cfg.http_port = *hp;
    if (cluster_port == "off") {
      cfg.cluster_port.reset();
    } else {
      auto cp = parse_port(cluster_port);
      if (!cp) throw usage_error("--cluster-port must be 0..65535 or 'off', got '" + cluster_port + "'");
      cfg.cluster_port = *cp;
    }
    if (cfg.http_threads < 1 || cfg.http_threads > 64)
      throw usage_error("--http-threads must be 1..64");
    if (!advertise.empty()) {
      cfg.advertise = parse_host_port(advertise);
      if (!cfg.advertise) throw usage_error("--advertise must be host:port, got '" + advertise + "'");
    }
    for (const auto& s : split_list(seeds)) {
      auto seed = parse_host_port(s);
      if (!seed) throw usage_error("--seeds entries must be host:cluster_port, got '" + s + "'");
      cfg.seeds.push_back(*seed);
    }
    cfg.voters = split_list(voters);
    if (!swim::profile_named(cfg.swim_profile))
      throw usage_error("--swim-profile must be test, local, lan or wan, got '" + cfg.swim_profile + "'");
    if (!raft::timing_named(cfg.raft_profile) || !election::timing_named(cfg.raft_profile))
      throw usage_error("--raft-profile must be test, lan or wan, got '" + cfg.raft_profile + "'");
    if (cfg.raft_snapshot_every == 0) throw usage_error("--raft-snapshot-every must be at least 1");
    if (!(cfg.work_retention_s >= 1)) throw usage_error("--work-retention must be at least 1 second");
    if (cfg.work_max_active == 0) throw usage_error("--work-max-active must be at least 1");
    try {
      cfg.runner_types = runner::build_work_types(runner_commands, runner_slots);
    } catch (const runner::command_line_error& e) {
      throw usage_error(e.what());
    }
    if (!work_types.empty()) {
      cfg.work_types = split_list(work_types);
      if (cfg.work_types == std::vector<std::string>{"none"}) cfg.work_types.clear();
    } else if (!cfg.runner_types.empty()) {
      cfg.work_types.clear();
      for (const auto& [type, _] : cfg.runner_types) cfg.work_types.push_back(type);
    }
    for (const auto& t : cfg.work_types)
      if (t.empty() || t.size() > 64 || t.find_first_of(" \t\r\n\"\\") != std::string::npos)
        throw usage_error("--work-types entries must be 1..64 characters without spaces or quotes, got '" + t + "'");
    for (const auto& l : labels) {
      auto eq = l.find('=');
      if (eq == std::string::npos || eq == 0)
        throw usage_error("--label must be KEY=VALUE, got '" + l + "'");
      cfg.labels[l.substr(0, eq)] = l.substr(eq + 1);
    }
    if (!cfg.seeds.empty() && !cfg.cluster_port)
      throw usage_error("--seeds needs the cluster port (it is 'off')");
    auto level = log::parse_level(log_level);
    if (!level) throw usage_error("--log-level must be trace, debug, info, warn or error");
    cfg.log_level = *level;
    if (cfg.drain_timeout_s < 0 || cfg.drain_timeout_s > 3600)
      throw usage_error("--drain-timeout must be 0..3600 seconds");

    if (cfg.node_id.empty()) cfg.node_id = host_name;
    if (cfg.node_id.empty() || cfg.node_id.size() > 128 ||
        cfg.node_id.find_first_of(" \t\r\n/\"\\") != std::string::npos)
      throw usage_error("--node-id must be 1..128 characters without spaces, quotes or slashes");

    if (!data_dir.empty()) {
      cfg.data_dir = std::filesystem::absolute(data_dir);
    } else if (auto fallback = default_data_dir(env_home, env_state)) {
      cfg.data_dir = *fallback;
    } else {
      throw usage_error("no --data-dir given and neither $XDG_STATE_HOME nor $HOME is set");
    }

    if (!cfg.auth_token.empty() && !token_file.empty())
      throw usage_error("give --auth-token or --auth-token-file, not both");
    cfg.auth_token_file = token_file;
    if (cfg.clustered() && cfg.auth_token.empty() && token_file.empty())
      throw usage_error("a node given --seeds or --voters needs --auth-token or --auth-token-file "
                        "(the same token on every node)");

    int tls_given = !tls_cert.empty() + !tls_key.empty() + !tls_ca.empty();
    if (tls_given != 0 && tls_given != 3)
      throw usage_error("mutual TLS needs all of --tls-cert, --tls-key and --tls-ca");
    for (const auto* f : {&tls_cert, &tls_key, &tls_ca})
      if (!f->empty() && !std::filesystem::exists(*f))
        throw usage_error("TLS file not found: " + *f);
    if (tls_given == 3) {
      cfg.tls_cert = std::filesystem::absolute(tls_cert);
      cfg.tls_key = std::filesystem::absolute(tls_key);
      cfg.tls_ca = std::filesystem::absolute(tls_ca);
    }
    if (cfg.cluster_port && !is_loopback(cfg.cluster_host) && !cfg.tls() && !cfg.insecure_cluster)
      throw usage_error("--cluster-host " + cfg.cluster_host +
                        " is not loopback: configure --tls-cert/--tls-key/--tls-ca or pass "
                        "--insecure-cluster");
  } catch (const usage_error& e) {
    result.exit_code = 2;
    result.message = std::string("p2p-node: ") + e.what() + "\n";
    return result;
  } catch (const po::error& e) {
    result.exit_code = 2;
    result.message = std::string("p2p-node: ") + e.what() + " (see --help)\n";
    return result;
  }
  result.config = std::move(cfg);
  return result;
}

}  // namespace p2p
