// The view of leadership with real processes: three voters and a non-voter agree on the leader
// and term; a transfer moves leadership and every view follows; after kill -9 of the leader the
// survivors converge on a new leader in a higher term; LEADER_CHANGED comes once per term, the
// same on every voter; with every voter gone the non-voter names no leader once its lease ends,
// and its leader placements answer 503 with retry_after_ms. The HTTP forms of the protocol
// messages on single nodes.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <map>
#include <set>
#include <tuple>

#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;

namespace {

struct election_view {
  bool answered = false;
  std::string leader;  // empty: null
  std::uint64_t term = 0;
  std::string role;
  std::string leader_http;
  std::set<std::string> followers, stragglers, members;
};

election_view parse_view(const std::string& body) {
  election_view v;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body).get(doc)) return v;
  std::string_view s;
  if (doc["term"].get(v.term) || doc["role"].get(s)) return v;
  v.role = s;
  if (!doc["leader_id"].get(s)) v.leader = s;
  if (!doc["endpoints"]["http"].get(s)) v.leader_http = s;
  auto names = [&](const char* key, std::set<std::string>& out) {
    simdjson::dom::array xs;
    if (doc[key].get(xs)) return false;
    for (auto x : xs)
      if (!x.get(s)) out.insert(std::string(s));
    return true;
  };
  simdjson::dom::array members;
  if (!names("followers", v.followers) || !names("stragglers", v.stragglers) || doc["members"].get(members)) return v;
  for (auto m : members)
    if (!m["node_id"].get(s)) v.members.insert(std::string(s));
  v.answered = true;
  return v;
}

election_view view_of(const std::string& http, const std::string& token) {
  try {
    auto reply = http_call(http, "GET", "/election/status", "", {{"Authorization", "Bearer " + token}}, 5s);
    if (reply.status == 200) return parse_view(reply.body);
  } catch (const std::exception&) {
  }
  return {};
}

election_view view_of(joined_cluster& c, std::size_t i) { return c.running(i) ? view_of(c[i].http(), c.token()) : election_view{}; }

std::size_t index_of(const std::string& id) { return static_cast<std::size_t>(std::stoul(id.substr(1))); }

std::set<std::string> ids_except(const std::set<std::size_t>& nodes, std::size_t leader) {
  std::set<std::string> out;
  for (auto i : nodes)
    if (i != leader) out.insert(joined_cluster::id(i));
  return out;
}

// Every node of `nodes` names the same leader and term; the leader is one of them, says it
// leads, and counts every other node of `nodes` among its followers.
std::optional<std::pair<std::size_t, std::uint64_t>> agreed(joined_cluster& c, const std::set<std::size_t>& nodes) {
  std::string leader;
  std::uint64_t term = 0;
  for (auto i : nodes) {
    auto v = view_of(c, i);
    if (!v.answered || v.leader.empty()) return std::nullopt;
    if (!leader.empty() && (v.leader != leader || v.term != term)) return std::nullopt;
    leader = v.leader;
    term = v.term;
  }
  const auto at = index_of(leader);
  if (!nodes.count(at)) return std::nullopt;
  auto v = view_of(c, at);
  if (v.role != "leader" || v.term != term) return std::nullopt;
  for (const auto& other : ids_except(nodes, at))
    if (!v.followers.count(other)) return std::nullopt;
  return std::pair{at, term};
}

http_reply post(joined_cluster& c, std::size_t i, const std::string& path, const std::string& body) {
  return http_call(c[i].http(), "POST", path, body, {{"Authorization", "Bearer " + c.token()}}, 30s);
}

// The envelope's code and details.retry_after_ms (-1 when absent) and details.field.
struct envelope {
  std::string code, field;
  std::int64_t retry_after_ms = -1;
};
envelope envelope_of(const http_reply& reply) {
  envelope e;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(reply.body).get(doc)) return e;
  std::string_view s;
  if (!doc["code"].get(s)) e.code = s;
  if (!doc["details"]["field"].get(s)) e.field = s;
  if (doc["details"]["retry_after_ms"].get(e.retry_after_ms)) e.retry_after_ms = -1;
  return e;
}

struct leader_changed {
  std::string event_id, new_leader, old_leader, scope;
  std::uint64_t term = 0, envelope_term = 0;
  bool operator==(const leader_changed&) const = default;
};

