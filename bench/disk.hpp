#pragma once
// fsync probes on the filesystem the benches' data dirs live on (the system temp dir).
#include <cstddef>
#include <string>
#include <vector>

namespace p2p::bench {

// `count` 4 KiB appends, each made durable (write + fdatasync) before the next: the floor of one
// Raft log write. Milliseconds, one per append. Throws std::runtime_error when the file fails.
std::vector<double> fdatasync_ms(std::size_t count);

// Deleting a cluster's data dirs (etcd preallocates 64 MB per log segment) or another process's
// flush can keep the disk busy for seconds, with fsyncs at ~4 ms instead of ~0.2: waits (up to
// 10 s) until most fsyncs are about as quick as the quickest. False when they did not settle
// (`what` names the bench in the warning it prints then).
bool await_settled_disk(const std::string& what);

}  // namespace p2p::bench
