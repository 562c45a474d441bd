#include "bench/work_bench.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/disk.hpp"
#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"
#include "bench/http_connection.hpp"
#include "bench/stats.hpp"
#include "protocol/common/json.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/raft.hpp"
#include "protocol/messages/work.hpp"
#include "protocol/registry.hpp"

namespace p2p::bench {
namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr const char* work_type = "bench";
constexpr double goal_items_per_s = 2000;
constexpr std::size_t warm_up_cycles = 50;
constexpr std::size_t chunk_cycles = 50;
constexpr std::size_t feed_batch = 500;          // items per add from the feeders
constexpr std::size_t feeders = 4;               // adds in flight at most: one add of 500 takes long
constexpr std::size_t max_add_items = 1000;      // the node's limit per add
constexpr std::size_t max_active_items = 10000;  // the node's --work-max-active default
constexpr auto request_timeout = 15s;

struct work_settings {
  std::size_t cycles = 1000;
  double seconds = 3;
  std::vector<std::size_t> clients{6, 24, 96, 192};
  std::vector<std::size_t> batches{1, 8, 32};
  std::size_t connections = 32;
  std::size_t stock = 4000;
  int repeat = 3;
  std::set<std::string> only;
  bool quick = false;
  bool json = false;
  bool wants(const std::string& figure) const { return only.empty() || only.contains(figure); }
};

// One printed figure: our value per run and each baseline's value per run.
struct figure {
  std::string name, unit;
  bool higher_is_better = true;
  std::vector<double> ours;
  std::vector<std::pair<std::string, std::vector<double>>> baselines;
};

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

void print_header(const work_settings& s) {
  if (s.json) return;
  std::printf("%-7s %-40s %-6s %11s %11s %11s  baseline median (ours/baseline)\n", "bench", "case", "unit", "min",
              "median", "p99");
}

// The same shape as the other subcommands' results.
void emit(const figure& f, const work_settings& s) {
  const auto ours = summarize(f.ours);
  if (s.json) {
    json::writer w;
    w.begin_object()
        .field("bench", "work")
        .field("name", f.name)
        .field("unit", f.unit)
        .field("higher_is_better", f.higher_is_better)
        .field("runs", static_cast<std::uint64_t>(ours.runs))
        .field("min", ours.min)
        .field("median", ours.median)
        .field("p99", ours.p99);
    for (const auto& [name, values] : f.baselines) {
      const auto b = summarize(values);
      w.field(name + "_median", b.median);
      w.key(name + "_ratio");
      if (auto q = ratio(ours.median, b.median)) w.value(*q);
      else w.null();
    }
    w.end_object();
    std::printf("%s\n", w.take().c_str());
  } else {
    std::printf("%-7s %-40s %-6s %11.2f %11.2f %11.2f", "work", f.name.c_str(), f.unit.c_str(), ours.min,
                ours.median, ours.p99);
    for (const auto& [name, values] : f.baselines) {
      const auto b = summarize(values);
      auto q = ratio(ours.median, b.median);
      std::printf("  %s %.2f (%sx)", name.c_str(), b.median, q ? std::to_string(*q).substr(0, 4).c_str() : "-");
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

// A note on stderr: what a figure does not show but its analysis needs (CPU, fsyncs, state size).
void note(const std::string& text) { std::cerr << "p2p-bench work: " << text << "\n"; }

std::string fixed(double v, int digits = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// ---- talking to a node over HTTP -----------------------------------------------------------------

std::string auth_line(const std::string& token) { return std::string("Authorization: Bearer ").append(token).append("\r\n"); }

struct reply {
  int status = 0;
  std::string body;
};

// One request on a kept-alive connection, waiting for its answer.
reply send_and_wait(http_connection& conn, std::string request) {
  if (!conn.begin(std::move(request))) throw std::runtime_error("cannot connect");
  const auto deadline = clock_type::now() + request_timeout;
  for (;;) {
    pollfd p{conn.fd(), conn.wanted(), 0};
    if (::poll(&p, 1, 100) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    if (p.revents) {
      const int status = conn.advance(p.revents);
      if (status < 0) throw std::runtime_error("the connection failed");
      if (status > 0) return {status, std::string(conn.body())};
    }
    if (clock_type::now() > deadline) throw std::runtime_error("no answer within 15 s");
  }
}

std::string claim_body(const std::string& node_id, std::size_t max_items, const std::string& request_id) {
  std::string b = R"({"node_id":")";
  b.append(node_id).append(R"(","work_types":[")").append(work_type).append(R"("],"max_items":)");
  b.append(std::to_string(max_items)).append(R"(,"request_id":")").append(request_id).append("\"}");
  return b;
}

std::string complete_body(const std::string& work_id, const std::string& claim_token) {
  std::string b = R"({"work_id":")";
  b.append(work_id).append(R"(","claim_token":")").append(claim_token).append(R"(","result":{}})");
  return b;
}

std::string add_body(std::size_t count) {
  std::string b = R"({"items":[)";
  for (std::size_t i = 0; i < count; ++i) b.append(i ? "," : "").append(R"({"work_type":")").append(work_type).append("\"}");
  return b.append("]}");
}

std::string kv_body(const std::string& key) {
  std::string b = R"({"key":")";
  return b.append(key).append(R"(","value":"0123456789abcdef"})");
}

