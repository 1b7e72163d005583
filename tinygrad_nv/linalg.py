"""torch.linalg: norms, inverse, determinant, solve, Cholesky, cross product. inv, det,
slogdet, solve and cholesky are Functions (the array module's LAPACK / cuSOLVER forward, a
backward of Tensor ops, so second derivatives work); the rest are composed of Tensor ops.
Matrices are the last two axes; leading axes are batches.

>>> A = Tensor([[2.0, 0.0], [0.0, 4.0]])
>>> linalg.inv(A), linalg.det(A)         # [[0.5, 0], [0, 0.25]], 8.0
"""

from __future__ import annotations

import collections
import math
import numbers
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops.matrix import matmul as matmul  # noqa: PLC0414  (torch.linalg.matmul)

SlogdetResult = collections.namedtuple("slogdet", ("sign", "logabsdet"))


class LinAlgError(RuntimeError):
    """A matrix the operation is not defined for (singular, not positive definite), as
    torch.linalg.LinAlgError."""


def _lapack(op: str, fn, *arrays):
    """fn(*arrays), NumPy's LinAlgError as ours naming the op (CuPy returns NaN instead)."""
    try:
        return fn(*arrays)
    except Exception as e:
        if type(e).__name__ != "LinAlgError":
            raise
        raise LinAlgError(f"linalg.{op}: {e} (the input is singular or not positive "
                          f"definite)") from None


class Inv(Function):
    saved_inputs = ()  # backward reads the output
    save_output = True

    def forward(self, a):
        return _lapack("inv", self.xp.linalg.inv, a)

    def backward(self, g):  # d(A^-1) = -A^-1 dA A^-1
        y = self.output().mT
        return -(y @ g @ y)


class Det(Function):
    save_output = True

    def forward(self, a):
        return self.xp.linalg.det(a)

    def backward(self, g):  # d det(A) = det(A) tr(A^-1 dA); needs A invertible
        scale = (g * self.output()).unsqueeze(-1).unsqueeze(-1)
        return scale * inv(self.parents[0]).mT


class LogAbsDet(Function):
    def forward(self, a):
        return self.xp.linalg.slogdet(a)[1]

    def backward(self, g):
        return g.unsqueeze(-1).unsqueeze(-1) * inv(self.parents[0]).mT


class Solve(Function):
    """X = A^-1 B for matrices B (..., n, k), A and B of the same batch shape."""

    save_output = True

    def forward(self, a, b):
        return _lapack("solve", self.xp.linalg.solve, a, b)

    def backward(self, g):  # gB = A^-T g, gA = -gB X^T
        a = self.parents[0]
        gb = solve(a.mT, g)
        ga = -(gb @ self.output().mT) if self.needs_input_grad[0] else None
        return ga, gb if self.needs_input_grad[1] else None


class Cholesky(Function):
    """The lower triangular L with L L^T = A (A symmetric positive definite)."""

    saved_inputs = ()  # backward reads the output
    save_output = True

    def forward(self, a):
        return _lapack("cholesky", self.xp.linalg.cholesky, a)

    def backward(self, g):  # Murray (2016): A's gradient L^-T Phi(L^T g) L^-1, symmetrized
        lower = self.output()
        phi = (lower.mT @ g.tril()).tril()
        phi = phi - 0.5 * phi * _eye_like(phi)  # the diagonal halved
        linv = inv(lower)
        s = linv.mT @ phi @ linv
        return 0.5 * (s + s.mT)


def _eye_like(x: Tensor) -> Tensor:
    return Tensor.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _square(a: Any, op: str) -> Tensor:
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{op}: expected a Tensor, got {type(a).__name__}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                         f"{' by '.join(map(str, a.shape[-2:])) or 'a scalar'} matrices "
                         f"(shape {tuple(a.shape)})")
    if not is_floating(a.dtype) or a.dtype.itemsize < 4:
        raise TypeError(f"linalg.{op}: expected a float32 or float64 matrix, got "
                        f"{a.dtype.name}")
    return a


def inv(A: Tensor) -> Tensor:  # noqa: N803  (PyTorch's name)
    """The inverse of each square matrix (LinAlgError for a singular one on the CPU)."""
    return Inv.apply(_square(A, "inv"))


def det(A: Tensor) -> Tensor:  # noqa: N803
    """The determinant of each square matrix (shape A.shape[:-2]); its gradient
    det(A) A^-T needs A invertible."""
    return Det.apply(_square(A, "det"))


