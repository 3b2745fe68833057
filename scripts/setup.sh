#!/usr/bin/env bash
# Installs Kiln's build dependencies (Debian 12 packages and a pinned Python venv in .venv), builds the C++
# core, the kiln tool and the torch_kiln extension into build/, and puts python/ on the venv's path.
# Usage: bash scripts/setup.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libopenblas-dev libopenblas-openmp-dev nlohmann-json3-dev libcli11-dev libgtest-dev ccache python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[setup] installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" || \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]/python3-venv/}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "[setup] creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision, pybind11, pytest, numpy" 2>/dev/null; then
  echo "[setup] installing Python packages (torch is several GB the first time)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" \
  -Dpybind11_DIR="$(.venv/bin/python -m pybind11 --cmakedir)" "$@"
cmake --build build -j "$(nproc)"

# `import torch_kiln` from the venv, for this checkout.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD/python" > "$site/torch_kiln_checkout.pth"
