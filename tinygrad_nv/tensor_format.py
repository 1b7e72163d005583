"""How tensors print: PyTorch's `repr`/`str` (torch/_tensor_str.py) on the host copy of the
values, with its options (`set_printoptions`): 4 digits, scientific notation when the finite
non-zero magnitudes span more than 1000x or leave [1e-4, 1e8], integer-valued floats as `2.`,
summaries with `...` beyond 1000 elements, and the suffixes device, dtype, requires_grad and
grad_fn in PyTorch's order."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_nv.autograd.function import backward_name
from tinygrad_nv.dtype import dtypes, is_floating

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


@dataclasses.dataclass
class PrintOptions:
    """The options of set_printoptions, PyTorch's defaults."""

    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = PrintOptions()
_PROFILES = {"default": PrintOptions(), "short": PrintOptions(precision=2, edgeitems=2),
             "full": PrintOptions(threshold=math.inf)}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as torch.set_printoptions: `precision` digits after the point,
    summaries beyond `threshold` elements showing `edgeitems` at each end of an axis,
    `linewidth` characters a line, `sci_mode` True/False to force or forbid scientific
    notation (None: chosen per tensor); `profile` 'default', 'short' or 'full' first.

    >>> tinygrad_nv.set_printoptions(precision=2)     # tensor([1.12]) for [1.12345]
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {list(_PROFILES)}, "
                             f"got {profile!r}")
        for field in ("precision", "threshold", "edgeitems", "linewidth"):
            setattr(OPTIONS, field, getattr(_PROFILES[profile], field))
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems,
             "linewidth": linewidth}
    for field, value in given.items():
        if value is not None:
            setattr(OPTIONS, field, value)
    OPTIONS.sci_mode = sci_mode  # (None resets it, as PyTorch)


def get_printoptions() -> dict[str, Any]:
    """The current options as a dict that set_printoptions(**options) accepts."""
    return dataclasses.asdict(OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """set_printoptions(**kwargs) inside a `with` block, the old options after it."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """PyTorch's choice of one number format for all the (shown) values of a tensor."""

    def __init__(self, values: np.ndarray):
        self.floating, self.int_mode, self.sci_mode, self.width = values.dtype.kind == "f", \
            True, False, 1
        if not self.floating:
            self.width = max((len(str(v)) for v in values.ravel().tolist()), default=1)
            return
        shown = values[np.isfinite(values) & (values != 0)]
        if shown.size == 0:
            return
        magnitudes = np.abs(shown).astype(np.float64)  # (float16 overflows at 1e8)
        low, high = magnitudes.min(), magnitudes.max()
        self.int_mode = bool((shown == np.ceil(shown)).all())
        self.sci_mode = bool(high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4) \
            if OPTIONS.sci_mode is None else OPTIONS.sci_mode
        spec = f".{OPTIONS.precision}e" if self.sci_mode else \
            ".0f" if self.int_mode else f".{OPTIONS.precision}f"
        extra = int(self.int_mode and not self.sci_mode)  # the point after an integer: "2."
        self.width = max(len(format(v, spec)) + extra for v in shown.tolist())

    def format(self, value: Any) -> str:
        """One value, right-aligned to the common width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{OPTIONS.precision}f}"
        return text.rjust(self.width)


def _edges(values: np.ndarray) -> np.ndarray:
    """The values a summary shows: `edgeitems` at each end of every longer axis."""
    edge = OPTIONS.edgeitems
    for axis, n in enumerate(values.shape):
        if n > 2 * edge:
            values = np.take(values, [*range(edge), *range(n - edge, n)], axis=axis)
    return values


def _body(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """The nested brackets of `values`, rows aligned under the first `[` plus `indent`."""
    edge = OPTIONS.edgeitems
    cut = summarize and values.shape[0] > 2 * edge if values.ndim else False
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        per_line = max(1, (OPTIONS.linewidth - indent) // (fmt.width + 2))
        if summarize and not edge:
            items = ["..."]
        elif cut:
            items = [*map(fmt.format, values[:edge].tolist()), " ...",
                     *map(fmt.format, values[-edge:].tolist())]
        else:
            items = [fmt.format(v) for v in values.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [*range(edge), None, *range(len(values) - edge, len(values))] if cut else \
        range(len(values))
    parts = ["..." if i is None else _body(values[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """`text` and `, suffix` for each, wrapped onto a new line past the line width."""
    out, line = [text], len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > OPTIONS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            out.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t: Tensor) -> str:
    """`tensor([[1., 2.],\\n        [3., 4.]], dtype=tinygrad_nv.float64)`, as PyTorch prints
    the same tensor (`torch.` spelled `tinygrad_nv.`)."""
    cls = type(t)  # Tensor and nn.Parameter print as tensor(...), other subclasses by name
    plain = cls.__name__ in ("Tensor", "Parameter") and cls.__module__.startswith("tinygrad_nv")
    prefix = "tensor(" if plain else f"{cls.__name__}("
    indent, suffixes = len(prefix), []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    values = t.numpy()
    if is_floating(values.dtype) and values.dtype.kind != "f":  # bfloat16: exact as float32
        values = values.astype(np.float32)
    dtype = f"dtype=tinygrad_nv.{t.dtype.name}"
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if t.dtype != dtypes.default_float:
            suffixes.append(dtype)
        body = "[]"
    else:
        if not OPTIONS.edgeitems:
            suffixes.append(f"size={tuple(values.shape)}")
        if t.dtype not in (dtypes.default_float, dtypes.int64, dtypes.bool):
            suffixes.append(dtype)
        summarize = values.size > OPTIONS.threshold
        fmt = _Formatter(_edges(values) if summarize else values)
        body = _body(values, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{backward_name(t.grad_fn)}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
