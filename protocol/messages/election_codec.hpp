#pragma once
// JSON <-> election messages (the election routes). Bodies arrive validated against the route's
// schema; what the schema cannot say (an empty id, a malformed voters_hash) is left in the
// message's `error` for the actor to refuse with bad_request.
#include <string>

#include "protocol/messages/election.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

msg::election_heartbeat decode_election_heartbeat(const simdjson::dom::element* body);
msg::election_vote decode_election_vote(const simdjson::dom::element* body);
msg::leadership_transfer_request decode_leadership_transfer(const simdjson::dom::element* body);

std::string encode(const msg::election_vote& x);
std::string encode(const msg::election_vote_ack& x);
std::string encode(const msg::election_status_reply& x);
std::string encode(const msg::leadership_transfer_reply& x);

}  // namespace p2p::codec
