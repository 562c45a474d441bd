// The SWIM/Lifeguard core on a small deterministic network: virtual time, seeded randomness,
// messages delivered by the test, links cut and healed at will.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <set>

#include "protocol/swim/swim.hpp"

using namespace p2p::swim;

namespace {

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) about operator+ on strings.
std::string address_of(const node_id& id) {
  std::string a(id);
  a.append(":1");
  return a;
}
node_id name_of(int i) {
  std::string n("n");
  n.append(std::to_string(i));
  return n;
}

struct network {
  profile prof = *profile_named("test");
  std::map<node_id, std::unique_ptr<detector>> nodes;
  std::set<node_id> crashed;
  std::set<std::pair<node_id, node_id>> cut;  // directed links that drop messages
  time_ms now = 0;
  std::vector<verdict> seen;  // every verdict, with its observer in `observers`
  std::vector<node_id> observers;
  std::map<node_id, int> max_health;  // highest local health score seen during runs

  explicit network(int n, std::uint64_t seed = 1) {
    for (int i = 0; i < n; ++i) start(name_of(i), seed + static_cast<std::uint64_t>(i));
    for (auto& [id, d] : nodes)
      for (auto& [other, unused] : nodes) d->add_member(other, address_of(other), now);
    drain();
    seen.clear();
    observers.clear();
  }

  void start(const node_id& id, std::uint64_t seed) {
    nodes[id] = std::make_unique<detector>(id, address_of(id), prof, seed, now);
  }

  // Delivers messages until none are left (instant links).
  void drain() {
    for (bool any = true; any;) {
      any = false;
      for (auto& [id, d] : nodes) {
        for (auto& v : d->take_verdicts()) {
          seen.push_back(v);
          observers.push_back(id);
        }
        if (crashed.count(id)) {
          d->take_outbox();
          continue;
        }
        for (auto& out : d->take_outbox()) {
          any = true;
          if (crashed.count(out.to) || cut.count({id, out.to}) || !nodes.count(out.to)) continue;
          nodes[out.to]->receive(out.msg, now);
        }
      }
    }
  }

  // With `at_deadlines`, a node ticks only when its next_deadline() has come, as the actor
  // does; otherwise every node ticks every step.
  bool at_deadlines = false;

  void run_for(time_ms duration) {
    const time_ms step = at_deadlines ? 1 : nodes.begin()->second->tick_interval();
    for (time_ms end = now + duration; now < end;) {
      now += step;
      for (auto& [id, d] : nodes)
        if (!crashed.count(id) && (!at_deadlines || now >= d->next_deadline())) {
          d->tick(now);
          if (at_deadlines) BOOST_REQUIRE_MESSAGE(d->next_deadline() > now, id << " would spin");
        }
      drain();
      for (auto& [id, d] : nodes) max_health[id] = std::max(max_health[id], d->local_health());
    }
  }

  member_state state_at(const node_id& observer, const node_id& subject) const {
    return nodes.at(observer)->members().at(subject).state;
  }

  bool ever(const node_id& subject, member_state s) const {
    for (const auto& v : seen)
      if (v.node == subject && v.state == s) return true;
    return false;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(swim)

BOOST_AUTO_TEST_CASE(profiles_follow_memberlist_defaults) {
  auto lan = *profile_named("lan");
  BOOST_TEST(lan.probe_interval == 1000);
  BOOST_TEST(lan.probe_timeout == 500);
  BOOST_TEST(lan.indirect_checks == 3);
  BOOST_TEST(lan.suspicion_mult == 4);
  BOOST_TEST(profile_named("local")->probe_timeout == 200);
  BOOST_TEST(profile_named("wan")->probe_interval == 5000);
  BOOST_TEST(!profile_named("fast").has_value());
  // local, N = 16: 1000 + 200 + 3 * log10(16) * 1000 + ceil(3 * log2(16)) * 1000
  BOOST_TEST(detection_bound(*profile_named("local"), 16) == 16812);
}

BOOST_AUTO_TEST_CASE(suspicion_timeout_shrinks_with_confirmations) {
  network net(8);
  const auto& d = *net.nodes.at("n0");
  // N = 8: min = 4 * max(1, log10 8) * 100 ms = 400 ms, max = 6 * min; k = 2 confirmations.
  BOOST_TEST(d.suspicion_timeout(0) == 2400);
  BOOST_TEST(d.suspicion_timeout(1) < d.suspicion_timeout(0));
  BOOST_TEST(d.suspicion_timeout(2) == 400);
  BOOST_TEST(d.suspicion_timeout(5) == 400);
  BOOST_TEST(d.retransmit_limit() == 4 * 1);  // lambda * ceil(log10(8 + 1))
}

BOOST_AUTO_TEST_CASE(both_sides_of_a_healed_partition_are_alive_again) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    network net(5, seed);
    const std::set<node_id> minority{"n3", "n4"};
    auto split = [&](bool on) {
      for (auto& [a, unused] : net.nodes)
        for (auto& [b, unused2] : net.nodes)
          if (minority.count(a) != minority.count(b)) {
            if (on) net.cut.insert({a, b});
            else net.cut.erase({a, b});
          }
    };
    split(true);
    const auto& d = *net.nodes.at("n0");
    net.run_for(20 * net.prof.probe_interval + 2 * d.suspicion_timeout(0));
    for (auto& [a, unused] : net.nodes)  // each side holds every member of the other dead
      for (auto& [b, unused2] : net.nodes)
        if (minority.count(a) != minority.count(b))
          BOOST_TEST((net.state_at(a, b) == member_state::dead), "seed " << seed << ": " << a << " on " << b);
    split(false);
    // Within a few reconnect intervals someone exchanges state with a dead member, the
    // accused refute, and the news spreads.
    net.run_for(4 * net.prof.reconnect_interval + 10 * net.prof.probe_interval);
    for (auto& [id, node] : net.nodes)
      for (auto& [other, m] : node->members())
        BOOST_TEST((m.state == member_state::alive), "seed " << seed << ": " << id << " holds " << other << " "
                                                              << state_name(m.state));
  }
}

