#pragma once
// Prometheus text exposition, written by hand: a family header, then its samples.
#include <string>
#include <string_view>

namespace p2p::prometheus {

inline void family(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// `labels` is empty or already rendered: {actor="admin"}.
inline void sample(std::string& out, std::string_view name, std::string_view labels,
                   std::string_view value) {
  out.append(name).append(labels).append(" ").append(value).append("\n");
}

}  // namespace p2p::prometheus