struct claimed_item {
  std::string work_id, claim_token;
};

// The items of a claim's answer; a replayed answer hands out nothing new, so it counts as none.
std::vector<claimed_item> claimed_items(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::vector<claimed_item> out;
  if (parser.parse(body.data(), body.size()).get(doc)) throw std::runtime_error("a claim answered no JSON");
  bool replayed = false;
  if (!doc["replayed"].get(replayed) && replayed) return out;
  simdjson::dom::array items;
  if (doc["items"].get(items)) return out;
  for (auto x : items) {
    std::string_view id, token;
    if (x["work_id"].get(id) || x["claim_token"].get(token)) throw std::runtime_error("a claimed item without a token");
    out.push_back({std::string(id), std::string(token)});
  }
  return out;
}

// Adds `count` items of the bench's work type, in adds of at most 1,000.
void add_stock(const std::string& address, const std::string& token, std::size_t count) {
  http_connection conn(address);
  while (count > 0) {
    const auto n = std::min(count, max_add_items);
    auto r = send_and_wait(conn, http_request("POST", address, "/work/add", add_body(n), auth_line(token), true));
    if (r.status != 201) throw std::runtime_error("an add was refused: " + r.body);
    count -= n;
  }
}

std::optional<simdjson::dom::element> get_json(simdjson::dom::parser& parser, const std::string& address,
                                               const std::string& token, const std::string& target) {
  try {
    auto r = harness::http_call(address, "GET", target, "", {{"Authorization", "Bearer " + token}}, 2s);
    simdjson::dom::element doc;
    if (r.status != 200 || parser.parse(r.body).get(doc)) return std::nullopt;
    return doc;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The index of the node every node names as leader, once they agree.
std::size_t await_leader(const std::vector<std::string>& http, const std::string& token) {
  std::size_t leader = 0;
  const bool agreed = harness::eventually(60s, [&] {
    std::string named;
    std::optional<std::size_t> leading;
    for (std::size_t i = 0; i < http.size(); ++i) {
      simdjson::dom::parser parser;
      auto doc = get_json(parser, http[i], token, "/raft/status");
      std::string_view state, id;
      if (!doc || (*doc)["state"].get(state) || (*doc)["leader_id"].get(id) || id.empty()) return false;
      if (!named.empty() && named != id) return false;
      named = id;
      if (state == "leader") leading = i;
    }
    if (!leading) return false;
    leader = *leading;
    return true;
  });
  if (!agreed) throw std::runtime_error("the nodes did not agree on a leader within 60 s");
  return leader;
}

std::uint64_t fsyncs(const std::string& address, const std::string& token) {
  simdjson::dom::parser parser;
  std::uint64_t n = 0;
  auto doc = get_json(parser, address, token, "/raft/status");
  if (!doc || (*doc)["fsyncs"].get(n)) return 0;
  return n;
}

std::uint64_t items_held(const std::string& address, const std::string& token) {
  simdjson::dom::parser parser;
  std::uint64_t n = 0;
  auto doc = get_json(parser, address, token, "/work/list?limit=1&stale=1");
  if (!doc || (*doc)["total"].get(n)) return 0;
  return n;
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i) fields >> skip;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A single-node cluster (one voter: the node leads itself), with default profiles.
struct single_node {
  harness::node_process node{std::vector<std::string>{"--node-id=n00", "--log-level=warn"}};
  std::string token = node.token();
  single_node() { await_leader({node.http()}, token); }
};

// ---- figures 1 and 2: one worker's cycle ---------------------------------------------------------
// The queue's cycles and the baseline's pairs of writes alternate in chunks on the same node, so
// machine load and slow fsyncs (another process flushing) hit both alike.

struct cycle_times {
  std::vector<double> queue, kv;  // milliseconds per timed cycle
};

// `queue(n, timed)` and `kv(n, timed)` run n cycles each: `warm_up_cycles` untimed, then `cycles`
// timed, alternating every `chunk_cycles`.
template <class Queue, class Kv>
void alternate(std::size_t cycles, Queue queue, Kv kv) {
  queue(warm_up_cycles, false);
  kv(warm_up_cycles, false);
  for (std::size_t done = 0; done < cycles;) {
    const auto n = std::min(chunk_cycles, cycles - done);
    queue(n, true);
    kv(n, true);
    done += n;
  }
}

// Over HTTP: claim (max_items 1, a request_id) then complete, on one kept-alive connection; the
// baseline two POST /raft/kv writes on another.
cycle_times http_cycles(const std::string& address, const std::string& token, const std::string& node_id,
                        std::size_t cycles, const std::string& tag) {
  add_stock(address, token, cycles + warm_up_cycles);
  http_connection queue_conn(address), kv_conn(address);
  cycle_times t;
  std::size_t claims = 0;
  auto queue = [&](std::size_t n, bool timed) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = clock_type::now();
      auto claim = send_and_wait(queue_conn, http_request("POST", address, "/work/claim",
                                                          claim_body(node_id, 1, tag + "-" + std::to_string(claims++)),
                                                          auth_line(token), true));
      auto items = claim.status == 200 ? claimed_items(claim.body) : std::vector<claimed_item>{};
      if (items.size() != 1) throw std::runtime_error("a claim did not hand out one item: " + claim.body);
      auto done = send_and_wait(queue_conn, http_request("POST", address, "/work/complete",
                                                         complete_body(items[0].work_id, items[0].claim_token),
                                                         auth_line(token), true));
      if (done.status != 200 || done.body.find("\"completed\"") == std::string::npos)
        throw std::runtime_error("a completion failed: " + done.body);
      if (timed) t.queue.push_back(ms_since(start));
    }
  };
  auto kv = [&](std::size_t n, bool timed) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = clock_type::now();
      for (const char* key : {"cycle-claim", "cycle-complete"}) {
        auto r = send_and_wait(kv_conn, http_request("POST", address, "/raft/kv", kv_body(key), auth_line(token), true));
        if (r.status != 200) throw std::runtime_error("a kv write failed: " + r.body);
      }
      if (timed) t.kv.push_back(ms_since(start));
    }
  };
  alternate(cycles, queue, kv);
  return t;
}

