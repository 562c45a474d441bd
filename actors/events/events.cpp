#include "actors/events/events.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/common/time.hpp"
#include "protocol/messages/events_codec.hpp"

namespace p2p {
namespace {
bool wants(const std::vector<std::string>& types, const std::string& type) {
  return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// Delivers a recorded event to the subscribers that want it.
void deliver(caf::stateful_actor<events_state>* self, const msg::event_record& e) {
  for (const auto& s : self->state.subscribers)
    if (wants(s.types, e.type)) self->send(s.handle, e);
}
}  // namespace

std::optional<std::pair<std::uint64_t, std::uint64_t>> replicated_position(std::string_view event_id) {
  if (event_id.substr(0, 2) != "r:") return std::nullopt;
  event_id.remove_prefix(2);
  const auto colon = event_id.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::uint64_t index = 0, n = 0;
  if (!parse_decimal(event_id.substr(0, colon), index) || !parse_decimal(event_id.substr(colon + 1), n))
    return std::nullopt;
  return std::pair{index, n};
}

caf::behavior events_actor(caf::stateful_actor<events_state>* self, events_config config) {
  self->state.log = std::make_unique<event_log>(config.dir, config.retain);
  // The mark survives restarts through the persisted tail of the stream.
  for (const auto& e : self->state.log->retained())
    if (auto pos = replicated_position(e.event_id)) self->state.replicated_mark = std::max(self->state.replicated_mark, *pos);
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
        deliver(self, e);
        return e;
      },
      [=](msg::replicated_event& ev) {
        auto& st = self->state;
        const auto pos = replicated_position(ev.event_id);
        if (!pos) {
          log::error("events", "a replicated event without a replicated id was refused",
                     {{"event_id", json::quote(ev.event_id)}, {"type", json::quote(ev.type)}});
          return;
        }
        if (*pos <= st.replicated_mark) {
          ++st.replicated_duplicates;
          return;
        }
        // The catalog holds for replicated events too: a malformed one is an error, logged loudly.
        if (auto why = codec::check_event(ev.type, ev.payload_json)) {
          log::error("events", "a replicated event failed the catalog check",
                     {{"event_id", json::quote(ev.event_id)}, {"error", json::quote(*why)}});
          return;
        }
        st.replicated_mark = *pos;
        msg::event_record e;
        e.event_id = std::move(ev.event_id);
        e.type = std::move(ev.type);
        e.scope = "cluster";
        e.timestamp = format_rfc3339(wall_clock::time_point(std::chrono::milliseconds(ev.timestamp_ms)));
        e.origin_node = config.node_id;
        e.term = ev.term;
        e.payload_json = std::move(ev.payload_json);
        st.log->append(e);
        ++st.published;
        deliver(self, e);
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
