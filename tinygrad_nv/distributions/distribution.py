"""Distribution: the base class of torch.distributions' classes here (shapes, argument
validation, sample / rsample), and the helpers that turn parameters into Tensors."""

from __future__ import annotations

import math
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.distributions import constraints
from tinygrad_nv.dtype import dtypes, is_floating
from tinygrad_nv.function_forms import broadcast_tensors
from tinygrad_nv.info import finfo


class Distribution:
    """A batch of probability distributions with `batch_shape` (independent members) and
    `event_shape` (the shape of one draw), as torch.distributions.Distribution.

    Subclasses set their parameter Tensors as attributes, name their constraints in
    `arg_constraints`, and implement `rsample` (differentiable draws) or `sample`, `log_prob`,
    `entropy`, `mean`, `variance`. With validation on (the default; see
    set_default_validate_args) invalid parameters and values outside the support raise
    ValueError."""

    arg_constraints: dict[str, constraints.Constraint] = {}
    support: Any = None
    has_rsample = False
    _validate_args = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on (the default) or off for distributions made later."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected a bool, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape: tuple = (), event_shape: tuple = (),
                 validate_args: bool | None = None) -> None:
        # tensors' shapes as they are (torch.Size-like), other sequences as tuples
        self._batch_shape, self._event_shape = (s if isinstance(s, tuple) else tuple(s)
                                                for s in (batch_shape, event_shape))
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name in self.__dict__:  # the parameters given (probs or logits, not both)
                    self._check(constraint, getattr(self, name), f"parameter {name}")

    @property
    def batch_shape(self) -> tuple:
        """The shape of the batch of independent distributions."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of one draw of one distribution."""
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation, sqrt(variance)."""
        return self.variance.sqrt()

    def sample(self, sample_shape: tuple = ()) -> Tensor:
        """Draws of shape sample_shape + batch_shape + event_shape, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: tuple = ()) -> Tensor:
        """Reparameterized draws: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no rsample (it is not "
                                  f"reparameterizable); use sample")

    def log_prob(self, value: Tensor) -> Tensor:
        """The log density (or log mass) of `value`, one entry per batch element."""
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def entropy(self) -> Tensor:
        """The entropy of each distribution of the batch."""
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape: Any = ()) -> tuple:
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        if not all(isinstance(n, int) and n >= 0 for n in sample_shape):
            raise ValueError(f"{type(self).__name__}: sample_shape must be a tuple of "
                             f"non-negative ints, got {sample_shape!r}")
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise ValueError(f"{type(self).__name__}: the value argument to log_prob must be a "
                             f"Tensor, got {type(value).__name__}")
        expected, actual = self._batch_shape + self._event_shape, tuple(value.shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"{type(self).__name__}: the value argument of shape {actual} "
                                 f"does not broadcast with the batch and event shape {expected}")
        self._check(self.support, value, "value argument", support=True)

    def _check(self, constraint: constraints.Constraint, value: Tensor, what: str,
               support: bool = False) -> None:
        with no_grad():
            valid = bool(constraint.check(value).all())
        if not valid:
            goal = f"be within the support ({constraint})" if support else \
                f"satisfy the constraint {constraint}"
            raise ValueError(f"Expected {what} (Tensor of shape {tuple(value.shape)}) of "
                             f"distribution {self!r} to {goal}, but found invalid values:\n"
                             f"{value.detach().tolist()}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}: {_brief(self.__dict__[k])}" for k in self.arg_constraints
                           if k in self.__dict__)
        return f"{type(self).__name__}({params})"


def _brief(t: Tensor) -> str:
    return str(t.detach().item()) if t.numel() == 1 and t.ndim == 0 else f"{tuple(t.shape)}"


def as_param(value: Any, like: Tensor | None = None) -> Tensor:
    """A parameter as a floating point Tensor: Tensors as they are (integers promoted to the
    default float), numbers on the device and in the dtype of `like` (else the default)."""
    if isinstance(value, Tensor):
        return value if is_floating(value.dtype) else value.to(dtype=dtypes.default_float)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a Tensor or a number as a distribution parameter, got "
                        f"{type(value).__name__}")
    if like is None:
        return Tensor(float(value), dtype=dtypes.default_float)
    return Tensor(float(value), dtype=like.dtype, device=like.device)


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Parameters as Tensors (numbers take the first Tensor's dtype and device) expanded to
    one broadcast shape, as torch.distributions.utils.broadcast_all."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    like = like if like is None else as_param(like)
    try:
        return broadcast_tensors(*(as_param(v, like) for v in values))
    except ValueError:
        shapes = [tuple(getattr(v, "shape", ())) for v in values]
        raise ValueError(f"distribution parameters of shapes {shapes} do not broadcast") \
            from None


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits of probabilities, clamped away from 0 and 1 by the dtype's eps (as PyTorch)."""
    eps = finfo(probs.dtype).eps
    p = probs.clamp(eps, 1 - eps)
    return p.log() - (-p).log1p() if is_binary else p.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """sigmoid(logits) for a binary variable, else softmax over the last axis."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
