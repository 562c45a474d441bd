#pragma once
// A linearizability checker in the style of Porcupine: Wing & Gong's search for a sequential
// order that respects real time and the model, with Lowe's memoization (a (linearized set, state)
// pair already explored is never explored again), run on each partition of the history alone
// (P-compositionality: a key-value history is linearizable iff each key's sub-history is).
//
// An operation whose outcome the client never learnt has no response (`never`): it may take
// effect at any point after its invocation, or not at all.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace p2p::lin {

inline constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

// `call` and `ret` are points in one total order of events (ties only between `never`s).
template <class Input, class Output>
struct operation {
  int client = 0;
  Input input;
  Output output;
  std::uint64_t call = 0;
  std::uint64_t ret = never;
};

enum class verdict { linearizable, violation, gave_up };

struct result {
  verdict outcome = verdict::linearizable;
  // For a violation: the partition, the longest prefix the search could order and the
  // operation that could not follow it; for gave_up: which partition exceeded the budget.
  std::string explanation;
  std::size_t explored = 0;  // search steps over all partitions
  bool linearizable() const { return outcome == verdict::linearizable; }
  bool violated() const { return outcome == verdict::violation; }
};

// ---- the key-value model -----------------------------------------------------------------------

enum class kv_kind : std::uint8_t { get, put, append };
struct kv_input {
  kv_kind kind = kv_kind::get;
  std::string key;
  std::string value;  // put, append: the argument
};
struct kv_output {
  std::string value;  // get: what was read ("" for an absent key)
};
using kv_operation = operation<kv_input, kv_output>;

// One key's value; appends join with ',' so that every append stays visible in later reads.
struct kv_model {
  using input = kv_input;
  using output = kv_output;
  using state = std::string;
  static const std::string& partition(const input& in) { return in.key; }
  static state init() { return {}; }
  static bool step(const state& s, const input& in, const output& out, state& next) {
    switch (in.kind) {
      case kv_kind::get: next = s; return out.value == s;
      case kv_kind::put: next = in.value; return true;
      case kv_kind::append:
        next = s;
        if (!next.empty()) next.push_back(',');
        next.append(in.value);
        return true;
    }
    return false;
  }
  static std::string describe(const input& in, const output& out) {
    std::string d;
    switch (in.kind) {
      case kv_kind::get: d.append("get(").append(in.key).append(") -> \"").append(out.value).append("\""); break;
      case kv_kind::put: d.append("put(").append(in.key).append(", ").append(in.value).append(")"); break;
      case kv_kind::append: d.append("append(").append(in.key).append(", ").append(in.value).append(")"); break;
    }
    return d;
  }
};

// ---- the search ------------------------------------------------------------------------------

namespace detail {

template <class State>
struct cache_key {
  std::vector<std::uint64_t> linearized;  // a bit per operation of the partition
  State state;
  bool operator==(const cache_key&) const = default;
};

template <class State>
struct cache_hash {
  std::size_t operator()(const cache_key<State>& k) const {
    std::size_t h = std::hash<State>{}(k.state);
    for (auto w : k.linearized) h ^= std::hash<std::uint64_t>{}(w) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};

inline std::string time_text(std::uint64_t t) { return t == never ? std::string("never") : std::to_string(t); }

template <class Model, class Op>
std::string describe(const Op& op) {
  std::string d("client ");
  d.append(std::to_string(op.client)).append(": ").append(Model::describe(op.input, op.output));
  d.append(" [").append(time_text(op.call)).append(", ").append(time_text(op.ret)).append("]");
  return d;
}

// One partition: Wing & Gong's search over a doubly linked list of call and return events.
// Linearizing an operation lifts its call and return out of the list; backtracking puts them
// back (in reverse order, so the links are restored exactly).
template <class Model, class Op>
result check_partition(const std::vector<const Op*>& ops, std::size_t budget) {
  using state_t = typename Model::state;
  const std::size_t n = ops.size();
  result r;
  if (n == 0) return r;

  struct event {
    std::uint64_t time;
    bool call;
    std::size_t op;
  };
  std::vector<event> events;
  events.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    events.push_back({ops[i]->call, true, i});
    events.push_back({ops[i]->ret, false, i});
  }
  std::stable_sort(events.begin(), events.end(), [](const event& a, const event& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.call && !b.call;  // only `never`s tie, and only with each other
  });

  // Node 0 is the head sentinel; event e is node e + 1. `end` marks the list's end.
  const std::size_t end = events.size() + 1;
  std::vector<std::size_t> next(end), prev(end), match(end, 0);
  std::vector<std::size_t> call_node(n);
  for (std::size_t i = 0; i < end; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? end : i - 1;
  }
  for (std::size_t e = 0; e < events.size(); ++e)
    if (events[e].call) call_node[events[e].op] = e + 1;
  for (std::size_t e = 0; e < events.size(); ++e)
    if (!events[e].call) match[call_node[events[e].op]] = e + 1;
  auto unlink = [&](std::size_t x) {
    next[prev[x]] = next[x];
    if (next[x] != end) prev[next[x]] = prev[x];
  };
  auto relink = [&](std::size_t x) {
    next[prev[x]] = x;
    if (next[x] != end) prev[next[x]] = x;
  };

