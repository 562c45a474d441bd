// The p2p-workload binary end to end: selfplay -> train -> match, item mode as the runner starts
// it, result file or last stdout line, progress lines, and bad usage.
#include <boost/test/unit_test.hpp>
#include <simdjson.h>

#include <set>

#include "protocol/common/files.hpp"
#include "protocol/common/time.hpp"
#include "tests/workload/support.hpp"

using namespace p2p::workload::testing;

namespace {

// Parses a result and keeps the document alive for its elements.
struct result_doc {
  explicit result_doc(const std::string& text) : json(text) {
    auto error = parser.parse(json).get(root);
    BOOST_REQUIRE_MESSAGE(!error, "not a JSON object: " << text);
  }
  std::string json;
  simdjson::dom::parser parser;
  simdjson::dom::object root;

  std::uint64_t whole(const char* key) {
    std::uint64_t v = 0;
    BOOST_TEST_REQUIRE(!root[key].get(v), key << " missing in " << json);
    return v;
  }
  double real(const char* key) {
    double v = 0;
    BOOST_TEST_REQUIRE(!root[key].get(v), key << " missing in " << json);
    return v;
  }
  std::string text(const char* key) {
    std::string_view v;
    BOOST_TEST_REQUIRE(!root[key].get(v), key << " missing in " << json);
    return std::string(v);
  }
};

void check_progress_lines(const std::string& out) {
  int progress = 0;
  double last = -1;
  for (const auto& line : lines_of(out)) {
    if (line.rfind("PROGRESS ", 0) != 0) continue;
    ++progress;
    const double fraction = std::stod(line.substr(9));
    BOOST_TEST((fraction >= 0 && fraction <= 1), line);
    BOOST_TEST(fraction >= last, line);
    BOOST_TEST(line.find(' ', 9) != std::string::npos, "no message in " << line);
    last = fraction;
  }
  BOOST_TEST(progress >= 2);
  BOOST_TEST(last == 1.0);
}

// A record of `games` holds exactly the fields POST /elo/matches accepts, all of them.
void check_elo_fields(simdjson::dom::element game) {
  static const std::set<std::string> allowed = {"game_id", "config_key", "a", "b", "score", "pair_id", "played_at"};
  simdjson::dom::object object;
  BOOST_REQUIRE(!game.get(object));
  std::set<std::string> keys;
  for (auto field : object) {
    const std::string key(field.key);
    BOOST_TEST(allowed.count(key) == 1u, "a game record holds the field " << key);
    keys.insert(key);
  }
  BOOST_TEST(keys == allowed);
}

process_result expect_exit(const std::vector<std::string>& args, const temp_dir& dir, int code,
                           const std::string& message, const std::map<std::string, std::string>& env = {}) {
  auto r = run_workload(args, dir, env);
  BOOST_TEST(r.exit_code == code, "exit " << r.exit_code << " for " << args[0] << ": " << r.err);
  BOOST_TEST(r.err.find(message) != std::string::npos, "stderr: " << r.err << "\nexpected: " << message);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(selfplay_train_match_end_to_end) {
  temp_dir dir;
  const auto result_file = (dir / "result.json").string();
  const std::map<std::string, std::string> env{{"P2P_RESULT_FILE", result_file}};

  auto selfplay = run_workload({"selfplay", "--agent", "mcts:100", "--games", "20", "--seed", "7",
                                "--out", (dir / "games").string()}, dir, env);
  BOOST_REQUIRE_MESSAGE(selfplay.exit_code == 0, selfplay.err);
  check_progress_lines(selfplay.out);
  BOOST_TEST(selfplay.out.find("games_generated") == std::string::npos);  // it went to the file
  {
    result_doc r(read_text(result_file));
    BOOST_TEST(r.whole("games_generated") == 20u);
    BOOST_TEST(r.whole("positions") > 20u * 10u);
    BOOST_TEST(r.text("out") == (dir / "games").string());
  }
  const auto records = lines_of(read_text(dir / "games" / "selfplay-hex8_2p-7.jsonl"));
  BOOST_REQUIRE(records.size() == 20u);
  {
    result_doc first(records[0]);
    BOOST_TEST(first.text("config_key") == "hex8_2p");
    BOOST_TEST(first.whole("seed") == 7u);
    BOOST_TEST((first.text("winner") == "black" || first.text("winner") == "white"));
    simdjson::dom::object agents;
    BOOST_REQUIRE(!first.root["agents"].get(agents));
    std::string_view black;
    BOOST_TEST(!agents["black"].get(black));
    BOOST_TEST(black == "mcts:100");
  }

  auto train = run_workload({"train", "--data", (dir / "games").string(), "--seed", "2", "--out",
                             (dir / "models" / "m1.txt").string()}, dir, env);
  BOOST_REQUIRE_MESSAGE(train.exit_code == 0, train.err);
  check_progress_lines(train.out);
  const auto model_text = read_text(dir / "models" / "m1.txt");
  BOOST_TEST(model_text.rfind("p2p-workload-model 1\n", 0) == 0u);
  {
    result_doc r(read_text(result_file));
    BOOST_TEST(r.text("model_id").rfind("hex8_2p-", 0) == 0u);
    BOOST_TEST(r.text("model_path") == (dir / "models" / "m1.txt").string());
    BOOST_TEST(r.real("train_loss") > 0);
    BOOST_TEST(r.real("val_loss") > 0);
    BOOST_TEST(r.real("val_loss") < r.real("uniform_val_loss"));
    BOOST_TEST(r.whole("training_games") + r.whole("validation_games") == 20u);
    BOOST_TEST(r.whole("training_samples") > 0u);
  }

  const std::string model_spec = concat({"model:", (dir / "models" / "m1.txt").string(), ":30"});
  auto match = run_workload({"match", "--a", model_spec, "--b", "mcts:30", "--games", "6", "--seed", "9"}, dir, env);
  BOOST_REQUIRE_MESSAGE(match.exit_code == 0, match.err);
  check_progress_lines(match.out);
  result_doc r(read_text(result_file));
  BOOST_TEST(r.whole("games_played") == 6u);
  simdjson::dom::array games;
  BOOST_REQUIRE(!r.root["games"].get(games));
  std::size_t index = 0;
  double a_points = 0;
  std::string stem;
  for (auto g : games) {
    check_elo_fields(g);
    std::string_view game_id, pair_id, a, b, key, played_at;
    std::int64_t score = -1;
    BOOST_TEST(!g["game_id"].get(game_id));
    // "<config_key>-<16 hex digits of the match>-<index>"
    if (stem.empty()) stem = std::string(game_id.substr(0, game_id.rfind('-')));
    BOOST_TEST(stem.rfind("hex8_2p-", 0) == 0u);
    BOOST_TEST(stem.size() == std::string("hex8_2p-").size() + 16);
    BOOST_TEST(game_id == concat({stem, "-", std::to_string(index)}));
    BOOST_TEST(!g["pair_id"].get(pair_id));
    BOOST_TEST(pair_id == concat({stem, "-p", std::to_string(index / 2)}));
    BOOST_TEST(!g["a"].get(a));
    BOOST_TEST(a.rfind("model:hex8_2p-", 0) == 0u);  // the model's id, not its path
    BOOST_TEST(!g["b"].get(b));
    BOOST_TEST(b == "mcts:30");
    BOOST_TEST(!g["score"].get(score));
    BOOST_TEST((score == 0 || score == 1));
    a_points += static_cast<double>(score);
    BOOST_TEST(!g["config_key"].get(key));
    BOOST_TEST(key == "hex8_2p");
    BOOST_TEST(!g["played_at"].get(played_at));
    BOOST_TEST(played_at.size() == 24u);
    BOOST_TEST(played_at.back() == 'Z');
    BOOST_TEST(p2p::parse_rfc3339(played_at).has_value());
    ++index;
  }
  BOOST_TEST(index == 6u);
  BOOST_TEST(r.real("a_score") == a_points / 6);
  // Per-game details beside the records: colour and length.
  simdjson::dom::array details;
  BOOST_REQUIRE(!r.root["details"].get(details));
  index = 0;
  for (auto d : details) {
    std::string_view game_id, color;
    std::uint64_t plies = 0;
    BOOST_TEST(!d["game_id"].get(game_id));
    BOOST_TEST(game_id == concat({stem, "-", std::to_string(index)}));
    BOOST_TEST(!d["a_color"].get(color));
    BOOST_TEST(color == (index % 2 == 0 ? "black" : "white"));
    BOOST_TEST(!d["plies"].get(plies));
    BOOST_TEST(plies >= 15u);  // 2n - 1 stones at least on hex8
    ++index;
  }
  BOOST_TEST(index == 6u);
}

BOOST_AUTO_TEST_CASE(match_ids_differ_between_matches_with_the_same_seed) {
  temp_dir dir;
  auto ids_of = [&](std::vector<std::string> args) {
    auto r = run_workload(args, dir);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    result_doc doc(r.last_line());
    simdjson::dom::array games;
    BOOST_REQUIRE(!doc.root["games"].get(games));
    std::set<std::string> ids;  // game ids and pair ids
    for (auto g : games) {
      check_elo_fields(g);
      std::string_view id;
      BOOST_REQUIRE(!g["game_id"].get(id));
      BOOST_TEST(ids.emplace(id).second);
      BOOST_REQUIRE(!g["pair_id"].get(id));
      ids.emplace(id);
    }
    return ids;
  };
  const std::vector<std::string> base{"match", "--config-key", "hex5_2p", "--games", "4", "--seed", "3", "--a", "random"};
  auto with = [&](std::initializer_list<std::string> more) {
    auto args = base;
    args.insert(args.end(), more);
    return args;
  };
  const auto first = ids_of(with({"--b", "mcts:5"}));
  BOOST_TEST(first == ids_of(with({"--b", "mcts:5"})));  // the same match, the same ids
  BOOST_TEST(first.size() == 6u);  // 4 games, 2 pairs
  const std::vector<std::set<std::string>> others = {
      ids_of(with({"--b", "mcts:6"})),                       // another agent
      ids_of(with({"--b", "mcts:5", "--b-name", "other"})),  // another player id
      ids_of(with({"--b", "mcts:5", "--opening-moves", "1"})),
  };
  auto seen = first;
  for (const auto& ids : others) {
    for (const auto& id : ids) BOOST_TEST(seen.insert(id).second, id << " appears in two matches");
  }
}

BOOST_AUTO_TEST_CASE(result_goes_to_stdout_as_the_last_line_without_a_result_file) {
  temp_dir dir;
  auto r = run_workload({"match", "--a", "random", "--b", "mcts:5", "--games", "3", "--config-key", "hex5_2p"}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // An odd count is rounded up to whole pairs, and says so.
  BOOST_TEST(r.err.find("3 games rounded up to 4") != std::string::npos, r.err);
  result_doc result(r.last_line());
  BOOST_TEST(result.whole("games_played") == 4u);
  check_progress_lines(r.out);
}

BOOST_AUTO_TEST_CASE(item_mode_runs_the_work_file_with_flag_overrides) {
  temp_dir dir;
  auto run_item = [&](const std::string& name, const std::string& item_json,
                      const std::vector<std::string>& flags = {}) {
    const auto work_dir = dir / concat({"work-", name});
    std::filesystem::create_directories(work_dir);
    const auto work_file = dir / (name + ".json");
    p2p::files::write_atomic(work_file, item_json);
    std::vector<std::string> args{"item"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = run_workload(args, dir,
                          {{"P2P_WORK_FILE", work_file.string()},
                           {"P2P_WORK_DIR", work_dir.string()},
                           {"P2P_RESULT_FILE", (work_dir / "result.json").string()},
                           {"P2P_WORK_ID", name}});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, name << ": " << r.err);
    check_progress_lines(r.out);
    return read_text(work_dir / "result.json");
  };

  // selfplay: outputs under P2P_WORK_DIR/games; --games on the command line wins over config.
  const auto selfplay = run_item(
      "sp", R"({"work_id":"sp","work_type":"selfplay","config":{"config_key":"hex5_2p","agent":"mcts:30","games":8,"seed":4,"opening_moves":1,"priority":3}})",
      {"--games", "6"});
  {
    result_doc r(selfplay);
    BOOST_TEST(r.whole("games_generated") == 6u);
    BOOST_TEST(r.text("out") == (dir / "work-sp" / "games").string());
  }
  const auto games_dir = dir / "work-sp" / "games";
  BOOST_TEST(std::filesystem::exists(games_dir / "selfplay-hex5_2p-4.jsonl"));

  // training: data as a list of directories; the model lands in P2P_WORK_DIR/model.txt.
  const auto training = run_item(
      "tr", R"({"work_id":"tr","work_type":"training","config":{"config_key":"hex5_2p","data":[")" +
                games_dir.string() + R"("],"epochs":3}})");
  {
    result_doc r(training);
    BOOST_TEST(r.text("model_path") == (dir / "work-tr" / "model.txt").string());
    BOOST_TEST(r.whole("training_games") == 5u);
  }

  // match: the seed comes from the work id when the config has none.
  const auto match = run_item(
      "ma", R"({"work_id":"ma","work_type":"match","config_key":"hex5_2p","config":{"a":"model:)" +
                (dir / "work-tr" / "model.txt").string() + R"(:20","b":"mcts:20","games":2,"b_name":"baseline"}})");
  {
    result_doc r(match);
    BOOST_TEST(r.whole("games_played") == 2u);
    BOOST_TEST(r.text("b") == "baseline");
    BOOST_TEST(r.text("config_key") == "hex5_2p");
    BOOST_TEST(r.whole("seed") > 0u);
  }
}

