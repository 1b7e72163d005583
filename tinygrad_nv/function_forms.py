"""PyTorch's package-level functions that had no counterpart here: the function forms of
Tensor methods (`torch.clone(x)`), shape helpers (`broadcast_tensors`, `atleast_2d`),
`select take kron cdist cross` (differentiable, composed of Tensor ops), `bincount isin
searchsorted bucketize poisson` (no gradient; int64 / bool results as PyTorch's), and the
linalg and special functions PyTorch also has at the top level (`det inverse slogdet logdet
sinc logit i0`). `METHODS` are those PyTorch also has as Tensor methods (`x.det()`,
`x.select(0, 1)`, `x.logit_()`): the same functions, bound by the package."""

from __future__ import annotations

import math
import numbers
from typing import Any

from tinygrad_nv import linalg, special
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.creation import random_stream
from tinygrad_nv.dtype import dtypes, is_floating
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops._checks import broadcast_shapes as _broadcast
from tinygrad_nv.ops.inplace import in_place


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:  # noqa: A002
    """A copy of `input` (differentiable), as torch.clone."""
    return _tensor(input, "clone").clone()


def broadcast_to(input: Tensor, size: Any) -> Tensor:  # noqa: A002
    """`input` expanded to `size` without copying (-1 keeps an axis), as torch.broadcast_to."""
    return _tensor(input, "broadcast_to").expand(tuple(size))


def broadcast_shapes(*shapes: Any) -> tuple:
    """The shape that `shapes` (tuples or ints) broadcast to, as torch.broadcast_shapes.

    >>> tinygrad_nv.broadcast_shapes((2, 1), (3,))     # (2, 3)
    """
    shapes = [(s,) if isinstance(s, numbers.Integral) else tuple(s) for s in shapes]
    try:
        shape = _broadcast(*shapes)
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {', '.join(map(str, shapes))} do not "
                         f"broadcast (each axis must match or be 1)") from None
    return shape


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape (views, differentiable)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(_tensor(t, "broadcast_tensors").shape for t in tensors))
    return tuple(t if t.shape == shape else t.expand(shape) for t in tensors)


def _atleast(ndim: int, name: str, tensors: tuple) -> Any:
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    items = tensors if not (len(tensors) == 1 and isinstance(tensors[0], (list, tuple))) \
        else tuple(tensors[0])
    out = []
    for t in items:
        t = _tensor(t, name)
        if t.ndim == 0:
            t = t.reshape((1,) * ndim)
        elif t.ndim == 1 and ndim >= 2:
            t = t.reshape((1, t.shape[0], 1)[:ndim])
        elif t.ndim == 2 and ndim == 3:
            t = t.unsqueeze(-1)
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Tensor) -> Any:
    """Each tensor with at least 1 axis (a 0-d one becomes shape (1,)); one tensor in, one out."""
    return _atleast(1, "atleast_1d", tensors)


def atleast_2d(*tensors: Tensor) -> Any:
    """Each tensor with at least 2 axes: (n,) -> (1, n), () -> (1, 1)."""
    return _atleast(2, "atleast_2d", tensors)


