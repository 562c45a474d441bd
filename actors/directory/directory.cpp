#include "actors/directory/directory.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"

namespace p2p {

caf::behavior directory_actor(caf::stateful_actor<directory_state>* self) {
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& a) { return a.address() == dm.source; }),
               subs.end());
  });
  auto summary = [self] {
    json::writer w;
    w.begin_object().key("entries").begin_array();
    for (const auto& [name, entry] : self->state.entries) {
      w.begin_object()
          .field("name", name)
          .field("running", static_cast<bool>(entry.handle))
          .field("restarts", entry.restarts)
          .end_object();
    }
    w.end_array().field("subscribers", self->state.subscribers.size()).end_object();
    return w.take();
  };
  return instrumented(
      self, "directory", summary, {},
      [=](msg::directory_update& update) {
        self->state.entries[update.entry.name] = update.entry;
        for (const auto& s : self->state.subscribers) self->send(s, update);
      },
      [=](msg::directory_lookup& lookup) -> caf::actor {
        auto it = self->state.entries.find(lookup.name);
        return it == self->state.entries.end() ? caf::actor{} : it->second.handle;
      },
      [=](msg::directory_list&) -> std::vector<msg::directory_entry> {
        std::vector<msg::directory_entry> out;
        for (const auto& [name, entry] : self->state.entries) out.push_back(entry);
        return out;
      },
      [=](msg::ping& p) { return msg::pong{p.seq}; },
      [=](msg::directory_subscribe&) {
        auto sub = caf::actor_cast<caf::actor>(self->current_sender());
        if (!sub) return;
        self->monitor(sub);
        for (const auto& [name, entry] : self->state.entries)
          self->send(sub, msg::directory_update{entry});
        self->state.subscribers.push_back(sub);
      });
}

}  // namespace p2p
