#pragma once
// SWIM failure detection with the Lifeguard extensions, as a pure state machine: time and
// messages are inputs, messages to send and membership verdicts are outputs. No clocks, sockets
// or actors; the swim actor drives it and the simulator tests it.
//
// Lifeguard (Dadgar et al., 2018) as in memberlist: local health awareness widens a slow node's
// own probe interval and timeouts, indirect probes answer with nacks so the prober can tell its
// own slowness from the target's, and suspicion timeouts start long and shrink as independent
// suspicions confirm them.
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::swim {

using node_id = std::string;
using time_ms = std::int64_t;

// Timing and fan-out; memberlist's DefaultLANConfig is the `lan` starting point.
struct profile {
  std::string name;
  time_ms probe_interval;    // memberlist ProbeInterval
  time_ms probe_timeout;     // ProbeTimeout
  int indirect_checks;       // IndirectChecks (k)
  int retransmit_mult;       // RetransmitMult (lambda)
  int suspicion_mult;        // SuspicionMult
  int suspicion_max_mult;    // SuspicionMaxTimeoutMult
  int awareness_max;         // AwarenessMaxMultiplier
  std::size_t max_piggyback; // updates carried per message
  time_ms gossip_interval;   // GossipInterval: queued updates also go out this often...
  int gossip_nodes;          // GossipNodes: ...to this many random members
  time_ms push_pull_interval; // PushPullInterval: full state exchange with one random member
  // serf's ReconnectInterval: a full state exchange with one random dead member, so both sides
  // of a healed partition hear each other again (the one that was declared dead refutes).
  time_ms reconnect_interval;
  // Lifeguard's three extensions (local health, confirmed suspicions with nacks, the buddy
  // system); off gives plain SWIM, kept for comparison.
  bool lifeguard = true;
};

// "test", "local", "lan", "wan"; nullopt for other names.
std::optional<profile> profile_named(std::string_view name);

// The analytic bound for every member to hold a crashed one dead: a probe interval until
// someone probes it, the probe timeout, the minimum suspicion timeout for N members (reached
// once suspicions are confirmed), and ceil(3 log2 N) protocol rounds (probe intervals) of
// dissemination. Gossip every gossip interval usually spreads the news much faster; the rounds
// also cover the chance that no member happens to probe the crashed one in the first interval.
time_ms detection_bound(const profile& p, std::size_t n);

enum class member_state { alive, suspect, dead, left };
std::string_view state_name(member_state s);

// A membership claim spread by piggybacking.
struct update {
  member_state state = member_state::alive;
  node_id node;
  std::uint64_t incarnation = 0;
  node_id from;         // who claims it (suspicion confirmations count distinct claimers)
  std::string address;  // for alive claims: where the node listens
};

// `gossip` carries only piggybacked updates and needs no answer. `sync` carries the sender's
// whole membership and is answered by a `sync_reply` with the receiver's (push-pull).
enum class message_kind { ping, ack, ping_req, nack, gossip, sync, sync_reply };

struct message {
  message_kind kind = message_kind::ping;
  std::uint64_t seq = 0;
  node_id from;
  node_id target;  // ping_req: whom to probe
  std::vector<update> piggyback;
};

struct outgoing {
  node_id to;
  message msg;
};

struct member {
  node_id id;
  std::string address;
  member_state state = member_state::alive;
  std::uint64_t incarnation = 0;
  time_ms since = 0;  // when the state was entered
  // While suspect: when the suspicion started and who confirmed it.
  time_ms suspected_at = 0;
  std::set<node_id> confirmations;
};

// A verdict about a member changed (the one source of membership verdicts).
struct verdict {
  node_id node;
  member_state state;
  std::uint64_t incarnation;
  time_ms at;
};

class detector {
 public:
  detector(node_id self, std::string address, profile p, std::uint64_t seed, time_ms now);

  // Adds a member learned from seeds or gossip (alive at incarnation 0 unless known). With
  // `announce` a member new to us is also spread as an alive claim, so every node hears of a
  // newcomer within a few gossip intervals whatever path gossip took.
  void add_member(const node_id& id, const std::string& address, time_ms now, bool announce = false);
  void receive(const message& m, time_ms now);
  // Advances timers: probes, probe timeouts, suspicion expiry. Call at least every
  // `tick_interval()`.
  void tick(time_ms now);
  // Announces a graceful leave: the claim goes out at once in pings to up to
  // retransmit_limit() members; the node keeps answering pings until it stops.
  void leave(time_ms now);
  // True once the leave has been acknowledged by the members told directly (or, when some do
  // not answer, after a probe interval): the node may stop.
  bool leave_settled(time_ms now) const;
  // Probes `id` now, besides the regular probe of this interval: a hint that it may be gone
  // (its connection broke) gets checked at once. The verdict still comes from the probe.
  void probe_now(const node_id& id, time_ms now);
  // Removes a member that has been dead or gone long enough to forget (gossip expiry).
  void forget(const node_id& id);
  // Lifeguard counts outstanding bulk sends (snapshots, anti-entropy) as load: while any are
  // in flight our own probe timeouts widen by one health level.
  void set_bulk_backlog(bool outstanding) { bulk_backlog_ = outstanding; }
  // The earliest time at which tick() has something to do; callers may sleep until then
  // (or until a message arrives).
  time_ms next_deadline() const;

  std::vector<outgoing> take_outbox();
  std::vector<verdict> take_verdicts();

  const std::map<node_id, member>& members() const { return members_; }
  std::uint64_t incarnation() const { return incarnation_; }
  // Lifeguard's local health score (0 = healthy), including the bulk backlog.
  int local_health() const;
  bool leaving() const { return leaving_; }
  const profile& settings() const { return profile_; }
  time_ms tick_interval() const { return std::max<time_ms>(1, profile_.probe_timeout / 5); }
  // Current suspicion timeout for a suspicion with `confirmations` independent confirmations.
  time_ms suspicion_timeout(std::size_t confirmations) const;
  // The retransmit limit for piggybacked updates: lambda * ceil(log10(N + 1)).
  int retransmit_limit() const;

 private:
  struct probe {
    node_id target;
    std::uint64_t seq = 0;
    time_ms started = 0;
    bool indirect_sent = false;
    int nacks_expected = 0;
    int nacks_received = 0;
    bool regular = true;  // the interval's probe (false: probe_now)
  };
  struct relay {  // a ping we send on behalf of someone's ping_req
    node_id origin;
    std::uint64_t origin_seq = 0;
    time_ms started = 0;
  };
  struct queued_update {
    update u;
    int transmits = 0;
    std::uint64_t order = 0;  // newer updates go first among equally sent ones
  };

  time_ms scaled(time_ms base) const { return base * (1 + local_health()); }
  void adjust_health(int delta);
  void start_probe(time_ms now);
  void gossip(time_ms now);
  std::vector<update> full_state() const;
  void merge_state(const message& m, time_ms now);
  void enqueue_probe(const node_id& id);
  void finish_probe(const probe& p, time_ms now);
  void send_probe(const node_id& target, bool regular, time_ms now);
  bool probing(const node_id& target) const;
  void send(const node_id& to, message m);
  void broadcast(update u);
  void apply(const update& u, time_ms now);
  void set_state(member& m, member_state s, std::uint64_t incarnation, time_ms now);
  void refute(std::uint64_t claimed, time_ms now);
  std::vector<node_id> live_peers(const node_id& except) const;
  std::size_t cluster_size() const;

  node_id self_;
  std::string address_;
  profile profile_;
  std::mt19937_64 rng_;
  std::uint64_t incarnation_ = 0;
  int health_ = 0;
  bool leaving_ = false;
  bool bulk_backlog_ = false;
  time_ms leave_started_ = 0;
  std::set<std::uint64_t> leave_pending_;  // seqs of the leave pings not yet acknowledged
  std::uint64_t next_seq_ = 1;
  std::map<node_id, member> members_;
  std::vector<node_id> probe_order_;
  std::size_t probe_index_ = 0;
  time_ms next_probe_at_ = 0;
  time_ms next_gossip_at_ = 0;
  time_ms next_sync_at_ = 0;
  time_ms next_reconnect_at_ = 0;
  std::vector<probe> probes_;  // in flight
  std::map<std::uint64_t, relay> relays_;  // by our seq
  std::vector<queued_update> broadcasts_;
  std::uint64_t broadcast_order_ = 0;
  std::set<node_id> suspects_;  // members in state suspect, so ticks need not scan everyone
  std::vector<outgoing> outbox_;
  std::vector<verdict> verdicts_;
};

}  // namespace p2p::swim