// The work file as the work queue writes it: the whole item, with a top-level config_key that
// is "" when none was given (the default key then), and scheduler fields the workload ignores.
std::string queue_item(const std::string& work_id, const std::string& config) {
  return concat({R"({"work_id":")", work_id, R"(","work_type":"match","priority":0,"config":)", config,
                 R"(,"config_key":"","depends_on":[],"status":"running","attempts":1,"max_attempts":3,)",
                 R"("lease_s":30,"timeout_s":600,"claimed_by":"node-1","claim_token":"t-1",)",
                 R"("created_at_ms":1,"claimed_at_ms":2,"started_at_ms":3,"finished_at_ms":null,)",
                 R"("updated_at_ms":3,"progress":{"fraction":0,"message":""},"result":null,"error":null,)",
                 R"("campaign_id":null})"});
}

BOOST_AUTO_TEST_CASE(item_mode_takes_the_queue_item_json_and_an_empty_config_key) {
  temp_dir dir;
  auto run = [&](const std::string& work_id, const std::string& config) {
    const auto file = dir / concat({work_id, ".json"});
    p2p::files::write_atomic(file, queue_item(work_id, config));
    auto r = run_workload({"item"}, dir, {{"P2P_WORK_FILE", file.string()}, {"P2P_WORK_DIR", dir.path().string()}});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, work_id << ": " << r.err);
    return r.last_line();
  };
  const std::string config = R"({"a":"random","b":"mcts:5","games":2,"seed":5})";
  const auto first = run("q-1", config);
  std::vector<std::string> first_ids;
  {
    result_doc r(first);
    BOOST_TEST(r.text("config_key") == "hex8_2p");
    BOOST_TEST(r.whole("games_played") == 2u);
    simdjson::dom::array games;
    BOOST_REQUIRE(!r.root["games"].get(games));
    for (auto g : games) {
      check_elo_fields(g);
      std::string_view id;
      BOOST_REQUIRE(!g["game_id"].get(id));
      BOOST_TEST(id.rfind("hex8_2p-", 0) == 0u);
      first_ids.emplace_back(id);
    }
  }
  BOOST_REQUIRE(first_ids.size() == 2u);
  // The same item again (a retried attempt): the same ids. Another item with the same seed:
  // the same games, but other ids.
  BOOST_TEST(run("q-1", config).find(concat({"\"game_id\":\"", first_ids[1], "\""})) != std::string::npos);
  const auto other = run("q-2", config);
  for (const auto& id : first_ids) BOOST_TEST(other.find(id) == std::string::npos, id);
  // An empty config_key inside config leaves the top-level one in force.
  const auto file = dir / "q-3.json";
  p2p::files::write_atomic(file, R"({"work_id":"q-3","work_type":"match","config_key":"hex5_2p",)"
                                 R"("config":{"config_key":"","a":"random","b":"mcts:5","games":2}})");
  auto r = run_workload({"item"}, dir, {{"P2P_WORK_FILE", file.string()}, {"P2P_WORK_DIR", dir.path().string()}});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(result_doc(r.last_line()).text("config_key") == "hex5_2p");
}