// The node's CAF settings (as p2p_bench's bench_config), so the handshake and scheduler match.
struct caf_client_config : caf::actor_system_config {
  caf_client_config() {
    load<caf::io::middleman>();
    register_messages(*this);
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads", static_cast<std::size_t>(std::max(2u, std::thread::hardware_concurrency()) - 1));
    set("middleman.app-identifiers",
        std::vector<std::string>{"p2p-orchestrator/" + std::to_string(P2P_WIRE_VERSION)});
  }
};

// What other nodes and the console reach: the node's directory on its cluster port, then the
// domain actor's handle from it.
caf::actor remote_domain(caf::actor_system& sys, const std::string& cluster, const std::string& domain) {
  const auto colon = cluster.rfind(':');
  auto directory = sys.middleman().remote_actor(cluster.substr(0, colon),
                                                static_cast<std::uint16_t>(std::stoi(cluster.substr(colon + 1))));
  if (!directory) throw std::runtime_error("cannot connect to " + cluster + ": " + sys.render(directory.error()));
  caf::scoped_actor self{sys};
  caf::actor handle;
  std::string failure;
  self->request(*directory, 10s, msg::directory_lookup{domain})
      .receive([&](caf::actor& a) { handle = std::move(a); }, [&](caf::error& e) { failure = sys.render(e); });
  if (!handle) throw std::runtime_error("the node's directory has no " + domain + " actor " + failure);
  return handle;
}

struct cycle_driver_state {
  std::vector<double> ms;
  clock_type::time_point started;
  std::size_t index = 0;
  std::function<void()> next;
  bool settled = false;
};

// `count` cycles from an event-based actor (no blocking receive on the path), each two requests
// to `target`: `first(i)`, then `second(its reply)`; `accept` checks the second reply. Returns the
// milliseconds of each cycle. The actor's own state holds the loop, so nothing outlives it.
template <class FirstReply, class SecondReply>
std::vector<double> caf_cycles(caf::actor_system& sys, const caf::actor& target, std::size_t count,
                               std::function<caf::message(std::size_t)> first,
                               std::function<std::optional<caf::message>(FirstReply&, std::string&)> second,
                               std::function<bool(SecondReply&, std::string&)> accept) {
  std::promise<std::vector<double>> done;
  auto result = done.get_future();
  sys.spawn([=, &done](caf::stateful_actor<cycle_driver_state>* self) -> caf::behavior {
    auto fail = [=, &done](const std::string& why) {
      if (!std::exchange(self->state.settled, true)) done.set_exception(std::make_exception_ptr(std::runtime_error(why)));
      self->quit();
    };
    self->state.next = [=, &done] {
      auto& st = self->state;
      if (st.index == count) {
        st.settled = true;
        done.set_value(std::move(st.ms));
        self->quit();
        return;
      }
      const auto i = st.index++;
      st.started = clock_type::now();
      self->request(target, request_timeout, first(i))
          .then(
              [=](FirstReply& r1) {
                std::string why;
                auto follow = second(r1, why);
                if (!follow) return fail(why);
                self->request(target, request_timeout, std::move(*follow))
                    .then(
                        [=](SecondReply& r2) {
                          std::string why2;
                          if (!accept(r2, why2)) return fail(why2);
                          self->state.ms.push_back(ms_since(self->state.started));
                          self->state.next();
                        },
                        [=](caf::error& e) { fail("the second request failed: " + caf::to_string(e)); });
              },
              [=](caf::error& e) { fail("the first request failed: " + caf::to_string(e)); });
    };
    self->state.next();
    return {[](caf::get_atom) {}};
  });
  return result.get();
}

