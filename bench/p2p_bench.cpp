// p2p-bench: every benchmark of the project, each measured side by side with a baseline in the
// same run and reported as min/median/p99 over repeated runs plus ratios to the baselines.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <simdjson.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <limits>
#include <regex>
#include <thread>

#include "actors/common/instrumented.hpp"
#include "bench/cmaes_bench.hpp"
#include "bench/elo_bench.hpp"
#include "bench/work_bench.hpp"
#include "bench/workload_bench.hpp"
#include "bench/harness/http_client.hpp"
#include "bench/disk.hpp"
#include "bench/http_connection.hpp"
#include "bench/harness/node_process.hpp"
#include "bench/stats.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/registry.hpp"
#include "protocol/swim/swim.hpp"

namespace po = boost::program_options;
using namespace p2p;
using namespace p2p::bench;
using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;
using raw_ping_atom = caf::atom_constant<caf::atom("ping")>;

namespace {

struct settings {
  bool json = false;
  int repeat = 5;
  double duration_s = 3;
  int connections = 32;
  std::size_t messages = 200'000;
  int nodes = 4;
  std::string route = "health";
  std::string target;  // host:port of an existing node (http: HTTP port; remote: cluster port)
  std::string token;
  std::string out = "bench-report";
  int cluster_size = 16;
  std::string profile = "local";
  int kills = 20;
};

struct result {
  std::string bench, name, unit;
  bool higher_is_better = true;
  summary ours;
  std::vector<std::pair<std::string, summary>> baselines;
};

[[noreturn]] void die(const std::string& why) {
  std::cerr << "p2p-bench: " << why << "\n";
  std::exit(1);
}

void emit(const result& r, const settings& s) {
  if (s.json) {
    json::writer w;
    w.begin_object()
        .field("bench", r.bench)
        .field("name", r.name)
        .field("unit", r.unit)
        .field("higher_is_better", r.higher_is_better)
        .field("runs", static_cast<std::uint64_t>(r.ours.runs))
        .field("min", r.ours.min)
        .field("median", r.ours.median)
        .field("p99", r.ours.p99);
    for (const auto& [name, b] : r.baselines) {
      w.field(name + "_median", b.median);
      w.key(name + "_ratio");
      if (auto q = ratio(r.ours.median, b.median)) w.value(*q);
      else w.null();
    }
    w.end_object();
    std::printf("%s\n", w.str().c_str());
  } else {
    std::printf("%-7s %-40s %-6s %11.1f %11.1f %11.1f", r.bench.c_str(), r.name.c_str(),
                r.unit.c_str(), r.ours.min, r.ours.median, r.ours.p99);
    for (const auto& [name, b] : r.baselines) {
      auto q = ratio(r.ours.median, b.median);
      std::printf("  %s %.1f (%sx)", name.c_str(), b.median,
                  q ? (std::to_string(*q).substr(0, 4)).c_str() : "-");
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

void header(const settings& s) {
  if (s.json) return;
  std::printf("%-7s %-40s %-6s %11s %11s %11s  baseline median (ours/baseline)\n", "bench", "case",
              "unit", "min", "median", "p99");
}

std::string self_dir() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return std::filesystem::path(buf).parent_path().string();
}

// A baseline server from bench/reference that prints {"port":N} once bound.
struct reference_server {
  std::unique_ptr<harness::child_process> process;
  std::string address;
  reference_server(const std::string& binary, std::vector<std::string> args) {
    process = std::make_unique<harness::child_process>(binary, args);
    auto line = process->wait_for_stdout("\"port\"", 30s);
    if (!line) die("baseline " + binary + " did not start: " + process->err());
    simdjson::dom::parser p;
    std::int64_t port = 0;
    if (p.parse(*line)["port"].get(port)) die("unreadable port line from " + binary);
    address = "127.0.0.1:" + std::to_string(port);
  }
  ~reference_server() {
    process->signal(SIGTERM);
    process->wait_exit(10s);
  }
};

// ---- http ---------------------------------------------------------------------------------------

struct wrk_figures {
  double rps = 0, p99_ms = 0;
};

wrk_figures run_wrk(const std::string& address, const settings& s) {
  std::vector<std::string> args{"-t1", "-c" + std::to_string(s.connections),
                                "-d" + std::to_string(std::max(1, int(s.duration_s))) + "s",
                                "--latency"};
  std::string path = "/admin/health";
  if (s.route == "log-level") {
    args.push_back("-s");
    args.push_back(std::string(P2P_SOURCE_DIR) + "/bench/reference/post-log-level.lua");
    path = "/admin/log-level";
  }
  args.push_back("http://" + address + path);
  harness::child_process wrk("/usr/bin/wrk", args);
  if (wrk.wait_exit(std::chrono::seconds(int(s.duration_s) + 60)).value_or(-1) != 0)
    die("wrk failed: " + wrk.err());
  auto out = wrk.out();
  if (out.find("Non-2xx") != std::string::npos)
    die("wrk saw error responses from " + address + ":\n" + out);
  std::smatch m;
  wrk_figures f;
  if (!std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) die("no rate in: " + out);
  f.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) {
    double v = std::stod(m[1]);
    f.p99_ms = m[2] == "us" ? v / 1000 : m[2] == "s" ? v * 1000 : v;
  }
  return f;
}

std::vector<result> bench_http(const settings& s) {
  if (s.route != "health" && s.route != "log-level") die("--route must be health or log-level");
  std::unique_ptr<harness::node_process> node;
  std::string node_address = s.target, token = s.token;
  if (node_address.empty()) {
    node = std::make_unique<harness::node_process>(std::vector<std::string>{"--log-level=warn"});
    node_address = node->http();
    token = node->token();
  }
  ::setenv("P2P_TOKEN", token.c_str(), 1);
  reference_server beast(self_dir() + "/p2p-bench-beast-baseline", {"--port", "0"});
  reference_server aiohttp("/usr/bin/python3",
                           {std::string(P2P_SOURCE_DIR) + "/bench/reference/aiohttp_server.py",
                            "--port", "0"});
  std::vector<double> ours_rps, beast_rps, aio_rps, ours_p99, beast_p99, aio_p99;
  for (int i = 0; i < s.repeat; ++i) {  // interleaved, so drift hits every target alike
    auto a = run_wrk(node_address, s);
    auto b = run_wrk(beast.address, s);
    auto c = run_wrk(aiohttp.address, s);
    ours_rps.push_back(a.rps), beast_rps.push_back(b.rps), aio_rps.push_back(c.rps);
    ours_p99.push_back(a.p99_ms), beast_p99.push_back(b.p99_ms), aio_p99.push_back(c.p99_ms);
  }
  std::string name = (s.route == "health" ? "GET /admin/health" : "POST /admin/log-level") +
                     std::string(" c=") + std::to_string(s.connections);
  return {
      {"http", name + " rate", "req/s", true, summarize(ours_rps),
       {{"beast", summarize(beast_rps)}, {"aiohttp", summarize(aio_rps)}}},
      {"http", name + " p99", "ms", false, summarize(ours_p99),
       {{"beast", summarize(beast_p99)}, {"aiohttp", summarize(aio_p99)}}},
  };
}

// ---- actors and remote: rates of message patterns --------------------------------------------

struct bench_config : caf::actor_system_config {
  bench_config() {
    load<caf::io::middleman>();
    register_messages(*this);
    // The node's scheduler settings, so both sides of every comparison run alike.
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads",
        static_cast<std::size_t>(std::max(2u, std::thread::hardware_concurrency()) - 1));
    set("middleman.app-identifiers",
        std::vector<std::string>{"p2p-orchestrator/" + std::to_string(P2P_WIRE_VERSION)});
  }
};

double seconds_since(bench_clock::time_point t) {
  return std::chrono::duration<double>(bench_clock::now() - t).count();
}

// Sends `n` messages one way, then one request that can only be answered after all of them.
template <class Make, class Flush, class FlushReply>
double one_way_rate(caf::actor_system& sys, const caf::actor& target, std::size_t n, Make make,
                    Flush flush) {
  caf::scoped_actor self{sys};
  auto start = bench_clock::now();
  for (std::size_t i = 0; i < n; ++i) caf::anon_send(target, make(i));
  bool ok = false;
  self->request(target, 120s, flush).receive([&](FlushReply&) { ok = true; },
                                             [&](caf::error& e) { die(sys.render(e)); });
  if (!ok) die("one-way flush failed");
  return static_cast<double>(n) / seconds_since(start);
}

// `window` requests in flight until `n` have been answered (window 1: sequential round trips).
template <class Reply, class Make>
double round_trip_rate(caf::actor_system& sys, const caf::actor& target, std::size_t n,
                       std::size_t window, Make make) {
  std::promise<void> done;
  auto finished = done.get_future();
  auto start = bench_clock::now();
  auto driver = sys.spawn([=, &done](caf::event_based_actor* self) -> caf::behavior {
    auto issued = std::make_shared<std::size_t>(0);
    auto answered = std::make_shared<std::size_t>(0);
    auto next = std::make_shared<std::function<void()>>();
    *next = [=, &done] {
      auto seq = (*issued)++;
      self->request(target, 60s, make(seq))
          .then(
              [=, &done](Reply&) {
                if (++*answered == n) {
                  done.set_value();
                  next->operator=(nullptr);  // break the self-reference
                  self->quit();
                } else if (*issued < n) {
                  (*next)();
                }
              },
              [=](caf::error& e) { die("round trip failed: " + caf::to_string(e)); });
    };
    for (std::size_t i = 0; i < std::min(window, n); ++i) (*next)();
    return {[](caf::get_atom) {}};
  });
  finished.wait();
  auto rate = static_cast<double>(n) / seconds_since(start);
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  return rate;
}

struct count_state {
  std::uint64_t count = 0;
};

// Our typed sink: built like every domain actor (instrumented, typed messages).
caf::behavior typed_sink(caf::stateful_actor<count_state>* self) {
  return instrumented(
      self, "bench-sink", [self] { return "{\"count\":" + std::to_string(self->state.count) + "}"; },
      {}, [=](msg::event_record&) { ++self->state.count; },
      [=](msg::ping& p) { return msg::pong{p.seq}; });
}

// The raw-CAF equivalent: atoms and builtin types, no wrappers.
caf::behavior raw_sink(caf::stateful_actor<count_state>* self) {
  return {
      [=](raw_ping_atom, std::uint64_t, const std::string&, const std::string&, const std::string&,
          const std::string&, const std::string&, std::uint64_t,
          const std::string&) { ++self->state.count; },
      [=](raw_ping_atom, std::uint64_t x) { return x; },
  };
}

msg::event_record sample_record(std::uint64_t seq) {
  msg::event_record e;
  e.seq = seq;
  e.event_id = "n:00000000-0000-4000-8000-000000000000:" + std::to_string(seq);
  e.type = "NODE_STARTED";
  e.scope = "node";
  e.timestamp = "2026-11-30T12:00:00.000Z";
  e.origin_node = "bench";
  e.payload_json = R"({"node_id":"bench","boot_epoch":1})";
  return e;
}

std::vector<result> bench_actors(const settings& s) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto typed = sys.spawn(typed_sink);
  auto raw = sys.spawn(raw_sink);
  // The raw baseline carries the same fields as a tuple of builtin types.
  auto raw_record = [](std::size_t i) {
    auto e = sample_record(i);
    return caf::make_message(raw_ping_atom::value, e.seq, e.event_id, e.type, e.scope, e.timestamp,
                             e.origin_node, e.term, e.payload_json);
  };
  std::vector<double> t1, r1, t2, r2, t3, r3;
  for (int i = 0; i < s.repeat; ++i) {
    t1.push_back(one_way_rate<decltype(&sample_record), msg::ping, msg::pong>(
        sys, typed, s.messages, &sample_record, msg::ping{0}));
    r1.push_back(one_way_rate<decltype(raw_record), caf::message, std::uint64_t>(
        sys, raw, s.messages, raw_record, caf::make_message(raw_ping_atom::value, std::uint64_t{0})));
    t2.push_back(round_trip_rate<msg::pong>(sys, typed, s.messages / 10, 1,
                                            [](std::size_t i) { return msg::ping{i}; }));
    r2.push_back(round_trip_rate<std::uint64_t>(sys, raw, s.messages / 10, 1, [](std::size_t i) {
      return caf::make_message(raw_ping_atom::value, std::uint64_t{i});
    }));
    t3.push_back(round_trip_rate<msg::pong>(sys, typed, s.messages / 2, 64,
                                            [](std::size_t i) { return msg::ping{i}; }));
    r3.push_back(round_trip_rate<std::uint64_t>(sys, raw, s.messages / 2, 64, [](std::size_t i) {
      return caf::make_message(raw_ping_atom::value, std::uint64_t{i});
    }));
  }
  caf::anon_send_exit(typed, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(raw, caf::exit_reason::user_shutdown);
  return {
      {"actors", "one-way event_record", "msg/s", true, summarize(t1), {{"caf", summarize(r1)}}},
      {"actors", "request/reply sequential", "rt/s", true, summarize(t2), {{"caf", summarize(r2)}}},
      {"actors", "request/reply window 64", "rt/s", true, summarize(t3), {{"caf", summarize(r3)}}},
  };
}

// A raw CAF echo actor published on the middleman: the remote baseline.
int raw_echo_server() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto echo = sys.spawn(raw_sink);
  auto port = sys.middleman().publish(echo, 0, "127.0.0.1");
  if (!port) die("cannot publish: " + sys.render(port.error()));
  std::printf("{\"port\":%u}\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return 0;
}

caf::actor connect_remote(caf::actor_system& sys, const std::string& address) {
  auto colon = address.rfind(':');
  auto handle = sys.middleman().remote_actor(address.substr(0, colon),
                                             static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (!handle) die("cannot connect to " + address + ": " + sys.render(handle.error()));
  return *handle;
}

caf::message raw_ping(std::size_t i) { return caf::make_message(raw_ping_atom::value, std::uint64_t{i}); }

std::vector<result> bench_remote(const settings& s) {
  std::unique_ptr<harness::node_process> node;
  std::string cluster = s.target;
  if (cluster.empty()) {
    node = std::make_unique<harness::node_process>(std::vector<std::string>{"--log-level=warn"});
    cluster = node->info().cluster;
  }
  reference_server raw_server(self_dir() + "/p2p-bench", {"raw-echo-server"});
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto directory = connect_remote(sys, cluster);
  auto raw = connect_remote(sys, raw_server.address);
  auto typed_ping = [](std::size_t i) { return msg::ping{i}; };
  std::vector<double> t1, r1, t2, r2, t3, r3;
  const std::size_t n = s.messages / 4;
  for (int i = 0; i < s.repeat; ++i) {
    t1.push_back(one_way_rate<decltype(typed_ping), msg::ping, msg::pong>(sys, directory, n, typed_ping,
                                                                          msg::ping{0}));
    r1.push_back(one_way_rate<decltype(&raw_ping), caf::message, std::uint64_t>(
        sys, raw, n, &raw_ping, raw_ping(0)));
    t2.push_back(round_trip_rate<msg::pong>(sys, directory, n / 40 + 1, 1, typed_ping));
    r2.push_back(round_trip_rate<std::uint64_t>(sys, raw, n / 40 + 1, 1, &raw_ping));
    t3.push_back(round_trip_rate<msg::pong>(sys, directory, n / 4 + 1, 64, typed_ping));
    r3.push_back(round_trip_rate<std::uint64_t>(sys, raw, n / 4 + 1, 64, &raw_ping));
  }
  return {
      {"remote", "one-way ping", "msg/s", true, summarize(t1), {{"caf", summarize(r1)}}},
      {"remote", "round trip sequential", "rt/s", true, summarize(t2), {{"caf", summarize(r2)}}},
      {"remote", "round trip window 64", "rt/s", true, summarize(t3), {{"caf", summarize(r3)}}},
  };
}

// ---- idle -----------------------------------------------------------------------------------

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i) fields >> skip;  // fields 3..13
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::vector<result> bench_idle(const settings& s) {
  auto measure = [&](std::vector<std::string> extra) {
    harness::local_cluster cluster(s.nodes, extra);
    auto& nodes = cluster.nodes();
    std::this_thread::sleep_for(1s);  // let start-up work finish
    std::vector<double> before;
    for (auto& n : nodes) before.push_back(cpu_seconds(n->process().pid()));
    auto start = bench_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(s.duration_s));
    auto elapsed = seconds_since(start);
    std::vector<double> percent;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      percent.push_back(100.0 * (cpu_seconds(nodes[i]->process().pid()) - before[i]) / elapsed);
    return summarize(percent);
  };
  auto ours = measure({"--log-level=warn"});
  auto stealing = measure({"--log-level=warn", "--caf.scheduler.policy=stealing"});
  return {{"idle", std::to_string(s.nodes) + " idle nodes, CPU per node", "%core", false, ours,
           {{"stealing", stealing}}}};
}

