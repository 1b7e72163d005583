"""tinygrad_nv.distributed: the multi-process checks of mpi_checks.py under `mpiexec -n 2` (one
launch for all of them, one test per check), a rank that raises, and the world of one process.
Skipped where mpi4py or mpiexec is missing (pip install '.[distributed]')."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_nv.distributed as dist
import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason

from .mpi_checks import CHECKS

SCRIPT = Path(__file__).with_name("mpi_checks.py")
ROOT = Path(__file__).absolute().parents[2]
TIMEOUT = 120  # seconds for one launch of every check; they take a few seconds
_beside = Path(sys.executable).parent / "mpiexec"  # the mpich wheel installs it in the venv
MPIEXEC = str(_beside) if _beside.exists() else shutil.which("mpiexec")
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(MPIEXEC is None or not HAVE_MPI4PY,
                               reason="needs mpi4py and mpiexec: pip install '.[distributed]'")


def _environment() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # no spinning BLAS threads
        env.setdefault(name, "1")
    return env


def _mpiexec(n: int) -> list[str]:
    command = [MPIEXEC, "-n", str(n)]
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:  # Open MPI refuses root without this
        command += ["--allow-run-as-root", "--oversubscribe"]
    return command


def run(args: list[str], processes: int | None, timeout: float = TIMEOUT):
    """mpi_checks.py under mpiexec with `processes` ranks, or alone (None)."""
    launcher = _mpiexec(processes) if processes else []
    return subprocess.run([*launcher, sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=timeout, env=_environment(), cwd=ROOT)


@pytest.fixture(scope="module")
def results(device, tmp_path_factory) -> dict:
    if MPIEXEC is None or not HAVE_MPI4PY:
        pytest.skip("needs mpi4py and mpiexec: pip install '.[distributed]'")
    if device.startswith("cuda"):
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 2:
            pytest.skip("NCCL between two processes needs two GPUs")
    folder = tmp_path_factory.mktemp("mpi")
    out = folder / "results.json"
    done = run(["--device", device, "--out", str(out), "--tmp", str(folder)], processes=2)
    assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", list(CHECKS))
def test_under_mpiexec(results, name):
    assert results[name] == "ok", results[name]


@needs_mpi
def test_a_raising_rank_ends_the_job_with_its_error():
    done = run(["--mode", "raise"], processes=2, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert output.count("ValueError: planted failure on rank 1") == 1, output
    assert "rank 1 of 2 raised ValueError; aborting the job" in output, output


@needs_mpi
def test_example_trains_on_two_processes_and_prints_once(device, tmp_path):
    pytest.importorskip("sklearn")
    if device.startswith("cuda"):
        pytest.skip("the cuda run needs a GPU per process")
    example = ROOT / "examples" / "train_digits_distributed.py"
    done = subprocess.run([*_mpiexec(2), sys.executable, str(example), "--epochs", "2",
                           "--device", device, "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=TIMEOUT, env=_environment(), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("epoch   2/2") == 1 and "2 process(es)" in done.stdout
    accuracy = float(re.findall(r"test accuracy: (\d\.\d+)", done.stdout)[-1])
    assert accuracy > 0.85, done.stdout  # after two epochs (30 reach the single run's 0.98)
    assert (tmp_path / "digits_mlp_distributed.safetensors").exists()


@needs_mpi
def test_single_process_without_launcher(tmp_path):
    out = tmp_path / "single.json"
    done = run(["--mode", "single", "--out", str(out)], processes=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text()) == {"before_init": "ok", "single_process": "ok"}


def test_single_process_without_mpi4py(tmp_path):
    out = tmp_path / "single.json"
    done = run(["--mode", "single", "--block-mpi4py", "--out", str(out)], processes=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text()) == {"before_init": "ok", "single_process": "ok"}


@pytest.mark.gpu
@pytest.mark.skipif(cuda_unavailable_reason() is not None or not HAVE_MPI4PY,
                    reason="needs a CUDA device and mpi4py")
def test_nccl_world_of_one_gpu(tmp_path):
    out = tmp_path / "single.json"
    done = run(["--mode", "single", "--device", "cuda", "--out", str(out)], processes=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text()) == {"before_init": "ok", "single_process": "ok"}


def test_launcher_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setenv("PMI_RANK", "0")
    with pytest.raises(ImportError, match=r"tinygrad_nv\[distributed\]"):
        dist.init()
    assert not dist.is_initialized()


@pytest.mark.parametrize("call", [
    lambda: dist.all_reduce(Tensor([1.0])), lambda: dist.broadcast(Tensor([1.0]), 0),
    lambda: dist.all_gather([Tensor([1.0])], Tensor([1.0])), dist.barrier, dist.rank,
    dist.world_size, dist.local_rank, lambda: dist.DistributedDataParallel(nn.Linear(2, 2)),
    lambda: dist.save_checkpoint({}, "unused.safetensors")])
def test_before_init_is_a_clear_error(call):
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match=r"call tinygrad_nv\.distributed\.init\(\) first"):
        call()
