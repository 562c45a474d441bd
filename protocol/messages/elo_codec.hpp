#pragma once
// JSON <-> elo messages (the elo routes). Bodies arrive validated against the route's schema;
// the records inside `matches` are read one by one, so one bad record is refused alone.
#include <string>
#include <string_view>

#include "protocol/messages/elo.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

msg::elo_ingest decode_elo_ingest(const simdjson::dom::element* body);
msg::elo_rankings_request decode_elo_rankings(std::string_view query);
// Sets the request's `error` when the body cannot be used.
msg::elo_sync_request decode_elo_sync(const simdjson::dom::element* body);

std::string encode(const msg::elo_ingest_reply& x);
std::string encode(const msg::elo_rankings_reply& x);
std::string encode(const msg::elo_sync_reply& x);
std::string encode(const msg::elo_status_reply& x);
std::string encode_elo_match(const msg::elo_match& m);

}  // namespace p2p::codec
