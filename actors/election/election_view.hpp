#pragma once
// The view of leadership one node holds (DESIGN.md §4), as pure bookkeeping with time as an
// input: no actors, clocks or sockets. Raft decides who leads; this only spreads and checks it.
//
// - On a Raft member (voter or learner) the view is Raft's: the leader it follows and the term.
// - On any other node it is what the latest heartbeat said, for as long as that heartbeat's lease
//   lasts; after that it names no leader (never a stale one). An older term's heartbeat does not
//   replace a newer one whose lease still runs.
// - The leader keeps each alive member's last vote of allegiance: members that did not answer,
//   never voted, or named another leader or term are stragglers, to be announced to again.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::election {

using node_id = std::string;
using term_t = std::uint64_t;
using time_ms = std::int64_t;

// How often the leader announces itself, and how long a member trusts one announcement.
struct timing {
  std::string name;
  time_ms heartbeat;
  time_ms lease;
};
// The --raft-profile names: "test", "lan", "wan"; nullopt for others.
std::optional<timing> timing_named(std::string_view name);

// A heartbeat may not make a node trust it for longer than this, whatever it claims.
constexpr time_ms max_lease = 60000;

enum class role { leader, follower, candidate, non_voter };
std::string_view role_name(role r);
std::optional<role> role_named(std::string_view name);

struct endpoints {
  std::string http;
  std::string cluster;
};

struct heartbeat {
  node_id leader;
  term_t term = 0;
  time_ms lease = 0;  // how long the receiver may trust it, from receipt
  endpoints where;
};

// "I follow `leader` in `term`" (leader empty: none known).
struct vote {
  node_id node;
  node_id leader;
  term_t term = 0;
};

// Raft's word on this node.
struct raft_word {
  role r = role::non_voter;
  node_id leader;
  term_t term = 0;
  bool member = false;  // a voter or learner: Raft is the truth about its leader
};

struct leadership {
  node_id leader;  // empty: none known
  term_t term = 0;
  time_ms lease_remaining = 0;
  endpoints where;  // the leader's, when known
};

struct member_vote {
  node_id node;
  node_id leader;  // from its last vote; empty when it named none or has not voted
  term_t term = 0;
  std::optional<time_ms> voted_at;
};

struct vote_verdict {
  bool recorded = false;  // this node leads and the voter is an alive member
  bool follower = false;  // it names this leader and term
};

struct status {
  node_id self;
  role r = role::non_voter;
  leadership current;
  std::vector<node_id> followers;   // leader only
  std::vector<node_id> stragglers;  // leader only
  std::vector<member_vote> members; // leader only
};

class view {
 public:
  view(node_id self, timing t, endpoints own);

  void raft_changed(raft_word word);
  const raft_word& raft() const { return raft_; }
  bool leading() const { return raft_.r == role::leader; }
  const timing& times() const { return timing_; }

  // A leader's heartbeat arrived at `now`; the answer is this node's vote of allegiance.
  vote heartbeat_received(const heartbeat& hb, time_ms now);

  // SWIM's verdicts: the members a leader announces itself to (alive or suspect; dead and left
  // members leave the books).
  void member_alive(const node_id& node);
  void member_gone(const node_id& node);
  std::vector<node_id> alive_members() const;

  // Leader: the heartbeat to send now (its lease starts now).
  heartbeat heartbeat_to_send(time_ms now);
  // Leader: a member's vote came back.
  vote_verdict vote_received(const vote& v, time_ms now);
  // Leader: a member did not answer its heartbeat.
  void no_answer(const node_id& node);
  bool straggler(const node_id& node) const;
  std::vector<node_id> followers() const;
  std::vector<node_id> stragglers() const;

  // The view's answer: Raft's on members, the heartbeats' elsewhere.
  leadership current(time_ms now) const;
  // What heartbeats say, while their lease lasts (the leader is empty after it).
  leadership heard(time_ms now) const;
  // When the heard view lapses on its own (nullopt: nothing heard, or already lapsed).
  std::optional<time_ms> heard_until(time_ms now) const;
  vote own_vote(time_ms now) const;
  status snapshot(time_ms now) const;

 private:
  struct heard_heartbeat {
    heartbeat hb;
    time_ms received = 0;
  };
  struct tracked {
    std::optional<vote> last;
    time_ms voted_at = 0;
    bool unanswered = false;  // the latest heartbeat to it got no answer
  };
  bool heard_live(time_ms now) const { return heard_ && now < heard_->received + heard_->hb.lease; }
  bool follows_us(const tracked& t) const;

  node_id self_;
  timing timing_;
  endpoints own_;
  raft_word raft_;
  std::optional<heard_heartbeat> heard_;
  std::map<node_id, tracked> members_;  // alive members other than this node
  std::optional<time_ms> lease_sent_at_;  // leader: when its latest heartbeat went out
};

}  // namespace p2p::election
