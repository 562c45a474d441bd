#pragma once
// A deterministic simulator for the Raft core (protocol/raft): several cores on a virtual network
// with seeded delay, loss, duplication and reordering; partitions that heal; crashes, and restarts
// from what each node persisted; membership changes; log compaction and InstallSnapshot; and
// clients whose histories are checked for linearizability against a key-value model.
//
// Raft's safety properties (thesis figure 3.2) are checked after every input a core handles:
// election safety, leader append-only, log matching, leader completeness and state-machine
// safety, plus the caller's contract (persist before send; the disk mirrors the in-memory log).
// After its faults a schedule heals the network, restarts every node and requires the members to
// converge on one committed log (liveness). Time jumps to the next event (a delivery, a core's
// deadline, a client or a fault), so a schedule of seconds costs milliseconds. Every schedule is
// a function of its seed alone.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/raft/raft.hpp"
#include "tests/sim/linearizability.hpp"
#include "tests/sim/sim_env.hpp"

namespace p2p::raft_sim {

using raft::index_t;
using raft::node_id;
using raft::term_t;
using raft::time_ms;

// ---- environment: SIM_SCHEDULES scales the number of schedules, SIM_SEED replays one ------------

using sim::schedule_count;
using sim::seeds_to_run;

// Test-only switches that break a rule on purpose, to show the checks catch it. They live in
// the simulated server and disk, never in the core.
enum class fault_switch {
  none,
  // A node that believes it leads answers reads from its own state, without read-index.
  stale_reads,
  // The disk acknowledges writes before they are durable: a crash loses what was written in the
  // last `unsynced_window` ms (entries and the term and vote), so acknowledged entries and
  // granted votes are forgotten.
  unsynced_writes,
};
inline std::string_view fault_name(fault_switch f) {
  switch (f) {
    case fault_switch::none: return "none";
    case fault_switch::stale_reads: return "stale_reads";
    case fault_switch::unsynced_writes: return "unsynced_writes";
  }
  return "none";
}
// SIM_FAULT=stale_reads|unsynced_writes replays a schedule with a switch on.
inline fault_switch fault_from_env() {
  const char* env = std::getenv("SIM_FAULT");
  if (!env) return fault_switch::none;
  const std::string_view name(env);
  if (name == "stale_reads") return fault_switch::stale_reads;
  if (name == "unsynced_writes") return fault_switch::unsynced_writes;
  return fault_switch::none;
}

// SIM_VERBOSE=1 narrates a replayed schedule (faults, crashes, leaders, client operations) on
// stderr; SIM_VERBOSE=2 adds every message delivered.
inline int verbosity() {
  const char* env = std::getenv("SIM_VERBOSE");
  return env ? std::atoi(env) : 0;
}

inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Text from pieces (streams rather than operator+, which GCC 12 -O3 warns about falsely).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream o;
  (o << ... << parts);
  return o.str();
}

inline std::string numbered(const char* prefix, std::uint64_t i) {
  std::string s(prefix);  // append: GCC 12 -O3 warns falsely on operator+ (-Wrestrict)
  s.append(std::to_string(i));
  return s;
}

// ---- what a schedule draws from its seed --------------------------------------------------------

enum class fault_kind {
  kill_leader,         // crash the leader; it restarts from its disk later
  crash,               // crash any node
  partition_minority,  // cut a minority off (it may hold the leader)
  isolate_leader,
  partition_no_quorum,  // split so that no side has a majority
  heal,
  slow_node,         // every message to or from a node is late for a while
  lossy_burst,       // a period of heavy loss and duplication
  membership,        // add, add a non-voter, promote or remove, through the leader
  transfer,          // hand leadership to another voter
};
inline constexpr int fault_kinds = 10;
inline std::string_view fault_kind_name(fault_kind k) {
  static constexpr std::string_view names[fault_kinds] = {
      "kill_leader", "crash", "partition_minority", "isolate_leader", "partition_no_quorum",
      "heal", "slow_node", "lossy_burst", "membership", "transfer"};
  return names[static_cast<int>(k)];
}

struct schedule {
  std::uint64_t seed = 0;
  int voters = 3;        // the bootstrap voters
  bool spare = false;    // one more node, outside the cluster, for membership changes
  double drop = 0;       // per message
  double duplicate = 0;  // per message
  time_ms max_delay = 1;  // a message takes [1, max_delay] ms...
  double late = 0;        // ...or, this often, up to 60 ms more (reordering)
  index_t compact_every = 0;  // applied entries between snapshots; 0: no compaction
  // A leader sends its appends before its own write ends (as the node does); this often it
  // crashes in between, losing the batch it was writing.
  double crash_mid_write = 0;
  // The "test" timing, with smaller batches and windows in some schedules: more interleavings
  // of old-term entries and acknowledgements.
  std::size_t batch_entries = 16, inflight = 8;
  int weights[fault_kinds] = {};
  time_ms fault_gap_min = 30, fault_gap_max = 200;
  time_ms down_min = 10, down_max = 400;  // how long a crashed node stays down
  int clients = 3;
  time_ms think = 10;  // a client waits up to this long between operations
  int keys = 3;
  int ops = 600;            // client operations to invoke
  time_ms active = 20'000;  // faults and new operations stop after this long
  time_ms op_timeout = 150;  // a client gives up on an operation after this long

  static schedule draw(std::uint64_t seed) {
    std::mt19937_64 rng(seed ^ 0x5ca1ab1eULL);
    auto pick = [&](std::initializer_list<double> xs) { return *(xs.begin() + static_cast<long>(rng() % xs.size())); };
    auto between = [&](int lo, int hi) {
      return lo + static_cast<int>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
    };
    schedule s;
    s.seed = seed;
    s.voters = rng() % 2 ? 5 : 3;
    s.spare = rng() % 3 != 0;
    s.drop = pick({0.0, 0.0, 0.01, 0.05, 0.15});
    s.duplicate = pick({0.0, 0.01, 0.05});
    s.max_delay = static_cast<time_ms>(pick({1, 2, 5, 10, 20}));
    s.late = pick({0.0, 0.02, 0.1});
    s.compact_every = static_cast<index_t>(pick({0, 0, 10, 25, 50}));
    s.batch_entries = static_cast<std::size_t>(pick({16, 16, 4, 1}));
    s.inflight = static_cast<std::size_t>(pick({8, 8, 2, 1}));
    for (auto& w : s.weights) w = rng() % 4 == 0 ? 0 : between(1, 4);
    s.weights[static_cast<int>(fault_kind::heal)] = between(1, 3);  // partitions also heal by themselves
    if (!s.spare && rng() % 2) s.weights[static_cast<int>(fault_kind::membership)] = 0;
    s.fault_gap_min = between(10, 60);
    s.fault_gap_max = s.fault_gap_min + between(30, 300);
    s.down_max = between(50, 600);
    s.clients = between(2, 6);
    s.think = between(0, 20);
    s.keys = between(1, 4);
    s.ops = between(300, 1500);
    s.op_timeout = between(60, 300);
    s.crash_mid_write = pick({0.0, 0.0, 0.002, 0.01});
    return s;
  }