  const std::size_t words = (n + 63) / 64;
  std::vector<std::uint64_t> linearized(words, 0);
  auto set_bit = [](std::vector<std::uint64_t>& b, std::size_t i) { b[i / 64] |= std::uint64_t{1} << (i % 64); };
  auto clear_bit = [](std::vector<std::uint64_t>& b, std::size_t i) { b[i / 64] &= ~(std::uint64_t{1} << (i % 64)); };

  std::unordered_set<cache_key<state_t>, cache_hash<state_t>> cache;
  struct frame {
    std::size_t node;
    state_t before;
  };
  std::vector<frame> calls;
  state_t state = Model::init();
  // The deepest point the search reached, for the explanation.
  bool stuck_seen = false;
  std::vector<std::size_t> best_prefix;
  std::size_t best_stuck = n;

  std::size_t entry = next[0];
  while (next[0] != end) {
    if (++r.explored > budget) {
      r.outcome = verdict::gave_up;
      r.explanation.append("gave up after ").append(std::to_string(budget)).append(" search steps on ");
      r.explanation.append(std::to_string(n)).append(" operations");
      return r;
    }
    const event& ev = events[entry - 1];
    if (ev.call) {
      const Op& op = *ops[ev.op];
      state_t after;
      if (Model::step(state, op.input, op.output, after)) {
        auto bits = linearized;
        set_bit(bits, ev.op);
        if (cache.insert({std::move(bits), after}).second) {
          calls.push_back({entry, std::move(state)});
          state = std::move(after);
          set_bit(linearized, ev.op);
          unlink(entry);
          unlink(match[entry]);
          entry = next[0];
          continue;
        }
      }
      entry = next[entry];
    } else {
      // A response before its operation was linearized: undo the latest choice.
      if (!stuck_seen || calls.size() > best_prefix.size()) {
        stuck_seen = true;
        best_prefix.clear();
        for (const auto& f : calls) best_prefix.push_back(events[f.node - 1].op);
        best_stuck = ev.op;
      }
      if (calls.empty()) break;
      auto f = std::move(calls.back());
      calls.pop_back();
      const std::size_t op_index = events[f.node - 1].op;
      clear_bit(linearized, op_index);
      state = std::move(f.before);
      relink(match[f.node]);
      relink(f.node);
      entry = next[f.node];
    }
  }
  if (next[0] == end) return r;

  r.outcome = verdict::violation;
  std::ostringstream why;
  why << "not linearizable; the longest order found (" << best_prefix.size() << " of " << n << " operations):\n";
  state_t s = Model::init();
  const std::size_t shown = 40;
  for (std::size_t i = 0; i < best_prefix.size(); ++i) {
    const Op& op = *ops[best_prefix[i]];
    state_t after;
    Model::step(s, op.input, op.output, after);
    s = std::move(after);
    if (best_prefix.size() - i <= shown) why << "  " << describe<Model>(op) << "\n";
    else if (best_prefix.size() - i == shown + 1) why << "  ...\n";
  }
  if (best_stuck < n) why << "then cannot place: " << describe<Model>(*ops[best_stuck]) << "\n";
  r.explanation = why.str();
  return r;
}

}  // namespace detail

// Checks the whole history, a partition at a time; `budget` bounds the search steps of each.
template <class Model>
result check(const std::vector<operation<typename Model::input, typename Model::output>>& history,
             std::size_t budget = 2'000'000) {
  using op_t = operation<typename Model::input, typename Model::output>;
  std::map<std::string, std::vector<const op_t*>> parts;
  for (const auto& op : history) parts[Model::partition(op.input)].push_back(&op);
  result total;
  for (const auto& [key, ops] : parts) {
    auto r = detail::check_partition<Model>(ops, budget);
    total.explored += r.explored;
    if (r.outcome == verdict::violation || (r.outcome == verdict::gave_up && total.outcome == verdict::linearizable)) {
      total.outcome = r.outcome;
      total.explanation.assign("key ").append(key).append(": ").append(r.explanation);
      if (r.outcome == verdict::violation) return total;
    }
  }
  return total;
}

// A key-value history (every written value unique), checked as above after one sound
// reduction: a write without a response whose value no read returned (whole, or as a part of an
// appended list) is dropped. Wherever it took effect, the reads after it see its value until a
// put replaces it; since none did, no read fell in between, and from that put on the state is
// the same without it. So dropping it changes no read's outcome, and a history linearizable
// without it is linearizable with it placed last. Unknown writes are otherwise what makes the
// search explode: each may or may not have happened at each point.
inline result check_kv(const std::vector<kv_operation>& history, std::size_t budget = 2'000'000) {
  std::map<std::string, std::unordered_set<std::string>> seen;  // per key: the values reads returned
  for (const auto& op : history) {
    if (op.input.kind != kv_kind::get || op.ret == never) continue;
    auto& values = seen[op.input.key];
    std::string_view rest = op.output.value;
    values.emplace(rest);  // a put's whole value
    while (!rest.empty()) {  // every append's part
      const auto comma = rest.find(',');
      values.emplace(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::vector<kv_operation> kept;
  kept.reserve(history.size());
  for (const auto& op : history) {
    const bool unknown_write = op.ret == never && op.input.kind != kv_kind::get;
    if (unknown_write) {
      auto it = seen.find(op.input.key);
      if (it == seen.end() || !it->second.count(op.input.value)) continue;
    }
    kept.push_back(op);
  }
  return check<kv_model>(kept, budget);
}

}  // namespace p2p::lin
