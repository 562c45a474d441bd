#include "bench/workload/games.hpp"

#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

namespace p2p::workload {

std::string record_to_json(const game_record& r) {
  json::writer w;
  w.begin_object()
      .field("config_key", r.config_key)
      .field("seed", r.seed)
      .field("game_index", r.index)
      .key("agents")
      .begin_object()
      .field("black", r.black)
      .field("white", r.white)
      .end_object()
      .field("opening_moves", r.opening_moves)
      .key("moves")
      .begin_array();
  for (int m : r.moves) w.value(m);
  w.end_array()
      .field("winner", player_name(r.winner))
      .field("plies", static_cast<std::uint64_t>(r.moves.size()))
      .end_object();
  return w.take();
}

game_record record_from_json(std::string_view line, std::string_view where) {
  simdjson::dom::parser parser;
  return record_from_json(line, where, parser);
}

game_record record_from_json(std::string_view line, std::string_view where, simdjson::dom::parser& parser) {
  auto refuse = [&](std::string_view why) {
    std::string message = "game record ";
    message.append(where).append(": ").append(why);
    return record_error(message);
  };
  simdjson::dom::object root;
  if (parser.parse(simdjson::padded_string(line)).get(root)) throw refuse("not a JSON object");
  game_record r;
  std::string_view text;
  if (root["config_key"].get(text)) throw refuse("config_key is missing");
  r.config_key = std::string(text);
  game_config config;
  try {
    config = parse_config_key(r.config_key);
  } catch (const std::invalid_argument& e) {
    throw refuse(e.what());
  }
  if (root["seed"].get(r.seed)) throw refuse("seed is missing or not a whole number");
  if (root["game_index"].get(r.index)) throw refuse("game_index is missing or not a whole number");
  simdjson::dom::object agents;
  if (root["agents"].get(agents) || agents["black"].get(text)) throw refuse("agents.black is missing");
  r.black = std::string(text);
  if (agents["white"].get(text)) throw refuse("agents.white is missing");
  r.white = std::string(text);
  std::int64_t opening = 0;
  if (root["opening_moves"].get(opening) || opening < 0) {
    throw refuse("opening_moves is missing or negative");
  }
  r.opening_moves = static_cast<int>(opening);
  simdjson::dom::array moves;
  if (root["moves"].get(moves)) throw refuse("moves is missing");
  board b(config.size);
  for (auto item : moves) {
    std::int64_t cell = 0;
    if (item.get(cell)) throw refuse("a move is not a whole number");
    const auto why = b.why_illegal(cell < 0 || cell >= b.cells() ? -1 : static_cast<int>(cell));
    if (!why.empty()) {
      std::string message = "move ";
      message.append(std::to_string(r.moves.size() + 1)).append(" is illegal: ").append(why);
      throw refuse(message);
    }
    b.play_unchecked(static_cast<int>(cell));
    r.moves.push_back(static_cast<int>(cell));
  }
  if (!b.over()) throw refuse("the moves do not finish the game");
  if (root["winner"].get(text) || text != player_name(*b.winner())) {
    throw refuse("winner is missing or not the player whose connection the moves make");
  }
  r.winner = *b.winner();
  if (static_cast<std::size_t>(r.opening_moves) > r.moves.size()) {
    throw refuse("opening_moves exceeds the moves");
  }
  return r;
}

void check_opening_moves(int opening_moves, const game_config& config) {
  const int most = 2 * config.size - 2;
  if (opening_moves < 0 || opening_moves > most) {
    std::string why = "opening moves must be from 0 to ";
    why.append(std::to_string(most)).append(" on ").append(config.key).append(" (2n - 2, fewer "
                                                                              "than any win needs)");
    throw std::invalid_argument(why);
  }
}

game_record play_game(const game_config& config, agent& black, agent& white, int opening_moves,
                      std::uint64_t opening_seed, std::uint64_t play_seed) {
  check_opening_moves(opening_moves, config);
  game_record record;
  record.config_key = config.key;
  record.black = black.name();
  record.white = white.name();
  record.opening_moves = opening_moves;
  record.moves.reserve(static_cast<std::size_t>(config.cells()));
  board b(config.size);
  rng opening(opening_seed);
  for (int i = 0; i < opening_moves; ++i) {
    int pick = static_cast<int>(opening.below(static_cast<std::uint32_t>(b.empty_cells())));
    int cell = 0;
    for (; cell < b.cells(); ++cell) {
      if (b.at(cell) == stone::empty && pick-- == 0) break;
    }
    b.play(cell);
    record.moves.push_back(cell);
  }
  rng random(play_seed);
  while (!b.over()) {
    agent& mover = b.to_move() == player::black ? black : white;
    const int cell = mover.choose_move(b, random);
    b.play(cell);  // checked: a faulty agent must not corrupt a record
    record.moves.push_back(cell);
  }
  record.winner = *b.winner();
  return record;
}

std::vector<game_record> run_selfplay(const game_config& config, agent& player_agent, int games,
                                      std::uint64_t seed, int opening_moves,
                                      const progress_callback& progress) {
  check_opening_moves(opening_moves, config);
  std::vector<game_record> records;
  records.reserve(static_cast<std::size_t>(std::max(games, 0)));
  for (int i = 0; i < games; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    auto record = play_game(config, player_agent, player_agent, opening_moves,
                            derive_seed(seed, index, 1), derive_seed(seed, index, 2));
    record.seed = seed;
    record.index = index;
    records.push_back(std::move(record));
    if (progress) progress(i + 1, games);
  }
  return records;
}

std::string match_id(const game_config& config, const agent& a, const agent& b,
                     const std::string& a_name, const std::string& b_name, std::uint64_t seed,
                     int opening_moves, std::string_view work_id) {
  // Each part with its length in front, so that no two lists of parts hash the same text.
  std::string text;
  for (std::string_view part : {std::string_view(config.key), std::string_view(a.name()),
                                std::string_view(b.name()), std::string_view(a_name),
                                std::string_view(b_name), work_id}) {
    text.append(std::to_string(part.size())).append(":").append(part).append(";");
  }
  text.append(std::to_string(seed)).append(";").append(std::to_string(opening_moves));
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = config.key;
  id += '-';
  for (int shift = 60; shift >= 0; shift -= 4) id += hex[(hash >> shift) & 15];
  return id;
}

match_result run_match(const game_config& config, agent& a, agent& b, const std::string& a_name,
                       const std::string& b_name, int games, std::uint64_t seed,
                       int opening_moves, const progress_callback& progress,
                       std::string_view work_id) {
  if (games < 0 || games % 2 != 0) throw std::invalid_argument("a match needs an even number of games");
  check_opening_moves(opening_moves, config);
  match_result result;
  const std::string stem = match_id(config, a, b, a_name, b_name, seed, opening_moves, work_id);
  for (int i = 0; i < games; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    const auto pair = index / 2;
    const bool a_black = i % 2 == 0;
    match_game g;
    g.a_black = a_black;
    g.record = play_game(config, a_black ? a : b, a_black ? b : a, opening_moves,
                         derive_seed(seed, pair, 1), derive_seed(seed, index, 2));
    g.record.seed = seed;
    g.record.index = index;
    g.record.black = a_black ? a_name : b_name;
    g.record.white = a_black ? b_name : a_name;
    g.played_at = format_rfc3339(wall_now());
    const bool a_won = (g.record.winner == player::black) == a_black;
    g.score = a_won ? 1 : 0;
    if (a_won) ++result.a_wins;
    g.game_id = stem;
    g.game_id.append("-").append(std::to_string(i));
    g.pair_id = stem;
    g.pair_id.append("-p").append(std::to_string(pair));
    result.games.push_back(std::move(g));
    if (progress) progress(i + 1, games);
  }
  return result;
}

}  // namespace p2p::workload
