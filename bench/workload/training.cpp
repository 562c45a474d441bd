#include "bench/workload/training.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

namespace p2p::workload {

loaded_records load_records(const std::vector<std::filesystem::path>& dirs,
                            const game_config& config) {
  loaded_records loaded;
  simdjson::dom::parser parser;  // one for all records: it keeps its buffers
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      std::string why = "data directory ";
      throw record_error(why.append(dir.string()).append(" does not exist or is not a directory"));
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path());
    }
    if (ec) {
      std::string why = "cannot list ";
      throw record_error(why.append(dir.string()).append(": ").append(ec.message()));
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file);
      if (!in) {
        std::string why = "cannot read ";
        throw record_error(why.append(file.string()));
      }
      ++loaded.files;
      std::string line;
      for (std::uint64_t number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        std::string where = file.string();
        where.append(":").append(std::to_string(number));
        auto record = record_from_json(line, where, parser);
        if (record.config_key != config.key) {
          ++loaded.other_config_games;
          continue;
        }
        loaded.games.push_back(std::move(record));
      }
    }
  }
  return loaded;
}

namespace {

// The parameters: feature weights, then one weight per rotation class of cells.
class softmax_model {
 public:
  explicit softmax_model(const game_config& config) : size_(config.size), cells_(config.cells()) {
    cell_class_.resize(static_cast<std::size_t>(cells_));
    for (int k = 0; k < cells_; ++k) cell_class_[static_cast<std::size_t>(k)] = std::min(k, cells_ - 1 - k);
    class_weights_.assign(static_cast<std::size_t>((cells_ + 1) / 2), 0.0);
  }

  // The loss of one position; with a learning rate, also one gradient step.
  double sample(const board& position, int chosen, double learning_rate, double l2) {
    analysis_.analyse(position);
    moves_.clear();
    features_.clear();
    scores_.clear();
    int chosen_index = -1;
    for (int cell = 0; cell < cells_; ++cell) {
      if (position.at(cell) != stone::empty) continue;
      if (cell == chosen) chosen_index = static_cast<int>(moves_.size());
      const auto f = analysis_.features(cell);
      const int cls = cell_class_[static_cast<std::size_t>(oriented_cell(cell, size_, analysis_.mover()))];
      double s = class_weights_[static_cast<std::size_t>(cls)];
      for (int k = 0; k < feature_count; ++k) {
        s += weights_[static_cast<std::size_t>(k)] * static_cast<double>(f[static_cast<std::size_t>(k)]);
      }
      moves_.push_back(cls);
      features_.push_back(f);
      scores_.push_back(s);
    }
    const double top = *std::max_element(scores_.begin(), scores_.end());
    double total = 0;
    for (auto& s : scores_) {
      s = std::exp(s - top);
      total += s;
    }
    const auto chosen_at = static_cast<std::size_t>(chosen_index);
    const double loss = -std::log(scores_[chosen_at] / total);
    if (learning_rate <= 0) return loss;
    // d loss / d score_x = p_x - [x chosen].
    feature_weights gradient{};
    for (std::size_t i = 0; i < scores_.size(); ++i) {
      const double g = scores_[i] / total - (i == chosen_at ? 1.0 : 0.0);
      for (int k = 0; k < feature_count; ++k) {
        gradient[static_cast<std::size_t>(k)] += g * static_cast<double>(features_[i][static_cast<std::size_t>(k)]);
      }
      auto& c = class_weights_[static_cast<std::size_t>(moves_[i])];
      c -= learning_rate * (g + l2 * c);
    }
    for (int k = 0; k < feature_count; ++k) {
      auto& w = weights_[static_cast<std::size_t>(k)];
      w -= learning_rate * (gradient[static_cast<std::size_t>(k)] + l2 * w);
    }
    return loss;
  }

  move_scorer scorer() const {
    move_scorer s;
    s.weights = weights_;
    s.cell_weights.resize(static_cast<std::size_t>(cells_));
    for (int k = 0; k < cells_; ++k) {
      s.cell_weights[static_cast<std::size_t>(k)] =
          class_weights_[static_cast<std::size_t>(cell_class_[static_cast<std::size_t>(k)])];
    }
    return s;
  }

