"""Data-parallel scaling: the training step of the digits MLP and of a small CNN on 1 and 2
processes (MPI on this machine; NCCL where each process has a GPU of its own).

    python benchmarks/distributed.py [--processes 1 2] [--steps 40] [--batch 64] [--device cpu]

Each configuration runs under `mpiexec -n P` with a fixed global batch (each process gets
batch / P samples) and prints the median step time (forward, backward with DDP's bucketed
all-reduce, Adam step) and the samples per second. The time spent in communication is the step
time minus the same step under `no_sync()` (no all-reduce at all), as a fraction of the step;
"all-reduce" is one blocking all-reduce of a buffer as large as all gradients, for reference.
As torchrun does, each process gets its share of the cores for BLAS threads (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS = cores / processes unless set): oversubscribed BLAS threads spin and make
a 64x256 matmul 100 times slower on a busy machine.
`measure()` returns the rows for other tools (e.g. a benchmark suite runner).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("mlp", "cnn")


def make_model(kind: str):
    """The digits MLP (64 -> 256 ReLU -> 10) or a two-convolution CNN on 8x8 images."""
    import tinygrad_nv.nn as nn

    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10))


def worker(kind: str, steps: int, batch: int, device: str | None) -> dict:
    """Run in every process of the job: time the steps; rank 0's figures are returned."""
    import numpy as np

    import tinygrad_nv.distributed as dist
    import tinygrad_nv.nn.functional as F
    import tinygrad_nv.optim as optim
    from tinygrad_nv import Device, Tensor
    from tinygrad_nv.backend import get_backend

    dist.init()
    rank, world = dist.rank(), dist.world_size()
    if device in ("cuda", "gpu") and Device.DEFAULT.startswith("cuda"):
        device = Device.DEFAULT  # this process's own GPU, not cuda:0 for every process
    Tensor.manual_seed(0)
    model = dist.DistributedDataParallel(make_model(kind).to(device))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(rank)
    per_process = batch // world
    x = Tensor(rng.standard_normal((per_process, 64)).astype(np.float32), device=device)
    y = Tensor(rng.integers(0, 10, per_process), device=device)
    backend = get_backend(device)

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    def timed(fn, repeats: int) -> list[float]:
        """Milliseconds of each of `repeats` calls of fn, every rank starting together."""
        samples = []
        for _ in range(repeats):
            dist.barrier()
            start = time.perf_counter()
            fn()
            backend.synchronize()
            samples.append((time.perf_counter() - start) * 1e3)
        return samples

    for _ in range(5):
        step()
    synced_samples = timed(step, steps)
    with model.no_sync():
        local_samples = timed(step, steps)
    flat = Tensor.zeros(sum(p.numel() for p in model.parameters()), device=device)
    all_reduce = statistics.median(timed(lambda: dist.all_reduce(flat, "mean"), steps))
    synced, local = statistics.median(synced_samples), statistics.median(local_samples)
    comm = max(synced - local, 0.0)
    return {"model": kind, "processes": world, "device": str(x.device), "batch": batch,
            "step_ms": synced, "local_step_ms": local, "comm_ms": comm,
            "step_samples_ms": synced_samples, "local_step_samples_ms": local_samples,
            "comm_fraction": comm / synced, "all_reduce_ms": all_reduce,
            "samples_per_s": batch / synced * 1e3, "rank": rank}


def mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("mpiexec not found: pip install 'tinygrad_nv[distributed]'")
    return found


def measure(processes: tuple[int, ...] = (1, 2), models: tuple[str, ...] = MODELS,
            steps: int = 40, batch: int = 64, device: str | None = None) -> list[dict]:
    """One row per (model, number of processes), each measured by its own mpiexec job."""
    rows = []
    for kind in models:
        for n in processes:
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "row.json"
                command = [mpiexec(), "-n", str(n), sys.executable, __file__, "--worker", kind,
                           "--steps", str(steps), "--batch", str(batch), "--out", str(out)]
                if device:
                    command += ["--device", device]
                subprocess.run(command, check=True, timeout=600, env=_thread_environment(n))
                rows.append(json.loads(out.read_text()))
            print(f"  measured {kind} on {n} process(es)", flush=True)
    return rows


def _thread_environment(processes: int) -> dict:
    threads = str(max(1, (os.cpu_count() or 1) // processes))
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


def report(rows: list[dict]) -> str:
    lines = [f"{'model':6} {'procs':>5} {'device':>7} {'step ms':>8} {'local ms':>9} "
             f"{'comm ms':>8} {'comm %':>7} {'all-reduce ms':>14} {'samples/s':>10}"]
    for r in rows:
        lines.append(f"{r['model']:6} {r['processes']:5d} {r['device']:>7} {r['step_ms']:8.2f} "
                     f"{r['local_step_ms']:9.2f} {r['comm_ms']:8.2f} "
                     f"{100 * r['comm_fraction']:6.1f}% {r['all_reduce_ms']:14.3f} "
                     f"{r['samples_per_s']:10.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64, help="global batch (all processes)")
    parser.add_argument("--device", help="cpu, cuda or emu (default: the default device)")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        row = worker(args.worker, args.steps, args.batch, args.device)
        if row["rank"] == 0:
            Path(args.out).write_text(json.dumps(row))
        return 0
    print(report(measure(tuple(args.processes), tuple(args.models), args.steps, args.batch,
                         args.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
