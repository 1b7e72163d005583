"""Containers that register what they hold: `ModuleList`, `ModuleDict`, `ParameterList`,
`ParameterDict` (PyTorch's names, keys and reprs; `Sequential` lives with the layers it
fuses).

>>> self.blocks = ModuleList(Linear(8, 8) for _ in range(3))   # keys blocks.0.weight, ...
>>> self.heads = ModuleDict({"cls": Linear(8, 10), "box": Linear(8, 4)})
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn.module import Module, Parameter, _indent, is_parameter


def _position(owner: str, index: int, length: int) -> int:
    """A non-negative position for `index` (negative counts from the end)."""
    if not isinstance(index, int):
        raise TypeError(f"{owner} indices must be integers or slices, got "
                        f"{type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} items")
    return index % length


class ModuleList(Module):
    """A list of submodules, registered under '0', '1', ... (no forward of its own).

    >>> layers = ModuleList([Linear(2, 2), ReLU()]); layers.append(Linear(2, 1))
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[_position("ModuleList", index, len(items))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_position("ModuleList", index, len(self))), module)

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[_position("ModuleList", index, len(items))]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def _renumber(self, items: list[Module]) -> None:
        self._modules.clear()
        for module in items:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add every module of `modules` at the end."""
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable of Modules, "
                            f"but got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index` (as list.insert)."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: expected a Module, got {type(module).__name__}")
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at `index`."""
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        """Runs of identical modules collapse to '(0-2): 3 x Linear(...)', as PyTorch
        prints them."""
        if not self._modules:
            return "ModuleList()"
        blocks: list[list[Any]] = []  # [first index, last index, repr]
        for i, module in enumerate(self):
            text = repr(module)
            if blocks and blocks[-1][2] == text:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, text])
        lines = [_indent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}")
                 for a, b, text in blocks]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of submodules registered under their keys (insertion order).

    >>> heads = ModuleDict({"cls": Linear(8, 10)}); heads["box"] = Linear(8, 4)
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None
                 = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018  (the KeyError that names the keys)
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove and return the module under `key`."""
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping | ModuleDict) else modules
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: expected a mapping or (key, module) "
                                f"pairs, got an element {pair!r}")
            self[pair[0]] = pair[1]


class ParameterList(Module):
    """A list of parameters registered under '0', '1', ...; a Tensor that is not yet a
    parameter is made one (a leaf that requires grad, sharing its memory).

    >>> scales = ParameterList(Tensor.ones(4) for _ in range(3))
    """

    def __init__(self, values: Iterable[Tensor] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(items[index])
        return items[_position("ParameterList", index, len(items))]

    def __setitem__(self, index: int, value: Tensor) -> None:
        self._set(_position("ParameterList", index, len(self)), value)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Tensor]) -> ParameterList:
        return self.extend(values)

    def _set(self, index: int, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"ParameterList: item {index} must be a Tensor, got "
                            f"{type(value).__name__}")
        self.register_parameter(str(index), value if is_parameter(value) else Parameter(value))

    def append(self, value: Tensor) -> ParameterList:
        """Add `value` (made a parameter if it is not one) at the end."""
        self._set(len(self), value)
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        """Add every tensor of `values` at the end."""
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend should be called with an iterable of "
                            f"Tensors, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        lines = []
        for i, p in enumerate(self):
            size = "x".join(str(n) for n in p.shape)
            device = f" ({p.device})" if p.device.type == "cuda" else ""
            lines.append(f"  ({i}): Parameter containing: [{p.dtype} of size {size}{device}]")
        return "\n".join(lines)


class ParameterDict(Module):
    """An ordered dict of parameters registered under their keys; a Tensor that is not yet a
    parameter is made one. A plain dict is added in sorted key order, an OrderedDict, a
    ParameterDict or (key, tensor) pairs in their own order (as PyTorch).

    >>> self.scales = ParameterDict({"a": Tensor.ones(4)})      # state_dict key 'scales.a'
    """

    def __init__(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None
                 = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict: no parameter named {key!r}; keys: "
                           f"{list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"ParameterDict: {key!r} must be a Tensor, got "
                            f"{type(value).__name__}")
        self.register_parameter(key, value if is_parameter(value) else Parameter(value))

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018  (the KeyError that names the keys)
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __or__(self, other: Mapping[str, Tensor]) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other: Mapping[str, Tensor]) -> ParameterDict:
        self.update(other)
        return self

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def values(self) -> Iterable[Tensor]:
        return self._parameters.values()

    def items(self) -> Iterable[tuple[str, Tensor]]:
        return self._parameters.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def clear(self) -> None:
        self._parameters.clear()

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same parameters."""
        return ParameterDict(list(self.items()))

    def pop(self, key: str) -> Tensor:
        """Remove and return the parameter under `key`."""
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Tensor]:
        """Remove and return the last (key, parameter) pair."""
        if not self._parameters:
            raise KeyError("popitem(): ParameterDict is empty")
        key = next(reversed(self._parameters))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Tensor) -> Tensor:
        """The parameter under `key`, set to `default` first if there is none."""
        if key not in self:
            self[key] = default
        return self[key]

    def fromkeys(self, keys: Iterable[str], default: Tensor) -> ParameterDict:
        """A new ParameterDict with `default` under every key."""
        return ParameterDict((key, default) for key in keys)

    def update(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]
               ) -> None:
        """Add or replace parameters from a mapping or from (key, tensor) pairs."""
        if isinstance(parameters, OrderedDict | ParameterDict):
            pairs = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        elif isinstance(parameters, Iterable) and not isinstance(parameters, Tensor):
            pairs = parameters
        else:
            raise TypeError(f"ParameterDict.update should be called with a mapping or an "
                            f"iterable of (key, tensor) pairs, but got "
                            f"{type(parameters).__name__}")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"ParameterDict.update: element #{i} must be a (key, tensor) "
                                f"pair, got {pair!r}")
            self[pair[0]] = pair[1]

    def extra_repr(self) -> str:
        return "\n".join(f"  ({key}): {_describe(p)}" for key, p in self.items())


_TYPENAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
              "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
              "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _describe(p: Tensor) -> str:
    """PyTorch's line for a parameter of a ParameterDict: 'Parameter containing:
    [torch.FloatTensor of size 2x3]' (torch.cuda.FloatTensor on a GPU)."""
    size = "x".join(str(n) for n in p.shape)
    where = f"torch.cuda.{_TYPENAMES[p.dtype.name]}Tensor of size {size} ({p.device})" \
        if p.device.type == "cuda" else f"torch.{_TYPENAMES[p.dtype.name]}Tensor of size {size}"
    return f"Parameter containing: [{where}]"