// LEADER_CHANGED events a voter has recorded, from its first event on, once the one of
// `last_term` is among them.
std::vector<leader_changed> leader_events(joined_cluster& c, std::size_t i, std::uint64_t last_term) {
  sse_stream stream(c[i].http(), "/events?types=LEADER_CHANGED&last_event_id=0",
                    {{"Authorization", "Bearer " + c.token()}});
  BOOST_REQUIRE(stream.status() == 200);
  // The payload ends with its term, and the envelope with the payload.
  std::string needle = "\"term\":";
  needle.append(std::to_string(last_term)).append("}}");
  BOOST_REQUIRE_MESSAGE(stream.read_until(needle, 30s), "no LEADER_CHANGED of term " << last_term << ":\n"
                                                                                     << stream.text());
  std::vector<leader_changed> out;
  std::string_view text = stream.text();
  for (std::size_t at = text.find("data: "); at != std::string_view::npos; at = text.find("data: ", at)) {
    at += 6;
    const auto end = text.find('\n', at);
    std::string line(text.substr(at, end - at));
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    BOOST_REQUIRE_MESSAGE(!p.parse(line).get(doc), line);
    std::string_view s;
    leader_changed e;
    if (!doc["type"].get(s)) BOOST_TEST(s == "LEADER_CHANGED");
    if (!doc["event_id"].get(s)) e.event_id = s;
    if (!doc["scope"].get(s)) e.scope = s;
    if (!doc["payload"]["new_leader_id"].get(s)) e.new_leader = s;
    if (!doc["payload"]["old_leader_id"].get(s)) e.old_leader = s;
    BOOST_TEST(!doc["payload"]["term"].get(e.term), line);
    BOOST_TEST(!doc["term"].get(e.envelope_term), line);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(election_cluster)

BOOST_AUTO_TEST_CASE(every_view_follows_the_leader_through_a_transfer_a_crash_and_the_loss_of_every_voter) {
  joined_cluster c(4, {"--voters=n00,n01,n02", "--raft-profile=test", "--swim-profile=test"});
  const std::set<std::size_t> voters{0, 1, 2}, everyone{0, 1, 2, 3};
  const std::size_t non_voter = 3;

  // All four name the same leader and term; the leader counts the other three as followers.
  std::optional<std::pair<std::size_t, std::uint64_t>> first;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (first = agreed(c, everyone)).has_value(); }),
                        "the four nodes do not agree on a leader");
  const auto [leader1, term1] = *first;
  BOOST_TEST(voters.count(leader1) == 1u);
  auto seen = view_of(c, non_voter);
  BOOST_TEST(seen.role == "non_voter");
  BOOST_TEST(seen.leader_http == c[leader1].http());  // where the leader said it listens
  BOOST_TEST(view_of(c, leader1).members == ids_except(everyone, leader1));
  // The non-voter hears no appends: its writes go to the leader its heartbeats name.
  auto written = post(c, non_voter, "/raft/kv", R"({"key":"k1","value":"from-the-non-voter"})");
  BOOST_TEST(written.status == 200, written.body);

  // Bad transfers: 400 naming the field.
  for (std::string body : {R"({"to":"n03"})", R"({"to":"nobody"})", R"({"to":""})", R"({})"}) {
    auto refused = post(c, non_voter, "/election/transfer", body);
    BOOST_TEST(refused.status == 400, body << ": " << refused.body);
    BOOST_TEST(envelope_of(refused).field == "to", refused.body);
  }
  // Asked on the non-voter, the transfer goes to the leader and is answered once the target leads.
  const std::size_t target = leader1 == 0 ? 1 : 0;
  auto moved = post(c, non_voter, "/election/transfer",
                    std::string(R"({"to":")").append(joined_cluster::id(target)).append(R"("})"));
  BOOST_REQUIRE_MESSAGE(moved.status == 200, moved.body);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(moved.body).get(doc));
  BOOST_TEST(std::string_view(doc["leader_id"].get_string().value()) == joined_cluster::id(target));
  BOOST_TEST(std::string_view(doc["previous_leader_id"].get_string().value()) == joined_cluster::id(leader1));
  BOOST_TEST(doc["term"].get_uint64().value() > term1);
  std::optional<std::pair<std::size_t, std::uint64_t>> second;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] {
                          second = agreed(c, everyone);
                          return second && second->first == target;
                        }),
                        "the views do not follow the transfer");
  const auto term2 = second->second;
  BOOST_TEST(term2 > term1);
  // A write in the new term: its first entry is committed before the crash below.
  // A client retries a 503 after retry_after_ms (a connection to the new leader may still be
  // in its handshake).
  BOOST_TEST(eventually(20s, [&] {
    written = post(c, non_voter, "/raft/kv", R"({"key":"k2","value":"after-the-transfer"})");
    return written.status != 503;
  }));
  BOOST_TEST(written.status == 200, written.body);

  // kill -9 the leader: the survivors converge on a new leader in a higher term.
  c.kill(target);
  const std::set<std::size_t> survivors{(target + 1) % 3, (target + 2) % 3, non_voter};
  std::optional<std::pair<std::size_t, std::uint64_t>> third;
  BOOST_REQUIRE_MESSAGE(eventually(30s, [&] { return (third = agreed(c, survivors)).has_value(); }),
                        "the survivors do not agree on a new leader");
  const auto [leader3, term3] = *third;
  BOOST_TEST(leader3 != target);
  BOOST_TEST(term3 > term2);

  // LEADER_CHANGED: once per term, in order, named from the term's first entry, the same on
  // both surviving voters.
  std::vector<leader_changed> per_voter[2];
  std::size_t k = 0;
  for (auto i : survivors)
    if (i != non_voter) per_voter[k++] = leader_events(c, i, term3);
  const auto& events = per_voter[0];
  BOOST_TEST((events == per_voter[1]));
  std::map<std::uint64_t, leader_changed> by_term;
  std::uint64_t previous = 0;
  for (const auto& e : events) {
    BOOST_TEST(by_term.emplace(e.term, e).second, "LEADER_CHANGED twice for term " << e.term);
    BOOST_TEST(e.term > previous);
    previous = e.term;
    BOOST_TEST(e.envelope_term == e.term);
    BOOST_TEST(e.scope == "cluster");
    BOOST_TEST(e.event_id.rfind("r:", 0) == 0u, e.event_id);
    BOOST_TEST(e.event_id.substr(e.event_id.size() - 2) == ":0", e.event_id);  // the term's no-op
  }
  BOOST_REQUIRE(by_term.count(term1) + by_term.count(term2) + by_term.count(term3) == 3u);
  BOOST_TEST(by_term[term1].new_leader == joined_cluster::id(leader1));
  BOOST_TEST(by_term[term2].new_leader == joined_cluster::id(target));
  BOOST_TEST(by_term[term2].old_leader == joined_cluster::id(leader1));
  BOOST_TEST(by_term[term3].new_leader == joined_cluster::id(leader3));
  BOOST_TEST(by_term[term3].old_leader == joined_cluster::id(target));

  // With every voter gone, the non-voter names no leader once the last heartbeat's lease (300 ms
  // on the test profile) has run out; the margin covers a busy machine, not the protocol.
  for (auto i : voters) c.kill(i);
  const auto killed = std::chrono::steady_clock::now();
  election_view lapsed;
  BOOST_REQUIRE_MESSAGE(eventually(300ms + 2s, [&] {
                          lapsed = view_of(c, non_voter);
                          return lapsed.answered && lapsed.leader.empty();
                        }),
                        "the non-voter still names a leader");
  BOOST_TEST_MESSAGE("no leader on the non-voter "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed).count()
                     << " ms after the last voter died");
  BOOST_TEST(lapsed.term >= term3);  // the term stays known; the leader does not
  // Leader placements answer 503 with retry_after_ms, reads and writes alike.
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/raft/kv", R"({"key":"k3","value":"nobody-leads"})"},
           {"GET", "/raft/kv?key=k1", ""},
           {"POST", "/work/add", R"({"work_type":"selfplay"})"},
           {"POST", "/election/transfer", R"({"to":"n00"})"}}) {
    auto reply = http_call(c[non_voter].http(), method, path, body, {{"Authorization", "Bearer " + c.token()}}, 30s);
    BOOST_TEST(reply.status == 503, path << ": " << reply.body);
    auto e = envelope_of(reply);
    BOOST_TEST(e.code == "unavailable", path);
    BOOST_TEST(e.retry_after_ms > 0, path << ": " << reply.body);
  }
}

