#include "actors/console/console.hpp"

int main(int argc, char** argv) { return p2p::console::main(argc, argv); }
