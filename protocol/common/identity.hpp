#pragma once
// What a node persists about itself in its data dir: who it is and how often it has booted.
#include <cstdint>
#include <filesystem>
#include <string>

namespace p2p {

struct node_identity {
  std::string node_uuid;
  std::uint64_t boot_epoch = 0;  // incremented at every start; orders gossip versions
};

// Loads data_dir/identity.json (creating it on first start), increments and persists the boot
// epoch before returning. A corrupt file is an error, never silently replaced: a new uuid would
// make the node a stranger to its cluster.
node_identity load_identity(const std::filesystem::path& data_dir);

// Cryptographically random bytes as lowercase hex.
std::string random_hex(std::size_t bytes);
std::string make_uuid_v4();

// Reads data_dir/auth-token, or creates it (mode 0600) with a fresh random token.
std::string load_or_create_token(const std::filesystem::path& data_dir);

// Reads a token file; surrounding whitespace is ignored; throws if missing or empty.
std::string read_token_file(const std::filesystem::path& file);

}  // namespace p2p
