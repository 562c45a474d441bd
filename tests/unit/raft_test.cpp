// The Raft core on a small deterministic network: virtual time, seeded randomness, links cut
// and healed, crashes and restarts from what each node persisted.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>

#include "protocol/raft/raft.hpp"

using namespace p2p::raft;

namespace {

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) about operator+ on strings.
std::string labelled(const char* prefix, int i) {
  std::string n(prefix);
  n.append(std::to_string(i));
  return n;
}
node_id name_of(int i) { return labelled("r", i); }

// What a node's storage holds: applied from persist batches, as the actor will.
struct disk {
  hard_state state;
  std::optional<snapshot> snap;
  std::vector<entry> log;  // after the snapshot
  index_t base() const { return snap ? snap->index : 0; }
  void apply(const persist_batch& b) {
    if (b.state) state = *b.state;
    if (b.snapshot) {
      BOOST_REQUIRE_MESSAGE(b.snapshot->index > base(), "a snapshot never goes back");
      std::erase_if(log, [&](const entry& e) { return e.index <= b.snapshot->index; });
      if (!log.empty() && log.front().index != b.snapshot->index + 1) log.clear();
      snap = b.snapshot;
    }
    if (b.truncate_from && *b.truncate_from <= base() + log.size())
      log.resize(*b.truncate_from > base() ? *b.truncate_from - base() - 1 : 0);
    for (const auto& e : b.entries) {
      BOOST_REQUIRE_MESSAGE(e.index == base() + log.size() + 1, "persisted entries must be contiguous");
      log.push_back(e);
    }
  }
};

// The test state machine is the list of applied entries itself, so snapshots carry it whole.
std::string encode_entries(const std::vector<entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out.append(std::to_string(e.term)).append(" ").append(std::to_string(e.index)).append(" ");
    out.append(std::to_string(static_cast<int>(e.type))).append(" ").append(std::to_string(e.data.size()));
    out.append(" ").append(e.data);
  }
  return out;
}
std::vector<entry> decode_entries(const std::string& text) {
  std::vector<entry> out;
  std::size_t at = 0;
  auto number = [&] {
    auto space = text.find(' ', at);
    auto v = std::stoull(text.substr(at, space - at));
    at = space + 1;
    return v;
  };
  while (at < text.size()) {
    entry e;
    e.term = number();
    e.index = number();
    e.type = static_cast<entry_type>(number());
    auto size = number();
    e.data = text.substr(at, size);
    at += size;
    out.push_back(std::move(e));
  }
  return out;
}

struct network {
  timing t = *timing_named("test");
  std::vector<node_id> ids;
  std::map<node_id, std::unique_ptr<core>> nodes;
  std::map<node_id, disk> disks;
  std::map<node_id, std::vector<entry>> applied;
  std::set<node_id> crashed;
  std::set<std::pair<node_id, node_id>> cut;  // directed links that drop messages
  std::size_t append_messages = 0;
  std::size_t snapshot_messages = 0;
  index_t compact_every = 0;  // > 0: each node compacts its log once this many entries are applied
  time_ms now = 0;
  std::uint64_t seed;

  std::vector<node_id> bootstrap;  // the initial voters (default: everyone)

  // `voters` < n: the nodes after the first `voters` start as non-members.
  explicit network(int n, std::uint64_t seed_ = 1, int voters = 0) : seed(seed_) {
    for (int i = 0; i < n; ++i) ids.push_back(name_of(i));
    bootstrap.assign(ids.begin(), ids.begin() + (voters > 0 ? voters : n));
    for (const auto& id : ids) start(id);
  }

  void start(const node_id& id) {
    auto& d = disks[id];
    nodes[id] = std::make_unique<core>(id, bootstrap, t, seed * 1000 + std::hash<std::string>{}(id) % 1000 + now, now,
                                       d.state, d.log, d.snap);
    applied[id] = d.snap ? decode_entries(d.snap->data) : std::vector<entry>{};
  }

  void crash(const node_id& id) { crashed.insert(id); }
  void restart(const node_id& id) {
    crashed.erase(id);
    start(id);
  }
  void isolate(const node_id& id) {
    for (const auto& other : ids)
      if (other != id) cut.insert({id, other}), cut.insert({other, id});
  }
  void heal() { cut.clear(); }

