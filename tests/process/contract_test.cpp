// Walks the route table against a running node: every route answers, and bad input gets the
// error envelope with the documented status and code.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <map>

#include "http/routes.hpp"
#include "bench/harness/http_client.hpp"
#include "bench/harness/node_process.hpp"

using namespace p2p::harness;
using namespace std::chrono_literals;
using p2p::http::route;

namespace {

header_list bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string method_of(const route& r) { return std::string(p2p::http::verb_name(r.method)); }

// Checks the envelope's shape and returns details.field (empty when absent).
std::string check_envelope(const http_reply& reply, int status, const std::string& code,
                           const std::string& what) {
  BOOST_TEST(reply.status == status, what << ": " << reply.body);
  BOOST_TEST(!reply.header("X-Node-ID").empty(), what);
  BOOST_TEST(reply.header("Content-Type") == "application/json", what);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(reply.body).get(doc)) {
    BOOST_ERROR(what << ": error body is not JSON: " << reply.body);
    return "";
  }
  std::string_view error, got_code;
  int64_t got_status = 0;
  simdjson::dom::object details;
  BOOST_TEST(!doc["error"].get(error), what);
  BOOST_TEST(!error.empty(), what);
  BOOST_TEST(!doc["code"].get(got_code), what);
  BOOST_TEST(got_code == code, what);
  BOOST_TEST(!doc["status"].get(got_status), what);
  BOOST_TEST(got_status == status, what);
  BOOST_TEST(!doc["details"].get(details), what);
  std::string_view field;
  if (!doc["details"]["field"].get(field)) return std::string(field);
  return "";
}

// The route's path with its required query parameters set to valid sample values: `samples`
// by name where a parameter must name something that exists (a work item), else "x" or 1.
std::string target_of(const route& r, const std::map<std::string, std::string>& samples = {}) {
  std::string target(r.path);
  char sep = '?';
  for (const auto& q : r.query_params) {
    if (!q.required) continue;
    target.push_back(sep);
    target.append(q.name).append("=");
    if (auto it = samples.find(std::string(q.name)); it != samples.end()) target.append(it->second);
    else target.append(q.type == p2p::http::field_type::string ? "x" : "1");
    sep = '&';
  }
  return target;
}

// A method the route's path does not answer to (several routes may share a path).
std::string unused_method(const route& r) {
  for (std::string m : {"DELETE", "GET", "PUT", "PATCH"}) {
    bool used = false;
    for (const auto& other : p2p::http::route_table())
      if (other.path == r.path && method_of(other) == m) used = true;
    if (!used) return m;
  }
  return "OPTIONS";
}

struct contract_fixture {
  node_process node;
  std::string token = node.token();
};

// Every route of the table (protocol routes too when the node answers them) refuses bad input
// with 400 naming the field.
void check_bad_input(node_process& node, const std::string& token, bool protocol_routes) {
  for (const auto& r : p2p::http::route_table()) {
    if (r.protocol != protocol_routes) continue;
    const std::string id(r.id), path(r.path), m = method_of(r);
    if (r.body == p2p::http::body_kind::none) {
      if (r.reply != p2p::http::reply_kind::event_stream) {
        auto reply = http_call(node.http(), m, target_of(r), R"({"x":1})", bearer(token));
        BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " with a body") == "body");
      }
    } else {
      auto reply = http_call(node.http(), m, path, R"({"level": )", bearer(token));
      BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " malformed") == "body");
      reply = http_call(node.http(), m, path, R"({"no_such_field": 1})", bearer(token));
      BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " unknown field") ==
                 "no_such_field");
      reply = http_call(node.http(), m, path, "[1,2]", bearer(token));
      BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " array body") == "body");
      for (const auto& f : r.request_fields) {
        // A value of the wrong type for each declared field.
        std::string wrong = f.type == p2p::http::field_type::string ? "12" : "\"text\"";
        reply = http_call(node.http(), m, path, "{\"" + std::string(f.name) + "\":" + wrong + "}",
                          bearer(token));
        BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " " + std::string(f.name)) ==
                   std::string(f.name));
      }
    }
    auto reply = http_call(node.http(), m, path + "?definitely_unknown=1", "", bearer(token));
    BOOST_TEST(check_envelope(reply, 400, "bad_request", id + " unknown query") ==
               "definitely_unknown");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(contract)

