#include "actors/node/node.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "actors/admin/admin.hpp"
#include "actors/common/api_error.hpp"
#include "actors/directory/directory.hpp"
#include "actors/election/election_actor.hpp"
#include "actors/elo/elo_actor.hpp"
#include "actors/events/events.hpp"
#include "actors/gossip/gossip_actor.hpp"
#include "actors/peers/peers.hpp"
#include "actors/raft/raft_actor.hpp"
#include "actors/runner/runner_actor.hpp"
#include "actors/swim/swim_actor.hpp"
#include "actors/work_queue/work_queue_actor.hpp"
#include "actors/node/front.hpp"
#include "actors/node/supervisor.hpp"
#include "http/server.hpp"
#include "protocol/common/files.hpp"
#include "protocol/common/identity.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/node_info.hpp"
#include "protocol/messages/runner.hpp"
#include "protocol/messages/work.hpp"
#include "protocol/registry.hpp"

namespace p2p {
namespace {

// The one place the node's shutdown is decided: the first request sets the deadline.
class shutdown_coordinator {
 public:
  // `exit_code` 1 marks a node that must not keep running (e.g. its id is taken).
  double request(double drain_s, int exit_code = 0) {
    std::lock_guard lock(mutex_);
    if (!requested_) {
      requested_ = true;
      drain_s_ = drain_s;
      exit_code_ = exit_code;
      requested_at_ = mono_now();
      draining_.store(true);
      cv_.notify_all();
    }
    return drain_s_;
  }
  bool draining() const { return draining_.load(); }
  int exit_code() {
    std::lock_guard lock(mutex_);
    return exit_code_;
  }
  // Blocks until a shutdown is requested; returns the deadline.
  mono_clock::time_point wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return requested_; });
    return requested_at_ + std::chrono::duration_cast<mono_clock::duration>(
                               std::chrono::duration<double>(drain_s_));
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool requested_ = false;
  double drain_s_ = 0;
  int exit_code_ = 0;
  mono_clock::time_point requested_at_;
  std::atomic<bool> draining_{false};
};

// One node per data dir: a second process on the same dir would corrupt its state.
int lock_data_dir(const std::filesystem::path& dir) {
  auto path = dir / "lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("another p2p-node is running with data dir " + dir.string());
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    // The pid is informative only; the lock is what matters.
  }
  return fd;
}

// Exposes CAF's option declarations, to parse --caf.* values with the right types.
struct node_caf_config : caf::actor_system_config {
  const caf::config_option_set& declared_options() const { return custom_options_; }
};

void configure_caf(node_caf_config& caf_cfg, const node_config& cfg) {
  caf_cfg.load<caf::io::middleman>();
  if (cfg.tls()) {
    caf_cfg.load<caf::openssl::manager>();
    caf_cfg.set("openssl.certificate", cfg.tls_cert.string());
    caf_cfg.set("openssl.key", cfg.tls_key.string());
    caf_cfg.set("openssl.cafile", cfg.tls_ca.string());
  }
  register_messages(caf_cfg);
  // The work-stealing default polls while idle; "sharing" sleeps (DESIGN.md §4, measured).
  caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  // Leave the HTTP threads their cores: on 2 cores one CAF worker served 17 % more requests/s
  // than the default four, which wake each other for every message.
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  caf_cfg.set("scheduler.max-threads",
              static_cast<std::size_t>(cores > cfg.http_threads ? cores - cfg.http_threads : 1));
  // Off by default in CAF 0.17: without them a frozen peer is never noticed.
  caf_cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  caf_cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(5)});
  caf_cfg.set("middleman.app-identifiers",
              std::vector<std::string>{"p2p-orchestrator/" + std::to_string(P2P_WIRE_VERSION)});
  // Each value is parsed with the type CAF declares for its key (atoms, durations, numbers).
  for (const auto& [key, value] : cfg.caf_options) {
    if (const auto* option = caf_cfg.declared_options().qualified_name_lookup(key)) {
      auto parsed = option->parse(value);
      if (!parsed)
        throw std::runtime_error("bad value for --caf." + key + ": " + caf_cfg.render(parsed.error()));
      caf_cfg.set(key, std::move(*parsed));
    } else if (auto parsed = caf::config_value::parse(value)) {
      caf_cfg.set(key, std::move(*parsed));
    } else {
      caf_cfg.set(key, value);
    }
  }
}

