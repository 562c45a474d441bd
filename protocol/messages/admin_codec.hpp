#pragma once
// JSON <-> admin messages. Bodies arrive already validated against the route's schema.
#include <string>

#include "protocol/messages/admin.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

// `body` may be null (no body sent): defaults apply.
msg::shutdown_request decode_shutdown_request(const simdjson::dom::element* body);
msg::log_level_request decode_log_level_request(const simdjson::dom::element* body);

std::string encode(const msg::health_reply& x);
std::string encode(const msg::shutdown_reply& x);
std::string encode(const msg::log_level_reply& x);
std::string encode(const msg::status_reply& x);

}  // namespace p2p::codec
