#pragma once
// The one error envelope (DESIGN.md §5):
// {"error": "<message>", "code": "<machine_code>", "status": <http status>, "details": {...}}
#include <string>
#include <string_view>

#include "http/types.hpp"
#include "protocol/common/api_error.hpp"

namespace p2p::http {

// `details_json` must be a serialized JSON object.
response error_response(api_errc code, std::string_view message,
                        std::string_view details_json = "{}");
response bad_field(std::string_view field, std::string_view message);

// Builds a JSON response with the given status.
response json_response(unsigned status, std::string body);

}  // namespace p2p::http