  // Persist, then send, then apply: the core's contract.
  void drain() {
    for (bool any = true; any;) {
      any = false;
      for (auto& [id, c] : nodes) {
        if (crashed.count(id)) continue;
        disks[id].apply(c->take_persist());
        auto messages = c->take_messages();
        if (auto restore = c->take_restore()) applied[id] = decode_entries(restore->data);
        for (auto& e : c->take_committed()) applied[id].push_back(e);
        if (compact_every > 0 && c->applied_index() >= c->latest_snapshot().index + compact_every) {
          BOOST_REQUIRE(c->compact(c->applied_index(), encode_entries(applied[id])));
          any = true;
        }
        for (auto& m : messages) {
          any = true;
          if (m.type == msg_type::append) ++append_messages;
          if (m.type == msg_type::snapshot) ++snapshot_messages;
          if (crashed.count(m.to) || cut.count({id, m.to})) continue;
          nodes.at(m.to)->step(m, now);
        }
      }
    }
  }

  void run_for(time_ms duration) {
    for (time_ms end = now + duration; now < end;) {
      now += 1;
      for (auto& [id, c] : nodes)
        if (!crashed.count(id) && now >= c->next_deadline()) c->tick(now);
      drain();
    }
  }

  std::vector<node_id> leaders() const {
    std::vector<node_id> out;
    for (const auto& [id, c] : nodes)
      if (!crashed.count(id) && c->state() == role::leader) out.push_back(id);
    return out;
  }

  // Runs until exactly one live leader is known to every live node that can hear it.
  node_id elect(time_ms limit = 2000) {
    for (time_ms waited = 0; waited < limit; waited += 10) {
      run_for(10);
      auto l = leaders();
      if (l.size() == 1) return l.front();
    }
    BOOST_FAIL("no single leader within the limit");
    return {};
  }

  core& at(const node_id& id) { return *nodes.at(id); }

  void propose_and_wait(const node_id& leader, const std::string& data) {
    BOOST_REQUIRE(at(leader).propose(data, now).has_value());
    drain();
  }

  // Safety invariants over every pair of live nodes.
  void check_safety() {
    std::map<term_t, node_id> leader_of_term;
    for (const auto& [id, c] : nodes) {
      if (c->state() != role::leader) continue;
      auto [it, fresh] = leader_of_term.emplace(c->term(), id);
      BOOST_TEST((fresh || it->second == id), "two leaders in term " << c->term());
    }
    // State-machine safety: applied prefixes agree.
    for (const auto& [a, xs] : applied)
      for (const auto& [b, ys] : applied)
        for (std::size_t i = 0; i < std::min(xs.size(), ys.size()); ++i)
          BOOST_TEST((xs[i].term == ys[i].term && xs[i].data == ys[i].data),
                     a << " and " << b << " applied different entries at " << i + 1);
  }
};

std::vector<std::string> data_of(const std::vector<entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries)
    if (e.type == entry_type::normal) out.push_back(e.data);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft)

BOOST_AUTO_TEST_CASE(one_leader_is_elected_and_everyone_follows_it) {
  for (int n : {1, 3, 5}) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      network net(n, seed);
      auto leader = net.elect();
      net.run_for(200);
      BOOST_TEST(net.leaders().size() == 1u);
      for (const auto& [id, c] : net.nodes) {
        BOOST_TEST(c->leader() == leader, "n=" << n << " seed " << seed << " " << id);
        BOOST_TEST(c->term() == net.at(leader).term());
      }
      net.check_safety();
    }
  }
}

BOOST_AUTO_TEST_CASE(proposals_commit_everywhere_in_order) {
  network net(3, 2);
  auto leader = net.elect();
  for (int i = 0; i < 50; ++i) net.propose_and_wait(leader, labelled("x", i));
  net.run_for(100);
  for (const auto& id : net.ids) {
    auto got = data_of(net.applied[id]);
    BOOST_REQUIRE(got.size() == 50u);
    BOOST_TEST(got.front() == "x0");
    BOOST_TEST(got.back() == "x49");
    BOOST_TEST(net.at(id).commit_index() == net.at(leader).last_index());
  }
  // Followers never propose.
  for (const auto& id : net.ids)
    if (id != leader) BOOST_TEST(!net.at(id).propose("no", net.now).has_value());
  net.check_safety();
}

