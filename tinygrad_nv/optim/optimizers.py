"""SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's documented update rules. SGD, Adam(W)
and RMSprop update every parameter of a group in one fused kernel launch per device
(`kernels.sgd_multi` / `adam_multi` / `rmsprop_multi`); Adagrad and Adam's amsgrad variant use
array operations. Every update is in place on `._data`;
`maximize=True` (ascent) negates the gradient first, in `Optimizer.step_group`. The kernels'
coefficient records (learning rate, every hyper-parameter, the step count and what follows
from it) are computed through `jit.dynamic`: a jitted step computes them again at every
replay, from the groups and states as they are then."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend.kernels import AdamCoef, RmspropCoef, SgdCoef
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
        """One fused launch for the group (one per distinct step count; amsgrad: per
        parameter, with array operations)."""
        if group["amsgrad"]:
            super().step_group(group, params)
            return
        for _, ps, states in _fused_batches(self, params,
                                            lambda state: state.get("step", 0) + 1):
            coef = dynamic(self._coefficients, group, states)
            ms, vs = (_buffers(self, name, ps, states) for name in ("exp_avg", "exp_avg_sq"))
            ps[0].backend.kernels.adam_multi([p._data for p in ps], _grads(group, ps), ms, vs,
                                             coef)

    def _coefficients(self, group: dict[str, Any], states: list[dict[str, Any]]) -> AdamCoef:
        """The next step of `states`, and its coefficients."""
        step = advance(states)
        beta1, beta2 = group["betas"]
        return AdamCoef.of(group["lr"], beta1, beta2, group["eps"], group["weight_decay"], step,
                           self.decoupled)

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        """The amsgrad update of one parameter: its scalars through jit.dynamic (each passed
        to an xp function, so that a jitted step reads them at every replay)."""
        decay, wd, beta1, omb1, beta2, omb2, sqrt_bias2, eps, step_size = dynamic(
            _amsgrad_scalars, group, state)
        m, v = self.buffer(state, "exp_avg", p), self.buffer(state, "exp_avg_sq", p)
        v_max, xp, param = self.buffer(state, "max_exp_avg_sq", p), p.backend.xp, p._data
        if self.decoupled:
            xp.multiply(param, decay, out=param)
        elif group["weight_decay"]:
            grad = xp.add(grad, xp.multiply(wd, param))
        xp.multiply(m, beta1, out=m)
        m += xp.multiply(omb1, grad)
        xp.multiply(v, beta2, out=v)
        v += xp.multiply(xp.multiply(omb2, grad), grad)
        xp.maximum(v_max, v, out=v_max)
        denom = xp.add(xp.divide(xp.sqrt(v_max), sqrt_bias2), eps)
        param -= xp.divide(xp.multiply(step_size, m), denom)


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

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        xp, param = p.backend.xp, p._data
        lr, weight_decay, eps = dynamic(_adagrad_scalars, group, state)  # (see Adam.update)
        if "sum" not in state:
            state["sum"] = p.detach().full_like(group["initial_accumulator_value"])
        total = state["sum"]._data
        g = xp.add(grad, xp.multiply(weight_decay, param)) if group["weight_decay"] else grad
        total += g * g
        param -= xp.divide(xp.multiply(lr, g), xp.add(xp.sqrt(total), eps))


def _amsgrad_scalars(group: dict[str, Any], state: dict[str, Any]) -> tuple:
    """Count the step; (decay, weight_decay, beta1, 1 - beta1, beta2, 1 - beta2,
    sqrt(1 - beta2^t), eps, lr / (1 - beta1^t)) of Adam's amsgrad update."""
    step = state["step"] = state.get("step", 0) + 1
    (beta1, beta2), lr, weight_decay = group["betas"], group["lr"], group["weight_decay"]
    return (1.0 - lr * weight_decay, weight_decay, beta1, 1.0 - beta1, beta2, 1.0 - beta2,
            (1.0 - beta2**step) ** 0.5, group["eps"], lr / (1.0 - beta1**step))


def _adagrad_scalars(group: dict[str, Any], state: dict[str, Any]) -> tuple:
    """Count the step; (lr / (1 + (t - 1) lr_decay), weight_decay, eps) of Adagrad."""
    step = state["step"] = state.get("step", 0) + 1
    return (group["lr"] / (1 + (step - 1) * group["lr_decay"]), group["weight_decay"],
            group["eps"])
