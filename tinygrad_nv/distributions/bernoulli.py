"""Bernoulli(probs= or logits=): one coin flip per batch element (values 0.0 and 1.0)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.distribution import (
    Distribution,
    broadcast_all,
    logits_to_probs,
    probs_to_logits,
)


def probs_or_logits(name: str, probs: Any, logits: Any) -> None:
    """Refuse both or neither of probs and logits, as PyTorch."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either `probs` or `logits` must be specified, but not both.")


class Bernoulli(Distribution):
    """P(X = 1) = probs = sigmoid(logits): give one of them (numbers or Tensors), as
    torch.distributions.Bernoulli. Not reparameterizable (sample has no gradient; use
    log_prob for score-function gradients).

    >>> Bernoulli(logits=Tensor([0.0])).log_prob(Tensor([1.0]))     # [-0.6931]
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None) -> None:
        probs_or_logits("Bernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        param = self.__dict__.get("probs", self.__dict__.get("logits"))
        super().__init__(param.shape, (), validate_args)

    @cached_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @cached_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        return (self.probs >= 0.5).to(dtype=self.probs.dtype)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: tuple = ()) -> Tensor:
        with no_grad():
            p = self.probs.expand(self._extended_shape(sample_shape))
            u = Tensor.rand(p.shape, dtype=p.dtype, device=p.device)
            return (u < p).to(dtype=p.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # -binary_cross_entropy_with_logits(logits, value): stable for large |logits|
        return self.logits * value - self.logits.softplus()

    def entropy(self) -> Tensor:
        return self.logits.softplus() - self.logits * self.probs
