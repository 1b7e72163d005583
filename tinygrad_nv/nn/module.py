"""`Module`: the base class of layers and models (PyTorch's `torch.nn.Module`, trimmed).

Assigning an attribute registers it: a leaf Tensor that requires grad is a parameter, a
Module is a submodule, and tensors named with `register_buffer` are buffers (state that is
saved but not trained, like batch norm's running statistics). A plain list or dict of
Modules registers nothing (assigning one warns): use ModuleList, ModuleDict or ParameterList.

>>> class MLP(Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1, self.fc2 = Linear(4, 8), Linear(8, 2)
...     def forward(self, x):
...         return self.fc2(self.fc1(x).relu())
>>> sorted(MLP().state_dict())    # ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.dtype import dtypes, to_dtype
from tinygrad_nv.jit.state import state as jit_state
from tinygrad_nv.jit.state import watch
from tinygrad_nv.nn import checks, hooks
from tinygrad_nv.nn.parameter import Parameter, as_parameter, is_lazy, is_parameter
from tinygrad_nv.tensor_args import to_args


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys}, " \
               f"unexpected_keys={self.unexpected_keys})"


class Module:
    """Base class: subclasses set parameters/submodules in `__init__` and define `forward`."""

    training: bool
    _inputs: checks.Spec = ()  # the Tensor arguments of a built-in layer's forward

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if (cls.forward.__module__ or "").startswith("tinygrad_nv."):  # our layers, not users' own
            cls._inputs = checks.tensor_arguments(cls.forward, skip_self=True)

    def __init__(self) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            object.__setattr__(self, registry, {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        hooks.init_registries(self)
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if jit_state.modules is not None:  # a jitted step notes the modules it calls
            watch(self)
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return hooks.call_with_hooks(self, args, kwargs)  # a pre-hook may convert inputs
        if self._inputs:  # a NumPy array or list given to a layer: TypeError naming the layer
            checks.check_tensors(type(self).__name__, self._inputs, args, kwargs)
        return self.forward(*args, **kwargs)

    # hooks (nn/hooks.py): each returns a handle whose remove() unregisters the hook
    register_forward_pre_hook = hooks.register_forward_pre_hook
    register_forward_hook = hooks.register_forward_hook
    register_full_backward_hook = hooks.register_full_backward_hook

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            target = params
        elif name in buffers and (value is None or isinstance(value, Tensor)):
            target = buffers
        elif is_parameter(value):
            target, value = params, as_parameter(value)
        elif isinstance(value, Module):
            target = modules
        else:
            target = _registry_of(self, name, value)
        for registry in (params, buffers, modules):
            if registry is not target:
                registry.pop(name, None)
        if target is not buffers:
            self._non_persistent_buffers.discard(name)
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
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def _check_name(self, op: str, kind: str, name: Any, registry: dict[str, Any]) -> None:
        """PyTorch's checks of a name to register a `kind` (parameter, buffer, module) under."""
        if not isinstance(name, str):
            raise TypeError(f"{op}: {kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{op}: {kind} name can't contain \".\", got {name!r}")
        if not name:
            raise KeyError(f"{op}: {kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"{op}: attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True
                        ) -> None:
        """Register state that is not trained: saved in state_dict unless persistent=False,
        moved by to().

        >>> self.register_buffer("running_mean", Tensor.zeros(4))
        """
        self._check_name("register_buffer", "buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register an nn.Parameter (or a leaf tensor that requires grad, which becomes one)
        or None under `name`, as assigning the attribute does.

        >>> self.register_parameter("scale", nn.Parameter(Tensor.ones(4)))
        """
        self._check_name("register_parameter", "parameter", name, self._parameters)
        if param is not None and not is_parameter(param):
            raise TypeError(f"register_parameter: cannot assign '{type(param).__name__}' object "
                            f"to parameter '{name}' (nn.Parameter or None required)")
        self._parameters[name] = None if param is None else as_parameter(param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule (or None) under `name`, as assigning the attribute does."""
        self._check_name("add_module", "module", name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass "
                            f"(registering {name!r})")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ lookup by name
    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path ('' is this module), as PyTorch.

        >>> model.get_submodule("encoder.layers.0")
        """
        module = self
        for item in target.split(".") if target else []:
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path ('encoder.0.weight')."""
        return self._get_tensor(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path ('bn.running_mean')."""
        return self._get_tensor(target, "_buffers", "a buffer")

    def _get_tensor(self, target: str, registry: str, what: str) -> Any:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        if name not in getattr(module, registry):
            raise AttributeError(f"`{name}` is not {what}")
        return getattr(module, name)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every submodule below it (each once unless remove_duplicate is
        False), depth first, with dotted names."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                                remove_duplicate)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules (each once) with their attribute names."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
               ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, t in getattr(module, registry).items():
                if t is not None and (not remove_duplicate or id(t) not in seen):
                    seen.add(id(t))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, parameter) pairs; a parameter shared by two modules appears once."""
        return self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, buffer) pairs, persistent or not."""
        return self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule (children first, recursively) and then on self.

        >>> model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and devices
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics) or not."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; they stay registered as parameters."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the parameters' gradients: to None (the default), or to zeros."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def to(self, *args: Any, device: Any = None, dtype: Any = None,
           non_blocking: bool = False) -> Module:
        """Move parameters and buffers to a device and/or convert the floating point ones to a
        floating dtype, in place: `to("cuda")`, `to(float64)`, `to("cuda", float16)`,
        `to(tensor)` (its device and dtype). The parameter objects stay the same
        (optimizers keep working)."""
        device, dtype, _ = to_args(args, device, dtype, False, "Module.to")
        if dtype is not None and not dtypes.is_float(to_dtype(dtype)):
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={to_dtype(dtype).name}")
        return self._convert(device, lambda t: dtype if dtypes.is_float(t.dtype) else None)

    def _convert(self, device: Any, dtype_of: Callable[[Tensor], Any]) -> Module:
        """Every parameter and buffer (and its gradient) moved to `device` and cast to
        `dtype_of(tensor)` in place, through `.data`: the objects stay the same."""
        for t in [*self.parameters(), *self.buffers()]:
            moved = t.detach().to(device=device, dtype=dtype_of(t))
            grad = None if t.grad is None else t.grad.detach().to(device=device,
                                                                  dtype=moved.dtype)
            t.data, t.grad = moved, grad
        return self

    def cpu(self) -> Module:
        """Move every parameter and buffer to the CPU."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Move to GPU `device` (an index, a name or a device; the current GPU when None)."""
        return self.to("cuda" if device is None else device)

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer, integer ones included, to `dst_type` (PyTorch's
        Module.type; to() and half()/float()/double() convert floating point ones only)."""
        return self._convert(None, lambda t: dst_type)

    def half(self) -> Module:
        """Floating point parameters and buffers to float16."""
        return self.to(dtype=dtypes.float16)

    def bfloat16(self) -> Module:
        """Floating point parameters and buffers to bfloat16."""
        return self.to(dtype=dtypes.bfloat16)

    def float(self) -> Module:
        """Floating point parameters and buffers to float32."""
        return self.to(dtype=dtypes.float32)

    def double(self) -> Module:
        """Floating point parameters and buffers to float64."""
        return self.to(dtype=dtypes.float64)

    # ------------------------------------------------------------------ state
    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> dict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (PyTorch's keys, a shared module
        under each of its names), sharing their memory (detached unless keep_vars)."""
        out: dict[str, Tensor] = {}
        for name, t in [*self._parameters.items(), *self._buffers.items()]:
            if t is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = t if keep_vars or is_lazy(t) else t.detach()
        for name, module in self._modules.items():
            if module is not None:
                out.update(module.state_dict(prefix=f"{prefix}{name}.", keep_vars=keep_vars))
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values (Tensors or arrays) into the parameters and buffers in place. Shape
        mismatches always raise RuntimeError; missing and unexpected keys raise when strict
        (PyTorch's message), else they are returned."""
        for key, t in self.state_dict().items():  # a lazy module takes the shapes it is given
            if is_lazy(t) and key in state_dict and not is_lazy(state_dict[key]):
                t.materialize(tuple(_shape(state_dict[key])))
        own = self.state_dict()
        skip = {k for k, t in own.items() if is_lazy(t) and is_lazy(state_dict.get(k))}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = [f"size mismatch for {k}: copying a param with shape {tuple(_shape(v))} from "
                  f"checkpoint, the shape in current model is {tuple(own[k].shape)}."
                  for k, v in state_dict.items()
                  if k in own and k not in skip and tuple(_shape(v)) != own[k].shape]
        if strict:
            keys = [("Unexpected", unexpected), ("Missing", missing)]
            errors[:0] = [f"{kind} key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in names) + ". "
                          for kind, names in reversed(keys) if names]
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, target in own.items():
            if key in state_dict and key not in skip:
                with no_grad():  # an in-place change: bumps the version, on target's device
                    target.copy_(Tensor(state_dict[key], device=target.device,
                                        dtype=target.dtype))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The layer's settings for repr, e.g. 'in_features=2, out_features=3, bias=True'."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(m)) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        body = "\n  " + "\n  ".join(lines) + "\n" if lines else ""
        return f"{type(self).__name__}({body})"


def _indent(text: str) -> str:
    """Indent every line but the first by two spaces (for nested reprs)."""
    return text.replace("\n", "\n  ")


def _registry_of(owner: Module, name: str, value: Any) -> dict | None:
    """Where assigning `value` (neither a parameter nor a module) to `name` puts it: None
    keeps a registered name's place; anything else over a parameter, submodule or buffer
    raises, as PyTorch (lin.weight = Tensor(...) would silently stop training it)."""
    for registry, kind, expected in ((owner._parameters, "parameter", "nn.Parameter"),
                                     (owner._modules, "child module", "nn.Module"),
                                     (owner._buffers, "buffer", "Tensor")):
        if name in registry:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as {kind} '{name}' "
                                f"({expected} or None expected)")
            return registry
    _warn_if_unregistered(owner, name, value)
    return None


def _warn_if_unregistered(owner: Module, name: str, value: Any) -> None:
    """Warn when a plain list, tuple or dict holding Modules or parameters is assigned: its
    contents would be invisible to parameters(), state_dict(), to() and optimizers."""
    if not isinstance(value, list | tuple | dict):
        return
    items = value.values() if isinstance(value, dict) else value
    if any(isinstance(v, Module) or is_parameter(v) for v in items):
        kind = type(value).__name__
        warnings.warn(f"{type(owner).__name__}.{name}: a plain {kind} of Modules or parameters "
                      "is not registered (parameters(), state_dict(), to() and optimizers will "
                      "not see its contents); use nn.ModuleList, nn.ModuleDict or "
                      "nn.ParameterList", UserWarning, stacklevel=3)


def _shape(value: Any) -> tuple:
    return value.shape if hasattr(value, "shape") else Tensor(value).shape