BOOST_FIXTURE_TEST_CASE(bad_bodies_and_queries_get_400_naming_the_field, contract_fixture) {
  check_bad_input(node, token, false);
}

BOOST_AUTO_TEST_CASE(protocol_routes_answer_when_enabled_and_check_their_input) {
  node_process node({"--enable-protocol-routes", "--node-id=solo"});
  const auto token = node.token();
  check_bad_input(node, token, true);
  // A push-pull round from an unknown node: it gets this node's record and a wish list.
  auto round = http_call(node.http(), "POST", "/gossip",
                         R"({"from":"visitor","digest":[{"node_id":"visitor","node_uuid":"u-1","boot_epoch":1,"counter":4}]})",
                         bearer(token));
  BOOST_TEST(round.status == 200, round.body);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(round.body).get(doc));
  BOOST_TEST(doc["records"].get_array().value().size() == 1u);
  BOOST_TEST(std::string_view(doc["records"].at(0)["node_id"].get_string().value()) == "solo");
  BOOST_TEST(std::string_view(doc["wanted"].at(0).get_string().value()) == "visitor");
  // Pushed records are kept and listed; anti-entropy returns everything.
  auto push = http_call(node.http(), "POST", "/gossip",
                        R"({"from":"visitor","records":[{"node_id":"visitor","node_uuid":"u-1","boot_epoch":1,"counter":4,)"
                        R"("info":{"node_id":"visitor","node_uuid":"u-1","cluster":"127.0.0.1:9","work_types":["match"]}}]})",
                        bearer(token));
  BOOST_TEST(push.status == 200, push.body);
  auto all = http_call(node.http(), "POST", "/gossip/anti-entropy", "{}", bearer(token));
  BOOST_TEST(all.status == 200);
  BOOST_TEST(all.body.find("\"visitor\"") != std::string::npos, all.body);
  auto peers = http_call(node.http(), "GET", "/gossip/peers", "", bearer(token));
  BOOST_TEST(peers.body.find("\"work_types\":[\"match\"]") != std::string::npos, peers.body);
  // The same digest hash as this node's answers in_sync; a stale one gets the difference.
  auto stale = http_call(node.http(), "POST", "/gossip", R"({"digest_hash":1,"digest":[]})", bearer(token));
  BOOST_TEST(stale.body.find("\"in_sync\":false") != std::string::npos, stale.body);

  // Raft's HTTP forms: a campaign against the live leader of this one-voter cluster is refused
  // in the reply, and the term stays; a message of the wrong kind for the route or with bad
  // bytes is a 400 naming the problem.
  BOOST_TEST(eventually(10s, [&] {
    return http_call(node.http(), "GET", "/raft/status", "", bearer(token)).body.find(R"("state":"leader")") !=
           std::string::npos;
  }));
  auto vote = http_call(node.http(), "POST", "/raft/vote", R"({"type":"vote","from":"visitor","term":99})",
                        bearer(token));
  BOOST_TEST(vote.status == 200, vote.body);
  BOOST_TEST(vote.body.find(R"("type":"vote_reply")") != std::string::npos, vote.body);
  BOOST_TEST(vote.body.find(R"("reject":true)") != std::string::npos, vote.body);
  auto wrong = http_call(node.http(), "POST", "/raft/vote", R"({"type":"append","from":"visitor","term":1})",
                         bearer(token));
  BOOST_TEST(check_envelope(wrong, 400, "bad_request", "append on /raft/vote") == "type");
  auto bytes = http_call(node.http(), "POST", "/raft/append",
                         R"({"type":"append","from":"visitor","term":1,"entries":[{"term":1,"index":2,"type":"normal","data":"%%"}]})",
                         bearer(token));
  BOOST_TEST(check_envelope(bytes, 400, "bad_request", "bad base64") == "type");
  BOOST_TEST(bytes.body.find("base64") != std::string::npos, bytes.body);
  // The refused vote does not move this node's term: it leads its own one-voter cluster in term 1.
  http_reply status;
  BOOST_TEST(eventually(10s, [&] {
    status = http_call(node.http(), "GET", "/raft/status", "", bearer(token));
    return status.body.find(R"("state":"leader")") != std::string::npos;
  }));
  BOOST_TEST(status.body.find(R"("term":1,)") != std::string::npos, status.body);
}