  std::string describe() const {
    std::ostringstream o;
    o << voters << " voters" << (spare ? " + spare" : "") << ", drop " << drop << ", dup " << duplicate
      << ", delay 1.." << max_delay << " ms (late " << late << "), batches of " << batch_entries << " x "
      << inflight << ", compact every " << compact_every
      << ", " << clients << " clients on " << keys << " keys, " << ops << " ops; faults";
    for (int k = 0; k < fault_kinds; ++k)
      if (weights[k]) o << " " << fault_kind_name(static_cast<fault_kind>(k)) << "x" << weights[k];
    o << " every " << fault_gap_min << ".." << fault_gap_max << " ms";
    return o.str();
  }
};

// ---- storage and state machine ------------------------------------------------------------------

// What a node's disk holds, updated from persist batches in the documented order.
struct disk {
  raft::hard_state state;
  raft::snapshot snap;               // index 0: none
  std::vector<raft::entry> entries;  // right after snap
  // When each entry and state was written: what the unsynced_writes switch loses in a crash.
  std::vector<time_ms> written;
  std::vector<std::pair<time_ms, raft::hard_state>> state_history;

  // The fsync lie: everything written after `cutoff` is gone (the snapshot file survives).
  void lose_writes_after(time_ms cutoff) {
    std::size_t keep = 0;
    while (keep < written.size() && written[keep] <= cutoff) ++keep;
    entries.resize(keep);
    written.resize(keep);
    raft::hard_state survived;
    for (const auto& [at, s] : state_history)
      if (at <= cutoff) survived = s;
    if (survived.term < snap.term) survived = {snap.term, {}, snap.index};
    state = survived;
    state_history.clear();
    state_history.emplace_back(cutoff, state);
  }

  index_t last_index() const { return entries.empty() ? snap.index : entries.back().index; }
  term_t last_term() const { return entries.empty() ? snap.term : entries.back().term; }
  // 0 for an index neither held nor the snapshot's.
  term_t term_at(index_t i) const {
    if (i == snap.index) return snap.term;
    if (i <= snap.index || i > last_index()) return 0;
    return entries[i - snap.index - 1].term;
  }
};

// The replicated key-value store. Commands: "P|key|value" (put), "A|key|value" (append).
struct kv_store {
  std::map<std::string, std::string> data;
  index_t applied = 0;

  static std::string put(const std::string& key, const std::string& value) {
    std::string c("P|");
    return c.append(key).append("|").append(value);
  }
  static std::string append(const std::string& key, const std::string& value) {
    std::string c("A|");
    return c.append(key).append("|").append(value);
  }
  void apply(const raft::entry& e) {
    applied = e.index;
    if (e.type != raft::entry_type::normal || e.data.size() < 2) return;
    const auto bar = e.data.find('|', 2);
    if (bar == std::string::npos) return;
    const std::string key = e.data.substr(2, bar - 2);
    const std::string value = e.data.substr(bar + 1);
    if (e.data[0] == 'P') {
      data[key] = value;
    } else if (e.data[0] == 'A') {
      auto& v = data[key];
      if (!v.empty()) v.push_back(',');
      v.append(value);
    }
  }
  std::string get(const std::string& key) const {
    auto it = data.find(key);
    return it == data.end() ? std::string() : it->second;
  }
  // Keys and values never hold '=' or '\n'.
  std::string encode() const {
    std::string out;
    for (const auto& [k, v] : data) out.append(k).append("=").append(v).append("\n");
    return out;
  }
  static std::map<std::string, std::string> decode(std::string_view bytes) {
    std::map<std::string, std::string> out;
    while (!bytes.empty()) {
      auto nl = bytes.find('\n');
      auto line = bytes.substr(0, nl);
      auto eq = line.find('=');
      if (eq != std::string_view::npos) out[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
      if (nl == std::string_view::npos) break;
      bytes.remove_prefix(nl + 1);
    }
    return out;
  }
};

// ---- results ------------------------------------------------------------------------------------

struct stats {
  std::uint64_t schedules = 0, steps = 0, delivered = 0, dropped = 0, duplicated = 0;
  std::uint64_t faults[fault_kinds] = {};
  std::uint64_t crashes = 0, restarts = 0, leaders = 0, changes_committed = 0, transfers = 0;
  std::uint64_t mid_write_crashes = 0;
  std::uint64_t compactions = 0, snapshot_messages = 0, restores = 0;
  std::uint64_t ops_ok = 0, ops_unknown = 0, ops_failed = 0, reads_ok = 0;
  std::uint64_t checker_steps = 0, checker_gave_up = 0;
  time_ms virtual_ms = 0;

  void add(const stats& o) {
    for (auto [mine, theirs] :
         {std::pair{&schedules, o.schedules}, {&steps, o.steps}, {&delivered, o.delivered}, {&dropped, o.dropped},
          {&duplicated, o.duplicated}, {&crashes, o.crashes}, {&mid_write_crashes, o.mid_write_crashes}, {&restarts, o.restarts}, {&leaders, o.leaders},
          {&changes_committed, o.changes_committed}, {&transfers, o.transfers}, {&compactions, o.compactions},
          {&snapshot_messages, o.snapshot_messages}, {&restores, o.restores}, {&ops_ok, o.ops_ok},
          {&ops_unknown, o.ops_unknown}, {&ops_failed, o.ops_failed}, {&reads_ok, o.reads_ok},
          {&checker_steps, o.checker_steps}, {&checker_gave_up, o.checker_gave_up}})
      *mine += theirs;
    for (int k = 0; k < fault_kinds; ++k) faults[k] += o.faults[k];
    virtual_ms += o.virtual_ms;
  }
  std::string describe() const {
    std::ostringstream o;
    o << schedules << " schedules, " << virtual_ms / 1000 << " s virtual, " << steps << " core steps, "
      << delivered << " messages delivered (" << dropped << " dropped, " << duplicated << " duplicated); "
      << leaders << " leaders elected, " << crashes << " crashes (" << mid_write_crashes
      << " of a leader between sending and writing), " << restarts << " restarts, "
      << changes_committed << " membership changes committed, " << transfers << " transfers, "
      << compactions << " compactions, " << snapshot_messages << " snapshot chunks, " << restores
      << " snapshot restores; ops: " << ops_ok << " ok (" << reads_ok << " reads), " << ops_unknown
      << " unknown, " << ops_failed << " failed; checker " << checker_steps << " steps, "
      << checker_gave_up << " gave up; faults:";
    for (int k = 0; k < fault_kinds; ++k) o << " " << fault_kind_name(static_cast<fault_kind>(k)) << " " << faults[k];
    return o.str();
  }
};

struct outcome {
  bool safe = true;            // every invariant held
  std::string violation;       // the first that did not, with where and when
  bool live = true;            // the healed cluster converged
  lin::result linearizability; // of the clients' history
  stats counted;
  std::uint64_t trace = 0;     // a digest of every delivery and fault, to show runs repeat exactly
  std::string description;     // the schedule's parameters
  bool ok() const { return safe && live && !linearizability.violated(); }
  std::string failure() const {
    if (!safe) return cat("safety: ", violation);
    if (!live) return cat("liveness: ", violation);
    if (linearizability.violated()) return cat("linearizability: ", linearizability.explanation);
    return {};
  }
};

// ---- the cluster ----------------------------------------------------------------------------

class raft_cluster {
 public:
  explicit raft_cluster(const schedule& s, fault_switch fault = fault_switch::none)
      : sched_(s), fault_(fault), timing_(*raft::timing_named("test")),
        net_rng_(s.seed * 3 + 1), fault_rng_(s.seed * 5 + 2), client_rng_(s.seed * 7 + 3) {
    timing_.max_batch_entries = s.batch_entries;
    timing_.max_inflight = s.inflight;
    const int total = s.voters + (s.spare ? 1 : 0);
    side_.assign(static_cast<std::size_t>(total), 0);
    for (int i = 0; i < total; ++i) {
      node n;
      n.id = numbered("r", static_cast<std::uint64_t>(i));
      index_of_[n.id] = nodes_.size();
      nodes_.push_back(std::move(n));
    }
    for (int i = 0; i < s.voters; ++i) bootstrap_.push_back(nodes_[static_cast<std::size_t>(i)].id);
    for (std::size_t i = 0; i < nodes_.size(); ++i) start(i);
    for (int c = 0; c < s.clients; ++c) {
      client cl;
      cl.id = c;
      cl.next_at = static_cast<time_ms>(client_rng_() % 50);
      clients_.push_back(cl);
    }
    next_fault_at_ = draw(fault_rng_, s.fault_gap_min, s.fault_gap_max) + 100;  // a first leader
  }

