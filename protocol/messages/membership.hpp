#pragma once
// Typed messages of membership: the swim, gossip and peers actors (DESIGN.md §4 "Membership").
// Those marked "wire" cross the cluster port; the others stay inside one node.
#include <caf/message.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/gossip/gossip.hpp"
#include "protocol/swim/swim.hpp"

namespace p2p::swim {
template <class F> auto inspect(F& f, update& x) {
  return f(x.state, x.node, x.incarnation, x.from, x.address);
}
template <class F> auto inspect(F& f, message& x) {
  return f(x.kind, x.seq, x.from, x.target, x.piggyback);
}
}  // namespace p2p::swim

namespace p2p::gossip {
template <class F> auto inspect(F& f, version& x) { return f(x.boot_epoch, x.counter); }
template <class F> auto inspect(F& f, record& x) { return f(x.id, x.node_uuid, x.ver, x.info_json); }
template <class F> auto inspect(F& f, digest_entry& x) { return f(x.id, x.node_uuid, x.ver); }
}  // namespace p2p::gossip

namespace p2p::msg {

// ---- directory (wire): who a cluster port belongs to, and delivery to its domain actors ------

struct identify_request {};
struct node_identity {
  std::string node_id;
  std::string node_uuid;
  std::string cluster_endpoint;
};

// Delivered by the receiving node's directory to its domain actor `domain`, keeping the
// original sender (replies go straight back). Refused when `to_node` is not that node.
struct routed {
  std::string to_node;
  std::string domain;
  caf::message payload;
};

// ---- peers (local): the one path to other nodes ----------------------------------------------

// Where a node's cluster port is, learned from gossip, SWIM packets or seeds.
struct peer_endpoint {
  std::string node_id;
  std::string endpoint;
};
// One-way delivery of `payload` to `domain` on `node_id`; dropped (and counted) when the node
// cannot be reached, as SWIM and gossip expect of a datagram.
struct peer_send {
  std::string node_id;
  std::string domain;
  caf::message payload;
};
// A request to `domain` on `node_id`: the remote domain actor's reply (or an error) is the
// reply. The caller's request timeout bounds it.
struct peer_request {
  std::string node_id;
  std::string domain;
  caf::message payload;
};
// Connects to a cluster endpoint whose node id is not known yet (a seed) -> node_identity.
struct peer_connect {
  std::string endpoint;
};
struct peers_request {};
struct peer_status {
  std::string node_id;
  std::string endpoint;
  std::string connection;  // "connected", "connecting", "backoff", "idle"
  std::string since;       // RFC 3339: when the connection state was entered
  std::uint64_t connects = 0;
  std::uint64_t dropped = 0;  // one-way messages that could not be delivered
  std::string last_error;
};
struct peers_reply {
  std::vector<peer_status> peers;
};

// ---- swim --------------------------------------------------------------------------------------

// Wire: a SWIM message with where its sender listens (so the receiver can answer).
struct swim_packet {
  std::string from_endpoint;
  swim::message body;
};
// Local, from gossip: a node and where it listens, with what it runs (for HOST_* events).
struct swim_learn {
  std::string node_id;
  std::string endpoint;
  std::vector<std::string> work_types;
  bool fresh = false;  // a record gossip just accepted (not a re-introduction)
};
struct swim_forget {
  std::string node_id;
};
// Local, from the peers actor: the connection to a node broke. A hint to probe it now.
struct peer_lost {
  std::string node_id;
};
struct swim_bulk_backlog {
  bool outstanding = false;
};
// Local: the sender receives a membership_change now for every member and later for every
// verdict, until it exits.
struct swim_subscribe {};
struct membership_change {
  std::string node_id;
  swim::member_state state = swim::member_state::alive;
  std::uint64_t incarnation = 0;
  std::string endpoint;
};
struct swim_leave_request {};  // -> swim_leave_reply once the leave is told (node shutdown)
struct swim_leave_reply {
  bool acknowledged = false;  // false: the members told did not all answer in time
};

struct swim_status_request {};
struct swim_status_reply {
  std::string node_id;
  std::uint64_t incarnation = 0;
  std::string profile;
  std::int64_t local_health = 0;
  std::uint64_t alive = 0, suspect = 0, dead = 0, left = 0;  // this node counts as alive
  std::uint64_t suspicions = 0, refutations = 0;            // since start
};
struct swim_members_request {};
struct swim_member {
  std::string node_id;
  std::string state;
  std::uint64_t incarnation = 0;
  std::string address;
  std::string since;  // RFC 3339
};
struct swim_members_reply {
  std::vector<swim_member> members;
};

// ---- gossip ------------------------------------------------------------------------------------

// Wire (and POST /gossip, /gossip/anti-entropy). `hash`: is your digest hash this one? (an idle
// round costs one small message). `digest`: here is what I hold (and maybe records for you);
// answer with what I lack and what you want. `push`: records only, answered with an empty
// delta. `full` (anti-entropy): answer with everything you hold, whatever my digest says. One
// chunk per reply: `next_after` names the last record sent when more follow, and comes back as
// `after`.
enum class exchange_kind : std::uint8_t { digest, push, full, hash };
struct gossip_exchange {
  std::string from;
  exchange_kind kind = exchange_kind::digest;
  std::uint64_t digest_hash = 0;  // 0 or the sender's digest hash: equal hashes end the round
  gossip::digest digest;
  std::vector<gossip::record> records;
  std::string after;
};
struct gossip_delta {
  bool in_sync = false;  // the hashes matched: nothing to exchange
  std::vector<gossip::record> records;
  std::vector<std::string> wanted;
  std::string next_after;
};
struct gossip_peers_request {};
struct gossip_peer {
  gossip::record rec;
  std::string swim_state;  // "" when SWIM does not know it (yet)
  std::string connection;  // from the peers actor; "self" for this node
};
struct gossip_peers_reply {
  std::string node_id;
  bool joined = false;
  std::vector<gossip_peer> peers;
};

template <class F> auto inspect(F& f, identify_request&) { return f(); }
template <class F> auto inspect(F& f, node_identity& x) {
  return f(x.node_id, x.node_uuid, x.cluster_endpoint);
}
template <class F> auto inspect(F& f, routed& x) { return f(x.to_node, x.domain, x.payload); }
template <class F> auto inspect(F& f, peer_endpoint& x) { return f(x.node_id, x.endpoint); }
template <class F> auto inspect(F& f, peer_send& x) { return f(x.node_id, x.domain, x.payload); }
template <class F> auto inspect(F& f, peer_request& x) { return f(x.node_id, x.domain, x.payload); }
template <class F> auto inspect(F& f, peer_connect& x) { return f(x.endpoint); }
template <class F> auto inspect(F& f, peers_request&) { return f(); }
template <class F> auto inspect(F& f, peer_status& x) {
  return f(x.node_id, x.endpoint, x.connection, x.since, x.connects, x.dropped, x.last_error);
}
template <class F> auto inspect(F& f, peers_reply& x) { return f(x.peers); }
template <class F> auto inspect(F& f, swim_packet& x) { return f(x.from_endpoint, x.body); }
template <class F> auto inspect(F& f, swim_learn& x) {
  return f(x.node_id, x.endpoint, x.work_types, x.fresh);
}
template <class F> auto inspect(F& f, swim_forget& x) { return f(x.node_id); }
template <class F> auto inspect(F& f, peer_lost& x) { return f(x.node_id); }
template <class F> auto inspect(F& f, swim_bulk_backlog& x) { return f(x.outstanding); }
template <class F> auto inspect(F& f, swim_subscribe&) { return f(); }
template <class F> auto inspect(F& f, membership_change& x) {
  return f(x.node_id, x.state, x.incarnation, x.endpoint);
}
template <class F> auto inspect(F& f, swim_leave_request&) { return f(); }
template <class F> auto inspect(F& f, swim_leave_reply& x) { return f(x.acknowledged); }
template <class F> auto inspect(F& f, swim_status_request&) { return f(); }
template <class F> auto inspect(F& f, swim_status_reply& x) {
  return f(x.node_id, x.incarnation, x.profile, x.local_health, x.alive, x.suspect, x.dead, x.left,
           x.suspicions, x.refutations);
}
template <class F> auto inspect(F& f, swim_members_request&) { return f(); }
template <class F> auto inspect(F& f, swim_member& x) {
  return f(x.node_id, x.state, x.incarnation, x.address, x.since);
}
template <class F> auto inspect(F& f, swim_members_reply& x) { return f(x.members); }
template <class F> auto inspect(F& f, gossip_exchange& x) {
  return f(x.from, x.kind, x.digest_hash, x.digest, x.records, x.after);
}
template <class F> auto inspect(F& f, gossip_delta& x) {
  return f(x.in_sync, x.records, x.wanted, x.next_after);
}
template <class F> auto inspect(F& f, gossip_peers_request&) { return f(); }
template <class F> auto inspect(F& f, gossip_peer& x) { return f(x.rec, x.swim_state, x.connection); }
template <class F> auto inspect(F& f, gossip_peers_reply& x) { return f(x.node_id, x.joined, x.peers); }

}  // namespace p2p::msg
