#include "protocol/messages/events_codec.hpp"

#include <simdjson.h>

#include <array>

#include "protocol/common/json.hpp"

namespace p2p::codec {
namespace {

using sv = std::string_view;
constexpr std::array<sv, 5> selfplay{"work_id", "config_key", "games_generated", "node_id", "duration_s"};
constexpr std::array<sv, 3> training{"work_id", "config_key", "node_id"};
constexpr std::array<sv, 7> evaluation{"run_id", "config_key", "model_id", "win_rate", "elo", "games_played", "passed"};
constexpr std::array<sv, 4> tournament{"tournament_id", "config_key", "games_played", "standings"};
constexpr std::array<sv, 1> host{"node_id"};
constexpr std::array<sv, 2> host_offline{"node_id", "reason"};
constexpr std::array<sv, 3> leader{"new_leader_id", "old_leader_id", "term"};
constexpr std::array<sv, 5> elo{"config_key", "model_id", "old_elo", "new_elo", "games_played"};
constexpr std::array<sv, 2> promoted{"config_key", "model_id"};
constexpr std::array<sv, 2> cmaes_gen{"run_id", "generation"};
constexpr std::array<sv, 1> cmaes_done{"run_id"};
constexpr std::array<sv, 2> work{"work_id", "work_type"};
constexpr std::array<sv, 5> node_started{"node_id", "node_uuid", "boot_epoch", "http", "version"};
constexpr std::array<sv, 2> node_stopping{"node_id", "drain_timeout_s"};
constexpr std::array<sv, 3> actor_restarted{"actor", "reason", "restarts"};

const event_type_info catalog[] = {
    {"SELFPLAY_COMPLETE", "cluster", selfplay},
    {"TRAINING_COMPLETED", "cluster", training},
    {"TRAINING_FAILED", "cluster", training},
    {"EVALUATION_COMPLETED", "cluster", evaluation},
    {"TOURNAMENT_COMPLETED", "cluster", tournament},
    {"HOST_ONLINE", "cluster", host},
    {"HOST_OFFLINE", "cluster", host_offline},
    {"LEADER_CHANGED", "cluster", leader},
    {"ELO_UPDATED", "node", elo},
    {"MODEL_PROMOTED", "cluster", promoted},
    {"CMAES_GENERATION", "cluster", cmaes_gen},
    {"CMAES_COMPLETED", "cluster", cmaes_done},
    {"WORK_QUEUED", "cluster", work},
    {"WORK_CLAIMED", "cluster", work},
    {"WORK_COMPLETED", "cluster", work},
    {"WORK_FAILED", "cluster", work},
    {"WORK_CANCELLED", "cluster", work},
    {"WORK_TIMED_OUT", "cluster", work},
    // Node-local observations of this node's own life.
    {"NODE_STARTED", "node", node_started},
    {"NODE_STOPPING", "node", node_stopping},
    {"ACTOR_RESTARTED", "node", actor_restarted},
};

}  // namespace

std::span<const event_type_info> event_catalog() { return catalog; }

const event_type_info* find_event_type(std::string_view type) {
  for (const auto& e : catalog)
    if (e.type == type) return &e;
  return nullptr;
}

std::optional<std::string> parse_event_types(std::string_view text, std::vector<std::string>& types) {
  types.clear();
  while (!text.empty()) {
    auto comma = text.find(',');
    auto name = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (name.empty()) continue;
    if (!find_event_type(name)) return std::string(name);
    types.emplace_back(name);
  }
  return std::nullopt;
}

std::optional<std::string> check_event(std::string_view type, std::string_view payload_json) {
  const auto* info = find_event_type(type);
  if (!info) return "unknown event type " + std::string(type);
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(payload_json.data(), payload_json.size()).get(obj))
    return "payload of " + std::string(type) + " is not a JSON object";
  for (auto field : info->required_payload) {
    simdjson::dom::element ignored;
    if (obj[field].get(ignored))
      return "payload of " + std::string(type) + " lacks " + std::string(field);
  }
  return std::nullopt;
}

std::string envelope_json(const msg::event_record& e) {
  json::writer w;
  w.begin_object()
      .field("event_id", e.event_id)
      .field("type", e.type)
      .field("scope", e.scope)
      .field("timestamp", e.timestamp)
      .field("origin_node", e.origin_node)
      .field("term", e.term)
      .key("payload")
      .raw(e.payload_json)
      .end_object();
  return w.take();
}

std::string sse_frame(const msg::event_record& e) {
  return "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + envelope_json(e) +
         "\n\n";
}

std::string sse_reset_frame(std::uint64_t last_seq) {
  return "id: " + std::to_string(last_seq) + "\nevent: reset\ndata: {\"last_seq\":" +
         std::to_string(last_seq) + "}\n\n";
}

std::string encode(const msg::events_stats& s) {
  json::writer w;
  w.begin_object()
      .field("last_seq", s.last_seq)
      .field("retained", s.retained)
      .field("subscribers", s.subscribers)
      .field("published", s.published)
      .end_object();
  return w.take();
}

}  // namespace p2p::codec