BOOST_AUTO_TEST_CASE(appends_are_batched_and_pipelined) {
  network net(3, 3);
  auto leader = net.elect();
  net.run_for(50);
  const auto before = net.append_messages;
  // 160 proposals at once to 2 followers: one message per entry would be 320 appends. The
  // first proposals go out at once (up to 8 in flight), the rest in batches of up to 16.
  for (int i = 0; i < 160; ++i) BOOST_REQUIRE(net.at(leader).propose(std::to_string(i), net.now));
  net.drain();
  for (const auto& id : net.ids) BOOST_TEST(data_of(net.applied[id]).size() == 160u);
  BOOST_TEST(net.append_messages - before < 2 * 160 / 4, "appends sent: " << net.append_messages - before);
}

BOOST_AUTO_TEST_CASE(a_new_leader_keeps_every_committed_entry) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    network net(5, seed);
    auto leader = net.elect();
    for (int i = 0; i < 10; ++i) net.propose_and_wait(leader, std::to_string(i));
    const auto old_term = net.at(leader).term();
    net.crash(leader);
    auto next = net.elect();
    BOOST_TEST(next != leader);
    BOOST_TEST(net.at(next).term() > old_term);
    net.propose_and_wait(next, "after");
    net.run_for(100);
    for (const auto& id : net.ids) {
      if (id == leader) continue;
      auto got = data_of(net.applied[id]);
      BOOST_REQUIRE(got.size() == 11u);
      BOOST_TEST(got.back() == "after");
    }
    // The old leader restarts from its disk and catches up.
    net.restart(leader);
    net.run_for(300);
    BOOST_TEST(data_of(net.applied[leader]).size() == 11u, "seed " << seed);
    net.check_safety();
  }
}

BOOST_AUTO_TEST_CASE(an_isolated_follower_cannot_disrupt_the_leader) {
  network net(3, 4);
  auto leader = net.elect();
  const auto term = net.at(leader).term();
  node_id loner = leader == "r0" ? "r1" : "r0";
  net.isolate(loner);
  net.run_for(2000);  // many election timeouts: pre-votes fail, its term stays put
  BOOST_TEST(net.at(loner).term() == term);
  net.heal();
  net.run_for(500);
  BOOST_TEST((net.at(leader).state() == role::leader));
  BOOST_TEST(net.at(leader).term() == term);
  BOOST_TEST(net.at(loner).leader() == leader);
}

BOOST_AUTO_TEST_CASE(a_leader_that_loses_its_quorum_steps_down) {
  network net(5, 5);
  auto leader = net.elect();
  net.isolate(leader);
  net.run_for(5 * net.t.election_min);
  BOOST_TEST((net.at(leader).state() != role::leader));
  // The majority side elects its own leader in a higher term; the old one cannot commit.
  auto others = net.leaders();
  BOOST_REQUIRE(others.size() == 1u);
  BOOST_TEST(others.front() != leader);
  BOOST_TEST(!net.at(leader).propose("lost", net.now).has_value());
  net.heal();
  net.run_for(500);
  BOOST_TEST(net.at(leader).leader() == others.front());
  net.check_safety();
}

BOOST_AUTO_TEST_CASE(uncommitted_entries_of_a_deposed_leader_are_replaced) {
  network net(5, 6);
  auto old = net.elect();
  net.propose_and_wait(old, "committed");
  // The leader, cut off, accepts entries it can never commit.
  net.isolate(old);
  for (int i = 0; i < 3; ++i) BOOST_REQUIRE(net.at(old).propose(labelled("orphan", i), net.now));
  net.drain();
  net.run_for(5 * net.t.election_min);
  auto next = net.leaders();
  BOOST_REQUIRE(next.size() == 1u);
  net.propose_and_wait(next.front(), "new");
  net.heal();
  net.run_for(500);
  for (const auto& id : net.ids) {
    auto got = data_of(net.applied[id]);
    BOOST_TEST((got == std::vector<std::string>{"committed", "new"}), id);
    for (const auto& e : net.at(id).log()) BOOST_TEST(e.data.rfind("orphan", 0) != 0u, id);
  }
  net.check_safety();
}