  // The whole schedule: faults and clients, then heal everything and let the cluster settle,
  // then check the history.
  outcome run() {
    out_.description = sched_.describe();
    out_.counted.schedules = 1;
    run_until(sched_.active, [&] { return issued_ >= sched_.ops && all_clients_idle(); });
    settle();
    finish_history();
    if (out_.safe) {
      out_.linearizability = lin::check_kv(history_);
      out_.counted.checker_steps = out_.linearizability.explored;
      out_.counted.checker_gave_up = out_.linearizability.outcome == lin::verdict::gave_up;
    }
    out_.counted.virtual_ms = now_;
    return out_;
  }

 private:
  struct node {
    node_id id;
    std::unique_ptr<raft::core> core;  // null while crashed
    disk d;
    kv_store kv;
    std::uint64_t incarnation = 0;
    time_ms restart_at = -1;  // while crashed
    time_ms last_tick = -1;
    time_ms slow_until = 0, slow_extra = 0;
    std::uint64_t inputs = 0;  // for the periodic full disk comparison
    bool crash_pending = false;  // crashed between sending and writing: taken down after the input
    bool up() const { return core != nullptr; }
  };

  struct in_flight {
    time_ms at;
    std::uint64_t order;  // ties broken by send order: deterministic
    raft::message msg;
    bool operator>(const in_flight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  enum class op_status { pending, ok, unknown, failed };
  struct client {
    int id = 0;
    time_ms next_at = 0;
    int guess = -1;  // the node it believes leads
    std::uint64_t seq = 0;
    // The operation in flight: where it went and how its result will be recognized.
    std::optional<std::size_t> op;
    std::size_t node_index = 0;
    std::uint64_t incarnation = 0;
    index_t log_index = 0;  // writes: where the command was proposed
    std::string command;
    std::uint64_t read_id = 0;
    std::optional<index_t> read_at;  // reads: confirmed at this index
    time_ms deadline = 0;
  };

  template <class... Parts>
  void narrate(int level, const Parts&... parts) const {
    if (verbose_ >= level) std::cerr << now_ << " ms: " << cat(parts...) << "\n";
  }
  static std::string_view type_name(raft::msg_type t) {
    static constexpr std::string_view names[] = {"pre_vote", "pre_vote_reply", "vote", "vote_reply", "append",
                                                  "append_reply", "timeout_now", "snapshot", "snapshot_reply"};
    return names[static_cast<int>(t)];
  }

  // ---- the event loop ----

  template <class Stop>
  void run_until(time_ms until, Stop stop) {
    while (out_.safe && out_.live && !stop()) {
      if (queue_.size() > max_in_flight) {
        // Only a broken rule has caused this so far (a follower that forgot entries it had
        // acknowledged, answered by the leader again and again): stop rather than run out of memory.
        out_.live = false;
        out_.violation = cat("at ", now_, " ms: a message storm, ", queue_.size(), " messages in flight");
        return;
      }
      const time_ms t = next_event();
      if (t > until) {
        now_ = std::max(now_, until);
        return;
      }
      now_ = std::max(now_, t);
      for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (!nodes_[i].up() && nodes_[i].restart_at >= 0 && nodes_[i].restart_at <= now_) restart(i);
      while (out_.safe && !queue_.empty() && queue_.front().at <= now_) deliver_next();
      for (std::size_t i = 0; i < nodes_.size() && out_.safe; ++i) {
        auto& n = nodes_[i];
        if (n.up() && n.last_tick < now_ && n.core->next_deadline() <= now_) {
          n.last_tick = now_;
          input(i, [&](raft::core& c) { c.tick(now_); });
        }
      }
      if (partition_heal_at_ >= 0 && partition_heal_at_ <= now_) heal();
      if (lossy_until_ >= 0 && lossy_until_ <= now_) lossy_until_ = -1;
      for (auto& c : clients_)
        if (out_.safe) client_step(c);
      if (faults_on_ && next_fault_at_ <= now_ && out_.safe) {
        inject_fault();
        next_fault_at_ = now_ + draw(fault_rng_, sched_.fault_gap_min, sched_.fault_gap_max);
      }
    }
  }

  time_ms next_event() const {
    time_ms t = std::numeric_limits<time_ms>::max();
    if (!queue_.empty()) t = queue_.front().at;
    for (const auto& n : nodes_) {
      if (n.up()) t = std::min(t, std::max(n.core->next_deadline(), n.last_tick + 1));
      else if (n.restart_at >= 0) t = std::min(t, n.restart_at);
    }
    for (const auto& c : clients_) {
      if (c.op) t = std::min(t, c.deadline);
      else if (issued_ < sched_.ops) t = std::min(t, c.next_at);
    }
    if (faults_on_) t = std::min(t, next_fault_at_);
    if (partition_heal_at_ >= 0) t = std::min(t, partition_heal_at_);
    return std::max(t, now_);
  }

  static time_ms draw(std::mt19937_64& rng, time_ms lo, time_ms hi) {
    return std::uniform_int_distribution<time_ms>(lo, std::max(lo, hi))(rng);
  }
  bool chance(std::mt19937_64& rng, double p) {
    return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < p;
  }

  // ---- nodes ----

  void start(std::size_t i) {
    auto& n = nodes_[i];
    std::optional<raft::snapshot> snap;
    if (n.d.snap.index > 0) snap = n.d.snap;
    const std::uint64_t core_seed = sched_.seed * 1'000'003 + i * 7919 + n.incarnation * 104'729;
    n.core = std::make_unique<raft::core>(n.id, bootstrap_, timing_, core_seed, now_, n.d.state, n.d.entries, snap);
    // The state machine starts from the snapshot; the core hands out the committed entries after it.
    n.kv = kv_store{};
    if (snap) {
      n.kv.data = kv_store::decode(snap->data);
      n.kv.applied = snap->index;
    }
    n.last_tick = -1;
    n.restart_at = -1;
    input(i, [](raft::core&) {});
  }

  void crash(std::size_t i) {
    auto& n = nodes_[i];
    if (!n.up()) return;
    n.core.reset();
    ++n.incarnation;
    if (fault_ == fault_switch::unsynced_writes) n.d.lose_writes_after(now_ - unsynced_window);
    n.restart_at = now_ + draw(fault_rng_, sched_.down_min, sched_.down_max);
    ++out_.counted.crashes;
    narrate(1, n.id, " crashes until ", n.restart_at);
    trace(fnv1a(n.id, 0xc4a54));
    // Its clients learn nothing more: a write's outcome is unknown, a read is simply lost.
    for (auto& c : clients_)
      if (c.op && c.node_index == i) abandon(c);
    // The node's connections break: the others hear of it (as the peers actor tells Raft) and
    // stop deferring to it if it led them.
    const node_id gone = n.id;
    for (std::size_t j = 0; j < nodes_.size(); ++j)
      if (j != i && nodes_[j].up()) input(j, [&](raft::core& c) { c.leader_unreachable(gone, now_); });
  }

  void restart(std::size_t i) {
    ++out_.counted.restarts;
    narrate(1, nodes_[i].id, " restarts: term ", nodes_[i].d.state.term, " vote ", nodes_[i].d.state.vote, " snapshot ",
            nodes_[i].d.snap.index, " log to ", nodes_[i].d.last_index());
    trace(fnv1a(nodes_[i].id, 0x7e57a7));
    start(i);
  }

  // Feeds one input to a core, then does what the contract says with its outputs, checking the
  // invariants on the way.
  template <class Input>
  void input(std::size_t i, Input&& feed) {
    auto& n = nodes_[i];
    const raft::role role_before = n.core->state();
    const term_t term_before = n.core->term();
    feed(*n.core);
    ++out_.counted.steps;
    ++n.inputs;
    drain(i, role_before, term_before);
    if (n.crash_pending) {
      n.crash_pending = false;
      ++out_.counted.mid_write_crashes;
      crash(i);
      return;
    }
    if (out_.safe) check_node(i, role_before, term_before);
  }

  void drain(std::size_t i, raft::role role_before, term_t term_before) {
    auto& n = nodes_[i];
    const bool leading_throughout = role_before == raft::role::leader && n.core->state() == raft::role::leader &&
                                    n.core->term() == term_before;
    for (int rounds = 0; rounds < 100 && out_.safe; ++rounds) {
      // The node's order: a leader's appends may leave before its own write when the batch
      // holds entries (and a commit index) only; a term, a vote or anything else is durable first.
      auto batch = n.core->take_persist_deferred();
      const bool votes_nothing_new =
          !batch.state || (batch.state->term == n.d.state.term && batch.state->vote == n.d.state.vote);
      if (n.core->state() == raft::role::leader && votes_nothing_new && !batch.snapshot && !batch.truncate_from) {
        for (auto& m : n.core->take_messages()) send(i, std::move(m));
        if (!batch.entries.empty() && chance(fault_rng_, sched_.crash_mid_write)) {
          n.crash_pending = true;  // the write never ends: the batch is lost
          return;
        }
      }
      persist(i, batch, leading_throughout);
      n.core->persisted();
      for (auto& m : n.core->take_messages()) send(i, std::move(m));
      if (auto snap = n.core->take_restore()) restore(i, *snap);
      for (const auto& e : n.core->take_committed()) apply(i, e);
      for (const auto& r : n.core->take_reads()) read_confirmed(i, r);
      for (auto id : n.core->take_failed_reads()) read_failed(i, id);
      for (const auto& why : n.core->take_refusals()) violated(n, cat("refused a message of its own cluster: ", why));
      // Compaction: a snapshot every `compact_every` applied entries.
      const index_t snapped = n.core->first_index() - 1;
      if (sched_.compact_every > 0 && n.kv.applied >= snapped + sched_.compact_every &&
          n.core->compact(n.kv.applied, n.kv.encode())) {
        ++out_.counted.compactions;
        continue;  // its persist batch goes out on the next round
      }
      break;
    }
    complete_reads(i);
  }

  // ---- invariants ----

  void violated(const node& n, const std::string& what) {
    if (!out_.safe) return;
    out_.safe = false;
    std::ostringstream o;
    o << "at " << now_ << " ms on " << n.id << ": " << what;
    out_.violation = o.str();
  }

  // Storage applies the batch in the documented order; the checks see every change to the log,
  // since a log lives in memory exactly as it is on disk once the batch is written.
  void persist(std::size_t i, const raft::persist_batch& b, bool leading_throughout) {
    auto& n = nodes_[i];
    auto& d = n.d;
    if (b.state) {
      const auto& s = *b.state;
      if (s.term < d.state.term) violated(n, cat("the persisted term went back from ", d.state.term));
      if (s.term == d.state.term && !d.state.vote.empty() && s.vote != d.state.vote)
        violated(n, cat("changed its persisted vote in term ", s.term, " from ", d.state.vote, " to ", s.vote));
      d.state = s;
      d.state_history.emplace_back(now_, s);
      // Kept: the states of the last window, and the one before it.
      while (d.state_history.size() > 2 && d.state_history[1].first < now_ - unsynced_window)
        d.state_history.erase(d.state_history.begin());
    }
    if (b.snapshot) {
      const auto& s = *b.snapshot;
      if (s.index <= d.snap.index) violated(n, cat("a snapshot at ", s.index, " is not newer than the one held"));
      check_snapshot(n, s);
      if (leading_throughout && s.index > n.kv.applied)
        violated(n, "the leader replaced its log with a snapshot it did not apply (leader append-only)");
      std::vector<raft::entry> kept;
      std::vector<time_ms> kept_written;
      for (std::size_t k = 0; k < d.entries.size(); ++k)
        if (d.entries[k].index > s.index) {
          kept.push_back(std::move(d.entries[k]));
          kept_written.push_back(d.written[k]);
        }
      d.entries = std::move(kept);
      d.written = std::move(kept_written);
      d.snap = s;
    }
    if (b.truncate_from) {
      const index_t from = *b.truncate_from;
      if (leading_throughout && from <= d.last_index())
        violated(n, cat("the leader truncated its log from ", from, " (leader append-only)"));
      // Dropping a committed entry is fine only on behalf of a leader of a stale term.
      for (index_t x = std::max(from, d.snap.index + 1); x <= d.last_index(); ++x)
        if (auto c = committed(x); c && c->term == d.term_at(x) && c->committed_by < n.core->term())
          violated(n, cat("truncated entry ", x, ", committed by term ", c->committed_by, ", in term ",
                          n.core->term()));
      if (from <= d.snap.index) violated(n, cat("truncation from ", from, " reaches into the snapshot"));
      else if (from <= d.last_index()) {
        d.entries.resize(from - d.snap.index - 1);
        d.written.resize(d.entries.size());
      }
    }
    for (const auto& e : b.entries) {
      if (e.index != d.last_index() + 1) {
        violated(n, cat("persisted entry ", e.index, " does not follow the log's last ", d.last_index()));
        return;
      }
      if (leading_throughout && e.term != n.core->term())
        violated(n, cat("the leader appended an entry of term ", e.term));
      // Log matching, inductively: an (index, term) pair always names the same data and the same
      // previous term, on every node at every time.
      auto [it, fresh] = identity_.try_emplace({e.index, e.term}, entry_identity{e.data, d.last_term(), n.id});
      if (!fresh && (it->second.data != e.data || it->second.prev_term != d.last_term())) {
        std::ostringstream o;
        o << "log matching: entry (" << e.index << ", term " << e.term << ") follows term " << d.last_term()
          << " with data \"" << e.data << "\" but on " << it->second.first << " it follows term "
          << it->second.prev_term << " with \"" << it->second.data << "\"";
        violated(n, o.str());
      }
      d.entries.push_back(e);
      d.written.push_back(now_);
    }
  }

  void check_snapshot(const node& n, const raft::snapshot& s) {
    auto c = committed(s.index);
    if (!c) {
      violated(n, cat("a snapshot at ", s.index, ", an index no node applied"));
      return;
    }
    if (c->term != s.term)
      violated(n, cat("a snapshot at ", s.index, " names term ", s.term, " but the committed entry there has term ",
                      c->term));
    kv_store k;
    k.data = kv_store::decode(s.data);
    if (fnv1a(k.encode()) != c->state_digest)
      violated(n, cat("the snapshot at ", s.index, " differs from the state every node had there"));
  }

  struct committed_entry {
    term_t term = 0;
    std::string data;
    std::uint64_t state_digest = 0;  // the state machine after applying it
    node_id first;                   // the first node that applied it
    // No later than the term it was committed in: the least term of a node applying it (a node
    // learns of a commit from a leader whose term it then has; that leader's term is at least
    // the commit's). Leaders of later terms must hold it.
    term_t committed_by = 0;
  };
  const committed_entry* committed(index_t i) const {
    return i >= 1 && i <= committed_.size() && !committed_[i - 1].first.empty() ? &committed_[i - 1] : nullptr;
  }

  // State-machine safety: every node applies the same entry at an index, in order.
  void apply(std::size_t i, const raft::entry& e) {
    auto& n = nodes_[i];
    if (e.index != n.kv.applied + 1) {
      violated(n, cat("applied entry ", e.index, " after ", n.kv.applied));
      return;
    }
    n.kv.apply(e);
    const auto digest = fnv1a(n.kv.encode());
    if (committed_.size() < e.index) committed_.resize(e.index);
    auto& c = committed_[e.index - 1];
    if (c.first.empty()) {
      c = committed_entry{e.term, e.data, digest, n.id, n.core->term()};
      if (e.type == raft::entry_type::config) ++out_.counted.changes_committed;
    } else if (c.term != e.term || c.data != e.data) {
      std::ostringstream o;
      o << "state-machine safety: applied (" << e.index << ", term " << e.term << ", \"" << e.data << "\") but "
        << c.first << " applied (term " << c.term << ", \"" << c.data << "\") there";
      violated(n, o.str());
    } else if (c.state_digest != digest) {
      violated(n, cat("the state after entry ", e.index, " differs from ", c.first, "'s"));
    } else {
      c.committed_by = std::min(c.committed_by, n.core->term());
    }
    for (auto& cl : clients_)
      if (writing_on(cl, i) && cl.log_index == e.index)
        finish(cl, e.data == cl.command ? op_status::ok : op_status::failed, {});
  }

  void restore(std::size_t i, const raft::snapshot& s) {
    auto& n = nodes_[i];
    ++out_.counted.restores;
    if (s.index < n.kv.applied) violated(n, cat("restored a snapshot at ", s.index, " behind applied ", n.kv.applied));
    if (n.d.snap.index < s.index) violated(n, cat("restored a snapshot at ", s.index, " before it was durable"));
    check_snapshot(n, s);
    n.kv.data = kv_store::decode(s.data);
    n.kv.applied = s.index;
    // A write the snapshot covers: its outcome is what was committed at its index.
    for (auto& cl : clients_)
      if (writing_on(cl, i) && cl.log_index <= s.index) {
        auto c = committed(cl.log_index);
        finish(cl, c && c->data == cl.command ? op_status::ok : op_status::failed, {});
      }
  }

  void check_node(std::size_t i, raft::role role_before, term_t term_before) {
    auto& n = nodes_[i];
    const auto& c = *n.core;
    if (c.state() == raft::role::leader) {
      // Election safety: at most one leader per term, ever.
      auto [it, fresh] = leader_of_term_.try_emplace(c.term(), n.id);
      if (!fresh && it->second != n.id)
        violated(n, cat("election safety: a second leader in term ", c.term(), " (first ", it->second, ")"));
      if (fresh) {
        ++out_.counted.leaders;
        narrate(1, n.id, " leads term ", c.term(), " with log ", c.first_index(), "..", c.last_index(), " commit ",
                c.commit_index());
      }
      if (role_before != raft::role::leader || term_before != c.term()) check_leader_completeness(n);
    }
    // The disk mirrors the log (else a restart would recover another log).
    if (n.d.last_index() != c.last_index() || n.d.last_term() != c.last_term() ||
        n.d.snap.index + 1 != c.first_index()) {
      std::ostringstream o;
      o << "the disk holds (" << n.d.snap.index << ", " << n.d.last_index() << "] ending in term " << n.d.last_term()
        << " but the log (" << c.first_index() - 1 << ", " << c.last_index() << "] ends in term " << c.last_term();
      violated(n, o.str());
    } else if (n.inputs % 64 == 0) {
      const auto& log = c.log();
      for (std::size_t k = 0; k < log.size() && k < n.d.entries.size(); ++k)
        if (log[k].index != n.d.entries[k].index || log[k].term != n.d.entries[k].term ||
            log[k].data != n.d.entries[k].data) {
          violated(n, cat("the disk's entry ", n.d.entries[k].index, " differs from the log's"));
          break;
        }
    }
    if (n.d.state.term != c.term())
      violated(n, cat("the term ", c.term(), " is not durable (disk: ", n.d.state.term, ")"));
  }

  // A new leader holds every entry committed in an earlier term (in its log, or covered by its
  // snapshot). A leader of a stale term, elected late, need not hold what a later term committed.
  void check_leader_completeness(const node& n) {
    const auto& c = *n.core;
    for (index_t x = 1; x <= committed_.size(); ++x) {
      auto e = committed(x);
      if (!e || x < c.first_index() || e->committed_by >= c.term()) continue;
      if (x > c.last_index()) {
        violated(n, cat("leader completeness: leader of term ", c.term(), " lacks committed entry ", x));
        return;
      }
      const auto& mine = c.log()[x - c.first_index()];
      if (mine.term != e->term || mine.data != e->data) {
        violated(n, cat("leader completeness: leader of term ", c.term(), " holds another entry at committed index ",
                        x));
        return;
      }
    }
    if (auto e = committed(c.first_index() - 1); e && c.first_index() > 1 && e->committed_by < c.term() &&
                                                  c.latest_snapshot().term != e->term)
      violated(n, cat("leader completeness: the leader's snapshot disagrees with the committed entry at ",
                      c.first_index() - 1));
  }

  // ---- the network ----

  void send(std::size_t from, raft::message m) {
    auto& n = nodes_[from];
    // Persist before send: what a message vouches for is on disk already.
    if (m.type == raft::msg_type::vote_reply && !m.reject) {
      auto [it, fresh] = votes_.try_emplace({n.id, m.term}, m.to);
      if (!fresh && it->second != m.to)
        violated(n, cat("voted twice in term ", m.term, ": for ", it->second, " and ", m.to));
      if (n.d.state.term != m.term || n.d.state.vote != m.to)
        violated(n, cat("granted a vote in term ", m.term, " before it was durable"));
    }
    const bool acknowledges = (m.type == raft::msg_type::append_reply && !m.reject) ||
                              (m.type == raft::msg_type::snapshot_reply && m.done);
    if (acknowledges && n.d.last_index() < m.hint)
      violated(n, cat("acknowledged entries up to ", m.hint, " before they were durable"));
    const auto to = index_of_.find(m.to);
    if (to == index_of_.end()) return;
    const double loss = lossy_until_ >= 0 ? 0.3 : sched_.drop;
    const double dup = lossy_until_ >= 0 ? 0.1 : sched_.duplicate;
    if (chance(net_rng_, loss)) {
      ++out_.counted.dropped;
      return;
    }
    const int copies = chance(net_rng_, dup) ? 2 : 1;
    out_.counted.duplicated += static_cast<std::uint64_t>(copies - 1);
    for (int k = 0; k < copies; ++k) {
      time_ms delay = draw(net_rng_, 1, sched_.max_delay);
      if (chance(net_rng_, sched_.late)) delay += draw(net_rng_, 0, 60);
      for (std::size_t x : {from, to->second})
        if (nodes_[x].slow_until > now_) delay += nodes_[x].slow_extra;
      if (k + 1 < copies) queue_.push_back({now_ + delay, ++order_, m});
      else queue_.push_back({now_ + delay, ++order_, std::move(m)});
      std::push_heap(queue_.begin(), queue_.end(), std::greater<>());
    }
  }

  void deliver_next() {
    std::pop_heap(queue_.begin(), queue_.end(), std::greater<>());
    in_flight f = std::move(queue_.back());
    queue_.pop_back();
    const std::size_t to = index_of_.at(f.msg.to);
    const std::size_t from = index_of_.at(f.msg.from);
    // A partition cuts what is in flight too; a crashed node hears nothing.
    if (!nodes_[to].up() || side_[to] != side_[from]) {
      narrate(2, "lost ", type_name(f.msg.type), " ", f.msg.from, "->", f.msg.to);
      return;
    }
    narrate(2, type_name(f.msg.type), " ", f.msg.from, "->", f.msg.to, " term ", f.msg.term, " index ", f.msg.index,
            " log_term ", f.msg.log_term, " entries ", f.msg.entries.size(), " commit ", f.msg.commit,
            f.msg.reject ? " reject" : "", " hint ", f.msg.hint, " round ", f.msg.round);
    ++out_.counted.delivered;
    if (f.msg.type == raft::msg_type::snapshot) ++out_.counted.snapshot_messages;
    std::uint64_t h = fnv1a(f.msg.to, static_cast<std::uint64_t>(now_));
    h = fnv1a(f.msg.from, h) ^ (static_cast<std::uint64_t>(f.msg.type) << 56) ^ (f.msg.term << 32) ^ f.msg.index;
    trace(h);
    input(to, [&](raft::core& c) { c.step(f.msg, now_); });
  }

  void trace(std::uint64_t h) { out_.trace = (out_.trace ^ h) * 1099511628211ULL; }

  // ---- faults ----

  std::optional<std::size_t> leader() const {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].up() && nodes_[i].core->state() == raft::role::leader &&
          (!best || nodes_[i].core->term() > nodes_[*best].core->term()))
        best = i;
    return best;
  }

