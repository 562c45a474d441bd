#include "bench/workload/model.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>

#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"

namespace p2p::workload {

std::string serialize_model(const model& m) {
  json::writer w;
  w.begin_object()
      .field("config_key", m.config.key)
      .field("board_size", m.config.size)
      .key("features")
      .begin_array();
  for (auto name : feature_names) w.value(name);
  w.end_array().key("feature_weights").begin_array();
  for (double v : m.scorer.weights) w.value(v);
  w.end_array().key("cell_weights").begin_array();
  for (double v : m.scorer.cell_weights) w.value(v);
  const auto& t = m.training;
  w.end_array()
      .key("training")
      .begin_object()
      .field("games", t.games)
      .field("validation_games", t.validation_games)
      .field("samples", t.samples)
      .field("validation_samples", t.validation_samples)
      .field("epochs", t.epochs)
      .field("learning_rate", t.learning_rate)
      .field("l2", t.l2)
      .field("seed", t.seed)
      .field("train_loss", t.train_loss)
      .field("val_loss", t.val_loss)
      .field("uniform_val_loss", t.uniform_val_loss)
      .end_object()
      .end_object();
  std::string text(model_magic);
  text.append(" ").append(std::to_string(model_format_version)).append("\n");
  text.append(w.str()).append("\n");
  return text;
}

namespace {

[[noreturn]] void refuse(std::string_view source, std::string_view why) {
  std::string message = "model file ";
  message.append(source).append(": ").append(why);
  throw model_error(message);
}

std::vector<double> numbers(simdjson::dom::element e, std::string_view source, std::string_view key) {
  simdjson::dom::array array;
  if (e.get(array)) {
    std::string why(key);
    refuse(source, why.append(" is not an array"));
  }
  std::vector<double> out;
  for (auto item : array) {
    double v = 0;
    if (item.get(v) || !std::isfinite(v)) {
      std::string why(key);
      refuse(source, why.append(" holds something other than finite numbers"));
    }
    out.push_back(v);
  }
  return out;
}

}  // namespace

model parse_model(std::string_view text, const game_config& expected, std::string_view source) {
  const auto line_end = text.find('\n');
  const auto header = text.substr(0, line_end);
  if (header.substr(0, model_magic.size() + 1) != std::string(model_magic) + " ") {
    refuse(source, "not a p2p-workload model (its first line must be \"p2p-workload-model 1\")");
  }
  const auto version_text = header.substr(model_magic.size() + 1);
  int version = 0;
  auto [end, ec] = std::from_chars(version_text.data(), version_text.data() + version_text.size(),
                                   version);
  if (ec != std::errc{} || end != version_text.data() + version_text.size()) {
    refuse(source, "the version in the first line is not a number");
  }
  if (version != model_format_version) {
    std::string why = "format version ";
    why.append(std::to_string(version))
        .append(" is not supported (this build reads version ")
        .append(std::to_string(model_format_version))
        .append(")");
    refuse(source, why);
  }
  if (line_end == std::string_view::npos) refuse(source, "the weights line is missing");
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(simdjson::padded_string(text.substr(line_end + 1))).get(root)) {
    refuse(source, "the weights line is not a JSON object");
  }
  std::string_view key;
  if (root["config_key"].get(key)) refuse(source, "config_key is missing");
  if (key != expected.key) {
    std::string why = "it is for ";
    why.append(key).append(", not ").append(expected.key);
    refuse(source, why);
  }
  model m;
  m.config = expected;
  std::int64_t size = 0;
  if (root["board_size"].get(size) || size != expected.size) {
    refuse(source, "board_size does not match its config key");
  }
  simdjson::dom::array names;
  if (root["features"].get(names)) refuse(source, "features is missing");
  std::size_t index = 0;
  for (auto name : names) {
    std::string_view s;
    if (index >= feature_names.size() || name.get(s) || s != feature_names[index]) {
      refuse(source, "its features are not this build's (own_path, block_path, bridge, "
                     "join_groups, adjacent_own, adjacent_opp, center)");
    }
    ++index;
  }
  if (index != feature_names.size()) refuse(source, "it lists too few features");
  simdjson::dom::element element;
  if (root["feature_weights"].get(element)) refuse(source, "feature_weights is missing");
  auto weights = numbers(element, source, "feature_weights");
  if (weights.size() != feature_weights{}.size()) {
    refuse(source, "feature_weights must hold one number per feature");
  }
  std::copy(weights.begin(), weights.end(), m.scorer.weights.begin());
  if (root["cell_weights"].get(element)) refuse(source, "cell_weights is missing");
  m.scorer.cell_weights = numbers(element, source, "cell_weights");
  if (!m.scorer.cell_weights.empty() &&
      m.scorer.cell_weights.size() != static_cast<std::size_t>(expected.cells())) {
    refuse(source, "cell_weights must be empty or hold one number per cell");
  }
  simdjson::dom::object training;
  if (!root["training"].get(training)) {
    auto& t = m.training;
    std::uint64_t u = 0;
    double d = 0;
    if (!training["games"].get(u)) t.games = u;
    if (!training["validation_games"].get(u)) t.validation_games = u;
    if (!training["samples"].get(u)) t.samples = u;
    if (!training["validation_samples"].get(u)) t.validation_samples = u;
    if (!training["epochs"].get(u)) t.epochs = static_cast<int>(u);
    if (!training["learning_rate"].get(d)) t.learning_rate = d;
    if (!training["l2"].get(d)) t.l2 = d;
    if (!training["seed"].get(u)) t.seed = u;
    if (!training["train_loss"].get(d)) t.train_loss = d;
    if (!training["val_loss"].get(d)) t.val_loss = d;
    if (!training["uniform_val_loss"].get(d)) t.uniform_val_loss = d;
  }
  return m;
}

model load_model(const std::filesystem::path& path, const game_config& expected) {
  auto text = files::read_all(path);
  if (!text) refuse(path.string(), "cannot be read (missing or not a file)");
  return parse_model(*text, expected, path.string());
}

std::string model_id_of(std::string_view file_bytes, std::string_view config_key) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : file_bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(config_key);
  id += '-';
  for (int shift = 60; shift >= 0; shift -= 4) id += hex[(hash >> shift) & 15];
  return id;
}

}  // namespace p2p::workload
