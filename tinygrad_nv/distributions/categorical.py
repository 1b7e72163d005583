"""Categorical(probs= or logits=): one of K categories per batch element (int64 values)."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.bernoulli import probs_or_logits
from tinygrad_nv.distributions.distribution import Distribution, as_param, logits_to_probs
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.function_forms import broadcast_shapes
from tinygrad_nv.info import finfo


class Categorical(Distribution):
    """Categories 0..K-1 with probabilities along the last axis of `probs` (non-negative,
    normalized here) or `logits` (unnormalized log probabilities), as
    torch.distributions.Categorical; batch_shape is that axis's leading shape.

    >>> d = Categorical(logits=policy(state))
    >>> action = d.sample(); loss = -(d.log_prob(action) * advantage).sum()
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None) -> None:
        probs_or_logits("Categorical", probs, logits)
        param = as_param(probs if probs is not None else logits)
        if param.ndim < 1:
            raise ValueError(f"Categorical: `{'probs' if probs is not None else 'logits'}` "
                             f"must be at least one-dimensional, got shape {tuple(param.shape)}")
        if probs is not None:
            self.probs = param / param.sum(-1, keepdim=True)
        else:
            self.logits = param - param.logsumexp(-1, keepdim=True)
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], (), validate_args)

    @cached_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @cached_property
    def logits(self) -> Tensor:
        eps = finfo(self.probs.dtype).eps
        return self.probs.clamp(eps, 1 - eps).log()

    @property
    def param_shape(self) -> tuple:
        return self.__dict__.get("probs", self.__dict__.get("logits")).shape

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        return Tensor.full(self._batch_shape, math.nan, dtype=self.probs.dtype,
                           device=self.probs.device)

    variance = mean

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    def sample(self, sample_shape: tuple = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        n = math.prod(shape[:len(shape) - len(self._batch_shape)])
        with no_grad():
            rows = self.probs.reshape(-1, self._num_events)
            drawn = rows.multinomial(n, replacement=True) if n else \
                Tensor.zeros((rows.shape[0], 0), dtype=dtypes.int64, device=rows.device)
            return drawn.T.reshape(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.to(dtype=dtypes.int64).unsqueeze(-1)
        logits = self.logits
        shape = broadcast_shapes(value.shape[:-1], logits.shape[:-1])
        value = value.expand(shape + (1,))
        return logits.expand(shape + logits.shape[-1:]).gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        logits = self.logits.clamp(min=finfo(self.logits.dtype).min)  # -inf logits: 0 * min
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The values 0..K-1 along a new first axis (expanded over the batch)."""
        values = Tensor.arange(self._num_events, device=self.probs.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values
