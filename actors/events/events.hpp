#pragma once
// The event bus: local actors publish node-scope events; subscribers (SSE connections, the
// console) receive them in sequence order, with replay from the persisted log on resume.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

#include "actors/events/event_log.hpp"
#include "protocol/messages/events.hpp"

namespace p2p {

struct events_config {
  std::filesystem::path dir;
  std::size_t retain = 4096;
  std::string node_id;
  std::string node_uuid;
};

struct events_state {
  struct subscriber {
    caf::actor handle;
    std::vector<std::string> types;  // empty: all
  };
  std::unique_ptr<event_log> log;
  std::vector<subscriber> subscribers;
  std::uint64_t published = 0;
  // The newest replicated event recorded, as (log index, n) of "r:<index>:<n>": entries apply in
  // log order, so one at or below it was recorded before (an entry applied again after a restart).
  std::pair<std::uint64_t, std::uint64_t> replicated_mark{0, 0};
  std::uint64_t replicated_duplicates = 0;
  static inline const char* name = "events";
};

// (log index, n) of a replicated event id "r:<index>:<n>"; nullopt for any other id.
std::optional<std::pair<std::uint64_t, std::uint64_t>> replicated_position(std::string_view event_id);

caf::behavior events_actor(caf::stateful_actor<events_state>* self, events_config config);

}  // namespace p2p
