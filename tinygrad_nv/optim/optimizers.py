"""SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's documented update rules. SGD and
Adam(W) run one fused kernel launch per parameter (`kernels.sgd_step` / `adam_step`); RMSprop,
Adagrad and Adam's amsgrad variant use array operations. Every update is in place on `.data`;
`maximize=True` (ascent) negates the gradient first, in `Optimizer.step_group`."""

from __future__ import annotations

from typing import Any

from tinygrad_nv.optim.optimizer import Optimizer, Params
from tinygrad_nv.tensor import Tensor


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

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        momentum = group["momentum"]
        first = bool(momentum) and "momentum_buffer" not in state
        buf = self.buffer(state, "momentum_buffer", p) if momentum else None
        p.backend.kernels.sgd_step(p.data, grad, buf, group["lr"], momentum,
                                    group["dampening"], group["nesterov"],
                                    group["weight_decay"], first)


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

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        state["step"] = state.get("step", 0) + 1
        m, v = self.buffer(state, "exp_avg", p), self.buffer(state, "exp_avg_sq", p)
        beta1, beta2 = group["betas"]
        if group["amsgrad"]:
            self._amsgrad_update(p, grad, m, v, self.buffer(state, "max_exp_avg_sq", p),
                                 state["step"], group)
        else:
            p.backend.kernels.adam_step(p.data, grad, m, v, group["lr"], beta1, beta2,
                                         group["eps"], group["weight_decay"], state["step"],
                                         self.decoupled)

    def _amsgrad_update(self, p: Tensor, grad: Any, m: Any, v: Any, v_max: Any, step: int,
                        group: dict[str, Any]) -> None:
        xp, param = p.backend.xp, p.data
        (beta1, beta2), lr, weight_decay = group["betas"], group["lr"], group["weight_decay"]
        if self.decoupled:
            param *= 1.0 - lr * weight_decay
        elif weight_decay:
            grad = grad + weight_decay * param
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        xp.maximum(v_max, v, out=v_max)
        denom = xp.sqrt(v_max) / (1.0 - beta2**step) ** 0.5 + group["eps"]
        param -= (lr / (1.0 - beta1**step)) * m / denom


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

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        xp, param = p.backend.xp, p.data
        alpha, lr = group["alpha"], group["lr"]
        state["step"] = state.get("step", 0) + 1
        g = grad + group["weight_decay"] * param if group["weight_decay"] else grad
        square_avg = self.buffer(state, "square_avg", p)
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = self.buffer(state, "grad_avg", p)
            grad_avg *= alpha
            grad_avg += (1 - alpha) * g
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = self.buffer(state, "momentum_buffer", p)
            buf *= group["momentum"]
            buf += g / avg
            param -= lr * buf
        else:
            param -= lr * g / avg


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
        xp, param = p.backend.xp, p.data
        state["step"] = state.get("step", 0) + 1
        if "sum" not in state:
            state["sum"] = p.detach().full_like(group["initial_accumulator_value"])
        total = state["sum"].data
        g = grad + group["weight_decay"] * param if group["weight_decay"] else grad
        total += g * g
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        param -= lr * g / (xp.sqrt(total) + group["eps"])
