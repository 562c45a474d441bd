#pragma once
// A deterministic simulation of the replicated work queue (actors/work_queue) in virtual time.
//
// The model: a leader appends commands to a log that commits after a delay; every replica applies
// the committed log through work_queue_state_machine at its own pace (the leader at once), some
// catch up by installing another replica's snapshot, some restart from their own. Leaders fail
// over: a gap without a leader, then a new term on another replica whose lease tracker starts
// afresh, and the old leader's uncommitted proposals either commit later or are lost (their
// replies are lost either way). Workers claim in batches with request ids, heartbeat, run, and
// complete or fail, over a network that delays, drops and (for completions) duplicates; they
// die (SWIM tells the leader after a while) and restart, reconciling their claims; partitions cut
// a worker off so its leases lapse. An operator adds items (with idempotency keys, dependencies,
// requirements, targets, time limits) and cancels some; the leader archives old finished items.
//
// Checked after every step: every replica gives the same answer to every entry, and the same
// state at checkpoints; each item completes at most once, and no two workers are both told they
// completed the same item; a claim whose lease lapsed is expired within twice its lease (and a
// running item over its time limit soon after); retried adds replay the first answer. After the
// faults stop and everything heals: no item is lost (each ends finished, here or in the archive),
// every completion a worker was told of is the item's recorded outcome, and all replicas hold
// identical snapshots. Every schedule is a function of its seed.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actors/work_queue/lease_tracker.hpp"
#include "actors/work_queue/work_queue.hpp"
#include "tests/sim/sim_env.hpp"

namespace p2p::work_sim {

using work::time_ms;

// ---- environment: SIM_SCHEDULES scales the number of schedules, SIM_SEED replays one ------------

using sim::schedule_count;
using sim::seeds_to_run;
// SIM_VERBOSE=1 narrates a replayed schedule on stderr.
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

// Test-only switches that break a rule on purpose in the simulated leader, to show the checks
// catch it. The state machine itself is never altered.
enum class fault_switch {
  none,
  // The leader never proposes expiries or timeouts: lapsed claims stay forever.
  no_expiry,
  // A worker told "conflict" for a stale completion counts it as done anyway.
  count_stale_completions,
};

struct schedule {
  std::uint64_t seed = 0;
  int replicas = 3;
  int workers = 3;
  double drop = 0;            // per message
  double duplicate = 0;       // completions sent twice
  time_ms max_delay = 50;     // network: [1, max_delay] ms
  time_ms commit_min = 10, commit_max = 150;  // a proposal commits after this long
  time_ms failover_every = 0;  // mean gap between leader failovers (0: none)
  time_ms crash_every = 0;     // mean gap between worker crashes (0: none)
  time_ms partition_every = 0;  // mean gap between partitions of a worker (0: none)
  time_ms lease_min_s = 2, lease_max_s = 4;
  time_ms add_every = 300;  // mean gap between adds
  double cancel_rate = 0.05;  // per add, a cancel of some item
  double fail_rate = 0.1, hang_rate = 0.05, fatal_rate = 0.03;
  double dependency_rate = 0.2;
  double snapshot_install = 0.002;  // per follower per tick
  time_ms active = 20'000;  // faults and new work stop after this long
  time_ms archive_every = 2'000, retention = 3'000;

  static schedule draw(std::uint64_t seed) {
    std::mt19937_64 rng(seed ^ 0x0dd5ca1eULL);
    auto pick = [&](std::initializer_list<double> xs) { return *(xs.begin() + static_cast<long>(rng() % xs.size())); };
    auto between = [&](std::int64_t lo, std::int64_t hi) {
      return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
    };
    schedule s;
    s.seed = seed;
    s.replicas = rng() % 2 ? 5 : 3;
    s.workers = static_cast<int>(between(2, 6));
    s.drop = pick({0.0, 0.01, 0.05, 0.15});
    s.duplicate = pick({0.0, 0.05, 0.2});
    s.max_delay = static_cast<time_ms>(pick({5, 20, 80}));
    s.commit_max = static_cast<time_ms>(pick({50, 150, 300}));
    s.failover_every = static_cast<time_ms>(pick({0, 3000, 8000}));
    s.crash_every = static_cast<time_ms>(pick({0, 2000, 6000}));
    s.partition_every = static_cast<time_ms>(pick({0, 3000, 8000}));
    s.lease_min_s = between(1, 3);
    s.lease_max_s = s.lease_min_s + between(0, 3);
    s.add_every = between(100, 500);
    s.cancel_rate = pick({0.0, 0.05, 0.15});
    s.fail_rate = pick({0.0, 0.1, 0.3});
    s.hang_rate = pick({0.0, 0.05, 0.2});
    s.fatal_rate = pick({0.0, 0.03});
    s.dependency_rate = pick({0.0, 0.2, 0.5});
    s.active = between(10'000, 25'000);
    return s;
  }

