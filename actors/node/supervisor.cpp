#include "actors/node/supervisor.hpp"

#include <caf/all.hpp>

#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/events.hpp"

namespace p2p {
namespace {

struct restart_child {
  std::string name;
};
template <class F> auto inspect(F& f, restart_child& x) { return f(x.name); }

void start_child(caf::stateful_actor<supervisor_state>* self, caf::actor directory,
                 supervisor_state::child& c) {
  c.handle = c.spec.spawn(self->system());
  self->monitor(c.handle);
  self->send(directory, msg::directory_update{{c.spec.name, c.handle, c.restarts, c.last_error}});
}

caf::actor find_child(supervisor_state& st, std::string_view name) {
  for (auto& c : st.children)
    if (c.spec.name == name) return c.handle;
  return {};
}

}  // namespace

caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self, caf::actor directory,
                               std::vector<child_spec> children) {
  for (auto& spec : children) {
    self->state.children.push_back({std::move(spec), {}, 0, {}, {}});
    start_child(self, directory, self->state.children.back());
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& c : st.children) {
      if (c.handle.address() != dm.source) continue;
      c.handle = nullptr;
      if (st.stopping) return;
      c.last_error = caf::to_string(dm.reason);
      ++c.restarts;
      log::error("supervisor", "actor died; restarting",
                 {{"actor", json::quote(c.spec.name)}, {"reason", json::quote(c.last_error)},
                  {"restarts", std::to_string(c.restarts)}});
      // Until the restart, the directory says the actor is not running (callers get 503).
      self->send(directory, msg::directory_update{{c.spec.name, {}, c.restarts, c.last_error}});
      auto now = std::chrono::steady_clock::now();
      c.recent_restarts.push_back(now);
      while (!c.recent_restarts.empty() && now - c.recent_restarts.front() > restart_window)
        c.recent_restarts.pop_front();
      if (c.recent_restarts.size() > restart_burst)
        self->delayed_send(self, restart_backoff, restart_child{c.spec.name});
      else
        self->send(self, restart_child{c.spec.name});
      return;
    }
  });
  // The supervisor is in the directory too, so the console sees it.
  self->send(directory, msg::directory_update{{"supervisor", caf::actor_cast<caf::actor>(self), 0, {}}});
  auto summary = [self] {
    json::writer w;
    w.begin_object().field("stopping", self->state.stopping).key("children").begin_array();
    for (const auto& c : self->state.children)
      w.begin_object()
          .field("name", c.spec.name)
          .field("running", static_cast<bool>(c.handle))
          .field("restarts", c.restarts)
          .field("last_error", c.last_error)
          .end_object();
    w.end_array().end_object();
    return w.take();
  };
  return instrumented(
      self, "supervisor", summary, {},
      [=](restart_child& r) {
        auto& st = self->state;
        if (st.stopping) return;
        for (auto& c : st.children) {
          if (c.spec.name != r.name || c.handle) continue;
          start_child(self, directory, c);
          if (auto events = find_child(st, "events")) {
            json::writer w;
            w.begin_object()
                .field("actor", c.spec.name)
                .field("reason", c.last_error)
                .field("restarts", c.restarts)
                .end_object();
            caf::anon_send(events, msg::publish_event{"ACTOR_RESTARTED", w.take()});
          }
        }
      },
      // Which child has this name (invalid while it is restarting). Answering proves the children
      // were spawned and announced to the directory before anything asked after this reply.
      [=](msg::directory_lookup& lookup) -> caf::actor { return find_child(self->state, lookup.name); },
      [=](supervisor_stop&) {
        self->state.stopping = true;
        for (auto& c : self->state.children)
          if (c.handle) self->send_exit(c.handle, caf::exit_reason::user_shutdown);
        self->quit();
      });
}

}  // namespace p2p