BOOST_AUTO_TEST_CASE(a_healthy_cluster_stays_alive) {
  network net(5, 7);
  net.run_for(60'000);
  for (auto& [id, d] : net.nodes) {
    BOOST_TEST(d->members().size() == 4u);
    for (auto& [other, m] : d->members()) BOOST_TEST((m.state == member_state::alive), id << " sees " << other);
    BOOST_TEST(d->local_health() == 0);
  }
  BOOST_TEST(!net.ever("n1", member_state::suspect));
}

BOOST_AUTO_TEST_CASE(a_crashed_node_is_declared_dead_by_everyone_within_the_bound) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    network net(6, seed);
    net.crashed.insert("n3");
    const auto& d = *net.nodes.at("n0");
    // Probe every member once per round, then timeout, suspicion and dissemination.
    const time_ms bound = 5 * net.prof.probe_interval + d.suspicion_timeout(0) +
                          3 * net.prof.probe_interval;
    net.run_for(bound);
    for (auto& [id, node] : net.nodes) {
      if (id == "n3") continue;
      BOOST_TEST((net.state_at(id, "n3") == member_state::dead), "seed " << seed << " " << id);
    }
    for (auto& [id, node] : net.nodes)
      for (auto& [other, m] : node->members())
        if (other != "n3" && id != "n3")
          BOOST_TEST((m.state == member_state::alive), "seed " << seed);
    // Independent suspicions confirm each other, so no one waits the unconfirmed maximum.
    for (const auto& observer : {"n0", "n1", "n2"}) {
      time_ms suspected = -1, dead = -1;
      for (std::size_t i = 0; i < net.seen.size(); ++i) {
        if (net.observers[i] != observer || net.seen[i].node != "n3") continue;
        if (net.seen[i].state == member_state::suspect && suspected < 0) suspected = net.seen[i].at;
        if (net.seen[i].state == member_state::dead) dead = net.seen[i].at;
      }
      BOOST_REQUIRE(suspected >= 0 && dead >= 0);
      BOOST_TEST(dead - suspected < d.suspicion_timeout(0),
                 "seed " << seed << " " << observer << " waited " << dead - suspected);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_wrongly_suspected_node_refutes_with_a_higher_incarnation) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    network net(4, seed);
    // Everything n1 sends is lost until someone suspects it; n1 still hears the suspicion
    // (the buddy system tells it) and refutes as soon as its messages get through.
    for (auto& [id, d] : net.nodes)
      if (id != "n1") net.cut.insert({"n1", id});
    for (int step = 0; step < 200 && !net.ever("n1", member_state::suspect); ++step) net.run_for(10);
    BOOST_REQUIRE(net.ever("n1", member_state::suspect));
    // Healed well within the minimum suspicion timeout: n1 hears the claim and refutes it.
    net.cut.clear();
    net.run_for(3000);
    BOOST_TEST(net.nodes.at("n1")->incarnation() >= 1u, "seed " << seed);
    for (auto& [id, d] : net.nodes)
      if (id != "n1")
        BOOST_TEST((net.state_at(id, "n1") == member_state::alive), "seed " << seed << " " << id);
    BOOST_TEST(!net.ever("n1", member_state::dead), "seed " << seed);
  }
}

BOOST_AUTO_TEST_CASE(a_graceful_leave_is_left_not_dead) {
  network net(4, 5);
  net.nodes.at("n2")->leave(net.now);
  net.run_for(1000);
  net.crashed.insert("n2");  // then it stops
  net.run_for(5000);
  for (auto& [id, d] : net.nodes)
    if (id != "n2") BOOST_TEST((net.state_at(id, "n2") == member_state::left), id);
  BOOST_TEST(!net.ever("n2", member_state::dead));
}