// Over CAF: work_claim_request then work_complete_request to the node's work_queue actor; the
// baseline two raft_kv_put to its raft actor.
cycle_times caf_cycles_alternating(const std::string& cluster, const std::string& node_id, std::size_t cycles,
                                   const std::string& tag) {
  caf_client_config cfg;
  caf::actor_system sys{cfg};
  auto work_queue = remote_domain(sys, cluster, "work_queue");
  auto raft = remote_domain(sys, cluster, "raft");
  cycle_times t;
  std::size_t claims = 0;
  auto queue = [&](std::size_t n, bool timed) {
    auto ms = caf_cycles<msg::work_command_reply, msg::work_command_reply>(
        sys, work_queue, n,
        [&, base = claims](std::size_t i) {
          msg::work_claim_request c;
          c.node_id = node_id;
          c.work_types = {work_type};
          c.max_items = 1;
          c.request_id = tag + "-" + std::to_string(base + i);
          return caf::make_message(std::move(c));
        },
        [](msg::work_command_reply& r, std::string& why) -> std::optional<caf::message> {
          if (r.items.size() != 1 || r.replayed) {
            why = "a claim did not hand out one item: " + r.status;
            return std::nullopt;
          }
          return caf::make_message(msg::work_complete_request{r.items[0].work_id, r.items[0].claim_token, "{}"});
        },
        [](msg::work_command_reply& r, std::string& why) {
          if (r.status == "completed") return true;
          why = "a completion answered " + r.status;
          return false;
        });
    claims += n;
    if (timed) t.queue.insert(t.queue.end(), ms.begin(), ms.end());
  };
  auto kv = [&](std::size_t n, bool timed) {
    auto ms = caf_cycles<msg::raft_kv_reply, msg::raft_kv_reply>(
        sys, raft, n,
        [](std::size_t) { return caf::make_message(msg::raft_kv_put{"cycle-claim", "0123456789abcdef"}); },
        [](msg::raft_kv_reply&, std::string&) -> std::optional<caf::message> {
          return caf::make_message(msg::raft_kv_put{"cycle-complete", "0123456789abcdef"});
        },
        [](msg::raft_kv_reply&, std::string&) { return true; });
    if (timed) t.kv.insert(t.kv.end(), ms.begin(), ms.end());
  };
  alternate(cycles, queue, kv);
  return t;
}

// Per run, one fresh node for the HTTP cycles and one for the CAF cycles, so both see a queue of
// the same size (the leader's lease bookkeeping reads every item held).
std::vector<figure> bench_cycles(const work_settings& s, bool over_http, bool over_caf) {
  figure http_p50{"cycle HTTP claim+complete p50", "ms", false, {}, {{"kv2", {}}}};
  figure http_p99{"cycle HTTP claim+complete p99", "ms", false, {}, {{"kv2", {}}}};
  figure caf_p50{"cycle CAF claim+complete p50", "ms", false, {}, {{"kv2", {}}, {"http", {}}}};
  figure caf_p99{"cycle CAF claim+complete p99", "ms", false, {}, {{"kv2", {}}, {"http", {}}}};
  for (int run = 0; run < s.repeat; ++run) {
    const std::string tag = std::string("r").append(std::to_string(run));
    cycle_times http;  // the CAF figure compares with the HTTP cycle of its run
    {
      await_settled_disk("work");  // every cycle waits for two fsyncs
      single_node n;
      http = http_cycles(n.node.http(), n.token, "n00", s.cycles, tag);
      http_p50.ours.push_back(percentile(http.queue, 0.5));
      http_p99.ours.push_back(percentile(http.queue, 0.99));
      http_p50.baselines[0].second.push_back(percentile(http.kv, 0.5));
      http_p99.baselines[0].second.push_back(percentile(http.kv, 0.99));
    }
    if (over_caf) {
      await_settled_disk("work");
      single_node n;
      add_stock(n.node.http(), n.token, s.cycles + warm_up_cycles);
      auto caf = caf_cycles_alternating(n.node.info().cluster, "n00", s.cycles, tag);
      caf_p50.ours.push_back(percentile(caf.queue, 0.5));
      caf_p99.ours.push_back(percentile(caf.queue, 0.99));
      caf_p50.baselines[0].second.push_back(percentile(caf.kv, 0.5));
      caf_p99.baselines[0].second.push_back(percentile(caf.kv, 0.99));
      caf_p50.baselines[1].second.push_back(percentile(http.queue, 0.5));
      caf_p99.baselines[1].second.push_back(percentile(http.queue, 0.99));
    }
  }
  std::vector<figure> out;
  if (over_http) out.insert(out.end(), {http_p50, http_p99});
  if (over_caf) out.insert(out.end(), {caf_p50, caf_p99});
  return out;
}

// ---- figure 3: sustained completions on three voters ----------------------------------------------

struct window_counts {
  std::size_t completed = 0;  // answered "completed" inside the window
  std::size_t claims = 0, claimed = 0, no_work = 0, adds = 0, failed = 0;
  std::vector<double> add_ms;  // each add's latency
  std::string first_failure;
};

struct worker {
  std::unique_ptr<http_connection> conn;
  std::string address, node_id;
  std::vector<claimed_item> held;
  std::size_t next = 0;  // the next held item to complete
  std::size_t claim_seq = 0;
  bool busy = false, claiming = false, finished = false;
};

void record_failure(window_counts& c, const std::string& what) {
  if (c.failed++ == 0) c.first_failure = what;
}