// Thesis figure 3.7: an entry of an older term stored on a majority is not committed by
// counting replicas, because a server with a newer last term can still be elected and replace
// it. Driven message by message.
BOOST_AUTO_TEST_CASE(an_old_term_entry_on_a_majority_is_not_committed_by_counting) {
  auto t = *timing_named("test");
  t.max_batch_entries = 1;
  const std::vector<node_id> ids{"s1", "s2", "s3", "s4", "s5"};
  auto make = [&](const node_id& id, std::vector<entry> log) {
    return std::make_unique<core>(id, ids, t, 7, 0, hard_state{3, {}, 0}, std::move(log));
  };
  const entry e1{1, 1, entry_type::normal, "a"}, e2_old{2, 2, entry_type::normal, "b"},
      e2_new{3, 2, entry_type::normal, "c"};
  std::map<node_id, std::unique_ptr<core>> s;
  s["s1"] = make("s1", {e1, e2_old});
  s["s2"] = make("s2", {e1, e2_old});
  s["s3"] = make("s3", {e1});
  s["s4"] = make("s4", {e1});
  s["s5"] = make("s5", {e1, e2_new});
  // Delivers what `from` sends to the servers in `to` (others lose it), and their answers,
  // until quiet; `drop` loses chosen messages on the way.
  auto exchange = [&](const node_id& from, std::set<node_id> to, time_ms now,
                      std::function<bool(const message&)> drop = nullptr) {
    std::vector<message> queue = s[from]->take_messages();
    while (!queue.empty()) {
      auto m = queue.front();
      queue.erase(queue.begin());
      const bool reachable = m.from == from ? to.count(m.to) > 0 : m.to == from && to.count(m.from) > 0;
      if (!reachable || (drop && drop(m))) continue;
      s[m.to]->step(m, now);
      for (auto& r : s[m.to]->take_messages()) queue.push_back(r);
    }
  };
  // s1 is elected in term 4 by s2 and s3 and gets its old entry 2 onto s3 (one entry per
  // message; its own term-4 entry 3 reaches only s2): entry 2 (term 2) is now on s1, s2, s3.
  s["s1"]->tick(1000);
  exchange("s1", {"s2", "s3"}, 1000, [&](const message& m) {
    return m.to == "s3" && !m.entries.empty() && s["s3"]->last_index() >= 2;
  });
  BOOST_REQUIRE((s["s1"]->state() == role::leader));
  BOOST_TEST(s["s1"]->term() == 4u);
  BOOST_TEST(s["s3"]->term_at(2) == 2u);
  BOOST_TEST(s["s3"]->last_index() == 2u);
  BOOST_TEST(s["s1"]->commit_index() < 2u);  // counting replicas of a term-2 entry commits nothing
  // Indeed: once s1 is gone, s5 (last term 3) wins s3's and s4's votes and replaces entry 2.
  for (int i = 0; i < 4 && s["s5"]->state() != role::leader; ++i) {
    s["s5"]->tick(5000 + 1000 * i);
    exchange("s5", {"s3", "s4"}, 5000 + 1000 * i);
  }
  BOOST_REQUIRE((s["s5"]->state() == role::leader));
  BOOST_TEST(s["s3"]->term_at(2) == 3u);
}

