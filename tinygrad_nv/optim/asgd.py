"""ASGD, averaged stochastic gradient descent, with PyTorch's update rule (its single-tensor
semantics); every parameter of a group is updated in one fused launch per device
(`kernels.asgd_multi`).

>>> opt = ASGD(model.parameters(), lr=1e-2, t0=100)
>>> opt.zero_grad(); loss.backward(); opt.step()
>>> average = opt.state[model.weight]["ax"]
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend.kernels import AsgdCoef
from tinygrad_nv.jit.state import dynamic
from tinygrad_nv.optim.optimizer import Optimizer, Params
from tinygrad_nv.optim.optimizers import _buffers, _fused_batches, _grads


class ASGD(Optimizer):
    """p = p (1 - lambd eta) - eta g (g with L2 weight decay added), then the average
    ax += mu (p - ax) (ax = p while mu is 1). eta starts at lr and mu at 1; after step t,
    eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0): averaging starts after
    t0 steps. The state holds step, eta, mu and ax.

    >>> opt = ASGD(model.parameters(), lr=0.01, lambd=1e-4, alpha=0.75, t0=1e6)
    """

    def __init__(self, params: Params, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize))

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self._at_least(group, "weight_decay", 0.0)

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch per step count, eta and mu (one for a group whose parameters
        started together)."""
        def key(state: dict[str, Any]) -> tuple[int, float, float]:
            return state.get("step", 0) + 1, state.get("eta", group["lr"]), state.get("mu", 1.0)

        for _, ps, states in _fused_batches(self, params, key):
            coef = dynamic(_coefficients, group, states)
            ps[0].backend.kernels.asgd_multi([p._data for p in ps], _grads(group, ps),
                                             _buffers(self, "ax", ps, states), coef)
            dynamic(_next_eta_mu, group, states)


# Through jit.dynamic: a jitted step computes them again at every replay
def _coefficients(group: dict[str, Any], states: list[dict[str, Any]]) -> AsgdCoef:
    """This step's coefficients from the states' eta and mu (counting the step)."""
    first = states[0]
    step, eta, mu = first.get("step", 0) + 1, first.get("eta", group["lr"]), first.get("mu", 1.0)
    for state in states:
        state["step"], state["eta"], state["mu"] = step, eta, mu
    return AsgdCoef.of(eta, mu, group["lambd"], group["weight_decay"])


def _next_eta_mu(group: dict[str, Any], states: list[dict[str, Any]]) -> None:
    """The step size and averaging weight of the next step."""
    lr, lambd, step = group["lr"], group["lambd"], states[0]["step"]
    for state in states:
        state["eta"] = lr / (1 + lambd * lr * step) ** group["alpha"]
        state["mu"] = 1 / max(1, step - group["t0"])
