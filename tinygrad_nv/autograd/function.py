"""`Function`: one differentiable operation, forward beside backward, its checks of what
backward reads against in-place edits (versions.py keeps the counters); PyTorch's ctx form of
custom Functions; and `device_call` / `constant`, how raw array work outside a Function runs
on its device."""

from __future__ import annotations

import functools
import math
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from tinygrad_nv.autograd.anomaly import Recording
from tinygrad_nv.autograd.mode import grad_mode
from tinygrad_nv.autograd.versions import (
    Clock,
    check_rebased,
    count_at,
    modified_error,
    new_version_counter,
    share_version,
)
from tinygrad_nv.backend.errstate import restore, silence
from tinygrad_nv.dtype import is_floating


def backward_name(node: Any) -> str:
    """PyTorch's class name for a graph node, as `grad_fn=<...>` prints it: MulBackward0 for
    our Mul, MyFnBackward for a custom Function in PyTorch's form (the name of a node whose
    graph is freed is its class's)."""
    name = getattr(node, "name", None) or type(node).__name__
    return name if name.endswith("Backward") else f"{name}Backward0"


def node_repr(node: Any) -> str:
    """`<MulBackward0 object at 0x...>`, as PyTorch's graph nodes print."""
    return f"<{backward_name(node)} object at {id(node):#x}>"


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

    NumPy's floating-point warnings (log(-1), 1/0, inf - inf) are off inside forward, as
    PyTorch warns nothing; an op whose forward only moves values (reshape, indexing) sets
    `moves_only = True` and skips that (about 0.15 us an op).
    """

    save_output = False
    saved_inputs: tuple[int, ...] | None = None
    moves_only = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if isinstance(forward, staticmethod):  # PyTorch's form: forward(ctx, ...), below
            cls.apply = classmethod(ctx_apply)
        elif forward is not None and getattr(cls.apply, "__func__", None) is ctx_apply:
            # our instance-method form again, below a class in PyTorch's
            cls.apply = Function.__dict__["apply"]

    @classmethod
    def apply(cls, *tensors: Any, **kwargs: Any) -> Any:
        ctx = object.__new__(cls)
        backend = ctx.backend = tensors[0]._backend
        arrays, needs = [], []
        for t in tensors:  # one pass: device check, raw arrays, who needs a gradient
            if t._backend is not backend:
                raise RuntimeError(
                    f"{cls.__name__}: all tensors must be on the same device, got "
                    f"{', '.join(str(x.device) for x in tensors)}; move them with .to(device)")
            arrays.append(t._data)
            needs.append(t._requires_grad)
        quiet = None if cls.moves_only else silence()
        try:
            if backend.placement is None:  # one device: always current
                data = ctx.forward(*arrays, **kwargs)
            else:  # several: every array call of the op runs with its device current
                with backend.placement:
                    data = ctx.forward(*arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:  # e.g. shapes that do not broadcast
            shapes = " and ".join(f"{tuple(t.shape)} {t.dtype}" for t in tensors)
            raise retyped(e, f"{cls.__name__}: inputs of shape/dtype {shapes}: {e}") from None
        finally:
            if quiet is not None:
                restore(quiet)
        recorded = grad_mode.enabled and True in needs
        # ctx.backend, not backend: a transfer between devices sets its target in forward
        out = tensors[0]._from_op(data, ctx.backend, ctx if recorded else None)
        if data.base is not None or data is arrays[0]:  # a view: share the counter
            share_version(out, tensors)
        if not recorded:
            return out
        ctx.parents, ctx.needs_input_grad, ctx.saved_at = tensors, needs, Clock.now
        if cls.save_output:
            ctx._output = weakref.ref(out)
        if Recording.calls:
            ctx.forward_trace = traceback.format_stack()[:-1]
            ctx.forward_kwargs, ctx.forward_index = kwargs, next(Recording.order)
        return out

    @property
    def xp(self) -> Any:
        return self.backend.xp

    @property
    def kernels(self) -> Any:
        return self.backend.kernels

    def output(self) -> Any:
        return self._output()

    def check_versions(self) -> None:
        """Raise if a tensor that backward reads was changed in place since forward, or an
        input was rebased by a later in-place custom Function (ctx.mark_dirty)."""
        check_rebased(self)
        saved_at, parents = self.saved_at, self.parents
        for i in range(len(parents)) if self.saved_inputs is None else self.saved_inputs:
            counter = parents[i]._version_counter
            if counter is not None and counter[-1] > saved_at:  # a stamp after forward
                raise modified_error(self.name, f"input {i}", parents[i], counter[0],
                                      count_at(counter, saved_at))
        out = self._output() if self.save_output else None
        counter = None if out is None else out._version_counter
        if counter is not None and counter[-1] > saved_at:
            raise modified_error(self.name, "output", out, counter[0],
                                  count_at(counter, saved_at))

    def forward(self, *arrays: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    def backward(self, grad: Any) -> Any:
        raise NotImplementedError("You must implement the backward method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        """PyTorch's split form: a static forward(*args) without ctx, and this filling ctx
        from the inputs and the output. Not defined: forward takes ctx."""
        raise NotImplementedError

    def release(self) -> None:
        """Drop everything backward needed: the graph behind this node is freed."""
        self.__dict__.clear()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        return next_functions(self)

    __repr__ = node_repr


class AccumulateGrad:
    """What `next_functions` gives for a leaf that requires grad (PyTorch's node name);
    `variable` is the leaf."""

    next_functions = ()
    name = "AccumulateGrad"

    def __init__(self, variable: Any) -> None:
        self.variable = variable


def next_functions(node: Any) -> tuple:
    """PyTorch's `grad_fn.next_functions`: a (node, 0) pair per input of `node`: the input's
    grad_fn, AccumulateGrad for a leaf that requires grad, else None; () once backward has
    freed the graph."""
    return tuple((p._ctx if p._ctx is not None else AccumulateGrad(p) if p._requires_grad
                  else None, 0) for p in getattr(node, "parents", ()))


def retyped(e: Exception, message: str) -> Exception:
    """An exception of e's type with `message`; of the nearest built-in type where e's own
    takes other arguments (NumPy's _UFuncNoLoopError takes the ufunc and its dtypes)."""
    try:
        return type(e)(message)
    except TypeError:
        return next(k for k in (IndexError, TypeError, ValueError) if isinstance(e, k))(message)


def device_call(x: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(xp, *args) with x's device current, as Function.apply runs every op's forward: the
    raw array work of an op outside its Functions (masks, index arithmetic). Where the device
    is always current (placement None: the CPU, one GPU) it is a plain call."""
    backend = x._backend
    if backend.placement is None:
        return fn(backend.xp, *args)
    with backend.placement:
        return fn(backend.xp, *args)


def constant(fn: Callable[..., Any], *tensors: Any) -> Any:
    """fn(xp, *raw arrays of `tensors`), computed with their device current, as a tensor
    without gradient there: device_call for tensors (comparisons, masks), written out as
    one pass since it runs per op."""
    first = tensors[0]
    backend, arrays = first._backend, []
    for t in tensors:
        if t._backend is not backend:
            raise RuntimeError(f"tensors are on different devices ({first.device} and "
                               f"{t.device}); move one with .to(device)")
        arrays.append(t._data)
    if backend.placement is None:
        return first._like(fn(backend.xp, *arrays))
    with backend.placement:
        return first._like(fn(backend.xp, *arrays))


# ---------------------------------------------------------------------- PyTorch's form
class FunctionCtx:
    """The `ctx` of a Function in PyTorch's static-method form: forward keeps on it what
    backward needs (`save_for_backward`, any attribute of its own), backward reads it back
    (`saved_tensors`, `needs_input_grad`: one bool per forward argument)."""

    def __init__(self) -> None:
        self.to_save: tuple = ()
        self.non_differentiable: tuple = ()
        self.dirty_tensors: tuple = ()
        self.materialize_grads = True
        self.needs_input_grad: tuple = ()
        self._saved: list | None = None  # what saved_tensors returns, once forward is done

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep tensors (or None) for backward. Reading one that was changed in place since
        raises, as for the framework's own ops."""
        self.to_save = tensors

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """These outputs get no gradient (they do not require grad; backward receives zeros
        for them)."""
        self.non_differentiable = outputs

    def mark_dirty(self, *tensors: Any) -> None:
        """These inputs were modified in place by forward (and are returned): they take this
        Function as their history and their version counters move on."""
        self.dirty_tensors = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward receives None, not zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to save_for_backward, checked against in-place changes."""
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed): the first backward freed "
                "them; pass retain_graph=True to it")
        return tuple(None if entry is None else entry.unpack(i)
                     for i, entry in enumerate(self._saved))


class _Saved:
    """One tensor of save_for_backward with its version then. An output is held weakly (with
    its array and version counter, to rebuild it), as is the node: no reference cycles."""

    def __init__(self, tensor: Any, node: Any, output: int | None) -> None:
        if tensor._version_counter is None:  # views made later share this one
            tensor._version_counter = new_version_counter()
        self.counter, self.version = tensor._version_counter, tensor._version_counter[0]
        self.node, self.output = weakref.ref(node), output
        if output is None:
            self.tensor = tensor
        else:
            self.ref, self.data, self.backend = weakref.ref(tensor), tensor._data, tensor._backend

    def unpack(self, index: int) -> Any:
        node = self.node()  # alive: its backward is what reads the saved tensors
        if self.counter[0] != self.version:
            raise modified_error(node.name, f"saved tensor {index}", self.data
                                  if self.output is not None else self.tensor,
                                  self.counter[0], self.version)
        if self.output is None:
            return self.tensor
        tensor = self.ref()
        if tensor is None:  # the output is gone: the same values and graph node again
            tensor = node.parents[0]._from_op(self.data, self.backend,
                                              node.output_node(self.output))
            tensor._version_counter = self.counter
        return tensor


class CtxNode:
    """The graph node of a Function in PyTorch's form. The engine calls `backward` with the
    gradient of its one differentiable output, or, with several, once after all of theirs
    (each output's `_OutputSlot` leaves its gradient here first); it returns one gradient
    per tensor input, checked as PyTorch checks them."""

    dirtied_at = 0  # the clock stamp of the in-place change of its dirty inputs

    def __init__(self, cls: type, ctx: FunctionCtx, args: tuple, parents: list) -> None:
        self.cls, self.ctx, self.parents = cls, ctx, parents
        self.tensor_args = [_is_tensor(a) for a in args]
        self.needs_input_grad = [p._requires_grad for p in parents]
        self.backend, self.saved_at = parents[0]._backend, Clock.now
        self.wanted: list = []  # the differentiable outputs
        self.main: int | None = None  # the one differentiable output, if only one
        self.hidden: Any = None  # with several: the weakly held tensor the slots hang from
        self.outputs: list = []  # (shape, dtype, backend) of each tensor output, else None
        self.grads: list = []

    @property
    def name(self) -> str:
        return f"{self.cls.__name__}Backward"

    next_functions = property(next_functions)
    __repr__ = node_repr

    def output_node(self, k: int) -> Any:
        """The history of output k (None where it has none)."""
        if k not in self.wanted:
            return None
        return self if self.main is not None else _OutputSlot(self, k, self.hidden())

    def check_versions(self) -> None:  # saved tensors are checked when backward reads them
        check_rebased(self)

    def backward(self, g: Any) -> tuple:
        if self.main is not None:
            self.grads[self.main] = g
        grads, self.grads = self.grads, [None] * len(self.grads)
        if self.ctx.materialize_grads:
            grads = [self._zeros(k) if gk is None and self.outputs[k] else gk
                     for k, gk in enumerate(grads)]
        if self.cls.backward is Function.backward:
            raise NotImplementedError(f"{self.cls.__name__}: you must implement the backward "
                                      "method of a custom autograd.Function to use it with "
                                      "backward mode AD")
        return self._input_grads(self.cls.backward(self.ctx, *grads))

    def _zeros(self, k: int) -> Any:
        shape, dtype, backend = self.outputs[k]
        with backend.on_device():
            return self.parents[0]._from_op(backend.xp.zeros(shape, dtype=dtype), backend, None)

    def _input_grads(self, result: Any) -> tuple:
        result = result if isinstance(result, tuple) else (result,)
        n = len(self.tensor_args)
        if len(result) > n and all(r is None for r in result[n:]):  # extra Nones are allowed
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(f"function {self.name} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(result)})")
        grads = []
        for i, (is_tensor, g) in enumerate(zip(self.tensor_args, result)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(f"function {self.name} returned a gradient different "
                                       f"than None at position {i + 1}, but the "
                                       "corresponding forward input was not a Variable")
                continue
            grads.append(None if g is None else self._fit(g, i, self.parents[len(grads)]))
        return tuple(grads)

    def _fit(self, g: Any, i: int, parent: Any) -> Any:
        """g checked against its input: a Tensor on its device, of its shape or of a shape it
        broadcasts to (then summed down, as PyTorch)."""
        if not _is_tensor(g):
            raise TypeError(f"function {self.name} returned a gradient of type "
                            f"{type(g).__name__} at position {i + 1}: expected a Tensor or None")
        if g._backend is not parent._backend:
            raise RuntimeError(f"Function {self.name} returned an invalid gradient at index {i}"
                               f" - expected device {parent.device} but got {g.device}")
        shape, lead = parent.shape, g.ndim - parent.ndim
        if g.shape == shape:
            return g
        if lead < 0 or any(n not in (1, m) for n, m in zip(shape, g.shape[lead:])):
            raise RuntimeError(f"Function {self.name} returned an invalid gradient at index {i}"
                               f" - got {list(g.shape)} but expected shape compatible with "
                               f"{list(shape)}")
        axes = tuple(range(lead)) + tuple(lead + a for a, n in enumerate(shape)
                                          if n == 1 and g.shape[lead + a] != 1)
        return g.sum(axis=axes, keepdim=True).reshape(shape)

    def release(self) -> None:
        self.ctx._saved = None
        self.__dict__.clear()


class _OutputSlot:
    """Output k of a CtxNode with several differentiable outputs: leaves the gradient on the
    node and sends an empty one to the node's hidden tensor, after which the node runs."""

    saved_at = math.inf  # nothing to check

    def __init__(self, node: CtxNode, k: int, hidden: Any) -> None:
        self.node, self.k, self.parents, self.needs_input_grad = node, k, (hidden,), (True,)
        self.backend = node.backend

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def next_functions(self) -> tuple:  # the node's: the hidden tensor is ours, not PyTorch's
        return self.node.next_functions

    __repr__ = node_repr

    def backward(self, g: Any) -> Any:
        self.node.grads[self.k] = g
        hidden = self.parents[0]
        return hidden._like(hidden._data)

    def release(self) -> None:
        self.__dict__.clear()


def ctx_apply(cls: type, *args: Any, **kwargs: Any) -> Any:
    """`Function.apply` of PyTorch's form: forward(ctx, *args, **kwargs) (or forward(*args)
    and setup_context(ctx, inputs, output)) runs without recording; its tensor outputs then
    get this Function as their history, if a tensor input requires grad."""
    ctx = FunctionCtx()
    ctx.needs_input_grad = tuple(_is_tensor(a) and a._requires_grad for a in args)
    recording = grad_mode.enabled
    grad_mode.enabled = False
    try:
        if cls.setup_context is Function.setup_context:
            output = cls.forward(ctx, *args, **kwargs)
        else:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
    finally:
        grad_mode.enabled = recording
    outputs = list(output) if isinstance(output, tuple) else [output]
    inputs = [a for a in args if _is_tensor(a)]
    parents = _dirty_inputs(ctx, inputs, outputs, recording)
    recorded = recording and True in ctx.needs_input_grad
    if recorded:
        node = CtxNode(cls, ctx, args, parents)
        _attach(node, inputs, outputs)
        ctx._saved = [None if t is None else _Saved(t, node, _index_of(t, outputs))
                      for t in ctx.to_save]
        if Recording.calls:
            node.forward_trace = traceback.format_stack()[:-1]
    # what forward named is taken now: holding outputs here would be a cycle through node
    ctx.to_save = ctx.non_differentiable = ctx.dirty_tensors = ()
    return tuple(outputs) if isinstance(output, tuple) else outputs[0]


def _dirty_inputs(ctx: FunctionCtx, inputs: list, outputs: list, recording: bool) -> list:
    """The inputs as graph parents: an input marked dirty is replaced by a stand-in that
    keeps its old history (the input itself takes the new one); its version moves on."""
    parents = list(inputs)
    for t in ctx.dirty_tensors:
        if _index_of(t, inputs) is None or _index_of(t, outputs) is None:
            raise RuntimeError("mark_dirty: only inputs of forward that it also returns can "
                               "be marked dirty")
        if recording and t._requires_grad and t._ctx is None:
            raise RuntimeError("a leaf Variable that requires grad has been used in an "
                               "in-place operation.")
        old = t._from_op(t._data, t._backend, t._ctx)
        old._requires_grad = t._requires_grad
        t._bump_version()
        old._version_counter = t._version_counter
        parents[_index_of(t, inputs)] = old
    return parents


def _attach(node: CtxNode, inputs: list, outputs: list) -> None:
    """Give the differentiable tensor outputs `node` as their history (through a slot each
    where there are several); the others get none."""
    dropped = {id(t) for t in node.ctx.non_differentiable}
    dirty = {id(t) for t in node.ctx.dirty_tensors}
    wanted = [k for k, o in enumerate(outputs) if _is_tensor(o) and id(o) not in dropped
              and is_floating(o.dtype)]
    node.outputs = [(o.shape, o.dtype, o._backend) if _is_tensor(o) else None for o in outputs]
    node.grads, node.wanted = [None] * len(outputs), wanted
    if dirty:
        node.dirtied_at = Clock.now
    hidden = None
    if len(wanted) == 1:
        node.main = wanted[0]
    elif wanted:
        backend = inputs[0]._backend
        with backend.on_device():
            hidden = inputs[0]._from_op(backend.xp.empty((0,), dtype="float32"), backend, node)
        node.hidden = weakref.ref(hidden)
    seen: set = set()
    for k, o in enumerate(outputs):
        if not _is_tensor(o):
            continue
        if id(o) in seen or (k not in wanted and o._requires_grad) or (
                id(o) not in dirty and (o._ctx is not None or o._requires_grad
                                        or _index_of(o, inputs) is not None)):
            o = outputs[k] = _alias(o)  # an input, or a tensor with a history: a new view
        seen.add(id(o))
        if k in wanted:
            o._ctx = node if hidden is None else _OutputSlot(node, k, hidden)
            o._requires_grad = True


def _alias(t: Any) -> Any:
    """A new tensor viewing t's storage (sharing its version counter), without history."""
    out = t._from_op(t._data, t._backend, None)
    if t._version_counter is None:
        t._version_counter = new_version_counter()
    out._version_counter = t._version_counter
    return out


def _index_of(t: Any, tensors: list) -> int | None:
    return next((i for i, x in enumerate(tensors) if x is t), None)


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "_ctx") and hasattr(x, "_backend")


def once_differentiable(backward: Callable) -> Callable:
    """Decorator for the static backward of a Function that is not itself differentiable
    (one that computes on raw arrays): it runs without recording, and under create_graph
    its gradients carry a node that raises if they are differentiated again (as PyTorch's
    torch.autograd.function.once_differentiable)."""
    @functools.wraps(backward)
    def wrapper(ctx: FunctionCtx, *grads: Any) -> Any:
        recording = grad_mode.enabled
        grad_mode.enabled = False
        try:
            result = backward(ctx, *grads)
        finally:
            grad_mode.enabled = recording
        sources = [g for g in grads if _is_tensor(g) and g._requires_grad]
        if not (recording and sources):
            return result

        def guarded(r: Any) -> Any:
            return _DifferentiatedTwice.apply(r, *sources) if _is_tensor(r) else r
        return tuple(map(guarded, result)) if isinstance(result, tuple) else guarded(result)
    return wrapper


class _DifferentiatedTwice(Function):
    """The node once_differentiable puts on the gradients it returns under create_graph."""

    saved_inputs = ()

    def forward(self, g: Any, *sources: Any) -> Any:
        return g

    def backward(self, grad: Any) -> Any:
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")