  std::string describe() const {
    return cat(replicas, " replicas, ", workers, " workers, drop ", drop, ", dup ", duplicate, ", delay 1..", max_delay,
               " ms, commit ", commit_min, "..", commit_max, " ms, failover every ", failover_every, " ms, crash every ",
               crash_every, " ms, partition every ", partition_every, " ms, leases ", lease_min_s, "..", lease_max_s,
               " s, add every ", add_every, " ms, cancel ", cancel_rate, ", fail ", fail_rate, ", hang ", hang_rate,
               ", fatal ", fatal_rate, ", deps ", dependency_rate, ", active ", active, " ms");
  }
};

struct stats {
  std::uint64_t schedules = 0, entries = 0, items = 0, completed = 0, failed = 0, timed_out = 0, cancelled = 0;
  std::uint64_t claims = 0, replayed_claims = 0, replayed_adds = 0, duplicates = 0, stale_completions = 0;
  std::uint64_t expired_lease = 0, expired_dead = 0, timeouts = 0, failovers = 0, crashes = 0, partitions = 0;
  std::uint64_t snapshot_installs = 0, archived = 0, dropped = 0, lost_proposals = 0;
  time_ms virtual_ms = 0;

  void add(const stats& o) {
    for (auto [mine, theirs] :
         {std::pair{&schedules, o.schedules}, {&entries, o.entries}, {&items, o.items}, {&completed, o.completed},
          {&failed, o.failed}, {&timed_out, o.timed_out}, {&cancelled, o.cancelled}, {&claims, o.claims},
          {&replayed_claims, o.replayed_claims}, {&replayed_adds, o.replayed_adds}, {&duplicates, o.duplicates},
          {&stale_completions, o.stale_completions}, {&expired_lease, o.expired_lease}, {&expired_dead, o.expired_dead},
          {&timeouts, o.timeouts}, {&failovers, o.failovers}, {&crashes, o.crashes}, {&partitions, o.partitions},
          {&snapshot_installs, o.snapshot_installs}, {&archived, o.archived}, {&dropped, o.dropped},
          {&lost_proposals, o.lost_proposals}})
      *mine += theirs;
    virtual_ms += o.virtual_ms;
  }
  std::string describe() const {
    return cat(schedules, " schedules, ", virtual_ms / 1000, " s virtual, ", entries, " entries, ", items, " items (",
               completed, " completed, ", failed, " failed, ", timed_out, " timed out, ", cancelled, " cancelled, ",
               archived, " archived); ", claims, " claims (", replayed_claims, " replayed), ", replayed_adds,
               " replayed adds, ", duplicates, " duplicate and ", stale_completions, " stale completions; expiries: ",
               expired_lease, " lease, ", expired_dead, " dead claimant, ", timeouts, " timeouts; ", failovers,
               " failovers (", lost_proposals, " proposals lost), ", crashes, " worker crashes, ", partitions,
               " partitions, ", snapshot_installs, " snapshot installs, ", dropped, " messages dropped");
  }
};

struct outcome {
  bool ok = true;
  std::string violation;
  stats counted;
  std::uint64_t trace = 0;  // a digest of the committed log: runs repeat exactly
  std::string description;
};

// ---- the simulation -----------------------------------------------------------------------------

class queue_cluster {
 public:
  explicit queue_cluster(const schedule& s, fault_switch fault = fault_switch::none)
      : sched_(s), fault_(fault), rng_(s.seed * 11 + 5), net_rng_(s.seed * 13 + 7) {
    replicas_.resize(static_cast<std::size_t>(s.replicas));
    for (int w = 0; w < s.workers; ++w) {
      worker k;
      k.id = cat("n", w);
      // Some workers have GPUs and a label; items ask for them only when someone offers them.
      k.gpus = w % 2 == 0 ? 1 : 0;
      k.zone = w % 3 == 0 ? "eu" : "us";
      k.slots = 1 + static_cast<int>(rng_() % 3);
      workers_.push_back(std::move(k));
    }
    elect(0);
    next_add_ = now_ + 10;
    next_failover_ = schedule_after(s.failover_every);
    next_crash_ = schedule_after(s.crash_every);
    next_partition_ = schedule_after(s.partition_every);
    next_archive_ = now_ + s.archive_every;
  }

  outcome run() {
    out_.description = sched_.describe();
    out_.counted.schedules = 1;
    const time_ms start = now_;
    while (out_.ok && now_ < start + sched_.active) step(true);
    heal();
    // Twenty seconds at a time while items still finish (a backlog on few slots is slow, not
    // stuck); ten minutes at most.
    const time_ms settle_from = now_;
    bool progressing = true;
    while (out_.ok && progressing && now_ < settle_from + 600'000 && !settled()) {
      const auto finished_before = finished();
      const time_ms window_end = now_ + 20'000;
      while (out_.ok && now_ < window_end && !settled()) step(false);
      progressing = finished() > finished_before;
    }
    if (out_.ok) final_checks();
    out_.counted.virtual_ms = now_ - start;
    return out_;
  }

 private:
  static constexpr time_ms tick_ms = 50;
  static constexpr time_ms heartbeat_ms = 400;
  static constexpr time_ms retry_ms = 600;
  static constexpr time_ms t0 = 1'700'000'000'000;

  struct replica {
    work::work_queue_state_machine sm;
    std::uint64_t applied = 0;
  };

