#include "http/auth.hpp"

#include <openssl/crypto.h>

namespace p2p::http {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length of the expected token is not secret; its bytes are.
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size()) return false;
  auto prefix = authorization.substr(0, scheme.size());
  // The scheme name is case-insensitive (RFC 7235).
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if ((prefix[i] | 0x20) != (scheme[i] | 0x20)) return false;
  return constant_time_equal(authorization.substr(scheme.size()), token);
}

}  // namespace p2p::http
