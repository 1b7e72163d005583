"""NAdam, RAdam, Adamax and Adadelta with PyTorch's documented update rules (its single-tensor
semantics). Every parameter of a group is updated in one fused launch per device and step
count (`kernels.nadam_multi` / `radam_multi` / `adamax_multi` / `adadelta_multi`, NumPy on the
CPU); `maximize=True` negates the gradient first.

>>> opt = NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend.kernels import AdadeltaCoef, AdamaxCoef, NadamCoef, RadamCoef
from tinygrad_nv.jit.state import dynamic
from tinygrad_nv.optim.optimizer import Optimizer, Params
from tinygrad_nv.optim.optimizers import _buffers, _fused_batches, _grads, advance


def _next_step(state: dict[str, Any]) -> int:
    return state.get("step", 0) + 1


class _AdamFamily(Optimizer):
    """The hyper-parameter checks of the optimizers with Adam's lr, betas, eps and
    weight_decay."""

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self._at_least(group, "eps", 0.0)
        self._at_least(group, "weight_decay", 0.0)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{self.name}: invalid betas={betas!r} (each must be in [0, 1))")


class NAdam(_AdamFamily):
    """Adam with Nesterov momentum: the momentum of step t is mu_t = beta1 (1 - 0.96^(t
    momentum_decay) / 2), and p -= lr (mu_t+1 m / (1 - prod mu_1..t+1) + (1 - mu_t) g /
    (1 - prod mu_1..t)) / (sqrt(v / (1 - beta2^t)) + eps), with m, v Adam's moments; weight
    decay is L2 (added to g) or, with decoupled_weight_decay, p *= 1 - lr weight_decay.

    >>> opt = NAdam(model.parameters(), lr=2e-3)
    """

    def __init__(self, params: Params, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self._at_least(group, "momentum_decay", 0.0)

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch per step count and momentum product (one for the whole group
        whose parameters started together)."""
        for _, ps, states in _fused_batches(
                self, params, lambda state: (_next_step(state), state.get("mu_product", 1.0))):
            coef = dynamic(_nadam_coefficients, group, states)
            ms, vs = (_buffers(self, name, ps, states) for name in ("exp_avg", "exp_avg_sq"))
            ps[0].backend.kernels.nadam_multi([p._data for p in ps], _grads(group, ps), ms, vs,
                                              coef)


class RAdam(_AdamFamily):
    """Rectified Adam: with rho_inf = 2 / (1 - beta2) - 1 and rho_t = rho_inf - 2 t beta2^t /
    (1 - beta2^t), p -= lr m_hat r_t sqrt(1 - beta2^t) / (sqrt(v) + eps) once rho_t > 5
    (r_t the variance rectification term), else p -= lr m_hat (SGD with momentum); m_hat =
    m / (1 - beta1^t). Weight decay: L2, or decoupled as AdamW's.

    >>> opt = RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch per step count."""
        for _, ps, states in _fused_batches(self, params, _next_step):
            coef = dynamic(_radam_coefficients, group, states)
            ms, vs = (_buffers(self, name, ps, states) for name in ("exp_avg", "exp_avg_sq"))
            ps[0].backend.kernels.radam_multi([p._data for p in ps], _grads(group, ps), ms, vs,
                                              coef)


class Adamax(_AdamFamily):
    """Adam in the infinity norm: m = beta1 m + (1 - beta1) g, u = max(beta2 u, |g| + eps),
    p -= lr / (1 - beta1^t) * m / u (g with L2 weight decay added).

    >>> opt = Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(self, params: Params, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize))

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch per step count."""
        for _, ps, states in _fused_batches(self, params, _next_step):
            coef = dynamic(_adamax_coefficients, group, states)
            ms, us = (_buffers(self, name, ps, states) for name in ("exp_avg", "exp_inf"))
            ps[0].backend.kernels.adamax_multi([p._data for p in ps], _grads(group, ps), ms, us,
                                               coef)


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g^2, delta = sqrt(u + eps) / sqrt(v + eps) g,
    u = rho u + (1 - rho) delta^2, p -= lr delta (g with L2 weight decay added).

    >>> opt = Adadelta(model.parameters(), lr=1.0)
    """

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: invalid rho={group['rho']!r} (must be in [0, 1])")
        self._at_least(group, "eps", 0.0)
        self._at_least(group, "weight_decay", 0.0)

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch for the group."""
        for _, ps, states in _fused_batches(self, params, lambda state: None):
            coef = dynamic(_adadelta_coefficients, group, states)
            sq, acc = (_buffers(self, name, ps, states) for name in ("square_avg", "acc_delta"))
            ps[0].backend.kernels.adadelta_multi([p._data for p in ps], _grads(group, ps), sq,
                                                 acc, coef)


# The coefficients of one fused update: computed through jit.dynamic (again at every replay of
# a jitted step), each counting the step of its parameters' states
def _nadam_coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> NadamCoef:
    beta1, beta2 = group["betas"]
    step, mu_product = _next_step(states[0]), states[0].get("mu_product", 1.0)
    mu, mu_next = (beta1 * (1.0 - 0.5 * 0.96 ** (t * group["momentum_decay"]))
                   for t in (step, step + 1))
    for state in states:
        state["step"], state["mu_product"] = step, mu_product * mu
    return NadamCoef.of(group["lr"], beta1, beta2, group["eps"], group["weight_decay"], mu,
                        mu_next, mu_product * mu, step, group["decoupled_weight_decay"])


def _radam_coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> RadamCoef:
    beta1, beta2 = group["betas"]
    return RadamCoef.of(group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                        advance(states), group["decoupled_weight_decay"])


def _adamax_coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> AdamaxCoef:
    beta1, beta2 = group["betas"]
    return AdamaxCoef.of(group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                         advance(states))


def _adadelta_coefficients(group: dict[str, Any], states: list[dict[str, Any]]
                           ) -> AdadeltaCoef:
    for state in states:
        state["step"] = _next_step(state)
    return AdadeltaCoef.of(group["lr"], group["rho"], group["eps"], group["weight_decay"])
