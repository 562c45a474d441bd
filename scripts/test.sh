#!/usr/bin/env bash
# Installs what the project needs, builds it, and runs every test suite: the Release build's
# unit and process tests, then the unit and contract tests again under ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2P_SANITIZE=ON \
  -DP2P_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/sanitizers/ubsan.supp
(cd build-asan && ctest --output-on-failure -L "unit|sim" -j "$jobs" && \
  ctest --output-on-failure -L process)