  std::size_t random_node(std::mt19937_64& rng) const { return static_cast<std::size_t>(rng() % nodes_.size()); }

  void heal() {
    std::fill(side_.begin(), side_.end(), 0);
    partition_heal_at_ = -1;
  }
  void partition_until_healed() {
    partition_heal_at_ = now_ + draw(fault_rng_, 50, 600);
    std::string sides;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      sides.append(" ").append(nodes_[i].id).append(":").append(std::to_string(side_[i]));
    narrate(1, "partition until ", partition_heal_at_, sides);
  }

  void inject_fault() {
    int total = 0;
    for (int w : sched_.weights) total += w;
    if (total == 0) return;
    int roll = static_cast<int>(fault_rng_() % static_cast<std::uint64_t>(total));
    int k = 0;
    while (roll >= sched_.weights[k]) roll -= sched_.weights[k++];
    const auto kind = static_cast<fault_kind>(k);
    ++out_.counted.faults[k];
    narrate(1, "fault ", fault_kind_name(kind));
    trace(0xfa017ULL + static_cast<std::uint64_t>(k));
    const auto lead = leader();
    switch (kind) {
      case fault_kind::kill_leader:
        if (lead) crash(*lead);
        break;
      case fault_kind::crash:
        crash(random_node(fault_rng_));
        break;
      case fault_kind::partition_minority: {
        std::vector<std::size_t> order(nodes_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), fault_rng_);
        const std::size_t cut = 1 + fault_rng_() % ((nodes_.size() - 1) / 2);
        heal();
        for (std::size_t x = 0; x < cut; ++x) side_[order[x]] = 1;
        partition_until_healed();
        break;
      }
      case fault_kind::isolate_leader:
        if (lead) {
          heal();
          side_[*lead] = 1;
          partition_until_healed();
        }
        break;
      case fault_kind::partition_no_quorum: {
        // Three sides, dealt round-robin: none holds a majority of 3, 4, 5 or 6 nodes.
        std::vector<std::size_t> order(nodes_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), fault_rng_);
        for (std::size_t x = 0; x < order.size(); ++x) side_[order[x]] = static_cast<int>(x % 3);
        partition_until_healed();
        break;
      }
      case fault_kind::heal:
        heal();
        break;
      case fault_kind::slow_node: {
        auto& n = nodes_[random_node(fault_rng_)];
        n.slow_extra = draw(fault_rng_, 10, 80);
        n.slow_until = now_ + draw(fault_rng_, 100, 600);
        break;
      }
      case fault_kind::lossy_burst:
        lossy_until_ = now_ + draw(fault_rng_, 50, 300);
        break;
      case fault_kind::membership:
        if (lead) change_membership(*lead);
        break;
      case fault_kind::transfer:
        if (lead) {
          const auto& voters = nodes_[*lead].core->voters();
          const node_id to = voters[fault_rng_() % voters.size()];
          input(*lead, [&](raft::core& c) {
            if (c.transfer_leadership(to, now_)) ++out_.counted.transfers;
          });
        }
        break;
    }
  }

  // One change through the leader, keeping at least three voters so the cluster can go on.
  void change_membership(std::size_t lead) {
    auto& c = *nodes_[lead].core;
    const auto& m = c.members();
    auto has = [](const std::vector<node_id>& xs, const node_id& x) {
      return std::find(xs.begin(), xs.end(), x) != xs.end();
    };
    std::vector<raft::membership_change> options;
    for (const auto& n : nodes_) {
      if (has(m.voters, n.id)) {
        if (m.voters.size() > 3) options.push_back({raft::change_kind::remove, n.id});
      } else if (has(m.learners, n.id)) {
        options.push_back({raft::change_kind::promote, n.id});
        options.push_back({raft::change_kind::remove, n.id});
      } else {
        options.push_back({raft::change_kind::add_voter, n.id});
        options.push_back({raft::change_kind::add_learner, n.id});
      }
    }
    if (options.empty()) return;
    const auto change = options[fault_rng_() % options.size()];
    static constexpr std::string_view kinds[] = {"add_voter", "add_learner", "promote", "remove"};
    input(lead, [&](raft::core& core) {
      std::string why;
      const auto at = core.propose_change(change, now_, &why);
      narrate(1, kinds[static_cast<int>(change.kind)], " ", change.node,
              at ? cat(" at ", *at) : cat(" refused: ", why));
    });
  }

  // ---- clients ----

  bool all_clients_idle() const {
    for (const auto& c : clients_)
      if (c.op) return false;
    return true;
  }

  std::uint64_t stamp() {
    // Invocations and responses in one total order; the value reads as ms * 1000 + a counter.
    last_stamp_ = std::max(last_stamp_ + 1, static_cast<std::uint64_t>(now_) * 1000);
    return last_stamp_;
  }

  void client_step(client& c) {
    if (c.op) {
      if (now_ >= c.deadline) {
        abandon(c);  // timed out: the client moves on
        c.guess = -1;
      }
      return;
    }
    if (issued_ >= sched_.ops || now_ < c.next_at) return;
    if (c.guess < 0 || static_cast<std::size_t>(c.guess) >= nodes_.size())
      c.guess = static_cast<int>(random_node(client_rng_));
    const auto target = static_cast<std::size_t>(c.guess);
    auto& n = nodes_[target];
    auto retry = [&] {
      // Not the leader (or down): try the leader it names, else anyone, a little later.
      c.guess = -1;
      if (n.up() && !n.core->leader().empty()) c.guess = static_cast<int>(index_of_.at(n.core->leader()));
      c.next_at = now_ + draw(client_rng_, 1, 5);
    };
    if (!n.up()) return retry();

    lin::kv_operation op;
    op.client = c.id;
    op.input.key = numbered("k", client_rng_() % static_cast<std::uint64_t>(sched_.keys));
    const auto roll = client_rng_() % 10;
    op.input.kind = roll < 4 ? lin::kv_kind::get : roll < 8 ? lin::kv_kind::put : lin::kv_kind::append;
    if (op.input.kind != lin::kv_kind::get) {
      op.input.value = numbered("c", static_cast<std::uint64_t>(c.id));
      op.input.value.append(".").append(std::to_string(++c.seq));
    }
    const auto call = stamp();

    if (op.input.kind == lin::kv_kind::get) {
      if (fault_ == fault_switch::stale_reads && n.core->state() == raft::role::leader) {
        // The broken rule: a leader answers from its own state, assuming it still leads.
        op.call = call;
        op.output.value = n.kv.get(op.input.key);
        op.ret = stamp();
        history_.push_back(op);
        status_.push_back(op_status::ok);
        ++issued_;
        ++out_.counted.ops_ok;
        ++out_.counted.reads_ok;
        c.next_at = now_ + draw(client_rng_, 0, sched_.think);
        return;
      }
      const std::uint64_t id = ++read_ids_;
      bool accepted = false;
      begin(c, target, op, call);
      c.read_id = id;
      input(target, [&](raft::core& core) { accepted = core.read_index(id, now_); });
      if (!accepted) {
        forget(c);
        return retry();
      }
      return;
    }
    const std::string command = op.input.kind == lin::kv_kind::put ? kv_store::put(op.input.key, op.input.value)
                                                                   : kv_store::append(op.input.key, op.input.value);
    std::optional<index_t> at;
    begin(c, target, op, call);
    c.command = command;
    input(target, [&](raft::core& core) {
      at = core.propose(command, now_);
      if (at) c.log_index = *at;
    });
    if (!at) {
      forget(c);
      return retry();
    }
    write_index_[history_.size() - 1] = *at;
  }

  // Records the invocation before the core sees it: the result may come within the same input.
  void begin(client& c, std::size_t target, const lin::kv_operation& op, std::uint64_t call) {
    history_.push_back(op);
    history_.back().call = call;
    status_.push_back(op_status::pending);
    ++issued_;
    c.op = history_.size() - 1;
    c.node_index = target;
    c.incarnation = nodes_[target].incarnation;
    c.log_index = 0;
    c.command.clear();
    c.read_id = 0;
    c.read_at.reset();
    c.deadline = now_ + sched_.op_timeout;
  }
  // An invocation the node refused outright: it never happened.
  void forget(client& c) {
    history_.pop_back();
    status_.pop_back();
    --issued_;
    c.op.reset();
  }

  void finish(client& c, op_status s, const std::string& read_value) {
    const auto k = *c.op;
    status_[k] = s;
    static constexpr std::string_view statuses[] = {"pending", "ok", "unknown", "failed"};
    narrate(1, "client ", c.id, " ", lin::kv_model::describe(history_[k].input, {read_value}), " on ",
            nodes_[c.node_index].id, ": ", statuses[static_cast<int>(s)]);
    if (s == op_status::ok) {
      history_[k].ret = stamp();
      history_[k].output.value = read_value;
      ++out_.counted.ops_ok;
      if (history_[k].input.kind == lin::kv_kind::get) ++out_.counted.reads_ok;
    }
    c.op.reset();
    c.next_at = now_ + draw(client_rng_, 0, sched_.think);
    if (s == op_status::failed) c.guess = -1;
  }

  // The client stops waiting: a write may or may not have happened; a read has no effect.
  void abandon(client& c) {
    const auto k = *c.op;
    if (history_[k].input.kind == lin::kv_kind::get) finish(c, op_status::failed, {});
    else finish(c, op_status::unknown, {});
  }

  // The client waits on node i's current incarnation for its write to be applied.
  bool writing_on(const client& c, std::size_t i) const {
    return c.op && c.node_index == i && c.incarnation == nodes_[i].incarnation && !c.command.empty();
  }

  void read_confirmed(std::size_t i, const raft::read_state& r) {
    for (auto& c : clients_)
      if (c.op && c.node_index == i && c.read_id == r.id) c.read_at = r.index;
  }
  void read_failed(std::size_t i, std::uint64_t id) {
    for (auto& c : clients_)
      if (c.op && c.node_index == i && c.read_id == id) finish(c, op_status::failed, {});
  }
  // A confirmed read is served once the node has applied up to its index.
  void complete_reads(std::size_t i) {
    const auto& n = nodes_[i];
    for (auto& c : clients_)
      if (c.op && c.node_index == i && c.incarnation == n.incarnation && c.read_at && n.kv.applied >= *c.read_at)
        finish(c, op_status::ok, n.kv.get(history_[*c.op].input.key));
  }

  // ---- the end ----

  // Heals everything, restarts every node, and waits until the members agree on one committed log.
  void settle() {
    faults_on_ = false;
    heal();
    lossy_until_ = -1;
    for (auto& n : nodes_) n.slow_until = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].up()) restart(i);
    issued_ = std::max(issued_, sched_.ops);  // no new operations
    const time_ms healed = now_;
    std::string why;
    auto not_yet = [&](std::string reason) {
      why = std::move(reason);
      return false;
    };
    auto converged = [&] {
      auto l = leader();
      if (!l) return not_yet("no leader");
      const auto& lc = *nodes_[*l].core;
      if (lc.commit_index() != lc.last_index()) return not_yet("the leader's log is not all committed");
      std::vector<node_id> members = lc.members().voters;
      members.insert(members.end(), lc.members().learners.begin(), lc.members().learners.end());
      for (const auto& id : members) {
        const auto& n = nodes_[index_of_.at(id)];
        if (n.core->last_index() != lc.last_index() || n.kv.applied != lc.commit_index())
          return not_yet(cat(id, " has not caught up"));
      }
      return all_clients_idle() || not_yet("a client is waiting");
    };
    // Five seconds, extended while the nodes still apply entries (a follower catching up one
    // entry per message over a lossy, reordering network is slow, not stuck), 30 s at most.
    auto applied = [&] {
      index_t sum = 0;
      for (const auto& n : nodes_) sum += n.kv.applied;
      return sum;
    };
    bool progressing = true;
    while (now_ - healed < 30'000 && out_.safe && out_.live && progressing) {
      const index_t before = applied();
      run_until(now_ + 5000, converged);
      if (converged()) break;
      progressing = applied() > before;
    }
    if (out_.safe && out_.live && !converged()) {
      out_.live = false;
      std::ostringstream o;
      o << "no convergence " << (now_ - healed) / 1000 << " s after healing"
        << (progressing ? "" : ", nothing applied in the last 5 s") << " (" << why << "):";
      for (const auto& n : nodes_)
        o << " " << n.id << "[" << raft::role_name(n.core->state()) << " term " << n.core->term() << " log "
          << n.core->first_index() << ".." << n.core->last_index() << " commit " << n.core->commit_index()
          << " applied " << n.kv.applied << " leader " << (n.core->leader().empty() ? "-" : n.core->leader()) << "]";
      out_.violation = o.str();
    }
    if (out_.safe) check_logs_pairwise();
  }

  // Once at the end: log matching over every pair of logs as they are, entry by entry.
  void check_logs_pairwise() {
    for (std::size_t a = 0; a < nodes_.size(); ++a)
      for (std::size_t b = a + 1; b < nodes_.size(); ++b) {
        const auto& x = *nodes_[a].core;
        const auto& y = *nodes_[b].core;
        const index_t lo = std::max(x.first_index(), y.first_index());
        const index_t hi = std::min(x.last_index(), y.last_index());
        bool matched_above = false;
        for (index_t k = hi; k >= lo && k > 0; --k) {
          const auto& ex = x.log()[k - x.first_index()];
          const auto& ey = y.log()[k - y.first_index()];
          if (ex.term == ey.term) matched_above = true;
          if (matched_above && (ex.term != ey.term || ex.data != ey.data)) {
            violated(nodes_[a], cat("log matching: logs agree above ", k, " but not there with ", nodes_[b].id));
            return;
          }
        }
      }
  }

  // Unknown writes are settled by what was committed at their index: another entry there means
  // theirs never will be, so they did not happen; otherwise they stay open-ended.
  void finish_history() {
    std::vector<lin::kv_operation> kept;
    for (std::size_t k = 0; k < history_.size(); ++k) {
      auto s = status_[k];
      if (s == op_status::pending)
        s = history_[k].input.kind == lin::kv_kind::get ? op_status::failed : op_status::unknown;
      if (s == op_status::unknown) {
        if (auto c = committed(write_index_of(k)); c && c->data != command_of(history_[k].input)) s = op_status::failed;
      }
      if (s == op_status::failed) {
        ++out_.counted.ops_failed;
        continue;
      }
      if (s == op_status::unknown) {
        ++out_.counted.ops_unknown;
        history_[k].ret = lin::never;
      }
      kept.push_back(std::move(history_[k]));
    }
    history_ = std::move(kept);
  }
  index_t write_index_of(std::size_t k) const {
    auto it = write_index_.find(k);
    return it == write_index_.end() ? 0 : it->second;
  }
  static std::string command_of(const lin::kv_input& in) {
    return in.kind == lin::kv_kind::put ? kv_store::put(in.key, in.value) : kv_store::append(in.key, in.value);
  }

 public:
  const std::vector<lin::kv_operation>& history() const { return history_; }

 private:
  schedule sched_;
  fault_switch fault_;
  raft::timing timing_;
  std::mt19937_64 net_rng_, fault_rng_, client_rng_;
  std::vector<node> nodes_;
  std::map<node_id, std::size_t> index_of_;
  std::vector<node_id> bootstrap_;
  std::vector<client> clients_;
  static constexpr time_ms unsynced_window = 100;
  static constexpr std::size_t max_in_flight = 100'000;
  time_ms now_ = 0;
  std::vector<in_flight> queue_;  // a min-heap on (at, order)
  std::uint64_t order_ = 0;
  std::vector<int> side_;  // partition: nodes on different sides cannot talk
  time_ms partition_heal_at_ = -1;
  time_ms lossy_until_ = -1;
  bool faults_on_ = true;
  time_ms next_fault_at_ = 0;

  // Checks' memory.
  std::map<term_t, node_id> leader_of_term_;
  std::map<std::pair<node_id, term_t>, node_id> votes_;  // granted votes
  struct entry_identity {
    std::string data;
    term_t prev_term;
    node_id first;
  };
  std::map<std::pair<index_t, term_t>, entry_identity> identity_;
  std::vector<committed_entry> committed_;  // index i at i - 1

  // Clients' history.
  std::vector<lin::kv_operation> history_;
  std::vector<op_status> status_;
  std::map<std::size_t, index_t> write_index_;  // history position -> proposed index
  int issued_ = 0;
  std::uint64_t read_ids_ = 0;
  std::uint64_t last_stamp_ = 0;
  outcome out_;
  int verbose_ = verbosity();
};

// Runs one seed's schedule.
inline outcome run_schedule(std::uint64_t seed, fault_switch fault = fault_switch::none) {
  raft_cluster c(schedule::draw(seed), fault);
  return c.run();
}

}  // namespace p2p::raft_sim