  enum class kind {
    claim, complete, fail, heartbeat, reconcile,                          // worker -> leader
    claim_reply, complete_reply, fail_reply, heartbeat_reply, reconcile_reply  // leader -> worker
  };
  struct message {
    time_ms at = 0;
    std::uint64_t order = 0;
    kind k = kind::claim;
    int worker = 0;
    std::uint64_t incarnation = 0;
    std::string work_id, token, request_id, text;
    std::uint32_t max_items = 1;
    bool retryable = true, valid = false;
    work::reply r;
    std::vector<work::item> items;
    bool operator>(const message& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  // Who waits for a proposal's answer.
  struct origin {
    enum { nobody, operator_add, worker } who = nobody;
    int worker_index = 0;
    std::uint64_t incarnation = 0;
    kind reply = kind::claim_reply;
    std::string work_id, token, key;
  };
  struct proposal {
    std::string bytes;
    time_ms commit_at = 0;
    origin from;
  };

  struct held {
    std::string token;
    time_ms finish_at = 0;
    enum { complete, fail, fatal, hang } plan = complete;
    bool done = false;  // finished running; reporting the outcome
    time_ms next_heartbeat = 0;
    time_ms next_report = 0;
  };
  struct worker {
    std::string id;
    std::uint64_t gpus = 0;
    std::string zone;
    int slots = 1;
    bool alive = true;
    std::uint64_t incarnation = 0;
    time_ms restart_at = -1, partitioned_until = -1;
    std::map<std::string, held> items;  // by work id
    std::string request_id;  // the claim in flight
    int request_tries = 0;
    std::uint64_t requests = 0;
    time_ms next_claim = 0;
    time_ms reconcile_until = -1;  // waiting for the reconciliation answer
  };

  struct pending_add {
    work::add_command body;
    time_ms next_try = 0;
    std::optional<std::vector<std::string>> answer;  // the first work ids answered
  };

  template <class... Parts>
  void narrate(const Parts&... parts) const {
    if (verbose_) std::cerr << (now_ - t0) << " ms: " << cat(parts...) << "\n";
  }

  void violated(const std::string& what) {
    if (!out_.ok) return;
    out_.ok = false;
    out_.violation = cat("at ", now_ - t0, " ms: ", what);
  }

  time_ms schedule_after(time_ms mean) {
    if (mean <= 0) return std::numeric_limits<time_ms>::max();
    return now_ + mean / 2 + static_cast<time_ms>(rng_() % static_cast<std::uint64_t>(mean));
  }
  bool chance(std::mt19937_64& rng, double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  time_ms between(std::mt19937_64& rng, time_ms lo, time_ms hi) {
    return lo + static_cast<time_ms>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  }

  // ---- the log ----

  bool leading() const { return leader_ >= 0; }
  replica& lead() { return replicas_[static_cast<std::size_t>(leader_)]; }

  bool propose(const work::command& c, origin from) {
    if (!leading()) return false;
    proposals_.push_back({work::encode_command(c), now_ + between(rng_, sched_.commit_min, sched_.commit_max), std::move(from)});
    return true;
  }

  void commit_due() {
    std::stable_sort(proposals_.begin(), proposals_.end(),
                     [](const proposal& a, const proposal& b) { return a.commit_at < b.commit_at; });
    while (out_.ok && leading() && !proposals_.empty() && proposals_.front().commit_at <= now_) {
      proposal p = std::move(proposals_.front());
      proposals_.erase(proposals_.begin());
      log_.push_back(p.bytes);
      out_.trace = fnv1a(p.bytes, out_.trace);
      ++out_.counted.entries;
      auto& l = lead();
      while (l.applied < log_.size()) {
        const auto bytes = apply_next(l);
        if (l.applied == log_.size()) answered(p.from, bytes);
      }
      sync_tracker();
    }
  }

  // Applies the replica's next entry, checking that its answer matches every other replica's.
  std::string apply_next(replica& r) {
    const std::uint64_t index = ++r.applied;
    std::string bytes = r.sm.apply(index, log_[index - 1]);
    if (answers_.size() < index) {
      answers_.push_back(fnv1a(bytes));
      first_apply(index, bytes);
    } else if (answers_[index - 1] != fnv1a(bytes)) {
      violated(cat("replicas answer entry ", index, " differently"));
    }
    if (index % 32 == 0) {
      const auto digest = fnv1a(r.sm.snapshot());
      auto [it, fresh] = checkpoints_.try_emplace(index, digest);
      if (!fresh && it->second != digest) violated(cat("replicas differ after entry ", index));
    }
    return bytes;
  }

  // The first time an entry applies anywhere: what it did, for the checks.
  void first_apply(std::uint64_t index, const std::string& bytes) {
    auto a = work::decode_answer(bytes);
    if (!a) return violated(cat("entry ", index, " answered with unreadable bytes"));
    std::uint64_t n = 0;
    for (const auto& e : a->events) {
      if (e.event_id != cat("r:", index, ":", n++)) violated(cat("event id ", e.event_id, " out of sequence"));
      const auto id = field(e.payload_json, "work_id");
      if (e.type == "WORK_QUEUED") {
        created_.insert(id);
        ++out_.counted.items;
      } else if (e.type == "WORK_COMPLETED") {
        if (++completions_[id] > 1) violated(cat("item ", id, " completed twice"));
        ++out_.counted.completed;
      } else if (e.type == "WORK_CLAIMED") {
        ++out_.counted.claims;
      } else if (e.type == "WORK_FAILED") {
        const auto error = field(e.payload_json, "error");
        if (error == "lease_expired") ++out_.counted.expired_lease;
        if (error == "claimant_dead") ++out_.counted.expired_dead;
        if (field(e.payload_json, "final") == "true") ++out_.counted.failed;
      } else if (e.type == "WORK_TIMED_OUT") {
        ++out_.counted.timeouts;
        if (field(e.payload_json, "final") == "true") ++out_.counted.timed_out;
      } else if (e.type == "WORK_CANCELLED") {
        ++out_.counted.cancelled;
      }
    }
    for (const auto& x : a->archived) {
      if (!work::is_terminal(x.state)) violated(cat("archived ", x.work_id, " while ", work::status_name(x.state)));
      archive_[x.work_id] = x;
      ++out_.counted.archived;
    }
  }

  static std::string field(const std::string& json, std::string_view key) {
    // Payloads are flat objects written by json::writer: find "key": and read to the next , or }.
    const std::string needle = cat("\"", key, "\":");
    auto at = json.find(needle);
    if (at == std::string::npos) return {};
    at += needle.size();
    std::size_t end = at;
    bool quoted = false;
    for (; end < json.size(); ++end) {
      const char ch = json[end];
      if (ch == '"' && (end == at || json[end - 1] != '\\')) quoted = !quoted;
      if (!quoted && (ch == ',' || ch == '}')) break;
    }
    std::string v = json.substr(at, end - at);
    if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);  // ids and codes hold no escapes
    return v;
  }

  // The answer goes back to whoever waits for it, over the network.
  void answered(const origin& from, const std::string& bytes) {
    auto a = work::decode_answer(bytes);
    if (!a || from.who == origin::nobody) return;
    if (from.who == origin::operator_add) {
      auto it = adds_.find(from.key);
      if (it == adds_.end() || chance(net_rng_, sched_.drop)) return;
      const auto& r = a->response;
      if (r.replayed) ++out_.counted.replayed_adds;
      if (r.result == work::code::backpressure) return;
      if (r.result == work::code::bad_request && r.field == "depends_on") {
        // The dependency was archived before the add (a retry of a lost one) committed.
        it->second.answer = std::vector<std::string>{};
        return;
      }
      if (!r.ok()) return violated(cat("the add with key ", from.key, " was refused: ", r.message));
      if (it->second.answer && *it->second.answer != r.work_ids)
        return violated(cat("the add with key ", from.key, " was answered with other work ids on a retry"));
      it->second.answer = r.work_ids;
      return;
    }
    message m;
    m.k = from.reply;
    m.worker = from.worker_index;
    m.incarnation = from.incarnation;
    m.work_id = from.work_id;
    m.token = from.token;
    m.r = a->response;
    send(std::move(m));
  }

  void sync_tracker() {
    if (leading()) tracker_.sync(lead().sm.claims(), now_);
  }

  // ---- leadership ----

  void elect(int r) {
    leader_ = r;
    ++term_;
    auto& l = lead();
    while (l.applied < log_.size()) apply_next(l);
    tracker_ = work::lease_tracker(tracker_options());
    for (const auto& w : swim_dead_) tracker_.node_dead(w);
    sync_tracker();
    leader_since_ = now_;
    narrate("replica ", r, " leads term ", term_);
  }

  work::lease_tracker::options tracker_options() const {
    work::lease_tracker::options o;
    o.retry_ms = 1000;
    o.progress_interval_ms = 1000;
    return o;
  }

  void fail_over() {
    ++out_.counted.failovers;
    narrate("leader ", leader_, " fails");
    const int old = leader_;
    leader_ = -1;
    // Uncommitted proposals: some were replicated and commit under the next leader, the rest are
    // gone. Either way nobody hears back from the old leader.
    std::vector<proposal> kept;
    for (auto& p : proposals_) {
      if (chance(rng_, 0.5)) {
        ++out_.counted.lost_proposals;
        continue;
      }
      p.from = origin{};
      kept.push_back(std::move(p));
    }
    proposals_ = std::move(kept);
    elect_at_ = now_ + between(rng_, 100, 1000);
    int next = static_cast<int>(rng_() % replicas_.size());
    if (next == old) next = (next + 1) % static_cast<int>(replicas_.size());
    next_leader_ = next;
  }

  // ---- the network ----

  bool reachable(int w) const {
    const auto& k = workers_[static_cast<std::size_t>(w)];
    return k.alive && k.partitioned_until < now_;
  }

  void send(message m) {
    if (!reachable(m.worker) || chance(net_rng_, sched_.drop)) {
      ++out_.counted.dropped;
      return;
    }
    m.at = now_ + between(net_rng_, 1, sched_.max_delay);
    m.order = ++order_;
    net_.push_back(std::move(m));
    std::push_heap(net_.begin(), net_.end(), std::greater<>());
  }

  void deliver_due() {
    while (out_.ok && !net_.empty() && net_.front().at <= now_) {
      std::pop_heap(net_.begin(), net_.end(), std::greater<>());
      message m = std::move(net_.back());
      net_.pop_back();
      auto& k = workers_[static_cast<std::size_t>(m.worker)];
      if (!reachable(m.worker) || m.incarnation != k.incarnation) continue;  // cut off, or a past life
      switch (m.k) {
        case kind::claim:
        case kind::complete:
        case kind::fail:
        case kind::heartbeat:
        case kind::reconcile:
          at_leader(std::move(m));
          break;
        default:
          at_worker(k, m);
      }
    }
  }

  // ---- the leader's side ----

  void at_leader(message m) {
    if (!leading()) return;
    auto& k = workers_[static_cast<std::size_t>(m.worker)];
    origin from;
    from.who = origin::worker;
    from.worker_index = m.worker;
    from.incarnation = m.incarnation;
    from.work_id = m.work_id;
    from.token = m.token;
    switch (m.k) {
      case kind::claim: {
        work::claim_command c;
        c.node.node_id = k.id;
        c.node.gpus = k.gpus;
        c.node.labels = {{"zone", k.zone}};
        c.node.memory_gb = 16;
        c.max_items = m.max_items;
        c.request_id = m.request_id;
        c.term = term_;
        c.now = now_;
        from.reply = kind::claim_reply;
        from.token = m.request_id;
        propose(c, from);
        break;
      }
      case kind::complete:
        from.reply = kind::complete_reply;
        propose(work::complete_command{m.work_id, m.token, m.text, now_}, from);
        break;
      case kind::fail:
        from.reply = kind::fail_reply;
        propose(work::fail_command{m.work_id, m.token, m.text, m.retryable, now_}, from);
        break;
      case kind::heartbeat: {
        const auto v = tracker_.heartbeat(m.work_id, m.token, true, now_);
        if (v.valid) last_heartbeat_[m.work_id] = {m.token, now_};
        if (v.propose) {
          work::heartbeat_command c{m.work_id, m.token, true, 0.5, "half way", now_};
          propose(c, origin{});
        }
        message reply;
        reply.k = kind::heartbeat_reply;
        reply.worker = m.worker;
        reply.incarnation = m.incarnation;
        reply.work_id = m.work_id;
        reply.token = m.token;
        reply.valid = v.valid;
        send(std::move(reply));
        break;
      }
      case kind::reconcile: {
        message reply;
        reply.k = kind::reconcile_reply;
        reply.worker = m.worker;
        reply.incarnation = m.incarnation;
        reply.items = lead().sm.claimed_by(k.id);
        send(std::move(reply));
        break;
      }
      default:
        break;
    }
  }

  void leader_duties() {
    if (!leading()) return;
    if (fault_ != fault_switch::no_expiry)
      for (const auto& a : tracker_.due(now_)) {
        narrate("leader proposes ", work::action_kind_name(a.kind), " of ", a.work_id, " ", a.claim_token);
        if (a.kind == work::lease_tracker::action_kind::timeout)
          propose(work::timeout_command{a.work_id, a.claim_token, now_}, origin{});
        else
          propose(work::expire_command{a.work_id, a.claim_token,
                                       a.kind == work::lease_tracker::action_kind::expire_lease
                                           ? work::expire_reason::lease_expired
                                           : work::expire_reason::claimant_dead,
                                       now_},
                  origin{});
      }
    if (now_ >= next_archive_) {
      propose(work::archive_command{now_ - sched_.retention, 50, now_}, origin{});
      next_archive_ = now_ + sched_.archive_every;
    }
  }

  // ---- the workers' side ----

  void at_worker(worker& k, const message& m) {
    switch (m.k) {
      case kind::claim_reply: {
        if (m.token != k.request_id) return;  // an answer to a request given up on
        k.request_id.clear();
        k.request_tries = 0;
        k.next_claim = now_ + between(rng_, 50, 300);
        if (m.r.replayed) ++out_.counted.replayed_claims;
        for (const auto& x : m.r.items) take(k, x);
        break;
      }
      case kind::heartbeat_reply: {
        auto it = k.items.find(m.work_id);
        if (!m.valid && it != k.items.end() && it->second.token == m.token) {
          narrate(k.id, " lost its claim on ", m.work_id, ": stops it");
          k.items.erase(it);
        }
        break;
      }
      case kind::complete_reply:
      case kind::fail_reply: {
        auto it = k.items.find(m.work_id);
        if (m.k == kind::complete_reply) completion_answered(k, m);
        if (it == k.items.end() || it->second.token != m.token || !it->second.done) return;  // answered already
        k.items.erase(it);
        break;
      }
      case kind::reconcile_reply:
        if (k.reconcile_until < 0) return;
        k.reconcile_until = -1;
        // Nothing of a past life runs any more: hand the claims back.
        for (const auto& x : m.items) {
          message f;
          f.k = kind::fail;
          f.worker = static_cast<int>(&k - workers_.data());
          f.incarnation = k.incarnation;
          f.work_id = x.work_id;
          f.token = x.claim_token;
          f.text = "runner restarted";
          send(std::move(f));
        }
        break;
      default:
        break;
    }
  }

  void completion_answered(worker& k, const message& m) {
    const auto& r = m.r;
    const bool counted = r.ok() && (r.status == "completed" || r.status == "duplicate");
    if (r.status == "duplicate") ++out_.counted.duplicates;
    if (r.result == work::code::conflict) ++out_.counted.stale_completions;
    if (!counted && !(fault_ == fault_switch::count_stale_completions && r.result == work::code::conflict)) return;
    auto [it, fresh] = confirmed_.try_emplace(m.work_id, confirmation{k.id, m.token});
    if (!fresh && (it->second.node != k.id || it->second.token != m.token))
      violated(cat("item ", m.work_id, " counted as completed by ", it->second.node, " (", it->second.token, ") and by ",
                   k.id, " (", m.token, ")"));
  }

  void take(worker& k, const work::item& x) {
    held h;
    h.token = x.claim_token;
    const bool may_hang = x.timeout_s > 0 && hanging_allowed_;
    const double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (may_hang && roll < sched_.hang_rate) h.plan = held::hang;
    else if (failures_allowed_ && roll < sched_.hang_rate + sched_.fail_rate) h.plan = held::fail;
    else if (failures_allowed_ && roll < sched_.hang_rate + sched_.fail_rate + sched_.fatal_rate) h.plan = held::fatal;
    const time_ms limit = x.timeout_s > 0 ? static_cast<time_ms>(x.timeout_s) * 1000 / 2 : 2500;
    h.finish_at = now_ + between(rng_, 100, std::max<time_ms>(limit, 200));
    h.next_heartbeat = now_;
    k.items[x.work_id] = h;
    narrate(k.id, " runs ", x.work_id, " with ", x.claim_token);
  }

  void worker_step(int w) {
    auto& k = workers_[static_cast<std::size_t>(w)];
    if (!k.alive) {
      if (k.restart_at >= 0 && k.restart_at <= now_) restart_worker(w);
      return;
    }
    if (k.reconcile_until >= 0) {
      if (now_ < k.reconcile_until) return;
      message m;  // the answer was lost: ask again
      m.k = kind::reconcile;
      m.worker = w;
      m.incarnation = k.incarnation;
      send(std::move(m));
      k.reconcile_until = now_ + retry_ms;
      return;
    }
    for (auto& [id, h] : k.items) {
      if (!h.done && h.plan != held::hang && now_ >= h.finish_at) {
        h.done = true;
        h.next_report = now_;
      }
      if (!h.done && now_ >= h.next_heartbeat) {
        message m;
        m.k = kind::heartbeat;
        m.worker = w;
        m.incarnation = k.incarnation;
        m.work_id = id;
        m.token = h.token;
        send(std::move(m));
        h.next_heartbeat = now_ + heartbeat_ms;
      }
      if (h.done && now_ >= h.next_report) {
        message m;
        m.worker = w;
        m.incarnation = k.incarnation;
        m.work_id = id;
        m.token = h.token;
        if (h.plan == held::complete) {
          m.k = kind::complete;
          m.text = cat("{\"games_generated\":", 1 + fnv1a(id) % 100, "}");
        } else {
          m.k = kind::fail;
          m.text = "worker error";
          m.retryable = h.plan == held::fail;
        }
        const int copies = m.k == kind::complete && chance(rng_, sched_.duplicate) ? 2 : 1;
        for (int c = 0; c < copies; ++c) send(m);
        h.next_report = now_ + retry_ms;
      }
    }
    const int free_slots = k.slots - static_cast<int>(k.items.size());
    if (free_slots > 0 && now_ >= k.next_claim) {
      if (k.request_id.empty() || k.request_tries >= 3) {
        // A request given up on may still have claimed items: they lapse and are reclaimed.
        k.request_id = cat(k.id, "/", k.incarnation, "/", ++k.requests);
        k.request_tries = 0;
      }
      message m;
      m.k = kind::claim;
      m.worker = w;
      m.incarnation = k.incarnation;
      m.request_id = k.request_id;
      m.max_items = static_cast<std::uint32_t>(free_slots);
      ++k.request_tries;
      send(std::move(m));
      k.next_claim = now_ + retry_ms;
    }
  }

  void crash_worker(int w) {
    auto& k = workers_[static_cast<std::size_t>(w)];
    if (!k.alive) return;
    ++out_.counted.crashes;
    narrate(k.id, " crashes");
    k.alive = false;
    k.items.clear();
    k.request_id.clear();
    k.request_tries = 0;
    k.reconcile_until = -1;
    ++k.incarnation;
    k.restart_at = now_ + between(rng_, 500, 5000);
    verdicts_.push_back({now_ + between(rng_, 300, 1500), w, k.incarnation});
  }

  void restart_worker(int w) {
    auto& k = workers_[static_cast<std::size_t>(w)];
    narrate(k.id, " restarts");
    k.alive = true;
    k.restart_at = -1;
    swim_dead_.erase(k.id);
    if (leading()) tracker_.node_alive(k.id);
    // Reconcile: what does the cluster think this node holds?
    k.reconcile_until = now_;
  }

  // ---- the operator ----

  void operator_step(bool active) {
    if (active && now_ >= next_add_) {
      next_add_ = now_ + between(rng_, sched_.add_every / 2, sched_.add_every * 3 / 2);
      pending_add p;
      const int n = 1 + static_cast<int>(rng_() % 3);
      for (int i = 0; i < n; ++i) p.body.items.push_back(draw_item(i));
      const std::string key = cat("add-", ++adds_made_);
      p.body.idempotency_key = key;
      adds_[key] = std::move(p);
      if (chance(rng_, sched_.cancel_rate * 2) && !created_.empty()) {
        auto it = created_.begin();
        std::advance(it, static_cast<long>(rng_() % created_.size()));
        propose(work::cancel_command{*it, "operator", now_}, origin{});
      }
    }
    for (auto& [key, p] : adds_) {
      if (p.answer || now_ < p.next_try) continue;
      p.body.now = now_;
      origin from;
      from.who = origin::operator_add;
      from.key = key;
      propose(p.body, from);
      p.next_try = now_ + 1000;  // retried with the same key until answered
    }
  }

  work::new_item draw_item(int position) {
    work::new_item n;
    static constexpr const char* types[] = {"selfplay", "training", "gauntlet", "tournament"};
    n.work_type = types[rng_() % 4];
    n.priority = static_cast<int>(rng_() % 101);
    n.lease_s = static_cast<std::uint32_t>(between(rng_, sched_.lease_min_s, sched_.lease_max_s));
    n.max_attempts = static_cast<std::uint32_t>(between(rng_, 1, 4));
    if (chance(rng_, 0.3)) n.timeout_s = static_cast<std::uint32_t>(between(rng_, 2, 6));
    std::string config = "{\"config_key\":\"hex8_2p\"";
    const auto roll = rng_() % 10;
    const auto& someone = workers_[rng_() % workers_.size()];
    if (roll == 0) config.append(",\"target_node\":\"").append(someone.id).append("\"");
    else if (roll == 1) config.append(",\"exclude_nodes\":[\"").append(someone.id).append("\"]");
    else if (roll == 2) config.append(",\"requires\":{\"gpu\":true}");
    else if (roll == 3) config.append(",\"requires\":{\"labels\":{\"zone\":\"").append(someone.zone).append("\"}}");
    n.config = config.append("}");
    if (chance(rng_, sched_.dependency_rate)) {
      if (position > 0 && rng_() % 2) n.depends_on.push_back(cat("#", rng_() % static_cast<std::uint64_t>(position)));
      else if (!created_.empty()) {
        auto it = created_.end();
        std::advance(it, -static_cast<long>(1 + rng_() % std::min<std::size_t>(created_.size(), 5)));
        // Only items the replicated state still holds may be named.
        if (leading() && lead().sm.get(*it)) n.depends_on.push_back(*it);
      }
    }
    return n;
  }

  // ---- faults ----

  void faults() {
    if (now_ >= next_failover_) {
      if (leading()) fail_over();
      next_failover_ = schedule_after(sched_.failover_every);
    }
    if (now_ >= next_crash_) {
      crash_worker(static_cast<int>(rng_() % workers_.size()));
      next_crash_ = schedule_after(sched_.crash_every);
    }
    if (now_ >= next_partition_) {
      auto& k = workers_[rng_() % workers_.size()];
      k.partitioned_until = now_ + between(rng_, 1000, 8000);
      ++out_.counted.partitions;
      narrate(k.id, " is cut off until ", k.partitioned_until - t0);
      next_partition_ = schedule_after(sched_.partition_every);
    }
  }

  void heal() {
    failures_allowed_ = false;
    hanging_allowed_ = false;
    sched_.drop = 0;
    next_failover_ = next_crash_ = next_partition_ = std::numeric_limits<time_ms>::max();
    for (auto& k : workers_) {
      k.partitioned_until = -1;
      if (!k.alive) k.restart_at = now_;
    }
  }

  // ---- one step ----

  void step(bool active) {
    now_ += tick_ms;
    if (!leading() && now_ >= elect_at_) elect(next_leader_);
    for (auto it = verdicts_.begin(); it != verdicts_.end();) {
      if (it->at > now_) {
        ++it;
        continue;
      }
      auto& k = workers_[static_cast<std::size_t>(it->worker)];
      if (!k.alive && k.incarnation == it->incarnation) {
        narrate("SWIM: ", k.id, " is dead");
        swim_dead_.insert(k.id);
        if (leading()) tracker_.node_dead(k.id);
      }
      it = verdicts_.erase(it);
    }
    deliver_due();
    commit_due();
    followers_apply();
    leader_duties();
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) worker_step(w);
    operator_step(active);
    if (active) faults();
    check_leases();
  }

