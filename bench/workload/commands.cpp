#include "bench/workload/commands.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "bench/workload/agents.hpp"
#include "bench/workload/games.hpp"
#include "bench/workload/training.hpp"
#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"

namespace p2p::workload {

namespace {

// Wrong flags, values or specs on the command line: exit 2.
struct usage_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A work item that cannot run (malformed, or a bad value in its config): the work fails, exit 1.
struct item_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct option_value {
  std::string text;
  bool from_item = false;  // from the work item (its config, or an item-mode default), not a flag
};

// The options of one command by flag name ("opening-moves").
struct option_map {
  std::map<std::string, option_value> values;
  bool item_mode = false;  // started by `item`: missing options are the item's fault
  std::string work_id;     // item mode: part of a match's game ids

  const option_value* find(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
};

struct command_info {
  std::string_view name;
  std::vector<std::string_view> flags;
  std::string_view usage;
};

const std::vector<command_info>& commands() {
  static const std::vector<command_info> all = {
      {"selfplay",
       {"config-key", "agent", "games", "out", "seed", "opening-moves"},
       "  p2p-workload selfplay --agent SPEC --out DIR [--games N=10] [--config-key K=hex8_2p]\n"
       "                        [--seed S=1] [--opening-moves M=2]\n"
       "      plays N games of SPEC against itself; writes DIR/selfplay-K-S.jsonl\n"},
      {"train",
       {"config-key", "data", "out", "seed", "epochs", "learning-rate", "l2", "validation-fraction"},
       "  p2p-workload train --data DIR[,DIR...] --out MODEL [--config-key K=hex8_2p] [--seed S=1]\n"
       "                     [--epochs E=8] [--learning-rate R=0.05] [--l2 L=0.0001]\n"
       "                     [--validation-fraction F=0.1]\n"
       "      learns a move model from the games in DIR/*.jsonl; writes the model file MODEL\n"},
      {"match",
       {"config-key", "a", "b", "games", "seed", "opening-moves", "a-name", "b-name"},
       "  p2p-workload match --a SPEC --b SPEC [--games N=10] [--config-key K=hex8_2p] [--seed S=1]\n"
       "                     [--opening-moves M=2] [--a-name ID] [--b-name ID]\n"
       "      plays N games in colour-swapped pairs (an odd N is rounded up)\n"},
      {"item",
       {"config-key", "agent", "games", "out", "seed", "opening-moves", "data", "epochs",
        "learning-rate", "l2", "validation-fraction", "a", "b", "a-name", "b-name"},
       "  p2p-workload item [flags of the work type's command]\n"
       "      runs the work item in $P2P_WORK_FILE (work_type selfplay, training or match) with\n"
       "      parameters from its config; flags given here override them\n"},
  };
  return all;
}

const command_info* find_command(std::string_view name) {
  for (const auto& c : commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

[[noreturn]] void usage_fail(std::string why) { throw usage_error(std::move(why)); }

option_map parse_flags(const command_info& command, int argc, char** argv, int first) {
  option_map options;
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--" || arg.size() == 2) {
      std::string why = "unexpected argument '";
      usage_fail(why.append(arg).append("' (flags are --name VALUE or --name=VALUE)"));
    }
    arg.remove_prefix(2);
    std::string name, value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 >= argc) {
        std::string why = "--";
        usage_fail(why.append(name).append(" needs a value"));
      }
      value = argv[++i];
    }
    if (std::find(command.flags.begin(), command.flags.end(), name) == command.flags.end()) {
      std::string why = "unknown flag --";
      usage_fail(why.append(name).append(" for ").append(command.name));
    }
    if (!options.values.emplace(name, option_value{value, false}).second) {
      std::string why = "--";
      usage_fail(why.append(name).append(" is given twice"));
    }
  }
  return options;
}

// Whether a bad or missing value of this option is the work item's fault (exit 1) rather than
// the command line's (exit 2).
bool blame_item(const option_map& o, const std::string& name) {
  const auto* v = o.find(name);
  return v ? v->from_item : o.item_mode;
}

// How messages name an option: "--opening-moves" for a flag, "config.opening_moves" for a key
// of the work item's config.
std::string option_label(const option_map& o, const std::string& name) {
  if (!blame_item(o, name)) {
    std::string label = "--";
    return label.append(name);
  }
  std::string label = "config.";
  for (char c : name) label += c == '-' ? '_' : c;
  return label;
}

[[noreturn]] void fail(bool item, std::string why) {
  if (item) throw item_error(std::move(why));
  throw usage_error(std::move(why));
}

// "<label><rest>", e.g. "--games '0' is not ..." or "config.games '0' is not ...".
[[noreturn]] void option_fail(const option_map& o, const std::string& name, std::string_view rest) {
  std::string why = option_label(o, name);
  fail(blame_item(o, name), why.append(rest));
}

std::string text_option(const option_map& o, const std::string& name, std::string fallback) {
  const auto* v = o.find(name);
  return v ? v->text : fallback;
}

std::string required_option(const option_map& o, const std::string& name) {
  const auto* v = o.find(name);
  if (!v || v->text.empty()) option_fail(o, name, " is required");
  return v->text;
}

std::int64_t whole_option(const option_map& o, const std::string& name, std::int64_t fallback,
                          std::int64_t least, std::int64_t most) {
  const auto* v = o.find(name);
  if (!v) return fallback;
  const auto& text = v->text;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < least ||
      value > most) {
    std::string why = " '";
    why.append(text).append("' is not a whole number from ");
    option_fail(o, name, why.append(std::to_string(least)).append(" to ").append(std::to_string(most)));
  }
  return value;
}

