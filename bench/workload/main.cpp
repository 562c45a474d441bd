// p2p-workload: the built-in reference workload (Hex self-play, training and matches).
#include "bench/workload/commands.hpp"

int main(int argc, char** argv) { return p2p::workload::run_command_line(argc, argv); }