BOOST_AUTO_TEST_CASE(bad_usage_and_failures_exit_non_zero_with_a_message) {
  temp_dir dir;
  expect_exit({"fly"}, dir, 2, "unknown command 'fly'");
  expect_exit({"selfplay", "--agent", "mcts:10", "--out", (dir / "g").string(), "--gmaes", "3"}, dir, 2,
              "unknown flag --gmaes for selfplay");
  expect_exit({"selfplay", "--agent", "mcts:ten", "--out", (dir / "g").string()}, dir, 2,
              "--agent: agent spec 'mcts:ten': playouts 'ten' is not a whole number");
  expect_exit({"selfplay", "--agent", "minimax:3", "--out", (dir / "g").string()}, dir, 2,
              "unknown agent kind 'minimax'");
  expect_exit({"selfplay", "--agent", "mcts:10"}, dir, 2, "--out is required");
  expect_exit({"selfplay", "--agent", "mcts:10", "--out", (dir / "g").string(), "--games", "-1"}, dir, 2,
              "--games '-1' is not a whole number from 1");
  expect_exit({"selfplay", "--agent", "mcts:10", "--out", (dir / "g").string(), "--config-key", "go19"}, dir, 2,
              "config key 'go19'");
  expect_exit({"selfplay", "--agent", "mcts:10", "--out", (dir / "g").string(), "--opening-moves", "30"}, dir, 2,
              "--opening-moves: opening moves must be from 0 to 14");
  expect_exit({"selfplay", "--agent", "mcts:200001", "--out", (dir / "g").string()}, dir, 2,
              "playouts '200001' is above the limit of 200000 per move");
  expect_exit({"train", "--data", "d", "--out", "m", "--l2", "-1"}, dir, 2, "--l2 must not be negative");
  expect_exit({"match", "--a", "random", "--b", "heuristic:1,2"}, dir, 2, "heuristic needs 7 weights, got 2");
  expect_exit({"match", "--a", "random", "--b", "random"}, dir, 2, "give --a-name and --b-name");
  expect_exit({"match", "--a", "random"}, dir, 2, "--b is required");
  expect_exit({"match", "--a", "random", "--b", "mcts:5", "--games"}, dir, 2, "--games needs a value");

  // Failures of the work itself: exit 1.
  std::filesystem::create_directories(dir / "empty");
  expect_exit({"train", "--data", (dir / "empty").string(), "--out", (dir / "m.txt").string()}, dir, 1,
              "training needs at least 2 games of hex8_2p, found 0");
  expect_exit({"train", "--data", (dir / "nowhere").string(), "--out", (dir / "m.txt").string()}, dir, 1,
              "does not exist or is not a directory");
  p2p::files::write_atomic(dir / "old.txt", "p2p-workload-model 0\n{}\n");
  expect_exit({"match", "--a", concat({"model:", (dir / "old.txt").string()}), "--b", "random"}, dir, 1,
              "format version 0 is not supported (this build reads version 1)");
  expect_exit({"match", "--a", concat({"model:", (dir / "absent.txt").string()}), "--b", "random"}, dir, 1,
              "cannot be read");

  // Item mode: a bad command line is usage (exit 2); a work item that cannot run, malformed or
  // with a bad config value, fails the work (exit 1), its messages naming the config key.
  expect_exit({"item"}, dir, 2, "P2P_WORK_FILE is not set");
  auto item_env = [&](const std::string& name, const std::string& json) {
    p2p::files::write_atomic(dir / name, json);
    return std::map<std::string, std::string>{{"P2P_WORK_FILE", (dir / name).string()},
                                              {"P2P_WORK_DIR", dir.path().string()}};
  };
  const auto selfplay_env = item_env("item2.json", R"({"work_id":"x","work_type":"selfplay","config":{"agent":"mcts:5"}})");
  expect_exit({"item", "--a", "random"}, dir, 2, "--a does not apply to work type selfplay", selfplay_env);
  expect_exit({"item", "--games", "0"}, dir, 2, "--games '0' is not a whole number from 1", selfplay_env);
  expect_exit({"item"}, dir, 1, "work type 'tournament' is not one this workload runs",
              item_env("item.json", R"({"work_id":"x","work_type":"tournament","config":{}})"));
  expect_exit({"item"}, dir, 1, "is not a JSON object", item_env("bad.json", R"({"work_id":"x",)"));
  expect_exit({"item"}, dir, 1, "the work item's config is not a JSON object",
              item_env("bad2.json", R"({"work_id":"x","work_type":"selfplay","config":[1]})"));
  expect_exit({"item"}, dir, 1, "config.agent: agent spec 'mcts': mcts needs a playout count",
              item_env("item3.json", R"({"work_id":"x","work_type":"selfplay","config":{"agent":"mcts"}})"));
  expect_exit({"item"}, dir, 1, "config.games '0' is not a whole number from 1",
              item_env("item4.json", R"({"work_id":"x","work_type":"selfplay","config":{"agent":"mcts:5","games":0}})"));
  expect_exit({"item"}, dir, 1, "config.agent is required",
              item_env("item5.json", R"({"work_id":"x","work_type":"selfplay","config":{"games":2}})"));
  expect_exit({"item"}, dir, 1, "config.learning_rate must be positive",
              item_env("item6.json", R"({"work_id":"x","work_type":"training","config":{"data":"d","learning_rate":0}})"));
  expect_exit({"item"}, dir, 1, "config.opening_moves: opening moves must be from 0 to 14",
              item_env("item7.json", R"({"work_id":"x","work_type":"match","config":{"a":"random","b":"mcts:5","opening_moves":"20"}})"));
  expect_exit({"item"}, dir, 1, "config.config_key: config key 'go19'",
              item_env("item8.json", R"({"work_id":"x","work_type":"match","config_key":"go19","config":{"a":"random","b":"mcts:5"}})"));
  expect_exit({"item"}, dir, 1, "give config.a_name and config.b_name",
              item_env("item9.json", R"({"work_id":"x","work_type":"match","config":{"a":"random","b":"random"}})"));
  expect_exit({"item"}, dir, 1, "config.games must be a string or a number",
              item_env("item10.json", R"({"work_id":"x","work_type":"selfplay","config":{"agent":"mcts:5","games":{"n":2}}})"));
}

BOOST_AUTO_TEST_SUITE_END()
