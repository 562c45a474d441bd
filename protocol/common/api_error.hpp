#pragma once
// The machine codes of the error envelope (DESIGN.md §5). One list, used by the HTTP layer to
// pick a status and by domain actors to say why a request failed.
#include <cstdint>
#include <optional>
#include <string_view>

namespace p2p {

enum class api_errc : std::uint8_t {
  bad_request = 1,
  unauthorized,
  forbidden,
  not_found,
  method_not_allowed,
  conflict,
  payload_too_large,
  backpressure,
  internal,
  unavailable,
  timeout,
};

constexpr unsigned http_status(api_errc c) {
  switch (c) {
    case api_errc::bad_request: return 400;
    case api_errc::unauthorized: return 401;
    case api_errc::forbidden: return 403;
    case api_errc::not_found: return 404;
    case api_errc::method_not_allowed: return 405;
    case api_errc::conflict: return 409;
    case api_errc::payload_too_large: return 413;
    case api_errc::backpressure: return 429;
    case api_errc::internal: return 500;
    case api_errc::unavailable: return 503;
    case api_errc::timeout: return 504;
  }
  return 500;
}

constexpr std::string_view code_name(api_errc c) {
  switch (c) {
    case api_errc::bad_request: return "bad_request";
    case api_errc::unauthorized: return "unauthorized";
    case api_errc::forbidden: return "forbidden";
    case api_errc::not_found: return "not_found";
    case api_errc::method_not_allowed: return "method_not_allowed";
    case api_errc::conflict: return "conflict";
    case api_errc::payload_too_large: return "payload_too_large";
    case api_errc::backpressure: return "backpressure";
    case api_errc::internal: return "internal";
    case api_errc::unavailable: return "unavailable";
    case api_errc::timeout: return "timeout";
  }
  return "internal";
}

constexpr std::optional<api_errc> api_errc_from_int(unsigned v) {
  if (v < 1 || v > static_cast<unsigned>(api_errc::timeout)) return std::nullopt;
  return static_cast<api_errc>(v);
}

}  // namespace p2p