BOOST_AUTO_TEST_CASE(the_http_forms_of_heartbeat_and_vote_on_single_nodes) {
  const std::string token = "election-token";
  const header_list auth{{"Authorization", "Bearer " + token}};
  // A lone voter leads itself: it answers a heartbeat with its own view, and refuses one from
  // another voter set.
  node_process solo({"--node-id=solo", "--auth-token=" + token, "--raft-profile=test", "--enable-protocol-routes"});
  election_view v;
  BOOST_REQUIRE(eventually(10s, [&] { return (v = view_of(solo.http(), token)).leader == "solo"; }));
  BOOST_TEST(v.role == "leader");
  BOOST_TEST(v.followers.empty());
  BOOST_TEST(v.leader_http == solo.http());
  auto vote = http_call(solo.http(), "POST", "/election/heartbeat", R"({"leader_id":"x","term":99,"lease_remaining_ms":1000})", auth);
  BOOST_TEST(vote.status == 200, vote.body);
  BOOST_TEST(vote.body == std::string(R"({"node_id":"solo","leader_id":"solo","term":)").append(std::to_string(v.term)).append("}"),
             vote.body);
  auto foreign = http_call(solo.http(), "POST", "/election/heartbeat",
                           R"({"leader_id":"x","term":1,"lease_remaining_ms":1000,"voters_hash":"12345"})", auth);
  BOOST_TEST(foreign.status == 409, foreign.body);
  BOOST_TEST(envelope_of(foreign).field == "voters_hash");
  auto empty_leader = http_call(solo.http(), "POST", "/election/heartbeat", R"({"leader_id":"","term":1,"lease_remaining_ms":5})", auth);
  BOOST_TEST(empty_leader.status == 400);
  BOOST_TEST(envelope_of(empty_leader).field == "leader_id");
  auto stranger = http_call(solo.http(), "POST", "/election/vote", R"({"node_id":"ghost","leader_id":"solo","term":1})", auth);
  BOOST_TEST(stranger.body == R"({"recorded":false,"follower":false})", stranger.body);  // not an alive member
  auto itself = http_call(solo.http(), "POST", "/election/transfer", R"({"to":"solo"})", auth);
  BOOST_TEST(itself.status == 200, itself.body);
  BOOST_TEST(itself.body.find(R"("leader_id":"solo")") != std::string::npos, itself.body);

  // A node that joins through seeds holds no log: its view is what heartbeats say, for as long
  // as they vouch for it, and its writes go to that leader.
  node_process joiner({"--node-id=joiner", "--auth-token=" + token, "--seeds=" + solo.info().cluster,
                       "--raft-profile=test", "--enable-protocol-routes"});
  auto answer = http_call(joiner.http(), "POST", "/election/heartbeat",
                          R"({"leader_id":"ghost","term":1000,"lease_remaining_ms":60000,)"
                          R"("endpoints":{"http":"127.0.0.1:1","cluster":"127.0.0.1:2"}})",
                          auth);
  BOOST_TEST(answer.body == R"({"node_id":"joiner","leader_id":"ghost","term":1000})", answer.body);
  v = view_of(joiner.http(), token);
  BOOST_TEST(v.role == "non_voter");
  BOOST_TEST(v.leader == "ghost");
  BOOST_TEST(v.leader_http == "127.0.0.1:1");
  // "ghost" cannot be reached: the write is unavailable (forwarded, never answered locally).
  auto write = http_call(joiner.http(), "POST", "/raft/kv", R"({"key":"k","value":"v"})", auth, 30s);
  BOOST_TEST(write.status == 503, write.body);
  BOOST_TEST(envelope_of(write).retry_after_ms > 0, write.body);
  // The real leader's heartbeats (term 1 or so) cannot replace term 1000 while its lease runs;
  // a short lease of the same term ends it, and then the real leader's are taken.
  http_call(joiner.http(), "POST", "/election/heartbeat", R"({"leader_id":"ghost","term":1000,"lease_remaining_ms":1})",
            auth);
  BOOST_REQUIRE(eventually(10s, [&] { return view_of(joiner.http(), token).leader == "solo"; }));
  BOOST_TEST(http_call(joiner.http(), "POST", "/raft/kv", R"({"key":"k","value":"v"})", auth, 30s).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