BOOST_AUTO_TEST_CASE(a_restarted_node_never_votes_twice_in_a_term) {
  const auto t = *timing_named("test");
  const std::vector<node_id> voters{"r0", "r1", "r2"};
  disk d;
  auto ask = [](const node_id& from) {
    message m;
    m.type = msg_type::vote;
    m.from = from;
    m.to = "r2";
    m.term = 1;
    return m;
  };
  {
    core fresh("r2", voters, t, 1, 0);
    fresh.step(ask("r0"), 0);
    d.apply(fresh.take_persist());  // durable before the reply goes out
    auto replies = fresh.take_messages();
    BOOST_REQUIRE(replies.size() == 1u);
    BOOST_TEST(!replies.front().reject);
  }
  BOOST_TEST(d.state.term == 1u);
  BOOST_TEST(d.state.vote == "r0");
  core restarted("r2", voters, t, 2, 0, d.state, d.log);
  restarted.step(ask("r1"), 0);
  auto replies = restarted.take_messages();
  BOOST_REQUIRE(replies.size() == 1u);
  BOOST_TEST(replies.front().reject);  // it voted for r0 in term 1 already
  restarted.step(ask("r0"), 0);
  BOOST_TEST(!restarted.take_messages().front().reject);  // the same candidate again: granted
}

BOOST_AUTO_TEST_CASE(leadership_moves_to_the_chosen_node_after_it_catches_up) {
  network net(3, 8);
  auto leader = net.elect();
  node_id target = leader == "r2" ? "r1" : "r2";
  // The target falls behind first.
  net.isolate(target);
  for (int i = 0; i < 5; ++i) net.propose_and_wait(leader, labelled("w", i));
  net.heal();
  const auto term = net.at(leader).term();
  BOOST_REQUIRE(net.at(leader).transfer_leadership(target, net.now));
  BOOST_TEST(!net.at(leader).propose("during", net.now).has_value());  // refused while handing over
  BOOST_TEST(net.at(leader).lease_until() == 0);  // the target may win before a lease would end
  net.drain();
  net.run_for(50);
  BOOST_TEST((net.at(target).state() == role::leader));
  BOOST_TEST(net.at(target).term() == term + 1);
  BOOST_TEST(net.at(leader).leader() == target);
  net.propose_and_wait(target, "after");
  net.run_for(50);
  for (const auto& id : net.ids) BOOST_TEST(data_of(net.applied[id]).size() == 6u, id);
  BOOST_TEST(!net.at(target).transfer_leadership("nobody", net.now));
  net.check_safety();
}

BOOST_AUTO_TEST_CASE(reads_are_confirmed_by_a_majority_or_the_lease) {
  network net(3, 9);
  auto leader = net.elect();
  net.propose_and_wait(leader, "v1");
  auto& l = net.at(leader);
  BOOST_TEST(!net.at(leader == "r0" ? "r1" : "r0").read_index(1, net.now));  // followers cannot
  net.run_for(100);  // heartbeats acknowledged: the lease holds
  BOOST_TEST(l.lease_until() > net.now);
  BOOST_REQUIRE(l.read_index(2, net.now));
  auto reads = l.take_reads();  // within the lease: at once, no round
  BOOST_REQUIRE(reads.size() == 1u);
  BOOST_TEST(reads[0].id == 2u);
  BOOST_TEST(reads[0].index == l.commit_index());
  // Without the lease (time passed without heartbeats getting through), a round confirms it.
  net.isolate(leader);
  net.run_for(net.t.election_min);
  BOOST_TEST(l.lease_until() <= net.now);
  BOOST_REQUIRE(l.read_index(3, net.now));
  net.drain();
  BOOST_TEST(l.take_reads().empty());  // cut off: nobody confirms
  net.run_for(3 * net.t.election_min);  // check-quorum deposes it: the read fails, not hangs
  auto failed = l.take_failed_reads();
  BOOST_REQUIRE(failed.size() == 1u);
  BOOST_TEST(failed[0] == 3u);
  net.heal();
  auto next = net.elect();
  net.run_for(20);
  auto& n = net.at(next);
  net.isolate(next);  // no lease any more once isolated long enough; then heal and read
  net.run_for(net.t.election_min);
  net.heal();
  BOOST_REQUIRE(n.read_index(4, net.now));
  net.drain();
  auto confirmed = n.take_reads();
  BOOST_REQUIRE(confirmed.size() == 1u);
  BOOST_TEST(confirmed[0].index == n.commit_index());
}