// ---- membership ---------------------------------------------------------------------------------
// Our nodes and serf agents (memberlist inside), side by side at the same SWIM parameters: both
// are timed from their own log lines, read as they are written (millisecond resolution).

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Polls `done` every millisecond; the milliseconds from `start` until it held, or dies.
double poll_ms(bench_clock::time_point start, std::chrono::seconds limit, const std::string& what,
               const std::function<bool()>& done) {
  while (!done()) {
    if (bench_clock::now() - start > limit) die(what + " did not happen within " + std::to_string(limit.count()) + " s");
    std::this_thread::sleep_for(1ms);
  }
  return std::max(0.0, seconds_since(start) * 1000);
}

// Kills process `victim` and returns the milliseconds until every other one has logged `line`.
double kill_until_survivors_log(std::vector<std::unique_ptr<harness::child_process>>& processes,
                                std::size_t victim, const std::string& line, const std::string& what,
                                const std::function<std::string(harness::child_process&)>& log_of) {
  auto start = bench_clock::now();
  processes[victim]->signal(SIGKILL);
  return poll_ms(start, 120s, what, [&] {
    for (std::size_t i = 0; i < processes.size(); ++i)
      if (i != victim && log_of(*processes[i]).find(line) == std::string::npos) return false;
    return true;
  });
}

