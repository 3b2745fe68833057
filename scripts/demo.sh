#!/usr/bin/env bash
# The main job: set up and build, then compile a torchvision ResNet (random weights) with Kiln and print its
# max error against eager PyTorch and the time of each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DKILN_BUILD_TESTS=OFF >/dev/null
.venv/bin/python -W ignore::FutureWarning scripts/main_job.py "$@"
