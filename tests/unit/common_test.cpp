#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "protocol/common/files.hpp"
#include "bench/harness/node_process.hpp"
#include "protocol/common/identity.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

using namespace p2p;
namespace harness = p2p::harness;

BOOST_AUTO_TEST_SUITE(common)

BOOST_AUTO_TEST_CASE(json_writer_produces_valid_escaped_json) {
  json::writer w;
  w.begin_object()
      .field("s", std::string_view("quote\" back\\ nl\n ctl\x01"))
      .field("i", std::int64_t{-5})
      .field("u", std::uint64_t{18446744073709551615ull})
      .field("d", 0.1)
      .field("b", true)
      .key("nan")
      .value(std::nan(""))
      .key("arr")
      .begin_array()
      .value(1)
      .begin_object()
      .end_object()
      .end_array()
      .end_object();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_REQUIRE(!parser.parse(w.str()).get(doc));
  std::string_view s;
  BOOST_REQUIRE(!doc["s"].get(s));
  BOOST_TEST(s == "quote\" back\\ nl\n ctl\x01");
  BOOST_TEST(doc["u"].get_uint64().value() == 18446744073709551615ull);
  BOOST_TEST(doc["d"].get_double().value() == 0.1);
  BOOST_TEST(doc["nan"].is_null());
  BOOST_TEST(doc["arr"].get_array().size() == 2u);
}

BOOST_AUTO_TEST_CASE(rfc3339_round_trip_with_milliseconds) {
  auto t = wall_clock::time_point(std::chrono::milliseconds(1796041200123));
  auto text = format_rfc3339(t);
  BOOST_TEST(text == "2026-11-30T12:20:00.123Z");
  auto back = parse_rfc3339(text);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(*back - t).count() == 0);
  auto offset = parse_rfc3339("2026-11-30T14:20:00.123+02:00");
  BOOST_REQUIRE(offset.has_value());
  BOOST_TEST(format_rfc3339(*offset) == text);
  BOOST_TEST(!parse_rfc3339("2026-11-30 12:20:00Z").has_value());
  BOOST_TEST(!parse_rfc3339("2026-13-30T12:20:00Z").has_value());
  BOOST_TEST(!parse_rfc3339("2026-11-30T12:20:00").has_value());
}

BOOST_AUTO_TEST_CASE(identity_persists_uuid_and_counts_boots) {
  harness::temp_dir dir;
  auto first = load_identity(dir.path());
  BOOST_TEST(std::regex_match(first.node_uuid,
                              std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  BOOST_TEST(first.boot_epoch == 1u);
  auto second = load_identity(dir.path());
  BOOST_TEST(second.node_uuid == first.node_uuid);
  BOOST_TEST(second.boot_epoch == 2u);
}

BOOST_AUTO_TEST_CASE(corrupt_identity_is_refused_not_replaced) {
  harness::temp_dir dir;
  std::ofstream(dir.path() / "identity.json") << "{\"node_uuid\": 12";
  BOOST_CHECK_THROW(load_identity(dir.path()), std::runtime_error);
  BOOST_TEST(files::read_all(dir.path() / "identity.json").value() == "{\"node_uuid\": 12");
}

BOOST_AUTO_TEST_CASE(generated_token_is_private_and_stable) {
  harness::temp_dir dir;
  auto token = load_or_create_token(dir.path());
  BOOST_TEST(token.size() == 64u);
  struct stat st {};
  BOOST_REQUIRE(::stat((dir.path() / "auth-token").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(load_or_create_token(dir.path()) == token);
  std::ofstream(dir.path() / "empty") << "  \n";
  BOOST_CHECK_THROW(read_token_file(dir.path() / "empty"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(atomic_write_replaces_whole_file) {
  harness::temp_dir dir;
  files::write_atomic(dir.path() / "f", "one");
  files::write_atomic(dir.path() / "f", "two", 0600);
  BOOST_TEST(files::read_all(dir.path() / "f").value() == "two");
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  BOOST_TEST(entries == 1u);  // no temporary left behind
}

BOOST_AUTO_TEST_SUITE_END()