// `clients` workers, worker i on node i % N: claim up to `batch` items, complete them one by one,
// claim again, until the window closes; then each completes what it holds (not counted). Feeders
// on node 0 add items in batches while fewer than `stock` are (by their count) pending.
window_counts run_workers(const std::vector<std::string>& http, const std::vector<std::string>& node_ids,
                          const std::string& token, std::size_t clients, std::size_t batch, double seconds,
                          std::size_t stock, const std::string& tag) {
  std::vector<worker> workers(clients);
  for (std::size_t i = 0; i < clients; ++i) {
    workers[i].address = http[i % http.size()];
    workers[i].node_id = node_ids[i % node_ids.size()];
    workers[i].conn = std::make_unique<http_connection>(workers[i].address);
  }
  std::vector<std::unique_ptr<http_connection>> feed;
  std::vector<bool> feeding(feeders, false);
  for (std::size_t i = 0; i < feeders; ++i) feed.push_back(std::make_unique<http_connection>(http[0]));
  const auto feed_request = http_request("POST", http[0], "/work/add", add_body(feed_batch), auth_line(token), true);
  // Pending items as the feeders count them: added (or being added) minus handed out.
  auto pending = static_cast<std::int64_t>(stock);
  window_counts c;
  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  std::vector<pollfd> fds;
  std::vector<std::size_t> owner;  // index into workers; clients + i = feeder i
  for (;;) {
    const auto now = clock_type::now();
    const bool open = now < end;
    if (now > end + 60s) throw std::runtime_error("the workers did not finish within 60 s of the window's end");
    bool all_finished = true;
    for (std::size_t i = 0; i < clients; ++i) {
      auto& w = workers[i];
      if (!w.busy && !w.finished) {
        std::string request;
        if (w.next < w.held.size()) {
          w.claiming = false;
          request = http_request("POST", w.address, "/work/complete",
                                 complete_body(w.held[w.next].work_id, w.held[w.next].claim_token), auth_line(token), true);
        } else if (open) {
          w.claiming = true;
          std::string request_id = tag;
          request_id.append("-w").append(std::to_string(i)).append("-").append(std::to_string(w.claim_seq++));
          request = http_request("POST", w.address, "/work/claim", claim_body(w.node_id, batch, request_id),
                                 auth_line(token), true);
        } else {
          w.finished = true;
        }
        if (!request.empty()) {
          if (!w.conn->begin(std::move(request))) throw std::runtime_error("cannot connect to " + w.address);
          w.busy = true;
        }
      }
      all_finished = all_finished && w.finished;
    }
    for (std::size_t f = 0; f < feeders && open; ++f)
      if (!feeding[f] && pending < static_cast<std::int64_t>(stock)) {
        if (!feed[f]->begin(feed_request)) throw std::runtime_error("cannot connect to " + http[0]);
        feeding[f] = true;
        pending += static_cast<std::int64_t>(feed_batch);
      }
    const bool any_feeding = std::find(feeding.begin(), feeding.end(), true) != feeding.end();
    if (all_finished && !any_feeding) break;
    fds.clear();
    owner.clear();
    for (std::size_t i = 0; i < clients; ++i)
      if (workers[i].busy) {
        fds.push_back({workers[i].conn->fd(), workers[i].conn->wanted(), 0});
        owner.push_back(i);
      }
    for (std::size_t f = 0; f < feeders; ++f)
      if (feeding[f]) {
        fds.push_back({feed[f]->fd(), feed[f]->wanted(), 0});
        owner.push_back(clients + f);
      }
    if (::poll(fds.data(), fds.size(), 5) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    const auto answered = clock_type::now();
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      if (owner[k] >= clients) {
        auto& conn = *feed[owner[k] - clients];
        const int status = conn.advance(fds[k].revents);
        if (status == 0) continue;
        feeding[owner[k] - clients] = false;
        c.add_ms.push_back(std::chrono::duration<double, std::milli>(answered - conn.started()).count());
        if (status == 201) {
          ++c.adds;
        } else {
          pending -= static_cast<std::int64_t>(feed_batch);
          record_failure(c, "an add answered " + std::to_string(status) + ": " + std::string(conn.body()));
        }
        continue;
      }
      auto& w = workers[owner[k]];
      const int status = w.conn->advance(fds[k].revents);
      if (status == 0) continue;
      w.busy = false;
      if (status < 0) {
        record_failure(c, "the connection to " + w.address + " failed");
        continue;
      }
      if (w.claiming) {
        if (status != 200) {
          record_failure(c, "a claim answered " + std::to_string(status) + ": " + std::string(w.conn->body()));
          continue;
        }
        w.held = claimed_items(w.conn->body());
        w.next = 0;
        ++c.claims;
        c.claimed += w.held.size();
        pending -= static_cast<std::int64_t>(w.held.size());
        if (w.held.empty()) ++c.no_work;
      } else {
        ++w.next;
        if (status == 200 && w.conn->body().find("\"completed\"") != std::string_view::npos) {
          if (answered < end) ++c.completed;
        } else {
          record_failure(c, "a completion answered " + std::to_string(status) + ": " + std::string(w.conn->body()));
        }
      }
    }
  }
  return c;
}

