#include "actors/node/front.hpp"

#include <caf/all.hpp>
#include <simdjson.h>

#include <charconv>
#include <unordered_map>

#include "actors/common/api_error.hpp"
#include "actors/common/instrumented.hpp"
#include "http/envelope.hpp"
#include "http/openapi.hpp"
#include "http/routes.hpp"
#include "protocol/common/json.hpp"
#include "protocol/messages/admin_codec.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/election_codec.hpp"
#include "protocol/messages/elo_codec.hpp"
#include "protocol/messages/events_codec.hpp"
#include "protocol/messages/membership_codec.hpp"
#include "protocol/messages/raft_codec.hpp"
#include "protocol/messages/runner_codec.hpp"
#include "protocol/messages/work_codec.hpp"

namespace p2p {

struct front_state {
  std::unordered_map<std::string, caf::actor> domains;
  caf::actor directory;
  static inline const char* name = "front";
};
using front_self = caf::stateful_actor<front_state>*;

// Work handed from an HTTP thread to the front actor: a closure over an already decoded message.
struct front_job {
  std::function<void(front_self)> run;
};

}  // namespace p2p

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::front_job)

namespace p2p {

using done_fn = std::function<void(http::response)>;

struct front_dispatcher::binding {
  std::string_view route_id;
  std::function<void(const http::route&, const http::request&, const simdjson::dom::element*,
                     done_fn)>
      run;
};

namespace {

constexpr auto retry_details = R"({"retry_after_ms":1000})";

caf::behavior front_actor(front_self self, caf::actor directory) {
  self->state.directory = directory;
  self->send(directory, msg::directory_subscribe{});
  self->send(directory, msg::directory_update{{"front", caf::actor_cast<caf::actor>(self), 0, {}}});
  auto summary = [self] {
    json::writer w;
    w.begin_object().key("domains").begin_array();
    for (const auto& [name, handle] : self->state.domains)
      if (handle) w.value(name);
    w.end_array().end_object();
    return w.take();
  };
  return instrumented(
      self, "front", summary, {},
      [=](msg::directory_update& u) { self->state.domains[u.entry.name] = u.entry.handle; },
      [=](front_job& job) { job.run(self); });
}

// Binds a route to "ask `domain` with Req, answer with encode(Rep)". Decoding happens on the
// HTTP thread so the front actor only forwards. The local ask has no CAF timeout: the HTTP
// server times the request out itself (504), and a CAF timeout costs a wake-up of CAF's clock
// thread per request (about 10 % of throughput, measured). A domain actor that dies answers
// with an error, so no handler is left behind except behind an actor that is stuck anyway.
template <class Req, class Rep, class Decode, class Encode>
auto ask(caf::actor front, std::string domain, Decode decode, Encode encode) {
  return [=](const http::route& r, const http::request& req, const simdjson::dom::element* body,
             done_fn done) {
    Req message = decode(req, body);
    auto success = r.success_status;
    caf::anon_send(front, front_job{[=, message = std::move(message),
                                     done = std::move(done)](front_self self) {
      auto forward = [=](const caf::actor& handle) {
        if (!handle) {
          done(http::error_response(api_errc::unavailable, domain + " actor is not running", retry_details));
          return;
        }
        self->request(handle, caf::infinite, message)
            .then([=](Rep& reply) { done(encode(reply, success)); },
                  [=](caf::error& err) { done(response_from_error(err)); });
      };
      auto it = self->state.domains.find(domain);
      if (it != self->state.domains.end()) return forward(it->second);
      // Not heard of yet: the node has only just started, and the directory's update to us may
      // still be on its way. The directory itself knows every actor the supervisor started.
      self->request(self->state.directory, std::chrono::seconds(5), msg::directory_lookup{domain})
          .then(
              [=](caf::actor& handle) {
                if (handle && !self->state.domains.count(domain)) self->state.domains[domain] = handle;
                forward(handle);
              },
              [=](caf::error&) { forward(caf::actor{}); });
    }});
  };
}

template <class Req>
auto no_body() {
  return [](const http::request&, const simdjson::dom::element*) { return Req{}; };
}

auto json_encoder() {
  return [](const auto& reply, unsigned status) {
    return http::json_response(status, codec::encode(reply));
  };
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}


// Feeds one event stream connection: subscribes to the events actor and pushes SSE frames.
caf::behavior sse_subscriber(caf::event_based_actor* self, caf::actor front,
                             caf::actor directory, std::shared_ptr<http::stream_sink> sink,
                             msg::subscribe_events sub) {
  auto end = [=] {
    sink->close();
    self->quit();
  };
  // The events actor restarted (the client resumes with Last-Event-ID), or the front stopped.
  self->set_down_handler([=](caf::down_msg&) { end(); });
  self->monitor(front);
  self->request(directory, std::chrono::seconds(5), msg::directory_lookup{"events"})
      .then(
          [=](caf::actor& events) {
            if (!events) return end();
            self->monitor(events);
            self->request(events, std::chrono::seconds(5), sub)
                .then(
                    [=](msg::subscribe_reply& reply) {
                      // Replayed events (if any) were delivered before this reply; from here on
                      // the stream is live, which the comment tells clients waiting for it.
                      if (reply.reset) sink->push(codec::sse_reset_frame(reply.last_seq));
                      sink->push(": subscribed last_seq=" + std::to_string(reply.last_seq) + "\n\n");
                    },
                    [=](caf::error&) { end(); });
          },
          [=](caf::error&) { end(); });
  return {
      [=](msg::event_record& e) { sink->push(codec::sse_frame(e)); },
  };
}

}  // namespace

http::response response_from_error(const caf::error& err) {
  if (err.category() == api_error_category) {
    auto code = api_errc_from_int(err.code()).value_or(api_errc::internal);
    std::string message = "request failed";
    std::string details = "{}";
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string, std::string>()) {
      message = ctx.get_as<std::string>(0);
      details = ctx.get_as<std::string>(1);
    }
    return http::error_response(code, message, details);
  }
  if (err == caf::sec::request_timeout)
    return http::error_response(api_errc::timeout, "the domain actor did not answer in time",
                                R"({"outcome":"unknown"})");
  if (err == caf::sec::request_receiver_down)
    return http::error_response(api_errc::unavailable, "the domain actor stopped", retry_details);
  return http::error_response(api_errc::internal, caf::to_string(err));
}

