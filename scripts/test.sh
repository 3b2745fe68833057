#!/usr/bin/env bash
# Sets up, builds everything (including the AddressSanitizer plan fuzzer) and runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DKILN_BUILD_TESTS=ON -DKILN_BUILD_FUZZ=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
