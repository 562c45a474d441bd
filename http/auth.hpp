#pragma once
#include <string_view>

namespace p2p::http {

// True when the Authorization header is "Bearer <token>" with exactly this token. The comparison
// takes the same time wherever the first difference is, so timing reveals nothing of the token.
bool bearer_matches(std::string_view authorization, std::string_view token);

bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace p2p::http
