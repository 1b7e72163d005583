"""`Module`: the base class of layers and models (PyTorch's `torch.nn.Module`, trimmed).

Assigning an attribute registers it: a leaf Tensor that requires grad is a parameter, a
Module is a submodule, and tensors named with `register_buffer` are buffers (state that is
saved but not trained, like batch norm's running statistics).

>>> class MLP(Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1, self.fc2 = Linear(4, 8), Linear(8, 2)
...     def forward(self, x):
...         return self.fc2(self.fc1(x).relu())
>>> sorted(MLP().state_dict())    # ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from tinygrad_nv.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def Parameter(data: Tensor) -> Tensor:  # noqa: N802  (PyTorch's spelling)
    """A trainable tensor: `data` as a leaf with requires_grad=True (module attributes that are
    such tensors are registered as parameters)."""
    return data.detach().requires_grad_(True)


class Module:
    """Base class: subclasses set parameters/submodules in `__init__` and define `forward`."""

    training: bool

    def __init__(self) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            object.__setattr__(self, registry, {})
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Module):
            target = modules
        elif name in buffers and (value is None or isinstance(value, Tensor)):
            target = buffers
        elif isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            target = params
        elif name in params and value is None:
            target = params
        else:
            target = None
        for registry in (params, buffers, modules):
            if registry is not target:
                registry.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)
            target[name] = value

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry, {})
            if name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register state that is saved in state_dict but not trained."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._buffers[name] = tensor

    def register_parameter(self, name: str, tensor: Tensor | None) -> None:
        if tensor is not None and not (isinstance(tensor, Tensor) and tensor.requires_grad):
            raise TypeError(f"register_parameter: {name!r} must be a Tensor that requires grad "
                            "(or None)")
        self.__dict__.pop(name, None)
        self._buffers.pop(name, None)
        self._parameters[name] = tensor

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule below it, each once, with dotted names."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m)
                        for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, t in getattr(module, registry).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, parameter) pairs; a parameter shared by two modules appears once."""
        return self._named("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule and then on self (e.g. to initialise weights)."""
        for module in list(self.modules())[::-1]:
            fn(module)
        return self

    # ------------------------------------------------------------------ modes and devices
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics) or not."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def to(self, *args: Any, device: str | None = None, dtype: Any = None) -> Module:
        """Move parameters and buffers to a device and/or convert the floating point ones to a
        dtype, in place: the parameter objects stay the same (optimizers keep working)."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        for t in [*self.parameters(), *self.buffers()]:
            moved = t.detach().to(device=device, dtype=dtype if t.dtype.kind == "f" else None)
            grad = None if t.grad is None else t.grad.detach().to(device=device,
                                                                  dtype=moved.dtype)
            t.replace(moved).grad = grad
        return self

    def float(self) -> Module:
        return self.to(dtype="float32")

    def double(self) -> Module:
        return self.to(dtype="float64")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Tensor]:
        """Parameters and buffers by dotted name (PyTorch's keys), sharing their memory."""
        out: dict[str, Tensor] = {}
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for name, t in registry.items():
                    if t is not None:
                        out[f"{prefix}.{name}" if prefix else name] = t.detach()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values (Tensors or arrays) into the parameters and buffers in place. Shape
        mismatches always raise; missing and unexpected keys raise when strict."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [f"{k}: expected {own[k].shape}, got {tuple(_shape(v))}"
                      for k, v in state_dict.items() if k in own and
                      tuple(_shape(v)) != own[k].shape]
        if mismatched or (strict and (missing or unexpected)):
            problems = [f"{title}: {', '.join(keys)}" for title, keys in
                        (("missing keys", missing), ("unexpected keys", unexpected),
                         ("shape mismatches", mismatched)) if keys]
            raise RuntimeError(f"load_state_dict: cannot load into {type(self).__name__}: "
                               + "; ".join(problems))
        for key, target in own.items():
            if key in state_dict:
                value = Tensor(state_dict[key], device=target.device, dtype=target.dtype)
                target.data[...] = value.data
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ")
                 for name, m in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _shape(value: Any) -> tuple:
    return value.shape if hasattr(value, "shape") else Tensor(value).shape