double total_cpu_percent(const std::vector<pid_t>& pids, double duration_s) {
  double before = 0, after = 0;
  for (auto pid : pids) before += cpu_seconds(pid);
  auto start = bench_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(duration_s));
  auto elapsed = seconds_since(start);
  for (auto pid : pids) after += cpu_seconds(pid);
  return 100.0 * (after - before) / elapsed;
}

struct membership_figures {
  double converge_ms = 0, detect_ms = 0, idle_percent = 0;
};

membership_figures membership_ours(const settings& s) {
  const auto n = static_cast<std::size_t>(s.cluster_size);
  const std::string token = "membership-bench";
  auto common = [&](std::size_t i) {
    return std::vector<std::string>{"--node-id=" + harness::joined_cluster::id(i), "--auth-token=" + token,
                                    "--swim-profile=" + s.profile, "--log-level=info", "--http-port=0",
                                    "--cluster-port=0"};
  };
  std::vector<std::unique_ptr<harness::temp_dir>> dirs;
  std::vector<std::unique_ptr<harness::child_process>> nodes;
  auto spawn = [&](std::vector<std::string> args) {
    dirs.push_back(std::make_unique<harness::temp_dir>("p2p-bench-member"));
    args.push_back("--data-dir=" + dirs.back()->path().string());
    nodes.push_back(std::make_unique<harness::child_process>(harness::node_binary(), args));
  };
  spawn(common(0));
  auto seed_line = nodes[0]->wait_for_stderr("\"msg\":\"ready\"", 30s);
  if (!seed_line) die("the seed node did not start: " + nodes[0]->err());
  simdjson::dom::parser parser;
  std::string_view cluster;
  if (parser.parse(*seed_line)["cluster"].get(cluster)) die("unreadable ready line: " + *seed_line);
  const std::string seed(cluster);
  // The others start together and join through the seed as they come up.
  for (std::size_t i = 1; i < n; ++i) {
    auto args = common(i);
    args.push_back("--seeds=" + seed);
    spawn(args);
  }
  for (auto& node : nodes)
    if (!node->wait_for_stderr("\"msg\":\"ready\"", 60s)) die("a node did not start: " + node->err());
  membership_figures f;
  // From the last node up (its join under way) until every node has seen every other come online.
  auto start = bench_clock::now();
  f.converge_ms = poll_ms(start, 60s, "our convergence", [&] {
    for (auto& node : nodes)
      if (occurrences(node->err(), "\"msg\":\"member online\"") < n - 1) return false;
    return true;
  });
  // All N idle (after a second for start-up work to finish).
  std::this_thread::sleep_for(1s);
  std::vector<pid_t> pids;
  for (auto& node : nodes) pids.push_back(node->pid());
  f.idle_percent = total_cpu_percent(pids, s.duration_s);
  const std::size_t victim = n / 2;
  const std::string dead_line =
      "\"msg\":\"member offline\",\"node_id\":\"" + harness::joined_cluster::id(victim) + "\",\"state\":\"dead\"";
  f.detect_ms = kill_until_survivors_log(nodes, victim, dead_line, "our crash detection",
                                         [](harness::child_process& p) { return p.err(); });
  for (auto& node : nodes) node->signal(SIGTERM);
  for (auto& node : nodes) node->wait_exit(15s);
  return f;
}

// `count` distinct free ports: each stays bound until all are chosen, so none comes back twice.
std::vector<std::uint16_t> free_ports(std::size_t count) {
  std::vector<int> held;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      die("cannot find a free port");
    held.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : held) ::close(fd);
  return ports;
}