std::uint64_t seed_option(const option_map& o, std::uint64_t fallback) {
  const auto* v = o.find("seed");
  if (!v) return fallback;
  const auto& text = v->text;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    std::string why = " '";
    option_fail(o, "seed", why.append(text).append("' is not a whole number from 0 to 18446744073709551615"));
  }
  return value;
}

double real_option(const option_map& o, const std::string& name, double fallback) {
  const auto* v = o.find(name);
  if (!v) return fallback;
  const auto& text = v->text;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    std::string why = " '";
    option_fail(o, name, why.append(text).append("' is not a number"));
  }
  return value;
}

game_config config_option(const option_map& o) {
  try {
    return parse_config_key(text_option(o, "config-key", "hex8_2p"));
  } catch (const std::invalid_argument& e) {
    std::string why = ": ";
    option_fail(o, "config-key", why.append(e.what()));
  }
}

agent_spec spec_option(const option_map& o, const std::string& name) {
  const auto text = required_option(o, name);
  try {
    return parse_agent_spec(text);
  } catch (const spec_error& e) {
    std::string why = ": ";
    option_fail(o, name, why.append(e.what()));
  }
}

int opening_option(const option_map& o, const game_config& config) {
  const auto moves = static_cast<int>(whole_option(o, "opening-moves", 2, 0, max_cells));
  try {
    check_opening_moves(moves, config);
  } catch (const std::invalid_argument& e) {
    std::string why = ": ";
    option_fail(o, "opening-moves", why.append(e.what()));
  }
  return moves;
}

void progress(double fraction, std::string_view message) {
  std::printf("PROGRESS %.3f %.*s\n", std::clamp(fraction, 0.0, 1.0), static_cast<int>(message.size()),
              message.data());
  std::fflush(stdout);
}

void emit_result(const std::string& result) {
  if (const char* file = std::getenv("P2P_RESULT_FILE"); file && *file) {
    files::write_atomic(file, result + "\n");
  } else {
    std::printf("%s\n", result.c_str());
    std::fflush(stdout);
  }
}

std::string count_message(std::string_view what, int done, int total) {
  std::string message(what);
  message.append(" ").append(std::to_string(done)).append("/").append(std::to_string(total));
  return message;
}

// ---- commands: each checks its options first (usage errors), then works ----------------------

