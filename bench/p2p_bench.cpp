// p2p-bench: every benchmark of the project, each measured side by side with a baseline in the
// same run and reported as min/median/p99 over repeated runs plus ratios to the baselines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <simdjson.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <regex>
#include <thread>

#include "actors/common/instrumented.hpp"
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
  auto connect = [&](const std::string& address) {
    auto colon = address.rfind(':');
    auto handle = sys.middleman().remote_actor(address.substr(0, colon),
                                               static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    if (!handle) die("cannot connect to " + address + ": " + sys.render(handle.error()));
    return *handle;
  };
  auto directory = connect(cluster);
  auto raw = connect(raw_server.address);
  auto typed_ping = [](std::size_t i) { return msg::ping{i}; };
  auto raw_ping = [](std::size_t i) { return caf::make_message(raw_ping_atom::value, std::uint64_t{i}); };
  std::vector<double> t1, r1, t2, r2, t3, r3;
  const std::size_t n = s.messages / 4;
  for (int i = 0; i < s.repeat; ++i) {
    t1.push_back(one_way_rate<decltype(typed_ping), msg::ping, msg::pong>(sys, directory, n, typed_ping,
                                                                          msg::ping{0}));
    r1.push_back(one_way_rate<decltype(raw_ping), caf::message, std::uint64_t>(
        sys, raw, n, raw_ping, raw_ping(0)));
    t2.push_back(round_trip_rate<msg::pong>(sys, directory, n / 40 + 1, 1, typed_ping));
    r2.push_back(round_trip_rate<std::uint64_t>(sys, raw, n / 40 + 1, 1, raw_ping));
    t3.push_back(round_trip_rate<msg::pong>(sys, directory, n / 4 + 1, 64, typed_ping));
    r3.push_back(round_trip_rate<std::uint64_t>(sys, raw, n / 4 + 1, 64, raw_ping));
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
    "  report   runs all of the above; writes OUT/report.md and SVG plots\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage;
    return argc < 2 ? 2 : 0;
  }
  std::string sub = argv[1];
  if (sub == "raw-echo-server") return raw_echo_server();
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
      ("profile", po::value(&s.profile)->default_value("local"), "SWIM profile (members)");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "p2p-bench: " << e.what() << "\n" << usage << desc;
    return 2;
  }
  if (s.repeat < 1 || s.duration_s <= 0 || s.connections < 1 || s.messages < 100 || s.nodes < 1 ||
      s.cluster_size < 3) {
    std::cerr << "p2p-bench: --repeat, --duration, --connections, --nodes must be positive, "
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