BOOST_AUTO_TEST_CASE(no_new_leader_is_elected_before_the_old_lease_ends) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    network net(5, seed);
    auto leader = net.elect();
    net.run_for(100);
    const auto lease = net.at(leader).lease_until();
    BOOST_REQUIRE(lease > net.now);
    net.isolate(leader);
    time_ms elected_at = -1;
    for (int step = 0; step < 1000 && elected_at < 0; ++step) {
      net.run_for(1);
      for (const auto& id : net.ids)
        if (id != leader && net.at(id).state() == role::leader) elected_at = net.now;
    }
    BOOST_REQUIRE(elected_at >= 0);
    BOOST_TEST(elected_at >= lease, "seed " << seed << ": new leader at " << elected_at << ", lease until " << lease);
  }
}

BOOST_AUTO_TEST_CASE(voters_are_added_promoted_and_removed_one_at_a_time) {
  network net(5, 10, 3);  // r3 and r4 start outside the cluster
  auto leader = net.elect();
  net.propose_and_wait(leader, "before");
  auto& l = net.at(leader);
  std::string why;
  BOOST_REQUIRE(l.propose_change({change_kind::add_learner, "r3"}, net.now, &why));
  BOOST_TEST(!l.propose_change({change_kind::add_voter, "r4"}, net.now, &why).has_value());
  BOOST_TEST(why.find("not committed") != std::string::npos, why);
  net.drain();
  net.run_for(50);
  BOOST_TEST(data_of(net.applied["r3"]).size() == 1u);  // the non-voter has the log
  BOOST_TEST(!net.at("r3").is_voter());
  BOOST_TEST((net.at("r3").members().learners == std::vector<node_id>{"r3"}));
  BOOST_REQUIRE(l.propose_change({change_kind::promote, "r3"}, net.now));
  net.drain();
  BOOST_REQUIRE(l.propose_change({change_kind::add_voter, "r4"}, net.now));
  net.drain();
  net.run_for(50);
  BOOST_TEST(l.voters().size() == 5u);
  for (const auto& id : net.ids) BOOST_TEST(net.at(id).voters().size() == 5u, id);
  // With five voters two may fail.
  std::vector<node_id> others;
  for (const auto& id : net.ids)
    if (id != leader) others.push_back(id);
  net.crash(others[0]);
  net.crash(others[1]);
  net.propose_and_wait(leader, "with two down");
  BOOST_TEST(data_of(net.applied[leader]).size() == 2u);
  net.restart(others[0]);
  net.restart(others[1]);
  net.run_for(200);
  // The leader removes itself: once that commits it steps down and the rest elect a leader.
  BOOST_REQUIRE(l.propose_change({change_kind::remove, leader}, net.now, &why));
  net.drain();
  net.run_for(500);
  BOOST_TEST(!net.at(leader).is_voter());
  auto next = net.leaders();
  BOOST_REQUIRE(next.size() == 1u);
  BOOST_TEST(next.front() != leader);
  BOOST_TEST(net.at(next.front()).voters().size() == 4u);
  net.propose_and_wait(next.front(), "after removal");
  net.run_for(100);
  for (const auto& id : net.ids)  // the removed node hears no more
    BOOST_TEST(data_of(net.applied[id]).size() == (id == leader ? 2u : 3u), id);
  // Restarted nodes recover the membership from their logs.
  net.crash("r4");
  net.restart("r4");
  BOOST_TEST(net.at("r4").voters().size() == 4u);
  net.check_safety();
}

BOOST_AUTO_TEST_CASE(a_non_voter_never_campaigns) {
  network net(3, 11, 2);
  auto leader = net.elect();
  BOOST_REQUIRE(net.at(leader).propose_change({change_kind::add_learner, "r2"}, net.now));
  net.drain();
  net.crash(leader);
  net.run_for(2000);
  BOOST_TEST((net.at("r2").state() == role::follower));
  BOOST_TEST(!net.at("r2").propose("x", net.now).has_value());
  const membership expected{{"r0", "r1"}, {"r2"}};
  BOOST_TEST((expected == net.at("r2").members()));
  BOOST_TEST((decode_membership(encode_membership(net.at("r2").members())) == net.at("r2").members()));
  BOOST_TEST(!decode_membership("nonsense").has_value());
}

