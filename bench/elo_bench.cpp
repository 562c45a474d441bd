#include "bench/elo_bench.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "actors/elo/elo_actor.hpp"
#include "actors/elo/match_store.hpp"
#include "actors/elo/rating_pool.hpp"
#include "actors/elo/ratings.hpp"
#include "bench/harness/node_process.hpp"
#include "bench/stats.hpp"
#include "protocol/common/json.hpp"
#include "protocol/messages/elo_codec.hpp"

namespace p2p::bench {
namespace {

struct elo_settings {
  std::uint64_t games = 100000;
  std::uint64_t players = 50;
  std::uint64_t fresh = 1000;
  int repeat = 3;
  std::uint64_t seed = 1;
  bool json = false;
};

struct figure {
  std::string name, unit, baseline;
  std::vector<double> ours, base;
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Games between players of evenly spread strengths (0 to 600 Elo apart), with draws.
std::vector<elo::match> simulated_games(std::uint64_t count, std::uint64_t players, std::uint64_t seed,
                                        const std::string& prefix) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<elo::match> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto a = rng() % players, b = (a + 1 + rng() % (players - 1)) % players;
    const double gap = (static_cast<double>(a) - static_cast<double>(b)) * 600.0 / static_cast<double>(players);
    const double expected = 1 / (1 + std::pow(10.0, -gap / 400));
    const double u = unit(rng);
    const double score = u < 0.15 ? 0.5 : u < 0.15 + 0.85 * expected ? 1 : 0;
    std::string id = prefix;
    id.append(std::to_string(i));
    std::string pa = "model-", pb = "model-";
    pa.append(std::to_string(a));
    pb.append(std::to_string(b));
    auto two = [](std::uint64_t v) {
      std::string t(v < 10 ? "0" : "");
      t.append(std::to_string(v));
      return t;
    };
    std::string played("2026-11-");
    played.append(two(1 + i / 86400 % 28)).append("T").append(two(i / 3600 % 24)).append(":");
    played.append(two(i / 60 % 60)).append(":").append(two(i % 60)).append(".000Z");
    out.push_back(elo::match{std::move(id), "hex8_2p", std::move(pa), std::move(pb), score, std::nullopt, played});
  }
  return out;
}

// The JSON bytes of a sync reply carrying `rows`, as POST /elo/sync sends it.
std::size_t wire_bytes(const std::vector<elo::stored_match>& rows, const elo::high_water_marks& marks) {
  msg::elo_sync_reply reply;
  for (const auto& r : rows) reply.matches.push_back(to_wire(r));
  for (const auto& [origin, seq] : marks) reply.marks.push_back({origin, seq});
  return codec::encode(reply).size();
}

std::vector<figure> measure(const elo_settings& s) {
  harness::temp_dir dir("p2p-elo-bench");
  elo::match_store origin(dir.path() / "origin.sqlite"), replica(dir.path() / "replica.sqlite");
  elo::rating_pool replica_pool;
  const auto base_games = simulated_games(s.games, s.players, s.seed, "g");
  origin.ingest(base_games, "origin-node", "2026-11-30T12:00:00.000Z");
  {  // the replica starts in sync
    bool more = true;
    while (more) {
      auto rows = origin.rows_after(replica.marks(), 60 * 1024, more);
      for (const auto& r : replica.merge(rows, "t").stored) replica_pool.add(r.game);
    }
  }
  figure fit{"fit bayes " + std::to_string(s.games) + " games " + std::to_string(s.players) + " players", "ms",
             "replay", {}, {}};
  figure ingest{"ingest " + std::to_string(s.fresh) + " games (fsync)", "ms", "per_game_txn", {}, {}};
  figure bytes{"sync bytes " + std::to_string(s.fresh) + " new on " + std::to_string(s.games), "bytes", "full",
               {}, {}};
  figure time{"sync+refit " + std::to_string(s.fresh) + " new on " + std::to_string(s.games), "ms", "replay_all",
              {}, {}};
  for (int run = 0; run < s.repeat; ++run) {
    // Fit all games at once vs replay them all.
    auto tallies = replica_pool.tallies("hex8_2p");
    auto start = std::chrono::steady_clock::now();
    auto fitted = elo::fit_bayes(tallies);
    fit.ours.push_back(ms_since(start));
    auto all = replica_pool.games("hex8_2p");
    start = std::chrono::steady_clock::now();
    auto replayed = elo::classic_elo(all);
    fit.base.push_back(ms_since(start));
    if (fitted.players.size() != s.players || replayed.size() != s.players)
      throw std::logic_error("a fit lost players");

    // New games arrive at the origin: one transaction, and (baseline) one per game.
    auto fresh = simulated_games(s.fresh, s.players, s.seed + 1000 + static_cast<std::uint64_t>(run),
                                 "n" + std::to_string(run) + "-");
    start = std::chrono::steady_clock::now();
    origin.ingest(fresh, "origin-node", "2026-11-30T12:00:00.000Z");
    ingest.ours.push_back(ms_since(start));
    elo::match_store scratch(dir.path() / ("scratch" + std::to_string(run) + ".sqlite"));
    const std::size_t sample = std::min<std::size_t>(fresh.size(), 50);
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < sample; ++i)
      scratch.ingest(std::span<const elo::match>(&fresh[i], 1), "origin-node", "t");
    ingest.base.push_back(ms_since(start) * static_cast<double>(fresh.size()) / static_cast<double>(sample));

    // Sync by marks, then refit; against shipping every row and replaying all games.
    start = std::chrono::steady_clock::now();
    std::size_t sent = 0;
    bool more = true;
    while (more) {
      auto rows = origin.rows_after(replica.marks(), 60 * 1024, more);
      sent += wire_bytes(rows, origin.marks());
      for (const auto& r : replica.merge(rows, "t").stored) replica_pool.add(r.game);
    }
    auto refit = elo::fit_bayes(replica_pool.tallies("hex8_2p"));
    time.ours.push_back(ms_since(start));
    bytes.ours.push_back(static_cast<double>(sent));
    if (replica.rows() != origin.rows()) throw std::logic_error("the replica did not catch up");

    start = std::chrono::steady_clock::now();
    bool rest = true;
    std::size_t full = 0;
    elo::high_water_marks nothing;
    std::vector<elo::match> everything;
    while (rest) {
      auto rows = origin.rows_after(nothing, 60 * 1024, rest);
      full += wire_bytes(rows, origin.marks());
      for (auto& r : rows) {
        nothing[r.origin_node] = r.origin_seq;
        everything.push_back(std::move(r.game));
      }
    }
    auto replay_all = elo::classic_elo(everything);
    time.base.push_back(ms_since(start));
    bytes.base.push_back(static_cast<double>(full));
    if (replay_all.size() != refit.players.size()) throw std::logic_error("the baselines disagree on players");
  }
  return {fit, ingest, bytes, time};
}

