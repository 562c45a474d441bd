#pragma once
// Messages of the directory actor: the one map from domain names to actor handles.
#include <caf/actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

struct directory_entry {
  std::string name;
  caf::actor handle;
  std::uint64_t restarts = 0;
  std::string last_error;
};

// From the supervisor: a domain actor started or restarted.
struct directory_update {
  directory_entry entry;
};
struct directory_lookup {
  std::string name;
};  // -> caf::actor (invalid when unknown)
struct directory_list {};  // -> std::vector<directory_entry>
// The sender receives every later directory_update (and the current entries now).
struct directory_subscribe {};

// Liveness and round-trip measurement of the cluster port (console, p2p-bench).
struct ping {
  std::uint64_t seq = 0;
};
struct pong {
  std::uint64_t seq = 0;
};

template <class F> auto inspect(F& f, ping& x) { return f(x.seq); }
template <class F> auto inspect(F& f, pong& x) { return f(x.seq); }
template <class F> auto inspect(F& f, directory_entry& x) {
  return f(x.name, x.handle, x.restarts, x.last_error);
}
template <class F> auto inspect(F& f, directory_update& x) { return f(x.entry); }
template <class F> auto inspect(F& f, directory_lookup& x) { return f(x.name); }
template <class F> auto inspect(F& f, directory_list&) { return f(); }
template <class F> auto inspect(F& f, directory_subscribe&) { return f(); }

}  // namespace p2p::msg
