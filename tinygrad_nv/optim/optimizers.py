"""SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's documented update rules. Each updates
every parameter of a group in one fused kernel launch per device (`kernels.sgd_multi` /
`adam_multi` / `amsgrad_multi` / `rmsprop_multi`, which Adagrad shares). Every update is in
place on `._data`;
`maximize=True` (ascent) negates the gradient first, in `Optimizer.step_group`. The kernels'
coefficient records (learning rate, every hyper-parameter, the step count and what follows
from it) are computed through `jit.dynamic`: a jitted step computes them again at every
replay, from the groups and states as they are then."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend.kernels import AdamCoef, AmsgradCoef, RmspropCoef, SgdCoef
from tinygrad_nv.jit.state import dynamic
from tinygrad_nv.optim.optimizer import Optimizer, Params


def _fused_batches(optimizer: Optimizer, params: list[Tensor], key: Callable[[dict], Any]
                   ) -> Iterator[tuple[Any, list[Tensor], list[dict[str, Any]]]]:
    """(key, params, their states) per device and value of `key(state)`: one fused launch
    each (one in all for a group on one device whose parameters share their step)."""
    batches: dict = {}
    for p in params:
        state = optimizer.state.setdefault(p, {})
        batches.setdefault((p.backend, key(state)), []).append((p, state))
    for (_, value), members in batches.items():
        yield value, [p for p, _ in members], [state for _, state in members]


def _buffers(optimizer: Optimizer, name: str, params: list[Tensor],
             states: list[dict[str, Any]]) -> list[Any]:
    """The arrays of state buffer `name` of each parameter (zeros on first use)."""
    return [optimizer.buffer(state, name, p) for p, state in zip(params, states)]


def advance(states: list[dict[str, Any]]) -> int:
    """Count one more step in `states` (of parameters that share their step count)."""
    step = states[0].get("step", 0) + 1
    for state in states:
        state["step"] = step
    return step


def _grads(group: dict[str, Any], params: list[Tensor]) -> list[Any]:
    """The gradient arrays of `params`, negated for maximize=True."""
    return [-p.grad._data if group["maximize"] else p.grad._data for p in params]


class SGD(Optimizer):
    """g = grad + weight_decay * p; with momentum: buf = momentum * buf + (1 - dampening) * g
    (buf = g on the first step) and g = g + momentum * buf (nesterov) or buf; p -= lr * g.

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self._at_least(group, "momentum", 0.0)
        self._at_least(group, "weight_decay", 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch for the group (two on a step where only some parameters have a
        momentum buffer yet)."""
        momentum = group["momentum"]
        for first, ps, states in _fused_batches(
                self, params, lambda state: bool(momentum) and "momentum_buffer" not in state):
            bufs = _buffers(self, "momentum_buffer", ps, states) if momentum else None
            coef = dynamic(_sgd_coefficients, group, first)
            ps[0].backend.kernels.sgd_multi([p._data for p in ps], _grads(group, ps), bufs, coef)


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2 (g with L2 weight decay added),
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps); with amsgrad the running
    maximum of v replaces v in the denominator."""

    decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self._at_least(group, "eps", 0.0)
        self._at_least(group, "weight_decay", 0.0)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{self.name}: invalid betas={betas!r} (each must be in [0, 1))")

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch for the group (one per distinct step count); amsgrad's kernel
        keeps the running maximum of exp_avg_sq as well."""
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")[:3 if group["amsgrad"] else 2]
        for _, ps, states in _fused_batches(self, params,
                                            lambda state: state.get("step", 0) + 1):
            coef = dynamic(self._coefficients, group, states)
            kernels = ps[0].backend.kernels
            update = kernels.amsgrad_multi if group["amsgrad"] else kernels.adam_multi
            update([p._data for p in ps], _grads(group, ps),
                   *(_buffers(self, name, ps, states) for name in names), coef)

    def _coefficients(self, group: dict[str, Any], states: list[dict[str, Any]]
                      ) -> AdamCoef | AmsgradCoef:
        """The next step of `states`, and its coefficients."""
        step = advance(states)
        beta1, beta2 = group["betas"]
        record = AmsgradCoef if group["amsgrad"] else AdamCoef
        return record.of(group["lr"], beta1, beta2, group["eps"], group["weight_decay"], step,
                         self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Optimizer):
    """sq = alpha sq + (1 - alpha) g^2; avg = sqrt(sq - ga^2) + eps with ga the running mean
    of g when centered, else sqrt(sq) + eps; p -= lr * g / avg, or with momentum
    buf = momentum buf + g / avg, p -= lr * buf."""

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        for name in ("alpha", "eps", "weight_decay", "momentum"):
            self._at_least(group, name, 0.0)

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch for the group."""
        for _, ps, states in _fused_batches(self, params, lambda state: None):
            ps[0].backend.kernels.rmsprop_multi(
                [p._data for p in ps], _grads(group, ps), _buffers(self, "square_avg", ps, states),
                _buffers(self, "grad_avg", ps, states) if group["centered"] else None,
                _buffers(self, "momentum_buffer", ps, states) if group["momentum"] > 0 else None,
                dynamic(_rmsprop_coefficients, group, states))


def _sgd_coefficients(group: dict[str, Any], first: bool) -> SgdCoef:
    return SgdCoef.of(group["lr"], group["momentum"], group["dampening"], group["nesterov"],
                      group["weight_decay"], first)


def _rmsprop_coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> RmspropCoef:
    for state in states:
        state["step"] = state.get("step", 0) + 1
    return RmspropCoef.of(group["lr"], group["alpha"], group["eps"], group["weight_decay"],
                          group["momentum"], group["centered"])


class Adagrad(Optimizer):
    """sum += g^2 (g with L2 weight decay added; sum starts at initial_accumulator_value),
    p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps).

    >>> opt = Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        for name in ("lr_decay", "eps", "weight_decay", "initial_accumulator_value"):
            self._at_least(group, name, 0.0)

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch of RMSprop's kernel per step count (one for a group whose
        parameters started together): see _adagrad_coefficients."""
        for _, ps, states in _fused_batches(self, params,
                                            lambda state: state.get("step", 0) + 1):
            for p, state in zip(ps, states, strict=True):
                if "sum" not in state:
                    state["sum"] = p.detach().full_like(group["initial_accumulator_value"])
            sums = [state["sum"]._data for state in states]
            ps[0].backend.kernels.rmsprop_multi([p._data for p in ps], _grads(group, ps), sums,
                                                None, None,
                                                dynamic(_adagrad_coefficients, group, states))


def _adagrad_coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> RmspropCoef:
    """Adagrad's update is RMSprop's with alpha = 1 - alpha = 1 (sq = 1 sq + 1 g g = sq + g g,
    exactly), uncentered, without momentum, at the learning rate lr / (1 + (t - 1) lr_decay)."""
    step = advance(states)
    return RmspropCoef(group["lr"] / (1 + (step - 1) * group["lr_decay"]), 1.0, 1.0,
                       float(group["eps"]), float(group["weight_decay"]), 0.0, False)
