"""Reverse-mode autograd: `Function` (forward beside backward), grad mode, the backward engine.

A `Function` computes on raw arrays in `forward` and returns the gradients of its inputs as
Tensors in `backward`, built from differentiable Tensor operations, so that backward itself
can be recorded (`create_graph=True`). The engine never imports `Tensor`: it only needs the
attributes `_ctx`, `requires_grad`, `grad` and the arithmetic of the objects it is given.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any


class _GradMode(threading.local):
    """Grad mode of the current thread (each thread starts with recording on)."""

    enabled = True


_grad_mode = _GradMode()


class _Recording:
    """Process-wide switches of the slow paths; off by default (one check per op)."""

    calls = False  # each op remembers its creation traceback, keyword arguments and order
    check_nan = False  # backward raises on NaN/inf gradients (anomaly mode, as PyTorch's)
    order = itertools.count()


def is_grad_enabled() -> bool:
    """Whether operations record a graph right now, in this thread."""
    return _grad_mode.enabled


class _SetGradMode(contextlib.ContextDecorator):
    """Context manager and decorator: grad mode is `self.mode` inside, restored after."""

    mode: bool

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._previous = []
        if callable(func):  # used as a bare decorator: @no_grad
            return self(func)
        return self

    def _recreate_cm(self):  # one context per decorated call: safe across threads
        return type(self)()

    def __enter__(self) -> None:
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _grad_mode.enabled = self._previous.pop()


class no_grad(_SetGradMode):  # noqa: N801  (PyTorch's spelling)
    """Context manager and decorator: operations inside record no graph."""

    mode = False


class enable_grad(_SetGradMode):  # noqa: N801
    """Context manager and decorator: turn graph recording back on inside `no_grad`."""

    mode = True


class set_grad_enabled(_SetGradMode):  # noqa: N801
    """Grad mode on or off in this thread: at once as a plain call, and restored on exit as
    a context manager or around each call as a decorator (as torch.set_grad_enabled).

    >>> set_grad_enabled(False)          # recording off from here on
    >>> with set_grad_enabled(True): ... # on inside, off again after
    """

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode, self._prev = bool(mode), _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __call__(self, func):
        _grad_mode.enabled = self._prev  # decorating does not change the mode
        return super().__call__(func)

    def _recreate_cm(self):
        return _GradModeScope(self.mode)

    def __enter__(self) -> None:
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _grad_mode.enabled = self._prev


class _GradModeScope(_SetGradMode):
    def __new__(cls, mode: bool):
        self = super().__new__(cls)
        self.mode = mode
        return self

    def _recreate_cm(self):
        return _GradModeScope(self.mode)


class inference_mode(_GradModeScope):  # noqa: N801
    """Context manager and decorator for inference: no graph is recorded inside
    (`inference_mode(False)` turns recording on, as in PyTorch).

    >>> with inference_mode(): y = model(x)
    """

    def __new__(cls, mode: Any = True):
        if callable(mode):  # bare decorator: @inference_mode
            return super().__new__(cls, False)(mode)
        return super().__new__(cls, not mode)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return _Recording.check_nan


class set_detect_anomaly(contextlib.ContextDecorator):  # noqa: N801
    """Anomaly detection on or off: at once as a plain call, and restored on exit as a
    context manager. While on, each op remembers the forward traceback of its creation and
    (with `check_nan`) a backward that produces NaN or inf raises RuntimeError naming that op
    and printing it."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.mode, self.check_nan = bool(mode), bool(check_nan)
        self._prev = (_Recording.calls, _Recording.check_nan)
        self.__enter__()

    def _recreate_cm(self):
        return set_detect_anomaly(self.mode, self.check_nan)

    def __enter__(self) -> None:
        _Recording.calls, _Recording.check_nan = self.mode, self.mode and self.check_nan

    def __exit__(self, *exc) -> None:
        _Recording.calls, _Recording.check_nan = self._prev


