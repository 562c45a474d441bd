#pragma once
// p2p-bench work: what the replicated work queue costs a worker, per item and per second.
//
//   p2p-bench work [--cycles N] [--seconds S] [--clients LIST] [--batch LIST] [--connections C]
//                  [--stock N] [--repeat R] [--only LIST] [--quick] [--json]
//
// Figures, each over R runs (min, median, p99 of the per-run values), each next to a baseline
// measured in the same run:
// - cycle (HTTP): one worker on a single-node cluster claiming one item (max_items 1, a
//   request_id) and completing it, sequentially, on one kept-alive connection: p50 and p99 of
//   the cycle. Baseline `kv2`: two sequential POST /raft/kv writes on the same node (a cycle is
//   two replicated commands), so the ratio is the queue's own overhead.
// - cycle (CAF): the same cycle from a CAF client over the node's cluster port, talking to the
//   node's work_queue actor as the console does (the middleman, the node's directory, typed
//   messages). Baselines: `kv2`, two raft_kv_put to the node's raft actor over the same
//   connection; `http`, the HTTP cycle of the same run.
// - completed items/s on three voters: C worker clients spread over the three nodes, each
//   claiming batches of B (with a request_id) and completing them one by one, while a feeder
//   keeps a stock of pending items ahead with batched adds; one figure per (C, B). Baselines:
//   `goal` 2,000 items/s, `kv`, POST /raft/kv writes/s from C clients spread alike on the same
//   cluster (one replicated command each; an item costs one complete plus 1/B of a claim).
// - worker API against aiohttp: claim+complete cycles from `wrk -t1 -cC` with a Lua script
//   (reference/work-cycle.lua) against a single node and against the same handlers in
//   python3-aiohttp, state in memory (reference/aiohttp_work_server.py): requests/s and p99.
//   Baseline `kv` beside it: the same node's POST /raft/kv under the same wrk load.
// --quick runs every figure at a small size (well under a minute); --only picks figures by name:
// http, caf, cluster, aiohttp. Nothing is asserted: the figures are for reading and comparing.
namespace p2p::bench {

// argv[0] is "work"; prints one result per figure; returns the exit code (2 for bad options).
int run_work_bench(int argc, char** argv);

}  // namespace p2p::bench
