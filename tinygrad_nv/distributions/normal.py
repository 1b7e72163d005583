"""Normal(loc, scale): the Gaussian, reparameterized (rsample = loc + scale * eps)."""

from __future__ import annotations

import math
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.distribution import LOG_SQRT_2PI, Distribution, broadcast_all


class Normal(Distribution):
    """The normal distribution with mean `loc` and standard deviation `scale` (> 0), numbers
    or Tensors that broadcast, as torch.distributions.Normal.

    >>> Normal(Tensor([0.0]), 1.0).log_prob(Tensor([0.0]))    # [-0.9189]
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.square()

    def rsample(self, sample_shape: tuple = ()) -> Tensor:
        eps = Tensor.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype,
                           device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -(value - self.loc).square() / (2 * self.variance) - self.scale.log() \
            - LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        """P(X <= value)."""
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value: Tensor) -> Tensor:
        """The quantile of probability `value`."""
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + LOG_SQRT_2PI + self.scale.log()