class detect_anomaly(set_detect_anomaly):  # noqa: N801
    """Context manager and decorator: anomaly detection on inside (see set_detect_anomaly).

    >>> with detect_anomaly():
    ...     loss.backward()   # RuntimeError: Function 'Log' returned nan values ... (traceback)
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.mode, self.check_nan = True, bool(check_nan)
        self._prev = (_Recording.calls, _Recording.check_nan)

    def _recreate_cm(self):
        return detect_anomaly(self.check_nan)


@contextlib.contextmanager
def record_calls():
    """Inside, each op created remembers its keyword arguments, creation traceback and order
    (`forward_kwargs`, `forward_trace`, `forward_index`): how gradcheck re-runs single ops."""
    previous, _Recording.calls = _Recording.calls, True
    try:
        yield
    finally:
        _Recording.calls = previous


class Function:
    """One differentiable operation. Subclasses write `forward(*arrays, **kwargs) -> array`
    and `backward(grad) -> grad or tuple of grads` (one per tensor input, None allowed).

    Inside both, `self.parents` are the input Tensors, `self.needs_input_grad` says which
    gradients anybody wants, `self.xp` / `self.kernels` are the inputs' backend's array module
    and kernels. A Function that needs its own output in backward sets `save_output = True`
    and reads it with `self.output()` (held by a weak reference: no cycles).

    What backward reads is guarded against in-place edits: `saved_inputs` names the inputs
    whose values backward needs (None: all of them; `()` for ops that need only shapes), and
    the output is guarded when `save_output` is set. A backward that finds one of them
    changed since forward raises RuntimeError instead of returning a wrong gradient.
    """

    save_output = False
    saved_inputs: tuple[int, ...] | None = None

    @classmethod
    def apply(cls, *tensors, **kwargs):
        ctx = object.__new__(cls)
        backend = ctx.backend = tensors[0]._backend
        arrays, needs = [], []
        for t in tensors:  # one pass: device check, raw arrays, who needs a gradient
            if t._backend is not backend:
                raise RuntimeError(
                    f"{cls.__name__}: all tensors must be on the same device, got "
                    f"{', '.join(x.device for x in tensors)}; move them with .to(device)")
            arrays.append(t.data)
            needs.append(t.requires_grad)
        try:
            if backend.placement is None:  # one device: always current
                data = ctx.forward(*arrays, **kwargs)
            else:  # several: every array call of the op runs with its device current
                with backend.placement:
                    data = ctx.forward(*arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:  # e.g. shapes that do not broadcast
            shapes = " and ".join(f"{t.shape} {t.dtype}" for t in tensors)
            raise type(e)(f"{cls.__name__}: inputs of shape/dtype {shapes}: {e}") from None
        if not (_grad_mode.enabled and True in needs):
            out = tensors[0]._from_op(data, ctx.backend, None)
            if data.base is not None or data is arrays[0]:  # a view: share the counter
                _share_version(out, tensors)
            return out
        # ctx.backend, not backend: a transfer between devices sets its target in forward
        out = tensors[0]._from_op(data, ctx.backend, ctx)
        if data.base is not None or data is arrays[0]:
            _share_version(out, tensors)
        ctx.parents, ctx.needs_input_grad, ctx.saved_at = tensors, needs, _Clock.now
        if cls.save_output:
            ctx._output = weakref.ref(out)
        if _Recording.calls:
            ctx.forward_trace = traceback.format_stack()[:-1]
            ctx.forward_kwargs, ctx.forward_index = kwargs, next(_Recording.order)
        return out

    @property
    def xp(self):
        return self.backend.xp

    @property
    def kernels(self):
        return self.backend.kernels

    def output(self):
        return self._output()

    def check_versions(self) -> None:
        """Raise if a tensor that backward reads was changed in place since forward."""
        saved_at, parents = self.saved_at, self.parents
        for i in range(len(parents)) if self.saved_inputs is None else self.saved_inputs:
            counter = parents[i]._version_counter
            if counter is not None and counter[-1] > saved_at:  # a stamp after forward
                raise _modified_error(self, f"input {i}", parents[i], counter, saved_at)
        out = self._output() if self.save_output else None
        counter = None if out is None else out._version_counter
        if counter is not None and counter[-1] > saved_at:
            raise _modified_error(self, "output", out, counter, saved_at)

    def forward(self, *arrays: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def release(self) -> None:
        """Drop everything backward needed: the graph behind this node is freed."""
        self.__dict__.clear()

    @property
    def name(self) -> str:
        return type(self).__name__


class _Clock:
    """Stamps of in-place changes, process-wide: `now` is the stamp of the latest change."""

    now = 0
    ticks = itertools.count(1)


# A version counter is a list shared by the tensors that view one storage: [count, stamp,
# stamp, ...], the number of in-place changes (PyTorch's `_version`) then the clock stamps of
# the latest few. A plain list: tensors get one only when viewed or changed, so it stays cheap.
_KEPT_STAMPS = 32  # enough to name the expected version in the error message


def new_version_counter() -> list:
    return [0]


def bump_version(counter: list) -> None:
    """Record one in-place change of the storage that `counter` belongs to."""
    _Clock.now = stamp = next(_Clock.ticks)
    counter[0] += 1
    counter.append(stamp)
    if len(counter) > _KEPT_STAMPS + 1:
        del counter[1]


def _count_at(counter: list, clock: int) -> int:
    """The count when the clock read `clock` (exact unless 32 changes came since)."""
    return counter[0] - sum(stamp > clock for stamp in counter[1:])


def _share_version(out, inputs: Sequence) -> None:
    """`out` is a view of (or is) the storage of one of `inputs`: it shares its counter."""
    data = out.data
    storage = data if data.base is None else data.base
    for t in inputs:
        source = t.data if t.data.base is None else t.data.base
        if source is storage:
            if t._version_counter is None:
                t._version_counter = [0]
            out._version_counter = t._version_counter
            return


def _modified_error(ctx, what: str, tensor, counter: list, clock: int) -> Exception:
    return RuntimeError(
        f"{ctx.name}.backward: one of the tensors needed for gradient computation has been "
        f"modified by an inplace operation: the {what} of {ctx.name}, of shape {tensor.shape} "
        f"and dtype {tensor.dtype.name}, is at version {counter[0]}; expected version "
        f"{_count_at(counter, clock)} instead (the version it had when the forward pass used "
        "it). Hint: make the in-place change after backward, or use the out-of-place form "
        "(`x = x + 1`, not `x += 1`) or a .clone(); detect_anomaly() shows where the op was "
        "created.")


def _toposort(roots: Sequence) -> list:
    """Non-leaf tensors reachable from `roots`, every node after all of its inputs."""
    order, visited = [], set()  # tensors hash by identity: keys without id() calls
    stack = [(root, False) for root in roots if root._ctx is not None]
    pop, push, add = stack.pop, stack.append, visited.add
    while stack:
        node, expanded = pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        add(node)
        push((node, True))
        try:
            parents = node._ctx.parents
        except AttributeError:  # release() cleared it
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (its buffers "
                "were freed by the first backward); pass retain_graph=True to the first call"
            ) from None
        # first input pushed last: backward then finishes an op's later inputs (the
        # parameters of x @ w, x * w) before descending into its first, so data-parallel
        # all-reduces of their gradients start while the rest of backward runs
        for parent in reversed(parents):
            if parent._ctx is not None and parent not in visited:
                push((parent, False))
    return order


def run_backward(roots: Sequence, grads: Sequence, retain_graph: bool, create_graph: bool,
                 capture: Sequence | None = None) -> list | None:
    """Send `grads` back from `roots` through the graph.

    Without `capture`, gradients accumulate into the `.grad` of leaves that require grad.
    With `capture` (a list of tensors), nothing is accumulated; their gradients are returned
    (None where no gradient flows).
    """
    pending: dict[Any, Any] = {}  # keyed by the tensors themselves (identity hashes)
    captured: dict[Any, Any] = {}
    wanted = set(capture) if capture is not None else set()
    hooked = RemovableHandle.live > 0  # tensor hooks exist: leaves get theirs once, summed
    hooked_leaves: dict[Any, list] = {}

    def deliver(tensor, g) -> None:
        if tensor._ctx is not None:
            pending[tensor] = pending[tensor] + g if tensor in pending else g
        elif hooked and getattr(tensor, "_hooks", None) and (
                tensor in wanted or capture is None and tensor.requires_grad):
            entry = hooked_leaves.setdefault(tensor, [tensor, None])
            entry[1] = g if entry[1] is None else entry[1] + g
        elif tensor in wanted:
            captured[tensor] = captured[tensor] + g if tensor in captured else g
        elif capture is None and tensor.requires_grad:
            tensor.grad = g if tensor.grad is None else tensor.grad + g

    previous, _grad_mode.enabled = _grad_mode.enabled, create_graph
    anomaly, changed_at = _Recording.check_nan, _Clock.now
    try:
        for root, g in zip(roots, grads):
            deliver(root, g)
        for node in reversed(_toposort(roots)):
            g = pending.pop(node, None)
            if g is None:
                continue
            if hooked and getattr(node, "_hooks", None):
                g = _run_hooks(node, g, create_graph)
                changed_at = _Clock.now  # a hook may have changed a tensor in place
            if node in wanted:
                captured[node] = g
            ctx = node._ctx
            if ctx.saved_at < changed_at:  # something was changed in place since forward
                ctx.check_versions()
            if ctx.backend.placement is None:
                in_grads = ctx.backward(g)
            else:
                with ctx.backend.placement:
                    in_grads = ctx.backward(g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if anomaly:
                _check_finite(ctx, in_grads)
            for parent, pg, needed in zip(ctx.parents, in_grads, ctx.needs_input_grad):
                if needed and pg is not None:
                    if pg.data.shape != parent.data.shape or pg.data.dtype != parent.data.dtype:
                        pg = _match(pg, parent, ctx)
                    if parent._ctx is not None:  # an inner node (deliver's first case)
                        pending[parent] = pending[parent] + pg if parent in pending else pg
                    else:
                        deliver(parent, pg)
            if not retain_graph:
                ctx.release()
        for leaf, g in hooked_leaves.values():
            g = _run_hooks(leaf, g, create_graph)
            if leaf in wanted:
                captured[leaf] = g
            else:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
    finally:
        _grad_mode.enabled = previous
    return None if capture is None else [captured.get(t) for t in capture]


class RemovableHandle:
    """What `register_hook` (and the Module hook registrations) return: `remove()` takes the
    hook away again."""

    live = 0  # tensor hooks registered and not removed: backward looks for hooks only then
    _ids = itertools.count()

    def __init__(self, registry: dict, counted: bool = False) -> None:
        self.id, self._registry, self._counted = next(self._ids), registry, counted
        if counted:
            RemovableHandle.live += 1

    def remove(self) -> None:
        if self._registry.pop(self.id, None) is not None and self._counted:
            RemovableHandle.live -= 1


def register_hook(tensor, hook: Callable[[Any], Any]) -> RemovableHandle:
    """Call `hook(grad)` whenever the gradient of `tensor` is computed; a Tensor it returns
    replaces the gradient. Returns a handle whose `remove()` unregisters it.

    >>> h = y.register_hook(lambda g: g * 2)   # double the gradient flowing through y
    """
    if not tensor.requires_grad:
        raise RuntimeError(f"register_hook: cannot register a hook on a tensor (shape "
                           f"{tensor.shape}) that does not require grad")
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    hooks = _hooks_of(tensor)
    handle = RemovableHandle(hooks, counted=True)
    hooks[handle.id] = hook
    return handle


def retain_grad(tensor) -> None:
    """Keep the gradient of this non-leaf tensor in its `.grad` during backward (leaves keep
    theirs anyway)."""
    if not tensor.requires_grad:
        raise RuntimeError(f"retain_grad: the tensor (shape {tensor.shape}) does not require "
                           "grad")
    hooks = _hooks_of(tensor)
    if tensor._ctx is not None and _RETAIN not in hooks:
        hooks[_RETAIN] = None
        RemovableHandle.live += 1


_RETAIN = "retain_grad"  # the key that marks a retained gradient among a tensor's hooks


def _hooks_of(tensor) -> dict:
    hooks = getattr(tensor, "_hooks", None)
    if hooks is None:
        hooks = tensor._hooks = {}
    return hooks


def _run_hooks(tensor, g, create_graph: bool):
    """The tensor's hooks in registration order (each may replace g), then retain_grad."""
    hooks = tensor._hooks
    for key, hook in list(hooks.items()):
        if key == _RETAIN:
            continue
        replaced = hook(g)
        if replaced is not None:
            if not hasattr(replaced, "_ctx") or replaced.shape != g.shape:
                raise RuntimeError(f"register_hook: a hook must return None or a Tensor of the "
                                   f"gradient's shape {g.shape}, got {replaced!r:.80}")
            g = replaced
    if _RETAIN in hooks:
        kept = g if create_graph else g.detach()
        tensor.grad = kept if tensor.grad is None else tensor.grad + kept
    return g


