#!/usr/bin/env bash
# The GPU proof in one command, for a session that is lent a GPU (one call of the device tool,
# timeout about 480 s):
#
#     bash benchmarks/gpu_check.sh              # on the lent machine, from a clone
#     bash benchmarks/gpu_check.sh --dry-run    # the same script on `emu`, small budgets (CI)
#
# Installs nothing: it runs the clone with PYTHONPATH=. and the python3 it finds (PYTHON=...
# picks another), with the CuPy, PyTorch and pytest (xdist, timeout) already there. It checks
# that exactly one CuPy distribution imports and never installs one: a second CuPy beside the
# machine's breaks both. The run stays within GPU_CHECK_BUDGET seconds (420 by default, 120 for
# the dry run), each phase within its cap. As each phase ends, a line `phase status seconds
# detail` is appended to $OUT/gpu_check/summary.txt (./gpu-check-results/gpu_check/ when $OUT is
# unset), with the phase's log beside it, so a run cut short still returns what it did. The
# exit status is 1 when a phase failed, ran out of time or had none left. Phases, most valuable
# first:
#   preflight  versions, the GPU, one CuPy; NVRTC compiles every kernel family with CuPy's
#              options; one kernel against NumPy
#   kernels    every kernel on cuda against its NumPy reference at the benchmark sizes
#   boundary   past 2^31 elements (where memory allows) and 65,535 rows: tests/backend/test_gpu.py
#   bandwidth  kernel times by CUDA events, as a fraction of peak bandwidth and beside the H100
#              model (python -m benchmarks --suite kernels)
#   steps      MLP, CNN, transformer and LSTM training steps against PyTorch CUDA with the same
#              weights (benchmarks/gpu_steps.py)
#   gpu-tests  pytest -m gpu: the GPU-only checks (the kernels' cuda runs, several devices, ...)
#   suite      the suite on cuda in parallel (pytest-xdist), one CUPY_CACHE_DIR for all workers,
#              a per-test timeout (pytest-timeout), as far as the budget goes
#   memcheck   compute-sanitizer on the block-reduction kernels, CuPy's memory pool off, and
#   racecheck  racecheck on the same, after a probe (SKIPPED when the tool or device refuses)
# The dry run takes the same path on emu (no GPU phases' tools: those say SKIPPED) over fewer
# test files, so that CI proves the script itself.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY=1 ;;
    *) echo "gpu_check.sh: unknown argument '$arg' (the one option is --dry-run)" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
