#pragma once
// JSON <-> work_queue messages (the /work routes). Bodies arrive validated against the route's
// schema; what the schema cannot say (one item or a list, not both) is checked here and reported
// through the message's error fields. Times leave as RFC 3339 UTC with milliseconds: the state
// machine keeps ms since the epoch and the conversion happens only at this edge.
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages/work.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

msg::work_add_request decode_work_add(const simdjson::dom::element* body);
msg::work_claim_request decode_work_claim(const simdjson::dom::element* body);
msg::work_start_request decode_work_start(const simdjson::dom::element* body);
msg::work_heartbeat_request decode_work_heartbeat(const simdjson::dom::element* body);
msg::work_complete_request decode_work_complete(const simdjson::dom::element* body);
msg::work_fail_request decode_work_fail(const simdjson::dom::element* body);
msg::work_release_request decode_work_release(const simdjson::dom::element* body);
msg::work_cancel_request decode_work_cancel(const simdjson::dom::element* body);
msg::work_status_request decode_work_status(std::string_view query);
msg::work_list_request decode_work_list(std::string_view query);

// The state machine's counts as message rows: every status; then (type, status) pairs in order.
std::vector<msg::work_count> status_counts(const work::counts& c);
std::vector<msg::work_count> type_counts(const work::counts& c);

// "2026-11-30T12:00:00.123Z" for ms since the epoch; empty for 0 (not set).
std::string format_work_time(work::time_ms t);

// The item with RFC 3339 times (created_at, claimed_at, started_at, finished_at, updated_at).
std::string encode(const work::item& x);
// {"work_ids":[...],"replayed":b} for add; {"status":"claimed","items":[...]} or
// {"status":"no_work"} for claim; {"status":"..."} otherwise.
std::string encode(const msg::work_command_reply& x);
// The item's fields, plus "archived".
std::string encode(const msg::work_item_reply& x);
std::string encode(const msg::work_list_reply& x);
std::string encode(const msg::work_overview_reply& x);

}  // namespace p2p::codec