def _check_finite(ctx, in_grads: tuple) -> None:
    """Anomaly mode: raise if the backward of `ctx` produced a NaN or inf."""
    for i, (parent, g) in enumerate(zip(ctx.parents, in_grads)):
        if g is None or g.dtype.kind != "f" or bool(g._backend.xp.isfinite(g.data).all()):
            continue
        kind = "nan" if bool(g._backend.xp.isnan(g.data).any()) else "inf"
        trace = getattr(ctx, "forward_trace", None)
        where = ("".join(trace) if trace else "  (not recorded: the op was created outside "
                 "detect_anomaly; run the forward pass inside it too)\n")
        raise RuntimeError(
            f"Function '{ctx.name}' returned {kind} values in its {i}th output: the gradient "
            f"of its input {i} (shape {parent.shape}) computed by {ctx.name}.backward "
            f"contains {kind}.\nTraceback of the forward call that created {ctx.name}:\n"
            f"{where}")


def _match(g, parent, ctx):
    if g.shape != parent.shape:
        raise RuntimeError(f"{ctx.name}.backward returned a gradient of shape {g.shape} "
                           f"for an input of shape {parent.shape}")
    if g.dtype != parent.dtype:
        g = g.cast(parent.dtype)
    return g


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple (not accumulated
    in .grad), as torch.autograd.grad.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (dx,) = grad((x * x).sum(), [x])   # dx = 2x
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input of shape {t.shape} does not require grad")
    seeds = [default_grad(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError(f"grad: an output of shape {o.shape} does not require grad "
                               "and has no graph")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, seeds, retain_graph, create_graph, capture=inputs)
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used in the graph; "
                               "pass allow_unused=True to get None for it")
    return tuple(result)


def default_grad(output, gradient, op: str):
    """The seed gradient for `output`: ones for a one-element output, else required."""
    if gradient is None:
        if output.numel() != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs; "
                               f"the output has shape {output.shape}: pass a gradient of that "
                               "shape")
        return output._like(output._backend.xp.ones(output.shape, dtype=output.dtype))
    gradient = output._to_tensor_like(gradient)
    if gradient.shape != output.shape:
        raise RuntimeError(f"{op}: gradient has shape {gradient.shape} but the output has shape "
                           f"{output.shape}; they must match")
    return gradient
