#pragma once
// Typed messages of the elo domain (issue: durable matches, ratings, sync). Those marked "wire"
// cross the cluster port.
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

// One game as it travels: from a client (no origin yet) or between nodes (with its origin).
struct elo_match {
  std::string game_id;
  std::string config_key;
  std::string a, b;
  double score = 0;
  bool has_pair_id = false;
  std::string pair_id;
  std::string played_at;
  std::string origin_node;  // empty from a client
  std::uint64_t origin_seq = 0;
};

struct elo_rejection {
  std::uint64_t index = 0;
  std::string reason;
};
// POST /elo/matches.
struct elo_ingest {
  std::vector<elo_match> matches;
  std::vector<std::uint64_t> indexes;      // each match's index in the request
  std::vector<elo_rejection> unreadable;  // records the decoder could not read (wrong types)
};
struct elo_ingest_reply {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::vector<elo_rejection> rejected;
};

// GET /elo/rankings.
struct elo_rankings_request {
  std::string config_key;
  std::string method = "bayes";  // or "elo"
  bool los = false;
  std::string anchor_player;  // with anchor_rating: that player's rating is fixed
  double anchor_rating = 1500;
  std::string error;  // set by the decoder: refused with bad_request (details.field in error_field)
  std::string error_field;
};
struct elo_player {
  std::string player;
  double rating = 0;
  double ci_low = 0, ci_high = 0;
  std::uint64_t games = 0, wins = 0, draws = 0, losses = 0;
  double score = 0;
};
struct elo_rankings_reply {
  std::string config_key;
  std::string method;
  std::vector<elo_player> players;
  std::vector<std::vector<double>> los;  // empty unless asked
  double draw_elo = 0;                    // bayes: the fitted drawelo (BayesElo points)
  std::uint64_t games = 0;
};

// Wire: one push-pull step of sync. The requester sends its high-water marks (and, after the
// first step, the rows the responder lacks); the responder keeps those rows and answers with
// the rows the requester lacks, at most about 64 KiB, and its own marks.
struct elo_mark {
  std::string origin;
  std::uint64_t seq = 0;
};
struct elo_sync_request {
  std::string from;  // node id of the requester (for logs and status)
  std::vector<elo_mark> marks;
  std::vector<elo_match> matches;
  std::string error;  // set by the HTTP decoder: refused with bad_request
};
struct elo_sync_reply {
  std::vector<elo_match> matches;
  std::vector<elo_mark> marks;
  bool more = false;            // rows beyond this chunk: ask again
  std::uint64_t accepted = 0;   // rows of the request that were new here
};

// GET /elo/status.
struct elo_status_request {};
struct elo_key_status {
  std::string config_key;
  std::uint64_t games = 0;
  std::uint64_t players = 0;
};
struct elo_status_reply {
  std::uint64_t rows = 0;       // stored records, one per origin of a game
  std::uint64_t games = 0;      // distinct game ids rated
  std::uint64_t conflicts = 0;  // game ids seen with differing content
  std::vector<elo_key_status> config_keys;
  std::vector<elo_mark> marks;
  std::uint64_t sync_rounds = 0;
  std::uint64_t rows_received = 0;  // through sync
  std::uint64_t rows_sent = 0;      // through sync
};

template <class F> auto inspect(F& f, elo_match& x) {
  return f(x.game_id, x.config_key, x.a, x.b, x.score, x.has_pair_id, x.pair_id, x.played_at, x.origin_node, x.origin_seq);
}
template <class F> auto inspect(F& f, elo_ingest& x) { return f(x.matches, x.indexes, x.unreadable); }
template <class F> auto inspect(F& f, elo_rejection& x) { return f(x.index, x.reason); }
template <class F> auto inspect(F& f, elo_ingest_reply& x) { return f(x.accepted, x.duplicates, x.rejected); }
template <class F> auto inspect(F& f, elo_rankings_request& x) {
  return f(x.config_key, x.method, x.los, x.anchor_player, x.anchor_rating, x.error, x.error_field);
}
template <class F> auto inspect(F& f, elo_player& x) {
  return f(x.player, x.rating, x.ci_low, x.ci_high, x.games, x.wins, x.draws, x.losses, x.score);
}
template <class F> auto inspect(F& f, elo_rankings_reply& x) {
  return f(x.config_key, x.method, x.players, x.los, x.draw_elo, x.games);
}
template <class F> auto inspect(F& f, elo_mark& x) { return f(x.origin, x.seq); }
template <class F> auto inspect(F& f, elo_sync_request& x) { return f(x.from, x.marks, x.matches, x.error); }
template <class F> auto inspect(F& f, elo_sync_reply& x) { return f(x.matches, x.marks, x.more, x.accepted); }
template <class F> auto inspect(F& f, elo_status_request&) { return f(); }
template <class F> auto inspect(F& f, elo_key_status& x) { return f(x.config_key, x.games, x.players); }
template <class F> auto inspect(F& f, elo_status_reply& x) {
  return f(x.conflicts, x.rows, x.games, x.config_keys, x.marks, x.sync_rounds, x.rows_received, x.rows_sent);
}

}  // namespace p2p::msg
