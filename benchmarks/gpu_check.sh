#!/usr/bin/env bash
# The GPU proof in one command, for a session that is lent a GPU:
#
#     bash benchmarks/gpu_check.sh            # from a clone; PYTHON=python3.12 picks another
#
# Installs nothing from the network: it runs the clone through PYTHONPATH with the python, CuPy
# and PyTorch already on the machine (pytest and hypothesis too; a session may carry them in
# .gpu_deps/: pip install --target .gpu_deps pytest hypothesis). Every phase has a time cap and
# the whole run stays under GPU_CHECK_BUDGET seconds (default 570); the compact summary comes
# last, and the exit status is 1 when a phase failed or ran out of time. Phases:
#   preflight   versions; exactly one CuPy distribution; one kernel compiles and matches NumPy
#   gpu-tests   pytest -m gpu (sizes past 2^31 elements and 65,535 rows, cuda:1, sync debug)
#   suite-cuda  the whole non-slow suite with TINYGRAD_NV_DEVICE=cuda, within its cap
#   bandwidth   benchmarks/kernels.py: every kernel against NumPy, GB/s, new versions vs old
#   steps       MLP, CNN and transformer training steps against PyTorch CUDA
#               (`python -m benchmarks --suite mlp cnn transformer --quick`)
#   racecheck   compute-sanitizer racecheck / memcheck on the kernel tests, where present
# Without a GPU it runs what it can (preflight and bandwidth on emu) and says what it skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-570}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -d .gpu_deps ] && PYTHONPATH="$PWD/.gpu_deps:$PYTHONPATH"
export CI=true PYTHONDONTWRITEBYTECODE=1
START=$SECONDS
SUMMARY=()
FAILED=0

record() {  # phase status detail
  SUMMARY+=("$(printf '%-11s %-8s %s' "$1" "$2" "$3")")
  case $2 in FAIL|TIMEOUT) FAILED=1 ;; esac
}

left() { echo $((BUDGET - (SECONDS - START))); }

# run_phase name cap command...: runs with the smaller of cap and the time left, output shown
# and kept in $LOGS/name.log; sets STATUS to PASS, FAIL, TIMEOUT or SKIPPED (budget spent).
run_phase() {
  local name=$1 cap=$2 rc
  shift 2
  local t; t=$(left)
  (( t < cap )) && cap=$t
  if (( cap < 10 )); then
    STATUS=SKIPPED
    echo "== $name: skipped, no time left in the budget" | tee "$LOGS/$name.log"
    return
  fi
  echo "== $name (at most ${cap}s): $*"
  timeout --kill-after=10 "$cap" "$@" 2>&1 | tee "$LOGS/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in 0) STATUS=PASS ;; 124|137) STATUS=TIMEOUT ;; *) STATUS=FAIL ;; esac
}

last_line() { grep -E "$2" "$LOGS/$1.log" | tail -1 | cut -c1-90; }

# ---- preflight
run_phase preflight 90 "$PYTHON" - <<'EOF'
import importlib.metadata as md
import sys

import numpy as np

names = sorted({(d.metadata["Name"] or "") for d in md.distributions()
                if (d.metadata["Name"] or "").lower().startswith("cupy")})
versions = [f"python {sys.version.split()[0]}", f"numpy {np.__version__}"]
try:
    import cupy
    versions.append(f"cupy {cupy.__version__}")
except Exception as e:  # noqa: BLE001
    versions.append(f"cupy not importable ({type(e).__name__})")
try:
    import torch
    versions.append(f"torch {torch.__version__} (cuda {torch.version.cuda}, "
                    f"available {torch.cuda.is_available()})")
except Exception:  # noqa: BLE001
    versions.append("torch not installed")
print("versions:", ", ".join(versions))
print("CuPy distributions:", names or "none")
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend  # noqa: E402
from tinygrad_nv.backend.numpy_kernels import NumpyKernels  # noqa: E402

reason = cuda_unavailable_reason()
x = np.linspace(-4, 4, 1001, dtype=np.float32)
if reason is None:
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(f"GPU: {props['name'].decode()} x{cupy.cuda.runtime.getDeviceCount()}, driver "
          f"{cupy.cuda.runtime.driverGetVersion()}, runtime {cupy.cuda.runtime.runtimeGetVersion()}")
    backend = get_backend("cuda")
    y = backend.to_host(backend.kernels.act_forward("gelu", backend.from_host(x)))
    where = "compiled by CuPy (NVRTC), run on the GPU"
