"""MultivariateNormal(loc, covariance_matrix= | precision_matrix= | scale_tril=)."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from tinygrad_nv import linalg
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.distribution import Distribution, as_param
from tinygrad_nv.function_forms import broadcast_shapes


class MultivariateNormal(Distribution):
    """The Gaussian over vectors of size k = loc.shape[-1], given by one of its covariance
    matrix, precision matrix or lower Cholesky factor `scale_tril` (..., k, k), as
    torch.distributions.MultivariateNormal; reparameterized: loc + scale_tril @ eps.

    >>> MultivariateNormal(Tensor.zeros(2), scale_tril=Tensor.eye(2)).entropy()   # 2.8379
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Any, covariance_matrix: Any = None, precision_matrix: Any = None,
                 scale_tril: Any = None, validate_args: bool | None = None) -> None:
        given = {k: v for k, v in (("covariance_matrix", covariance_matrix),
                                   ("precision_matrix", precision_matrix),
                                   ("scale_tril", scale_tril)) if v is not None}
        if len(given) != 1:
            raise ValueError("MultivariateNormal: exactly one of covariance_matrix or "
                             "precision_matrix or scale_tril may be specified.")
        loc = as_param(loc)
        (name, matrix), = given.items()
        matrix = as_param(matrix, loc)
        if loc.ndim < 1 or matrix.ndim < 2 or matrix.shape[-2:] != (loc.shape[-1],) * 2:
            raise ValueError(f"MultivariateNormal: {name} must be at least two-dimensional "
                             f"with shape (..., k, k) for loc of shape (..., k), got "
                             f"{tuple(matrix.shape)} and {tuple(loc.shape)}")
        batch = tuple(broadcast_shapes(matrix.shape[:-2], loc.shape[:-1]))
        event = loc.shape[-1:]
        self.loc = loc.expand(batch + tuple(event))
        setattr(self, name, matrix.expand(batch + tuple(matrix.shape[-2:])))
        super().__init__(batch, event, validate_args)

    @cached_property
    def scale_tril(self) -> Tensor:
        if "covariance_matrix" in self.__dict__:
            return linalg.cholesky(self.covariance_matrix)
        return linalg.cholesky(linalg.inv(self.precision_matrix))

    @cached_property
    def covariance_matrix(self) -> Tensor:
        return self.scale_tril @ self.scale_tril.mT

    @cached_property
    def precision_matrix(self) -> Tensor:
        return linalg.inv(self.covariance_matrix)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.scale_tril.square().sum(-1)

    def rsample(self, sample_shape: tuple = ()) -> Tensor:
        eps = Tensor.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype,
                           device=self.loc.device)
        return self.loc + (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return self.scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        shape = tuple(diff.shape[:-1])
        tril = self.scale_tril.expand(shape + tuple(self.scale_tril.shape[-2:]))
        mahalanobis = linalg.solve(tril, diff).square().sum(-1)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + mahalanobis) - self._half_log_det()

    def entropy(self) -> Tensor:
        k = self._event_shape[0]
        return 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