BOOST_AUTO_TEST_CASE(ticking_only_at_deadlines_detects_crashes_just_the_same) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    network net(6, seed);
    net.at_deadlines = true;
    net.crashed.insert("n3");
    const auto& d = *net.nodes.at("n0");
    const time_ms bound = 5 * net.prof.probe_interval + d.suspicion_timeout(0) +
                          3 * net.prof.probe_interval;
    net.run_for(bound);
    for (auto& [id, node] : net.nodes)
      if (id != "n3") BOOST_TEST((net.state_at(id, "n3") == member_state::dead), "seed " << seed << " " << id);
    BOOST_TEST(!net.ever("n1", member_state::suspect));
  }
}

BOOST_AUTO_TEST_CASE(a_leave_reaches_members_at_once_and_settles_when_acknowledged) {
  network net(5, 21);
  auto& leaver = *net.nodes.at("n4");
  leaver.leave(net.now);
  BOOST_TEST(!leaver.leave_settled(net.now));
  net.drain();  // no time passes
  BOOST_TEST(leaver.leave_settled(net.now));
  int told = 0;
  for (auto& [id, d] : net.nodes)
    if (id != "n4" && net.state_at(id, "n4") == member_state::left) ++told;
  BOOST_TEST(told >= net.nodes.at("n0")->retransmit_limit());
  // Unanswered leave pings do not hold the node forever.
  network lonely(3, 22);
  lonely.crashed = {"n0", "n1"};
  auto& alone = *lonely.nodes.at("n2");
  alone.leave(lonely.now);
  lonely.drain();
  BOOST_TEST(!alone.leave_settled(lonely.now));
  BOOST_TEST(alone.leave_settled(lonely.now + lonely.prof.probe_interval));
}

BOOST_AUTO_TEST_CASE(a_node_told_it_left_refutes_unless_it_is_leaving) {
  network net(3, 23);
  auto& n0 = *net.nodes.at("n0");
  message claim{message_kind::ping, 1, "n1", "n0", {update{member_state::left, "n0", 0, "n1", {}}}};
  n0.receive(claim, net.now);
  BOOST_TEST(n0.incarnation() == 1u);
  n0.leave(net.now);
  claim.piggyback.front().incarnation = 1;
  n0.receive(claim, net.now);
  BOOST_TEST(n0.incarnation() == 1u);
}

BOOST_AUTO_TEST_CASE(outstanding_bulk_sends_count_as_load) {
  network net(3, 25);
  auto& n0 = *net.nodes.at("n0");
  BOOST_TEST(n0.local_health() == 0);
  n0.set_bulk_backlog(true);
  BOOST_TEST(n0.local_health() == 1);
  // The probe timeout doubles: a target that answers in 1.5x the timeout is not suspected.
  net.cut = {{"n1", "n0"}, {"n2", "n0"}};
  auto sent = [&](message_kind kind) {
    std::size_t n = 0;
    for (const auto& o : n0.take_outbox()) n += o.msg.kind == kind;
    return n;
  };
  n0.tick(net.now);
  BOOST_REQUIRE(sent(message_kind::ping) == 1u);
  n0.tick(net.now + net.prof.probe_timeout * 3 / 2);
  BOOST_TEST(sent(message_kind::ping_req) == 0u);  // no indirect probes yet
  n0.set_bulk_backlog(false);
  n0.tick(net.now + net.prof.probe_timeout * 3 / 2);
  BOOST_TEST(sent(message_kind::ping_req) == 1u);  // the only other member is asked to help
}

BOOST_AUTO_TEST_CASE(dead_members_can_be_forgotten_but_live_ones_cannot) {
  network net(4, 27);
  net.crashed.insert("n3");
  net.run_for(5000);
  auto& n0 = *net.nodes.at("n0");
  n0.forget("n1");
  BOOST_TEST(n0.members().count("n1") == 1u);
  n0.forget("n3");
  BOOST_TEST(n0.members().count("n3") == 0u);
  net.run_for(3000);
  BOOST_TEST(n0.members().count("n3") == 0u);
  for (auto& [id, m] : n0.members()) BOOST_TEST((m.state == member_state::alive), id);
}

