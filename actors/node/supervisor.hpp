#pragma once
// The supervisor spawns the node's actors, registers them in the directory, and restarts any
// that dies abnormally (logged, counted, announced as ACTOR_RESTARTED): never silently gone.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace p2p {

struct child_spec {
  std::string name;
  std::function<caf::actor(caf::actor_system&)> spawn;
};

struct supervisor_state {
  struct child {
    child_spec spec;
    caf::actor handle;
    std::uint64_t restarts = 0;
    std::string last_error;
    std::deque<std::chrono::steady_clock::time_point> recent_restarts;
  };
  std::vector<child> children;
  bool stopping = false;
  static inline const char* name = "supervisor";
};

// More restarts than this within the window delays the next restart (crash-loop backoff).
constexpr std::size_t restart_burst = 5;
constexpr auto restart_window = std::chrono::seconds(10);
constexpr auto restart_backoff = std::chrono::seconds(1);

caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self, caf::actor directory,
                               std::vector<child_spec> children);

// Tells the supervisor that the node is stopping: exits stop being restarts.
struct supervisor_stop {};
template <class F> auto inspect(F& f, supervisor_stop&) { return f(); }

}  // namespace p2p
