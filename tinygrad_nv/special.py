"""torch.special: special functions, most of them the package's ops (polygamma) or those under
SciPy's names (`expit` is sigmoid, `gammaln` lgamma, `psi` digamma); the others (logit,
xlog1py, entr, ndtr, ndtri, sinc, i0, i1) are composed of Tensor ops, or small Functions whose
backward is made of Tensor ops, so every one of them is differentiable (twice and more).

>>> import tinygrad_nv.special as special
>>> special.ndtr(Tensor([0.0]))          # [0.5]
"""

from __future__ import annotations

import math

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import Function
from tinygrad_nv.ops.activation import log_softmax, softmax
from tinygrad_nv.ops.pointwise import xlogy
from tinygrad_nv.ops.reduce import logsumexp
from tinygrad_nv.ops.special import digamma, erfinv, lgamma, polygamma
from tinygrad_nv.ops.unary import erf, erfc, exp2, expm1, floating, log1p
from tinygrad_nv.ops.unary import round as round  # noqa: PLC0414  (torch.special.round)

expit, gammaln, psi = Tensor.sigmoid, lgamma, digamma


def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002  (PyTorch's name)
    """log(p / (1 - p)), the inverse of expit; with `eps`, p is clamped to [eps, 1 - eps]
    first (the gradient is 0 outside).

    >>> special.logit(Tensor([0.5]))         # [0.0]
    """
    p = floating(input)
    if eps is not None:
        p = p.clamp(eps, 1 - eps)
    return p.log() - (-p).log1p()


def xlog1py(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """x * log1p(y), 0 where x == 0 (unless y is NaN), as torch.special.xlog1py; the gradient
    in x is log1p(y) where x != 0 and 0 where x == 0 (PyTorch's)."""
    x, y = (v if isinstance(v, Tensor) else Tensor(v, dtype=floating(input).dtype)
            for v in (input, other))
    y_used = (x == 0).where(0.0, y)  # log1p of y only where it is used: no 0 * inf
    return y.isnan().where(y, x * y_used.log1p())


def entr(input: Tensor) -> Tensor:  # noqa: A002
    """-x log x for x > 0, 0 at 0, -inf below 0 (NaN stays NaN), as torch.special.entr."""
    x = floating(input)
    positive = x > 0
    inner = positive.where(x, 1.0)  # log only of the values used
    outside = (x == 0).where(0.0, x.isnan().where(x, -math.inf))
    return positive.where(-inner * inner.log(), outside)


def ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """The standard normal CDF, 0.5 erfc(-x / sqrt 2) (accurate in the lower tail)."""
    return erfc(-floating(input) * (1 / math.sqrt(2))) * 0.5


def ndtri(input: Tensor) -> Tensor:  # noqa: A002
    """The standard normal quantile (ndtr's inverse), sqrt 2 erfinv(2p - 1); -inf at 0 and
    +inf at 1."""
    return erfinv(floating(input) * 2 - 1) * math.sqrt(2)


def log_ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """log of the standard normal CDF."""
    return ndtr(input).log()


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """sin(pi x) / (pi x), 1 at 0 (normalized sinc, as torch.sinc)."""
    x = floating(input)
    zero = x == 0
    px = zero.where(1.0, x) * math.pi  # no 0 / 0, in value or gradient
    return zero.where(1.0, px.sin() / px)


def _bessel_series(xp, x, order: int):
    """I_order(x) (order 0 or 1) by its power series sum (x/2)^(2k+order) / (k! (k+order)!),
    in float64, with as many terms as the largest |x| needs (about |x|/2 + 10 sqrt|x|)."""
    x = x.astype("float64")
    half = x / 2
    term = half if order else xp.ones_like(x)
    total = term
    top = float(xp.abs(x).max()) if x.size else 0.0
    for k in range(1, int(top / 2 + 10 * math.sqrt(top) + 20)):
        term = term * (half * half) / (k * (k + order))
        total = total + term
    return total


class I0(Function):
    def forward(self, x):
        return _bessel_series(self.xp, x, 0).astype(x.dtype)

    def backward(self, g):
        return g * i1(self.parents[0])


class I1(Function):
    def forward(self, x):
        return _bessel_series(self.xp, x, 1).astype(x.dtype)

    def backward(self, g):  # I1' = I0 - I1 / x, 1/2 at 0
        x = self.parents[0]
        zero = x == 0
        safe = zero.where(1.0, x)
        return g * zero.where(0.5, i0(x) - i1(x) / safe)


def i0(input: Tensor) -> Tensor:  # noqa: A002
    """The modified Bessel function of the first kind of order 0 (overflows past |x| ~ 713
    in float64); its gradient is i1."""
    return I0.apply(floating(input))


def i1(input: Tensor) -> Tensor:  # noqa: A002
    """The modified Bessel function of the first kind of order 1."""
    return I1.apply(floating(input))


__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "gammaln", "digamma", "psi", "polygamma",
           "xlogy", "xlog1py", "log1p", "expm1", "exp2", "sinc", "entr", "log_softmax", "softmax",
           "logsumexp", "ndtr", "ndtri", "log_ndtr", "i0", "i1", "round"]