BOOST_AUTO_TEST_CASE(a_hint_probes_at_once_besides_the_regular_probe) {
  network net(6, 33);
  net.crashed.insert("n3");
  auto& n0 = *net.nodes.at("n0");
  n0.probe_now("n3", net.now);
  n0.probe_now("n3", net.now);  // already being probed: no second probe
  n0.probe_now("n1", net.now);  // a healthy member answers and stays alive
  auto pings = 0;
  for (const auto& o : n0.take_outbox()) pings += o.msg.kind == message_kind::ping;
  BOOST_TEST(pings == 2);
  // Only n0 probes (the others tick too, but n3's verdict must come from n0's hint first).
  net.run_for(net.prof.probe_interval + n0.tick_interval());
  BOOST_TEST((net.state_at("n0", "n3") == member_state::suspect));
  BOOST_TEST((net.state_at("n0", "n1") == member_state::alive));
  // A hint about a member already held dead, or unknown, does nothing.
  n0.probe_now("nobody", net.now);
  BOOST_TEST(n0.take_outbox().empty());
}

BOOST_AUTO_TEST_CASE(push_pull_tells_a_member_what_it_missed) {
  network net(4, 29);
  net.crashed.insert("n3");
  net.run_for(1500);
  BOOST_REQUIRE((net.state_at("n1", "n3") == member_state::dead));
  // A newcomer that holds everyone alive gets n1's state: n1's "dead" only makes it suspect
  // (its own timer decides), and it learns of members it had not heard of.
  net.start("n4", 41);
  auto& n4 = *net.nodes.at("n4");
  n4.add_member("n3", address_of("n3"), net.now);
  message sync{message_kind::sync, 0, "n1", {}, {}};
  for (const auto& [id, m] : net.nodes.at("n1")->members())
    sync.piggyback.push_back(update{m.state, id, m.incarnation, "n1", m.address});
  sync.piggyback.push_back(update{member_state::alive, "n1", 0, "n1", address_of("n1")});
  n4.receive(sync, net.now);
  BOOST_TEST((n4.members().at("n3").state == member_state::suspect));
  BOOST_TEST((n4.members().at("n0").state == member_state::alive));
  BOOST_TEST(n4.members().size() == 4u);
  // It answers with its own state.
  auto out = n4.take_outbox();
  BOOST_TEST((std::any_of(out.begin(), out.end(), [](const outgoing& o) {
    return o.to == "n1" && o.msg.kind == message_kind::sync_reply;
  })));
  net.run_for(n4.suspicion_timeout(0));
  BOOST_TEST((net.state_at("n4", "n3") == member_state::dead));
}

BOOST_AUTO_TEST_CASE(a_restarted_node_learns_it_was_dead_from_its_first_exchange) {
  network net(4, 31);
  net.crashed.insert("n3");
  net.run_for(5000);
  net.crashed.erase("n3");
  net.start("n3", 77);
  auto& fresh = *net.nodes.at("n3");
  fresh.add_member("n0", address_of("n0"), net.now);
  fresh.tick(net.now);  // its first member: probe and state exchange at once
  net.drain();
  BOOST_TEST(fresh.incarnation() >= 1u);
}

BOOST_AUTO_TEST_CASE(a_restarted_node_rejoins_with_a_higher_incarnation) {
  network net(4, 9);
  net.crashed.insert("n3");
  net.run_for(5000);
  BOOST_REQUIRE((net.state_at("n0", "n3") == member_state::dead));
  const auto dead_at = net.nodes.at("n0")->members().at("n3").incarnation;
  // A new process with no memory of its incarnation, joining through the others.
  net.crashed.erase("n3");
  net.start("n3", 99);
  for (auto& [id, d] : net.nodes)
    if (id != "n3") net.nodes.at("n3")->add_member(id, address_of(id), net.now);
  net.run_for(3000);
  for (auto& [id, d] : net.nodes) {
    if (id == "n3") continue;
    BOOST_TEST((net.state_at(id, "n3") == member_state::alive), id);
    BOOST_TEST(d->members().at("n3").incarnation > dead_at);
  }
}

BOOST_AUTO_TEST_CASE(a_node_that_hears_no_answers_raises_its_own_health_score) {
  network net(4, 11);
  // Everything n0 sends is lost: it cannot tell whether others or itself are at fault, and
  // missing nacks make Lifeguard blame itself, which slows its probing.
  for (auto& [id, d] : net.nodes)
    if (id != "n0") net.cut.insert({"n0", id});
  net.run_for(2000);
  BOOST_TEST(net.nodes.at("n0")->local_health() > 0);
  for (auto& [id, d] : net.nodes)
    if (id != "n0") BOOST_TEST(net.max_health[id] == 0, id);
}

BOOST_AUTO_TEST_CASE(probing_a_dead_node_does_not_hurt_the_prober) {
  network net(5, 13);
  net.crashed.insert("n4");
  net.run_for(5000);
  // Failed probes of n4 came with nacks from the indirect probers: the fault is n4's, not ours.
  for (auto& [id, d] : net.nodes)
    if (id != "n4") BOOST_TEST(net.max_health[id] == 0, id);
  BOOST_TEST((net.state_at("n0", "n4") == member_state::dead));
}

BOOST_AUTO_TEST_SUITE_END()