membership_figures membership_serf(const settings& s, const std::string& serf) {
  const auto n = static_cast<std::size_t>(s.cluster_size);
  std::vector<std::unique_ptr<harness::child_process>> agents;
  std::vector<std::string> binds, rpcs;
  auto name = [](std::size_t i) { return "s" + std::to_string(i); };
  auto ports = free_ports(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    binds.push_back("127.0.0.1:" + std::to_string(ports[2 * i]));
    rpcs.push_back("127.0.0.1:" + std::to_string(ports[2 * i + 1]));
    agents.push_back(std::make_unique<harness::child_process>(
        serf, std::vector<std::string>{"agent", "-node=" + name(i), "-bind=" + binds[i], "-rpc-addr=" + rpcs[i],
                                       "-profile=" + s.profile, "-log-level=info"}));
  }
  for (auto& a : agents)
    if (!a->wait_for_stdout("Serf agent running!", 30s)) die("a serf agent did not start: " + a->out() + a->err());
  membership_figures f;
  // One join command from the seed to everyone (a process start, like our nodes' own joins).
  std::vector<std::string> join{"join", "-rpc-addr=" + rpcs[0]};
  for (std::size_t i = 1; i < n; ++i) join.push_back(binds[i]);
  auto start = bench_clock::now();
  harness::child_process joiner(serf, join);
  f.converge_ms = poll_ms(start, 60s, "serf convergence", [&] {
    for (auto& a : agents)
      if (occurrences(a->out(), "EventMemberJoin: ") < n) return false;
    return true;
  });
  joiner.wait_exit(30s);
  std::this_thread::sleep_for(1s);
  std::vector<pid_t> pids;
  for (auto& a : agents) pids.push_back(a->pid());
  f.idle_percent = total_cpu_percent(pids, s.duration_s);
  const std::size_t victim = n / 2;
  const std::string failed = "EventMemberFailed: " + name(victim) + " ";
  f.detect_ms = kill_until_survivors_log(agents, victim, failed, "serf crash detection",
                                         [](harness::child_process& p) { return p.out(); });
  for (auto& a : agents) a->signal(SIGKILL);
  for (auto& a : agents) a->wait_exit(15s);
  return f;
}

std::vector<result> bench_membership(const settings& s) {
  auto prof = swim::profile_named(s.profile);
  if (!prof) die("--profile must be test, local, lan or wan");
  const std::string serf = "/usr/bin/serf";
  if (::access(serf.c_str(), X_OK) != 0) die("serf is not installed (scripts/install-deps.sh installs it)");
  std::vector<double> converge, detect, idle, serf_converge, serf_detect, serf_idle, bound;
  for (int r = 0; r < s.repeat; ++r) {
    auto ours = membership_ours(s);
    auto theirs = membership_serf(s, serf);
    converge.push_back(ours.converge_ms);
    detect.push_back(ours.detect_ms);
    idle.push_back(ours.idle_percent);
    serf_converge.push_back(theirs.converge_ms);
    serf_detect.push_back(theirs.detect_ms);
    serf_idle.push_back(theirs.idle_percent);
    bound.push_back(static_cast<double>(swim::detection_bound(*prof, static_cast<std::size_t>(s.cluster_size))));
  }
  const auto size = std::to_string(s.cluster_size);
  // The goal is a bound, not a median: the share of runs that converged within 250 ms.
  auto within = [](const std::vector<double>& ms) {
    double n = 0;
    for (double v : ms) n += v <= 250.0;
    return std::vector<double>{100.0 * n / static_cast<double>(ms.size())};
  };
  return {
      {"members", size + "-node runs converged within 250 ms", "%runs", true, summarize(within(converge)),
       {{"serf", summarize(within(serf_converge))}}},
      {"members", size + "-node convergence after join (" + s.profile + ")", "ms", false, summarize(converge),
       {{"serf", summarize(serf_converge)}}},
      {"members", "kill -9 seen dead by all " + std::to_string(s.cluster_size - 1) + " (" + s.profile + ")", "ms",
       false, summarize(detect), {{"serf", summarize(serf_detect)}, {"bound", summarize(bound)}}},
      {"members", size + " idle nodes, CPU of all together", "%core", false,
       summarize(idle), {{"serf", summarize(serf_idle)}}},
  };
}

// ---- raft ---------------------------------------------------------------------------------------
// Three voters on 127.0.0.1 of our nodes, of etcd (its v3 HTTP/JSON gateway) and of pysyncobj
// (behind a small aiohttp front), driven by the same HTTP client: failover after kill -9 of the
// leader, sequential commit latency, and throughput with 64 and 512 writes in flight. The raw
// baseline is what one commit cannot avoid: a middleman round trip plus a durable 4 KiB append.

struct load_figures {
  std::size_t ok = 0, failed = 0;
  double rate = 0;                  // successful writes per second
  std::vector<double> latencies_ms;  // of the successful writes
};

// Closed loop: each connection sends its request again as soon as the previous answer is in,
// for `duration_s`; the requests hold one connection each, kept alive.
load_figures closed_loop(const std::string& address, const std::vector<std::string>& requests, double duration_s) {
  std::vector<std::unique_ptr<http_connection>> conns;
  load_figures f;
  const auto start = bench_clock::now();
  const auto end =
      start + std::chrono::duration_cast<bench_clock::duration>(std::chrono::duration<double>(duration_s));
  for (const auto& r : requests) {
    conns.push_back(std::make_unique<http_connection>(address));
    if (!conns.back()->begin(r)) ++f.failed;
  }
  std::vector<pollfd> fds;
  std::vector<std::size_t> which;
  while (bench_clock::now() < end) {
    fds.clear();
    which.clear();
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (!conns[i]->open() && !conns[i]->begin(requests[i])) {
        ++f.failed;
        continue;
      }
      fds.push_back({conns[i]->fd(), conns[i]->wanted(), 0});
      which.push_back(i);
    }
    if (::poll(fds.data(), fds.size(), 10) < 0 && errno != EINTR) die("poll failed");
    const auto now = bench_clock::now();
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      auto& c = *conns[which[k]];
      const int status = c.advance(fds[k].revents);
      if (status == 0) continue;
      if (now >= end) break;  // answered after the window: not counted
      if (status >= 200 && status < 300) {
        ++f.ok;
        f.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - c.started()).count());
      } else {
        ++f.failed;
      }
      if (!c.begin(requests[which[k]])) ++f.failed;
    }
  }
  f.rate = static_cast<double>(f.ok) / seconds_since(start);
  return f;
}

// Milliseconds from `start` until a write through any of `targets` succeeds. A write sent while
// there is no leader may hang (etcd holds it until its own request timeout), so attempts
// overlap: another starts every few milliseconds on a fresh connection, each abandoned after a
// while, and a refused one is retried at once.
double first_write_ms(bench_clock::time_point start, const std::vector<std::string>& targets,
                      const std::function<std::string(const std::string& address)>& request,
                      const std::string& what) {
  constexpr auto retry_gap = 1ms, overlap_gap = 10ms, abandon_after = 500ms;
  constexpr std::size_t max_per_target = 64;
  struct attempt {
    std::size_t target;
    std::unique_ptr<http_connection> conn;
  };
  std::vector<attempt> attempts;
  std::vector<bench_clock::time_point> last_start(targets.size(), start - 1h);
  std::vector<pollfd> fds;
  for (;;) {
    auto now = bench_clock::now();
    if (now - start > 60s) die(what + ": no write succeeded within 60 s");
    std::erase_if(attempts,
                  [&](const attempt& a) { return !a.conn->open() || now - a.conn->started() > abandon_after; });
    for (std::size_t t = 0; t < targets.size(); ++t) {
      auto in_flight = static_cast<std::size_t>(
          std::count_if(attempts.begin(), attempts.end(), [&](const attempt& a) { return a.target == t; }));
      auto since = now - last_start[t];
      if ((in_flight == 0 && since >= retry_gap) || (in_flight < max_per_target && since >= overlap_gap)) {
        last_start[t] = now;
        auto conn = std::make_unique<http_connection>(targets[t]);
        if (conn->begin(request(targets[t]))) attempts.push_back({t, std::move(conn)});
      }
    }
    fds.clear();
    for (auto& a : attempts) fds.push_back({a.conn->fd(), a.conn->wanted(), 0});
    if (::poll(fds.data(), fds.size(), 1) < 0 && errno != EINTR) die("poll failed");
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      const int status = attempts[k].conn->advance(fds[k].revents);
      if (status >= 200 && status < 300) return std::max(0.0, seconds_since(start) * 1000);
      if (status != 0) attempts[k].conn->close();  // refused or failed: dropped on the next turn
    }
  }
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

