#include "protocol/common/identity.hpp"

#include <sys/random.h>

#include <simdjson.h>

#include <stdexcept>

#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"

namespace p2p {

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    auto n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string make_uuid_v4() {
  auto h = random_hex(16);
  h[12] = '4';                                         // version 4
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

node_identity load_identity(const std::filesystem::path& data_dir) {
  auto file = data_dir / "identity.json";
  node_identity id;
  if (auto text = files::read_all(file)) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view uuid;
    uint64_t epoch = 0;
    if (parser.parse(*text).get(doc) || doc["node_uuid"].get(uuid) ||
        doc["boot_epoch"].get(epoch) || uuid.size() != 36)
      throw std::runtime_error("identity file " + file.string() +
                               " is corrupt; restore it from a backup or remove the data dir to "
                               "start as a new node");
    id.node_uuid = std::string(uuid);
    id.boot_epoch = epoch;
  } else {
    id.node_uuid = make_uuid_v4();
  }
  id.boot_epoch += 1;
  json::writer w;
  w.begin_object()
      .field("format", 1)
      .field("node_uuid", id.node_uuid)
      .field("boot_epoch", id.boot_epoch)
      .end_object();
  files::write_atomic(file, w.str() + "\n", 0600);
  return id;
}

namespace {
std::string trim(std::string s) {
  auto ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}
}  // namespace

std::string read_token_file(const std::filesystem::path& file) {
  auto text = files::read_all(file);
  if (!text) throw std::runtime_error("cannot read auth token file " + file.string());
  auto token = trim(*text);
  if (token.empty()) throw std::runtime_error("auth token file " + file.string() + " is empty");
  return token;
}

std::string load_or_create_token(const std::filesystem::path& data_dir) {
  auto file = data_dir / "auth-token";
  if (std::filesystem::exists(file)) return read_token_file(file);
  auto token = random_hex(32);
  files::write_atomic(file, token + "\n", 0600);
  return token;
}

}  // namespace p2p