// The baseline: `clients` closed-loop writers of POST /raft/kv, client i on node i % N, each on
// its own key; writes answered within the window per second.
double kv_rate(const std::vector<std::string>& http, const std::string& token, std::size_t clients, double seconds) {
  std::vector<std::unique_ptr<http_connection>> conns;
  std::vector<std::string> requests;
  for (std::size_t i = 0; i < clients; ++i) {
    const auto& address = http[i % http.size()];
    conns.push_back(std::make_unique<http_connection>(address));
    requests.push_back(http_request("POST", address, "/raft/kv", kv_body("kv-" + std::to_string(i)), auth_line(token), true));
  }
  std::size_t ok = 0, failed = 0;
  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  for (std::size_t i = 0; i < clients; ++i)
    if (!conns[i]->begin(requests[i])) throw std::runtime_error("cannot connect for a kv write");
  std::vector<pollfd> fds(clients);
  while (clock_type::now() < end) {
    for (std::size_t i = 0; i < clients; ++i) fds[i] = {conns[i]->fd(), conns[i]->wanted(), 0};
    if (::poll(fds.data(), fds.size(), 5) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    const bool inside = clock_type::now() < end;
    for (std::size_t i = 0; i < clients; ++i) {
      if (!fds[i].revents) continue;
      const int status = conns[i]->advance(fds[i].revents);
      if (status == 0) continue;
      if (status == 200) ok += inside;
      else ++failed;
      if (!conns[i]->begin(requests[i])) throw std::runtime_error("cannot reconnect for a kv write");
    }
  }
  if (failed > 0) note(std::to_string(failed) + " kv writes failed");
  return static_cast<double>(ok) / seconds;
}

// Figure 3: for every (clients, batch) a fresh three-voter cluster (the queue starts empty, so
// the settings compare alike), the kv baseline, then the workers.
// The (clients, batch) settings the cluster figure runs: the items the workers hold stay within
// half the node's limit of unfinished items, so the stock beside them keeps every claim fed.
std::vector<std::pair<std::size_t, std::size_t>> cluster_settings(const work_settings& s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (auto c : s.clients)
    for (auto b : s.batches)
      if (c * b <= max_active_items / 2) out.emplace_back(c, b);
  return out;
}

std::vector<figure> bench_cluster(const work_settings& s) {
  std::vector<figure> out;
  const auto settings = cluster_settings(s);
  for (auto c : s.clients)
    for (auto b : s.batches)
      if (c * b > max_active_items / 2)
        note("skipped c=" + std::to_string(c) + " batch=" + std::to_string(b) + ": the workers would hold " +
             std::to_string(c * b) + " items, more than half the node's limit of " + std::to_string(max_active_items) +
             " unfinished items, leaving too small a stock to keep them fed");
  for (auto [c, b] : settings)
    out.push_back({"3 voters items/s c=" + std::to_string(c) + " batch=" + std::to_string(b), "item/s", true, {},
                   {{"goal", {}}, {"kv", {}}}});
  for (int run = 0; run < s.repeat; ++run) {
    std::size_t index = 0;
    for (auto [clients, batch] : settings) {
      // Pending (and being added) plus claimed items stay under the node's limit.
      const auto room = max_active_items - clients * batch - (feeders + 1) * feed_batch;
      const auto stock = std::min(s.stock, room);
      harness::joined_cluster cluster(3, {"--voters=n00,n01,n02", "--log-level=warn"});
      std::vector<std::string> http, ids;
      for (std::size_t i = 0; i < cluster.size(); ++i) {
        http.push_back(cluster[i].http());
        ids.push_back(harness::joined_cluster::id(i));
      }
      const auto leader = await_leader(http, cluster.token());
      const double kv = kv_rate(http, cluster.token(), clients, s.seconds);
      add_stock(http[0], cluster.token(), stock);
      std::vector<double> cpu_before;
      for (std::size_t i = 0; i < cluster.size(); ++i) cpu_before.push_back(cpu_seconds(cluster[i].process().pid()));
      const double self_before = cpu_seconds(::getpid());
      const auto fsyncs_before = fsyncs(http[leader], cluster.token());
      const auto started = clock_type::now();
      auto counts = run_workers(http, ids, cluster.token(), clients, batch, s.seconds, stock,
                                std::string("r").append(std::to_string(run)));
      const double elapsed = ms_since(started) / 1000;  // the window plus the drain
      const double rate = static_cast<double>(counts.completed) / s.seconds;
      out[index].ours.push_back(rate);
      out[index].baselines[0].second.push_back(goal_items_per_s);
      out[index].baselines[1].second.push_back(kv);
      ++index;
      // Where the time went (the window and its drain): CPU per process, fsyncs on the leader.
      std::string cpu;
      for (std::size_t i = 0; i < cluster.size(); ++i)
        cpu.append(i == leader ? " leader " : " follower ")
            .append(fixed(100 * (cpu_seconds(cluster[i].process().pid()) - cpu_before[i]) / elapsed))
            .append("%");
      note("3 voters c=" + std::to_string(clients) + " batch=" + std::to_string(batch) + " run " +
           std::to_string(run + 1) + ": " + fixed(rate) + " items/s (kv " + fixed(kv) + " writes/s); claims " +
           std::to_string(counts.claims) + " (" + fixed(counts.claims ? double(counts.claimed) / double(counts.claims) : 0, 1) +
           " items each, " + std::to_string(counts.no_work) + " no_work), adds " + std::to_string(counts.adds) +
           " (p50 " + fixed(percentile(counts.add_ms, 0.5)) + " ms)" +
           "; CPU over " + fixed(elapsed, 1) + " s:" + cpu + ", client " +
           fixed(100 * (cpu_seconds(::getpid()) - self_before) / elapsed) + "%; leader fsyncs " +
           fixed(double(fsyncs(http[leader], cluster.token()) - fsyncs_before) / elapsed) + "/s; items held " +
           std::to_string(items_held(http[leader], cluster.token())));
      if (counts.failed > 0)
        note(std::to_string(counts.failed) + " requests failed; the first: " + counts.first_failure);
    }
  }
  return out;
}

// ---- figure 4: the worker API against aiohttp ------------------------------------------------------

struct wrk_figures {
  double rps = 0, p99_ms = 0;
  std::string out;  // everything wrk printed
};

// `wrk -t1 -cC --latency -s SCRIPT http://ADDRESS/TARGET`; the script reads P2P_TOKEN (and the
// cycle script WORK_NODE_ID, WORK_RUN, WORK_TYPE) from the environment.
wrk_figures run_wrk(const std::string& address, const std::string& target, const std::string& script,
                    std::size_t connections, double seconds) {
  const int whole_seconds = std::max(1, static_cast<int>(seconds));
  harness::child_process wrk("/usr/bin/wrk",
                             {"-t1", "-c" + std::to_string(connections), "-d" + std::to_string(whole_seconds) + "s",
                              "--latency", "-s", std::string(P2P_SOURCE_DIR) + "/bench/reference/" + script,
                              "http://" + address + target});
  if (wrk.wait_exit(std::chrono::seconds(whole_seconds + 60)).value_or(-1) != 0)
    throw std::runtime_error("wrk failed: " + wrk.err());
  wrk_figures f;
  f.out = wrk.out();
  if (f.out.find("Non-2xx") != std::string::npos)
    throw std::runtime_error("wrk saw error responses from " + address + ":\n" + f.out);
  std::smatch m;
  if (!std::regex_search(f.out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    throw std::runtime_error("no rate in: " + f.out);
  f.rps = std::stod(m[1]);
  if (std::regex_search(f.out, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) {
    const double v = std::stod(m[1]);
    f.p99_ms = m[2] == "us" ? v / 1000 : m[2] == "s" ? v * 1000 : v;
  }
  return f;
}

// Claim -> complete cycles from reference/work-cycle.lua; checks what the script counted.
wrk_figures run_wrk_cycles(const std::string& address, const std::string& token, const std::string& node_id,
                           std::size_t connections, double seconds, const std::string& tag, const std::string& who) {
  ::setenv("P2P_TOKEN", token.c_str(), 1);
  ::setenv("WORK_NODE_ID", node_id.c_str(), 1);
  ::setenv("WORK_RUN", tag.c_str(), 1);
  ::setenv("WORK_TYPE", work_type, 1);
  auto f = run_wrk(address, "/work/claim", "work-cycle.lua", connections, seconds);
  std::smatch m;
  if (!std::regex_search(f.out, m,
                         std::regex(R"(work-cycle: claims=(\d+) completes=(\d+) adds=\d+ no_work=(\d+) replayed=(\d+) errors=(\d+))")))
    throw std::runtime_error("no counts from the script in: " + f.out);
  const auto claims = std::stoul(m[1]), no_work = std::stoul(m[3]);
  if (std::stoul(m[4]) > 0 || std::stoul(m[5]) > 0)
    throw std::runtime_error("error or replayed answers from " + who + ":\n" + f.out);
  // A claim that finds nothing is cheaper than one that hands out an item: too many would flatter.
  if (no_work * 100 > claims)
    note(who + ": " + std::to_string(no_work) + " of " + std::to_string(claims) + " claims found no work");
  return f;
}

// The aiohttp reference, on an OS-chosen port.
struct aiohttp_work_server {
  harness::child_process process;
  std::string address;
  explicit aiohttp_work_server(const std::string& token)
      : process("/usr/bin/python3", {std::string(P2P_SOURCE_DIR) + "/bench/reference/aiohttp_work_server.py", "--port",
                                     "0", "--token", token}) {
    auto line = process.wait_for_stdout("\"port\"", 30s);
    simdjson::dom::parser parser;
    std::int64_t port = 0;
    if (!line || parser.parse(*line)["port"].get(port))
      throw std::runtime_error("aiohttp_work_server.py did not start: " + process.err());
    address = "127.0.0.1:" + std::to_string(port);
  }
  ~aiohttp_work_server() {
    process.signal(SIGTERM);
    process.wait_exit(10s);
  }
};

std::vector<figure> bench_aiohttp(const work_settings& s) {
  const std::string c = std::to_string(s.connections);
  figure rate{"worker API claim+complete c=" + c + " rate", "req/s", true, {}, {{"aiohttp", {}}, {"kv", {}}}};
  figure p99{"worker API claim+complete c=" + c + " p99", "ms", false, {}, {{"aiohttp", {}}, {"kv", {}}}};
  // The stock stays level during a run (the script adds 100 items per 100 completions).
  const std::size_t stock = std::min<std::size_t>(s.stock, max_active_items / 2);
  const std::string token = "work-bench-token";
  for (int run = 0; run < s.repeat; ++run) {  // fresh servers each run: both queues start alike
    const std::string tag = std::string("wrk").append(std::to_string(run));
    wrk_figures ours, kv, theirs;
    {
      single_node n;
      add_stock(n.node.http(), n.token, stock);
      ours = run_wrk_cycles(n.node.http(), n.token, "n00", s.connections, s.seconds, tag, "p2p-node");
      note("worker API run " + std::to_string(run + 1) + ": the node held " +
           std::to_string(items_held(n.node.http(), n.token)) + " items at the end");
      // The same node's Raft commit path through the same front: one write per request.
      kv = run_wrk(n.node.http(), "/raft/kv", "post-raft-kv.lua", s.connections, s.seconds);
    }
    {
      aiohttp_work_server reference(token);
      add_stock(reference.address, token, stock);
      theirs = run_wrk_cycles(reference.address, token, "n00", s.connections, s.seconds, tag, "aiohttp");
    }
    rate.ours.push_back(ours.rps);
    p99.ours.push_back(ours.p99_ms);
    rate.baselines[0].second.push_back(theirs.rps);
    p99.baselines[0].second.push_back(theirs.p99_ms);
    rate.baselines[1].second.push_back(kv.rps);
    p99.baselines[1].second.push_back(kv.p99_ms);
  }
  return {rate, p99};
}

// ---- options --------------------------------------------------------------------------------------

std::vector<std::size_t> parse_list(const std::string& text, const char* name) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    std::size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || v == 0) throw po::error(std::string("--") + name + " takes positive integers, comma-separated");
    out.push_back(v);
  }
  if (out.empty()) throw po::error(std::string("--") + name + " is empty");
  return out;
}

}  // namespace

