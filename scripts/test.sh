#!/usr/bin/env bash
# Sets up, builds everything (including the AddressSanitizer plan fuzzer and the torch_kiln extension) and runs
# all tests: the C++ tests through ctest, then the Python tests with pytest (KILN_TEST_DEVICE=cuda for CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DKILN_BUILD_TESTS=ON -DKILN_BUILD_FUZZ=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
.venv/bin/python -m pytest tests/python -q -W ignore::FutureWarning
