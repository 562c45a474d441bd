// Agent specs, move features, model files and game records.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <set>

#include "bench/workload/agents.hpp"
#include "bench/workload/games.hpp"
#include "bench/workload/model.hpp"
#include "bench/workload/training.hpp"
#include "protocol/common/files.hpp"
#include "tests/workload/support.hpp"

using namespace p2p::workload;
using p2p::workload::testing::concat;
using p2p::workload::testing::temp_dir;

namespace {

bool refused(const std::string& spec, const std::string& fragment) {
  try {
    parse_agent_spec(spec);
  } catch (const spec_error& e) {
    const std::string message = e.what();
    BOOST_TEST_MESSAGE(message);
    return message.find(fragment) != std::string::npos && message.find("'" + spec + "'") != std::string::npos;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(agents)

BOOST_AUTO_TEST_CASE(good_specs_parse) {
  BOOST_TEST((parse_agent_spec("random").kind == agent_kind::random));
  auto m = parse_agent_spec("mcts:400");
  BOOST_TEST((m.kind == agent_kind::mcts));
  BOOST_TEST(m.playouts == 400);
  auto h = parse_agent_spec("heuristic:3,3,0,1.5,-1,0,0.3");
  BOOST_TEST((h.kind == agent_kind::heuristic));
  BOOST_TEST(h.playouts == 0);
  BOOST_TEST(h.weights[3] == 1.5);
  BOOST_TEST(h.weights[4] == -1.0);
  auto hp = parse_agent_spec("heuristic:1e-1,2,3,4,5,6,7:50");
  BOOST_TEST(hp.playouts == 50);
  BOOST_TEST(hp.weights[0] == 0.1);
  auto model = parse_agent_spec("model:/tmp/m.txt:64");
  BOOST_TEST((model.kind == agent_kind::model));
  BOOST_TEST(model.model_path == "/tmp/m.txt");
  BOOST_TEST(model.playouts == 64);
  auto greedy_model = parse_agent_spec("model:dir:with:colons/m.txt");
  BOOST_TEST(greedy_model.model_path == "dir:with:colons/m.txt");
  BOOST_TEST(greedy_model.playouts == 0);
}

BOOST_AUTO_TEST_CASE(bad_specs_say_what_is_wrong_and_what_is_expected) {
  BOOST_TEST(refused("", "expected random, mcts:PLAYOUTS"));
  BOOST_TEST(refused("alphazero", "unknown agent kind 'alphazero'"));
  BOOST_TEST(refused("alphazero", "expected random, mcts:PLAYOUTS, heuristic:"));
  BOOST_TEST(refused("random:3", "random takes no parameters"));
  BOOST_TEST(refused("mcts", "mcts needs a playout count (expected mcts:PLAYOUTS"));
  BOOST_TEST(refused("mcts:", "mcts needs a playout count"));
  BOOST_TEST(refused("mcts:abc", "playouts 'abc' is not a whole number from 1 to 200000"));
  BOOST_TEST(refused("mcts:200001", "playouts '200001' is above the limit of 200000 per move"));
  BOOST_TEST(refused("heuristic:1,2,3,4,5,6,7:300000", "above the limit of 200000"));
  BOOST_TEST(refused("model:m.txt:1000000", "above the limit of 200000"));
  BOOST_TEST(refused("mcts:0", "playouts '0' is not a whole number from 1"));
  BOOST_TEST(refused("mcts:-5", "playouts '-5'"));
  BOOST_TEST(refused("mcts:99999999999", "playouts '99999999999' is above the limit"));
  BOOST_TEST(refused("heuristic", "heuristic needs weights (expected heuristic:W1,...,W7"));
  BOOST_TEST(refused("heuristic:1,2,3", "heuristic needs 7 weights, got 3"));
  BOOST_TEST(refused("heuristic:1,2,3", "own_path, block_path, bridge"));
  BOOST_TEST(refused("heuristic:1,2,x,4,5,6,7", "weight 3 (bridge) 'x' is not a finite number"));
  BOOST_TEST(refused("heuristic:1,2,,4,5,6,7", "weight 3 (bridge) ''"));
  BOOST_TEST(refused("heuristic:1,2,3,4,5,6,7:lots", "playouts 'lots'"));
  BOOST_TEST(refused("model", "model needs a file (expected model:PATH[:PLAYOUTS]"));
  BOOST_TEST(refused("model::12", "the model path is empty"));
}

BOOST_AUTO_TEST_CASE(equal_agents_get_equal_names) {
  const auto config = parse_config_key("hex5_2p");
  auto name_of = [&](const std::string& spec) { return make_agent(parse_agent_spec(spec), config)->name(); };
  BOOST_TEST(name_of("heuristic:3,3,0,1.5,-1,0,0.3:200") == "heuristic:3,3,0,1.5,-1,0,0.3:200");
  BOOST_TEST(name_of("heuristic:3.0,3,0e0,1.50,-1,-0,.3:200") == "heuristic:3,3,0,1.5,-1,0,0.3:200");
  BOOST_TEST(name_of("heuristic:30e-1,3,0,15e-1,-1.000,0,0.30:0200") == "heuristic:3,3,0,1.5,-1,0,0.3:200");
  BOOST_TEST(name_of("heuristic:1,2,3,4,5,6,7:0") == "heuristic:1,2,3,4,5,6,7");
  BOOST_TEST(name_of("heuristic:1,2,3,4,5,6,7") == "heuristic:1,2,3,4,5,6,7");
  BOOST_TEST(name_of("mcts:0400") == "mcts:400");
  BOOST_TEST(heuristic_name({0.1, 2, 3, 4, 5, 6, 7}, 50) == "heuristic:0.1,2,3,4,5,6,7:50");
}

BOOST_AUTO_TEST_CASE(equal_priors_are_tried_in_a_seeded_random_order) {
  // With zero weights every prior is equal; with one playout the search plays the first move
  // it tries. That must be a random one drawn from the seed, not the lowest cell.
  auto zero = make_scorer_agent(move_scorer{}, 1, "zero:1");
  const board empty(5);
  std::set<int> first_moves;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    rng one(seed), again(seed);
    const int move = zero->choose_move(empty, one);
    BOOST_TEST(move == zero->choose_move(empty, again));
    first_moves.insert(move);
  }
  BOOST_TEST(first_moves.size() >= 8u);
}

BOOST_AUTO_TEST_CASE(agents_only_play_legal_moves) {
  const auto config = parse_config_key("hex5_2p");
  move_scorer scorer;
  scorer.weights = {3, 3, 0, 1.5, -1, 0, 0.3};
  std::vector<std::unique_ptr<agent>> all;
  all.push_back(make_random_agent());
  all.push_back(make_mcts_agent(30));
  all.push_back(make_scorer_agent(scorer, 0, "greedy"));
  all.push_back(make_scorer_agent(scorer, 30, "guided"));
  for (auto& a : all) {
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
      // play_game checks every move; a game ends, with its winner's connection.
      auto record = play_game(config, *a, *a, 2, seed, seed + 100);
      const auto replayed = record_from_json(record_to_json(record), "replay");
      BOOST_TEST((replayed.winner == record.winner));
      BOOST_TEST(replayed.moves == record.moves);
    }
  }
}

BOOST_AUTO_TEST_CASE(features_see_shortest_connections) {
  // Black in column 2 of a 5x5 board except row 2: Black's cheapest connection is through (2, 2)
  // alone; White (to move) blocks it there.
  board b(5);
  for (int r : {0, 1, 3}) {
    b.play(r * 5 + 2);
    b.play(r * 5 + 0);
  }
  b.play(4 * 5 + 2);
  BOOST_REQUIRE((b.to_move() == player::white));
  position_analysis analysis;
  analysis.analyse(b);
  const auto block = analysis.features(2 * 5 + 2);
  BOOST_TEST(block[1] == 0.0f);  // block_path: on Black's only shortest connection
  const auto elsewhere = analysis.features(2 * 5 + 4);
  BOOST_TEST(elsewhere[1] < 0.0f);
  BOOST_TEST(block[6] == 1.0f);  // the centre cell
  // For Black to move, (2, 2) completes the connection and joins its two groups.
  board c(5);
  for (int r : {0, 1, 3, 4}) {
    c.play(r * 5 + 2);
    c.play(r * 5 + 0);
  }
  analysis.analyse(c);
  const auto join = analysis.features(2 * 5 + 2);
  BOOST_TEST(join[0] == 0.0f);
  BOOST_TEST(join[3] > 0.0f);
  BOOST_TEST(join[4] == 2.0f / 6.0f);
}

BOOST_AUTO_TEST_CASE(model_files_round_trip_and_refuse_other_versions_and_keys) {
  temp_dir dir;
  const auto config = parse_config_key("hex5_2p");
  model m;
  m.config = config;
  m.scorer.weights = {1, 2, 3, 4, 5, 6, 0.125};
  m.scorer.cell_weights.assign(25, 0.5);
  m.scorer.cell_weights[3] = -1.25;
  m.training.games = 9;
  m.training.val_loss = 2.5;
  const auto text = serialize_model(m);
  BOOST_TEST(text.rfind("p2p-workload-model 1\n", 0) == 0u);
  const auto back = parse_model(text, config, "m");
  BOOST_TEST(back.scorer.weights == m.scorer.weights);
  BOOST_TEST(back.scorer.cell_weights == m.scorer.cell_weights);
  BOOST_TEST(back.training.games == 9u);
  BOOST_TEST(back.training.val_loss == 2.5);
  BOOST_TEST(model_id_of(text, config.key).size() == config.key.size() + 17);
  BOOST_TEST(model_id_of(text, config.key) != model_id_of(text + " ", config.key));

  auto refused_with = [&](const std::string& content, const game_config& expected, const std::string& why) {
    try {
      parse_model(content, expected, "file.txt");
    } catch (const model_error& e) {
      BOOST_TEST_MESSAGE(e.what());
      return std::string(e.what()).find(why) != std::string::npos;
    }
    return false;
  };
  auto other_version = text;
  other_version.replace(0, std::string("p2p-workload-model 1").size(), "p2p-workload-model 2");
  BOOST_TEST(refused_with(other_version, config, "format version 2 is not supported (this build reads version 1)"));
  BOOST_TEST(refused_with(text, parse_config_key("hex8_2p"), "it is for hex5_2p, not hex8_2p"));
  BOOST_TEST(refused_with("hello\n{}", config, "not a p2p-workload model"));
  BOOST_TEST(refused_with("p2p-workload-model 1\n[1,2]", config, "not a JSON object"));
  BOOST_TEST(refused_with("p2p-workload-model 1", config, "weights line is missing"));

  // A model spec loads the file; a file for another config key is refused there too.
  const auto path = dir / "m.txt";
  p2p::files::write_atomic(path, text);
  auto good = make_agent(parse_agent_spec(concat({"model:", path.string(), ":10"})), config);
  BOOST_TEST(good->name() == concat({"model:", model_id_of(text, config.key), ":10"}));
  BOOST_CHECK_THROW(make_agent(parse_agent_spec(concat({"model:", path.string()})), parse_config_key("hex8_2p")),
                    model_error);
  BOOST_CHECK_THROW(make_agent(parse_agent_spec(concat({"model:", (dir / "missing.txt").string()})), config),
                    model_error);
}

BOOST_AUTO_TEST_CASE(records_are_checked_when_read) {
  const auto config = parse_config_key("hex4_2p");
  auto a = make_mcts_agent(10);
  auto record = play_game(config, *a, *a, 1, 1, 2);
  const auto line = record_to_json(record);
  BOOST_TEST(line.find("\"config_key\":\"hex4_2p\"") != std::string::npos);
  BOOST_TEST(line.find("\"winner\":\"") != std::string::npos);
  auto refused_with = [](const std::string& text, const std::string& why) {
    try {
      record_from_json(text, "games.jsonl:3");
    } catch (const record_error& e) {
      BOOST_TEST_MESSAGE(e.what());
      const std::string message = e.what();
      return message.find(why) != std::string::npos && message.find("games.jsonl:3") != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(refused_with("not json", "not a JSON object"));
  auto replace = [&](const std::string& from, const std::string& to) {
    auto changed = line;
    changed.replace(changed.find(from), from.size(), to);
    return changed;
  };
  BOOST_TEST(refused_with(replace("\"moves\":[", "\"moves\":[99,"), "move 1 is illegal: off the board"));
  const auto first = std::to_string(record.moves[0]);
  BOOST_TEST(refused_with(replace("\"moves\":[" + first, "\"moves\":[" + first + "," + first),
                          "move 2 is illegal: occupied"));
  const std::string other = record.winner == player::black ? "white" : "black";
  BOOST_TEST(refused_with(replace(std::string("\"winner\":\"") + std::string(player_name(record.winner)),
                                  "\"winner\":\"" + other),
                          "winner is missing or not the player"));
  BOOST_TEST(refused_with(replace("hex4_2p", "hex3_2p"), "move"));
}

BOOST_AUTO_TEST_SUITE_END()
