"""`DistributedDataParallel`: one replica of the model per process, each training on its own
part of every batch, gradients averaged across processes during backward.

How a gradient is known to be complete: DDP's forward runs the module with each parameter
replaced by an identity op (`GradReady`) on it. The backward engine sums every use of that op's
output before calling its backward, so the backward runs once, with the parameter's whole
gradient; it stores the gradient in `.grad` and tells the reducer. When every parameter of a
bucket has arrived, the bucket's non-blocking all-reduce starts (MPI `Iallreduce`, or NCCL on
a side stream) while backward goes on; after the last bucket has started, all are awaited and
the averages written to `.grad`, so backward returns with the gradients ready for the optimizer.
How much communication overlaps backward depends on the engine running each GradReady soon
after the ops that used its parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.distributed.collectives import broadcast
from tinygrad_nv.distributed.comm import World, barrier, world
from tinygrad_nv.distributed.engines import engine_for, on_device
from tinygrad_nv.nn import Module
from tinygrad_nv.state import save


class GradReady(Function):
    """Identity on a parameter; backward hands the parameter's complete gradient to the
    reducer (which accumulates it into `.grad`) and sends nothing further."""

    saved_inputs = ()  # backward reads no values: an optimizer step before it is fine

    def forward(self, array: Any, reducer: Reducer, index: int) -> Any:
        self.reducer, self.index = reducer, index
        return array

    def backward(self, grad: Tensor) -> None:
        self.reducer.ready(self.index, grad)


class Reducer:
    """Buckets of parameters (in reverse order: the last layers' gradients come first) and the
    all-reduces of one backward."""

    def __init__(self, named_params: list[tuple[str, Tensor]], bucket_bytes: int, w: World,
                 on_start: Callable[[list[str]], None]):
        self.names = [name for name, _ in named_params]
        self.params = [p for _, p in named_params]
        self.index = {id(p): i for i, p in enumerate(self.params)}
        self.buckets = _buckets(self.params, bucket_bytes)
        self.bucket_of = {i: b for b, members in enumerate(self.buckets) for i in members}
        self.world, self.on_start = w, on_start
        self._reset()

    def _reset(self) -> None:
        self.arrived: set[int] = set()
        self.missing = [len(members) for members in self.buckets]
        self.launched: list[tuple[list[int], Tensor, Any]] = []

    def check_idle(self) -> None:
        """Raise if the previous backward left buckets without their all-reduce."""
        if not self.arrived:
            return
        absent = [self.names[i] for i in range(len(self.params)) if i not in self.arrived]
        self._reset()
        raise RuntimeError(
            "DistributedDataParallel: the previous backward gave no gradient to parameter(s) "
            f"{', '.join(absent[:8])}{' ...' if len(absent) > 8 else ''}, so their gradients "
            "were not averaged across processes. Every parameter that requires grad must get a "
            "gradient in each backward: freeze unused ones with requires_grad_(False) before "
            "wrapping the model")

    def ready(self, index: int, grad: Tensor) -> None:
        if index in self.arrived:
            raise RuntimeError(f"DistributedDataParallel: parameter {self.names[index]!r} got "
                               "a second gradient in one backward (the module ran forward "
                               "twice before backward); run backward after each forward")
        p = self.params[index]
        grad = grad.detach()
        p.grad = grad if p.grad is None else p.grad.detach() + grad
        self.arrived.add(index)
        self.missing[self.bucket_of[index]] -= 1
        for _, _, handle in self.launched:
            handle.poke()
        # buckets start in their fixed order, so every process issues the same sequence
        while len(self.launched) < len(self.buckets) and self.missing[len(self.launched)] == 0:
            self._launch(self.buckets[len(self.launched)])
        if len(self.launched) == len(self.buckets):
            self._finish()

    def _launch(self, members: list[int]) -> None:
        flat = Tensor.cat(*[self.params[i].grad.reshape(-1) for i in members])
        with on_device(flat._data):
            handle = engine_for(self.world, flat._data).start_all_reduce(flat._data)
        self.launched.append((members, flat, handle))
        self.on_start([self.names[i] for i in members])

    def _finish(self) -> None:
        for members, flat, handle in self.launched:
            with on_device(flat._data):
                handle.wait()
            mean = flat / self.world.size
            start = 0
            for i in members:
                p = self.params[i]
                p.grad = mean[start:start + p.numel()].reshape(p.shape)
                start += p.numel()
        self._reset()


def _buckets(params: list[Tensor], bucket_bytes: int) -> list[list[int]]:
    """Indices of `params` from last to first, cut into runs of one dtype and device of at most
    `bucket_bytes` (a larger parameter gets a bucket of its own)."""
    buckets: list[list[int]] = []
    size, kind = 0, None
    for i in reversed(range(len(params))):
        p = params[i]
        nbytes = p.numel() * p.dtype.itemsize
        if not buckets or (p.dtype, p.device) != kind or size + nbytes > bucket_bytes:
            buckets.append([])
            size, kind = 0, (p.dtype, p.device)
        buckets[-1].append(i)
        size += nbytes
    return buckets


class DistributedDataParallel(Module):
    """Data-parallel training of `module` across the processes of `tinygrad_nv.distributed`
    (PyTorch's `DistributedDataParallel`).

    At construction the model's parameters and buffers are checked to have the same names,
    shapes and dtypes on every rank (a RuntimeError names the differences) and are then copied
    from rank 0. `ddp(x)` runs the module; the backward of its output averages the gradients
    of all parameters across processes, bucket by bucket (`bucket_mb` megabytes each) while
    backward still runs, and returns with every `.grad` averaged. Batch norm uses each
    process's own batch statistics; with `broadcast_buffers` (PyTorch's default) the buffers
    (running statistics) are copied from rank 0 at the start of each forward.

    `ddp.module` is the wrapped model; `ddp.state_dict()` has PyTorch's `module.` prefix.
    Checkpoints: `save_checkpoint(ddp.module.state_dict(), path)` writes on rank 0 only;
    every rank then loads with `ddp.module.load_state_dict(tinygrad_nv.load(path))`.

    >>> dist.init()
    >>> model = dist.DistributedDataParallel(nn.Linear(4, 2))
    >>> F.mse_loss(model(x_part), y_part).backward()   # .grad averaged over all processes
    >>> optimizer.step()
    """

    def __init__(self, module: Module, bucket_mb: float = 25, broadcast_buffers: bool = True):
        super().__init__()
        w = world("DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) \
                or not bucket_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_mb must be a positive number "
                             f"of megabytes, got {bucket_mb!r}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self.bucket_hook: Callable[[list[str]], None] | None = None
        self._world = w
        if w.comm is not None:
            _check_same_model(w, module)
            for t in [*module.parameters(), *module.buffers()]:
                broadcast(t, 0)
        trained = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self._reducer = Reducer(trained, int(bucket_mb * 2**20), w, self._bucket_started) \
            if w.comm is not None and trained else None

    def _bucket_started(self, names: list[str]) -> None:
        if self.bucket_hook is not None:
            self.bucket_hook(names)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and self._world.size > 1:
            for b in self.module.buffers():
                broadcast(b, 0)
        if self._reducer is None or not self.require_backward_grad_sync \
                or not is_grad_enabled():
            return self.module(*args, **kwargs)
        self._reducer.check_idle()
        return self._forward_marking_gradients(args, kwargs)

    def _forward_marking_gradients(self, args: tuple, kwargs: dict) -> Any:
        """The module's forward with each trained parameter behind a GradReady op."""
        reducer, views, swapped = self._reducer, {}, []
        for module in self.module.modules():
            registry = module._parameters
            for name, p in registry.items():
                index = reducer.index.get(id(p))
                if index is None:
                    continue
                if index not in views:
                    views[index] = GradReady.apply(p, reducer=reducer, index=index)
                swapped.append((registry, name, p))
                registry[name] = views[index]
        try:
            return self.module(*args, **kwargs)
        finally:
            for registry, name, p in swapped:
                registry[name] = p

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Context manager for gradient accumulation: the backward of forwards run inside only
        accumulates local gradients; the next synchronised backward averages the sums."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={self._world.size}"


def _check_same_model(w: World, module: Module) -> None:
    """Raise on every rank when parameter or buffer names, shapes, dtypes or kinds of device
    differ."""
    mine = {name: (kind, tuple(t.shape), t.dtype.name, t.device.type) for kind, named in
            (("parameter", module.named_parameters()), ("buffer", module.named_buffers()))
            for name, t in named}
    everyone = w.comm.allgather(mine)  # names and shapes only: small metadata
    problems = []
    for r, theirs in enumerate(everyone[1:], start=1):
        for name in dict.fromkeys([*everyone[0], *theirs]):
            ours, other = everyone[0].get(name), theirs.get(name)
            if ours is None or other is None:
                present, absent = (0, r) if other is None else (r, 0)
                kind = (ours or other)[0]
                problems.append(f"{kind} {name!r} exists on rank {present} but not on rank "
                                f"{absent}")
            elif ours != other:
                problems.append(f"{ours[0]} {name!r} is {ours[1]} {ours[2]} on {ours[3]} on "
                                f"rank 0 but {other[1]} {other[2]} on {other[3]} on rank {r}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise RuntimeError("DistributedDataParallel: the model differs across ranks: "
                           + "; ".join(problems[:10]) + more)


def save_checkpoint(state_dict: dict, path: str | Path) -> None:
    """Save `state_dict` with tinygrad_nv.save on rank 0 only, then wait on every rank until it
    is written, so that all ranks can load it with tinygrad_nv.load right after."""
    if world("save_checkpoint").rank == 0:
        save(state_dict, path)
    barrier()
