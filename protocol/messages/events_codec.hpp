#pragma once
// The event catalog (DESIGN.md §6) and the event envelope's JSON and SSE forms.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages/events.hpp"

namespace p2p::codec {

struct event_type_info {
  std::string_view type;
  std::string_view scope;  // "node" or "cluster"
  std::span<const std::string_view> required_payload;
};

std::span<const event_type_info> event_catalog();
const event_type_info* find_event_type(std::string_view type);

// Parses "A,B,..." into `types`; returns the first name that is not in the catalog, if any.
std::optional<std::string> parse_event_types(std::string_view text, std::vector<std::string>& types);

// Why this event may not be published (unknown type, payload not an object, missing field).
std::optional<std::string> check_event(std::string_view type, std::string_view payload_json);

// {event_id, type, scope, timestamp, origin_node, term, payload}
std::string envelope_json(const msg::event_record& e);
// "id: <seq>\nevent: <type>\ndata: <envelope>\n\n"
std::string sse_frame(const msg::event_record& e);
std::string sse_reset_frame(std::uint64_t last_seq);

// {"last_seq","retained","subscribers","published"}
std::string encode(const msg::events_stats& s);

}  // namespace p2p::codec