def atleast_3d(*tensors: Tensor) -> Any:
    """Each tensor with at least 3 axes: (m, n) -> (m, n, 1), (n,) -> (1, n, 1)."""
    return _atleast(3, "atleast_3d", tensors)


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """input[..., index, ...] at axis `dim` (that axis removed), as torch.select."""
    x = _tensor(input, "select")
    if x.ndim == 0:
        raise IndexError("select(): cannot be applied to a 0-dim tensor")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"select(): dim {dim} out of range for a tensor of {x.ndim} dims "
                         f"(valid: {-x.ndim} to {x.ndim - 1})")
    n = x.shape[dim]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {dim % x.ndim}")
    return x.narrow(dim, index % n, 1).squeeze(dim)


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """The elements of `input` read as 1-D at the integer `index` (negative counts from the
    end), in index's shape, as torch.take; differentiable in input."""
    x, index = _tensor(input, "take"), _tensor(index, "take")
    if index.dtype.kind not in "iu":
        raise TypeError(f"take: index must be an integer tensor, got {index.dtype.name}")
    n = x.numel()
    if index.numel() and (int(index.max()) >= n or int(index.min()) < -n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements (valid: "
                         f"{-n} to {n - 1})")
    return x.reshape(-1)[index.reshape(-1)].reshape(index.shape)


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product: block (i, j, ...) is input[i, j, ...] * other, as torch.kron."""
    a, b = _tensor(input, "kron"), _tensor(other, "kron")
    ndim = max(a.ndim, b.ndim)
    a_shape, b_shape = (1,) * (ndim - a.ndim) + a.shape, (1,) * (ndim - b.ndim) + b.shape
    a = a.reshape(tuple(s for n in a_shape for s in (n, 1)))
    b = b.reshape(tuple(s for n in b_shape for s in (1, n)))
    return (a * b).reshape(tuple(m * n for m, n in zip(a_shape, b_shape)))


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M):
    shape (..., P, R), as torch.cdist (computed directly; compute_mode is accepted)."""
    x1, x2 = _tensor(x1, "cdist"), _tensor(x2, "cdist")
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: expected x1 (..., P, M) and x2 (..., R, M) with the same M, "
                         f"got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    if not is_floating(x1.dtype) or not is_floating(x2.dtype):
        raise TypeError(f"cdist: only supports floating-point dtypes, got {x1.dtype.name} and "
                        f"{x2.dtype.name}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or p < 0 or math.isnan(p):
        raise ValueError(f"cdist: only supports non-negative p values, got {p!r}")
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, dim=-1)


def bincount(input: Tensor, weights: Tensor | None = None,  # noqa: A002
             minlength: int = 0) -> Tensor:
    """How often each value 0..max occurs in a 1-D non-negative integer tensor (int64), or
    the sum of `weights` per value (float32 weights stay float32, others give float64)."""
    x = _tensor(input, "bincount")
    if x.ndim != 1 or x.dtype.kind not in "iu" or (x.numel() and int(x.min()) < 0):
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got "
                           f"shape {tuple(x.shape)} and dtype {x.dtype.name}")
    if not isinstance(minlength, numbers.Integral) or minlength < 0:
        raise RuntimeError(f"bincount: minlength should be a non-negative int, got {minlength!r}")
    if weights is None:
        return constant(lambda xp, a: xp.bincount(a, minlength=minlength).astype("int64"), x)
    w = _tensor(weights, "bincount")
    if w.shape != x.shape:
        raise RuntimeError(f"bincount: weights of shape {tuple(w.shape)} should have the "
                           f"input's shape {tuple(x.shape)}")
    dt = dtypes.float32 if w.dtype == dtypes.float32 else dtypes.float64
    return constant(lambda xp, a, b: xp.bincount(a, b, minlength=minlength).astype(dt), x, w)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Where each of `elements` occurs in `test_elements` (bool, elements' shape); either may
    be a number; invert=True gives the opposite."""
    like = elements if isinstance(elements, Tensor) else test_elements
    if not isinstance(like, Tensor):
        raise TypeError("isin: elements or test_elements must be a Tensor")
    a, b = (v if isinstance(v, Tensor) else Tensor(v, device=like.device)
            for v in (elements, test_elements))
    return constant(lambda xp, x, y: xp.isin(x, y, invert=invert), a, b)


def searchsorted(sorted_sequence: Tensor, values: Any, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None,
                 sorter: Tensor | None = None) -> Tensor:
    """For each value, the index at which inserting it into the sorted last axis of
    `sorted_sequence` keeps it sorted (the first such index, or the last with right=True or
    side='right'), as torch.searchsorted. A 1-D sequence serves values of any shape; an N-D
    one needs values with the same leading axes. int64 (int32 with out_int32)."""
    seq = _tensor(sorted_sequence, "searchsorted")
    if side not in (None, "left", "right") or (side == "left" and right):
        raise RuntimeError(f"searchsorted: side must be 'left' or 'right' and agree with "
                           f"right={right}, got side={side!r}")
    side = side or ("right" if right else "left")
    vals = values if isinstance(values, Tensor) else Tensor(values, device=seq.device,
                                                             dtype=seq.dtype)
    if seq.ndim == 0 or seq.ndim > 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(f"searchsorted: the sorted sequence of shape {tuple(seq.shape)} must "
                           f"be 1-D or have the leading axes of the values "
                           f"{tuple(vals.shape)}")
    if sorter is not None:
        seq = seq.gather(-1, sorter)
    dt = dtypes.int32 if out_int32 else dtypes.int64

    def search(xp, s, v):
        if s.ndim == 1:
            return xp.searchsorted(s, v, side=side).astype(dt)
        rows, flat = s.reshape(-1, s.shape[-1]), v.reshape(-1, v.shape[-1])
        found = [xp.searchsorted(r, w, side=side) for r, w in zip(rows, flat)]
        return xp.stack(found).reshape(v.shape).astype(dt)
    return constant(search, seq, vals)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket of each value between the sorted 1-D `boundaries` (boundaries[i-1] < x <=
    boundaries[i]; with right=True boundaries[i-1] <= x < boundaries[i]), as torch.bucketize."""
    b = _tensor(boundaries, "bucketize")
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {tuple(b.shape)}")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def poisson(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002
    """Poisson draws with the rates in `input` (same shape and dtype, no gradient), as
    torch.poisson. On cuda and emu the rates go to the host and NumPy draws them, seeded from
    the device's stream (reproducible under manual_seed; not for a training step's hot path)."""
    rates = _tensor(input, "poisson")
    if not is_floating(rates.dtype):
        raise TypeError(f"poisson: rates must be floating point, got {rates.dtype.name}")
    backend = rates._backend
    host = backend.to_host(rates._data)
    if not (host >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative (poisson)")
    rng = random_stream(backend, generator, "poisson")
    if not hasattr(rng, "poisson"):  # the GPU's Philox stream draws uniforms and normals only
        import numpy as np
        rng = np.random.default_rng(int(rng.integers(0, 2**62, size=1)[0]))
    drawn = rng.poisson(host).astype(rates.dtype)
    return rates._like(backend.from_host(drawn))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along `dim`, as torch.cross; dim=None takes the first
    axis of size 3 (PyTorch's deprecated default; linalg.cross defaults to the last)."""
    a, b = _tensor(input, "cross"), _tensor(other, "cross")
    if dim is None:
        shape = broadcast_shapes(a.shape, b.shape)
        dim = next((i for i, n in enumerate(shape) if n == 3), -1)
    return linalg.cross(a, b, dim=dim)


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det A of each square matrix: NaN where det A < 0, -inf where it is 0, as
    torch.logdet; the gradient is A^-T (as logabsdet's)."""
    sign, logabsdet = linalg.slogdet(_tensor(input, "logdet"))
    return logabsdet + sign.log()


def _tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


PUBLIC = {f.__name__: f for f in (
    clone, broadcast_to, broadcast_shapes, broadcast_tensors, atleast_1d, atleast_2d,
    atleast_3d, select, take, kron, cdist, bincount, isin, searchsorted, bucketize, poisson,
    cross)}
PUBLIC.update(det=linalg.det, inverse=linalg.inv, slogdet=linalg.slogdet, logdet=logdet,
              sinc=special.sinc, logit=special.logit, i0=special.i0)
METHODS = {name: PUBLIC[name] for name in (  # Tensor methods (bound in tinygrad_nv/__init__)
    "select", "take", "kron", "cross", "bincount", "broadcast_to", "det", "inverse", "slogdet",
    "logdet", "sinc", "logit", "i0")}
METHODS.update({f"{name}_": in_place(PUBLIC[name], f"{name}_") for name in ("sinc", "logit", "i0")})
