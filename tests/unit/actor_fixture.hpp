#pragma once
// Actors under CAF's deterministic test coordinator: run() drains mailboxes, advance_time()
// fires timers; nothing sleeps.
#include <caf/all.hpp>

#include "protocol/registry.hpp"

namespace p2p::test {

struct testing_config : caf::actor_system_config {
  testing_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
    p2p::register_messages(*this);
  }
};

struct actor_fixture {
  testing_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};

  // Asks `dest` and returns the typed reply; fails the test on an error or no answer.
  template <class Reply, class Request>
  Reply ask(const caf::actor& dest, Request req) {
    auto handle = self->request(dest, caf::infinite, std::move(req));
    sched.run();
    Reply out{};
    bool got = false;
    handle.receive([&](Reply& r) { out = std::move(r), got = true; },
                   [&](caf::error& e) { BOOST_FAIL("request failed: " << sys.render(e)); });
    BOOST_REQUIRE(got);
    return out;
  }

  // Asks `dest` and returns the error it answered with.
  template <class Request>
  caf::error ask_error(const caf::actor& dest, Request req) {
    auto handle = self->request(dest, caf::infinite, std::move(req));
    sched.run();
    caf::error out;
    handle.receive([&](caf::message&) { BOOST_FAIL("expected an error"); },
                   [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

}  // namespace p2p::test