export PYTHONPATH=. CI=true PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
RESULTS=${OUT:-./gpu-check-results}/gpu_check
SUMMARY=$RESULTS/summary.txt
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")  # caches and the pytest plugin
trap 'rm -rf "$SCRATCH"' EXIT
# every process and pytest worker compiles a kernel once: NVRTC's results are shared
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-$SCRATCH/cupy-cache}
mkdir -p "$RESULTS"
rm -rf "$RESULTS"/*.log "$RESULTS/bandwidth"  # a previous run's
if (( DRY )); then
  # about 40 s on an idle 2-core machine; the budget leaves room for a loaded one
  MODE="dry run on emu"; DEVICE=emu; BUDGET=${GPU_CHECK_BUDGET:-120}
  GPU_TESTS=(tests/backend tests/test_erf.py); SUITE_TESTS=(tests/backend/test_kernels.py)
  CAPS=(preflight:40 kernels:15 boundary:15 bandwidth:20 steps:30 gpu-tests:20 suite:20)
else
  MODE="GPU"; DEVICE=cuda; BUDGET=${GPU_CHECK_BUDGET:-420}
  GPU_TESTS=(tests); SUITE_TESTS=(tests)
  # steps: CuPy compiles each elementwise kernel on its first use (cached for the later phases)
  CAPS=(preflight:60 kernels:60 boundary:45 bandwidth:70 steps:90 gpu-tests:60 suite:150
        memcheck:35 racecheck:35)
fi
SANITIZER_RESERVE=$(( DRY ? 0 : 70 ))  # what the suite leaves for the last two phases
START=$SECONDS
FAILED=0

cap_of() { local c; for c in "${CAPS[@]}"; do [[ ${c%%:*} == "$1" ]] && echo "${c#*:}"; done; }
left() { echo $((BUDGET - (SECONDS - START))); }

# record phase status seconds detail: one line of the summary, appended now (a phase that did
# not run gives the reason its log holds)
record() {
  local detail=$4
  [[ $2 == SKIPPED && -f $RESULTS/$1.log ]] && detail=$(head -n 1 "$RESULTS/$1.log")
  printf '%-10s %-8s %4ss  %s\n' "$1" "$2" "$3" "${detail:0:240}" | tee -a "$SUMMARY"
  case $2 in FAIL|TIMEOUT) FAILED=1 ;; esac
}

# run_phase name command...: runs within the smaller of its cap and the time left, output into
# $RESULTS/name.log; sets STATUS (PASS, FAIL, TIMEOUT, or SKIPPED when no time is left: that
# fails the run too) and TOOK. Its standard input goes to the command (a heredoc script).
run_phase() {
  local name=$1 cap t begin=$SECONDS
  shift
  cap=$(cap_of "$name")
  t=$(left)
  [[ $name == suite ]] && t=$((t - SANITIZER_RESERVE))
  (( t < cap )) && cap=$t
  LOG=$RESULTS/$name.log
  TOOK=0
  if (( cap < 5 )); then  # the run is incomplete: it fails
    STATUS=SKIPPED FAILED=1
    echo "skipped: no time left in the budget" >"$LOG"
    return
  fi
  echo "== $name (at most ${cap}s): $*" >"$LOG"
  PHASE_CAP=$cap timeout --kill-after=10 "$cap" "$@" >>"$LOG" 2>&1
  case $? in 0) STATUS=PASS ;; 124|137) STATUS=TIMEOUT ;; *) STATUS=FAIL ;; esac
  TOOK=$((SECONDS - begin))
  [[ $STATUS == PASS ]] || tail -n 15 "$LOG" | sed "s/^/  $name| /"
}

last() { grep -E "$2" "$RESULTS/$1.log" | tail -n 1; }
PYTEST_LINE='([0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran)'

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
{
  echo "gpu_check $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname): $MODE, budget ${BUDGET}s,"
  echo "  $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON")), commit $COMMIT"
} | tee "$SUMMARY"

# ---- preflight
run_phase preflight "$PYTHON" - "$DRY" <<'EOF'
import importlib.metadata as md
import re
import sys

import numpy as np

dry = sys.argv[1] == "1"
names = sorted({d.metadata["Name"] for d in md.distributions()
                if (d.metadata["Name"] or "").lower().startswith("cupy")})
versions = [f"python {sys.version.split()[0]}", f"numpy {np.__version__}"]
try:
    import cupy
    versions.append(f"cupy {cupy.__version__} ({', '.join(names)})")
except Exception as e:  # noqa: BLE001
    cupy = None
    versions.append(f"cupy not importable ({type(e).__name__}: {e})")
try:
    import torch
    versions.append(f"torch {torch.__version__} (cuda {torch.version.cuda}, "
                    f"available {torch.cuda.is_available()})")
except Exception:  # noqa: BLE001
    versions.append("torch not installed")
print("versions:", "; ".join(versions))
problems = []
if len(names) > 1:
    problems.append(f"{len(names)} CuPy distributions ({', '.join(names)}): uninstall all but "
                    "the one for this machine's CUDA")
if cupy is None and not dry:
    problems.append("CuPy does not import; this script installs nothing (a second CuPy beside "
                    "the machine's would break both)")

from tinygrad_nv.backend import cuda_unavailable_reason, get_backend  # noqa: E402
from tinygrad_nv.backend.cuda import NVRTC_OPTIONS  # noqa: E402
from tinygrad_nv.backend.launch import kernel_dir, module_source  # noqa: E402
from tinygrad_nv.backend.numpy_kernels import NumpyKernels  # noqa: E402

families = sorted(p.name[:-3] for p in kernel_dir().iterdir() if p.name.endswith(".cu"))
reason = cuda_unavailable_reason()
if reason is None:
    props = cupy.cuda.runtime.getDeviceProperties(0)
    runtime = cupy.cuda.runtime
    print(f"GPU: {props['name'].decode()} x{runtime.getDeviceCount()}, compute "
          f"{props['major']}.{props['minor']}, {props['totalGlobalMem'] / 2**30:.0f} GiB, "
          f"driver {runtime.driverGetVersion()}, runtime {runtime.runtimeGetVersion()}")
    backend = get_backend("cuda")
    for family in families:  # CuPy compiles (NVRTC, its options) and loads every kernel
        for name in re.findall(r'extern "C" __global__ void (\w+)', module_source(family)):
            backend.kernels._function(family, name)
    compiled = f"{len(families)} families compiled by CuPy (NVRTC) and loaded"
else:
    print(f"GPU: none ({reason})")
    if not dry:
        problems.append("no GPU: run with --dry-run")
    backend = get_backend("emu")
    try:  # NVRTC compiles without a driver where it is installed, with CuPy's options
        from cupy.cuda import nvrtc

        for family in families:
            prog = nvrtc.createProgram(module_source(family), f"{family}.cu", [], [])
            nvrtc.compileProgram(prog, ["-arch=compute_90", *NVRTC_OPTIONS, "-ftz=true",
                                        "--device-as-default-execution-space"])
        compiled = f"{len(families)} families compiled by NVRTC (no GPU to load them)"
    except Exception as e:  # noqa: BLE001
        compiled = f"NVRTC not usable here ({type(e).__name__})"
        if not dry:
            problems.append(compiled)
print(compiled)
x = np.linspace(-4, 4, 1001, dtype=np.float32)
y = backend.to_host(backend.kernels.act_forward("gelu", backend.from_host(x)))
error = float(np.max(np.abs(y - NumpyKernels(np).act_forward("gelu", x))))
print(f"act_forward gelu on {backend.name}: max error {error:.1e} against NumPy")
if error > 1e-5:
    problems.append(f"gelu error {error:.1e}")
print(f"RESULT {'bad: ' + '; '.join(problems) if problems else 'ok'}: {compiled}, gelu on "
      f"{backend.name} {error:.1e}")
sys.exit(1 if problems else 0)
EOF
PREFLIGHT=$STATUS
record preflight "$STATUS" "$TOOK" "$(last preflight '^RESULT' | cut -c8-); $(last preflight \
  '^GPU')"

# phase name command...: the phases after preflight run only where it passed (or in the dry run)
phase() {
  if [[ $PREFLIGHT != PASS ]] && (( !DRY )); then
    STATUS=SKIPPED TOOK=0
    echo "skipped: preflight did not pass" >"$RESULTS/$1.log"
    return
  fi
  run_phase "$@"
}

# ---- every kernel against NumPy, then the boundary sizes
phase kernels "$PYTHON" benchmarks/kernels.py --device "$DEVICE" --no-time
record kernels "$STATUS" "$TOOK" "$(grep -c ' ok ' "$RESULTS/kernels.log") ok, $(grep -c ' FAIL' \
  "$RESULTS/kernels.log") FAIL ($( (( DRY )) && echo 'emu sizes' || echo 'benchmark sizes'))"
phase boundary "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/backend/test_gpu.py
record boundary "$STATUS" "$TOOK" "$(last boundary "$PYTEST_LINE")"

# ---- kernel times and bandwidth, beside the H100 model
phase bandwidth "$PYTHON" -m benchmarks --suite kernels --device "$DEVICE" --quick \
  --out "$RESULTS/bandwidth"
record bandwidth "$STATUS" "$TOOK" "$(last bandwidth 'kernels match' | cut -d';' -f1 | \
  sed 's/^kernels: //'); $(grep -c ' us$' "$RESULTS/bandwidth.log") predictions; tables in \
bandwidth/"

# ---- training steps against PyTorch
if (( DRY )); then
  phase steps "$PYTHON" benchmarks/gpu_steps.py --device emu --tiny
else
  phase steps "$PYTHON" benchmarks/gpu_steps.py --device cuda
fi
record steps "$STATUS" "$TOOK" "$(last steps '^RESULT' | cut -c8-)"

# ---- pytest: the GPU-only checks, then the suite on cuda as far as the budget goes
phase gpu-tests "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu \
  --ignore tests/backend/test_gpu.py "${GPU_TESTS[@]}"
record gpu-tests "$STATUS" "$TOOK" "$(last gpu-tests "$PYTEST_LINE")"

cat >"$SCRATCH/gpu_check_deadline.py" <<'EOF'
"""gpu_check.sh: tests that would start after GPU_CHECK_DEADLINE (epoch seconds) are skipped."""
import os
import time

import pytest

DEADLINE = float(os.environ["GPU_CHECK_DEADLINE"])


def pytest_runtest_setup(item):
    if time.time() > DEADLINE:
        pytest.skip("gpu_check: the phase's time budget is spent")
EOF
SUITE_OPTS=(-q -rs -p no:cacheprovider -p gpu_check_deadline -m "not slow and not gpu")
NOTES=()
if "$PYTHON" -c "import xdist" 2>/dev/null; then
  SUITE_OPTS+=(-n "$(( DRY ? 2 : 8 ))")
  NOTES+=("$(( DRY ? 2 : 8 )) workers")
else
  NOTES+=("serial: pytest-xdist is not installed")
fi
if "$PYTHON" -c "import pytest_timeout" 2>/dev/null; then
  SUITE_OPTS+=(--timeout "$(( DRY ? 60 : 120 ))")
else
  NOTES+=("no per-test timeout: pytest-timeout is not installed")
fi
# tests that would start later than 10 s before the phase's cap are skipped, not killed
SUITE_CMD=$(printf '%q ' "$PYTHON" -m pytest "${SUITE_OPTS[@]}" "${SUITE_TESTS[@]}")
phase suite env PYTHONPATH="$SCRATCH:." TINYGRAD_NV_DEVICE="$DEVICE" bash -c \
  "GPU_CHECK_DEADLINE=\$(( \$(date +%s) + PHASE_CAP - 10 )) exec $SUITE_CMD"
CUT=$(grep -E '^SKIPPED \[[0-9]+\].*budget is spent' "$RESULTS/suite.log" | \
  sed -E 's/^SKIPPED \[([0-9]+)\].*/\1/' | awk '{n += $1} END {print n + 0}')
