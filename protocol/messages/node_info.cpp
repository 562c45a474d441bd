#include "protocol/messages/node_info.hpp"

#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "protocol/common/json.hpp"

extern char** environ;

namespace p2p {

std::string encode_node_info(const node_info& x) {
  json::writer w;
  w.begin_object()
      .field("node_id", x.node_id)
      .field("node_uuid", x.node_uuid)
      .field("http", x.http)
      .field("cluster", x.cluster)
      .field("voter", x.voter)
      .key("work_types")
      .begin_array();
  for (const auto& t : x.work_types) w.value(t);
  w.end_array().key("labels").begin_object();
  for (const auto& [k, v] : x.labels) w.field(k, v);
  w.end_object().key("resources").begin_object();
  const auto& r = x.resources;
  w.field("cores", r.cores)
      .field("load1", r.load1)
      .field("memory_total_mb", r.memory_total_mb)
      .field("memory_available_mb", r.memory_available_mb)
      .field("disk_free_gb", r.disk_free_gb)
      .key("gpus")
      .begin_array();
  for (const auto& g : r.gpus)
    w.begin_object().field("name", g.name).field("memory_mb", g.memory_mb).end_object();
  w.end_array().end_object();
  w.field("version", x.version).field("running_work", x.running_work).key("relay");
  if (x.relay.empty()) w.null();
  else w.value(x.relay);
  w.end_object();
  return w.take();
}

std::optional<node_info> decode_node_info(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc)) return std::nullopt;
  node_info x;
  auto str = [](simdjson::dom::element e, std::string_view key, std::string& out) {
    std::string_view v;
    if (e[key].get(v)) return false;
    out = std::string(v);
    return true;
  };
  if (!str(doc, "node_id", x.node_id) || !str(doc, "node_uuid", x.node_uuid) ||
      !str(doc, "cluster", x.cluster))
    return std::nullopt;
  str(doc, "http", x.http);
  str(doc, "version", x.version);
  str(doc, "relay", x.relay);
  bool voter = false;
  if (!doc["voter"].get(voter)) x.voter = voter;
  std::uint64_t running = 0;
  if (!doc["running_work"].get(running)) x.running_work = running;
  simdjson::dom::array types;
  if (!doc["work_types"].get(types))
    for (auto t : types) {
      std::string_view v;
      if (!t.get(v)) x.work_types.emplace_back(v);
    }
  simdjson::dom::object labels;
  if (!doc["labels"].get(labels))
    for (auto field : labels) {
      std::string_view v;
      if (!field.value.get(v)) x.labels[std::string(field.key)] = std::string(v);
    }
  simdjson::dom::element res;
  if (!doc["resources"].get(res)) {
    std::uint64_t u = 0;
    double d = 0;
    if (!res["cores"].get(u)) x.resources.cores = static_cast<unsigned>(u);
    if (!res["load1"].get(d)) x.resources.load1 = d;
    if (!res["memory_total_mb"].get(u)) x.resources.memory_total_mb = u;
    if (!res["memory_available_mb"].get(u)) x.resources.memory_available_mb = u;
    if (!res["disk_free_gb"].get(d)) x.resources.disk_free_gb = d;
    simdjson::dom::array gpus;
    if (!res["gpus"].get(gpus))
      for (auto g : gpus) {
        gpu_info gi;
        str(g, "name", gi.name);
        if (!g["memory_mb"].get(u)) gi.memory_mb = u;
        x.resources.gpus.push_back(gi);
      }
  }
  return x;
}

host_resources read_host_resources(const std::filesystem::path& data_dir) {
  host_resources r;
  r.cores = std::max(1u, std::thread::hardware_concurrency());
  if (std::ifstream load("/proc/loadavg"); load) load >> r.load1;
  if (std::ifstream mem("/proc/meminfo"); mem) {
    std::string key, unit;
    std::uint64_t kib = 0;
    while (mem >> key >> kib >> unit) {
      if (key == "MemTotal:") r.memory_total_mb = kib / 1024;
      if (key == "MemAvailable:") r.memory_available_mb = kib / 1024;
    }
  }
  struct statvfs fs {};
  if (::statvfs(data_dir.c_str(), &fs) == 0)
    r.disk_free_gb = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize) / 1e9;
  r.disk_free_gb = std::round(r.disk_free_gb * 10) / 10;
  return r;
}

namespace {
bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((std::filesystem::path(dir) / program).c_str(), X_OK) == 0)
      return true;
  return false;
}
}  // namespace

std::vector<gpu_info> probe_gpus() {
  std::vector<gpu_info> gpus;
  if (!on_path("nvidia-smi")) return gpus;
  int fds[2];
  if (::pipe(fds) != 0) return gpus;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const char* argv[] = {"nvidia-smi", "--query-gpu=name,memory.total",
                        "--format=csv,noheader,nounits", nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, "nvidia-smi", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out.clear();
  }
  ::close(fds[0]);
  std::stringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto comma = line.rfind(',');
    if (comma == std::string::npos) continue;
    gpu_info g;
    g.name = line.substr(0, comma);
    try {
      g.memory_mb = std::stoull(line.substr(comma + 1));
    } catch (const std::exception&) {
      continue;
    }
    gpus.push_back(g);
  }
  return gpus;
}

bool resources_changed(const host_resources& a, const host_resources& b) {
  auto relative = [](double x, double y) { return std::abs(x - y) > 0.05 * std::max(1.0, std::max(x, y)); };
  return a.cores != b.cores || std::abs(a.load1 - b.load1) >= 0.5 ||
         relative(static_cast<double>(a.memory_available_mb), static_cast<double>(b.memory_available_mb)) ||
         relative(a.disk_free_gb, b.disk_free_gb) || a.gpus.size() != b.gpus.size();
}

}  // namespace p2p