const char* elo_usage =
    "elo options:\n"
    "  --games N      games already stored (100000)\n"
    "  --players P    players (50)\n"
    "  --new K        new games that sync carries (1000)\n"
    "  --repeat R     runs per figure (3)\n"
    "  --seed S       seed of the simulated games (1)\n"
    "  --json         one JSON object per figure\n";

bool parse_count(const std::string& text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

int run_elo_bench(int argc, char** argv) {
  elo_settings s;
  std::uint64_t repeat = 3;
  std::map<std::string, std::uint64_t*> counts{{"games", &s.games}, {"players", &s.players}, {"new", &s.fresh},
                                               {"repeat", &repeat}, {"seed", &s.seed}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << elo_usage;
      return 0;
    }
    if (arg == "--json") {
      s.json = true;
      continue;
    }
    std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2) : "", value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (!name.empty() && i + 1 < argc) {
      value = argv[++i];
    }
    auto it = counts.find(name);
    if (it == counts.end() || !parse_count(value, *it->second)) {
      std::cerr << "p2p-bench elo: bad argument '" << arg << "'\n" << elo_usage;
      return 2;
    }
  }
  if (s.players < 2 || s.games < s.players || s.fresh < 1 || repeat < 1 || repeat > 1000) {
    std::cerr << "p2p-bench elo: need players >= 2, games >= players, new >= 1, 1 <= repeat <= 1000\n";
    return 2;
  }
  s.repeat = static_cast<int>(repeat);
  auto figures = measure(s);
  if (!s.json)
    std::printf("%-6s %-40s %-6s %12s %12s %12s  baseline median (ours/baseline)\n", "bench", "case", "unit", "min",
                "median", "p99");
  for (const auto& f : figures) {
    auto ours = summarize(f.ours), base = summarize(f.base);
    auto q = ratio(ours.median, base.median);
    if (s.json) {
      json::writer w;
      w.begin_object()
          .field("bench", "elo")
          .field("name", f.name)
          .field("unit", f.unit)
          .field("higher_is_better", false)
          .field("runs", static_cast<std::uint64_t>(ours.runs))
          .field("min", ours.min)
          .field("median", ours.median)
          .field("p99", ours.p99)
          .field(f.baseline + "_median", base.median)
          .key(f.baseline + "_ratio");
      if (q) w.value(*q);
      else w.null();
      w.field("games", s.games).field("players", s.players).field("new", s.fresh).end_object();
      std::printf("%s\n", w.take().c_str());
    } else {
      std::printf("%-6s %-40s %-6s %12.2f %12.2f %12.2f  %s %.2f (%.4fx)\n", "elo", f.name.c_str(), f.unit.c_str(),
                  ours.min, ours.median, ours.p99, f.baseline.c_str(), base.median, q ? *q : 0.0);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace p2p::bench