  void followers_apply() {
    for (int i = 0; i < static_cast<int>(replicas_.size()) && out_.ok; ++i) {
      if (i == leader_) continue;
      auto& r = replicas_[static_cast<std::size_t>(i)];
      if (leading() && r.applied + 5 < lead().applied && chance(rng_, sched_.snapshot_install * 50)) {
        // InstallSnapshot: the leader's state replaces a lagging follower's.
        r.sm.restore(lead().sm.snapshot());
        r.applied = lead().applied;
        ++out_.counted.snapshot_installs;
        continue;
      }
      if (chance(rng_, sched_.snapshot_install)) {
        // A restart from its own snapshot.
        const auto snap = r.sm.snapshot();
        r.sm = work::work_queue_state_machine{};
        r.sm.restore(snap);
        if (r.sm.snapshot() != snap) violated(cat("replica ", i, "'s snapshot does not round-trip"));
      }
      for (auto n = rng_() % 6; n > 0 && r.applied < log_.size() && out_.ok; --n) apply_next(r);
    }
  }

  // A claim whose lease lapsed is expired within twice its lease of the last sign of life the
  // current leader had (the claim, a heartbeat, or its own start); a running item over its time
  // limit likewise within a lease of the limit.
  void check_leases() {
    if (!leading() || !out_.ok) return;
    for (const auto& c : lead().sm.claims()) {
      const time_ms lease = static_cast<time_ms>(c.lease_s) * 1000;
      time_ms contact = std::max(c.claimed_at, leader_since_);
      if (auto it = last_heartbeat_.find(c.work_id); it != last_heartbeat_.end() && it->second.first == c.claim_token)
        contact = std::max(contact, it->second.second);
      if (now_ - contact > 2 * lease)
        return violated(cat("the claim ", c.claim_token, " on ", c.work_id, " by ", c.node_id, " outlived its ", c.lease_s,
                            " s lease: no sign of life for ", now_ - contact, " ms"));
      if (c.state == work::status::running && c.timeout_s > 0) {
        const time_ms limit = std::max(c.started_at + static_cast<time_ms>(c.timeout_s) * 1000, leader_since_);
        if (now_ - limit > 2 * lease)
          return violated(cat(c.work_id, " ran ", now_ - limit, " ms past its ", c.timeout_s, " s limit"));
      }
    }
  }