std::string base64(std::string_view in) {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<std::uint8_t>(in[i + 2]);
    out.push_back(digits[(v >> 18) & 63]);
    out.push_back(digits[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? digits[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? digits[v & 63] : '=');
  }
  return out;
}

// What a member says about itself and the leader it follows.
struct member_status {
  bool answered = false;
  bool leading = false;
  std::string leader;  // member id, empty when none is known
  std::uint64_t commit = 0, applied = 0;
};

// Three members of a replicated key-value store, reachable over HTTP.
// {"key": K, "value": V}: the body of a key-value write, for all three systems (etcd's
// gateway wants both base64-encoded).
std::string kv_body(const std::string& key, const std::string& value) {
  std::string body = R"({"key":")";
  body.append(key).append(R"(","value":")").append(value).append("\"}");
  return body;
}

class raft_system {
 public:
  virtual ~raft_system() = default;
  virtual std::size_t size() const = 0;
  virtual bool running(std::size_t i) const = 0;
  virtual std::string member_id(std::size_t i) const = 0;
  virtual std::string address(std::size_t i) const = 0;  // HTTP host:port
  virtual member_status status(std::size_t i) const = 0;
  // The bytes of one HTTP write of `key` = `value` to `address`.
  virtual std::string put(const std::string& address, const std::string& key, const std::string& value,
                          bool keep_alive) const = 0;
  virtual void kill(std::size_t i) = 0;  // SIGKILL, and waits for the exit
  virtual void restart(std::size_t i) = 0;
  virtual std::string log(std::size_t i) const = 0;
};

