#include "actors/directory/directory.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
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
      [=](msg::node_identity& id) { self->state.identity = std::move(id); },
      [=](msg::identify_request&) -> caf::result<msg::node_identity> {
        if (self->state.identity.node_id.empty())
          return make_api_error(api_errc::unavailable, "this node is still starting");
        return self->state.identity;
      },
      // Delivery from another node's peers actor, keeping the original sender and request id.
      [=](msg::routed& r) -> caf::result<caf::message> {
        if (r.to_node != self->state.identity.node_id)
          return make_api_error(api_errc::conflict, "this cluster port belongs to node " +
                                                        self->state.identity.node_id + ", not " + r.to_node);
        if (!routable_domain(r.domain))
          return make_api_error(api_errc::forbidden, "domain " + r.domain + " is not reachable from other nodes");
        auto it = self->state.entries.find(r.domain);
        if (it == self->state.entries.end() || !it->second.handle)
          return make_api_error(api_errc::unavailable, r.domain + " actor is not running",
                                R"({"retry_after_ms":1000})");
        return self->delegate(it->second.handle, std::move(r.payload));
      },
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
