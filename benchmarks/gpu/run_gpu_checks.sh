#!/usr/bin/env bash
# The GPU verification in one command, for a machine with an NVIDIA GPU, cupy and torch (no network needed):
#   bash benchmarks/gpu/run_gpu_checks.sh [install] [cupy-tests] [bench] [suite-bench] [tests] [bench-quick]
# (default: install cupy-tests bench suite-bench tests, in that order: the most telling results first, so a
# run cut short still brings them back). At most 9.5 minutes: each phase has a time cap.
# 1. install: pip install --no-build-isolation --no-deps -e . (done anyway when this checkout is not installed)
# 2. cupy-tests: tests/test_cupy_backend.py and tests/test_cuda_api.py, verbose, on their own (cap 120 s)
# 3. bench: benchmarks/gpu/bench_gpu.py, the issue's targets: tinygrad_chain cupy vs torch CUDA, and the
#    best CPU device (cap 150 s)
# 4. suite-bench: python -m benchmarks --devices cuda (JSON, tables, charts for benchmarks/results/gpu; cap 150 s)
# 5. tests: the suite on the GPU only (TINYGRAD_CHAIN_TEST_DEVICE=cupy; op database first, no training runs),
#    capped at SUITE_SECONDS (120)
# Logs and results go to $OUT/gpu_checks (or ./gpu_checks_out); a summary is printed at the end.
set -u
cd "$(dirname "$0")/../.."
DEST="${OUT:-$PWD/gpu_checks_out}/gpu_checks"
mkdir -p "$DEST"
: > "$DEST/summary.txt"
PHASES=("$@")
[ ${#PHASES[@]} -eq 0 ] && PHASES=(install cupy-tests bench suite-bench tests)
PY=${PYTHON:-python}
export PYTHONUNBUFFERED=1
unset TINYGRAD_CHAIN_DEVICE

has() { local p; for p in "${PHASES[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
say() { echo "== $*" | tee -a "$DEST/summary.txt"; }

{
  date -u; nvidia-smi 2>&1 | head -20
  $PY -c "import cupy, torch; print('cupy', cupy.__version__, 'torch', torch.__version__, 'torch cuda', torch.cuda.is_available()); print('devices', cupy.cuda.runtime.getDeviceCount())" 2>&1
} > "$DEST/env.txt"
say "env: $(tail -2 "$DEST/env.txt" | tr '\n' ' ')"

installed() {
  $PY - <<'PY' 2>/dev/null
import os, sys, tinygrad_chain.backends as b
sys.exit(0 if os.path.realpath(b.__file__).startswith(os.path.realpath("backends")) else 1)
PY
}
if has install || ! installed; then
  $PY -m pip install --no-build-isolation --no-deps -e . > "$DEST/install.log" 2>&1
  say "install rc=$? (install.log; 'C++ kernels not built' warnings: $(grep -c 'C++ kernels not built' "$DEST/install.log"))"
else
  say "install: this checkout is already installed"
fi
$PY -c "import tinygrad_chain as tc; print('devices', tc.backends.available(), '| cupy:', tc.cuda.unavailable_reason() or 'ok', '|', tc.cuda.get_device_name() if tc.cuda.is_available() else '')" > "$DEST/devices.txt" 2>&1
say "$(tail -1 "$DEST/devices.txt")"

if has cupy-tests; then
  timeout 120 $PY -m pytest tests/test_cupy_backend.py tests/test_cuda_api.py -v -ra -p no:cacheprovider \
    --junitxml="$DEST/pytest_cupy_backend.xml" > "$DEST/pytest_cupy_backend.log" 2>&1
  say "cupy backend tests rc=$?: $(tail -1 "$DEST/pytest_cupy_backend.log")"
fi
if has bench; then
  timeout 150 $PY benchmarks/gpu/bench_gpu.py --repeat 5 --out "$DEST/bench" > "$DEST/bench.log" 2>&1
  say "bench rc=$? (results: bench/results.md, bench/results.json)"
fi
if has suite-bench; then
  timeout 150 $PY -m benchmarks --devices cuda --repeat 3 --out "$DEST/benchmarks_gpu" > "$DEST/suite_bench.log" 2>&1
  say "benchmark suite on cuda rc=$? (results: benchmarks_gpu/; commit it as benchmarks/results/gpu)"
fi
if has tests; then
  # the op database and torch comparisons first; the CPU-only kernel tests and the training runs left out
  TINYGRAD_CHAIN_TEST_DEVICE=cupy timeout "${SUITE_SECONDS:-120}" $PY -m pytest tests/test_opdb.py \
    tests/test_vs_torch.py tests -m "not slow" --ignore=tests/test_cpp_kernels.py --ignore=tests/test_cpp_window.py \
    --ignore=tests/test_fusion.py -q -ra --durations=15 -p no:cacheprovider \
    --junitxml="$DEST/pytest_cupy_suite.xml" > "$DEST/pytest_cupy_suite.log" 2>&1
  say "suite on cupy rc=$? (124: cut at ${SUITE_SECONDS:-120} s): $(tail -1 "$DEST/pytest_cupy_suite.log")"
fi
if has bench-quick; then
  timeout 300 $PY benchmarks/gpu/bench_gpu.py --quick --no-cpu --out "$DEST/bench_quick" > "$DEST/bench_quick.log" 2>&1
  say "bench-quick rc=$?"
fi

echo; echo "==== summary ($DEST)"; cat "$DEST/summary.txt"
for f in pytest_cupy_suite.log pytest_cupy_backend.log; do
  [ -f "$DEST/$f" ] && { echo "---- $f (failures and skips)"; grep -E "^(FAILED|ERROR|SKIPPED)" "$DEST/$f" | head -40; }
done
[ -f "$DEST/bench/results.md" ] && { echo "---- bench"; cat "$DEST/bench/results.md"; }
[ -f "$DEST/bench.log" ] && [ ! -f "$DEST/bench/results.md" ] && { echo "---- bench.log tail"; tail -30 "$DEST/bench.log"; }
exit 0
