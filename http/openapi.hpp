#pragma once
#include <span>
#include <string>

#include "http/routes.hpp"

namespace p2p::http {

// OpenAPI 3.0 document for the given routes: paths, methods, auth, bodies, query parameters,
// replies and the error envelope. Generated, never written by hand.
std::string openapi_document(std::span<const route> table, std::string_view version);

}  // namespace p2p::http
