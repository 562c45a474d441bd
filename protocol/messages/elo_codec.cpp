#include "protocol/messages/elo_codec.hpp"

#include <simdjson.h>

#include <charconv>

#include "http/types.hpp"
#include "protocol/common/json.hpp"

namespace p2p::codec {
namespace {

constexpr std::string_view client_fields[] = {"game_id", "config_key", "a", "b", "score", "pair_id", "played_at"};
constexpr std::string_view origin_fields[] = {"origin_node", "origin_seq"};

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// A 64-bit counter: a JSON string of digits (DESIGN.md §5) or a non-negative integer.
bool read_u64(simdjson::dom::element e, std::uint64_t& out) {
  std::string_view s;
  if (!e.get(s)) return parse_u64(s, out);
  return !e.get(out);
}

// Reads one record; returns the reason it cannot be read, or "" when it can.
std::string read_match(simdjson::dom::element e, bool with_origin, msg::elo_match& m) {
  simdjson::dom::object obj;
  if (e.get(obj)) return "must be an object";
  for (auto field : obj) {
    bool known = false;
    for (auto name : client_fields) known = known || field.key == name;
    for (auto name : origin_fields) {
      if (field.key != name) continue;
      if (!with_origin) return std::string(name) + " is assigned by the node that ingests the match";
      known = true;
    }
    if (!known) return "unknown field " + std::string(field.key);
  }
  auto text = [&](std::string_view key, std::string& out, bool required) -> std::string {
    simdjson::dom::element v;
    if (obj[key].get(v) || v.is_null()) return required ? std::string(key) + " is required" : "";
    std::string_view s;
    if (v.get(s)) return std::string(key) + " must be a string";
    out.assign(s);
    return "";
  };
  for (auto [key, out] : {std::pair{"game_id", &m.game_id}, {"config_key", &m.config_key}, {"a", &m.a},
                          {"b", &m.b}, {"played_at", &m.played_at}})
    if (auto problem = text(key, *out, true); !problem.empty()) return problem;
  if (auto problem = text("pair_id", m.pair_id, false); !problem.empty()) return problem;
  simdjson::dom::element pair;
  m.has_pair_id = !obj["pair_id"].get(pair) && !pair.is_null();
  simdjson::dom::element score;
  if (obj["score"].get(score)) return "score is required";
  if (score.get(m.score)) {
    std::int64_t whole = 0;
    if (score.get(whole)) return "score must be a number";
    m.score = static_cast<double>(whole);
  }
  if (with_origin) {
    if (auto problem = text("origin_node", m.origin_node, true); !problem.empty()) return problem;
    simdjson::dom::element seq;
    if (obj["origin_seq"].get(seq)) return "origin_seq is required";
    if (!read_u64(seq, m.origin_seq) || m.origin_seq == 0) return "origin_seq must be a positive integer";
  }
  return "";
}

void write_match(json::writer& w, const msg::elo_match& m) {
  w.begin_object()
      .field("game_id", m.game_id)
      .field("config_key", m.config_key)
      .field("a", m.a)
      .field("b", m.b)
      .field("score", m.score);
  if (m.has_pair_id) w.field("pair_id", m.pair_id);
  w.field("played_at", m.played_at);
  if (!m.origin_node.empty()) w.field("origin_node", m.origin_node).field("origin_seq", m.origin_seq);
  w.end_object();
}

void write_marks(json::writer& w, const std::vector<msg::elo_mark>& marks) {
  w.begin_object();
  for (const auto& mark : marks) w.field(mark.origin, mark.seq);
  w.end_object();
}

}  // namespace

msg::elo_ingest decode_elo_ingest(const simdjson::dom::element* body) {
  msg::elo_ingest out;
  simdjson::dom::array records;
  if (!body || (*body)["matches"].get(records)) return out;
  std::uint64_t index = 0;
  for (auto record : records) {
    msg::elo_match m;
    if (auto problem = read_match(record, false, m); !problem.empty()) {
      out.unreadable.push_back({index, std::move(problem)});
    } else {
      out.matches.push_back(std::move(m));
      out.indexes.push_back(index);
    }
    ++index;
  }
  return out;
}

msg::elo_rankings_request decode_elo_rankings(std::string_view query) {
  msg::elo_rankings_request r;
  r.config_key = http::query_param(query, "config_key").value_or("");
  r.method = http::query_param(query, "method").value_or("bayes");
  auto los = http::query_param(query, "los").value_or("0");
  r.los = los == "1" || los == "true";
  if (auto anchor = http::query_param(query, "anchor")) {
    auto colon = anchor->rfind(':');
    double rating = 0;
    const char* first = anchor->data() + (colon == std::string::npos ? 0 : colon + 1);
    const char* last = anchor->data() + anchor->size();
    auto [end, ec] = std::from_chars(first, last, rating);
    if (colon == std::string::npos || colon == 0 || ec != std::errc() || end != last || first == last) {
      r.error = "must be player:rating, e.g. model-7:1500";
      r.error_field = "anchor";
    } else {
      r.anchor_player = anchor->substr(0, colon);
      r.anchor_rating = rating;
    }
  }
  if (r.method == "elo" && !r.anchor_player.empty() && r.error.empty()) {
    r.error = "applies to method=bayes only";
    r.error_field = "anchor";
  }
  return r;
}

msg::elo_sync_request decode_elo_sync(const simdjson::dom::element* body) {
  msg::elo_sync_request r;
  auto& error = r.error;
  if (!body) return r;
  std::string_view from;
  if (!(*body)["from"].get(from)) r.from.assign(from);
  simdjson::dom::object marks;
  if (!(*body)["marks"].get(marks)) {
    for (auto field : marks) {
      msg::elo_mark mark{std::string(field.key), 0};
      if (!read_u64(field.value, mark.seq)) {
        error = "marks: the mark of " + mark.origin + " must be a non-negative integer";
        return r;
      }
      r.marks.push_back(std::move(mark));
    }
  }
  simdjson::dom::array records;
  if (!(*body)["matches"].get(records)) {
    std::size_t index = 0;
    for (auto record : records) {
      msg::elo_match m;
      if (auto problem = read_match(record, true, m); !problem.empty()) {
        error = "matches[" + std::to_string(index) + "]: " + problem;
        return r;
      }
      r.matches.push_back(std::move(m));
      ++index;
    }
  }
  return r;
}

std::string encode(const msg::elo_ingest_reply& x) {
  json::writer w;
  w.begin_object().field("accepted", x.accepted).field("duplicates", x.duplicates).key("rejected").begin_array();
  for (const auto& r : x.rejected) w.begin_object().field("index", r.index).field("reason", r.reason).end_object();
  w.end_array().end_object();
  return w.take();
}

std::string encode(const msg::elo_rankings_reply& x) {
  json::writer w;
  w.begin_object()
      .field("config_key", x.config_key)
      .field("method", x.method)
      .field("games", x.games);
  if (x.method == "bayes") w.field("draw_elo", x.draw_elo);
  w.key("players").begin_array();
  for (const auto& p : x.players)
    w.begin_object()
        .field("player", p.player)
        .field("rating", p.rating)
        .field("ci_low", p.ci_low)
        .field("ci_high", p.ci_high)
        .field("games", p.games)
        .field("wins", p.wins)
        .field("draws", p.draws)
        .field("losses", p.losses)
        .field("score", p.score)
        .end_object();
  w.end_array();
  if (!x.los.empty()) {
    w.key("los").begin_object();
    for (std::size_t i = 0; i < x.players.size() && i < x.los.size(); ++i) {
      w.key(x.players[i].player).begin_object();
      for (std::size_t j = 0; j < x.players.size() && j < x.los[i].size(); ++j)
        if (j != i) w.field(x.players[j].player, x.los[i][j]);
      w.end_object();
    }
    w.end_object();
  }
  w.end_object();
  return w.take();
}

std::string encode(const msg::elo_sync_reply& x) {
  json::writer w;
  w.begin_object().key("matches").begin_array();
  for (const auto& m : x.matches) write_match(w, m);
  w.end_array().key("marks");
  write_marks(w, x.marks);
  w.field("more", x.more).field("accepted", x.accepted).end_object();
  return w.take();
}

std::string encode(const msg::elo_status_reply& x) {
  json::writer w;
  w.begin_object()
      .field("rows", x.rows)
      .field("games", x.games)
      .field("conflicts", x.conflicts)
      .key("config_keys")
      .begin_array();
  for (const auto& k : x.config_keys)
    w.begin_object().field("config_key", k.config_key).field("games", k.games).field("players", k.players).end_object();
  w.end_array().key("marks");
  write_marks(w, x.marks);
  w.key("sync")
      .begin_object()
      .field("rounds", x.sync_rounds)
      .field("rows_received", x.rows_received)
      .field("rows_sent", x.rows_sent)
      .end_object()
      .end_object();
  return w.take();
}

std::string encode_elo_match(const msg::elo_match& m) {
  json::writer w;
  write_match(w, m);
  return w.take();
}

}  // namespace p2p::codec
