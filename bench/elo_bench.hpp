#pragma once
// p2p-bench elo: what ratings and sync cost at the sizes a training cluster reaches.
//
//   p2p-bench elo [--games N] [--players P] [--new K] [--repeat R] [--seed S] [--json]
//
// Figures (each over R runs, against a baseline measured in the same run):
// - fit: the bayes fit of all N games at once (tallies in canonical order, then Newton), against
//   replaying all N games through classic Elo, the original's way of merging ratings.
// - ingest: storing K new games durably (one SQLite transaction, synchronous=FULL).
// - sync bytes and sync time: bringing a second node's store from N to N + K games by
//   high-water marks (the rows beyond its marks, in 60 KiB chunks, as JSON on the wire) and
//   refitting, against shipping and replaying everything (all N + K rows, classic Elo over all).
//   The goal is at least 100x less work than re-playing everything.
namespace p2p::bench {

// argv[0] is "elo"; prints one result per figure; returns the exit code (2 for bad options).
int run_elo_bench(int argc, char** argv);

}  // namespace p2p::bench
