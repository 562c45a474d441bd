#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <set>

#include "http/auth.hpp"
#include "http/envelope.hpp"
#include "http/gate.hpp"
#include "http/metrics.hpp"
#include "http/openapi.hpp"
#include "http/routes.hpp"

using namespace p2p;
using namespace p2p::http;

namespace {

const field_spec item_fields[] = {
    {"priority", field_type::integer, true, "", {}, 0.0, 100.0},
    {"name", field_type::string, false, ""},
};
const field_spec sample_fields[] = {
    {"level", field_type::string, true, "", {}, {}, {}, {}},
    {"count", field_type::integer, false, "", {}, 1.0, 10.0},
    {"ratio", field_type::number, false, ""},
    {"flag", field_type::boolean, false, ""},
    {"items", field_type::array, false, "", item_fields},
};
const field_spec sample_query[] = {
    {"limit", field_type::integer, false, "", {}, 1.0, 500.0},
    {"stale", field_type::boolean, false, ""},
};

// A table with one route of every kind the gate distinguishes.
const route sample_table[] = {
    {"t.open", verb::get, "/open", "t", auth_kind::open, placement::local, false, "", body_kind::none,
     {}, sample_query, reply_kind::json, 200, {}},
    {"t.write", verb::post, "/thing", "t", auth_kind::token, placement::leader_write, false, "",
     body_kind::json, sample_fields, {}, reply_kind::json, 201, {}},
    {"t.read", verb::get, "/thing", "t", auth_kind::token, placement::leader_read, false, "",
     body_kind::none, {}, {}, reply_kind::json, 200, {}},
    {"t.protocol", verb::post, "/proto", "t", auth_kind::token, placement::local, true, "",
     body_kind::json, {}, {}, reply_kind::json, 200, {}},
    {"t.metrics", verb::get, "/m", "t", auth_kind::metrics, placement::local, false, "",
     body_kind::none, {}, {}, reply_kind::text, 200, {}},
};

gate_config config() { return {"s3cret", false, false}; }

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  return p.parse(text).value();
}

std::string field_of(const response& r) {
  simdjson::dom::parser p;
  auto doc = p.parse(r.body).value();
  std::string_view f;
  if (doc["details"]["field"].get(f)) return "";
  return std::string(f);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http)

BOOST_AUTO_TEST_CASE(route_table_ids_and_method_paths_are_unique) {
  std::set<std::string_view> ids;
  std::set<std::pair<verb, std::string_view>> keys;
  for (const auto& r : route_table()) {
    BOOST_TEST(ids.insert(r.id).second, "duplicate id " << r.id);
    BOOST_TEST(keys.insert({r.method, r.path}).second, "duplicate route " << r.path);
    BOOST_TEST(r.id.substr(0, r.id.find('.')) == r.domain);
    BOOST_TEST(!r.summary.empty());
  }
}

BOOST_AUTO_TEST_CASE(health_is_the_only_open_route) {
  for (const auto& r : route_table())
    BOOST_TEST((r.auth == auth_kind::open) == (r.path == "/admin/health"), r.path);
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_and_wrong_method_is_405_with_allow) {
  auto g = gate(sample_table, config(), verb::get, "/nope", "", "");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(g.reply->status == 404u);
  BOOST_TEST(g.route_index == std::size(sample_table));
  g = gate(sample_table, config(), verb::del, "/thing", "", "Bearer s3cret");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(g.reply->status == 405u);
  BOOST_REQUIRE(g.reply->headers.size() == 1u);
  BOOST_TEST(g.reply->headers[0].first == "Allow");
  BOOST_TEST(g.reply->headers[0].second == "POST, GET");
}