BOOST_AUTO_TEST_CASE(a_lagging_follower_catches_up_from_a_chunked_snapshot) {
  network net(3, 12);
  net.compact_every = 20;
  auto leader = net.elect();
  node_id behind = leader == "r0" ? "r1" : "r0";
  net.crash(behind);
  const std::string kilobyte(1024, 'k');
  for (int i = 0; i < 100; ++i) net.propose_and_wait(leader, labelled("e", i).append(kilobyte));
  // The leader no longer holds the entries the crashed follower lacks.
  BOOST_TEST(net.at(leader).first_index() > 1u);
  BOOST_TEST(net.disks[leader].snap.has_value());
  BOOST_TEST(net.disks[leader].log.size() < 20u);
  net.restart(behind);
  net.run_for(300);
  // 100 KiB in chunks of at most 16 KiB: several snapshot messages, then appends.
  BOOST_TEST(net.snapshot_messages >= 6u);
  BOOST_TEST(data_of(net.applied[behind]).size() == 100u);
  BOOST_TEST(net.at(behind).commit_index() == net.at(leader).commit_index());
  BOOST_TEST(net.disks[behind].snap.has_value());
  net.check_safety();
  // Everyone restarts from snapshot plus log, and the cluster goes on.
  for (const auto& id : net.ids) {
    net.crash(id);
    net.restart(id);
    BOOST_TEST(data_of(net.applied[id]).size() >= 80u, id);
  }
  leader = net.elect();
  net.propose_and_wait(leader, "after restart");
  net.run_for(100);
  for (const auto& id : net.ids) BOOST_TEST(data_of(net.applied[id]).size() == 101u, id);
  net.check_safety();
}

BOOST_AUTO_TEST_CASE(compaction_keeps_the_membership_and_refuses_what_is_not_applied) {
  network net(3, 13, 2);
  auto leader = net.elect();
  auto& l = net.at(leader);
  BOOST_REQUIRE(l.propose_change({change_kind::add_learner, "r2"}, net.now));
  net.drain();
  for (int i = 0; i < 5; ++i) net.propose_and_wait(leader, labelled("m", i));
  BOOST_TEST(!l.compact(l.applied_index() + 1, "too far"));
  BOOST_REQUIRE(l.compact(l.applied_index(), encode_entries(net.applied[leader])));
  BOOST_TEST(!l.compact(l.applied_index(), "again"));
  const membership expected{{"r0", "r1"}, {"r2"}};
  BOOST_TEST((l.latest_snapshot().members == expected));
  net.drain();
  net.crash(leader);
  net.restart(leader);
  BOOST_TEST((net.at(leader).members() == expected));
  BOOST_TEST(net.at(leader).first_index() == net.disks[leader].snap->index + 1);
}

