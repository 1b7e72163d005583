"""kl_divergence(p, q): KL(p || q) for the pairs registered with register_kl (Normal,
Categorical, Bernoulli, Uniform, MultivariateNormal with their own kind)."""

from __future__ import annotations

import math
from collections.abc import Callable

from tinygrad_nv import linalg
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.distributions.bernoulli import Bernoulli
from tinygrad_nv.distributions.categorical import Categorical
from tinygrad_nv.distributions.distribution import Distribution
from tinygrad_nv.distributions.multivariate_normal import MultivariateNormal
from tinygrad_nv.distributions.normal import Normal
from tinygrad_nv.distributions.uniform import Uniform

_KL: dict[tuple[type, type], Callable] = {}


def register_kl(type_p: type, type_q: type) -> Callable:
    """Decorator: `fn(p, q)` computes KL(p || q) for p of type_p and q of type_q."""
    def register(fn: Callable) -> Callable:
        _KL[type_p, type_q] = fn
        return fn
    return register


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) per batch element, as torch.distributions.kl_divergence (the most specific
    registered pair of the two types' classes; NotImplementedError without one)."""
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            if (tp, tq) in _KL:
                return _KL[tp, tq](p, q)
    raise NotImplementedError(f"kl_divergence: no KL(p || q) is implemented for p of type "
                              f"{type(p).__name__} and q of type {type(q).__name__} (registered: "
                              f"{', '.join(f'{a.__name__}-{b.__name__}' for a, b in _KL)})")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale).square()
    t1 = ((p.loc - q.loc) / q.scale).square()
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = (q.probs == 0).where(math.inf, t)  # p puts mass where q has none
    return (p.probs == 0).where(0.0, t).sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    t1 = p.probs * ((-q.logits).softplus() - (-p.logits).softplus())
    t2 = (1 - p.probs) * (q.logits.softplus() - p.logits.softplus())
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return ((q.low > p.low) | (q.high < p.high)).where(math.inf, result)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    k = p.event_shape[0]
    lq = q.scale_tril
    term = linalg.solve(lq, p.scale_tril).square().sum((-2, -1))  # tr(Sq^-1 Sp)
    diff = linalg.solve(lq, (q.loc - p.loc).unsqueeze(-1)).squeeze(-1)
    return q._half_log_det() - p._half_log_det() + 0.5 * (term + diff.square().sum(-1) - k)