int run_selfplay_command(const option_map& o) {
  const auto config = config_option(o);
  const auto spec = spec_option(o, "agent");
  const auto games = static_cast<int>(whole_option(o, "games", 10, 1, 1'000'000));
  const std::filesystem::path out = required_option(o, "out");
  const auto seed = seed_option(o, 1);
  const int opening = opening_option(o, config);

  auto player_agent = make_agent(spec, config);
  progress(0, "selfplay starting");
  auto records = run_selfplay(config, *player_agent, games, seed, opening, [](int done, int total) {
    progress(0.98 * done / total, count_message("selfplay games", done, total));
  });
  std::string lines;
  std::uint64_t positions = 0;
  for (const auto& r : records) {
    lines.append(record_to_json(r)).append("\n");
    positions += r.moves.size() - static_cast<std::size_t>(r.opening_moves);
  }
  files::ensure_dir(out);
  std::string name = "selfplay-";
  name.append(config.key).append("-").append(std::to_string(seed)).append(".jsonl");
  const auto file = out / name;
  files::write_atomic(file, lines);
  progress(1, "selfplay done");
  json::writer w;
  w.begin_object()
      .field("games_generated", static_cast<std::uint64_t>(records.size()))
      .field("positions", positions)
      .field("out", out.string())
      .field("file", file.string())
      .field("config_key", config.key)
      .field("agent", player_agent->name())
      .field("seed", seed)
      .end_object();
  emit_result(w.str());
  return exit_ok;
}

std::vector<std::filesystem::path> split_dirs(const option_map& o) {
  const auto list = required_option(o, "data");
  std::vector<std::filesystem::path> dirs;
  for (std::size_t start = 0;;) {
    const auto comma = list.find(',', start);
    auto part = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part.empty()) option_fail(o, "data", " holds an empty directory name");
    dirs.emplace_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dirs;
}

int run_train_command(const option_map& o) {
  const auto config = config_option(o);
  const auto dirs = split_dirs(o);
  const std::filesystem::path out = required_option(o, "out");
  training_options options;
  options.seed = seed_option(o, 1);
  options.epochs = static_cast<int>(whole_option(o, "epochs", options.epochs, 1, 1000));
  options.learning_rate = real_option(o, "learning-rate", options.learning_rate);
  options.l2 = real_option(o, "l2", options.l2);
  options.validation_fraction = real_option(o, "validation-fraction", options.validation_fraction);
  if (!(options.learning_rate > 0)) option_fail(o, "learning-rate", " must be positive");
  if (options.l2 < 0) option_fail(o, "l2", " must not be negative");
  if (!(options.validation_fraction > 0 && options.validation_fraction <= 0.5)) {
    option_fail(o, "validation-fraction", " must be above 0 and at most 0.5");
  }

  progress(0, "train reading games");
  auto loaded = load_records(dirs, config);
  if (loaded.games.size() < 2) {
    std::string why = "training needs at least 2 games of ";
    why.append(config.key)
        .append(", found ")
        .append(std::to_string(loaded.games.size()))
        .append(" in ")
        .append(std::to_string(loaded.files))
        .append(" .jsonl files");
    if (loaded.other_config_games > 0) {
      why.append(" (and ").append(std::to_string(loaded.other_config_games)).append(" of other config keys)");
    }
    throw std::runtime_error(why);
  }
  progress(0.05, count_message("train games", static_cast<int>(loaded.games.size()),
                               static_cast<int>(loaded.games.size())));
  auto m = train_model(config, loaded.games, options, [](int done, int total) {
    progress(0.05 + 0.9 * done / total, count_message("train epochs", done, total));
  });
  const auto text = serialize_model(m);
  if (out.has_parent_path()) files::ensure_dir(out.parent_path());
  files::write_atomic(out, text);
  progress(1, "train done");
  const auto& t = m.training;
  json::writer w;
  w.begin_object()
      .field("model_id", model_id_of(text, config.key))
      .field("model_path", out.string())
      .field("train_loss", t.train_loss)
      .field("val_loss", t.val_loss)
      .field("uniform_val_loss", t.uniform_val_loss)
      .field("training_samples", t.samples)
      .field("training_games", t.games)
      .field("validation_samples", t.validation_samples)
      .field("validation_games", t.validation_games)
      .field("epochs", t.epochs)
      .field("config_key", config.key)
      .field("seed", t.seed)
      .end_object();
  emit_result(w.str());
  return exit_ok;
}