BOOST_AUTO_TEST_CASE(token_is_required_and_compared_exactly) {
  auto g = gate(sample_table, config(), verb::get, "/thing", "", "");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(g.reply->status == 401u);
  for (auto bad : {"Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "Bearer "}) {
    g = gate(sample_table, config(), verb::get, "/thing", "", bad);
    BOOST_REQUIRE(g.reply);
    BOOST_TEST(g.reply->status == 401u, bad);
  }
  g = gate(sample_table, config(), verb::get, "/thing", "", "bearer s3cret");
  BOOST_TEST(!g.reply);
  BOOST_TEST(g.found->id == "t.read");
  g = gate(sample_table, config(), verb::get, "/open", "", "");
  BOOST_TEST(!g.reply);
}

BOOST_AUTO_TEST_CASE(metrics_route_is_open_only_when_configured) {
  auto g = gate(sample_table, config(), verb::get, "/m", "", "");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(g.reply->status == 401u);
  auto open = config();
  open.metrics_open = true;
  BOOST_TEST(!gate(sample_table, open, verb::get, "/m", "", "").reply);
}

BOOST_AUTO_TEST_CASE(protocol_routes_are_forbidden_unless_enabled) {
  auto g = gate(sample_table, config(), verb::post, "/proto", "", "Bearer s3cret");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(g.reply->status == 403u);
  BOOST_TEST(g.reply->body.find("\"code\":\"forbidden\"") != std::string::npos);
  auto enabled = config();
  enabled.protocol_routes_enabled = true;
  BOOST_TEST(!gate(sample_table, enabled, verb::post, "/proto", "", "Bearer s3cret").reply);
  // Auth comes first: a stranger learns nothing about protocol routes.
  g = gate(sample_table, config(), verb::post, "/proto", "", "");
  BOOST_TEST(g.reply->status == 401u);
}

BOOST_AUTO_TEST_CASE(query_parameters_are_checked) {
  auto g = gate(sample_table, config(), verb::get, "/open", "limit=0", "");
  BOOST_REQUIRE(g.reply);
  BOOST_TEST(field_of(*g.reply) == "limit");
  g = gate(sample_table, config(), verb::get, "/open", "limit=abc", "");
  BOOST_TEST(field_of(*g.reply) == "limit");
  g = gate(sample_table, config(), verb::get, "/open", "bogus=1", "");
  BOOST_TEST(field_of(*g.reply) == "bogus");
  g = gate(sample_table, config(), verb::get, "/open", "stale=maybe", "");
  BOOST_TEST(field_of(*g.reply) == "stale");
  BOOST_TEST(!gate(sample_table, config(), verb::get, "/open", "limit=20&stale=1", "").reply);
  BOOST_TEST(query_param("a=1&b=x%20y+z", "b").value() == "x y z");
  BOOST_TEST(!query_param("a=1", "b").has_value());
}

BOOST_AUTO_TEST_CASE(body_schema_names_the_bad_field) {
  simdjson::dom::parser p;
  struct bad_case {
    std::string body;
    std::string field;
  };
  const bad_case cases[] = {
      {R"({})", "level"},
      {R"({"level": 3})", "level"},
      {R"({"level": "x", "count": 0})", "count"},
      {R"({"level": "x", "count": 2.5})", "count"},
      {R"({"level": "x", "ratio": "1"})", "ratio"},
      {R"({"level": "x", "flag": 1})", "flag"},
      {R"({"level": "x", "typo": 1})", "typo"},
      {R"({"level": "x", "items": [{"priority": 5}, {"priority": 101}]})", "items.1.priority"},
      {R"({"level": "x", "items": [{"name": "a"}]})", "items.0.priority"},
      {R"({"level": "x", "items": [7]})", "items.0"},
      {R"([1, 2])", "body"},
  };
  for (const auto& c : cases) {
    auto err = validate_object(parse(p, c.body), sample_fields);
    BOOST_REQUIRE_MESSAGE(err.has_value(), c.body);
    BOOST_TEST(err->field == c.field, c.body);
  }
  BOOST_TEST(!validate_object(parse(p, R"({"level":"x","count":10,"ratio":0.5,"flag":false,
      "items":[{"priority":0,"name":"n"}]})"), sample_fields));
}

BOOST_AUTO_TEST_CASE(check_body_handles_missing_empty_and_malformed_bodies) {
  simdjson::dom::parser p;
  simdjson::dom::element body;
  bool has = false;
  const route& write = sample_table[1];
  const route& read = sample_table[2];
  request req;
  req.body = "";
  auto r = check_body(write, req, p, body, has);
  BOOST_REQUIRE(r);
  BOOST_TEST(field_of(*r) == "body");
  req.body = "{\"level\":";
  r = check_body(write, req, p, body, has);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400u);
  req.body = "{\"level\":\"x\"}";
  BOOST_TEST(!check_body(write, req, p, body, has));
  BOOST_TEST(has);
  req.body = "{}";
  BOOST_TEST(check_body(read, req, p, body, has).has_value());  // bodies where none belongs
  req.body = "  ";
  BOOST_TEST(!check_body(read, req, p, body, has));
  BOOST_TEST(!has);
}

BOOST_AUTO_TEST_CASE(envelope_has_the_documented_shape) {
  auto r = error_response(api_errc::unavailable, "no leader", R"({"retry_after_ms":250})");
  BOOST_TEST(r.status == 503u);
  simdjson::dom::parser p;
  auto doc = p.parse(r.body).value();
  BOOST_TEST(std::string_view(doc["error"].get_string().value()) == "no leader");
  BOOST_TEST(std::string_view(doc["code"].get_string().value()) == "unavailable");
  BOOST_TEST(doc["status"].get_int64().value() == 503);
  BOOST_TEST(doc["details"]["retry_after_ms"].get_int64().value() == 250);
  for (unsigned c = 1; c <= static_cast<unsigned>(api_errc::timeout); ++c) {
    auto code = *api_errc_from_int(c);
    BOOST_TEST(http_status(code) >= 400u);
    BOOST_TEST(error_response(code, "m").status == http_status(code));
  }
  BOOST_TEST(!api_errc_from_int(0).has_value());
}

BOOST_AUTO_TEST_CASE(constant_time_compare_is_exact) {
  BOOST_TEST(constant_time_equal("abc", "abc"));
  BOOST_TEST(!constant_time_equal("abc", "abd"));
  BOOST_TEST(!constant_time_equal("abc", "abcd"));
  BOOST_TEST(!constant_time_equal("", ""));  // an empty token never authorizes
}

BOOST_AUTO_TEST_CASE(openapi_lists_every_route_with_its_schema) {
  auto doc_text = openapi_document(route_table(), "9.9.9");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!p.parse(doc_text).get(doc));
  BOOST_TEST(std::string_view(doc["openapi"].get_string().value()) == "3.0.3");
  for (const auto& r : route_table()) {
    std::string method(verb_name(r.method));
    for (auto& c : method) c = static_cast<char>(c | 0x20);
    simdjson::dom::element op;
    BOOST_REQUIRE_MESSAGE(!doc["paths"][r.path][method].get(op), r.id);
    BOOST_TEST(std::string_view(op["operationId"].get_string().value()) == r.id);
    simdjson::dom::element body;
    BOOST_TEST((op["requestBody"].get(body) == simdjson::SUCCESS) == (r.body != body_kind::none));
  }
  auto level_enum = doc["paths"]["/admin/log-level"]["post"]["requestBody"]["content"]
                       ["application/json"]["schema"]["properties"]["level"]["enum"];
  BOOST_TEST(level_enum.get_array().size() == 5u);
}

BOOST_AUTO_TEST_CASE(metrics_count_by_route_and_status) {
  http_metrics m(sample_table);
  m.record(1, 201, 0.002);
  m.record(1, 201, 0.2);
  m.record(1, 400, 0.0001);
  m.record(std::size(sample_table), 404, 0.0001);
  m.record(0, 299, 0.0001);
  std::string text;
  m.render(text);
  BOOST_TEST(text.find("p2p_http_requests_total{route=\"t.write\",code=\"201\"} 2") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_requests_total{route=\"t.write\",code=\"400\"} 1") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_requests_total{route=\"unmatched\",code=\"404\"} 1") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_requests_total{route=\"t.open\",code=\"other\"} 1") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_request_duration_seconds_bucket{route=\"t.write\",le=\"0.0025\"} 2") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_request_duration_seconds_bucket{route=\"t.write\",le=\"+Inf\"} 3") != std::string::npos);
  BOOST_TEST(text.find("p2p_http_request_duration_seconds_count{route=\"t.write\"} 3") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