std::optional<simdjson::dom::element> get_json(simdjson::dom::parser& parser, const std::string& address,
                                               const std::string& method, const std::string& target,
                                               const harness::header_list& headers = {},
                                               const std::string& body = "") {
  harness::http_reply reply;
  try {
    reply = harness::http_call(address, method, target, body, headers, 2s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  simdjson::dom::element doc;
  if (reply.status != 200 || parser.parse(reply.body).get(doc)) return std::nullopt;
  return doc;
}

const std::string bench_value = "0123456789abcdef";

class our_cluster final : public raft_system {
 public:
  our_cluster()
      : c_(3, {"--voters=n00,n01,n02", "--raft-profile=lan", "--swim-profile=local", "--log-level=warn"}) {}
  std::size_t size() const override { return c_.size(); }
  bool running(std::size_t i) const override { return c_.running(i); }
  std::string member_id(std::size_t i) const override { return harness::joined_cluster::id(i); }
  std::string address(std::size_t i) const override { return c_[i].http(); }
  member_status status(std::size_t i) const override {
    member_status st;
    simdjson::dom::parser parser;
    auto doc = get_json(parser, address(i), "GET", "/raft/status", {{"Authorization", "Bearer " + c_.token()}});
    std::string_view state, leader;
    if (!doc || (*doc)["state"].get(state) || (*doc)["leader_id"].get(leader) ||
        (*doc)["commit_index"].get(st.commit) || (*doc)["last_applied"].get(st.applied))
      return st;
    st.answered = true;
    st.leading = state == "leader";
    st.leader = leader;
    return st;
  }
  std::string put(const std::string& address, const std::string& key, const std::string& value,
                  bool keep_alive) const override {
    return http_request("POST", address, "/raft/kv", kv_body(key, value), "Authorization: Bearer " + c_.token() + "\r\n",
                        keep_alive);
  }
  void kill(std::size_t i) override { c_.kill(i); }
  void restart(std::size_t i) override { c_.restart(i); }
  std::string log(std::size_t i) const override { return c_.running(i) ? c_[i].process().err() : "(not running)"; }

 private:
  mutable harness::joined_cluster c_;
};

// Members started as child processes on fixed ports, each with its own data dir kept across
// restarts.
class reference_cluster : public raft_system {
 public:
  std::size_t size() const override { return members_.size(); }
  bool running(std::size_t i) const override { return members_.at(i).process != nullptr; }
  std::string address(std::size_t i) const override { return members_.at(i).http; }
  void kill(std::size_t i) override {
    auto& m = members_.at(i);
    if (!m.process) return;
    m.process->signal(SIGKILL);
    m.process->wait_exit(15s);
    m.last_log = m.process->out() + m.process->err();
    m.process.reset();
  }
  void restart(std::size_t i) override {
    kill(i);
    start(i);
  }
  std::string log(std::size_t i) const override {
    const auto& m = members_.at(i);
    return m.process ? m.process->out() + m.process->err() : m.last_log;
  }

 protected:
  struct member {
    std::unique_ptr<harness::temp_dir> dir;
    std::vector<std::string> args;
    std::unique_ptr<harness::child_process> process;
    std::string http, id, last_log;
  };
  virtual void start(std::size_t i) = 0;
  std::vector<member> members_;
};

class etcd_cluster final : public reference_cluster {
 public:
  // `tuned`: --heartbeat-interval=50 --election-timeout=300 (the lan profile's heartbeat and
  // shortest election timeout); otherwise etcd's defaults (100 ms, 1 s).
  etcd_cluster(const std::string& binary, bool tuned) : binary_(binary) {
    const auto ports = free_ports(6);
    auto url = [&](std::size_t port_index) { return "http://127.0.0.1:" + std::to_string(ports[port_index]); };
    std::string initial;
    for (std::size_t i = 0; i < 3; ++i) {
      initial.append(i ? "," : "").append("e").append(std::to_string(i)).append("=").append(url(3 + i));
    }
    for (std::size_t i = 0; i < 3; ++i) {
      member m;
      m.dir = std::make_unique<harness::temp_dir>("p2p-bench-etcd");
      m.http = "127.0.0.1:" + std::to_string(ports[i]);
      std::string name = "e";
      name.append(std::to_string(i));
      m.args = {"--name=" + name, "--data-dir=" + (m.dir->path() / "data").string(),
                "--listen-client-urls=" + url(i), "--advertise-client-urls=" + url(i),
                "--listen-peer-urls=" + url(3 + i), "--initial-advertise-peer-urls=" + url(3 + i),
                "--initial-cluster=" + initial, "--initial-cluster-token=p2p-bench",
                "--initial-cluster-state=new", "--logger=zap", "--log-level=error"};
      if (tuned) {
        m.args.push_back("--heartbeat-interval=50");
        m.args.push_back("--election-timeout=300");
      }
      members_.push_back(std::move(m));
    }
    for (std::size_t i = 0; i < 3; ++i) start(i);
    // Member ids are drawn at bootstrap: learn them once every member answers.
    for (std::size_t i = 0; i < 3; ++i) {
      bool known = harness::eventually(30s, [&] {
        simdjson::dom::parser parser;
        auto doc = get_json(parser, members_[i].http, "POST", "/v3/maintenance/status", {}, "{}");
        std::string_view id;
        if (!doc || (*doc)["header"]["member_id"].get(id)) return false;
        members_[i].id = id;
        return true;
      });
      if (!known) die("etcd member " + std::to_string(i) + " did not start: " + log(i));
    }
  }
  std::string member_id(std::size_t i) const override { return members_.at(i).id; }
  member_status status(std::size_t i) const override {
    member_status st;
    simdjson::dom::parser parser;
    auto doc = get_json(parser, address(i), "POST", "/v3/maintenance/status", {}, "{}");
    if (!doc) return st;
    // The gateway writes 64-bit numbers as strings and leaves out zero values.
    auto number = [&](const char* field) -> std::uint64_t {
      std::string_view text;
      return (*doc)[field].get(text) ? 0 : std::strtoull(std::string(text).c_str(), nullptr, 10);
    };
    std::string_view leader;
    if ((*doc)["leader"].get(leader)) leader = {};
    st.answered = true;
    st.leader = leader;
    st.leading = !leader.empty() && leader == members_.at(i).id;
    st.commit = number("raftIndex");
    st.applied = number("raftAppliedIndex");
    return st;
  }
  std::string put(const std::string& address, const std::string& key, const std::string& value,
                  bool keep_alive) const override {
    return http_request("POST", address, "/v3/kv/put", kv_body(base64(key), base64(value)), "", keep_alive);
  }

 private:
  void start(std::size_t i) override {
    members_.at(i).process = std::make_unique<harness::child_process>(binary_, members_[i].args);
  }
  std::string binary_;
};

class pysyncobj_cluster final : public reference_cluster {
 public:
  explicit pysyncobj_cluster(const std::string& python) : python_(python) {
    const auto ports = free_ports(3);
    for (std::size_t i = 0; i < 3; ++i) {
      member m;
      m.id = "127.0.0.1:" + std::to_string(ports[i]);
      std::string partners;
      for (std::size_t j = 0; j < 3; ++j)
        if (j != i)
          partners.append(partners.empty() ? "" : ",").append("127.0.0.1:").append(std::to_string(ports[j]));
      m.args = {std::string(P2P_SOURCE_DIR) + "/bench/reference/pysyncobj_kv.py", "--raft=" + m.id,
                "--partners=" + partners, "--port=0"};
      members_.push_back(std::move(m));
    }
    for (std::size_t i = 0; i < 3; ++i) start(i);
  }
  std::string member_id(std::size_t i) const override { return members_.at(i).id; }
  member_status status(std::size_t i) const override {
    member_status st;
    simdjson::dom::parser parser;
    auto doc = get_json(parser, address(i), "GET", "/status");
    std::string_view leader;
    if (!doc || (*doc)["is_leader"].get(st.leading) || (*doc)["commit_index"].get(st.commit) ||
        (*doc)["last_applied"].get(st.applied))
      return st;
    if ((*doc)["leader"].get(leader)) leader = {};  // null while none is known
    st.answered = true;
    st.leader = leader;
    return st;
  }
  std::string put(const std::string& address, const std::string& key, const std::string& value,
                  bool keep_alive) const override {
    return http_request("POST", address, "/kv", kv_body(key, value), "", keep_alive);
  }

 private:
  void start(std::size_t i) override {
    auto& m = members_.at(i);
    m.process = std::make_unique<harness::child_process>(python_, m.args);
    auto line = m.process->wait_for_stdout("\"port\"", 30s);
    simdjson::dom::parser parser;
    std::int64_t port = 0;
    if (!line || parser.parse(*line)["port"].get(port)) die("pysyncobj member did not start: " + m.process->err());
    m.http = "127.0.0.1:" + std::to_string(port);
  }
  std::string python_;
};

// The member every running member follows, once they agree and it says it leads.
std::optional<std::size_t> agreed_leader(const raft_system& sys) {
  std::string leader;
  std::optional<std::size_t> leading;
  for (std::size_t i = 0; i < sys.size(); ++i) {
    if (!sys.running(i)) continue;
    auto st = sys.status(i);
    if (!st.answered || st.leader.empty() || (!leader.empty() && st.leader != leader)) return std::nullopt;
    leader = st.leader;
    if (st.leading) leading = i;
  }
  if (!leading || sys.member_id(*leading) != leader) return std::nullopt;
  return leading;
}

std::size_t await_leader(const raft_system& sys, const std::string& what) {
  std::optional<std::size_t> leader;
  if (!harness::eventually(60s, [&] { return (leader = agreed_leader(sys)).has_value(); }))
    die(what + ": the members did not agree on a leader within 60 s");
  return *leader;
}

struct raft_figures {
  std::vector<double> failover_ms;
  load_figures sequential, in_flight, pipelined;
};

constexpr std::size_t in_flight_clients = 64;
// Enough to fill pysyncobj's 50 ms ticks: its "pipelined" figure.
constexpr std::size_t pipelined_clients = 512;

// One key per client, written again and again: every write is a new entry to replicate.
std::vector<std::string> client_writes(const raft_system& sys, const std::string& address, std::size_t clients) {
  std::vector<std::string> requests;
  for (std::size_t i = 0; i < clients; ++i) {
    std::string key = "bench-";
    key.append(std::to_string(i));
    requests.push_back(sys.put(address, key, bench_value, true));
  }
  return requests;
}

void report_failures(const std::string& what, const load_figures& f) {
  if (f.failed > 0)
    std::cerr << "p2p-bench: raft: " << what << ": " << f.failed << " writes failed (" << f.ok << " succeeded)\n";
}

// Kill -9 the leader, time the next successful write through a survivor, restart the victim
// and wait until it has caught up, `kills` times.
std::vector<double> failovers(raft_system& sys, int kills, const std::string& what) {
  std::vector<double> ms;
  for (int k = 0; k < kills; ++k) {
    const auto victim = await_leader(sys, what);
    std::vector<std::string> survivors;
    for (std::size_t i = 0; i < sys.size(); ++i)
      if (i != victim && sys.running(i)) survivors.push_back(sys.address(i));
    std::string key = "failover-";
    key.append(std::to_string(k));
    const auto start = bench_clock::now();
    sys.kill(victim);
    ms.push_back(first_write_ms(
        start, survivors, [&](const std::string& address) { return sys.put(address, key, bench_value, false); },
        what + " failover"));
    sys.restart(victim);
    std::uint64_t target = 0;
    bool caught_up = harness::eventually(60s, [&] {
      auto leader = agreed_leader(sys);
      if (!leader) return false;
      if (target == 0) target = sys.status(*leader).commit;
      return target != 0 && sys.status(victim).applied >= target;
    });
    if (!caught_up) die(what + ": the restarted member did not catch up within 60 s: " + sys.log(victim));
  }
  return ms;
}

// Load through the leader (unless `failover_only`), then the kills. `beside_sequential` runs
// with the cluster up and idle, right before and right after the sequential window.
raft_figures measure_raft(raft_system& sys, const settings& s, const std::string& what, bool failover_only = false,
                          const std::function<void()>& beside_sequential = {}) {
  raft_figures f;
  if (!failover_only) {
    auto leader = await_leader(sys, what);
    const auto address = sys.address(leader);
    // Until a first write commits: the leader has committed an entry of its term.
    first_write_ms(bench_clock::now(), {address},
                   [&](const std::string& a) { return sys.put(a, "warm-up", bench_value, false); },
                   what + " warm-up");
    if (beside_sequential) beside_sequential();
    f.sequential = closed_loop(address, client_writes(sys, address, 1), s.duration_s);
    report_failures(what + " sequential", f.sequential);
    if (beside_sequential) beside_sequential();
    f.in_flight = closed_loop(address, client_writes(sys, address, in_flight_clients), s.duration_s);
    report_failures(what + " with 64 in flight", f.in_flight);
    f.pipelined = closed_loop(address, client_writes(sys, address, pipelined_clients), s.duration_s);
    report_failures(what + " pipelined", f.pipelined);
  }
  f.failover_ms = failovers(sys, s.kills, what);
  return f;
}

struct raw_figures {
  double round_trip_ms = 0, window64_rate = 0;
};

raw_figures measure_round_trips() {
  raw_figures f;
  reference_server raw_server(self_dir() + "/p2p-bench", {"raw-echo-server"});
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto echo = connect_remote(sys, raw_server.address);
  f.round_trip_ms = 1000 / round_trip_rate<std::uint64_t>(sys, echo, 2000, 1, &raw_ping);
  f.window64_rate = round_trip_rate<std::uint64_t>(sys, echo, 20000, 64, &raw_ping);
  return f;
}

// Why a reference system cannot run here; empty when it can.
std::string etcd_missing(const std::string& binary) {
  if (::access(binary.c_str(), X_OK) != 0) return binary + " is not installed (Debian etcd-server)";
  return {};
}

std::string pysyncobj_missing(const std::string& python) {
  if (::access(python.c_str(), X_OK) != 0) return python + " is not installed";
  harness::child_process probe(python, {"-c", "import pysyncobj, aiohttp"});
  if (probe.wait_exit(30s).value_or(-1) != 0)
    return "python3-pysyncobj or python3-aiohttp is not installed: " + probe.err();
  return {};
}

std::vector<result> bench_raft(const settings& s) {
  const std::string etcd = "/usr/bin/etcd", python = "/usr/bin/python3";
  const auto no_etcd = etcd_missing(etcd), no_pysyncobj = pysyncobj_missing(python);
  if (!no_etcd.empty()) std::cerr << "p2p-bench: raft: etcd skipped: " << no_etcd << "\n";
  if (!no_pysyncobj.empty()) std::cerr << "p2p-bench: raft: pysyncobj skipped: " << no_pysyncobj << "\n";

  // One value per run for every figure.
  struct series {
    std::vector<double> failover_p50, failover_p99, sequential_p50, sequential_rate, in_flight_rate, pipelined_rate;
    void add(const raft_figures& f) {
      failover_p50.push_back(percentile(f.failover_ms, 0.5));
      failover_p99.push_back(percentile(f.failover_ms, 0.99));
      sequential_p50.push_back(percentile(f.sequential.latencies_ms, 0.5));
      sequential_rate.push_back(f.sequential.rate);
      in_flight_rate.push_back(f.in_flight.rate);
      pipelined_rate.push_back(f.pipelined.rate);
    }
  } ours, etcd_tuned, etcd_default, pysyncobj;
  std::vector<double> fsync, round_trip, raw_commit, raw_rate, window64;
  for (int r = 0; r < s.repeat; ++r) {
    {
      await_settled_disk("raft");
      our_cluster c;
      // The raw figures beside our sequential window, so both see the same disk and the same
      // load. An fsync that meets another process's flush waits a few ms longer, so the fsync
      // figure is the quickest median of short bursts before and after: the disk's own cost.
      double quickest_burst = std::numeric_limits<double>::infinity();
      bool round_trips_measured = false;
      ours.add(measure_raft(c, s, "ours", false, [&] {
        for (int burst = 0; burst < 5; ++burst) {
          quickest_burst = std::min(quickest_burst, percentile(fdatasync_ms(20), 0.5));
          std::this_thread::sleep_for(50ms);
        }
        if (std::exchange(round_trips_measured, true)) return;
        auto raw = measure_round_trips();
        round_trip.push_back(raw.round_trip_ms);
        window64.push_back(raw.window64_rate);
      }));
      fsync.push_back(quickest_burst);
      raw_commit.push_back(fsync.back() + round_trip.back());
      raw_rate.push_back(1000 / raw_commit.back());
    }
    if (no_etcd.empty()) {
      {
        await_settled_disk("raft");
        etcd_cluster c(etcd, true);
        etcd_tuned.add(measure_raft(c, s, "etcd"));
      }
      await_settled_disk("raft");
      etcd_cluster c(etcd, false);
      etcd_default.add(measure_raft(c, s, "etcd (defaults)", true));
    }
    if (no_pysyncobj.empty()) {
      await_settled_disk("raft");
      pysyncobj_cluster c(python);
      pysyncobj.add(measure_raft(c, s, "pysyncobj"));
    }
  }

  using baseline_list = std::vector<std::pair<std::string, summary>>;
  auto with_references = [&](baseline_list extra, std::vector<double> series::*figure,
                             bool with_etcd_default = false) {
    baseline_list b;
    if (no_etcd.empty()) {
      b.emplace_back("etcd", summarize(etcd_tuned.*figure));
      if (with_etcd_default) b.emplace_back("etcd_default", summarize(etcd_default.*figure));
    }
    if (no_pysyncobj.empty()) b.emplace_back("pysyncobj", summarize(pysyncobj.*figure));
    for (auto& e : extra) b.push_back(std::move(e));
    return b;
  };
  auto constant = [&](double v) { return summarize(std::vector<double>(static_cast<std::size_t>(s.repeat), v)); };
  const std::string kills = std::to_string(s.kills);
  return {
      {"raft", "failover p50 (kill -9 leader, " + kills + " kills)", "ms", false, summarize(ours.failover_p50),
       with_references({{"goal", constant(250)}}, &series::failover_p50, true)},
      {"raft", "failover p99 (kill -9 leader, " + kills + " kills)", "ms", false, summarize(ours.failover_p99),
       with_references({{"goal", constant(600)}}, &series::failover_p99, true)},
      {"raft", "sequential commit p50", "ms", false, summarize(ours.sequential_p50),
       with_references(
           {{"raw", summarize(raw_commit)}, {"fdatasync", summarize(fsync)}, {"rtt", summarize(round_trip)}},
           &series::sequential_p50)},
      {"raft", "sequential commits/s", "op/s", true, summarize(ours.sequential_rate),
       with_references({{"raw", summarize(raw_rate)}}, &series::sequential_rate)},
      {"raft", "commits/s with 64 in flight", "op/s", true, summarize(ours.in_flight_rate),
       with_references({{"goal", constant(20000)}, {"rtt64", summarize(window64)}}, &series::in_flight_rate)},
      {"raft", "commits/s with " + std::to_string(pipelined_clients) + " in flight", "op/s", true,
       summarize(ours.pipelined_rate),
       with_references({{"ours64", summarize(ours.in_flight_rate)}}, &series::pipelined_rate)},
  };
}

// ---- report ---------------------------------------------------------------------------------

void write_report(const std::vector<result>& results, const settings& s) {
  std::filesystem::create_directories(s.out);
  std::ofstream md(std::filesystem::path(s.out) / "report.md");
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  md << "# p2p-bench report\n\n" << format_rfc3339(wall_now()) << ", host `" << host << "`, "
     << std::thread::hardware_concurrency() << " cores, " << s.repeat
     << " runs per figure (min / median / p99 over runs).\n\n"
     << "| bench | case | unit | min | median | p99 | baseline median | ours / baseline |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    std::string base, ratios;
    for (const auto& [name, b] : r.baselines) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "%s%s %.1f", base.empty() ? "" : "<br>", name.c_str(), b.median);
      base += buf;
      auto q = ratio(r.ours.median, b.median);
      std::snprintf(buf, sizeof buf, "%s%s %s", ratios.empty() ? "" : "<br>", name.c_str(),
                    q ? (std::to_string(*q).substr(0, 4) + "x").c_str() : "-");
      ratios += buf;
    }
    char row[512];
    std::snprintf(row, sizeof row, "| %s | %s | %s | %.1f | %.1f | %.1f | %s | %s |\n",
                  r.bench.c_str(), r.name.c_str(), r.unit.c_str(), r.ours.min, r.ours.median,
                  r.ours.p99, base.c_str(), ratios.c_str());
    md << row;
  }
  // One bar chart per result: ours next to each baseline (medians).
  md << "\n";
  int index = 0;
  for (const auto& r : results) {
    auto stem = "plot" + std::to_string(index++);
    auto dir = std::filesystem::path(s.out);
    std::ofstream data(dir / (stem + ".dat"));
    data << "ours " << r.ours.median << "\n";
    for (const auto& [name, b] : r.baselines) data << name << " " << b.median << "\n";
    data.close();
    std::ofstream plot(dir / (stem + ".gp"));
    plot << "set terminal svg size 480,280 font 'sans,10'\n"
         << "set output '" << (dir / (stem + ".svg")).string() << "'\n"
         << "set title \"" << r.bench << ": " << r.name << "\"\n"
         << "set ylabel '" << r.unit << "'\nset style fill solid 0.6\nset boxwidth 0.6\n"
         << "set yrange [0:*]\nunset key\n"
         << "plot '" << (dir / (stem + ".dat")).string() << "' using 0:2:xtic(1) with boxes\n";
    plot.close();
    harness::child_process gp("/usr/bin/gnuplot", {(dir / (stem + ".gp")).string()});
    if (gp.wait_exit(60s).value_or(-1) != 0) die("gnuplot failed: " + gp.err());
    md << "![" << r.bench << " " << r.name << "](" << stem << ".svg)\n";
  }
  if (!s.json) std::printf("report written to %s/report.md\n", s.out.c_str());
}