BOOST_FIXTURE_TEST_CASE(elo_routes_refuse_bad_records_one_by_one, contract_fixture) {
  auto post = [&](const std::string& path, const std::string& body) {
    return http_call(node.http(), "POST", path, body, bearer(token));
  };
  auto get = [&](const std::string& target) { return http_call(node.http(), "GET", target, "", bearer(token)); };
  auto stored = post("/elo/matches",
                     R"({"matches":[{"game_id":"g1","config_key":"k","a":"m1","b":"m2","score":1,"played_at":"2026-11-30T10:00:00.000Z"},)"
                     R"({"game_id":"g2","config_key":"k","a":"m1","b":"m2","score":"1","played_at":"2026-11-30T10:00:00.000Z"},)"
                     R"({"game_id":"g3","config_key":"k","a":"m1","b":"m2","score":1,"played_at":"yesterday"},)"
                     R"({"game_id":"g4","config_key":"k","a":"m1","b":"m2","score":1,"played_at":"2026-11-30T10:00:00.000Z","origin_seq":3},)"
                     R"({"game_id":"g1","config_key":"k","a":"m1","b":"m2","score":1,"played_at":"2026-11-30T10:00:00.000Z"}]})");
  BOOST_TEST(stored.status == 200, stored.body);
  BOOST_TEST(stored.body.find(R"("accepted":1,"duplicates":1)") != std::string::npos, stored.body);
  BOOST_TEST(stored.body.find(R"({"index":1,"reason":"score must be a number"})") != std::string::npos, stored.body);
  BOOST_TEST(stored.body.find(R"({"index":2,"reason":"played_at is not RFC 3339"})") != std::string::npos, stored.body);
  BOOST_TEST(stored.body.find(R"("index":3,"reason":"origin_seq is assigned)") != std::string::npos, stored.body);

  BOOST_TEST(check_envelope(get("/elo/rankings?config_key=k&method=glicko"), 400, "bad_request", "method") == "method");
  BOOST_TEST(check_envelope(get("/elo/rankings?config_key=k&anchor=m1"), 400, "bad_request", "anchor") == "anchor");
  BOOST_TEST(check_envelope(get("/elo/rankings?config_key=k&anchor=m7:1500"), 400, "bad_request", "anchor") == "anchor");
  auto none = get("/elo/rankings?config_key=none");  // no games yet: no players
  BOOST_TEST(none.body == R"({"config_key":"none","method":"bayes","games":0,"draw_elo":0,"players":[]})", none.body);
  auto ranked = get("/elo/rankings?config_key=k&anchor=m2:1000&los=1");
  BOOST_TEST(ranked.status == 200, ranked.body);
  BOOST_TEST(ranked.body.find(R"("los":{"m1":{"m2":)") != std::string::npos, ranked.body);
  check_envelope(post("/elo/sync", R"({"matches":[{"game_id":"g5","config_key":"k","a":"m1","b":"m2","score":1,)"
                                   R"("played_at":"2026-11-30T10:00:00.000Z","origin_node":"u"}]})"),
                 400, "bad_request", "sync row without origin_seq");
  auto synced = post("/elo/sync", R"({"marks":{}})");
  BOOST_TEST(synced.body.find(R"("origin_seq":1)") != std::string::npos, synced.body);
}

BOOST_FIXTURE_TEST_CASE(every_route_requires_its_token, contract_fixture) {
  for (const auto& r : p2p::http::route_table()) {
    if (r.auth == p2p::http::auth_kind::open) continue;
    auto reply = http_call(node.http(), method_of(r), std::string(r.path), "", {});
    check_envelope(reply, 401, "unauthorized", std::string(r.id) + " without token");
    reply = http_call(node.http(), method_of(r), std::string(r.path), "", bearer(token + "x"));
    check_envelope(reply, 401, "unauthorized", std::string(r.id) + " with a wrong token");
  }
}

BOOST_FIXTURE_TEST_CASE(protocol_routes_are_forbidden_by_default, contract_fixture) {
  for (const auto& r : p2p::http::route_table()) {
    if (!r.protocol) continue;
    auto reply = http_call(node.http(), method_of(r), std::string(r.path), "{}", bearer(token));
    check_envelope(reply, 403, "forbidden", std::string(r.id));
  }
}

BOOST_FIXTURE_TEST_CASE(wrong_methods_get_405_with_allow, contract_fixture) {
  for (const auto& r : p2p::http::route_table()) {
    std::string wrong = unused_method(r);
    auto reply = http_call(node.http(), wrong, std::string(r.path), "", bearer(token));
    check_envelope(reply, 405, "method_not_allowed", std::string(r.id));
    BOOST_TEST(reply.header("Allow").find(method_of(r)) != std::string::npos, r.id);
  }
}

BOOST_FIXTURE_TEST_CASE(unknown_paths_get_404, contract_fixture) {
  for (auto path : {"/nope", "/admin", "/admin/health/x", "/work/unknown"}) {
    auto reply = http_call(node.http(), "GET", path, "", bearer(token));
    check_envelope(reply, 404, "not_found", path);
  }
}

BOOST_FIXTURE_TEST_CASE(oversized_bodies_get_413, contract_fixture) {
  std::string big(8 * 1024 * 1024 + 1, ' ');
  auto reply = http_call(node.http(), "POST", "/admin/log-level", big, bearer(token), 60s);
  check_envelope(reply, 413, "payload_too_large", "9 MiB body");
  // The node keeps serving.
  BOOST_TEST(http_call(node.http(), "GET", "/admin/health").status == 200);
}

BOOST_FIXTURE_TEST_CASE(malformed_http_gets_400_and_the_node_survives, contract_fixture) {
  auto raw = raw_exchange(node.http(), "GARBAGE\r\n\r\n", 10s);
  BOOST_TEST(raw.rfind("HTTP/1.1 400", 0) == 0u, raw);
  BOOST_TEST(http_call(node.http(), "GET", "/admin/health").status == 200);
}

BOOST_FIXTURE_TEST_CASE(every_read_route_answers_with_a_token, contract_fixture) {
  // Leader reads need the one-voter cluster's leader, elected right after start.
  BOOST_TEST(eventually(10s, [&] {
    return http_call(node.http(), "GET", "/raft/status", "", bearer(token)).body.find(R"("state":"leader")") !=
           std::string::npos;
  }));
  // A work item for the routes that read one.
  auto added = http_call(node.http(), "POST", "/work/add", R"({"work_type":"selfplay"})", bearer(token));
  BOOST_REQUIRE_MESSAGE(added.status == 201, added.body);
  simdjson::dom::parser added_parser;
  std::string_view work_id;
  BOOST_REQUIRE(!added_parser.parse(added.body)["work_ids"].at(0).get(work_id));
  const std::map<std::string, std::string> samples{{"work_id", std::string(work_id)}};
  for (const auto& r : p2p::http::route_table()) {
    if (r.method != p2p::http::verb::get || r.reply == p2p::http::reply_kind::event_stream)
      continue;
    auto reply = http_call(node.http(), "GET", target_of(r, samples), "", bearer(token));
    BOOST_TEST(reply.status == static_cast<int>(r.success_status), r.id << ": " << reply.body);
    BOOST_TEST(!reply.header("X-Node-ID").empty(), r.id);
    if (r.reply == p2p::http::reply_kind::json) {
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      BOOST_TEST(!p.parse(reply.body).get(doc), r.id);
      for (const auto& f : r.response_fields) {
        simdjson::dom::element v;
        BOOST_TEST((!f.required || !doc[f.name].get(v)), r.id << " lacks " << f.name);
      }
    }
  }
  auto changed = http_call(node.http(), "POST", "/admin/log-level", R"({"level":"debug"})",
                           bearer(token));
  BOOST_TEST(changed.status == 200);
  BOOST_TEST(changed.body == R"({"level":"debug","previous":"info"})");
}

BOOST_AUTO_TEST_SUITE_END()