BOOST_AUTO_TEST_CASE(a_cluster_has_one_identity_and_refuses_strangers) {
  network net(3, 14);
  net.compact_every = 5;
  auto leader = net.elect();
  net.run_for(50);
  const auto id = net.at(leader).cluster_id();
  BOOST_TEST(id.size() == 32u);
  for (const auto& n : net.ids) BOOST_TEST(net.at(n).cluster_id() == id, n);
  for (int i = 0; i < 12; ++i) net.propose_and_wait(leader, labelled("i", i));
  // After compaction and a restart the identity comes back from the snapshot.
  net.crash("r1");
  net.restart("r1");
  BOOST_TEST(net.disks["r1"].snap.has_value());
  BOOST_TEST(net.at("r1").cluster_id() == id);

  // Another cluster with the same names: its messages are refused, loudly.
  network other(3, 15);
  auto other_leader = other.elect();
  other.run_for(50);
  BOOST_REQUIRE(other.at(other_leader).cluster_id() != id);
  other.at(other_leader).propose("stranger", other.now);
  for (auto& m : other.at(other_leader).take_messages()) {
    const auto term_before = net.at(m.to).term();
    net.at(m.to).step(m, net.now);
    BOOST_TEST(net.at(m.to).term() == term_before);
    auto refusals = net.at(m.to).take_refusals();
    BOOST_REQUIRE(refusals.size() == 1u);
    BOOST_TEST(refusals.front().find("cluster " + other.at(other_leader).cluster_id()) != std::string::npos,
               refusals.front());
  }
  // A node started with a different --voters list is refused before it has any cluster id.
  core odd("r1", {"r1", "r2", "r9"}, net.t, 1, 0);
  BOOST_TEST(odd.bootstrap_hash() != net.at("r0").bootstrap_hash());
  BOOST_TEST(voter_set_hash({"r2", "r0", "r1"}) == net.at("r0").bootstrap_hash());
  odd.tick(1000);
  for (auto& m : odd.take_messages()) {
    if (!net.nodes.count(m.to)) continue;
    net.at(m.to).step(m, net.now);
    BOOST_TEST(net.at(m.to).take_refusals().size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(a_campaign_against_a_live_leader_is_refused_without_moving_the_term) {
  network net(3, 16);
  auto leader = net.elect();
  const auto term = net.at(leader).term();
  for (auto type : {msg_type::pre_vote, msg_type::vote}) {
    message m;
    m.type = type;
    m.from = "outsider";
    m.to = leader;
    m.term = term + 10;
    m.log_term = term + 10;
    m.index = 1000;
    net.at(leader).step(m, net.now);
    auto replies = net.at(leader).take_messages();
    BOOST_REQUIRE(replies.size() == 1u);
    BOOST_TEST(replies.front().reject);
    BOOST_TEST(net.at(leader).term() == term);
    BOOST_TEST((net.at(leader).state() == role::leader));
  }
}

BOOST_AUTO_TEST_CASE(followers_told_the_leader_is_unreachable_elect_at_once) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    network net(3, 100 + seed);
    auto leader = net.elect();
    net.run_for(30);
    net.crash(leader);
    const auto crashed_at = net.now;
    for (const auto& id : net.ids)
      if (id != leader) net.at(id).leader_unreachable(leader, net.now);
    node_id next;
    while (net.now - crashed_at < 200) {
      net.run_for(1);
      auto l = net.leaders();
      if (l.size() == 1 && l.front() != leader) {
        next = l.front();
        break;
      }
    }
    BOOST_REQUIRE(!next.empty());
    // Well before an election timeout (50 ms here), which stickiness would otherwise impose.
    BOOST_TEST(net.now - crashed_at < 45, "seed " << seed << ": " << net.now - crashed_at << " ms");
    // A node that is not our leader changes nothing.
    const auto term = net.at(next).term();
    for (const auto& id : net.ids)
      if (id != leader && id != next) net.at(id).leader_unreachable(leader, net.now);
    net.run_for(100);
    BOOST_TEST(net.at(next).term() == term);
    net.check_safety();
  }
}

BOOST_AUTO_TEST_CASE(randomized_faults_keep_raft_safe) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    network net(5, seed);
    net.compact_every = seed % 2 ? 7 : 0;
    std::mt19937_64 rng(seed);
    int proposed = 0;
    for (int round = 0; round < 40; ++round) {
      auto pick = net.ids[rng() % net.ids.size()];
      switch (rng() % 5) {
        case 0: if (net.crashed.size() < 2) net.crash(pick); break;
        case 1: if (net.crashed.count(pick)) net.restart(pick); break;
        case 2: net.isolate(pick); break;
        case 3: net.heal(); break;
        default: break;
      }
      for (auto& l : net.leaders()) net.at(l).propose(labelled("p", proposed++), net.now);
      net.run_for(50 + static_cast<time_ms>(rng() % 100));
      net.check_safety();
    }
    net.heal();
    for (const auto& id : net.ids)
      if (net.crashed.count(id)) net.restart(id);
    net.run_for(1000);
    auto leader = net.leaders();
    BOOST_REQUIRE_MESSAGE(leader.size() == 1u, "seed " << seed);
    net.propose_and_wait(leader.front(), "final");
    net.run_for(200);
    for (const auto& id : net.ids)
      BOOST_TEST(net.at(id).commit_index() == net.at(leader.front()).commit_index(), "seed " << seed);
    net.check_safety();
  }
}

BOOST_AUTO_TEST_SUITE_END()
