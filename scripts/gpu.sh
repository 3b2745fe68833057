#!/usr/bin/env bash
# Kiln on a GPU machine, one command per job:
#   bash scripts/gpu.sh test     build with CUDA; the engine's layer tests on the CUDA backend, the same under
#                                compute-sanitizer memcheck, and the Python tests with KILN_TEST_DEVICE=cuda
#   bash scripts/gpu.sh bench    build with CUDA; the benchmark suite (bench/run.py; extra arguments pass on)
#   bash scripts/gpu.sh build    only the build
# Uses the machine's python3 (with torch) unless PYTHON is set; KILN_DEPS_PREFIX points at unpacked
# dependencies on machines without them (OpenBLAS). Logs go to $KILN_LOG_DIR (default build-gpu/logs).
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-test}
shift || true
BUILD=${KILN_BUILD_DIR:-build-gpu}
PY=${PYTHON:-python3}
LOGS=${KILN_LOG_DIR:-$BUILD/logs}
mkdir -p "$BUILD" "$LOGS"

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_WITH_CUDA=ON -DKILN_BUILD_FUZZ=OFF \
  -DPython_EXECUTABLE="$(command -v "$PY")" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" \
  ${KILN_DEPS_PREFIX:+-DKILN_DEPS_PREFIX=$KILN_DEPS_PREFIX} >"$LOGS/cmake.log"
ninja -C "$BUILD" >"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log"; exit 1; }
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"

case "$job" in
  build) ;;
  test)
    status=0
    echo "== engine layer tests on the CUDA backend"
    KILN_TEST_BACKEND=cuda "$BUILD/kiln_engine_tests" --gtest_brief=1 >"$LOGS/engine_cuda.log" 2>&1 || status=1
    grep -E "^\[  (PASSED|FAILED)|tests? ran|FAILED  \]" "$LOGS/engine_cuda.log" | tail -60
    # The Python tests run beside the memcheck shards (both are slow, neither times anything); their
    # results print after the memcheck's.
    xdist=()
    if "$PY" -c "import xdist" 2>/dev/null; then xdist=(-n "${KILN_PYTEST_WORKERS:-8}"); fi
    KILN_TEST_DEVICE=cuda "$PY" -m pytest -q -p no:cacheprovider "${xdist[@]}" tests/python "$@" \
      >"$LOGS/pytest_cuda.log" 2>&1 &
    pytest_pid=$!
    echo "== compute-sanitizer memcheck on the layer tests (4 shards at once; graph replay tests need graphs on)"
    if command -v compute-sanitizer >/dev/null; then
      pids=()
      for shard in 0 1 2 3; do
        KILN_TEST_BACKEND=cuda KILN_CUDA_GRAPHS=0 GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$shard \
          compute-sanitizer --tool memcheck --leak-check no --error-exitcode 9 "$BUILD/kiln_engine_tests" \
          --gtest_brief=1 --gtest_filter="${KILN_MEMCHECK_FILTER:--GraphReplay.*}" >"$LOGS/memcheck_$shard.log" 2>&1 &
        pids+=($!)
      done
      for pid in "${pids[@]}"; do wait "$pid" || status=1; done
      grep -hE "ERROR SUMMARY|^\[  (PASSED|FAILED)" "$LOGS"/memcheck_*.log | tail -12
    fi
    echo "== Python tests with KILN_TEST_DEVICE=cuda"
    wait "$pytest_pid" || status=1
    grep -E "passed|failed|^FAILED|^ERROR" "$LOGS/pytest_cuda.log" | tail -40
    exit $status
    ;;
  bench)
    "$PY" bench/run.py "$@"
    ;;
  *)
    echo "usage: bash scripts/gpu.sh test|bench|build [args]" >&2
    exit 2
    ;;
esac