std::string endpoints_json(const node_config& cfg, const node_identity& id,
                           const std::string& http, const std::string& cluster) {
  json::writer w;
  w.begin_object()
      .field("node_id", cfg.node_id)
      .field("node_uuid", id.node_uuid)
      .field("boot_epoch", id.boot_epoch)
      .field("pid", static_cast<std::int64_t>(::getpid()))
      .field("http", http)
      .key("cluster");
  if (cluster.empty()) w.null();
  else w.value(cluster);
  w.field("version", P2P_VERSION).end_object();
  return w.take() + "\n";
}

std::string display_host(const std::string& bind_host) {
  // A wildcard bind is reachable locally through loopback.
  if (bind_host == "0.0.0.0") return "127.0.0.1";
  if (bind_host == "::") return "::1";
  return bind_host;
}

// Asks the supervised actor `name` and waits for its reply (used only at start and stop, never
// on a request path). Returns the failure, or an empty string.
template <class Reply, class Request>
std::string ask_child(caf::actor_system& system, const caf::actor& supervisor, const std::string& name,
                      Request request, std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system};
  std::string failure;
  self->request(supervisor, timeout, msg::directory_lookup{name})
      .receive(
          [&](caf::actor& child) {
            if (!child) {
              failure = "the " + name + " actor is not running";
              return;
            }
            self->request(child, timeout, std::move(request))
                .receive([](Reply&) {}, [&](caf::error& err) { failure = describe_error(err); });
          },
          [&](caf::error& err) { failure = describe_error(err); });
  return failure;
}

// Publishes one of the node's own events and waits until it is recorded; a failure is logged,
// never silent.
void publish_node_event(caf::actor_system& system, const caf::actor& supervisor,
                        const std::string& type, std::string payload,
                        std::chrono::milliseconds timeout) {
  auto failure = ask_child<msg::event_record>(system, supervisor, "events",
                                              msg::publish_event{type, std::move(payload)}, timeout);
  if (!failure.empty())
    log::error("node", "cannot publish a node event",
               {{"type", json::quote(type)}, {"error", json::quote(failure)}});
}

}  // namespace