 private:
  int size_, cells_;
  feature_weights weights_{};
  std::vector<double> class_weights_;
  std::vector<int> cell_class_;
  position_analysis analysis_;
  std::vector<int> moves_;
  std::vector<feature_vector> features_;
  std::vector<double> scores_;
};

struct pass_totals {
  double loss = 0, uniform_loss = 0;
  std::uint64_t samples = 0;
};

// One pass over the games' agent-chosen positions; learning_rate 0 only measures.
pass_totals pass(softmax_model& m, const game_config& config, const std::vector<game_record>& games,
                 const std::vector<std::size_t>& order, double learning_rate, double l2) {
  pass_totals totals;
  for (auto index : order) {
    const auto& record = games[index];
    board b(config.size);
    for (std::size_t ply = 0; ply < record.moves.size(); ++ply) {
      const int move = record.moves[ply];
      if (ply >= static_cast<std::size_t>(record.opening_moves)) {
        totals.loss += m.sample(b, move, learning_rate, l2);
        totals.uniform_loss += std::log(static_cast<double>(b.empty_cells()));
        ++totals.samples;
      }
      b.play_unchecked(move);  // records were checked when they were read
    }
  }
  return totals;
}

}  // namespace

model train_model(const game_config& config, const std::vector<game_record>& games,
                  const training_options& options,
                  const std::function<void(int epochs_done, int epochs)>& progress) {
  if (options.epochs < 1 || !(options.learning_rate > 0) || !(options.l2 >= 0) ||
      !(options.validation_fraction > 0 && options.validation_fraction <= 0.5)) {
    throw std::invalid_argument(
        "epochs must be at least 1, learning rate positive, l2 not negative and the validation "
        "fraction above 0 and at most 0.5");
  }
  if (games.size() < 2) {
    std::string why = "training needs at least 2 games of ";
    why.append(config.key).append(" (one to learn from, one to validate on), got ");
    throw std::invalid_argument(why.append(std::to_string(games.size())));
  }
  for (const auto& g : games) {
    if (g.config_key != config.key) throw std::invalid_argument("a game of another config key");
  }
  // A seeded split by game: positions of one game are alike, so they stay on one side.
  std::vector<std::size_t> shuffled(games.size());
  std::iota(shuffled.begin(), shuffled.end(), std::size_t{0});
  rng split(derive_seed(options.seed, 0, 3));
  for (std::size_t i = shuffled.size() - 1; i > 0; --i) {
    std::swap(shuffled[i], shuffled[split.below(static_cast<std::uint32_t>(i + 1))]);
  }
  const auto validation_count = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::llround(options.validation_fraction * static_cast<double>(games.size()))),
      1, games.size() - 1);
  std::vector<std::size_t> validation(shuffled.begin(), shuffled.begin() + static_cast<std::ptrdiff_t>(validation_count));
  std::vector<std::size_t> training(shuffled.begin() + static_cast<std::ptrdiff_t>(validation_count), shuffled.end());
  std::sort(validation.begin(), validation.end());
  std::sort(training.begin(), training.end());

  softmax_model m(config);
  std::vector<std::size_t> order = training;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    rng shuffle(derive_seed(options.seed, static_cast<std::uint64_t>(epoch), 4));
    for (std::size_t i = order.size() - 1; i > 0; --i) {
      std::swap(order[i], order[shuffle.below(static_cast<std::uint32_t>(i + 1))]);
    }
    // The step shrinks over the epochs so that the last passes settle rather than wander.
    const double rate = options.learning_rate / (1.0 + 2.0 * epoch / options.epochs);
    pass(m, config, games, order, rate, options.l2);
    if (progress) progress(epoch + 1, options.epochs);
  }
  const auto train_totals = pass(m, config, games, training, 0, 0);
  const auto validation_totals = pass(m, config, games, validation, 0, 0);

  model result;
  result.config = config;
  result.scorer = m.scorer();
  auto& t = result.training;
  t.games = training.size();
  t.validation_games = validation.size();
  t.samples = train_totals.samples;
  t.validation_samples = validation_totals.samples;
  t.epochs = options.epochs;
  t.learning_rate = options.learning_rate;
  t.l2 = options.l2;
  t.seed = options.seed;
  auto mean = [](double total, std::uint64_t n) { return n ? total / static_cast<double>(n) : 0.0; };
  t.train_loss = mean(train_totals.loss, train_totals.samples);
  t.val_loss = mean(validation_totals.loss, validation_totals.samples);
  t.uniform_val_loss = mean(validation_totals.uniform_loss, validation_totals.samples);
  return result;
}

}  // namespace p2p::workload
