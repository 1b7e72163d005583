"""SGD, Adam, AdamW and RMSprop with PyTorch's documented update rules. SGD and Adam(W) run
one fused kernel launch per parameter (`kernels.sgd_step` / `adam_step`); RMSprop uses array
operations. Every update is in place on `.data`."""

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
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

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
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

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
        p.backend.kernels.adam_step(p.data, grad, m, v, group["lr"], beta1, beta2, group["eps"],
                                     group["weight_decay"], state["step"], self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """sq = alpha sq + (1 - alpha) g^2; avg = sqrt(sq - ga^2) + eps with ga the running mean
    of g when centered, else sqrt(sq) + eps; p -= lr * g / avg, or with momentum
    buf = momentum buf + g / avg, p -= lr * buf."""

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

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
