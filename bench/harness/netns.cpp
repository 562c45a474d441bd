#include "bench/harness/netns.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "bench/harness/node_process.hpp"

namespace p2p::harness {
namespace {

std::string find_ip() {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::filesystem::path p = std::filesystem::path(dir) / "ip";
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

std::atomic<int> labs_made{0};

// Appends, as GCC 12 warns falsely (-Wrestrict) about operator+ on a literal and a string.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out.append(out.empty() ? "" : " ").append(w);
  return out;
}

}  // namespace

std::string netns_lab::unavailable_reason() {
  if (::geteuid() != 0) return "network namespaces need root";
  if (find_ip().empty()) return "iproute2's ip is not installed";
  return {};
}

netns_lab::netns_lab(int nodes) : nodes_(nodes), lab_(labs_made++ % 200) {
  if (auto why = unavailable_reason(); !why.empty()) throw std::runtime_error(why);
  if (nodes < 1 || nodes > 60) throw std::invalid_argument("a lab has 1 to 60 nodes");
  tag_ = std::to_string(::getpid() % 100000);
  tag_.append("x").append(std::to_string(lab_));
  hub_ = cat({"p2p", tag_, "h"});
  try {
    ip({"netns", "add", hub_});
    hub_made_ = true;
    ip({"-n", hub_, "link", "add", "br0", "type", "bridge"});
    ip({"-n", hub_, "link", "set", "br0", "up"});
    for (int i = 0; i < nodes; ++i) {
      const auto ns = namespace_of(i);
      const auto n = std::to_string(i);
      ip({"netns", "add", ns});
      made_.push_back(ns);
      ip({"-n", ns, "link", "set", "lo", "up"});
      // The data link: node side "data0", hub side "d<i>" on the bridge.
      const std::string data_tmp = cat({"q", tag_, "d", n}), hub_side = cat({"p", tag_, "d", n});
      ip({"link", "add", hub_side, "type", "veth", "peer", "name", data_tmp});
      ip({"link", "set", hub_side, "netns", hub_});
      ip({"link", "set", data_tmp, "netns", ns});
      ip({"-n", ns, "link", "set", data_tmp, "name", "data0"});
      ip({"-n", ns, "addr", "add", cat({cluster_host(i), "/24"}), "dev", "data0"});
      ip({"-n", ns, "link", "set", "data0", "up"});
      ip({"-n", hub_, "link", "set", hub_side, "name", cat({"d", n})});
      ip({"-n", hub_, "link", "set", cat({"d", n}), "master", "br0"});
      ip({"-n", hub_, "link", "set", cat({"d", n}), "up"});
      // The control link: this namespace's end and the node's "ctl0", a /30 of their own.
      const std::string here = cat({"p", tag_, "c", n}), there = cat({"q", tag_, "c", n});
      ip({"link", "add", here, "type", "veth", "peer", "name", there});
      control_links_.push_back(here);
      ip({"link", "set", there, "netns", ns});
      ip({"-n", ns, "link", "set", there, "name", "ctl0"});
      const std::string base = cat({"10.214.", std::to_string(lab_), "."});
      ip({"addr", "add", cat({base, std::to_string(4 * i + 1), "/30"}), "dev", here});
      ip({"link", "set", here, "up"});
      ip({"-n", ns, "addr", "add", cat({http_host(i), "/30"}), "dev", "ctl0"});
      ip({"-n", ns, "link", "set", "ctl0", "up"});
    }
  } catch (...) {
    remove_all();
    throw;
  }
}

netns_lab::~netns_lab() { remove_all(); }

void netns_lab::remove_all() {
  const auto ip_path = find_ip();
  auto quietly = [&](const std::vector<std::string>& args) {
    child_process p(ip_path, args);
    p.wait_exit(std::chrono::seconds(10));
  };
  // Deleting a namespace deletes the links inside it, and with them their peers.
  for (const auto& link : control_links_) quietly({"link", "del", link});
  for (const auto& ns : made_) quietly({"netns", "del", ns});
  if (hub_made_) quietly({"netns", "del", hub_});
  control_links_.clear();
  made_.clear();
  hub_made_ = false;
}

std::string netns_lab::namespace_of(int i) const { return cat({"p2p", tag_, "n", std::to_string(i)}); }

std::vector<std::string> netns_lab::launcher(int i) const { return {find_ip(), "netns", "exec", namespace_of(i)}; }

std::string netns_lab::http_host(int i) const {
  return cat({"10.214.", std::to_string(lab_), ".", std::to_string(4 * i + 2)});
}

std::string netns_lab::cluster_host(int i) const {
  return cat({"10.213.", std::to_string(lab_), ".", std::to_string(i + 2)});
}

void netns_lab::cut(int i, bool cut_off) {
  ip({"-n", hub_, "link", "set", cat({"d", std::to_string(i)}), cut_off ? "down" : "up"});
}

void netns_lab::ip(const std::vector<std::string>& args) const {
  child_process p(find_ip(), args);
  auto code = p.wait_exit(std::chrono::seconds(10));
  if (code != 0) throw std::runtime_error(cat({"ip ", join(args), " failed: ", p.err()}));
}

}  // namespace p2p::harness
