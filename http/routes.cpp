#include "http/routes.hpp"

#include <array>

namespace p2p::http {

std::string_view verb_name(verb v) {
  switch (v) {
    case verb::get: return "GET";
    case verb::post: return "POST";
    case verb::put: return "PUT";
    case verb::patch: return "PATCH";
    case verb::del: return "DELETE";
    case verb::head: return "HEAD";
    case verb::options: return "OPTIONS";
    case verb::other: return "OTHER";
  }
  return "OTHER";
}

std::string_view placement_name(placement p) {
  switch (p) {
    case placement::local: return "local";
    case placement::leader_write: return "leader-write";
    case placement::leader_read: return "leader-read";
  }
  return "local";
}

namespace {

using ft = field_type;

constexpr std::array<std::string_view, 5> log_levels{"trace", "debug", "info", "warn", "error"};

const field_spec health_reply[] = {
    {"status", ft::string, true, "\"ok\", or \"draining\" (with status 503) while shutting down"},
    {"node_id", ft::string, true, "this node's id"},
    {"node_uuid", ft::string, true, "this node's persistent uuid"},
    {"boot_epoch", ft::integer, true, "how many times this data dir has started a node"},
    {"uptime_s", ft::number, true, "seconds since the node started"},
    {"version", ft::string, true, "software version"},
    {"wire_version", ft::integer, true, "cluster protocol version"},
};

const field_spec shutdown_request[] = {
    {"drain_timeout_s", ft::number, false,
     "seconds to let in-flight work finish before the node exits (default 10)", {}, 0.0, 3600.0},
};
const field_spec shutdown_reply[] = {
    {"status", ft::string, true, "\"draining\""},
    {"drain_timeout_s", ft::number, true, "the deadline the node exits by"},
};

const field_spec status_reply[] = {
    {"node", ft::object, true,
     "node_id, node_uuid, boot_epoch, version, wire_version, started_at, uptime_s, draining"},
    {"endpoints", ft::object, true, "http and cluster endpoints (host:port; cluster null if off)"},
    {"cluster", ft::object, true, "seeds, voters, tls, insecure_cluster"},
    {"actors", ft::array, true, "each actor in the directory: name, restarts, last_error"},
    {"events", ft::object, true, "last_seq, retained, subscribers"},
    {"log_level", ft::string, true, "current log level"},
};

const field_spec log_level_request[] = {
    {"level", ft::string, true, "new log level", {}, {}, {}, log_levels},
};
const field_spec log_level_reply[] = {
    {"level", ft::string, true, "the level now in force"},
    {"previous", ft::string, true, "the level before"},
};

const field_spec events_query[] = {
    {"types", ft::string, false, "comma-separated event types to deliver (default: all)"},
    {"last_event_id", ft::integer, false,
     "resume after this sequence number (same as the Last-Event-ID header)", {}, 0.0, {}},
};

const field_spec swim_status_reply[] = {
    {"node_id", ft::string, true, "this node's id"},
    {"incarnation", ft::integer, true, "this node's SWIM incarnation (raised to refute suspicion)"},
    {"profile", ft::string, true, "SWIM timing profile: test, local, lan or wan"},
    {"local_health", ft::integer, true, "Lifeguard's local health score; 0 is healthy"},
    {"alive", ft::integer, true, "members alive, this node included"},
    {"suspect", ft::integer, true, "members suspected"},
    {"dead", ft::integer, true, "members declared dead"},
    {"left", ft::integer, true, "members that left gracefully"},
    {"suspicions", ft::integer, true, "suspicions this node has seen since it started"},
    {"refutations", ft::integer, true, "times this node refuted a suspicion about itself"},
};
const field_spec swim_member_fields[] = {
    {"node_id", ft::string, true, "member id"},
    {"state", ft::string, true, "alive, suspect, dead or left"},
    {"incarnation", ft::integer, true, "the member's incarnation as last heard"},
    {"address", ft::string, true, "its cluster endpoint (host:port)"},
    {"since", ft::string, true, "when it entered this state (RFC 3339)"},
};
const field_spec swim_members_reply[] = {
    {"members", ft::array, true, "every member SWIM knows, this node first", swim_member_fields},
};
const field_spec digest_fields[] = {
    {"node_id", ft::string, true, "origin node"},
    {"node_uuid", ft::string, true, "the origin process's uuid"},
    {"boot_epoch", ft::integer, true, "the origin's boot epoch", {}, 0.0, {}},
    {"counter", ft::integer, true, "the origin's counter within the boot epoch", {}, 0.0, {}},
};
const field_spec record_fields[] = {
    {"node_id", ft::string, true, "origin node"},
    {"node_uuid", ft::string, true, "the origin process's uuid"},
    {"boot_epoch", ft::integer, true, "the origin's boot epoch", {}, 0.0, {}},
    {"counter", ft::integer, true, "the origin's counter within the boot epoch", {}, 0.0, {}},
    {"info", ft::object, true, "the NodeInfo: endpoints, voter, work_types, labels, resources, version"},
};
const field_spec gossip_request[] = {
    {"from", ft::string, false, "the sending node's id"},
    {"digest_hash", ft::integer, false, "hash of the sender's digest; equal hashes answer in_sync", {}, 0.0, {}},
    {"digest", ft::array, false, "the versions the sender holds", digest_fields},
    {"records", ft::array, false, "records pushed to this node", record_fields},
    {"after", ft::string, false, "continue after this node id (from a previous next_after)"},
};
const field_spec gossip_reply[] = {
    {"in_sync", ft::boolean, true, "the digests matched; nothing else follows"},
    {"records", ft::array, true, "records the sender lacks (at most 64 KiB)", record_fields},
    {"wanted", ft::array, true, "node ids whose records this node wants"},
    {"next_after", ft::string, false, "more records follow: ask again with after = this (null when done)"},
};
const field_spec gossip_peer_fields[] = {
    {"node_id", ft::string, true, "node id"},
    {"node_uuid", ft::string, true, "its process uuid"},
    {"version", ft::object, true, "boot_epoch and counter of its record"},
    {"state", ft::string, false, "SWIM's verdict: alive, suspect, dead, left (null if not yet known)"},
    {"connection", ft::string, true, "self, connected, connecting, backoff or idle"},
    {"info", ft::object, true, "its NodeInfo"},
};
const field_spec gossip_peers_reply[] = {
    {"node_id", ft::string, true, "this node's id"},
    {"joined", ft::boolean, true, "a seed acknowledged this node's join (true without seeds)"},
    {"peers", ft::array, true, "every node record, this node included", gossip_peer_fields},
};

const field_spec raft_entry_fields[] = {
    {"term", ft::integer, true, "the term it was proposed in", {}, 0.0, {}},
    {"index", ft::integer, true, "its log index", {}, 1.0, {}},
    {"type", ft::string, true, "normal, noop or config"},
    {"data", ft::string, true, "its bytes, base64"},
};
const field_spec raft_message_fields[] = {
    {"type", ft::string, true, "pre_vote, vote (on /raft/vote); append, snapshot, timeout_now (on /raft/append)"},
    {"from", ft::string, true, "the sender's node id"},
    {"to", ft::string, false, "the receiver's node id"},
    {"term", ft::integer, true, "the sender's term", {}, 0.0, {}},
    {"log_term", ft::integer, false, "vote: the candidate's last log term; append: the previous entry's", {}, 0.0, {}},
    {"index", ft::integer, false, "vote: the candidate's last log index; append: the previous entry's", {}, 0.0, {}},
    {"entries", ft::array, false, "append: the entries", raft_entry_fields},
    {"commit", ft::integer, false, "append: the leader's commit index", {}, 0.0, {}},
    {"reject", ft::boolean, false, "replies only"},
    {"hint", ft::integer, false, "replies only", {}, 0.0, {}},
    {"round", ft::integer, false, "append: the leader's heartbeat round", {}, 0.0, {}},
    {"transfer", ft::boolean, false, "vote: campaigning on the leader's request"},
    {"offset", ft::integer, false, "snapshot: where this chunk starts", {}, 0.0, {}},
    {"data", ft::string, false, "snapshot: the chunk, base64"},
    {"members", ft::string, false, "snapshot: its membership"},
    {"done", ft::boolean, false, "snapshot: the last chunk"},
    {"cluster", ft::string, false, "the sender's cluster id (empty until known)"},
    {"voters_hash", ft::string, false, "hash of the sender's bootstrap voter list (\"0\": none)"},
};
const field_spec raft_rpc_reply[] = {
    {"replies", ft::array, true, "this node's answers to the sender (same fields as the request)"},
};
const field_spec raft_peer_fields[] = {
    {"match_index", ft::integer, true, "the highest entry known to be replicated there"},
    {"next_index", ft::integer, true, "the next entry to send"},
    {"snapshot", ft::boolean, true, "a snapshot is being sent to it"},
};
const field_spec raft_status_reply[] = {
    {"node_id", ft::string, true, "this node's id"},
    {"state", ft::string, true, "leader, follower, candidate or non_voter"},
    {"term", ft::integer, true, "the current term"},
    {"leader_id", ft::string, false, "the leader this node follows (null when none is known)"},
    {"commit_index", ft::integer, true, "the highest entry known to be committed"},
    {"last_applied", ft::integer, true, "the highest entry applied to the state machine"},
    {"last_log_index", ft::integer, true, "the last entry in this node's log"},
    {"snapshot_index", ft::integer, true, "the last entry covered by this node's snapshot (0: none)"},
    {"cluster_id", ft::string, false, "the cluster's identity (null until the first entry commits)"},
    {"voters", ft::array, true, "the voters in force"},
    {"learners", ft::array, true, "non-voters that receive the log"},
    {"peers", ft::object, true, "leader only: per member, match_index, next_index, snapshot", raft_peer_fields},
    {"profile", ft::string, true, "the timing profile: test, lan or wan"},
    {"lease_remaining_ms", ft::integer, true, "leader only: how long reads may skip the read-index round"},
    {"fsyncs", ft::integer, true, "log writes made durable since start"},
    {"fsync_avg_ms", ft::number, true, "their mean duration"},
    {"refused_messages", ft::integer, true, "messages refused as coming from another cluster"},
};
const field_spec raft_members_request[] = {
    {"add", ft::string, false, "node id to make a voter (it catches up as a non-voter first)"},
    {"remove", ft::string, false, "node id to remove (voter or non-voter)"},
};
const field_spec raft_members_reply[] = {
    {"index", ft::integer, true, "the log index of the change"},
    {"voters", ft::array, true, "the voters after it"},
    {"learners", ft::array, true, "the non-voters after it"},
};
const field_spec raft_kv_put_request[] = {
    {"key", ft::string, true, "the key"},
    {"value", ft::string, true, "its new value"},
};
const field_spec raft_kv_query[] = {
    {"key", ft::string, true, "the key"},
    {"stale", ft::boolean, false, "1: answer from this node's state without asking the leader"},
};
const field_spec raft_kv_reply[] = {
    {"key", ft::string, true, "the key"},
    {"found", ft::boolean, true, "get: the key exists; put: it existed before"},
    {"value", ft::string, false, "get: its value; put: the previous value (null when none)"},
    {"index", ft::integer, true, "the log index the answer reflects"},
};

const field_spec leader_endpoint_fields[] = {
    {"http", ft::string, false, "the leader's HTTP address (host:port)"},
    {"cluster", ft::string, false, "the leader's cluster address (host:port)"},
};
const field_spec election_heartbeat_request[] = {
    {"leader_id", ft::string, true, "the announcing leader"},
    {"term", ft::integer, true, "its Raft term", {}, 0.0, {}},
    {"lease_remaining_ms", ft::integer, true, "how long the receiver may trust this announcement", {}, 0.0, {}},
    {"endpoints", ft::object, false, "where the leader listens", leader_endpoint_fields},
    {"voters_hash", ft::string, false, "hash of the sender's bootstrap voter list (\"0\": none); a mismatch is 409"},
};
const field_spec election_vote_fields[] = {
    {"node_id", ft::string, true, "the voting member"},
    {"leader_id", ft::string, false, "the leader it follows (absent: none known)"},
    {"term", ft::integer, true, "the term it knows", {}, 0.0, {}},
    {"voters_hash", ft::string, false, "hash of the sender's bootstrap voter list (\"0\": none); a mismatch is 409"},
};
const field_spec election_vote_reply[] = {
    {"recorded", ft::boolean, true, "this node leads and recorded the vote of an alive member"},
    {"follower", ft::boolean, true, "the vote names this leader and its term"},
};
const field_spec election_member_fields[] = {
    {"node_id", ft::string, true, "an alive member"},
    {"leader_id", ft::string, false, "the leader its last vote named (null: none, or no vote yet)"},
    {"term", ft::integer, true, "the term its last vote named"},
    {"last_vote_ms_ago", ft::integer, false, "since its last vote (null: none yet)"},
};
const field_spec election_status_reply[] = {
    {"node_id", ft::string, true, "this node's id"},
    {"leader_id", ft::string, false, "the leader this node knows (null when none: never a stale one)"},
    {"term", ft::integer, true, "the term of that view"},
    {"role", ft::string, true, "leader, follower, candidate or non_voter"},
    {"lease_remaining_ms", ft::integer, true,
     "how long the view holds without another heartbeat (on the leader: its latest heartbeat's)"},
    {"endpoints", ft::object, false, "where the leader listens, when known", leader_endpoint_fields},
    {"followers", ft::array, true, "leader only: alive members whose last vote names this leader and term"},
    {"stragglers", ft::array, true, "leader only: alive members that did not answer or named another leader or term"},
    {"members", ft::array, true, "leader only: each alive member's last vote", election_member_fields},
};
const field_spec election_transfer_request[] = {
    {"to", ft::string, true, "the voter to hand leadership to"},
};
const field_spec election_transfer_reply[] = {
    {"leader_id", ft::string, true, "the new leader"},
    {"term", ft::integer, true, "its term"},
    {"previous_leader_id", ft::string, false, "the leader that handed over"},
};

constexpr std::array<std::string_view, 2> rating_methods{"bayes", "elo"};
const field_spec elo_matches_request[] = {
    {"matches", ft::array, true,
     "games, each {game_id, config_key, a, b, score (1, 0.5 or 0 from a's side), pair_id?, played_at "
     "(RFC 3339)}; each is accepted, a duplicate, or rejected with its reason"},
};
const field_spec elo_rejection_fields[] = {
    {"index", ft::integer, true, "the record's index in matches"},
    {"reason", ft::string, true, "why it was refused"},
};
const field_spec elo_matches_reply[] = {
    {"accepted", ft::integer, true, "games stored"},
    {"duplicates", ft::integer, true, "games already held with the same content"},
    {"rejected", ft::array, true, "records refused, with reasons", elo_rejection_fields},
};
const field_spec elo_rankings_query[] = {
    {"config_key", ft::string, true, "the rating pool"},
    {"method", ft::string, false, "bayes (default: all games at once, with intervals) or elo (classic, K=32)",
     {}, {}, {}, rating_methods},
    {"los", ft::boolean, false, "1: add the likelihood-of-superiority matrix (bayes)"},
    {"anchor", ft::string, false, "player:rating fixes that player's rating (bayes; else the mean is 1500)"},
};
const field_spec elo_player_fields[] = {
    {"player", ft::string, true, "player (model) id"},
    {"rating", ft::number, true, "rating"},
    {"ci_low", ft::number, true, "95 % interval, low end (bayes; the rating for elo)"},
    {"ci_high", ft::number, true, "95 % interval, high end"},
    {"games", ft::integer, true, "games played"},
    {"wins", ft::integer, true, "wins"},
    {"draws", ft::integer, true, "draws"},
    {"losses", ft::integer, true, "losses"},
    {"score", ft::number, true, "(wins + draws / 2) / games"},
};
const field_spec elo_rankings_reply[] = {
    {"config_key", ft::string, true, "the rating pool"},
    {"method", ft::string, true, "bayes or elo"},
    {"games", ft::integer, true, "games rated"},
    {"draw_elo", ft::number, false, "bayes: the fitted draw parameter (BayesElo points)"},
    {"players", ft::array, true, "sorted by rating, highest first", elo_player_fields},
    {"los", ft::object, false, "los[p][q]: probability that p is stronger than q"},
};
const field_spec elo_sync_request[] = {
    {"from", ft::string, false, "the requester's node id"},
    {"marks", ft::object, false, "per origin node uuid, the highest origin_seq the requester holds"},
    {"matches", ft::array, false,
     "games the responder lacks, each with origin_node and origin_seq, in sequence per origin"},
};
const field_spec elo_sync_reply[] = {
    {"matches", ft::array, true, "games the requester lacks (at most 64 KiB)"},
    {"marks", ft::object, true, "the responder's marks"},
    {"more", ft::boolean, true, "more games follow: ask again with the new marks"},
    {"accepted", ft::integer, true, "games of the request new to the responder"},
};
const field_spec elo_key_fields[] = {
    {"config_key", ft::string, true, "rating pool"},
    {"games", ft::integer, true, "games"},
    {"players", ft::integer, true, "players"},
};
const field_spec elo_status_reply[] = {
    {"rows", ft::integer, true, "stored records (a game ingested on two nodes is two)"},
    {"games", ft::integer, true, "distinct games rated"},
    {"conflicts", ft::integer, true, "records whose game_id was held with other content"},
    {"config_keys", ft::array, true, "rating pools", elo_key_fields},
    {"marks", ft::object, true, "per origin, the highest origin_seq held"},
    {"sync", ft::object, true, "rounds, rows_received, rows_sent"},
};

const field_spec runner_status_reply[] = {
    {"node_id", ft::string, true, "this node"},
    {"draining", ft::boolean, true, "the node is shutting down: no new claims"},
    {"work_types", ft::array, true, "per configured type: work_type, argv, slots, running, claiming"},
    {"attempts", ft::array, true,
     "what runs now: work_id, work_type, attempt, pid, runtime_ms, progress, progress_message, phase"},
    {"counts", ft::object, true, "since start: claimed, completed, failed, lost_claims, handed_back, adopted"},
};

constexpr std::array<std::string_view, 7> work_statuses{"pending",   "claimed", "running", "completed",
                                                         "failed",    "timed_out", "cancelled"};
const field_spec work_item_spec[] = {
    {"work_type", ft::string, true, "what runs it: a type runners offer (selfplay, training, match, ...)"},
    {"priority", ft::integer, false, "0 to 100, higher first (default 50)", {}, 0.0, 100.0},
    {"config", ft::object, false,
     "the item's configuration, at most 64 KiB (413 beyond); reserved keys: config_key (or board_type and "
     "num_players), target_node, exclude_nodes, requires {labels, gpu, min_memory_gb}"},
    {"depends_on", ft::array, false, "work ids (or \"#n\": the n-th item of this add) that must complete first"},
    {"max_attempts", ft::integer, false, "attempts before the item fails for good (default 3)", {}, 1.0, 100.0},
    {"lease_s", ft::integer, false, "seconds a claim lives without a heartbeat (default 60)", {}, 1.0, 86400.0},
    {"timeout_s", ft::integer, false, "runtime limit from the start, in seconds; 0 for none (default)", {}, 0.0,
     31536000.0},
    {"campaign_id", ft::string, false, "the campaign the item belongs to"},
};
const field_spec work_add_request[] = {
    {"work_type", ft::string, false, "one item: what runs it (give one item's fields, or items)"},
    {"priority", ft::integer, false, "one item: 0 to 100, higher first (default 50)", {}, 0.0, 100.0},
    {"config", ft::object, false, "one item: its configuration, at most 64 KiB (413 beyond)"},
    {"depends_on", ft::array, false, "one item: work ids that must complete first"},
    {"max_attempts", ft::integer, false, "one item: attempts before it fails for good (default 3)", {}, 1.0, 100.0},
    {"lease_s", ft::integer, false, "one item: seconds a claim lives without a heartbeat (default 60)", {}, 1.0,
     86400.0},
    {"timeout_s", ft::integer, false, "one item: runtime limit in seconds; 0 for none", {}, 0.0, 31536000.0},
    {"campaign_id", ft::string, false, "one item: the campaign it belongs to"},
    {"items", ft::array, false, "several items, added all or none (at most 1000)", work_item_spec},
    {"idempotency_key", ft::string, false, "a repeat with the same key and body replays the first answer for 24 h"},
};
const field_spec work_add_reply[] = {
    {"work_ids", ft::array, true, "the new items' ids, in the order given"},
    {"replayed", ft::boolean, true, "the first answer to this idempotency key, again"},
};
const field_spec work_item_fields[] = {
    {"work_id", ft::string, true, "the item's id"},
    {"work_type", ft::string, true, "what runs it"},
    {"priority", ft::integer, true, "0 to 100"},
    {"config", ft::object, true, "its configuration"},
    {"config_key", ft::string, false, "from config (null when none)"},
    {"depends_on", ft::array, true, "work ids that must complete first"},
    {"status", ft::string, true, "pending, claimed, running, completed, failed, timed_out or cancelled"},
    {"attempts", ft::integer, true, "claims so far"},
    {"max_attempts", ft::integer, true, "attempts before it fails for good"},
    {"lease_s", ft::integer, true, "seconds a claim lives without a heartbeat"},
    {"timeout_s", ft::integer, true, "runtime limit (0: none)"},
    {"claimed_by", ft::string, false, "the node holding (or that last held) the claim"},
    {"claim_token", ft::string, false, "the latest claim's token, \"<term>.<log index>\""},
    {"created_at", ft::string, true, "RFC 3339"},
    {"claimed_at", ft::string, false, "RFC 3339 (null before a claim)"},
    {"started_at", ft::string, false, "RFC 3339 (null before the start)"},
    {"finished_at", ft::string, false, "RFC 3339 (null while unfinished)"},
    {"updated_at", ft::string, true, "RFC 3339"},
    {"progress", ft::object, true, "fraction (0..1) and message, as the worker last reported"},
    {"result", ft::object, false, "what the worker returned (null before completion)"},
    {"error", ft::string, false, "why it failed or was cancelled"},
    {"campaign_id", ft::string, false, "the campaign it belongs to"},
};
const field_spec work_claim_request[] = {
    {"node_id", ft::string, true, "the claiming node; its gossiped labels and resources meet items' requires"},
    {"work_types", ft::array, false, "the types it runs (default: the node's gossiped work types)"},
    {"max_items", ft::integer, false, "items to claim at most (default 1)", {}, 1.0, 100.0},
    {"wait_s", ft::number, false, "long poll: wait up to this long for work (default 0: answer at once)", {}, 0.0,
     60.0},
    {"request_id", ft::string, false, "a repeat with the same id replays the answer that handed items out"},
};
const field_spec work_claim_reply[] = {
    {"status", ft::string, true, "claimed, or no_work"},
    {"items", ft::array, false, "claimed: the items now held, each with its claim_token", work_item_fields},
};
const field_spec work_claim_fields[] = {
    {"work_id", ft::string, true, "the item"},
    {"claim_token", ft::string, true, "the claim's token, from the claim"},
};
const field_spec work_heartbeat_request[] = {
    {"work_id", ft::string, true, "the item"},
    {"claim_token", ft::string, true, "the claim's token"},
    {"progress", ft::number, false, "fraction done, 0 to 1", {}, 0.0, 1.0},
    {"message", ft::string, false, "what the worker is doing"},
};
const field_spec work_complete_request[] = {
    {"work_id", ft::string, true, "the item"},
    {"claim_token", ft::string, true, "the claim's token"},
    {"result", ft::object, false, "what the work produced, at most 64 KiB (413 beyond; larger outputs are artifacts)"},
};
const field_spec work_fail_request[] = {
    {"work_id", ft::string, true, "the item"},
    {"claim_token", ft::string, true, "the claim's token"},
    {"error", ft::string, false, "why it failed"},
    {"retryable", ft::boolean, false, "retry while attempts remain (default true)"},
};
const field_spec work_release_request[] = {
    {"work_id", ft::string, true, "the item"},
    {"claim_token", ft::string, true, "the claim's token"},
    {"reason", ft::string, false, "why it is given back (default \"released\")"},
};
const field_spec work_cancel_request[] = {
    {"work_id", ft::string, true, "the item; pending items depending on it are cancelled too"},
    {"reason", ft::string, false, "why (default \"cancelled\")"},
};
const field_spec work_status_reply[] = {
    {"status", ft::string, true,
     "running (start, heartbeat), completed, duplicate (complete again with the same token), pending (a failure "
     "to be retried), failed, cancelled"},
};
const field_spec work_status_query[] = {
    {"work_id", ft::string, true, "the item"},
    {"stale", ft::boolean, false, "1: answer from this node's state without asking the leader"},
};
const field_spec work_item_reply[] = {
    {"work_id", ft::string, true, "the item's id"},
    {"work_type", ft::string, true, "what runs it"},
    {"status", ft::string, true, "pending, claimed, running, completed, failed, timed_out or cancelled"},
    {"attempts", ft::integer, true, "claims so far"},
    {"created_at", ft::string, true, "RFC 3339"},
    {"archived", ft::boolean, true, "read from this node's archive (past retention)"},
};
const field_spec work_list_query[] = {
    {"status", ft::string, false, "only items in this status", {}, {}, {}, work_statuses},
    {"work_type", ft::string, false, "only items of this type"},
    {"claimed_by", ft::string, false, "only items claimed by this node"},
    {"limit", ft::integer, false, "items per page, 1 to 1000 (default 100)", {}, 1.0, 1000.0},
    {"cursor", ft::string, false, "next_cursor of the previous page"},
    {"archived", ft::boolean, false, "1: list this node's archive of items past retention"},
    {"stale", ft::boolean, false, "1: answer from this node's state without asking the leader"},
};
const field_spec work_list_reply[] = {
    {"items", ft::array, true, "the page, in creation order", work_item_fields},
    {"next_cursor", ft::string, false, "pass as cursor for the next page (null at the end)"},
    {"counts", ft::object, true, "by_status (every status) and by_type (type -> status -> count) over all items"},
    {"total", ft::integer, true, "items held (in the queue, or in the archive)"},
    {"archived", ft::boolean, true, "the page comes from this node's archive"},
};

const route table[] = {
    {"admin.health", verb::get, "/admin/health", "admin", auth_kind::open, placement::local, false,
     "Liveness of this node; 503 while draining", body_kind::none, {}, {}, reply_kind::json, 200,
     health_reply},
    {"admin.shutdown", verb::post, "/admin/shutdown", "admin", auth_kind::token, placement::local,
     false, "Graceful drain, then exit 0 by the deadline", body_kind::optional_json,
     shutdown_request, {}, reply_kind::json, 202, shutdown_reply},
    {"admin.log_level", verb::post, "/admin/log-level", "admin", auth_kind::token,
     placement::local, false, "Change this node's log level at run time", body_kind::json,
     log_level_request, {}, reply_kind::json, 200, log_level_reply},
    {"admin.status", verb::get, "/status", "admin", auth_kind::token, placement::local, false,
     "This node's identity, endpoints, actors and event stream", body_kind::none, {}, {},
     reply_kind::json, 200, status_reply},
    {"admin.metrics", verb::get, "/metrics", "admin", auth_kind::metrics, placement::local, false,
     "Prometheus text exposition", body_kind::none, {}, {}, reply_kind::text, 200, {}},
    {"http.openapi", verb::get, "/openapi.json", "http", auth_kind::token, placement::local, false,
     "This API as OpenAPI 3.0, generated from the route table", body_kind::none, {}, {},
     reply_kind::json, 200, {}},
    {"swim.status", verb::get, "/swim/status", "swim", auth_kind::token, placement::local, false,
     "This node's SWIM view in numbers", body_kind::none, {}, {}, reply_kind::json, 200,
     swim_status_reply},
    {"swim.members", verb::get, "/swim/members", "swim", auth_kind::token, placement::local, false,
     "Every member with SWIM's verdict", body_kind::none, {}, {}, reply_kind::json, 200,
     swim_members_reply},
    {"gossip.exchange", verb::post, "/gossip", "gossip", auth_kind::token, placement::local, true,
     "Push-pull round: send a digest (and records), get what you lack", body_kind::json,
     gossip_request, {}, reply_kind::json, 200, gossip_reply},
    {"gossip.anti_entropy", verb::post, "/gossip/anti-entropy", "gossip", auth_kind::token,
     placement::local, true, "Full-state exchange: get every record, in 64 KiB chunks",
     body_kind::json, gossip_request, {}, reply_kind::json, 200, gossip_reply},
    {"gossip.peers", verb::get, "/gossip/peers", "gossip", auth_kind::token, placement::local, false,
     "Every node this node knows: its NodeInfo, SWIM state and connection", body_kind::none, {},
     {}, reply_kind::json, 200, gossip_peers_reply},
    {"raft.append", verb::post, "/raft/append", "raft", auth_kind::token, placement::local, true,
     "Raft append, snapshot chunk or leadership hand-over; answered with the replies", body_kind::json,
     raft_message_fields, {}, reply_kind::json, 200, raft_rpc_reply},
    {"raft.vote", verb::post, "/raft/vote", "raft", auth_kind::token, placement::local, true,
     "Raft (pre-)vote request; answered with the replies", body_kind::json, raft_message_fields, {},
     reply_kind::json, 200, raft_rpc_reply},
    {"raft.status", verb::get, "/raft/status", "raft", auth_kind::token, placement::local, false,
     "This node's Raft state: role, term, leader, indexes, voters, followers' progress", body_kind::none, {}, {},
     reply_kind::json, 200, raft_status_reply},
    {"raft.members", verb::post, "/raft/members", "raft", auth_kind::token, placement::leader_write, false,
     "Add a voter (caught up as a non-voter first) or remove a member, one change at a time",
     body_kind::json, raft_members_request, {}, reply_kind::json, 200, raft_members_reply},
    {"raft.kv_put", verb::post, "/raft/kv", "raft", auth_kind::token, placement::leader_write, false,
     "Set a key in the replicated key-value map; answered once committed and applied", body_kind::json,
     raft_kv_put_request, {}, reply_kind::json, 200, raft_kv_reply},
    {"raft.kv_get", verb::get, "/raft/kv", "raft", auth_kind::token, placement::leader_read, false,
     "Read a key linearizably (read-index on the leader), or locally with stale=1", body_kind::none, {},
     raft_kv_query, reply_kind::json, 200, raft_kv_reply},
    {"election.heartbeat", verb::post, "/election/heartbeat", "election", auth_kind::token, placement::local, true,
     "A leader's announcement; answered with this node's vote of allegiance", body_kind::json,
     election_heartbeat_request, {}, reply_kind::json, 200, election_vote_fields},
    {"election.vote", verb::post, "/election/vote", "election", auth_kind::token, placement::local, true,
     "A member's vote of allegiance, recorded by the leader", body_kind::json, election_vote_fields, {},
     reply_kind::json, 200, election_vote_reply},
    {"election.status", verb::get, "/election/status", "election", auth_kind::token, placement::local, false,
     "This node's view of leadership; on the leader, who follows and who straggles", body_kind::none, {}, {},
     reply_kind::json, 200, election_status_reply},
    {"election.transfer", verb::post, "/election/transfer", "election", auth_kind::token, placement::leader_write,
     false, "Hand leadership to another voter; answered once it leads", body_kind::json, election_transfer_request,
     {}, reply_kind::json, 200, election_transfer_reply},
    {"elo.matches", verb::post, "/elo/matches", "elo", auth_kind::token, placement::local, false,
     "Store games durably on this node; sync spreads them", body_kind::json, elo_matches_request, {},
     reply_kind::json, 200, elo_matches_reply},
    {"elo.rankings", verb::get, "/elo/rankings", "elo", auth_kind::token, placement::local, false,
     "Ratings of a config key with 95 % intervals (bayes) or classic Elo", body_kind::none, {},
     elo_rankings_query, reply_kind::json, 200, elo_rankings_reply},
    {"elo.sync", verb::post, "/elo/sync", "elo", auth_kind::token, placement::local, false,
     "Push-pull by per-origin high-water marks: send yours (and games the node lacks), get what you lack",
     body_kind::json, elo_sync_request, {}, reply_kind::json, 200, elo_sync_reply},
    {"elo.status", verb::get, "/elo/status", "elo", auth_kind::token, placement::local, false,
     "This node's match store: games, conflicts, config keys, marks, sync counters", body_kind::none, {}, {},
     reply_kind::json, 200, elo_status_reply},
    {"work_queue.add", verb::post, "/work/add", "work_queue", auth_kind::token, placement::leader_write, false,
     "Queue one item or several (all or none); 429 when the queue is full", body_kind::json, work_add_request, {},
     reply_kind::json, 201, work_add_reply},
    {"work_queue.claim", verb::post, "/work/claim", "work_queue", auth_kind::token, placement::leader_write, false,
     "Claim matching pending items (long poll with wait_s); each comes with its claim_token", body_kind::json,
     work_claim_request, {}, reply_kind::json, 200, work_claim_reply, 60},
    {"work_queue.start", verb::post, "/work/start", "work_queue", auth_kind::token, placement::leader_write, false,
     "A claimed item starts running", body_kind::json, work_claim_fields, {}, reply_kind::json, 200,
     work_status_reply},
    {"work_queue.heartbeat", verb::post, "/work/heartbeat", "work_queue", auth_kind::token, placement::leader_write, false,
     "Renew a claim's lease, with progress; 409 once the claim is gone (details.cancel when cancelled)",
     body_kind::json, work_heartbeat_request, {}, reply_kind::json, 200, work_status_reply},
    {"work_queue.complete", verb::post, "/work/complete", "work_queue", auth_kind::token, placement::leader_write, false,
     "Finish a claimed item with its result; again with the same token answers duplicate", body_kind::json,
     work_complete_request, {}, reply_kind::json, 200, work_status_reply},
    {"work_queue.fail", verb::post, "/work/fail", "work_queue", auth_kind::token, placement::leader_write, false,
     "A claimed item failed: retried while attempts remain and it is retryable", body_kind::json, work_fail_request,
     {}, reply_kind::json, 200, work_status_reply},
    {"work_queue.release", verb::post, "/work/release", "work_queue", auth_kind::token, placement::leader_write,
     false, "Give a claimed item back unfinished (e.g. the node drains): pending again, the attempt not counted",
     body_kind::json, work_release_request, {}, reply_kind::json, 200, work_status_reply},
    {"work_queue.cancel", verb::post, "/work/cancel", "work_queue", auth_kind::token, placement::leader_write, false,
     "Cancel an unfinished item (and pending items that depend on it)", body_kind::json, work_cancel_request, {},
     reply_kind::json, 200, work_status_reply},
    {"work_queue.status", verb::get, "/work/status", "work_queue", auth_kind::token, placement::leader_read, false,
     "One item, from the queue or this node's archive", body_kind::none, {}, work_status_query, reply_kind::json,
     200, work_item_reply},
    {"work_queue.list", verb::get, "/work/list", "work_queue", auth_kind::token, placement::leader_read, false,
     "Items by status, type and claimant, a page at a time, with counts by status and type", body_kind::none, {},
     work_list_query, reply_kind::json, 200, work_list_reply},
    {"runner.status", verb::get, "/runner/status", "runner", auth_kind::token, placement::local, false,
     "This node's runner: work types with their commands and slots, the attempts running, counts", body_kind::none,
     {}, {}, reply_kind::json, 200, runner_status_reply},
    {"events.stream", verb::get, "/events", "events", auth_kind::token, placement::local, false,
     "Server-sent events: id is this node's sequence, event the type, data the envelope; "
     "Last-Event-ID resumes, a too-old id gets event: reset",
     body_kind::none, {}, events_query, reply_kind::event_stream, 200, {}},
};

}  // namespace

std::span<const route> route_table() { return table; }

match_result match_route(std::span<const route> routes, verb method, std::string_view path) {
  match_result result;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].path != path) continue;
    if (routes[i].method == method) {
      result.found = &routes[i];
      result.index = i;
      result.allowed.clear();
      return result;
    }
    result.allowed.push_back(routes[i].method);
  }
  return result;
}
namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string_view::npos ? query.npos : amp - pos);
    auto eq = part.find('=');
    auto k = part.substr(0, eq);
    if (k == key) return percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return std::nullopt;
}

}  // namespace p2p::http