int run_node(const node_config& cfg) {
  log::set_level(cfg.log_level);
  // Signals are taken by one thread with sigwait; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  node_identity identity;
  std::string token;
  int lock_fd = -1;
  try {
    files::ensure_dir(cfg.data_dir);
    lock_fd = lock_data_dir(cfg.data_dir);
    identity = load_identity(cfg.data_dir);
    if (!cfg.auth_token.empty()) token = cfg.auth_token;
    else if (!cfg.auth_token_file.empty()) token = read_token_file(cfg.auth_token_file);
    else token = load_or_create_token(cfg.data_dir);
  } catch (const std::exception& e) {
    log::error("node", "cannot start", {{"error", json::quote(e.what())}});
    return 1;
  }
  const auto started_wall = wall_now();
  const auto started_mono = mono_now();

  shutdown_coordinator shutdown;
  http::http_metrics metrics(http::route_table());
  http::server_options http_opts;
  http_opts.host = cfg.http_host;
  http_opts.port = cfg.http_port;
  http_opts.threads = cfg.http_threads;
  http_opts.node_id = cfg.node_id;
  http_opts.gate = {token, cfg.enable_protocol_routes, cfg.metrics_open};
  http::server server(http_opts, metrics);

  node_caf_config caf_cfg;
  try {
    configure_caf(caf_cfg, cfg);
  } catch (const std::exception& e) {
    log::error("node", "cannot start", {{"error", json::quote(e.what())}});
    return 2;
  }
  std::optional<caf::actor_system> system;
  std::optional<front_dispatcher> front;
  caf::actor supervisor, directory;
  std::string http_endpoint, cluster_endpoint;
  try {
    auto http_port = server.bind();
    http_endpoint = host_port{display_host(cfg.http_host), http_port}.str();
    system.emplace(caf_cfg);
    directory = system->spawn(directory_actor);
    system->registry().put(directory_registry_key, directory);
    if (cfg.cluster_port) {
      auto published =
          cfg.tls() ? caf::openssl::publish(directory, *cfg.cluster_port, cfg.cluster_host.c_str(), true)
                    : system->middleman().publish(directory, *cfg.cluster_port,
                                                  cfg.cluster_host.c_str(), true);
      if (!published)
        throw std::runtime_error("cannot listen on the cluster port " + cfg.cluster_host + ":" +
                                 std::to_string(*cfg.cluster_port) + ": " +
                                 system->render(published.error()));
      cluster_endpoint = cfg.advertise ? cfg.advertise->str()
                                       : host_port{display_host(cfg.cluster_host), *published}.str();
    }
    caf::anon_send(directory, msg::node_identity{cfg.node_id, identity.node_uuid, cluster_endpoint});

    node_facts facts;
    facts.node_id = cfg.node_id;
    facts.node_uuid = identity.node_uuid;
    facts.boot_epoch = identity.boot_epoch;
    facts.version = P2P_VERSION;
    facts.wire_version = P2P_WIRE_VERSION;
    facts.started_wall = started_wall;
    facts.started_mono = started_mono;
    facts.http_endpoint = http_endpoint;
    facts.cluster_endpoint = cluster_endpoint;
    for (const auto& s : cfg.seeds) facts.seeds.push_back(s.str());
    facts.voters = cfg.voters;
    facts.tls = cfg.tls();
    facts.insecure_cluster = cfg.insecure_cluster;

    events_config ev_cfg{cfg.data_dir / "events", 4096, cfg.node_id, identity.node_uuid};
    admin_context admin_ctx{facts, directory,
                            [&shutdown](double s) { return shutdown.request(s); },
                            [&shutdown] { return shutdown.draining(); }};
    const auto profile = *swim::profile_named(cfg.swim_profile);
    const auto random_seed = std::random_device{}();
    peers_config peers_cfg;
    peers_cfg.self_id = cfg.node_id;
    peers_cfg.connector = cfg.tls() ? system->openssl_manager().actor_handle()
                                    : system->middleman().actor_handle();
    peers_cfg.directory = directory;
    swim_config swim_cfg{cfg.node_id, cluster_endpoint, profile, random_seed, directory};
    gossip_config gossip_cfg;
    gossip_cfg.info.node_id = cfg.node_id;
    gossip_cfg.info.node_uuid = identity.node_uuid;
    gossip_cfg.info.http = http_endpoint;
    gossip_cfg.info.cluster = cluster_endpoint;
    gossip_cfg.info.voter = std::find(cfg.voters.begin(), cfg.voters.end(), cfg.node_id) != cfg.voters.end() ||
                            (cfg.voters.empty() && cfg.seeds.empty());
    gossip_cfg.info.work_types = cfg.work_types;
    gossip_cfg.info.labels = cfg.labels;
    gossip_cfg.info.version = P2P_VERSION;
    gossip_cfg.info.resources.gpus = probe_gpus();
    gossip_cfg.boot_epoch = identity.boot_epoch;
    for (const auto& s : cfg.seeds) gossip_cfg.seeds.push_back(s.str());
    gossip_cfg.data_dir = cfg.data_dir;
    gossip_cfg.timing = gossip_timing_for(cfg.swim_profile);
    gossip_cfg.seed = random_seed + 1;
    gossip_cfg.directory = directory;
    gossip_cfg.fatal = [&shutdown](const std::string& why) {
      log::error("node", "cannot stay in the cluster", {{"error", json::quote(why)}});
      shutdown.request(1.0, 1);
    };
    // Raft's voters: --voters; alone when neither voters nor seeds are given; none when the
    // node joins through seeds (it holds no log until a membership change adds it).
    raft_config raft_cfg;
    raft_cfg.node_id = cfg.node_id;
    raft_cfg.voters = !cfg.voters.empty() ? cfg.voters
                      : cfg.seeds.empty() ? std::vector<std::string>{cfg.node_id}
                                          : std::vector<std::string>{};
    if (auto problem = resolve_raft_voters(cfg.data_dir, !cfg.voters.empty(), raft_cfg.voters); !problem.empty())
      throw std::runtime_error(problem);
    if (raft_cfg.voters.size() % 2 == 0 && !raft_cfg.voters.empty())
      log::warn("raft", "an even number of voters tolerates no more failures than one voter fewer",
                {{"voters", std::to_string(raft_cfg.voters.size())}});
    raft_cfg.timing = *raft::timing_named(cfg.raft_profile);
    raft_cfg.data_dir = cfg.data_dir;
    raft_cfg.seed = random_seed + 2;
    raft_cfg.snapshot_every = cfg.raft_snapshot_every;
    raft_cfg.directory = directory;
    raft_cfg.work_limits.max_active_items = static_cast<std::size_t>(cfg.work_max_active);
    raft_cfg.fatal = [&shutdown](const std::string& why) {
      log::error("node", "the Raft log cannot be used", {{"error", json::quote(why)}});
      shutdown.request(1.0, 1);
    };
    elo_config elo_cfg;
    elo_cfg.node_id = cfg.node_id;
    elo_cfg.node_uuid = identity.node_uuid;
    elo_cfg.data_dir = cfg.data_dir;
    if (cfg.swim_profile == "test") elo_cfg.sync_interval = std::chrono::milliseconds(250);
    elo_cfg.seed = random_seed + 3;
    elo_cfg.directory = directory;
    work_queue_config work_cfg;
    work_cfg.node_id = cfg.node_id;
    work_cfg.data_dir = cfg.data_dir;
    work_cfg.retention = std::chrono::milliseconds(static_cast<std::int64_t>(cfg.work_retention_s * 1000));
    // Look for items past retention a few times per retention period, at most once a minute.
    work_cfg.archive_interval = std::clamp<std::chrono::milliseconds>(work_cfg.retention / 4, std::chrono::milliseconds(250),
                                                                      std::chrono::seconds(60));
    work_cfg.directory = directory;
    runner_config runner_cfg;
    runner_cfg.node_id = cfg.node_id;
    runner_cfg.work_types = cfg.runner_types;
    runner_cfg.attempts_dir = cfg.data_dir / "work" / "attempts";
    if (cfg.swim_profile == "test") runner_cfg.retry_delay = std::chrono::milliseconds(200);
    runner_cfg.directory = directory;
    election_config election_cfg;
    election_cfg.node_id = cfg.node_id;
    election_cfg.timing = *election::timing_named(cfg.raft_profile);  // leadership timing goes with Raft's
    election_cfg.own = {http_endpoint, cluster_endpoint};
    election_cfg.voters_hash = raft::voter_set_hash(raft_cfg.voters);
    election_cfg.directory = directory;
    std::vector<child_spec> children{
        {"events", [ev_cfg](caf::actor_system& sys) { return sys.spawn(events_actor, ev_cfg); }},
        {"admin", [admin_ctx](caf::actor_system& sys) { return sys.spawn(admin_actor, admin_ctx); }},
        {"peers", [peers_cfg](caf::actor_system& sys) { return sys.spawn(peers_actor, peers_cfg); }},
        {"swim", [swim_cfg](caf::actor_system& sys) { return sys.spawn(swim_actor, swim_cfg); }},
        {"gossip", [gossip_cfg](caf::actor_system& sys) { return sys.spawn(gossip_actor, gossip_cfg); }},
        {"raft", [raft_cfg](caf::actor_system& sys) { return sys.spawn(raft_actor, raft_cfg); }},
        {"elo", [elo_cfg](caf::actor_system& sys) { return sys.spawn(elo_actor, elo_cfg); }},
        {"work_queue", [work_cfg](caf::actor_system& sys) { return sys.spawn(work_queue_actor, work_cfg); }},
        {"runner", [runner_cfg](caf::actor_system& sys) { return sys.spawn(runner_actor, runner_cfg); }},
        {"election", [election_cfg](caf::actor_system& sys) { return sys.spawn(election_actor, election_cfg); }},
    };
    supervisor = system->spawn(supervisor_actor, directory, std::move(children));
    front.emplace(*system, directory, metrics, front_options{P2P_VERSION});
    if (auto unbound = front->unbound_routes(); !unbound.empty())
      throw std::runtime_error("route " + unbound.front() + " has no binding");
    server.serve(*front);
    files::write_atomic(cfg.data_dir / "endpoints.json",
                        endpoints_json(cfg, identity, http_endpoint, cluster_endpoint));

    json::writer started;
    started.begin_object()
        .field("node_id", cfg.node_id)
        .field("node_uuid", identity.node_uuid)
        .field("boot_epoch", identity.boot_epoch)
        .field("http", http_endpoint)
        .field("version", P2P_VERSION)
        .end_object();
    publish_node_event(*system, supervisor, "NODE_STARTED", started.take(),
                       std::chrono::seconds(10));
  } catch (const std::exception& e) {
    log::error("node", "cannot start", {{"error", json::quote(e.what())}});
    // Stop what was started, or the actor system would wait for it forever.
    server.stop();
    front.reset();
    if (supervisor) caf::anon_send(supervisor, supervisor_stop{});
    if (directory) caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
    system.reset();
    return 1;
  }
  // Written whatever the log level: tests, bench and scripts wait for this line.
  log::write(log::level::info, "node", "ready",
            {{"node_id", json::quote(cfg.node_id)}, {"node_uuid", json::quote(identity.node_uuid)},
             {"http", json::quote(http_endpoint)},
             {"cluster", cluster_endpoint.empty() ? "null" : json::quote(cluster_endpoint)},
             {"data_dir", json::quote(cfg.data_dir.string())},
             {"pid", std::to_string(::getpid())}});

  std::thread([&shutdown, signals, drain = cfg.drain_timeout_s] {
    int sig = 0;
    if (sigwait(&signals, &sig) == 0) {
      log::info("node", "signal received", {{"signal", std::to_string(sig)}});
      shutdown.request(drain);
    }
  }).detach();

  const auto deadline = shutdown.wait();
  log::info("node", "draining");
  // Whatever happens below, the process exits 0 by the deadline: a stuck actor cannot hold it.
  std::thread([deadline, &shutdown] {
    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(250));
    log::warn("node", "drain deadline passed; exiting now");
    std::_Exit(shutdown.exit_code());
  }).detach();

  {
    json::writer stopping;
    auto remaining = std::chrono::duration<double>(deadline - mono_now()).count();
    stopping.begin_object()
        .field("node_id", cfg.node_id)
        .field("drain_timeout_s", std::max(0.0, remaining))
        .end_object();
    // Announce the drain within its deadline, however busy the machine is.
    auto budget = std::max<mono_clock::duration>(deadline - mono_now(), std::chrono::milliseconds(100));
    publish_node_event(*system, supervisor, "NODE_STOPPING", stopping.take(),
                       std::chrono::duration_cast<std::chrono::milliseconds>(budget));
  }
  server.begin_drain();
  {
    // Long polls are answered now, the runner stops claiming, lets its attempts finish within
    // half the drain and gives back what is left, while the node still talks to the cluster.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_now());
    auto failure = ask_child<msg::work_drain_reply>(*system, supervisor, "work_queue", msg::work_drain_request{},
                                                    std::clamp(left / 10, std::chrono::milliseconds(50), std::chrono::milliseconds(1000)));
    if (!failure.empty()) log::warn("node", "the work queue's long polls were not answered", {{"error", json::quote(failure)}});
    left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_now());
    const auto runner_budget = left * 3 / 4;
    failure = ask_child<msg::runner_drain_reply>(
        *system, supervisor, "runner",
        msg::runner_drain_request{static_cast<std::uint64_t>(std::max<std::int64_t>(0, (left / 2).count()))},
        std::max(runner_budget, std::chrono::milliseconds(50)));
    if (!failure.empty()) log::warn("node", "the runner did not settle every attempt", {{"error", json::quote(failure)}});
  }
  if (shutdown.exit_code() == 0) {
    // Tell the cluster we are leaving (left, not dead), within a share of the deadline. A node
    // refused by the cluster says nothing: its id belongs to another process.
    auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_now()) / 2;
    budget = std::clamp(budget, std::chrono::milliseconds(50), std::chrono::milliseconds(3000));
    auto failure = ask_child<msg::swim_leave_reply>(*system, supervisor, "swim", msg::swim_leave_request{}, budget);
    if (!failure.empty()) log::warn("node", "leave not acknowledged", {{"error", json::quote(failure)}});
  }
  // Answer what was asked before the drain began (and any reply still being written).
  while (server.in_flight() > 0 && mono_now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Stopping the events actor ends each event stream after what it already delivered.
  caf::anon_send(supervisor, supervisor_stop{});
  while (server.open_streams() > 0 && mono_now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.close_streams();
  server.stop();
  front.reset();  // stops the front actor, and with it every event-stream subscriber
  system->registry().erase(directory_registry_key);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  system.reset();  // waits for every actor; the deadline thread covers a stuck one
  log::info("node", "stopped");
  ::close(lock_fd);
  return shutdown.exit_code();
}

}  // namespace p2p