NOTES+=("$CUT not started: budget spent")
JOINED=$(printf '%s; ' "${NOTES[@]}")
record suite "$STATUS" "$TOOK" "$(last suite "$PYTEST_LINE") (${JOINED%; })"

# ---- compute-sanitizer on the block-reduction kernels (a block per row, the mean's blocks)
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
REDUCTIONS=(benchmarks/kernels.py softmax cross_entropy attention linear --device cuda --small
            --no-time)
if (( DRY )); then
  record memcheck SKIPPED 0 "dry run: no GPU"
  record racecheck SKIPPED 0 "dry run: no GPU"
elif [[ $PREFLIGHT != PASS ]]; then
  record memcheck SKIPPED 0 "preflight did not pass"
  record racecheck SKIPPED 0 "preflight did not pass"
elif [[ -z $SANITIZER ]]; then
  record memcheck SKIPPED 0 "compute-sanitizer not found"
  record racecheck SKIPPED 0 "compute-sanitizer not found"
elif (( $(left) < 20 )); then
  record memcheck SKIPPED 0 "no time left in the budget"
  record racecheck SKIPPED 0 "no time left in the budget"
  FAILED=1
elif ! PROBE=$(timeout $(( $(left) < 60 ? $(left) / 2 : 30 )) "$SANITIZER" --tool memcheck \
    --error-exitcode 9 "$PYTHON" -c "import cupy; print(int(cupy.arange(4).sum()))" 2>&1); then
  record memcheck SKIPPED 0 "the probe was refused: $(echo "$PROBE" | tail -n 1)"
  record racecheck SKIPPED 0 "the probe was refused"
else
  phase memcheck "$SANITIZER" --tool memcheck --error-exitcode 9 "$PYTHON" "${REDUCTIONS[@]}" \
    --no-pool
  record memcheck "$STATUS" "$TOOK" "$(last memcheck 'ERROR SUMMARY')"
  phase racecheck "$SANITIZER" --tool racecheck --error-exitcode 9 "$PYTHON" "${REDUCTIONS[@]}"
  record racecheck "$STATUS" "$TOOK" "$(last racecheck '(ERROR SUMMARY|RACECHECK SUMMARY)')"
fi

echo "==== gpu_check: $((SECONDS - START))s of ${BUDGET}s; summary and logs in $RESULTS" | \
  tee -a "$SUMMARY"
exit $FAILED
