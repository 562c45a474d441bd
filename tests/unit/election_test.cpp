// The view of leadership (election::view) with time as a value: heartbeats and their lease,
// votes of allegiance, stragglers; and the Raft side it relies on: a term's first entry names
// its leader and the one before, and a non-voter stops naming a leader it no longer hears.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "actors/election/election_view.hpp"
#include "protocol/raft/raft.hpp"

using namespace p2p::election;

namespace {

const timing test_timing = *timing_named("test");  // heartbeat 100 ms, lease 300 ms

view non_voter(const std::string& id = "nv") {
  view v(id, test_timing, {"127.0.0.1:1", "127.0.0.1:2"});
  v.raft_changed({role::non_voter, {}, 0, false});
  return v;
}

view leader_of(term_t term, const std::vector<std::string>& members) {
  view v("L", test_timing, {"127.0.0.1:8770", "127.0.0.1:8771"});
  v.raft_changed({role::leader, "L", term, true});
  for (const auto& m : members) v.member_alive(m);
  return v;
}

heartbeat from(const std::string& leader, term_t term, time_ms lease = 300) {
  // Built with append: GCC 12 warns falsely (-Wrestrict) about operator+ on a literal.
  return {leader, term, lease, {std::string("h:").append(leader), std::string("c:").append(leader)}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(election)

BOOST_AUTO_TEST_CASE(profiles_give_three_heartbeats_of_lease_and_roles_have_names) {
  for (auto name : {"test", "lan", "wan"}) {
    auto t = timing_named(name);
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(t->lease == 3 * t->heartbeat, name);
    // Every Raft profile has leadership timing: --raft-profile picks both.
    BOOST_TEST(p2p::raft::timing_named(name).has_value(), name);
  }
  BOOST_TEST(timing_named("lan")->heartbeat == 500);
  BOOST_TEST(timing_named("test")->heartbeat == 100);
  BOOST_TEST(!timing_named("local").has_value());
  for (auto r : {role::leader, role::follower, role::candidate, role::non_voter})
    BOOST_TEST((role_named(role_name(r)) == r));
  BOOST_TEST(!role_named("pre_candidate").has_value());
}

BOOST_AUTO_TEST_CASE(a_non_voter_takes_the_leader_from_heartbeats_until_the_lease_ends) {
  auto v = non_voter();
  BOOST_TEST(v.current(0).leader.empty());
  auto answer = v.heartbeat_received(from("n1", 4), 1000);
  BOOST_TEST(answer.node == "nv");
  BOOST_TEST(answer.leader == "n1");
  BOOST_TEST(answer.term == 4u);
  auto c = v.current(1100);
  BOOST_TEST(c.leader == "n1");
  BOOST_TEST(c.term == 4u);
  BOOST_TEST(c.lease_remaining == 200);
  BOOST_TEST(c.where.http == "h:n1");
  BOOST_TEST(*v.heard_until(1100) == 1300);
  // The last millisecond of the lease still names it; from its end on, no leader (never a
  // stale one), while the term stays known.
  BOOST_TEST(v.current(1299).leader == "n1");
  BOOST_TEST(v.current(1300).leader.empty());
  BOOST_TEST(v.current(1300).term == 4u);
  BOOST_TEST(v.current(1300).lease_remaining == 0);
  BOOST_TEST(!v.heard_until(1300).has_value());
  BOOST_TEST(v.own_vote(1300).leader.empty());
  // Each heartbeat renews the lease from its receipt.
  v.heartbeat_received(from("n1", 4), 1250);
  BOOST_TEST(v.current(1500).leader == "n1");
  BOOST_TEST(v.current(1550).leader.empty());
}

BOOST_AUTO_TEST_CASE(an_older_term_does_not_replace_a_live_newer_leader) {
  auto v = non_voter();
  v.heartbeat_received(from("n2", 7), 0);
  // The old leader (term 6) still announces itself: the vote tells it of term 7.
  auto answer = v.heartbeat_received(from("n1", 6), 50);
  BOOST_TEST(answer.leader == "n2");
  BOOST_TEST(answer.term == 7u);
  BOOST_TEST(v.current(60).leader == "n2");
  // A newer term replaces it at once; the same term refreshes it.
  v.heartbeat_received(from("n3", 8), 100);
  BOOST_TEST(v.current(110).leader == "n3");
  v.heartbeat_received(from("n3", 8), 350);
  BOOST_TEST(v.current(600).leader == "n3");
  // Once the newer lease has run out, an older term is all there is: it is taken.
  v.heartbeat_received(from("n1", 6), 700);
  BOOST_TEST(v.current(710).leader == "n1");
  BOOST_TEST(v.current(710).term == 6u);
}

BOOST_AUTO_TEST_CASE(heartbeats_are_trusted_at_most_max_lease_and_never_from_oneself) {
  auto v = non_voter();
  v.heartbeat_received(from("n1", 1, 10 * max_lease), 0);
  BOOST_TEST(v.current(max_lease - 1).leader == "n1");
  BOOST_TEST(v.current(max_lease).leader.empty());
  auto w = non_voter();
  w.heartbeat_received(from("n1", 1, -5), 0);  // no lease: nothing to trust
  BOOST_TEST(w.current(0).leader.empty());
  auto x = non_voter("n1");
  x.heartbeat_received(from("n1", 3), 0);  // an echo of its own announcement
  BOOST_TEST(x.current(1).leader.empty());
  x.heartbeat_received(from("", 3), 0);
  BOOST_TEST(x.current(1).leader.empty());
}

BOOST_AUTO_TEST_CASE(a_raft_member_answers_with_rafts_view_not_the_heartbeats) {
  view v("f", test_timing, {});
  v.raft_changed({role::follower, "n1", 5, true});
  // A stale leader's heartbeat: the vote names Raft's leader and the higher term.
  auto answer = v.heartbeat_received(from("n0", 4), 0);
  BOOST_TEST(answer.leader == "n1");
  BOOST_TEST(answer.term == 5u);
  BOOST_TEST(v.current(1).leader == "n1");
  BOOST_TEST(v.current(1).where.http.empty());  // n1 has not announced itself here yet
  // Its own heartbeat adds where it listens and how long it vouched for.
  v.heartbeat_received(from("n1", 5), 10);
  BOOST_TEST(v.current(110).where.http == "h:n1");
  BOOST_TEST(v.current(110).lease_remaining == 200);
  // Raft decides even after the heartbeats' lease: it hears the leader's appends.
  BOOST_TEST(v.current(5000).leader == "n1");
  BOOST_TEST(v.current(5000).lease_remaining == 0);
  // A campaign names no leader, whatever heartbeats said.
  v.raft_changed({role::candidate, {}, 6, true});
  v.heartbeat_received(from("n1", 5), 5000);
  BOOST_TEST(v.current(5001).leader.empty());
  BOOST_TEST(v.current(5001).term == 6u);
  BOOST_TEST((v.snapshot(5001).r == role::candidate));
}

BOOST_AUTO_TEST_CASE(the_leader_tells_followers_from_stragglers) {
  auto v = leader_of(3, {"a", "b", "c", "d", "L"});
  BOOST_TEST((v.alive_members() == std::vector<std::string>{"a", "b", "c", "d"}));  // not itself
  // Before any vote, everyone is a straggler.
  BOOST_TEST(v.stragglers().size() == 4u);
  BOOST_TEST(v.followers().empty());
  auto hb = v.heartbeat_to_send(1000);
  BOOST_TEST(hb.leader == "L");
  BOOST_TEST(hb.term == 3u);
  BOOST_TEST(hb.lease == 300);
  BOOST_TEST(hb.where.http == "127.0.0.1:8770");
  auto ok = v.vote_received({"a", "L", 3}, 1010);
  BOOST_TEST(ok.recorded);
  BOOST_TEST(ok.follower);
  auto other_leader = v.vote_received({"b", "X", 3}, 1010);
  BOOST_TEST(other_leader.recorded);
  BOOST_TEST(!other_leader.follower);
  auto newer_term = v.vote_received({"c", "L", 4}, 1010);
  BOOST_TEST(!newer_term.follower);
  v.vote_received({"d", "L", 3}, 1010);
  v.no_answer("d");  // then its next heartbeat went unanswered
  BOOST_TEST((v.followers() == std::vector<std::string>{"a"}));
  BOOST_TEST((v.stragglers() == std::vector<std::string>{"b", "c", "d"}));
  BOOST_TEST(v.straggler("d"));
  BOOST_TEST(!v.straggler("a"));
  // Re-announced, b comes round; d answers again.
  v.vote_received({"b", "L", 3}, 1100);
  v.vote_received({"d", "L", 3}, 1100);
  BOOST_TEST((v.followers() == std::vector<std::string>{"a", "b", "d"}));
  // A vote from a node SWIM does not hold alive is not recorded.
  BOOST_TEST(!v.vote_received({"zz", "L", 3}, 1100).recorded);
  // A member that dies leaves the books; back alive, it must vote again.
  v.member_gone("a");
  BOOST_TEST((v.followers() == std::vector<std::string>{"b", "d"}));
  v.member_alive("a");
  BOOST_TEST(v.straggler("a"));

  auto s = v.snapshot(1150);
  BOOST_TEST((s.r == role::leader));
  BOOST_TEST(s.current.leader == "L");
  BOOST_TEST(s.current.lease_remaining == 150);  // the heartbeat sent at 1000 vouched until 1300
  BOOST_REQUIRE(s.members.size() == 4u);
  BOOST_TEST(s.members[0].node == "a");
  BOOST_TEST(!s.members[0].voted_at.has_value());
  BOOST_TEST(s.members[2].node == "c");
  BOOST_TEST(s.members[2].term == 4u);
  BOOST_TEST(*s.members[2].voted_at == 1010);
}

BOOST_AUTO_TEST_CASE(votes_of_an_earlier_term_do_not_count_after_a_new_election) {
  auto v = leader_of(3, {"a"});
  v.heartbeat_to_send(0);
  v.vote_received({"a", "L", 3}, 5);
  BOOST_TEST(v.followers().size() == 1u);
  // L loses leadership, then wins again in term 5: a's vote was for term 3.
  v.raft_changed({role::follower, "M", 4, true});
  BOOST_TEST(v.followers().empty());
  BOOST_TEST(v.stragglers().empty());  // only the leader keeps books
  BOOST_TEST(!v.vote_received({"a", "M", 4}, 10).recorded);
  v.raft_changed({role::leader, "L", 5, true});
  BOOST_TEST(v.straggler("a"));
  BOOST_TEST(v.current(20).lease_remaining == 0);  // no heartbeat of this term went out yet
  v.vote_received({"a", "L", 5}, 30);
  BOOST_TEST(v.followers().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_terms_first_entry_names_its_leader_and_the_one_before) {
  const auto t = *p2p::raft::timing_named("test");
  p2p::raft::core first("a", {"a"}, t, 1, 0);
  first.tick(0);  // the only voter leads at once
  BOOST_REQUIRE((first.state() == p2p::raft::role::leader));
  BOOST_REQUIRE(first.log().size() == 1u);
  const auto& e = first.log().back();
  BOOST_TEST((e.type == p2p::raft::entry_type::noop));
  auto start = p2p::raft::decode_term_start(e.data);
  BOOST_TEST(start.leader == "a");
  BOOST_TEST(start.previous_leader.empty());
  BOOST_TEST(start.cluster_id.size() == 32u);
  first.take_persist();
  first.take_messages();
  BOOST_REQUIRE(first.take_committed().size() == 1u);
  BOOST_TEST(first.cluster_id() == start.cluster_id);

  // Restarted on its log, it leads term 2 and names itself as the leader before.
  p2p::raft::core again("a", {"a"}, t, 2, 0, {first.term(), "a", 1}, first.log());
  again.tick(0);
  BOOST_REQUIRE((again.state() == p2p::raft::role::leader));
  BOOST_TEST(again.term() == 2u);
  auto second = p2p::raft::decode_term_start(again.log().back().data);
  BOOST_TEST(second.leader == "a");
  BOOST_TEST(second.previous_leader == "a");
  BOOST_TEST(second.cluster_id.empty());
  BOOST_TEST(again.cluster_id() == start.cluster_id);  // read from the first entry

  // Entries written before leaders were named hold the cluster id alone.
  auto old = p2p::raft::decode_term_start("0123456789abcdef0123456789abcdef");
  BOOST_TEST(old.cluster_id == "0123456789abcdef0123456789abcdef");
  BOOST_TEST(old.leader.empty());
  BOOST_TEST(p2p::raft::decode_term_start("").cluster_id.empty());
  p2p::raft::term_start full{"cid", "n1", "n0"};
  auto round = p2p::raft::decode_term_start(p2p::raft::encode_term_start(full));
  BOOST_TEST((round.cluster_id == "cid" && round.leader == "n1" && round.previous_leader == "n0"));
}

BOOST_AUTO_TEST_CASE(a_non_voter_forgets_a_leader_it_no_longer_hears) {
  const auto t = *p2p::raft::timing_named("test");
  p2p::raft::core learner("l", {"a", "b", "c"}, t, 3, 0);
  p2p::raft::message m;
  m.type = p2p::raft::msg_type::append;
  m.from = "a";
  m.to = "l";
  m.term = 2;
  learner.step(m, 10);
  BOOST_TEST(learner.leader() == "a");
  learner.tick(10 + t.election_min - 1);
  BOOST_TEST(learner.leader() == "a");
  // Silence for an election timeout: no leader rather than a stale one (it never campaigns).
  learner.tick(10 + t.election_max);
  BOOST_TEST(learner.leader().empty());
  BOOST_TEST((learner.state() == p2p::raft::role::follower));
  BOOST_TEST(learner.term() == 2u);
  learner.step(m, 500);
  BOOST_TEST(learner.leader() == "a");
}

BOOST_AUTO_TEST_SUITE_END()
