#pragma once
// JSON of the runner's replies (GET /runner/status, the console).
#include <string>

#include "protocol/messages/runner.hpp"

namespace p2p::codec {

std::string encode(const msg::runner_status_reply& x);

}  // namespace p2p::codec