  // ---- the end ----

  std::uint64_t finished() const {
    return out_.counted.completed + out_.counted.failed + out_.counted.timed_out + out_.counted.cancelled;
  }

  bool settled() {
    if (!leading() || !proposals_.empty()) return false;
    for (const auto& [key, p] : adds_)
      if (!p.answer) return false;
    if (lead().sm.active() != 0) return false;
    for (const auto& k : workers_)
      if (!k.items.empty()) return false;
    return true;
  }

  void final_checks() {
    if (!settled()) {
      std::string open;
      for (const auto& x : lead().sm.list({work::status::pending, "", "", 5, ""}).items) open.append(" ").append(x.work_id);
      for (const auto& c : lead().sm.claims()) open.append(" ").append(c.work_id).append("@").append(c.node_id);
      return violated(cat("not settled after healing (nothing finished in the last 20 s): ", lead().sm.active(), " unfinished items (", open,
                          "), ", proposals_.size(), " proposals in flight"));
    }
    for (auto& r : replicas_)
      while (r.applied < log_.size() && out_.ok) apply_next(r);
    const auto snap = lead().sm.snapshot();
    for (std::size_t i = 0; i < replicas_.size(); ++i)
      if (replicas_[i].sm.snapshot() != snap) return violated(cat("replica ", i, " ends in another state"));
    work::work_queue_state_machine fresh;
    fresh.restore(snap);
    if (fresh.snapshot() != snap) return violated("the final snapshot does not round-trip");
    // No item lost: each ended, here or in the archive.
    for (const auto& id : created_) {
      const work::item* x = lead().sm.get(id);
      if (!x) {
        auto it = archive_.find(id);
        if (it == archive_.end()) return violated(cat("item ", id, " vanished"));
        x = &it->second;
      }
      if (!work::is_terminal(x->state)) return violated(cat("item ", id, " ended ", work::status_name(x->state)));
    }
    // Every completion a worker was told of is the item's recorded outcome.
    for (const auto& [id, c] : confirmed_) {
      const work::item* x = lead().sm.get(id);
      if (!x && archive_.contains(id)) x = &archive_.at(id);
      if (!x || x->state != work::status::completed || x->claim_token != c.token || x->claimed_by != c.node)
        return violated(cat(c.node, " was told it completed ", id, " with ", c.token, " but the item is ",
                            x ? work::status_name(x->state) : "gone", " with ", x ? x->claim_token : ""));
    }
    for (const auto& [key, p] : adds_)
      for (const auto& id : *p.answer)
        if (!created_.contains(id)) return violated(cat("the add ", key, " answered ", id, ", which was never created"));
  }

