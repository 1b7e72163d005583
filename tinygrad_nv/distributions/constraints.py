"""The sets a distribution's parameters and samples live in, as torch.distributions.constraints:
`check(value)` gives a bool Tensor (one entry per batch element: event axes are reduced)."""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd.function import constant


class Constraint:
    """A set of values; `event_dim` is how many trailing axes one element of it spans."""

    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        """A bool Tensor: where `value` lies in the set."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}()"


class _Real(Constraint):
    def check(self, value: Tensor) -> Tensor:
        return value == value  # every number but NaN (+-inf included, as PyTorch)


class _Boolean(Constraint):
    def check(self, value: Tensor) -> Tensor:
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: float) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return value > self.lower_bound

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    """[lower_bound, upper_bound], the bounds numbers or Tensors."""

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(_Interval):
    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & super().check(value)

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    """Non-negative vectors that sum to 1 (within 1e-6) along the last axis."""

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _Independent(Constraint):
    """`base` on every element, reduced over the last `reinterpreted` axes."""

    def __init__(self, base: Constraint, reinterpreted: int) -> None:
        self.base, self.event_dim = base, base.event_dim + reinterpreted
        self.reinterpreted = reinterpreted

    def check(self, value: Tensor) -> Tensor:
        ok = self.base.check(value)
        for _ in range(self.reinterpreted):
            ok = ok.all(-1)
        return ok

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base}, {self.reinterpreted})"


class _LowerCholesky(Constraint):
    """Lower triangular matrices with a positive diagonal."""

    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        lower = (value.tril() == value).all(-1).all(-1)
        return lower & (value.diagonal(0, -2, -1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    """Symmetric matrices with a Cholesky factor (positive eigenvalues)."""

    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        symmetric = (value - value.mT).abs().amax((-2, -1)) <= 1e-6 * value.abs().amax((-2, -1))
        return symmetric & constant(lambda xp, a: (xp.linalg.eigvalsh(a) > 0).all(-1), value)


real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
real_vector = _Independent(real, 1)
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
greater_than = _GreaterThan
interval = _Interval
integer_interval = _IntegerInterval
independent = _Independent