int run_work_bench(int argc, char** argv) {
  work_settings s;
  std::string clients, batches, only;
  po::options_description desc("work options");
  desc.add_options()("help,h", "this help")
      ("json", po::bool_switch(&s.json), "one JSON object per line per result")
      ("quick", po::bool_switch(&s.quick), "every figure at a small size (under a minute)")
      ("repeat", po::value(&s.repeat), "runs per figure (3; quick 1)")
      ("cycles", po::value(&s.cycles), "timed claim+complete cycles per run, HTTP and CAF (1000; quick 200)")
      ("seconds", po::value(&s.seconds), "seconds per load window (3; quick 1)")
      ("clients", po::value(&clients), "worker clients on three voters, a list (6,24,96,192; quick 24)")
      ("batch", po::value(&batches), "max_items per claim on three voters, a list (1,8,32; quick 8)")
      ("connections", po::value(&s.connections), "wrk connections against the node and aiohttp (32; quick 16)")
      ("stock", po::value(&s.stock), "pending items kept ahead of the workers (4000; quick 2000)")
      ("only", po::value(&only), "figures to run, a list of: http, caf, cluster, aiohttp (all)");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    if (s.quick) {
      if (!vm.count("repeat")) s.repeat = 1;
      if (!vm.count("cycles")) s.cycles = 200;
      if (!vm.count("seconds")) s.seconds = 1;
      if (!vm.count("clients")) s.clients = {24};
      if (!vm.count("batch")) s.batches = {8};
      if (!vm.count("connections")) s.connections = 16;
      if (!vm.count("stock")) s.stock = 2000;
    }
    if (!clients.empty()) s.clients = parse_list(clients, "clients");
    if (!batches.empty()) s.batches = parse_list(batches, "batch");
    std::stringstream names(only);
    for (std::string name; std::getline(names, name, ',');) {
      if (name != "http" && name != "caf" && name != "cluster" && name != "aiohttp")
        throw po::error("--only takes http, caf, cluster, aiohttp");
      s.only.insert(name);
    }
    for (auto b : s.batches)
      if (b > 100) throw po::error("--batch is at most 100 (the node's max_items)");
    if (s.wants("cluster") && cluster_settings(s).empty())
      throw po::error("every --clients x --batch exceeds " + std::to_string(max_active_items / 2) +
                      ", half the node's limit of unfinished items");
    if (s.repeat < 1 || s.cycles < 1 || s.seconds <= 0 || s.connections < 1 || s.stock < 100)
      throw po::error("--repeat, --cycles, --seconds and --connections must be positive, --stock at least 100");
  } catch (const po::error& e) {
    std::cerr << "p2p-bench work: " << e.what() << "\n" << desc;
    return 2;
  }
  try {
    print_header(s);
    const bool http = s.wants("http"), caf = s.wants("caf");
    if (http || caf)
      for (const auto& f : bench_cycles(s, http, caf)) emit(f, s);
    if (s.wants("cluster"))
      for (const auto& f : bench_cluster(s)) emit(f, s);
    if (s.wants("aiohttp"))
      for (const auto& f : bench_aiohttp(s)) emit(f, s);
  } catch (const std::exception& e) {
    std::cerr << "p2p-bench work: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace p2p::bench
