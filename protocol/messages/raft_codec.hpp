#pragma once
// JSON <-> raft messages (the raft routes). Bodies arrive validated against the route's schema.
// Byte fields (entry data, snapshot chunks) travel as base64.
#include <string>
#include <string_view>

#include "protocol/messages/raft.hpp"

namespace simdjson::dom {
class element;
}

namespace p2p::codec {

// POST /raft/append and /raft/vote: `route` is "append" or "vote" (the types it accepts).
msg::raft_rpc decode_raft_rpc(const simdjson::dom::element* body, std::string_view route);
msg::raft_members_request decode_raft_members(const simdjson::dom::element* body);
msg::raft_kv_put decode_raft_kv_put(const simdjson::dom::element* body);
msg::raft_kv_get decode_raft_kv_get(std::string_view query);

std::string encode(const raft::message& x);
std::string encode(const msg::raft_rpc_reply& x);
std::string encode(const msg::raft_status_reply& x);
std::string encode(const msg::raft_members_reply& x);
std::string encode(const msg::raft_kv_reply& x);

std::string base64_encode(std::string_view bytes);
// nullopt-like failure: returns false when `text` is not base64.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace p2p::codec