def slogdet(A: Tensor) -> SlogdetResult:  # noqa: N803
    """(sign, log|det A|) of each square matrix; the gradient flows through logabsdet."""
    a = _square(A, "slogdet")
    return SlogdetResult(det(a.detach()).sign(), LogAbsDet.apply(a))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with A X = B (left=False: X A = B); B a batch of matrices (..., n, k) or of vectors
    (..., n); batch axes broadcast."""
    a = _square(A, "solve")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve: expected B to be a Tensor, got {type(B).__name__}")
    if not left:
        return solve(a.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == a.ndim - 1 and B.shape == a.shape[:-1])
    b = B.unsqueeze(-1) if vector else B
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ShapeError(f"linalg.solve: incompatible shapes of A {tuple(a.shape)} and B "
                         f"{tuple(B.shape)} (B needs {a.shape[-1]} rows)")
    batch = _batch_shape(a.shape[:-2], b.shape[:-2], "solve")
    a, b = a.expand(batch + a.shape[-2:]), b.expand(batch + b.shape[-2:])
    x = Solve.apply(a, b.to(dtype=a.dtype))
    return x.squeeze(-1) if vector else x


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """The lower triangular Cholesky factor L (L L^T = A) of each symmetric positive definite
    matrix (its transpose with upper=True). Only A's lower triangle is read."""
    lower = Cholesky.apply(_square(A, "cholesky"))
    return lower.mT if upper else lower


def _batch_shape(s: tuple, t: tuple, op: str) -> tuple:
    ndim = max(len(s), len(t))
    s, t = (1,) * (ndim - len(s)) + tuple(s), (1,) * (ndim - len(t)) + tuple(t)
    if any(m != n and 1 not in (m, n) for m, n in zip(s, t)):
        raise ShapeError(f"linalg.{op}: the batch shapes {s} and {t} do not broadcast")
    return tuple(max(m, n) for m, n in zip(s, t))


def vector_norm(x: Tensor, ord: float = 2, dim: Any = None, keepdim: bool = False,  # noqa: A002
                *, dtype: Any = None) -> Tensor:
    """The vector ord-norm over `dim` (None: all elements): sum(|x|^ord)^(1/ord), inf: max,
    -inf: min, 0: the count of nonzeros."""
    return x.norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


_MATRIX_ORDS = ("fro", 1, -1, math.inf, -math.inf)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple = (-2, -1),  # noqa: N803, A002
                keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The matrix norm over the two axes `dim`: 'fro' (Frobenius), 1 / -1 (max / min column
    sum of |A|), inf / -inf (max / min row sum). 'nuc', 2 and -2 (singular values) are not
    implemented."""
    if ord not in _MATRIX_ORDS:
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not implemented; "
                                  f"valid: {_MATRIX_ORDS}")
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"linalg.matrix_norm: A must have at least 2 dimensions, got shape "
                         f"{tuple(getattr(A, 'shape', ()))}")
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return A.norm(p=2, dim=(d0, d1), keepdim=keepdim, dtype=dtype)
    a = A.abs() if dtype is None else A.to(dtype=dtype).abs()
    summed, kept = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = a.sum(summed, keepdim=True)
    out = sums.amax(kept, keepdim=True) if ord > 0 else sums.amin(kept, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1))


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False,  # noqa: N803, A002
         *, dtype: Any = None) -> Tensor:
    """torch.linalg.norm: a vector norm when `dim` is an int (or A is 1-D), a matrix norm
    when `dim` is a pair (or A is 2-D); with ord and dim both None, the 2-norm of all
    elements."""
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: if dim is not given, A must be 1-D or 2-D when "
                               f"ord is given, got shape {tuple(A.shape)}")
        dim = tuple(range(A.ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    if len(dims) == 1:
        return vector_norm(A, ord, dims, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dims, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along `dim` (inputs broadcast)."""
    for t in (input, other):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg.cross: expected Tensors, got {type(t).__name__}")
        if t.ndim == 0 or t.shape[dim] != 3:
            raise ShapeError(f"linalg.cross: inputs must have 3 elements at dim {dim}, got "
                             f"shapes {tuple(input.shape)} and {tuple(other.shape)}")
    # roll by -1 gives (a1, a2, a0): c = a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0
    return input.roll(-1, dim) * other.roll(-2, dim) - input.roll(-2, dim) * other.roll(-1, dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along `dim` (inputs broadcast)."""
    return (x * y).sum(dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """The diagonals of a batch of matrices (torch.linalg.diagonal's defaults: the last two
    axes)."""
    return A.diagonal(offset, dim1, dim2)


__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve",
           "cholesky", "cross", "vecdot", "matmul", "diagonal", "LinAlgError"]
