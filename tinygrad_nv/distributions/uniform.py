"""Uniform(low, high): the continuous uniform distribution on [low, high)."""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.distribution import Distribution, broadcast_all


class Uniform(Distribution):
    """Uniform on [low, high) (low < high, numbers or Tensors that broadcast), reparameterized,
    as torch.distributions.Uniform.

    >>> Uniform(0.0, 4.0).entropy()          # log 4 = 1.3863
    """

    arg_constraints = {"low": constraints.real, "high": constraints.real}
    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args:
            self._check(constraints.positive, self.high - self.low, "parameter high - low")

    @property
    def support(self) -> constraints.Constraint:
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.low + self.high) / 2

    @property
    def mode(self) -> Tensor:
        return self.low * float("nan")

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).square() / 12

    def rsample(self, sample_shape: tuple = ()) -> Tensor:
        u = Tensor.rand(self._extended_shape(sample_shape), dtype=self.low.dtype,
                        device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (value < self.high)).to(dtype=self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        """P(X <= value), clamped to [0, 1]."""
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value: Tensor) -> Tensor:
        """The quantile of probability `value`."""
        return self.low + value * (self.high - self.low)

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()
