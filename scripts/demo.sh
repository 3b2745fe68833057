#!/usr/bin/env bash
# The main job: set up, build, then compile a network with Kiln's engine and run it on the CPU backend,
# checked against an independent computation, with timings; then inspect the saved plan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DKILN_BUILD_TESTS=OFF >/dev/null
mkdir -p build/demo
./build/kiln demo --save build/demo/mlp.kiln
./build/kiln inspect build/demo/mlp.kiln
./build/kiln run build/demo/mlp.kiln -n 50
