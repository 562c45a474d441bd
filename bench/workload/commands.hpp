#pragma once
// The p2p-workload command line: selfplay, train, match, and item (a runner's work item).
// Each command prints "PROGRESS <0..1> <message>" lines on stdout while it works and writes its
// JSON result to $P2P_RESULT_FILE when that is set, else prints it as the last stdout line.
// Exit codes: 0 done, 1 failed (message on stderr), 2 bad usage (message and usage on stderr).
#include <string>

namespace p2p::workload {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;

// argv[0] is the program name, argv[1] the command.
int run_command_line(int argc, char** argv);

// The usage text of all commands.
std::string usage_text();

}  // namespace p2p::workload