int run_match_command(const option_map& o) {
  const auto config = config_option(o);
  const auto a_spec = spec_option(o, "a");
  const auto b_spec = spec_option(o, "b");
  auto games = static_cast<int>(whole_option(o, "games", 10, 1, 1'000'000));
  const auto seed = seed_option(o, 1);
  const int opening = opening_option(o, config);
  if (games % 2 != 0) {
    std::fprintf(stderr, "p2p-workload match: %d games rounded up to %d (games come in colour-swapped pairs)\n",
                 games, games + 1);
    ++games;
  }

  auto a = make_agent(a_spec, config);
  auto b = make_agent(b_spec, config);
  const auto a_name = text_option(o, "a-name", a->name());
  const auto b_name = text_option(o, "b-name", b->name());
  if (a_name.empty() || b_name.empty() || a_name == b_name) {
    std::string why = "the players would be recorded as '";
    why.append(a_name).append("' and '").append(b_name);
    why.append("'; Elo records need two different non-empty ids: give ");
    why.append(option_label(o, "a-name")).append(" and ").append(option_label(o, "b-name"));
    fail(blame_item(o, "a-name") || blame_item(o, "b-name"), why);
  }
  progress(0, "match starting");
  auto result = run_match(
      config, *a, *b, a_name, b_name, games, seed, opening,
      [](int done, int total) { progress(0.99 * done / total, count_message("match games", done, total)); },
      o.work_id);
  progress(1, "match done");
  // `games` holds exactly the fields POST /elo/matches accepts, ready to post as they are; what
  // else is known of each game goes to the parallel array `details`.
  json::writer w;
  w.begin_object().key("games").begin_array();
  for (const auto& g : result.games) {
    w.begin_object()
        .field("game_id", g.game_id)
        .field("config_key", config.key)
        .field("a", a_name)
        .field("b", b_name)
        .field("score", static_cast<std::int64_t>(g.score))
        .field("pair_id", g.pair_id)
        .field("played_at", g.played_at)
        .end_object();
  }
  w.end_array().key("details").begin_array();
  for (const auto& g : result.games) {
    w.begin_object()
        .field("game_id", g.game_id)
        .field("a_color", g.a_black ? "black" : "white")
        .field("plies", static_cast<std::uint64_t>(g.record.moves.size()))
        .end_object();
  }
  const int played = static_cast<int>(result.games.size());
  w.end_array()
      .field("a_score", played ? static_cast<double>(result.a_wins) / played : 0.0)
      .field("a_wins", result.a_wins)
      .field("b_wins", played - result.a_wins)
      .field("games_played", played)
      .field("a", a_name)
      .field("b", b_name)
      .field("config_key", config.key)
      .field("seed", seed)
      .end_object();
  emit_result(w.str());
  return exit_ok;
}

// ---- item mode ---------------------------------------------------------------------------------

// A scalar of the work item's config as option text; `label` names it in messages.
std::string json_scalar_text(simdjson::dom::element value, const std::string& label) {
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::STRING:
      return std::string(value.get_string().value_unsafe());
    case element_type::INT64:
      return std::to_string(value.get_int64().value_unsafe());
    case element_type::UINT64:
      return std::to_string(value.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return json::number(value.get_double().value_unsafe());
    case element_type::BOOL:
      return value.get_bool().value_unsafe() ? "true" : "false";
    default: {
      std::string why = label;
      throw item_error(why.append(" must be a string or a number"));
    }
  }
}

