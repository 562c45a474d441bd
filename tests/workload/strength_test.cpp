// Playing strength with fixed seeds: more search wins, and a model learnt from self-play guides
// the search better than no model at equal playouts.
#include <boost/test/unit_test.hpp>

#include "bench/workload/agents.hpp"
#include "bench/workload/games.hpp"
#include "bench/workload/training.hpp"

using namespace p2p::workload;

BOOST_AUTO_TEST_SUITE(strength)

BOOST_AUTO_TEST_CASE(mcts_400_beats_mcts_25) {
  const auto config = parse_config_key("hex8_2p");
  auto strong = make_mcts_agent(400);
  auto weak = make_mcts_agent(25);
  const auto result = run_match(config, *strong, *weak, "mcts:400", "mcts:25", 100, 1, 2);
  BOOST_TEST_MESSAGE("mcts:400 won " << result.a_wins << " of 100 against mcts:25");
  BOOST_TEST(result.games.size() == 100u);
  BOOST_TEST(result.a_wins >= 70);
}

BOOST_AUTO_TEST_CASE(a_model_trained_on_selfplay_beats_the_untrained_search) {
  const auto config = parse_config_key("hex8_2p");
  auto teacher = make_mcts_agent(400);
  const auto games = run_selfplay(config, *teacher, 100, 11, 2);
  training_options options;
  options.seed = 3;
  const auto trained = train_model(config, games, options);
  BOOST_TEST_MESSAGE("trained on " << trained.training.samples << " positions: train loss "
                                   << trained.training.train_loss << ", validation loss "
                                   << trained.training.val_loss << " (uniform "
                                   << trained.training.uniform_val_loss << ")");
  // Learnt: the held-out moves are better predicted than by a uniform guess.
  BOOST_TEST(trained.training.val_loss < trained.training.uniform_val_loss);

  constexpr int playouts = 100;
  auto model_search = make_scorer_agent(trained.scorer, playouts, "model:100");
  auto plain_search = make_mcts_agent(playouts);
  const auto against_mcts =
      run_match(config, *model_search, *plain_search, "model:100", "mcts:100", 200, 21, 2);
  BOOST_TEST_MESSAGE("model:100 won " << against_mcts.a_wins << " of 200 against mcts:100");
  BOOST_TEST(against_mcts.a_wins >= 120);

  // The same guided search with all weights zero (uniform priors): the gain is the learning's.
  auto untrained = make_scorer_agent(move_scorer{}, playouts, "untrained:100");
  const auto against_untrained =
      run_match(config, *model_search, *untrained, "model:100", "untrained:100", 200, 22, 2);
  BOOST_TEST_MESSAGE("model:100 won " << against_untrained.a_wins << " of 200 against the zero model");
  BOOST_TEST(against_untrained.a_wins >= 120);
}

BOOST_AUTO_TEST_SUITE_END()
