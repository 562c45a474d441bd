#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <stdexcept>

#include "actors/admin/admin.hpp"
#include "actors/common/api_error.hpp"
#include "actors/directory/directory.hpp"
#include "actors/events/events.hpp"
#include "actors/node/supervisor.hpp"
#include "bench/harness/node_process.hpp"
#include "protocol/common/log.hpp"
#include "tests/unit/actor_fixture.hpp"

using namespace p2p;
namespace harness = p2p::harness;

namespace {

// An actor that dies with an exception on demand, to exercise the supervisor.
struct crash_request {};
template <class F> auto inspect(F& f, crash_request&) { return f(); }

caf::behavior fragile(caf::event_based_actor*) {
  return {
      [](crash_request&) -> int { throw std::runtime_error("boom"); },
      [](caf::get_atom) { return 42; },
  };
}

msg::directory_entry entry_of(test::actor_fixture& fx, const caf::actor& directory,
                              const std::string& name) {
  auto entries = fx.ask<std::vector<msg::directory_entry>>(directory, msg::directory_list{});
  for (auto& e : entries)
    if (e.name == name) return e;
  BOOST_FAIL("no directory entry " << name);
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(actors)

BOOST_FIXTURE_TEST_CASE(directory_maps_names_and_notifies_subscribers, test::actor_fixture) {
  auto directory = sys.spawn(directory_actor);
  auto thing = sys.spawn(fragile);
  caf::scoped_actor watcher{sys};
  watcher->send(directory, msg::directory_subscribe{});
  caf::anon_send(directory, msg::directory_update{{"thing", thing, 0, ""}});
  sched.run();
  BOOST_TEST((ask<caf::actor>(directory, msg::directory_lookup{"thing"}) == thing));
  BOOST_TEST(!static_cast<bool>(ask<caf::actor>(directory, msg::directory_lookup{"none"})));
  bool notified = false;
  watcher->receive([&](msg::directory_update& u) { notified = u.entry.name == "thing"; },
                   caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(notified);
  caf::anon_send_exit(thing, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_FIXTURE_TEST_CASE(supervisor_restarts_a_crashed_actor_and_says_so, test::actor_fixture) {
  harness::temp_dir dir;
  auto directory = sys.spawn(directory_actor);
  events_config ev{dir.path(), 16, "n1", "u1"};
  std::vector<child_spec> children{
      {"events", [ev](caf::actor_system& s) { return s.spawn(events_actor, ev); }},
      {"fragile", [](caf::actor_system& s) { return s.spawn(fragile); }},
  };
  auto supervisor = sys.spawn(supervisor_actor, directory, std::move(children));
  sched.run();
  auto before = entry_of(*this, directory, "fragile");
  BOOST_TEST(before.restarts == 0u);
  caf::anon_send(before.handle, crash_request{});
  sched.run();
  auto after = entry_of(*this, directory, "fragile");
  BOOST_TEST(after.restarts == 1u);
  BOOST_TEST((after.handle != before.handle));
  BOOST_TEST(!after.last_error.empty());
  BOOST_TEST(ask<int>(after.handle, caf::get_atom::value) == 42);  // the new one works
  auto events = entry_of(*this, directory, "events").handle;
  auto stats = ask<msg::events_stats>(events, msg::events_stats_request{});
  BOOST_TEST(stats.last_seq == 1u);  // ACTOR_RESTARTED

  // Stopping is not crashing: nothing restarts after supervisor_stop.
  caf::anon_send(supervisor, supervisor_stop{});
  sched.run();
  BOOST_TEST(entry_of(*this, directory, "fragile").restarts == 1u);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_FIXTURE_TEST_CASE(supervisor_backs_off_a_crash_loop, test::actor_fixture) {
  auto directory = sys.spawn(directory_actor);
  std::vector<child_spec> children{{"fragile", [](caf::actor_system& s) { return s.spawn(fragile); }}};
  auto supervisor = sys.spawn(supervisor_actor, directory, std::move(children));
  sched.run();
  for (std::size_t i = 0; i <= restart_burst; ++i) {
    caf::anon_send(entry_of(*this, directory, "fragile").handle, crash_request{});
    sched.run();
  }
  // The burst is spent: the last restart waits for the backoff timer.
  auto waiting = entry_of(*this, directory, "fragile");
  BOOST_TEST(waiting.restarts == restart_burst + 1);
  BOOST_TEST(!static_cast<bool>(waiting.handle));
  sched.advance_time(restart_backoff);
  sched.run();
  auto restarted = entry_of(*this, directory, "fragile");
  BOOST_TEST(static_cast<bool>(restarted.handle));
  BOOST_TEST(ask<int>(restarted.handle, caf::get_atom::value) == 42);
  caf::anon_send(supervisor, supervisor_stop{});
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_FIXTURE_TEST_CASE(admin_reports_health_drain_and_log_level, test::actor_fixture) {
  auto directory = sys.spawn(directory_actor);
  int shutdown_calls = 0;
  bool draining = false;
  double deadline = 0;
  admin_context ctx;
  ctx.facts.node_id = "n1";
  ctx.facts.node_uuid = "u1";
  ctx.facts.boot_epoch = 3;
  ctx.facts.started_mono = mono_now();
  ctx.directory = directory;
  ctx.begin_shutdown = [&](double s) {
    if (!draining) deadline = s;
    draining = true;
    ++shutdown_calls;
    return deadline;
  };
  ctx.draining = [&] { return draining; };
  auto admin = sys.spawn(admin_actor, ctx);
  sched.run();
  auto health = ask<msg::health_reply>(admin, msg::health_request{});
  BOOST_TEST(health.node_id == "n1");
  BOOST_TEST(health.boot_epoch == 3u);
  BOOST_TEST(!health.draining);

  auto previous = log::current_level();
  auto changed = ask<msg::log_level_reply>(admin, msg::log_level_request{"warn"});
  BOOST_TEST(changed.level == "warn");
  BOOST_TEST((log::current_level() == log::level::warn));
  auto err = ask_error(admin, msg::log_level_request{"loud"});
  BOOST_TEST(err.code() == static_cast<std::uint8_t>(api_errc::bad_request));
  log::set_level(previous);

  BOOST_TEST(ask<msg::shutdown_reply>(admin, msg::shutdown_request{7}).drain_timeout_s == 7);
  BOOST_TEST(ask<msg::shutdown_reply>(admin, msg::shutdown_request{60}).drain_timeout_s == 7);
  BOOST_TEST(ask<msg::health_reply>(admin, msg::health_request{}).draining);

  auto status = ask<msg::status_reply>(admin, msg::status_request{});
  BOOST_TEST(status.node.node_uuid == "u1");
  BOOST_TEST(status.node.draining);
  auto metrics = ask<msg::metrics_reply>(admin, msg::metrics_request{});
  BOOST_TEST(metrics.text.find("p2p_draining 1") != std::string::npos);
  caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  sched.run();
}

BOOST_AUTO_TEST_SUITE_END()