// Everything read from the work file is the item's: a file that is not what a runner writes, or
// a bad value in its config, fails the work (exit 1). Only the command line is usage (exit 2).
int run_item_command(int argc, char** argv) {
  const auto& item_command = *find_command("item");
  const auto overrides = parse_flags(item_command, argc, argv, 2);
  const char* work_file = std::getenv("P2P_WORK_FILE");
  if (!work_file || !*work_file) usage_fail("P2P_WORK_FILE is not set (item runs a runner's work item)");
  auto text = files::read_all(work_file);
  if (!text) {
    std::string why = "cannot read the work item ";
    throw item_error(why.append(work_file));
  }
  simdjson::dom::parser parser;
  simdjson::dom::object item;
  if (parser.parse(simdjson::padded_string(*text)).get(item)) {
    std::string why = "the work item ";
    throw item_error(why.append(work_file).append(" is not a JSON object"));
  }
  std::string_view work_type, work_id;
  if (item["work_type"].get(work_type)) {
    const char* env_type = std::getenv("P2P_WORK_TYPE");
    if (!env_type) throw item_error("the work item has no work_type (a string)");
    work_type = env_type;
  }
  if (item["work_id"].get(work_id)) {
    const char* env_id = std::getenv("P2P_WORK_ID");
    work_id = env_id ? env_id : "";
  }
  std::string command_name;
  if (work_type == "selfplay") command_name = "selfplay";
  else if (work_type == "training") command_name = "train";
  else if (work_type == "match") command_name = "match";
  else {
    std::string why = "work type '";
    throw item_error(why.append(work_type).append("' is not one this workload runs (selfplay, training, match)"));
  }
  const auto& command = *find_command(command_name);
  auto allowed = [&](const std::string& flag) {
    return std::find(command.flags.begin(), command.flags.end(), flag) != command.flags.end();
  };

  option_map options;
  options.item_mode = true;
  options.work_id = std::string(work_id);
  // The work queue writes the item's config_key at the top level, "" when none was given.
  std::string_view item_key;
  if (!item["config_key"].get(item_key)) options.values["config-key"] = {std::string(item_key), true};
  simdjson::dom::object config;
  if (auto e = item["config"]; !e.error() && !e.is_null()) {
    if (e.get(config)) throw item_error("the work item's config is not a JSON object");
    for (auto [key_view, value] : config) {
      std::string key(key_view);
      std::replace(key.begin(), key.end(), '_', '-');
      if (!allowed(key) || value.is_null()) continue;  // other keys belong to the scheduler
      if (std::string_view empty; key == "config-key" && !value.get(empty) && empty.empty()) continue;
      std::string label = "config.";
      label.append(key_view);
      if (simdjson::dom::array list; !value.get(list)) {
        std::string joined;
        for (auto element : list) {
          if (!joined.empty()) joined += ',';
          joined.append(json_scalar_text(element, label));
        }
        options.values[key] = {joined, true};
      } else {
        options.values[key] = {json_scalar_text(value, label), true};
      }
    }
  }
  // An empty config key (in config, or at the top level) means the default one.
  if (auto it = options.values.find("config-key"); it != options.values.end() && it->second.text.empty()) {
    options.values.erase(it);
  }
  // Defaults that only item mode has: outputs under the attempt's directory, and a seed of the
  // work id so that distinct items play distinct games.
  const char* work_dir = std::getenv("P2P_WORK_DIR");
  const std::filesystem::path dir = work_dir && *work_dir ? work_dir : ".";
  if (command_name == "selfplay") options.values.try_emplace("out", option_value{(dir / "games").string(), true});
  if (command_name == "train") options.values.try_emplace("out", option_value{(dir / "model.txt").string(), true});
  if (!work_id.empty()) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : work_id) hash = (hash ^ c) * 0x100000001b3ULL;
    options.values.try_emplace("seed", option_value{std::to_string(hash & 0xffffffffULL), true});
  }
  for (const auto& [key, value] : overrides.values) {
    if (!allowed(key)) {
      std::string why = "--";
      usage_fail(why.append(key).append(" does not apply to work type ").append(work_type));
    }
    options.values[key] = value;
  }
  if (command_name == "selfplay") return run_selfplay_command(options);
  if (command_name == "train") return run_train_command(options);
  return run_match_command(options);
}

}  // namespace

std::string usage_text() {
  std::string text = "usage: p2p-workload COMMAND [flags]\n";
  for (const auto& c : commands()) text.append(c.usage);
  text.append(
      "agent specs: random | mcts:PLAYOUTS | heuristic:W1,...,W7[:PLAYOUTS] | model:PATH[:PLAYOUTS]\n"
      "config keys: hex8_2p (default), hex11_2p, or hex<N>_2p with N from 2 to 19\n");
  return text;
}

int run_command_line(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << usage_text();
    return exit_usage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::cout << usage_text();
    return exit_ok;
  }
  const auto* command = find_command(name);
  if (!command) {
    std::cerr << "p2p-workload: unknown command '" << name << "'\n" << usage_text();
    return exit_usage;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage:\n" << command->usage;
      return exit_ok;
    }
  }
  try {
    if (name == "item") return run_item_command(argc, argv);
    const auto options = parse_flags(*command, argc, argv, 2);
    if (name == "selfplay") return run_selfplay_command(options);
    if (name == "train") return run_train_command(options);
    return run_match_command(options);
  } catch (const usage_error& e) {
    std::cerr << "p2p-workload " << name << ": " << e.what() << "\nusage:\n" << command->usage;
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "p2p-workload " << name << ": " << e.what() << "\n";
    return exit_failed;
  }
}

}  // namespace p2p::workload
