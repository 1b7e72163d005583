"""Layers and nn.functional refuse inputs that are not Tensors with a TypeError naming the
layer or function, the argument and what it got (a NumPy array passed to a layer used to fail
deep inside with an AttributeError). The arguments that must be Tensors are read once from
the annotations (`Tensor`, `Tensor | None`, ...)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from tinygrad_nv._tensor import Tensor

# per argument: (position, name, the other classes accepted by name, None accepted)
Spec = tuple[tuple[int | None, str, frozenset[str], bool], ...]


def tensor_arguments(fn: Callable, skip_self: bool = False) -> Spec:
    """The arguments of `fn` annotated as Tensors (`Tensor`, `Tensor | None`, `Tensor |
    PackedSequence`, ...), up to its *args (`skip_self`: a method)."""
    spec = []
    params = list(inspect.signature(fn).parameters.values())[int(skip_self):]
    for i, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            break
        names = _union(p.annotation)
        others = names - {"Tensor", "None"}
        # checked: Tensor alone or with classes named plainly (PackedSequence); an argument
        # that also takes numbers or sequences (Tensor | Sequence[int]) is left to the op
        if "Tensor" in names and all(n.isidentifier() and n[:1].isupper() for n in others):
            spec.append((None if p.kind is p.KEYWORD_ONLY else i, p.name, frozenset(others),
                         "None" in names))
    return tuple(spec)


def _union(annotation: Any) -> set[str]:
    """The class names of an annotation: 'Tensor | None' -> {'Tensor', 'None'}."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[9:-1] + "|None"
    return {name.strip() for name in text.split("|")}


def check_tensors(owner: str, spec: Spec, args: tuple, kwargs: dict[str, Any]) -> None:
    """Raise TypeError, naming `owner`, for an argument of `spec` that is not a Tensor."""
    for position, name, others, optional in spec:
        if position is not None and position < len(args):
            value = args[position]
        elif name in kwargs:
            value = kwargs[name]
        else:
            continue  # not given: the call itself reports a missing argument
        if not (isinstance(value, Tensor) or (optional and value is None)
                or type(value).__name__ in others):
            expected = " or ".join(["a Tensor", *sorted(others), *["None"] * optional])
            raise TypeError(f"{owner}: argument '{name}' must be {expected}, got "
                            f"{type(value).__name__}; convert it with tinygrad_nv.tensor(...)")


def check_functions(namespace: dict[str, Any]) -> None:
    """Wrap each public function of a module namespace (nn.functional) that takes Tensors so
    that a non-Tensor argument raises a TypeError naming the function."""
    for name, fn in list(namespace.items()):
        if not name.startswith("_") and inspect.isfunction(fn):
            spec = tensor_arguments(fn)
            if spec:
                namespace[name] = _checked(fn, name, spec)


def _checked(fn: Callable, name: str, spec: Spec) -> Callable:
    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check_tensors(name, spec, args, kwargs)
        return fn(*args, **kwargs)

    return checked
