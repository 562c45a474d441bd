#include "bench/workload/agents.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"

namespace p2p::workload {

namespace {

constexpr std::string_view expected_specs =
    "expected random, mcts:PLAYOUTS, heuristic:W1,...,W7[:PLAYOUTS] or model:PATH[:PLAYOUTS]";

std::string weight_list() {
  std::string names;
  for (auto name : feature_names) {
    if (!names.empty()) names.append(", ");
    names.append(name);
  }
  return names;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string heuristic_name(const feature_weights& weights, int playouts) {
  std::string name = "heuristic:";
  for (std::size_t k = 0; k < weights.size(); ++k) {
    if (k > 0) name += ',';
    name.append(json::number(weights[k] == 0 ? 0.0 : weights[k]));
  }
  if (playouts > 0) name.append(":").append(std::to_string(playouts));
  return name;
}

agent_spec parse_agent_spec(std::string_view text) {
  auto refuse = [&](std::string_view why) {
    std::string message = "agent spec '";
    message.append(text).append("': ").append(why);
    return spec_error(message);
  };
  // Playouts: a whole number from `least` to max_playouts.
  auto playouts_of = [&](std::string_view digits, int least, std::string_view form) {
    int value = -1;
    if (all_digits(digits) && digits.size() <= 9) {
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
    }
    if (all_digits(digits) && (digits.size() > 9 || value > max_playouts)) {
      std::string why = "playouts '";
      why.append(digits)
          .append("' is above the limit of ")
          .append(std::to_string(max_playouts))
          .append(" per move (a search's tree takes up to 24 bytes x playouts x cells of memory)");
      throw refuse(why);
    }
    if (value < least) {
      std::string why = "playouts '";
      why.append(digits)
          .append("' is not a whole number from ")
          .append(std::to_string(least))
          .append(" to ")
          .append(std::to_string(max_playouts))
          .append(" (expected ")
          .append(form)
          .append(")");
      throw refuse(why);
    }
    return value;
  };

  agent_spec spec;
  spec.text = std::string(text);
  if (text.empty()) {
    std::string why = "it is empty (";
    throw refuse(why.append(expected_specs).append(")"));
  }
  const auto colon = text.find(':');
  const auto kind = text.substr(0, colon);
  const bool has_rest = colon != std::string_view::npos;
  const auto rest = has_rest ? text.substr(colon + 1) : std::string_view{};

  if (kind == "random") {
    if (has_rest) throw refuse("random takes no parameters (expected just 'random')");
    spec.kind = agent_kind::random;
    return spec;
  }
  if (kind == "mcts") {
    if (!has_rest || rest.empty()) {
      throw refuse("mcts needs a playout count (expected mcts:PLAYOUTS, e.g. mcts:400)");
    }
    spec.kind = agent_kind::mcts;
    spec.playouts = playouts_of(rest, 1, "mcts:PLAYOUTS, e.g. mcts:400");
    return spec;
  }
  if (kind == "heuristic") {
    std::string form = "heuristic:W1,...,W";
    form.append(std::to_string(feature_count)).append("[:PLAYOUTS], one weight each for ");
    form.append(weight_list());
    if (!has_rest || rest.empty()) {
      std::string why = "heuristic needs weights (expected ";
      throw refuse(why.append(form).append(")"));
    }
    const auto second = rest.find(':');
    const auto weights = rest.substr(0, second);
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
      const auto comma = weights.find(',', start);
      parts.push_back(weights.substr(start, comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (parts.size() != static_cast<std::size_t>(feature_count)) {
      std::string why = "heuristic needs ";
      why.append(std::to_string(feature_count))
          .append(" weights, got ")
          .append(std::to_string(parts.size()))
          .append(" (expected ")
          .append(form)
          .append(")");
      throw refuse(why);
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      double w = 0;
      const auto part = parts[i];
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), w);
      if (part.empty() || ec != std::errc{} || end != part.data() + part.size() ||
          !std::isfinite(w)) {
        std::string why = "weight ";
        why.append(std::to_string(i + 1))
            .append(" (")
            .append(feature_names[i])
            .append(") '")
            .append(part)
            .append("' is not a finite number");
        throw refuse(why);
      }
      spec.weights[i] = w;
    }
    spec.kind = agent_kind::heuristic;
    if (second != std::string_view::npos) spec.playouts = playouts_of(rest.substr(second + 1), 0, form);
    return spec;
  }
  if (kind == "model") {
    if (!has_rest || rest.empty()) {
      throw refuse("model needs a file (expected model:PATH[:PLAYOUTS], e.g. model:model.txt:200)");
    }
    spec.kind = agent_kind::model;
    const auto last = rest.rfind(':');
    if (last != std::string_view::npos && all_digits(rest.substr(last + 1))) {
      spec.playouts = playouts_of(rest.substr(last + 1), 0, "model:PATH[:PLAYOUTS]");
      spec.model_path = std::string(rest.substr(0, last));
    } else {
      spec.model_path = std::string(rest);
    }
    if (spec.model_path.empty()) throw refuse("the model path is empty (expected model:PATH[:PLAYOUTS])");
    return spec;
  }
  std::string why = "unknown agent kind '";
  throw refuse(why.append(kind).append("' (").append(expected_specs).append(")"));
}

namespace {

class random_agent final : public agent {
 public:
  random_agent() : agent("random") {}

  int choose_move(const board& position, rng& random) override {
    int pick = static_cast<int>(random.below(static_cast<std::uint32_t>(position.empty_cells())));
    for (int cell = 0; cell < position.cells(); ++cell) {
      if (position.at(cell) == stone::empty && pick-- == 0) return cell;
    }
    throw std::logic_error("random agent asked to move on a full board");
  }
};

// Plays the best-scored move; ties go to a random one of them.
class greedy_agent final : public agent {
 public:
  greedy_agent(move_scorer scorer, std::string name) : agent(std::move(name)), scorer_(std::move(scorer)) {}

  int choose_move(const board& position, rng& random) override {
    analysis_.analyse(position);
    int best = -1, ties = 0;
    double best_score = -INFINITY;
    for (int cell = 0; cell < position.cells(); ++cell) {
      if (position.at(cell) != stone::empty) continue;
      const double s = scorer_.score(analysis_, cell, position.size());
      if (s > best_score) {
        best = cell, best_score = s, ties = 1;
      } else if (s == best_score && random.below(static_cast<std::uint32_t>(++ties)) == 0) {
        best = cell;
      }
    }
    return best;
  }

 private:
  move_scorer scorer_;
  position_analysis analysis_;
};

// UCT, or PUCT when a scorer gives priors. The tree lives in one arena of nodes whose children
// are contiguous; it is rebuilt for every move and its storage kept, so a search allocates
// nothing once warm.
class tree_search final : public agent {
 public:
  // Chosen by matches on hex8_2p: 0.3 beat 0.15, 0.5, 0.7, 1.0 and 1.4 with 1000 playouts; PUCT
  // 1.5 with unvisited moves at the parent's value minus 0.3 let more playouts pay off most.
  static constexpr double uct_exploration = 0.3;
  static constexpr double puct_exploration = 1.5;
  static constexpr double first_play_reduction = 0.3;

  tree_search(int playouts, std::optional<move_scorer> scorer, std::string name)
      : agent(std::move(name)), playouts_(playouts), scorer_(std::move(scorer)) {}

  int choose_move(const board& root, rng& random) override {
    if (root.empty_cells() == 1) {
      for (int cell = 0; cell < root.cells(); ++cell) {
        if (root.at(cell) == stone::empty) return cell;
      }
    }
    nodes_.clear();
    nodes_.reserve(std::min<std::size_t>(
        static_cast<std::size_t>(playouts_) * static_cast<std::size_t>(root.empty_cells()) + 1,
        std::size_t{1} << 18));
    nodes_.push_back(node{});
    for (int iteration = 0; iteration < playouts_; ++iteration) {
      scratch_ = root;
      path_.clear();
      std::uint32_t current = 0;
      while (!scratch_.over()) {
        if (!nodes_[current].expanded) {
          // A new leaf is played out once before it grows children.
          if (current != 0 && nodes_[current].visits == 0) break;
          expand(current, random);
        }
        current = scorer_ ? select_puct(current) : select_uct(current);
        scratch_.play_unchecked(nodes_[current].move);
        path_.push_back(current);
      }
      const player winner = scratch_.over() ? *scratch_.winner() : scratch_.random_playout(random);
      ++playouts_run_;
      // A node's wins count for the player who made the move into it.
      player mover = opponent(root.to_move());
      nodes_[0].visits += 1;
      if (winner == mover) nodes_[0].wins += 1;
      for (auto index : path_) {
        mover = opponent(mover);
        auto& n = nodes_[index];
        n.visits += 1;
        if (winner == mover) n.wins += 1;
      }
    }
    const node& top = nodes_[0];
    std::uint32_t best = top.first_child;
    for (std::uint32_t i = top.first_child; i < top.first_child + top.child_count; ++i) {
      const node& c = nodes_[i];
      const node& b = nodes_[best];
      if (c.visits > b.visits || (c.visits == b.visits && c.wins > b.wins)) best = i;
    }
    return nodes_[best].move;
  }

 private:
  // 24 bytes: a search holds at most playouts x empty cells of them (see max_playouts).
  struct node {
    std::uint32_t first_child = 0;
    std::uint32_t visits = 0;
    std::uint32_t wins = 0;
    float prior = 0;
    std::int16_t move = -1;
    std::uint16_t child_count = 0;
    std::uint16_t rank = 0;  // a random rank among its siblings: breaks ties of equal priors
    bool expanded = false;
  };
  static_assert(sizeof(node) == 24);

  void expand(std::uint32_t index, rng& random) {
    const auto first = static_cast<std::uint32_t>(nodes_.size());
    std::uint16_t count = 0;
    for (int cell = 0; cell < scratch_.cells(); ++cell) {
      if (scratch_.at(cell) != stone::empty) continue;
      node child;
      child.move = static_cast<std::int16_t>(cell);
      nodes_.push_back(child);
      ++count;
    }
    const auto children = nodes_.begin() + first;
    // A random order of the moves, drawn from the game's seeded stream: UCT tries unvisited
    // moves in it, and PUCT breaks ties of equal priors by it, so that neither favours low cells.
    for (std::uint32_t i = 0; i + 1 < count; ++i) {
      const auto j = i + random.below(count - i);
      std::swap(children[i], children[j]);
    }
    if (scorer_) {
      analysis_.analyse(scratch_);
      double top = -INFINITY;
      for (auto it = children; it != nodes_.end(); ++it) {
        const double s = scorer_->score(analysis_, it->move, scratch_.size());
        it->prior = static_cast<float>(s);
        top = std::max(top, s);
      }
      double total = 0;
      for (auto it = children; it != nodes_.end(); ++it) {
        const double e = std::exp(static_cast<double>(it->prior) - top);
        it->prior = static_cast<float>(e);
        total += e;
      }
      for (auto it = children; it != nodes_.end(); ++it) {
        it->prior = static_cast<float>(static_cast<double>(it->prior) / total);
      }
      // Highest prior first: among unvisited moves PUCT then tries them in prior order (it
      // takes the first maximum). Equal priors keep the random order through distinct ranks: a
      // strict order, so every standard library sorts alike, with no stable_sort buffer.
      std::uint16_t rank = 0;
      for (auto it = children; it != nodes_.end(); ++it) it->rank = rank++;
      std::sort(children, nodes_.end(), [](const node& a, const node& b) {
        return a.prior != b.prior ? a.prior > b.prior : a.rank < b.rank;
      });
    }
    node& parent = nodes_[index];
    parent.first_child = first;
    parent.child_count = count;
    parent.expanded = true;
  }

  std::uint32_t select_uct(std::uint32_t index) const {
    const node& parent = nodes_[index];
    const double log_visits = std::log(static_cast<double>(std::max<std::uint32_t>(parent.visits, 1)));
    std::uint32_t best = parent.first_child;
    double best_value = -INFINITY;
    for (std::uint32_t i = parent.first_child; i < parent.first_child + parent.child_count; ++i) {
      const node& c = nodes_[i];
      if (c.visits == 0) return i;
      const double v = static_cast<double>(c.visits);
      const double value = static_cast<double>(c.wins) / v + uct_exploration * std::sqrt(log_visits / v);
      if (value > best_value) best = i, best_value = value;
    }
    return best;
  }

  std::uint32_t select_puct(std::uint32_t index) const {
    const node& parent = nodes_[index];
    const double sqrt_visits = std::sqrt(static_cast<double>(std::max<std::uint32_t>(parent.visits, 1)));
    // The parent's wins are its mover's; the children's mover is the other player.
    const double parent_value =
        parent.visits > 0 ? 1.0 - static_cast<double>(parent.wins) / static_cast<double>(parent.visits) : 0.5;
    const double unvisited_value = parent_value - first_play_reduction;
    std::uint32_t best = parent.first_child;
    double best_value = -INFINITY;
    for (std::uint32_t i = parent.first_child; i < parent.first_child + parent.child_count; ++i) {
      const node& c = nodes_[i];
      const double v = static_cast<double>(c.visits);
      const double q = c.visits > 0 ? static_cast<double>(c.wins) / v : unvisited_value;
      const double value = q + puct_exploration * static_cast<double>(c.prior) * sqrt_visits / (1 + v);
      if (value > best_value) best = i, best_value = value;
    }
    return best;
  }

  int playouts_;
  std::optional<move_scorer> scorer_;
  std::vector<node> nodes_;
  std::vector<std::uint32_t> path_;
  board scratch_;
  position_analysis analysis_;
};

}  // namespace

std::unique_ptr<agent> make_random_agent() { return std::make_unique<random_agent>(); }

std::unique_ptr<agent> make_mcts_agent(int playouts) {
  std::string name = "mcts:";
  name.append(std::to_string(playouts));
  return std::make_unique<tree_search>(playouts, std::nullopt, std::move(name));
}

std::unique_ptr<agent> make_scorer_agent(move_scorer scorer, int playouts, std::string name) {
  if (playouts == 0) return std::make_unique<greedy_agent>(std::move(scorer), std::move(name));
  return std::make_unique<tree_search>(playouts, std::move(scorer), std::move(name));
}

std::unique_ptr<agent> make_agent(const agent_spec& spec, const game_config& config) {
  switch (spec.kind) {
    case agent_kind::random:
      return make_random_agent();
    case agent_kind::mcts:
      return make_mcts_agent(spec.playouts);
    case agent_kind::heuristic: {
      move_scorer scorer;
      scorer.weights = spec.weights;
      return make_scorer_agent(std::move(scorer), spec.playouts, heuristic_name(spec.weights, spec.playouts));
    }
    case agent_kind::model: {
      auto bytes = files::read_all(spec.model_path);
      if (!bytes) {
        std::string why = "model file ";
        why.append(spec.model_path).append(": cannot be read (missing or not a file)");
        throw model_error(why);
      }
      auto m = parse_model(*bytes, config, spec.model_path);
      std::string name = "model:";
      name.append(model_id_of(*bytes, config.key));
      if (spec.playouts > 0) name.append(":").append(std::to_string(spec.playouts));
      return make_scorer_agent(std::move(m.scorer), spec.playouts, std::move(name));
    }
  }
  throw std::logic_error("unknown agent kind");
}

}  // namespace p2p::workload
