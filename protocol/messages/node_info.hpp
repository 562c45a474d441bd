#pragma once
// NodeInfo: what a node publishes about itself through gossip (DESIGN.md §4) and how it is
// written as JSON. The gossip core carries it as opaque JSON; this is its one definition.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace p2p {

struct gpu_info {
  std::string name;
  std::uint64_t memory_mb = 0;
};

struct host_resources {
  unsigned cores = 0;
  double load1 = 0;  // one-minute load average
  std::uint64_t memory_total_mb = 0;
  std::uint64_t memory_available_mb = 0;
  double disk_free_gb = 0;  // on the data dir's file system
  std::vector<gpu_info> gpus;
};

struct node_info {
  std::string node_id;
  std::string node_uuid;
  std::string http;     // host:port
  std::string cluster;  // host:port
  bool voter = false;
  std::vector<std::string> work_types;
  std::map<std::string, std::string> labels;
  host_resources resources;
  std::string version;
  std::uint64_t running_work = 0;
  std::string relay;  // the relay route when behind NAT; empty when reachable directly
};

std::string encode_node_info(const node_info& info);
// nullopt when `json` is not a NodeInfo object.
std::optional<node_info> decode_node_info(std::string_view json);

// Reads this host's load, memory and free disk from /proc and statvfs. GPUs are not probed
// here (that runs a program): see probe_gpus.
host_resources read_host_resources(const std::filesystem::path& data_dir);
// Asks nvidia-smi for the GPUs when it is installed; empty otherwise.
std::vector<gpu_info> probe_gpus();

// Whether `now` differs from `before` enough to publish (load and memory drift constantly).
bool resources_changed(const host_resources& before, const host_resources& now);

}  // namespace p2p
