"""Module hooks: forward pre-hooks, forward hooks and full backward hooks (as PyTorch's
`register_forward_pre_hook`, `register_forward_hook`, `register_full_backward_hook`).

A backward hook sees the gradients of the module's tensor inputs and outputs: the inputs pass
through an identity op whose backward collects them, the outputs carry tensor hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import Function, RemovableHandle

if TYPE_CHECKING:
    from tinygrad_nv.nn.module import Module

REGISTRIES = ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks")


def _register(module: Module, registry: str, hook: Callable, what: str) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"{what}: hook must be callable, got {type(hook).__name__}")
    hooks = getattr(module, registry)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_forward_pre_hook(module: Module, hook: Callable) -> RemovableHandle:
    """`hook(module, args)` runs before forward; a value it returns replaces `args` (a tuple,
    or a single value for one argument). Returns a handle with `remove()`."""
    return _register(module, "_forward_pre_hooks", hook, "register_forward_pre_hook")


def register_forward_hook(module: Module, hook: Callable) -> RemovableHandle:
    """`hook(module, args, output)` runs after forward; a value it returns replaces the
    output. Returns a handle with `remove()`.

    >>> seen = []
    >>> h = model.hidden.register_forward_hook(lambda m, args, out: seen.append(out))
    """
    return _register(module, "_forward_hooks", hook, "register_forward_hook")


def register_full_backward_hook(module: Module, hook: Callable) -> RemovableHandle:
    """`hook(module, grad_input, grad_output)` runs in backward once the gradients of the
    module's tensor inputs are known (tuples, None where no gradient flows); a tuple it
    returns replaces grad_input. Returns a handle with `remove()`."""
    return _register(module, "_backward_hooks", hook, "register_full_backward_hook")


def call_with_hooks(module: Module, args: tuple, kwargs: dict) -> Any:
    """module(*args, **kwargs) with its hooks around forward."""
    for hook in list(module._forward_pre_hooks.values()):
        result = hook(module, args)
        if result is not None:
            args = result if isinstance(result, tuple) else (result,)
    collector = _Collector(module, args) if module._backward_hooks else None
    if collector is not None:
        args = collector.wrap_inputs(args)
    output = module.forward(*args, **kwargs)
    for hook in list(module._forward_hooks.values()):
        result = hook(module, args, output)
        if result is not None:
            output = result
    if collector is not None:
        collector.watch_outputs(output)
    return output


class _Collector:
    """Gathers one forward call's input and output gradients for the backward hooks."""

    def __init__(self, module: Module, args: tuple) -> None:
        self.module = module
        self.needs = [isinstance(a, Tensor) and a.requires_grad for a in args]
        self.grad_input: list = [None] * len(args)
        self.grad_output: list = []
        self.waiting = sum(self.needs)
        self.fired = False

    def wrap_inputs(self, args: tuple) -> tuple:
        return tuple(_InputGrad.apply(a, collector=self, index=i) if need else a
                     for i, (a, need) in enumerate(zip(args, self.needs)))

    def watch_outputs(self, output: Any) -> None:
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        self.grad_output = [None] * len(outputs)
        for i, out in enumerate(outputs):
            if isinstance(out, Tensor) and out.requires_grad:
                out.register_hook(lambda g, i=i: self._output_grad(i, g))

    def _output_grad(self, i: int, g: Tensor) -> None:
        self.grad_output[i] = g
        if self.waiting == 0 and not self.fired:  # no input needs a gradient: fire now
            self._fire()

    def input_grad(self, i: int, g: Tensor) -> Tensor:
        self.grad_input[i] = g
        self.waiting -= 1
        if self.waiting == 0:
            replaced = self._fire()
            if replaced is not None:
                return replaced[i]
        return g

    def _fire(self) -> tuple | None:
        """Call the hooks; the grad_input one of them returns (checked), or None."""
        self.fired = True
        grad_input, result = tuple(self.grad_input), None
        for hook in list(self.module._backward_hooks.values()):
            out = hook(self.module, grad_input, tuple(self.grad_output))
            if out is not None:
                out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
                if len(out) != len(grad_input):
                    raise RuntimeError(f"register_full_backward_hook: the hook returned "
                                       f"{len(out)} gradients for {len(grad_input)} inputs")
                grad_input = result = out
        if result is not None and sum(self.needs) > 1:
            raise RuntimeError("register_full_backward_hook: replacing grad_input is supported "
                               "for modules with one input that requires grad; this one has "
                               f"{sum(self.needs)}")
        return result


class _InputGrad(Function):
    """Identity on one module input; its backward hands the input's gradient to the hooks."""

    saved_inputs = ()  # backward reads nothing

    def forward(self, x, collector: _Collector, index: int):
        self.collector, self.index = collector, index
        return x

    def backward(self, g):
        return self.collector.input_grad(self.index, g)


def init_registries(module: Module) -> None:
    for registry in REGISTRIES:
        object.__setattr__(module, registry, {})


def has_hooks(module: Module | None) -> bool:
    """Whether hooks watch this module (then Sequential does not fuse it away)."""
    return module is not None and bool(module._forward_pre_hooks or module._forward_hooks
                                       or module._backward_hooks)
