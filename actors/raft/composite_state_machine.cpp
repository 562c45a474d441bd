#include "actors/raft/composite_state_machine.hpp"

#include <stdexcept>

namespace p2p::raft {
namespace {

constexpr std::string_view work_magic = "WQC";
constexpr std::string_view composite_tag = "CSM1";
constexpr std::string_view kv_only_tag = "KV1";

void put_part(std::string& out, std::string_view part) {
  const auto n = static_cast<std::uint64_t>(part.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(part);
}

bool take_part(std::string_view& in, std::string_view& part) {
  if (in.size() < 8) return false;
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(8);
  if (in.size() < n) return false;
  part = in.substr(0, static_cast<std::size_t>(n));
  in.remove_prefix(static_cast<std::size_t>(n));
  return true;
}

}  // namespace

composite_state_machine::composite_state_machine(work::limits limits) : work_(limits), limits_(limits) {}

bool composite_state_machine::is_work_command(std::string_view command) {
  return command.substr(0, work_magic.size()) == work_magic;
}

std::string_view work_op_name(const work::command& c) {
  static constexpr std::string_view names[] = {"add",  "claim",   "start",  "heartbeat", "complete", "fail",
                                               "expire", "timeout", "cancel", "archive",   "release"};
  static_assert(std::size(names) == std::variant_size_v<work::command>, "one name per command");
  return names[c.index()];
}

applied_entry composite_state_machine::apply_entry(std::uint64_t index, std::string_view command) {
  applied_entry out;
  if (!is_work_command(command)) {
    out.result = kv_.apply(index, command);
    return out;
  }
  out.work = true;
  if (auto c = work::decode_command(command)) {
    out.work_op = std::string(work_op_name(*c));
    out.work_answer = work_.apply_command(index, *c);
    out.result = work::encode_answer(out.work_answer);
  } else {
    // Still applied (every voter sees the same log): the machine answers with its error.
    out.result = work_.apply(index, command);
    if (auto a = work::decode_answer(out.result)) out.work_answer = std::move(*a);
  }
  return out;
}

std::string composite_state_machine::apply(std::uint64_t index, std::string_view command) {
  return apply_entry(index, command).result;
}

std::string composite_state_machine::snapshot() const {
  std::string out(composite_tag);
  put_part(out, kv_.snapshot());
  put_part(out, work_.snapshot());
  return out;
}

void composite_state_machine::restore(std::string_view data) {
  // Both parts restore into fresh machines first: a refused snapshot changes nothing.
  kv_state_machine kv;
  work::work_queue_state_machine work(limits_);
  if (data.substr(0, kv_only_tag.size()) == kv_only_tag) {
    kv.restore(data);
  } else if (data.substr(0, composite_tag.size()) == composite_tag) {
    data.remove_prefix(composite_tag.size());
    std::string_view kv_part, work_part;
    if (!take_part(data, kv_part) || !take_part(data, work_part) || !data.empty())
      throw std::invalid_argument("a cluster snapshot is cut short or has trailing bytes");
    kv.restore(kv_part);
    work.restore(work_part);
  } else {
    throw std::invalid_argument("not a cluster state snapshot");
  }
  kv_ = std::move(kv);
  work_ = std::move(work);
}

std::string stamp_work_command(std::string_view command, work::time_ms now, std::uint64_t term) {
  auto c = work::decode_command(command);
  if (!c) return std::string(command);
  std::visit(
      [&](auto& x) {
        x.now = now;
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, work::claim_command>) x.term = term;
      },
      *c);
  return work::encode_command(*c);
}

}  // namespace p2p::raft
