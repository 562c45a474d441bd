#include "actors/raft/state_machine.hpp"

namespace p2p::raft {
namespace {

// Length-prefixed strings: keys and values may hold any bytes.
void put_string(std::string& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(s);
}
bool take_string(std::string_view& in, std::string_view& out) {
  if (in.size() < 4) return false;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[static_cast<std::size_t>(i)])) << (8 * i);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

constexpr char put_tag = 'P';
constexpr std::string_view snapshot_tag = "KV1";

}  // namespace

std::string kv_state_machine::put_command(std::string_view key, std::string_view value) {
  std::string out(1, put_tag);
  put_string(out, key);
  put_string(out, value);
  return out;
}

kv_state_machine::put_result kv_state_machine::decode_put_result(std::string_view result) {
  if (result.empty() || result[0] != '1') return {};
  return {true, std::string(result.substr(1))};
}

std::string kv_state_machine::apply(std::uint64_t, std::string_view command) {
  std::string_view rest = command.substr(command.empty() ? 0 : 1);
  std::string_view key, value;
  if (command.empty() || command[0] != put_tag || !take_string(rest, key) || !take_string(rest, value) ||
      !rest.empty())
    return "error: not a key-value command";
  auto [it, fresh] = values_.try_emplace(std::string(key), std::string(value));
  if (fresh) return "0";
  std::string result = "1" + it->second;
  it->second.assign(value);
  return result;
}

std::string kv_state_machine::snapshot() const {
  std::string out(snapshot_tag);
  for (const auto& [k, v] : values_) {
    put_string(out, k);
    put_string(out, v);
  }
  return out;
}

void kv_state_machine::restore(std::string_view data) {
  if (data.substr(0, snapshot_tag.size()) != snapshot_tag)
    throw std::invalid_argument("not a key-value snapshot");
  data.remove_prefix(snapshot_tag.size());
  std::map<std::string, std::string> values;
  while (!data.empty()) {
    std::string_view k, v;
    if (!take_string(data, k) || !take_string(data, v)) throw std::invalid_argument("a key-value snapshot is cut short");
    values.emplace(std::string(k), std::string(v));
  }
  values_ = std::move(values);
}

const std::string* kv_state_machine::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

}  // namespace p2p::raft
