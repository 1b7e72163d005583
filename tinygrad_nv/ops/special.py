"""Special functions without SciPy: erfinv, lgamma, digamma, polygamma, evaluated in float64
with the array module's own functions (NumPy or CuPy alike) and cast back to the input's dtype;
integers and bools give float32, as PyTorch's.

- erfinv: M. Giles, "Approximating the erfinv function", GPU Computing Gems Jade Edition
  (2011) ch. 10 (the single-precision branch-on-w form) as the start, then 4 steps: Halley
  on erf(y) = |x| below 0.5, Newton on log erfc(y) = log(1 - |x|) above (1 - |x| is exact
  there): float64 accuracy up to |x| = 1 - 2**-53.
- lgamma: the Lanczos approximation (g = 7, 9 terms; Numerical Recipes / Godfrey's
  coefficients), with reflection log(pi / |sin(pi x)|) - lgamma(1 - x) below 0.5.
- digamma: the asymptotic series log y - 1/(2y) - sum B_2k / (2k y^2k) for y >= 10, reached
  by the recurrence psi(x) = psi(x + 1) - 1/x, and reflection psi(1 - x) - pi / tan(pi x)
  below 0.5.
- polygamma(n >= 1): (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta function as the sum of
  (x + k)^-(n+1) up to a shift y = x + S >= 10 + n plus the Euler-Maclaurin series of the
  rest, y^-n / n + y^-(n+1) / 2 + sum B_2k / (2k)! (n+1)...(n+2k-1) y^-(n+2k); below 0,
  the n-th derivative of digamma's reflection, psi_n(1 - x) (-1)^n - pi^(n+1) P_n(cot pi x)
  with P_0(c) = c, P_(k+1)(c) = -(1 + c^2) P_k'(c). Poles (0 and the negative integers)
  give (-1)^(n+1) inf, +inf gives 0 (PyTorch: NaN for n >= 2), -inf NaN.

Gradients: erfinv' = sqrt(pi)/2 exp(erfinv(x)^2), lgamma' = digamma, digamma' = polygamma(1),
polygamma(n)' = polygamma(n + 1): every order of derivative is there.

>>> Tensor([0.0, 0.5]).erfinv()      # [0.0, 0.4769]
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops.unary import floating

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)
# B_2k / 2k for k = 1..7: the digamma series' coefficients of y^-2k
_DIGAMMA_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
_DIGAMMA_SHIFT = 10  # the series' error at y = 10 is below 1e-16
# B_2k / (2k)! for k = 1..8: the Euler-Maclaurin coefficients of the zeta series
_ZETA_SERIES = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000,
                1 / 74724249600, -3617 / 10670622842880000)


def _horner(coefficients: tuple, w):
    p = coefficients[0]
    for c in coefficients[1:]:
        p = c + p * w
    return p


def _erfinv(xp, kernels, x):
    shape, x = x.shape, x.reshape(-1)  # 1-D: NumPy makes scalars of 0-d results
    a = xp.abs(x)
    with _quiet(xp):
        w = -xp.log((1 - a) * (1 + a))
        central = w < 5
        y = a * xp.where(central, _horner(_GILES_CENTRAL, w - 2.5),
                         _horner(_GILES_TAIL, xp.sqrt(w) - 3))
        small = a < 0.5
        for _ in range(4):
            # |x| < 0.5: Halley on erf(y) - a, u = f / f' (Giles' start is float32-accurate);
            # else Newton on log erfc(y) - log(1 - a), nearly linear in y, from the tail
            # polynomial's start (up to 12% off in float64's tail): 4 steps reach float64
            e, slope = kernels.erfc(y), 2 / math.sqrt(math.pi) * xp.exp(-y * y)
            u = (kernels.erf(y) - a) / slope
            y = xp.where(small, y - u / (1 + y * u), y + (xp.log(e) - xp.log(1 - a)) * e / slope)
        y = xp.where(a == 1, xp.inf, xp.where(a > 1, xp.nan, y))
    return xp.copysign(y, x).reshape(shape)


def _lgamma(xp, x):
    with _quiet(xp):
        reflect = x < 0.5
        z = xp.where(reflect, 1 - x, x) - 1
        series = _LANCZOS[0] + sum(c / (z + i) for i, c in enumerate(_LANCZOS[1:], 1))
        t = z + _LANCZOS_G + 0.5
        right = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(series)
        # |sin(pi x)| = |sin(pi r)|, r = x - round(x) exact: no loss for large or tiny |x|
        sine = xp.abs(xp.sin(math.pi * (x - xp.round(x))))
        out = xp.where(reflect, math.log(math.pi) - xp.log(sine) - right, right)
        pole = (x <= 0) & (x == xp.floor(x))
        return xp.where(pole | xp.isinf(x), xp.inf, out)


def _digamma(xp, x):
    with _quiet(xp):
        reflect = x < 0.5
        y = xp.where(reflect, 1 - x, x)
        small = y < _DIGAMMA_SHIFT
        shift = xp.where(small, sum(1 / (y + k) for k in range(_DIGAMMA_SHIFT)), 0.0)
        y = xp.where(small, y + _DIGAMMA_SHIFT, y)
        inv2 = 1 / (y * y)
        right = xp.log(y) - 0.5 / y - inv2 * _horner(_DIGAMMA_SERIES[::-1], inv2) - shift
        cotangent = 1 / xp.tan(math.pi * (x - xp.round(x)))  # tan has period pi: r exact
        out = xp.where(reflect, right - math.pi * cotangent, right)
        # psi(0) is -inf (+inf at -0.0, as PyTorch); poles below 0 and -inf give NaN
        pole = (x <= 0) & (x == xp.floor(x))
        out = xp.where(pole, xp.nan, out)
        out = xp.where(x == 0, xp.where(xp.signbit(x), xp.inf, -xp.inf), out)
        return xp.where(x == xp.inf, xp.inf, out)


def _polygamma(xp, n: int, x):
    """psi_n(x) for n >= 1 in float64 (see the module's docstring)."""
    with _quiet(xp):
        reflect = x < 0
        z = xp.where(reflect, 1 - x, x)
        s, shift = n + 1, _DIGAMMA_SHIFT + n
        zeta = sum((z + k) ** -s for k in range(shift))
        y = z + shift
        tail = y ** -n / n + 0.5 * y ** -s
        rising, power = float(s), y ** -s / y  # (s)_(2k-1) and y^-(s + 2k - 1)
        for k, c in enumerate(_ZETA_SERIES):
            tail = tail + c * rising * power
            rising *= (s + 2 * k + 1) * (s + 2 * k + 2)
            power = power / (y * y)
        out = (-1) ** s * math.factorial(n) * (zeta + tail)
        # cot(pi x) = cot(pi r), r = x - round(x) exact, as sign(r) tan(pi (1/2 - |r|)): exactly
        # 0 at the half-integers (1 / tan(pi / 2) is not), where P_n's large slope would show it
        r = x - xp.round(x)
        cot = xp.sign(r) * xp.tan(math.pi * (0.5 - xp.abs(r)))
        out = xp.where(reflect, (-1) ** n * out - math.pi ** s * _cot_derivative(n, cot), out)
        pole = (x <= 0) & (x == xp.floor(x))
        out = xp.where(pole, (-1) ** s * xp.inf, out)
        return xp.where(x == xp.inf, 0.0, xp.where(x == -xp.inf, xp.nan, out))


def _cot_derivative(n: int, c):
    """P_n(c), where d^n/du^n cot(u) = P_n(cot u): P_0 = c, P_(k+1) = -(1 + c^2) P_k'(c)."""
    coefficients = [0, 1]  # of c^0, c^1, ...
    for _ in range(n):
        slope = [i * a for i, a in enumerate(coefficients)][1:] + [0, 0]
        coefficients = [-(slope[i] + (slope[i - 2] if i >= 2 else 0)) for i in range(len(slope))]
    return _horner(tuple(reversed(coefficients)), c)


class _quiet:
    """NumPy's floating-point warnings off (poles and the unused branch of a where); CuPy has
    none to silence."""

    def __init__(self, xp):
        self.state = xp.errstate(all="ignore") if hasattr(xp, "errstate") else None

    def __enter__(self):
        return self.state.__enter__() if self.state is not None else None

    def __exit__(self, *exc):
        return self.state.__exit__(*exc) if self.state is not None else None


class Erfinv(Function):
    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, x):
        return _erfinv(self.xp, self.kernels, x.astype("float64")).astype(x.dtype)

    def backward(self, g):
        y = self.output()
        return g * (y * y).exp() * (math.sqrt(math.pi) / 2)