std::vector<std::string> front_dispatcher::unbound_routes() const {
  std::vector<std::string> out;
  auto table = http::route_table();
  for (std::size_t i = 0; i < table.size(); ++i)
    if (!by_index_[i] && table[i].reply != http::reply_kind::event_stream)
      out.emplace_back(table[i].id);
  return out;
}

front_dispatcher::front_dispatcher(caf::actor_system& system, caf::actor directory,
                                   const http::http_metrics& metrics, front_options options)
    : system_(system),
      directory_(directory),
      front_(system.spawn(front_actor, directory)),
      metrics_(metrics),
      options_(std::move(options)),
      openapi_(http::openapi_document(http::route_table(), options_.version)) {
  const auto* metrics_ptr = &metrics_;
  auto add = [&](std::string_view id, auto fn) {
    bindings_.push_back(std::make_unique<binding>(binding{id, std::move(fn)}));
    return bindings_.back().get();
  };
  std::vector<const binding*> all = {
      add("admin.health",
          ask<msg::health_request, msg::health_reply>(
              front_, "admin", no_body<msg::health_request>(),
              [](const msg::health_reply& h, unsigned status) {
                return http::json_response(h.draining ? 503 : status, codec::encode(h));
              })),
      add("admin.shutdown", ask<msg::shutdown_request, msg::shutdown_reply>(
                                front_, "admin",
                                [](const http::request&, const simdjson::dom::element* body) {
                                  return codec::decode_shutdown_request(body);
                                },
                                json_encoder())),
      add("admin.log_level", ask<msg::log_level_request, msg::log_level_reply>(
                                 front_, "admin",
                                 [](const http::request&, const simdjson::dom::element* body) {
                                   return codec::decode_log_level_request(body);
                                 },
                                 json_encoder())),
      add("admin.status", ask<msg::status_request, msg::status_reply>(
                              front_, "admin", no_body<msg::status_request>(), json_encoder())),
      add("admin.metrics",
          ask<msg::metrics_request, msg::metrics_reply>(
              front_, "admin", no_body<msg::metrics_request>(),
              [metrics_ptr](const msg::metrics_reply& m, unsigned status) {
                http::response res;
                res.status = status;
                res.content_type = "text/plain; version=0.0.4";
                res.body = m.text;
                metrics_ptr->render(res.body);
                return res;
              })),
      add("swim.status", ask<msg::swim_status_request, msg::swim_status_reply>(
                             front_, "swim", no_body<msg::swim_status_request>(), json_encoder())),
      add("swim.members", ask<msg::swim_members_request, msg::swim_members_reply>(
                              front_, "swim", no_body<msg::swim_members_request>(), json_encoder())),
      add("gossip.exchange", ask<msg::gossip_exchange, msg::gossip_delta>(
                                 front_, "gossip",
                                 [](const http::request&, const simdjson::dom::element* body) {
                                   return codec::decode_gossip_exchange(body, msg::exchange_kind::digest);
                                 },
                                 json_encoder())),
      add("gossip.anti_entropy", ask<msg::gossip_exchange, msg::gossip_delta>(
                                     front_, "gossip",
                                     [](const http::request&, const simdjson::dom::element* body) {
                                       return codec::decode_gossip_exchange(body, msg::exchange_kind::full);
                                     },
                                     json_encoder())),
      add("gossip.peers", ask<msg::gossip_peers_request, msg::gossip_peers_reply>(
                              front_, "gossip", no_body<msg::gossip_peers_request>(), json_encoder())),
      add("raft.append", ask<msg::raft_rpc, msg::raft_rpc_reply>(
                             front_, "raft",
                             [](const http::request&, const simdjson::dom::element* body) {
                               return codec::decode_raft_rpc(body, "append");
                             },
                             json_encoder())),
      add("raft.vote", ask<msg::raft_rpc, msg::raft_rpc_reply>(
                           front_, "raft",
                           [](const http::request&, const simdjson::dom::element* body) {
                             return codec::decode_raft_rpc(body, "vote");
                           },
                           json_encoder())),
      add("raft.status", ask<msg::raft_status_request, msg::raft_status_reply>(
                             front_, "raft", no_body<msg::raft_status_request>(), json_encoder())),
      add("raft.members", ask<msg::raft_members_request, msg::raft_members_reply>(
                              front_, "raft",
                              [](const http::request&, const simdjson::dom::element* body) {
                                return codec::decode_raft_members(body);
                              },
                              json_encoder())),
      add("raft.kv_put", ask<msg::raft_kv_put, msg::raft_kv_reply>(
                             front_, "raft",
                             [](const http::request&, const simdjson::dom::element* body) {
                               return codec::decode_raft_kv_put(body);
                             },
                             json_encoder())),
      add("raft.kv_get", ask<msg::raft_kv_get, msg::raft_kv_reply>(
                             front_, "raft",
                             [](const http::request& req, const simdjson::dom::element*) {
                               return codec::decode_raft_kv_get(req.query);
                             },
                             json_encoder())),
      add("election.heartbeat", ask<msg::election_heartbeat, msg::election_vote>(
                                    front_, "election",
                                    [](const http::request&, const simdjson::dom::element* body) {
                                      return codec::decode_election_heartbeat(body);
                                    },
                                    json_encoder())),
      add("election.vote", ask<msg::election_vote, msg::election_vote_ack>(
                               front_, "election",
                               [](const http::request&, const simdjson::dom::element* body) {
                                 return codec::decode_election_vote(body);
                               },
                               json_encoder())),
      add("election.status", ask<msg::election_status_request, msg::election_status_reply>(
                                 front_, "election", no_body<msg::election_status_request>(), json_encoder())),
      add("election.transfer", ask<msg::leadership_transfer_request, msg::leadership_transfer_reply>(
                                   front_, "election",
                                   [](const http::request&, const simdjson::dom::element* body) {
                                     return codec::decode_leadership_transfer(body);
                                   },
                                   json_encoder())),
      add("elo.matches", ask<msg::elo_ingest, msg::elo_ingest_reply>(
                             front_, "elo",
                             [](const http::request&, const simdjson::dom::element* body) {
                               return codec::decode_elo_ingest(body);
                             },
                             json_encoder())),
      add("elo.rankings", ask<msg::elo_rankings_request, msg::elo_rankings_reply>(
                              front_, "elo",
                              [](const http::request& req, const simdjson::dom::element*) {
                                return codec::decode_elo_rankings(req.query);
                              },
                              json_encoder())),
      add("elo.sync", ask<msg::elo_sync_request, msg::elo_sync_reply>(
                          front_, "elo",
                          [](const http::request&, const simdjson::dom::element* body) {
                            return codec::decode_elo_sync(body);
                          },
                          json_encoder())),
      add("runner.status", ask<msg::runner_status_request, msg::runner_status_reply>(
                               front_, "runner", no_body<msg::runner_status_request>(), json_encoder())),
      add("elo.status", ask<msg::elo_status_request, msg::elo_status_reply>(
                            front_, "elo", no_body<msg::elo_status_request>(), json_encoder())),
      add("work_queue.add", ask<msg::work_add_request, msg::work_command_reply>(
                          front_, "work_queue",
                          [](const http::request&, const simdjson::dom::element* body) {
                            return codec::decode_work_add(body);
                          },
                          json_encoder())),
      add("work_queue.claim", ask<msg::work_claim_request, msg::work_command_reply>(
                            front_, "work_queue",
                            [](const http::request&, const simdjson::dom::element* body) {
                              return codec::decode_work_claim(body);
                            },
                            json_encoder())),
      add("work_queue.start", ask<msg::work_start_request, msg::work_command_reply>(
                            front_, "work_queue",
                            [](const http::request&, const simdjson::dom::element* body) {
                              return codec::decode_work_start(body);
                            },
                            json_encoder())),
      add("work_queue.heartbeat", ask<msg::work_heartbeat_request, msg::work_command_reply>(
                                front_, "work_queue",
                                [](const http::request&, const simdjson::dom::element* body) {
                                  return codec::decode_work_heartbeat(body);
                                },
                                json_encoder())),
      add("work_queue.complete", ask<msg::work_complete_request, msg::work_command_reply>(
                               front_, "work_queue",
                               [](const http::request&, const simdjson::dom::element* body) {
                                 return codec::decode_work_complete(body);
                               },
                               json_encoder())),
      add("work_queue.fail", ask<msg::work_fail_request, msg::work_command_reply>(
                           front_, "work_queue",
                           [](const http::request&, const simdjson::dom::element* body) {
                             return codec::decode_work_fail(body);
                           },
                           json_encoder())),
      add("work_queue.release", ask<msg::work_release_request, msg::work_command_reply>(
                              front_, "work_queue",
                              [](const http::request&, const simdjson::dom::element* body) {
                                return codec::decode_work_release(body);
                              },
                              json_encoder())),
      add("work_queue.cancel", ask<msg::work_cancel_request, msg::work_command_reply>(
                             front_, "work_queue",
                             [](const http::request&, const simdjson::dom::element* body) {
                               return codec::decode_work_cancel(body);
                             },
                             json_encoder())),
      add("work_queue.status", ask<msg::work_status_request, msg::work_item_reply>(
                             front_, "work_queue",
                             [](const http::request& req, const simdjson::dom::element*) {
                               return codec::decode_work_status(req.query);
                             },
                             json_encoder())),
      add("work_queue.list", ask<msg::work_list_request, msg::work_list_reply>(
                           front_, "work_queue",
                           [](const http::request& req, const simdjson::dom::element*) {
                             return codec::decode_work_list(req.query);
                           },
                           json_encoder())),
      add("http.openapi",
          [this](const http::route&, const http::request&, const simdjson::dom::element*,
                 done_fn done) { done(http::json_response(200, openapi_)); }),
  };
  auto table = http::route_table();
  by_index_.assign(table.size(), nullptr);
  for (std::size_t i = 0; i < table.size(); ++i)
    for (const auto* b : all)
      if (b->route_id == table[i].id) by_index_[i] = b;
}

