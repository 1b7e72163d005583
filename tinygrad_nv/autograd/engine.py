"""The backward engine: the graph in reverse topological order, each node's backward once,
gradients summed per tensor; leaves get their gradient at the end, as arrays of their own.

The engine never imports `Tensor`: it needs the attributes `_ctx`, `_requires_grad`, `_grad`,
`_data` and the arithmetic of the objects it is given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinygrad_nv.autograd.anomaly import Recording, check_finite
from tinygrad_nv.autograd.hooks import RemovableHandle, run_hooks
from tinygrad_nv.autograd.mode import grad_mode
from tinygrad_nv.autograd.versions import Clock, as_used
from tinygrad_nv.backend.errstate import restore, silence


def toposort(roots: Sequence) -> list:
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
            parents = as_used(node._ctx) if Clock.rebases else node._ctx.parents
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
    sums: dict[Any, Any] = {}  # tensor -> the sum of the gradients it received so far
    captured: dict[Any, Any] = {}
    wanted = set(capture) if capture is not None else ()
    # arrays that someone else holds (the caller's seeds, hooks' and retained gradients):
    # a leaf's first gradient copies them instead of taking them
    shared = set()
    for root, g in zip(roots, grads):
        sums[root] = sums[root] + g if root in sums else g
        shared.add(id(g._data))
    hooked = RemovableHandle.live > 0
    previous, grad_mode.enabled = grad_mode.enabled, create_graph
    anomaly, changed_at = Recording.check_nan, Clock.now
    quiet = silence()  # no NumPy warnings for the gradients of log at 0, 1/0, ... (as PyTorch)
    try:
        order = toposort(roots)
        while order:  # popped: a node's tensor (and its array) is freed once it is done
            node = order.pop()
            g = sums.pop(node, None)
            if g is None:
                continue
            if hooked and getattr(node, "_hooks", None):
                g = _hooked(node, g, shared, create_graph)
                changed_at = Clock.now  # a hook may have changed a tensor in place
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
            if len(in_grads) != len(ctx.parents):
                raise RuntimeError(f"function {ctx.name}.backward returned an incorrect number "
                                   f"of gradients (expected {len(ctx.parents)}, got "
                                   f"{len(in_grads)})")
            if anomaly:
                check_finite(ctx, in_grads)
            for parent, pg, needed in zip(ctx.parents, in_grads, ctx.needs_input_grad):
                if needed and pg is not None:
                    if pg._data.shape != parent._data.shape \
                            or pg._data.dtype != parent._data.dtype:
                        pg = _match(pg, parent, ctx)
                    sums[parent] = sums[parent] + pg if parent in sums else pg
            if not retain_graph:
                ctx.release()
        for leaf, g in sums.items():  # every node was popped: the leaves remain
            if hooked and getattr(leaf, "_hooks", None):
                g = _hooked(leaf, g, shared, create_graph)
            if leaf in wanted:
                captured[leaf] = g
            elif capture is None and leaf._requires_grad:
                accumulate(leaf, g, shared, create_graph)
    finally:
        grad_mode.enabled = previous
        restore(quiet)
    return None if capture is None else [captured.get(t) for t in capture]


def _hooked(tensor: Any, g: Any, shared: set, create_graph: bool) -> Any:
    """The gradient after the tensor's hooks; what they saw or returned is shared."""
    shared.add(id(g._data))
    g = run_hooks(tensor, g, create_graph)
    shared.add(id(g._data))
    return g


def accumulate(leaf: Any, g: Any, shared: set, create_graph: bool) -> None:
    """Add `g` into `leaf.grad`. The first gradient becomes the leaf's own array: `g`'s when
    nobody else holds it (not a view, not shared, not given to another leaf), else a copy.
    Later ones add in place (out of place when either side is part of a graph)."""
    placement = g._backend.placement
    if placement is None:
        _accumulate(leaf, g, shared, create_graph)
    else:
        with placement:
            _accumulate(leaf, g, shared, create_graph)


def _accumulate(leaf: Any, g: Any, shared: set, create_graph: bool) -> None:
    old, data = leaf._grad, g._data
    if old is None:
        if data.base is not None or id(data) in shared \
                or not getattr(data.flags, "writeable", True):
            g = g.clone() if create_graph else g._like(data.copy())
        elif g._ctx is not None and not create_graph:  # a hook's recorded result
            g = g.detach()
        shared.add(id(g._data))
        leaf._grad = g
    elif create_graph or old._ctx is not None or not _writable(old._data):
        leaf._grad = old + g
    else:
        old._data += data
        old._bump_version()


def _writable(array: Any) -> bool:
    return getattr(array.flags, "writeable", True) and 0 not in array.strides[:array.ndim]


def _match(g: Any, parent: Any, ctx: Any) -> Any:
    if g.shape != parent.shape:
        raise RuntimeError(f"function {ctx.name}.backward returned an invalid gradient: shape "
                           f"{tuple(g.shape)}, but the input has shape {tuple(parent.shape)}")
    if g.dtype != parent.dtype:
        g = g.cast(parent.dtype)
    return g


def default_grad(output: Any, gradient: Any, op: str) -> Any:
    """The seed gradient for `output`: ones for a one-element output, else required."""
    if gradient is None:
        if output.numel() != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs; "
                               f"the output has shape {tuple(output.shape)}: pass a gradient of "
                               f"that shape")
        return output._like(output._backend.xp.ones(output._data.shape, dtype=output.dtype))
    gradient = output._to_tensor_like(gradient)
    if gradient.shape != output.shape:
        raise RuntimeError(f"{op}: gradient has shape {tuple(gradient.shape)} but the output has "
                           f"shape {tuple(output.shape)}; they must match")
    return gradient


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (as
    torch.autograd.backward); `inputs` limits which leaves receive them."""
    outputs = _as_list(tensors)
    seeds = _seeds(outputs, grad_tensors, "backward")
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(outputs, seeds, retain, create_graph)
        return
    inputs = _as_list(inputs)
    for t, g in zip(inputs, run_backward(outputs, seeds, retain, create_graph, inputs)):
        if g is not None:
            accumulate(t, g, {id(s._data) for s in seeds}, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple (not accumulated
    in .grad), as torch.autograd.grad.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (dx,) = grad((x * x).sum(), [x])   # dx = 2x
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input of shape {tuple(t.shape)} does not require grad")
    seeds = _seeds(outputs, grad_outputs, "grad")
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outputs, seeds, retain, create_graph, capture=inputs)
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None and materialize_grads:
            result[i] = t._like(t._backend.xp.zeros(t.shape, dtype=t.dtype))
        elif g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) was not used in the "
                               f"graph; pass allow_unused=True to get None for it")
    return tuple(result)


def _seeds(outputs: list, given: Any, op: str) -> list:
    """One seed gradient per output (`given`: None, a tensor or a list of them)."""
    given = [None] * len(outputs) if given is None else _as_list(given)
    if len(given) != len(outputs):
        raise ValueError(f"{op}: got {len(given)} gradients for {len(outputs)} outputs")
    seeds = [default_grad(o, g, op) for o, g in zip(outputs, given)]
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError(f"{op}: an output of shape {tuple(o.shape)} does not require grad "
                               "and has no graph; create its inputs with requires_grad=True")
    return seeds
