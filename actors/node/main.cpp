#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "actors/node/config.hpp"
#include "actors/node/node.hpp"

int main(int argc, char** argv) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  auto parsed = p2p::parse_node_options(argc, argv, std::getenv("HOME"),
                                        std::getenv("XDG_STATE_HOME"), host);
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }
  return p2p::run_node(*parsed.config);
}