class Lgamma(Function):
    def forward(self, x):
        return _lgamma(self.xp, x.astype("float64")).astype(x.dtype)

    def backward(self, g):
        return g * digamma(self.parents[0])


class Digamma(Function):
    def forward(self, x):
        return _digamma(self.xp, x.astype("float64")).astype(x.dtype)

    def backward(self, g):
        return g * polygamma(1, self.parents[0])


class Polygamma(Function):
    def forward(self, x, n: int):
        self.n = n
        return _polygamma(self.xp, n, x.astype("float64")).astype(x.dtype)

    def backward(self, g):
        return g * polygamma(self.n + 1, self.parents[0])


@autocast_op
def erfinv(x: Tensor) -> Tensor:
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside), as torch.erfinv.

    >>> Tensor([0.5]).erfinv()          # [0.4769]
    """
    return Erfinv.apply(floating(x))


def lgamma(x: Tensor) -> Tensor:
    """log |Gamma(x)| (inf at 0, the negative integers and +-inf), as torch.lgamma; its
    gradient is digamma(x).

    >>> Tensor([5.0]).lgamma()          # [3.1781] = log(24)
    """
    return Lgamma.apply(floating(x))


def digamma(x: Tensor) -> Tensor:
    """psi(x) = Gamma'(x) / Gamma(x), lgamma's derivative (-inf at 0, +inf at -0.0, NaN at
    the negative integers and -inf), as torch.digamma; its derivative is polygamma(1, x).

    >>> Tensor([1.0]).digamma()         # [-0.5772] (minus Euler's constant)
    """
    return Digamma.apply(floating(x))


def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002  (PyTorch's name)
    """The n-th derivative of digamma (n = 0: digamma itself), as torch.polygamma(n, input);
    integers give float32. Its gradient is polygamma(n + 1).

    >>> polygamma(1, Tensor([1.0]))     # [1.6449] = pi^2 / 6
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}")
    return digamma(input) if n == 0 else Polygamma.apply(floating(input), n=int(n))


def polygamma_method(x: Tensor, n: int) -> Tensor:
    """x.polygamma(n): polygamma(n, x), the n-th derivative of digamma at x."""
    return polygamma(n, x)


# ---------------------------------------------------------------------- public names
_PUBLIC = {"erfinv": erfinv, "lgamma": lgamma, "digamma": digamma}  # methods and torch.<name>
EXPORTS = Exports(methods={**_PUBLIC, "polygamma": polygamma_method},
                  functions={**_PUBLIC, "polygamma": polygamma})
