#pragma once
// JSON <-> membership messages (swim and gossip routes). Bodies arrive validated against the
// route's schema.
#include <string>

#include "protocol/messages/membership.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

// POST /gossip (kind digest) and POST /gossip/anti-entropy (kind full).
msg::gossip_exchange decode_gossip_exchange(const simdjson::dom::element* body, msg::exchange_kind kind);

std::string encode(const msg::swim_status_reply& x);
std::string encode(const msg::swim_members_reply& x);
std::string encode(const msg::gossip_delta& x);
std::string encode(const msg::gossip_peers_reply& x);

}  // namespace p2p::codec
