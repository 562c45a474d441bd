#pragma once
// Domain actors fail requests with caf::error values in the "p2p" category; the front turns them
// into the error envelope. Timeouts and dead actors map to 504 and 503.
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <string>

#include "protocol/common/api_error.hpp"

namespace p2p {

constexpr caf::atom_value api_error_category = caf::atom("p2p");

// `details_json` is a serialized JSON object for the envelope's details.
inline caf::error make_api_error(api_errc code, std::string message,
                                 std::string details_json = "{}") {
  return caf::error(static_cast<std::uint8_t>(code), api_error_category,
                    caf::make_message(std::move(message), std::move(details_json)));
}

// "bad_request: unknown log level x" for our errors, CAF's rendering for others.
inline std::string describe_error(const caf::error& err) {
  if (err.category() == api_error_category) {
    auto code = api_errc_from_int(err.code()).value_or(api_errc::internal);
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string, std::string>())
      return std::string(code_name(code)) + ": " + ctx.get_as<std::string>(0);
    return std::string(code_name(code));
  }
  return caf::to_string(err);
}

}  // namespace p2p
