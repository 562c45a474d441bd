#pragma once
// The HTTP front's actor side. front_dispatcher implements http::dispatcher: it decodes a
// validated request into a typed message on the HTTP thread, and the front actor asks the domain
// actor with request().then() — never blocking — and turns the typed reply or error into JSON.
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/metrics.hpp"
#include "http/server.hpp"

namespace p2p {

struct front_options {
  std::string version;
};

class front_dispatcher final : public http::dispatcher {
 public:
  front_dispatcher(caf::actor_system& system, caf::actor directory,
                   const http::http_metrics& metrics, front_options options);
  ~front_dispatcher() override;

  void call(std::size_t route_index, const http::route& r, const http::request& req,
            const simdjson::dom::element* body, std::function<void(http::response)> done) override;
  std::function<void()> open_stream(std::size_t route_index, const http::route& r,
                                    const http::request& req,
                                    std::shared_ptr<http::stream_sink> sink) override;
  std::optional<http::response> check_stream(const http::route& r,
                                             const http::request& req) override;

  // Routes of the table nothing answers; the node refuses to start if there are any.
  std::vector<std::string> unbound_routes() const;

  struct binding;

 private:
  caf::actor_system& system_;
  caf::actor directory_;
  caf::actor front_;
  const http::http_metrics& metrics_;
  front_options options_;
  std::string openapi_;
  std::vector<std::unique_ptr<binding>> bindings_;
  std::vector<const binding*> by_index_;  // by route index
};

// Converts an error from a domain actor (or CAF itself) into the envelope.
http::response response_from_error(const caf::error& err);

}  // namespace p2p
