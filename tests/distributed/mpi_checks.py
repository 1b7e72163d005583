"""The checks that need several processes, run by test_distributed.py under `mpiexec -n 2`
(one launch runs them all; each rank records which passed, rank 0 writes the JSON).

    mpiexec -n 2 python tests/distributed/mpi_checks.py --device cpu --out results.json
    python tests/distributed/mpi_checks.py --mode single --out results.json   # no launcher
    mpiexec -n 2 python tests/distributed/mpi_checks.py --mode raise          # rank 1 raises
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

import tinygrad_nv.distributed as dist
import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, dtypes, load, no_grad
from tinygrad_nv.data import DistributedSampler

DTYPES = [d.name for d in dtypes.all]  # every dtype a Tensor can hold
SHAPES = ((), (0,), (5,), (3, 4))
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def values(shape: tuple, dtype: str, rank: int) -> np.ndarray:
    """Small rank-dependent values that every dtype holds exactly."""
    base = np.asarray((np.arange(int(np.prod(shape))).reshape(shape) * 3 + rank * 5) % 7)
    return (base % 2 == rank).astype(dtype) if dtype == "bool" else base.astype(dtype)


def transposed(array: np.ndarray, device: str) -> Tensor:
    """A tensor whose storage is not contiguous when it has two axes."""
    t = Tensor(array.T.copy(), device=device)
    return t.T if array.ndim == 2 else Tensor(array, device=device)


# ---------------------------------------------------------------------- collectives
@check
def all_reduce_every_dtype(device, rank, size):
    for dtype in DTYPES:
        for shape in SHAPES:
            every = [values(shape, dtype, r) for r in range(size)]
            ops = {"sum": np.sum, "max": np.max, "min": np.min}
            if dtype.startswith("float"):
                ops["mean"] = np.mean
            for op, reduce in ops.items():
                t = transposed(every[rank], device)
                out = dist.all_reduce(t, op=op)
                expected = reduce(np.stack(every), axis=0)
                if dtype == "bool":
                    expected = np.min(np.stack(every), axis=0) if op == "min" \
                        else np.max(np.stack(every), axis=0)
                assert out is t and t.dtype == np.dtype(dtype) and t.shape == shape
                np.testing.assert_array_equal(t.numpy(), expected.astype(dtype),
                                              err_msg=f"{op} {dtype} {shape}")


@check
def broadcast_every_dtype(device, rank, size):
    for dtype in DTYPES:
        for shape in SHAPES:
            for src in range(size):
                t = transposed(values(shape, dtype, rank), device)
                assert dist.broadcast(t, src=src) is t
                np.testing.assert_array_equal(t.numpy(), values(shape, dtype, src),
                                              err_msg=f"{dtype} {shape} from {src}")


@check
def all_gather_every_dtype(device, rank, size):
    for dtype in DTYPES:
        for shape in SHAPES:
            parts = [Tensor(np.zeros(shape, dtype), device=device) for _ in range(size)]
            out = dist.all_gather(parts, transposed(values(shape, dtype, rank), device))
            assert out is parts
            for r, part in enumerate(parts):
                np.testing.assert_array_equal(part.numpy(), values(shape, dtype, r))


@check
def collective_errors(device, rank, size):
    t = Tensor([1.0, 2.0], device=device)
    for call, kind, words in (
            (lambda: dist.all_reduce(t, op="prod"), ValueError, "valid ops"),
            (lambda: dist.all_reduce(Tensor([1, 2], device=device), "mean"), TypeError, "int64"),
            (lambda: dist.all_reduce(np.ones(2)), TypeError, "ndarray"),
            (lambda: dist.broadcast(t, src=size), ValueError, f"[0, {size - 1}]"),
            (lambda: dist.all_reduce(Tensor([1.0], device=device).expand(3)), RuntimeError,
             "read-only"),
            (lambda: dist.all_gather([t], t), ValueError, f"world_size() = {size}"),
            (lambda: dist.all_gather([Tensor([1.0], device=device)] * size, t), ValueError,
             "(1,)")):
        try:
            call()
        except kind as e:
            assert words in str(e), str(e)
        else:
            raise AssertionError(f"no {kind.__name__} ({words})")


@check
def collectives_count_as_in_place_changes(device, rank, size):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 1.0
    loss = (y * y).sum()  # its backward needs y
    dist.all_reduce(y)
    try:
        loss.backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e), str(e)
    else:
        raise AssertionError("backward used a tensor that all_reduce had changed")


# ---------------------------------------------------------------------- DDP
def mlp(seed: int, device: str) -> nn.Module:
    Tensor.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 12), nn.ReLU(),
                         nn.Linear(12, 3)).to(device).double()


def batch(seed: int, n: int, device: str) -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    return (Tensor(rng.standard_normal((n, 6)), device=device),
            Tensor(rng.integers(0, 3, n), device=device))


def params(model: nn.Module) -> list[np.ndarray]:
    return [p.numpy().copy() for p in model.parameters()]


@check
def ddp_matches_one_process_on_the_whole_batch(device, rank, size):
    """size processes with 64 samples each == one process with all of them, step after step."""
    reference = mlp(0, device)
    ddp = dist.DistributedDataParallel(mlp(rank * 10, device), bucket_mb=0.001)  # rank 0's init
    assert len(ddp._reducer.buckets) > 1
    for model in (ddp, reference):
        model.optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(4):
        x, y = batch(step, 64 * size, device)
        for model, (xs, ys) in ((ddp, (x[rank * 64:(rank + 1) * 64], y[rank * 64:(rank + 1) * 64])),
                                (reference, (x, y))):
            model.optimizer.zero_grad()
            F.cross_entropy(model(xs), ys).backward()
            model.optimizer.step()
        for got, want in zip(params(ddp.module), params(reference)):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"step {step}")


@check
def ddp_buckets_start_during_backward_in_ready_order(device, rank, size):
    """Each bucket's all-reduce starts as soon as its last gradient arrives, while backward
    goes on: the last layer's before the first layer's gradient exists."""
    ddp = dist.DistributedDataParallel(mlp(rank, device), bucket_mb=1e-9)  # one per parameter
    assert len(ddp._reducer.buckets) == 6
    names = [name for name, _ in ddp.module.named_parameters()]
    params = dict(ddp.module.named_parameters())
    started = []
    ddp.bucket_hook = lambda bucket: started.append(
        (bucket, [n for n in names if params[n].grad is not None]))
    x, y = batch(rank, 8, device)
    F.cross_entropy(ddp(x), y).backward()
    assert [n for bucket, _ in started for n in bucket] == names[::-1], started
    for bucket, have_grad in started:  # no gradient of an earlier layer exists yet
        assert set(have_grad) <= set(names[names.index(bucket[0]):]), started
    default = dist.DistributedDataParallel(mlp(rank, device))
    default.bucket_hook = lambda bucket: started.append(bucket)
    F.cross_entropy(default(x), y).backward()
    assert started[-1] == names[::-1]  # 25 MB: a single bucket


@check
def ddp_no_sync_accumulates(device, rank, size):
    reference = mlp(0, device)
    ddp = dist.DistributedDataParallel(mlp(0, device), bucket_mb=0.001)
    micro = [batch(100 + i, 16 * size, device) for i in range(3)]
    for i, (x, y) in enumerate(micro):
        part = slice(rank * 16, (rank + 1) * 16)
        if i < 2:
            with ddp.no_sync():
                F.cross_entropy(ddp(x[part]), y[part]).backward()
            local = ddp.module[0].weight.grad.numpy().copy()
            gathered = [Tensor(np.zeros_like(local), device=device) for _ in range(size)]
            dist.all_gather(gathered, Tensor(local, device=device))
            assert not np.allclose(gathered[0].numpy(), gathered[-1].numpy())  # not averaged
        else:
            F.cross_entropy(ddp(x[part]), y[part]).backward()
        F.cross_entropy(reference(x), y).backward()
    for p, q in zip(ddp.module.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-12)


@check
def ddp_construction_copies_rank0_and_detects_mismatches(device, rank, size):
    model = mlp(rank, device)
    dist.DistributedDataParallel(model)
    gathered = [Tensor(np.zeros((16, 6)), device=device) for _ in range(size)]
    dist.all_gather(gathered, model[0].weight.detach())
    np.testing.assert_array_equal(gathered[0].numpy(), gathered[-1].numpy())
    np.testing.assert_array_equal(model[0].weight.numpy(), mlp(0, device)[0].weight.numpy())
    odd = nn.Sequential(nn.Linear(6, 16 + (rank == size - 1)))
    try:
        dist.DistributedDataParallel(odd)
    except RuntimeError as e:
        message = str(e)
        assert "'0.weight'" in message and "rank 0" in message and f"rank {size - 1}" in message
        assert "(16, 6)" in message and "(17, 6)" in message, message
    else:
        raise AssertionError("no error for a parameter of another shape on one rank")


class TwoHeads(nn.Module):
    """A model whose second head never takes part in the loss."""

    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(6, 3), nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.used(x)


@check
def ddp_unused_parameter_is_reported(device, rank, size):
    ddp = dist.DistributedDataParallel(TwoHeads().to(device).double())
    x, _ = batch(rank, 4, device)
    ddp(x).sum().backward()
    try:
        ddp(x)
    except RuntimeError as e:
        assert "unused.weight" in str(e) and "no gradient" in str(e), str(e)
    else:
        raise AssertionError("no error for a parameter that got no gradient")
    ddp(x).sum().backward()  # the error reset the round: training can go on after a fix


@check
def ddp_batch_norm_statistics(device, rank, size):
    Tensor.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)).to(device).double()
    local = dist.DistributedDataParallel(model, broadcast_buffers=False)
    x, _ = batch(rank, 8, device)
    local(x).sum().backward()
    mean = model[1].running_mean.numpy().copy()
    gathered = [Tensor(np.zeros(4), device=device) for _ in range(size)]
    dist.all_gather(gathered, Tensor(mean, device=device))
    assert not np.allclose(gathered[0].numpy(), gathered[-1].numpy())  # each rank its own
    shared = dist.DistributedDataParallel(model)  # broadcast_buffers=True: rank 0's at forward
    with no_grad():
        model.eval()
        shared(x)
    dist.all_gather(gathered, model[1].running_mean.detach())
    np.testing.assert_array_equal(gathered[-1].numpy(), gathered[0].numpy())


@check
def checkpoint_saved_by_rank0_loaded_by_all(device, rank, size, tmp):
    model = mlp(rank, device)
    ddp = dist.DistributedDataParallel(model)
    path = Path(tmp) / "checkpoint.safetensors"
    dist.save_checkpoint(ddp.module.state_dict(), path)
    restored = mlp(rank + 50, device)
    restored.load_state_dict(load(path, device=device))
    for p, q in zip(model.parameters(), restored.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert sorted(ddp.state_dict()) == sorted(f"module.{k}" for k in model.state_dict())


@check
def sampler_uses_the_world(device, rank, size):
    sampler = DistributedSampler(range(11), seed=3)
    assert (sampler.num_replicas, sampler.rank) == (size, rank)
    mine = Tensor(np.array(list(sampler)), device=device)
    every = [Tensor(np.zeros(len(sampler), np.int64), device=device) for _ in range(size)]
    dist.all_gather(every, mine)
    seen = np.concatenate([t.numpy() for t in every])
    assert sorted(set(seen.tolist())) == list(range(11)) and len(seen) == 12


# ---------------------------------------------------------------------- modes
def run_checks(args) -> int:
    from mpi4py import MPI

    dist.init()
    rank, size = dist.rank(), dist.world_size()
    results = {}
    for name, fn in CHECKS.items():
        if args.only and name not in args.only:
            continue
        extra = (args.tmp,) if "tmp" in fn.__code__.co_varnames else ()
        try:
            fn(args.device, rank, size, *extra)
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc()
        dist.barrier()
    everyone = MPI.COMM_WORLD.gather(results, root=0)
    if rank == 0 and args.out:
        merged = {name: "\n".join(f"rank {r}: {res[name]}" for r, res in enumerate(everyone)
                                  if res[name] != "ok") or "ok" for name in results}
        Path(args.out).write_text(json.dumps(merged))
    return 0


def run_single(args) -> int:
    """No launcher: a world of one process where every collective leaves values unchanged."""
    if args.block_mpi4py:
        sys.modules["mpi4py"] = None  # as if it were not installed
    results = {}
    try:
        dist.all_reduce(Tensor([1.0]))
        results["before_init"] = "no error"
    except RuntimeError as e:
        results["before_init"] = "ok" if "init()" in str(e) else str(e)
    try:
        dist.init()
        dist.init()  # a second call does nothing
        assert (dist.rank(), dist.world_size(), dist.local_rank()) == (0, 1, 0)
        assert dist.is_initialized()
        t = Tensor([[1.5, -2.0]], device=args.device)
        for op in ("sum", "mean", "max", "min"):
            np.testing.assert_array_equal(dist.all_reduce(t, op).numpy(), [[1.5, -2.0]])
        np.testing.assert_array_equal(dist.broadcast(t, 0).numpy(), [[1.5, -2.0]])
        parts = [Tensor.zeros(1, 2, device=args.device)]
        np.testing.assert_array_equal(dist.all_gather(parts, t)[0].numpy(), [[1.5, -2.0]])
        dist.barrier()
        reference = mlp(0, args.device)
        ddp = dist.DistributedDataParallel(mlp(0, args.device))
        x, y = batch(0, 16, args.device)
        for model in (ddp, reference):
            F.cross_entropy(model(x), y).backward()
        for p, q in zip(ddp.module.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-15)
        assert list(DistributedSampler(range(5), shuffle=False)) == [0, 1, 2, 3, 4]
        results["single_process"] = "ok"
    except Exception:
        results["single_process"] = traceback.format_exc()
    Path(args.out).write_text(json.dumps(results))
    return 0


def run_raise(args) -> int:
    """Rank 1 raises while the others wait in a collective: the job must end, not hang."""
    dist.init()
    if dist.rank() == 1:
        raise ValueError("planted failure on rank 1")
    dist.all_reduce(Tensor([1.0]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("checks", "single", "raise"), default="checks")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="a folder every rank sees")
    parser.add_argument("--block-mpi4py", action="store_true")
    args = parser.parse_args()
    return {"checks": run_checks, "single": run_single, "raise": run_raise}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
