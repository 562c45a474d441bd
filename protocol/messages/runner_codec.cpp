#include "protocol/messages/runner_codec.hpp"

#include "protocol/common/json.hpp"

namespace p2p::codec {

std::string encode(const msg::runner_status_reply& x) {
  json::writer w;
  w.begin_object().field("node_id", x.node_id).field("draining", x.draining).key("work_types").begin_array();
  for (const auto& t : x.types) {
    w.begin_object().field("work_type", t.work_type).key("argv").begin_array();
    for (const auto& a : t.argv) w.value(a);
    w.end_array().field("slots", t.slots).field("running", t.running).field("claiming", t.claiming).end_object();
  }
  w.end_array().key("attempts").begin_array();
  for (const auto& a : x.attempts)
    w.begin_object()
        .field("work_id", a.work_id)
        .field("work_type", a.work_type)
        .field("attempt", a.attempt)
        .field("pid", a.pid)
        .field("runtime_ms", a.runtime_ms)
        .field("progress", a.progress)
        .field("progress_message", a.progress_message)
        .field("phase", a.phase)
        .end_object();
  w.end_array()
      .key("counts")
      .begin_object()
      .field("claimed", x.claimed)
      .field("completed", x.completed)
      .field("failed", x.failed)
      .field("lost_claims", x.lost_claims)
      .field("handed_back", x.handed_back)
      .field("adopted", x.adopted)
      .end_object()
      .end_object();
  return w.take();
}

}  // namespace p2p::codec
