#pragma once
// Every actor's behavior is built with instrumented(): it counts handled messages, remembers the
// last error the actor answered with, and adds the introspection and safe-command handlers the
// console uses. New actors get introspection by construction.
#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/common/api_error.hpp"
#include "protocol/messages/introspection.hpp"

namespace p2p {

struct actor_stats {
  std::uint64_t handled = 0;
  std::string last_error;
};

// An operator command: text arguments in, JSON text out.
struct safe_command {
  std::string name;
  std::string usage;  // arguments, e.g. "LEVEL"
  std::function<void(caf::event_based_actor*, const std::vector<std::string>&,
                     caf::response_promise)>
      run;
};

// A safe command that sends the actor a typed request built from the arguments and renders the
// typed reply as JSON.
template <class Req, class Rep, class Parse, class Encode>
safe_command safe(std::string name, std::string usage, Parse parse, Encode encode) {
  safe_command cmd;
  cmd.name = std::move(name);
  cmd.usage = std::move(usage);
  cmd.run = [parse, encode, usage = cmd.usage](caf::event_based_actor* self,
                                                const std::vector<std::string>& args,
                                                caf::response_promise rp) mutable {
    std::optional<Req> req = parse(args);
    if (!req) {
      rp.deliver(make_api_error(api_errc::bad_request, "usage: " + usage));
      return;
    }
    self->request(caf::actor_cast<caf::actor>(self), caf::infinite, std::move(*req))
        .then([rp, encode](Rep& reply) mutable { rp.deliver(std::string(encode(reply))); },
              [rp](caf::error& err) mutable { rp.deliver(err); });
  };
  return cmd;
}

namespace detail {

template <class T>
struct is_caf_result : std::false_type {};
template <class... Ts>
struct is_caf_result<caf::result<Ts...>> : std::true_type {};

template <class F, class Result, class... Args>
auto count_calls(std::shared_ptr<actor_stats> stats, F f, caf::detail::type_list<Args...>) {
  return [stats, f](Args... xs) mutable -> Result {
    ++stats->handled;
    if constexpr (std::is_void_v<Result>) {
      f(std::forward<Args>(xs)...);
    } else {
      Result r = f(std::forward<Args>(xs)...);
      if constexpr (is_caf_result<Result>::value)
        if (r.flag == caf::rt_error) stats->last_error = describe_error(r.err);
      return r;
    }
  };
}

template <class F>
auto counted(std::shared_ptr<actor_stats> stats, F f) {
  using trait = caf::detail::get_callable_trait<F>;
  return count_calls<F, typename trait::result_type>(std::move(stats), std::move(f),
                                                     typename trait::arg_types{});
}

}  // namespace detail

// `summary` returns a JSON object describing the actor's state.
template <class Self, class Summary, class... Handlers>
caf::behavior instrumented(Self* self, std::string name, Summary summary,
                           std::vector<safe_command> commands, Handlers... handlers) {
  auto stats = std::make_shared<actor_stats>();
  self->set_exception_handler([stats](std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      stats->last_error = e.what();
    } catch (...) {
      stats->last_error = "unknown exception";
    }
    return caf::make_error(caf::sec::runtime_error, stats->last_error);
  });
  auto listing = std::make_shared<std::vector<safe_command>>(std::move(commands));
  return {
      detail::counted(stats, std::move(handlers))...,
      [=](msg::introspect_request&) {
        msg::introspect_reply r;
        r.name = name;
        r.mailbox = self->mailbox().size();
        r.handled = stats->handled;
        r.last_error = stats->last_error;
        r.state_json = summary();
        for (const auto& c : *listing) r.commands.push_back(c.name + (c.usage.empty() ? "" : " " + c.usage));
        return r;
      },
      [=](msg::console_command& cmd) -> caf::result<std::string> {
        ++stats->handled;
        for (const auto& c : *listing) {
          if (c.name != cmd.name) continue;
          auto rp = self->template make_response_promise<std::string>();
          c.run(self, cmd.args, rp);
          return rp;
        }
        std::string known;
        for (const auto& c : *listing) known += (known.empty() ? "" : ", ") + c.name;
        return make_api_error(api_errc::not_found,
                              name + " has no command '" + cmd.name + "'" +
                                  (known.empty() ? "" : " (it has: " + known + ")"));
      },
  };
}

}  // namespace p2p