  schedule sched_;
  fault_switch fault_;
  std::mt19937_64 rng_, net_rng_;
  time_ms now_ = t0;
  std::vector<replica> replicas_;
  std::vector<std::string> log_;
  std::vector<std::uint64_t> answers_;  // entry i's answer digest at i - 1
  std::map<std::uint64_t, std::uint64_t> checkpoints_;  // entry -> state digest
  std::vector<proposal> proposals_;
  int leader_ = -1, next_leader_ = 0;
  std::uint64_t term_ = 0;
  time_ms leader_since_ = 0, elect_at_ = 0;
  work::lease_tracker tracker_;
  std::vector<message> net_;  // a min-heap on (at, order)
  std::uint64_t order_ = 0;
  std::vector<worker> workers_;
  struct verdict {
    time_ms at;
    int worker;
    std::uint64_t incarnation;
  };
  std::vector<verdict> verdicts_;  // SWIM's, on their way
  std::set<std::string> swim_dead_;
  std::map<std::string, pending_add> adds_;
  std::uint64_t adds_made_ = 0;
  time_ms next_add_ = 0, next_failover_ = 0, next_crash_ = 0, next_partition_ = 0, next_archive_ = 0;
  bool failures_allowed_ = true, hanging_allowed_ = true;

  // Checks' memory.
  std::set<std::string> created_;
  std::map<std::string, int> completions_;
  struct confirmation {
    std::string node, token;
  };
  std::map<std::string, confirmation> confirmed_;
  std::map<std::string, work::item> archive_;
  std::map<std::string, std::pair<std::string, time_ms>> last_heartbeat_;  // work id -> (token, when)
  outcome out_;
  int verbose_ = verbosity();
};

inline outcome run_schedule(std::uint64_t seed, fault_switch fault = fault_switch::none) {
  queue_cluster c(schedule::draw(seed), fault);
  return c.run();
}

}  // namespace p2p::work_sim
