#include "actors/events/events.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/events_codec.hpp"

namespace p2p {
namespace {
bool wants(const std::vector<std::string>& types, const std::string& type) {
  return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
}
}  // namespace

caf::behavior events_actor(caf::stateful_actor<events_state>* self, events_config config) {
  self->state.log = std::make_unique<event_log>(config.dir, config.retain);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const auto& s) { return s.handle.address() == dm.source; }),
               subs.end());
  });
  auto stats_of = [self] {
    const auto& st = self->state;
    return msg::events_stats{st.log->last_seq(), st.log->retained().size(), st.subscribers.size(),
                             st.published};
  };
  auto encode_stats = [](const msg::events_stats& s) { return codec::encode(s); };
  std::vector<safe_command> commands{safe<msg::events_stats_request, msg::events_stats>(
      "stats", "",
      [](const std::vector<std::string>& args) -> std::optional<msg::events_stats_request> {
        if (!args.empty()) return std::nullopt;
        return msg::events_stats_request{};
      },
      encode_stats)};
  return instrumented(
      self, "events", [=] { return encode_stats(stats_of()); }, std::move(commands),
      [=](msg::publish_event& ev) -> caf::result<msg::event_record> {
        if (auto why = codec::check_event(ev.type, ev.payload_json))
          return make_api_error(api_errc::bad_request, *why);
        auto& st = self->state;
        msg::event_record e;
        e.type = std::move(ev.type);
        e.scope = "node";
        e.timestamp = format_rfc3339(wall_now());
        e.origin_node = config.node_id;
        e.payload_json = std::move(ev.payload_json);
        e.event_id = "n:" + config.node_uuid + ":" + std::to_string(st.log->last_seq() + 1);
        st.log->append(e);
        ++st.published;
        for (const auto& s : st.subscribers)
          if (wants(s.types, e.type)) self->send(s.handle, e);
        return e;
      },
      [=](msg::subscribe_events& sub) -> msg::subscribe_reply {
        auto& st = self->state;
        auto who = caf::actor_cast<caf::actor>(self->current_sender());
        msg::subscribe_reply reply;
        reply.last_seq = st.log->last_seq();
        if (!who) return reply;
        if (sub.resume) {
          const auto& kept = st.log->retained();
          auto oldest = kept.empty() ? st.log->last_seq() + 1 : kept.front().seq;
          // Events after `after_seq` are gone (or the id is from the future): resync needed.
          if (sub.after_seq + 1 < oldest || sub.after_seq > st.log->last_seq()) {
            reply.reset = true;
          } else {
            for (const auto& e : kept)
              if (e.seq > sub.after_seq && wants(sub.types, e.type)) self->send(who, e);
          }
        }
        self->monitor(who);
        st.subscribers.push_back({who, std::move(sub.types)});
        return reply;
      },
      [=](msg::events_stats_request&) -> msg::events_stats { return stats_of(); });
}

}  // namespace p2p
