// The same seed gives byte-identical outputs; another seed gives other games.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include "bench/workload/agents.hpp"
#include "bench/workload/games.hpp"
#include "bench/workload/training.hpp"
#include "tests/workload/support.hpp"

using namespace p2p::workload;
using namespace p2p::workload::testing;

namespace {

std::string selfplay_text(std::uint64_t seed) {
  const auto config = parse_config_key("hex6_2p");
  auto a = make_mcts_agent(60);
  std::string text;
  for (const auto& r : run_selfplay(config, *a, 6, seed, 2)) text.append(record_to_json(r)).append("\n");
  return text;
}

// A match result with each played_at (wall-clock time, the one thing a seed cannot fix) blanked.
std::string without_times(std::string text) {
  const std::string key = "\"played_at\":\"";
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const auto start = at + key.size();
    text.erase(start, text.find('"', start) - start);
  }
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(determinism)

BOOST_AUTO_TEST_CASE(library_selfplay_and_training_repeat_exactly) {
  const auto first = selfplay_text(5);
  BOOST_TEST(first == selfplay_text(5));
  BOOST_TEST(first != selfplay_text(6));

  const auto config = parse_config_key("hex6_2p");
  auto a = make_mcts_agent(60);
  const auto games = run_selfplay(config, *a, 12, 9, 2);
  training_options options;
  options.seed = 4;
  const auto one = serialize_model(train_model(config, games, options));
  BOOST_TEST(one == serialize_model(train_model(config, games, options)));
  options.seed = 5;
  BOOST_TEST(one != serialize_model(train_model(config, games, options)));
}

BOOST_AUTO_TEST_CASE(commands_repeat_byte_for_byte) {
  temp_dir dir;
  auto run = [&](std::vector<std::string> args) {
    auto r = run_workload(args, dir);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "p2p-workload " << args[0] << " failed: " << r.err);
    return r.last_line();
  };
  for (const char* out : {"a", "b"}) {
    run({"selfplay", "--config-key", "hex6_2p", "--agent", "mcts:50", "--games", "8", "--seed", "42",
         "--out", (dir / out).string()});
  }
  const auto games_a = read_text(dir / "a" / "selfplay-hex6_2p-42.jsonl");
  BOOST_TEST(lines_of(games_a).size() == 8u);
  BOOST_TEST(games_a == read_text(dir / "b" / "selfplay-hex6_2p-42.jsonl"));

  const auto train_a = run({"train", "--config-key", "hex6_2p", "--data", (dir / "a").string(), "--seed", "3",
                            "--out", (dir / "a.model").string()});
  const auto train_b = run({"train", "--config-key", "hex6_2p", "--data", (dir / "b").string(), "--seed", "3",
                            "--out", (dir / "b.model").string()});
  BOOST_TEST(read_text(dir / "a.model") == read_text(dir / "b.model"));
  simdjson::dom::parser parser;
  std::string_view id_a, id_b;
  BOOST_REQUIRE(!parser.parse(train_a)["model_id"].get(id_a));
  const std::string kept(id_a);
  BOOST_REQUIRE(!parser.parse(train_b)["model_id"].get(id_b));
  BOOST_TEST(kept == std::string(id_b));

  std::vector<std::string> match{"match", "--config-key", "hex6_2p", "--a", "mcts:40",
                                 "--b", concat({"model:", (dir / "a.model").string(), ":40"}),
                                 "--games", "6", "--seed", "77"};
  const auto match_a = run(match), match_b = run(match);
  BOOST_TEST(without_times(match_a) == without_times(match_b));
  BOOST_TEST(match_a.find("\"game_id\":\"hex6_2p-") != std::string::npos);
  BOOST_TEST(match_a.find("-5\",\"config_key\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