front_dispatcher::~front_dispatcher() { caf::anon_send_exit(front_, caf::exit_reason::user_shutdown); }

void front_dispatcher::call(std::size_t route_index, const http::route& r, const http::request& req,
                            const simdjson::dom::element* body, done_fn done) {
  const binding* b = route_index < by_index_.size() ? by_index_[route_index] : nullptr;
  if (!b) {
    done(http::error_response(api_errc::internal, "route " + std::string(r.id) + " has no binding"));
    return;
  }
  b->run(r, req, body, std::move(done));
}

std::optional<http::response> front_dispatcher::check_stream(const http::route&,
                                                             const http::request& req) {
  std::vector<std::string> types;
  if (auto text = http::query_param(req.query, "types"))
    if (auto unknown = codec::parse_event_types(*text, types))
      return http::bad_field("types", "has unknown event type " + *unknown);
  std::string resume = req.last_event_id;
  if (auto q = http::query_param(req.query, "last_event_id")) resume = *q;
  if (!resume.empty() && !parse_u64(resume))
    return http::bad_field("last_event_id", "must be a non-negative integer");
  return std::nullopt;
}

std::function<void()> front_dispatcher::open_stream(std::size_t, const http::route&,
                                                    const http::request& req,
                                                    std::shared_ptr<http::stream_sink> sink) {
  msg::subscribe_events sub;
  if (auto text = http::query_param(req.query, "types"))
    codec::parse_event_types(*text, sub.types);  // checked by check_stream already
  std::string resume = req.last_event_id;
  if (auto q = http::query_param(req.query, "last_event_id")) resume = *q;
  if (auto seq = parse_u64(resume)) {
    sub.resume = true;
    sub.after_seq = *seq;
  }
  auto subscriber = system_.spawn(sse_subscriber, front_, directory_, std::move(sink), std::move(sub));
  return [subscriber] { caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown); };
}

}  // namespace p2p