const char* usage =
    "usage: p2p-bench SUBCOMMAND [options]\n"
    "subcommands:\n"
    "  http     HTTP rate and p99 of a route: p2p-node vs bare Beast vs aiohttp (uses wrk)\n"
    "  actors   local typed messages vs raw CAF: one-way, request/reply sequential and windowed\n"
    "  remote   the same patterns over the middleman: a node's cluster port vs a raw CAF echo\n"
    "  idle     CPU per idle node: our scheduler settings vs CAF's default (stealing)\n"
    "  membership  --cluster-size nodes vs serf agents at --profile: convergence after join,\n"
    "           kill -9 detection (and SWIM's analytic bound), idle CPU\n"
    "  raft     3 voters each of p2p-node (lan profile), etcd and pysyncobj: failover after\n"
    "           kill -9 of the leader (--kills rounds), sequential commit latency against a\n"
    "           round trip plus a 4 KiB fdatasync, commits/s with 64 and 512 writes in\n"
    "           flight (--duration seconds each); --repeat defaults to 1 here\n"
    "  cmaes    evaluations the CMA-ES core needs to reach --target on --function sphere,\n"
    "           rosenbrock or ellipsoid (--dim, --seeds, --x0, --sigma0, --rotated, --noise)\n"
    "           against the reference implementation's medians\n"
    "  elo      the bayes fit of --games games against replaying them, durable ingest, and sync\n"
    "           of --new games by high-water marks against shipping and replaying everything\n"
    "  workload playouts/s, games/s per agent kind and training samples/s of p2p-workload\n"
    "           (--config-key, --playouts, --games, --playout-count, --train-games, --epochs)\n"
    "  work     the work queue: claim+complete cycle over HTTP and over CAF against two Raft\n"
    "           writes, completed items/s on 3 voters, the worker API against aiohttp (wrk)\n"
    "           (--cycles, --seconds, --clients, --batch, --connections, --stock, --quick)\n"
    "  report   runs all of the above but raft, cmaes, elo, workload and work; writes OUT/report.md and SVG plots\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage;
    return argc < 2 ? 2 : 0;
  }
  std::string sub = argv[1];
  if (sub == "raw-echo-server") return raw_echo_server();
  if (sub == "cmaes") return p2p::bench::run_cmaes_bench(argc - 1, argv + 1);  // its own options
  if (sub == "elo") return p2p::bench::run_elo_bench(argc - 1, argv + 1);  // its own options
  if (sub == "workload") return p2p::bench::run_workload_bench(argc - 1, argv + 1);  // its own options
  if (sub == "work") return p2p::bench::run_work_bench(argc - 1, argv + 1);  // its own options
  settings s;
  po::options_description desc("options");
  desc.add_options()("json", po::bool_switch(&s.json), "one JSON object per line per result")
      ("repeat", po::value(&s.repeat)->default_value(5), "runs per figure")
      ("duration", po::value(&s.duration_s)->default_value(3), "seconds per run (http, idle)")
      ("connections", po::value(&s.connections)->default_value(32), "HTTP connections (http)")
      ("messages", po::value(&s.messages)->default_value(200000), "messages per run (actors, remote)")
      ("nodes", po::value(&s.nodes)->default_value(4), "idle nodes (idle)")
      ("route", po::value(&s.route)->default_value("health"), "health or log-level (http)")
      ("target", po::value(&s.target), "an existing node: HTTP host:port (http) or cluster "
                                       "host:port (remote) instead of starting one")
      ("token", po::value(&s.token), "that node's bearer token (http)")
      ("out", po::value(&s.out)->default_value("bench-report"), "report directory (report)")
      ("cluster-size", po::value(&s.cluster_size)->default_value(16), "nodes (members)")
      ("profile", po::value(&s.profile)->default_value("local"), "SWIM profile (members)")
      ("kills", po::value(&s.kills)->default_value(20), "leader kills per run and system (raft)");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).run(), vm);
    po::notify(vm);
    // A raft run already repeats its kills and its load windows; it takes minutes.
    if (sub == "raft" && vm["repeat"].defaulted()) s.repeat = 1;
  } catch (const po::error& e) {
    std::cerr << "p2p-bench: " << e.what() << "\n" << usage << desc;
    return 2;
  }
  if (s.repeat < 1 || s.duration_s <= 0 || s.connections < 1 || s.messages < 100 || s.nodes < 1 ||
      s.cluster_size < 3 || s.kills < 1) {
    std::cerr << "p2p-bench: --repeat, --duration, --connections, --nodes, --kills must be positive, "
                 "--messages at least 100 and --cluster-size at least 3\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<result> results;
  auto run = [&](const std::vector<result>& rs) {
    for (const auto& r : rs) {
      emit(r, s);
      results.push_back(r);
    }
  };
  if (sub == "http") header(s), run(bench_http(s));
  else if (sub == "actors") header(s), run(bench_actors(s));
  else if (sub == "remote") header(s), run(bench_remote(s));
  else if (sub == "idle") header(s), run(bench_idle(s));
  else if (sub == "membership") header(s), run(bench_membership(s));
  else if (sub == "raft") header(s), run(bench_raft(s));
  else if (sub == "report") {
    header(s);
    run(bench_http(s));
    auto post = s;
    post.route = "log-level";
    run(bench_http(post));
    run(bench_actors(s));
    run(bench_remote(s));
    run(bench_idle(s));
    run(bench_membership(s));
    write_report(results, s);
  } else {
    std::cerr << "p2p-bench: unknown subcommand '" << sub << "'\n" << usage;
    return 2;
  }
  return 0;
}