else:
    print(f"GPU: none ({reason})")
    from tinygrad_nv.backend.cuda import NVRTC_OPTIONS, module_source
    try:  # without a driver NVRTC still compiles (where it is installed)
        from cupy.cuda import nvrtc

        prog = nvrtc.createProgram(module_source("activation"), "activation.cu", [], [])
        nvrtc.compileProgram(prog, ["-arch=compute_90", *NVRTC_OPTIONS, "-ftz=true"])
        where = "compiled by NVRTC (no GPU to run it), run on emu"
    except Exception as e:  # noqa: BLE001
        where = f"not compiled by NVRTC ({type(e).__name__}), run on emu"
    backend = get_backend("emu")
    y = backend.to_host(backend.kernels.act_forward("gelu", x))
error = float(np.max(np.abs(y - NumpyKernels(np).act_forward("gelu", x))))
print(f"kernel act_forward gelu: {where}, max error {error:.1e} against NumPy")
ok = len(names) == 1 and error < 1e-5
gpu = "GPU" if reason is None else "no GPU"
print(f"RESULT {'ok' if ok else 'bad'}: {len(names)} CuPy distribution(s), gelu error "
      f"{error:.1e}, {gpu}")
sys.exit(0 if ok else 1)
EOF
record preflight "$STATUS" "$(last_line preflight '^RESULT' | cut -c8-)"
GPU=0
grep -q "^GPU: none" "$LOGS/preflight.log" || GPU=1
PYTEST=1
"$PYTHON" -c "import pytest, hypothesis" 2>/dev/null || PYTEST=0
NO_PYTEST="pytest/hypothesis not importable (carry them in .gpu_deps/)"

# ---- pytest -m gpu
if (( !GPU )); then
  record gpu-tests SKIPPED "no GPU"
elif (( !PYTEST )); then
  record gpu-tests SKIPPED "$NO_PYTEST"
else
  run_phase gpu-tests 120 "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests
  record gpu-tests "$STATUS" "$(last_line gpu-tests '(passed|failed|error)')"
fi

# ---- the whole suite on cuda
if (( !GPU )); then
  record suite-cuda SKIPPED "no GPU"
elif (( !PYTEST )); then
  record suite-cuda SKIPPED "$NO_PYTEST"
else
  TINYGRAD_NV_DEVICE=cuda run_phase suite-cuda 150 "$PYTHON" -m pytest -q -p no:cacheprovider \
    -m "not slow" tests
  record suite-cuda "$STATUS" "$(last_line suite-cuda '(passed|failed|error)')"
fi

# ---- kernel bandwidth (correctness only on emu)
run_phase bandwidth 60 "$PYTHON" benchmarks/kernels.py
detail="$(grep -c ' ok ' "$LOGS/bandwidth.log") ok, $(grep -c ' FAIL' "$LOGS/bandwidth.log") FAIL"
(( GPU )) || detail="$detail (on emu: correctness only, timing skipped: no GPU)"
record bandwidth "$STATUS" "$detail"

# ---- training steps against PyTorch
if (( !GPU )); then
  record steps SKIPPED "no GPU"
else
  run_phase steps 90 "$PYTHON" -m benchmarks --suite mlp cnn transformer --device cuda \
    --quick --out "$LOGS/benchmarks"
  record steps "$STATUS" "ms/step ours/torch: $(grep -E '^(mlp|cnn|transformer) [0-9.]+ ' \
    "$LOGS/steps.log" | awk '{printf "%s%s %s/%s", sep, $1, $2, $3; sep="; "}'); tables in \
    $LOGS/benchmarks"
fi

# ---- compute-sanitizer on the kernel tests
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if (( !GPU )); then
  record racecheck SKIPPED "no GPU"
elif [ -z "$SANITIZER" ]; then
  record racecheck SKIPPED "compute-sanitizer not found"
elif (( !PYTEST )); then
  record racecheck SKIPPED "$NO_PYTEST"
else
  for tool in racecheck memcheck; do
    run_phase "$tool" 45 "$SANITIZER" --tool "$tool" --error-exitcode 9 "$PYTHON" -m pytest -q \
      -p no:cacheprovider tests/backend/test_kernels.py \
      -k "cuda and (softmax or cross_entropy or bias or optim or fused or im2col)"
    record "$tool" "$STATUS" "$(last_line "$tool" '(ERROR SUMMARY|passed|failed)')"
  done
fi

echo
echo "==== gpu_check summary ($((SECONDS - START))s of ${BUDGET}s; logs in $LOGS) ===="
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
