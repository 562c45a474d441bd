#pragma once
// p2p-console: a CAF client of one node. It reaches the node's directory actor through the
// middleman and talks to the actors with typed messages; no HTTP underneath.
#include <string>
#include <vector>

namespace p2p::console {

// Exit codes of p2p-console.
constexpr int exit_ok = 0;
constexpr int exit_command_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_cannot_connect = 3;

int main(int argc, char** argv);

// Splits a command line into words; double quotes group words.
std::vector<std::string> split_words(const std::string& line);

}  // namespace p2p::console
