#pragma once
// Real network partitions between local nodes: each node runs in its own network namespace.
// Its cluster port sits on a shared segment (a bridge in a private hub namespace, whose empty
// firewall forwards everything), and its HTTP port on a point-to-point link to the test's
// namespace, so the test can still talk to a node that is cut off from the others. Cutting a
// node's link to the bridge is a partition as the nodes see it: packets vanish, connections
// time out. Needs root and iproute2; `unavailable_reason()` says why a lab cannot be built.
#include <string>
#include <vector>

namespace p2p::harness {

class netns_lab {
 public:
  // Empty when this process can build a lab.
  static std::string unavailable_reason();

  explicit netns_lab(int nodes);
  ~netns_lab();  // removes every namespace and link it made
  netns_lab(const netns_lab&) = delete;
  netns_lab& operator=(const netns_lab&) = delete;

  int size() const { return nodes_; }
  // The command prefix that runs a program inside node i's namespace.
  std::vector<std::string> launcher(int i) const;
  std::string http_host(int i) const;     // reachable from the test
  std::string cluster_host(int i) const;  // reachable from the other nodes (unless cut)
  // Cuts (or restores) node i's link to the other nodes.
  void cut(int i, bool cut_off);

 private:
  std::string namespace_of(int i) const;
  void remove_all();
  void ip(const std::vector<std::string>& args) const;
  int nodes_;
  int lab_;          // distinguishes labs of this process
  std::string tag_;  // distinguishes processes
  std::string hub_;
  bool hub_made_ = false;
  std::vector<std::string> made_;  // node namespaces to delete
  std::vector<std::string> control_links_;  // this namespace's ends of the control links
};

}  // namespace p2p::harness
